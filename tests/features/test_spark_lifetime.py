"""features.spark_lifetime: BG/NBD + Gamma-Gamma from aggregates built on Spark executors = the driver's fit.

Two implementations agree: the per-member summary Spark builds is ``summarise_purchases``'s (to
the bit for x, t_x and T), the fit on distinct rows weighted by their member counts is the fit on
the members, and the per-member features computed on the executors are ``lifetime_features``'s.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features import contract
from features.btyd import BetaGeoFitter, GammaGammaFitter, summarise_purchases
from features.lifetime import LIFETIME_FEATURES, PROFILE_COLUMNS, UNIT_DAYS, fit_lifetime, lifetime_features, occasions

AS_OF = date(2024, 3, 1)


def _histories(n: int = 400, seed: int = 0) -> pd.DataFrame:
    """BG/NBD members (r 0.5, alpha 5, a 1, b 3) on a day grid, in weeks, with Gamma-Gamma spend: many share a history."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(n):
        rate, dropout, days = rng.gamma(0.5, 1 / 5.0) / 7.0, rng.beta(1.0, 3.0), int(rng.integers(60, 360))
        times, t = [], 0.0
        while True:
            t += rng.exponential(1 / rate)
            if t >= days:
                break
            times.append(np.floor(t))
            if rng.random() < dropout:
                break
        spend = np.round(rng.gamma(6.0, 1 / rng.gamma(4.0, 1 / 40.0), len(times)), 0)  # Gamma-Gamma: p 6, q 4, gamma 40
        rows.append((len(times), times[-1] / 7.0 if times else 0.0, days / 7.0, spend.mean() if times else 0.0))
    return pd.DataFrame(rows, columns=["frequency", "recency", "T", "monetary_value"])


def test_a_fit_on_distinct_rows_weighted_by_members_is_the_fit_on_the_members() -> None:
    """The same likelihood: equal to 1e-9; the optimum's parameters to 1e-3 (where it stops on the flat (a, b) ridge)."""
    members = _histories()
    history = members.groupby(["frequency", "recency", "T"]).size().rename("members").reset_index()
    assert len(history) < len(members)  # the aggregate really is smaller
    plain = BetaGeoFitter().fit(members["frequency"], members["recency"], members["T"])
    weighted = BetaGeoFitter().fit(history["frequency"], history["recency"], history["T"], history["members"])
    np.testing.assert_allclose([weighted.r_, weighted.alpha_, weighted.a_, weighted.b_],
                               [plain.r_, plain.alpha_, plain.a_, plain.b_], rtol=1e-3)
    assert weighted.log_likelihood_ == pytest.approx(plain.log_likelihood_, rel=1e-9)
    repeat = members[members["frequency"] > 0]
    spend = repeat.groupby(["frequency", "monetary_value"]).size().rename("members").reset_index()
    gg, gg_weighted = (GammaGammaFitter().fit(repeat["frequency"], repeat["monetary_value"]),
                       GammaGammaFitter().fit(spend["frequency"], spend["monetary_value"], spend["members"]))
    np.testing.assert_allclose([gg_weighted.p_, gg_weighted.q_, gg_weighted.v_], [gg.p_, gg.q_, gg.v_], rtol=1e-3)
    assert gg_weighted.n_repeat_buyers_ == gg.n_repeat_buyers_ == len(repeat)


@pytest.mark.parametrize(("weights", "message"), [([1.0, 2.0], "one value per row"), ([1.0, 0.0, 1.0], "> 0")])
def test_bad_weights_are_refused(weights: list[float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        BetaGeoFitter().fit([0, 1, 2], [0, 1, 2], [3, 3, 3], weights)


@pytest.fixture(scope="module")
def synthetic_parquet(synthetic: tuple[pd.DataFrame, pd.DataFrame], tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("spark_lifetime") / "lines.parquet"
    synthetic[0].to_parquet(path, index=False)
    return path


@pytest.mark.slow
def test_lifetime_on_spark_is_the_drivers(spark: object, synthetic: tuple[pd.DataFrame, pd.DataFrame],
                                          synthetic_parquet: Path) -> None:
    """Summary to the bit (x, t_x, T), parameters and per-member outputs within 1e-3 relative, and
    only the distinct histories and spend pairs reach the driver.

    Why 1e-3: the optimiser stops when the mean log-likelihood changes by less than ~2e-9; the
    weighted sum adds the same terms in another order, so it stops elsewhere on the flat ridge of
    (a, b) (observed: 1e-4 relative), while the likelihood agrees to 1e-9."""
    from features.engine import read_parquet
    from features.spark import spark_backend
    from features.spark_lifetime import fit_on_spark, member_summary, occasions_on_spark

    transactions = synthetic[0]
    backend = spark_backend(spark)  # type: ignore[arg-type]
    lines = occasions_on_spark(backend, read_parquet(synthetic_parquet, backend), AS_OF)
    summary = member_summary(lines, AS_OF).toPandas().set_index(contract.MEMBER_ID).sort_index()
    expected = summarise_purchases(occasions(transactions, AS_OF), AS_OF, time_unit_days=UNIT_DAYS)
    expected.index = expected.index.astype(str)
    for column in ("frequency", "recency", "T"):
        np.testing.assert_array_equal(summary[column].to_numpy(), expected[column].to_numpy(float), err_msg=column)
    np.testing.assert_allclose(summary["monetary_value"], expected["monetary_value"], rtol=1e-12)

    on_spark, driver = fit_on_spark(lines, AS_OF), fit_lifetime(transactions, AS_OF)
    assert on_spark is not None and driver is not None and on_spark.bgnbd is not None and driver.bgnbd is not None
    assert on_spark.gamma_gamma is not None and driver.gamma_gamma is not None
    np.testing.assert_allclose([on_spark.bgnbd.r_, on_spark.bgnbd.alpha_, on_spark.bgnbd.a_, on_spark.bgnbd.b_],
                               [driver.bgnbd.r_, driver.bgnbd.alpha_, driver.bgnbd.a_, driver.bgnbd.b_], rtol=1e-3)
    np.testing.assert_allclose([on_spark.gamma_gamma.p_, on_spark.gamma_gamma.q_, on_spark.gamma_gamma.v_],
                               [driver.gamma_gamma.p_, driver.gamma_gamma.q_, driver.gamma_gamma.v_], rtol=1e-3)
    # what reached the driver: one row per distinct history / repeat buyer's spend (these members'
    # times of day make every history distinct; day-stamped data shares them, see the fast test)
    assert on_spark.driver_rows["bgnbd"] == len(expected.groupby(["frequency", "recency", "T"])) <= len(summary)
    repeat = expected[(expected["frequency"] > 0) & (expected["monetary_value"] > 0)]
    assert on_spark.driver_rows["gamma_gamma"] == len(repeat.groupby(["frequency", "monetary_value"]))
    got = on_spark.features.toPandas().set_index(contract.MEMBER_ID).sort_index()
    want = lifetime_features(transactions, AS_OF, driver).set_index(contract.MEMBER_ID)
    want.index = want.index.astype(str)
    want = want.sort_index()
    assert list(got.index) == list(want.index)
    for column in (*LIFETIME_FEATURES, *PROFILE_COLUMNS):
        np.testing.assert_allclose(got[column].to_numpy(float), want[column].to_numpy(float), rtol=1e-3, atol=1e-9, err_msg=column)
