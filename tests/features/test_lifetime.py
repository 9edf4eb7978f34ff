"""features.lifetime: fits that do not converge are retried with an L2 penalty, else left out.

Pinned: the plain MLE is always tried first (penalizer 0, so published fits are untouched); on the
issue-14 shop GG serves finite order values whether the plain fit converges on this CPU or not, and
a plain fit that fails (planted) is served by the 0.001 penalty, recorded on the model; a fit that never converges leaves its model None with a warning naming the fit and the
penalizers tried, its features NaN and the other model intact; bad input is never retried.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from features import lifetime
from features.btyd import BetaGeoFitter, GammaGammaFitter, summarise_purchases
from features.lifetime import PENALIZERS, fit_lifetime, fit_penalized, lifetime_features, occasions
from tests.even_shop import end_of_data, even_shop


@pytest.fixture(scope="module")
def shop_summary() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The issue-14 shop and its RFM summary at the end of the data."""
    shop = even_shop()
    as_of = end_of_data(shop)
    summary = summarise_purchases(occasions(shop, as_of), as_of, time_unit_days=lifetime.UNIT_DAYS)
    return shop, summary


def test_the_even_shop_gets_finite_order_values_whichever_way_its_plain_fit_ends(
    shop_summary: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    """The data of issue 14: every member's spend is drawn from one distribution, so the Gamma-Gamma
    likelihood is a ridge (q and gamma grow together). Where the plain fit stops on it depends on the
    CPU's floating point: some report success far out on the ridge (q in the thousands), others do
    not converge and the 0.001 penalty serves. Either way GG serves with q > 1 and its order values
    are finite and near the repeat buyers' mean spend."""
    shop, summary = shop_summary
    repeat = summary[summary["frequency"] > 0]
    model = fit_lifetime(shop, end_of_data(shop))
    assert model is not None and model.gamma_gamma is not None and model.bgnbd is not None
    assert model.penalizers["gamma_gamma"] in (0.0, 0.001) and model.gamma_gamma.q_ > 1
    assert model.unavailable == {}
    mean_spend = repeat["monetary_value"].mean()
    assert np.isfinite(model.order_value()).all()
    assert 0.8 * mean_spend < model.order_value().mean() < 1.3 * mean_spend


def test_a_plain_gamma_gamma_fit_that_fails_is_served_by_the_penalised_fit(
    shop_summary: tuple[pd.DataFrame, pd.DataFrame], caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The plain fit planted to fail (as it does on some CPUs): fit_lifetime keeps GG at penalizer
    0.001 with q > 1, records it on the model, and says so."""
    shop, summary = shop_summary
    repeat = summary[summary["frequency"] > 0]
    plain_fit = GammaGammaFitter.fit

    def fails_unpenalised(self: GammaGammaFitter, *args: object, **kwargs: object) -> GammaGammaFitter:
        if self.penalizer_coef == 0:
            raise RuntimeError("maximum likelihood did not converge: planted")
        return plain_fit(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(GammaGammaFitter, "fit", fails_unpenalised)
    with caplog.at_level(logging.WARNING, logger="features.lifetime"):
        model = fit_lifetime(shop, end_of_data(shop))
    assert model is not None and model.gamma_gamma is not None and model.bgnbd is not None
    assert model.penalizers == {"bgnbd": 0.0, "gamma_gamma": 0.001}
    assert model.gamma_gamma.penalizer_coef == 0.001 and model.gamma_gamma.q_ > 1
    assert "Gamma-Gamma converged only with L2 penalizer 0.001" in caplog.text
    mean_spend = repeat["monetary_value"].mean()
    assert 0.8 * mean_spend < model.order_value().mean() < 1.3 * mean_spend


def test_the_plain_fit_is_always_tried_first() -> None:
    calls: list[float] = []

    def fit(coef: float) -> str:
        calls.append(coef)
        return "fitted"

    result = fit_penalized("bgnbd", fit)  # type: ignore[arg-type]
    assert (result.model, result.penalizer, result.reason) == ("fitted", 0.0, None)
    assert calls == [0.0] and PENALIZERS[0] == 0.0


def test_retries_in_order_until_one_converges() -> None:
    calls: list[float] = []

    def fit(coef: float) -> str:
        calls.append(coef)
        if coef < 0.01:
            raise RuntimeError("maximum likelihood did not converge")
        return f"fitted at {coef}"

    result = fit_penalized("gamma_gamma", fit)  # type: ignore[arg-type]
    assert calls == [0.0, 0.001, 0.01]
    assert (result.model, result.penalizer) == ("fitted at 0.01", 0.01)


def test_never_converging_leaves_the_model_out_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    def fit(coef: float) -> str:
        raise RuntimeError("maximum likelihood did not converge")

    with caplog.at_level(logging.WARNING, logger="features.lifetime"):
        result = fit_penalized("bgnbd", fit)  # type: ignore[arg-type]
    assert result.model is None and result.penalizer is None
    assert result.reason == "BG/NBD did not converge (retried with penalizer 0.001, 0.01, 0.1)"
    assert [r.levelno for r in caplog.records] == [logging.WARNING]
    assert "BG/NBD did not converge (retried with penalizer 0.001, 0.01, 0.1)" in caplog.text


def test_bad_input_is_not_retried() -> None:
    calls: list[float] = []

    def fit(coef: float) -> str:
        calls.append(coef)
        raise ValueError("recency must be >= 0")

    with pytest.raises(ValueError, match="recency"):
        fit_penalized("bgnbd", fit)  # type: ignore[arg-type]
    assert calls == [0.0]


def test_a_bgnbd_that_never_converges_leaves_nan_features_and_gamma_gamma(monkeypatch: pytest.MonkeyPatch) -> None:
    """BG/NBD out: its outputs are NaN for every member, Gamma-Gamma's order value stays, the reason is kept."""
    shop = even_shop(seed=0)  # a seed whose plain Gamma-Gamma fit converges (quick)

    def no_convergence(self: BetaGeoFitter, *args: object) -> BetaGeoFitter:
        raise RuntimeError("maximum likelihood did not converge: stalled")

    monkeypatch.setattr(BetaGeoFitter, "fit", no_convergence)
    as_of = end_of_data(shop)
    model = fit_lifetime(shop, as_of)
    assert model is not None and model.bgnbd is None and model.gamma_gamma is not None
    assert model.penalizers == {"gamma_gamma": 0.0}
    assert model.unavailable == {"bgnbd": "BG/NBD did not converge (retried with penalizer 0.001, 0.01, 0.1)"}
    assert "bgnbd" not in model.penalizers
    features = lifetime_features(shop, as_of, model)
    assert len(features) == 500
    for column in ("p_alive", "bgnbd_purchases_90d", "clv_12m", "bgnbd_p_purchase_30d", "bgnbd_gg_spend_90d"):
        assert features[column].isna().all(), column
    assert features["gg_order_value"].notna().all()


def test_penalizer_shrinks_the_parameters_and_is_validated(shop_summary: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    _, summary = shop_summary
    x, t_x, T = summary["frequency"], summary["recency"], summary["T"]
    plain, penalised = BetaGeoFitter().fit(x, t_x, T), BetaGeoFitter(0.1).fit(x, t_x, T)
    size = lambda m: m.r_ ** 2 + m.alpha_ ** 2 + m.a_ ** 2 + m.b_ ** 2  # noqa: E731
    assert size(penalised) < size(plain)
    assert penalised.log_likelihood_ < plain.log_likelihood_  # the plain fit maximises the unpenalised LL
    with pytest.raises(ValueError, match="penalizer_coef must be >= 0"):
        BetaGeoFitter(-1.0).fit(x, t_x, T)


def test_fitting_sample_keeps_a_seeded_ordered_subset_and_all_rows_below_the_limit() -> None:
    summary = pd.DataFrame({"frequency": np.arange(10.0)}, index=[f"m{i}" for i in range(10)])
    drawn = lifetime.fitting_sample(summary, 4)
    assert len(drawn) == 4 and drawn.index.is_monotonic_increasing and set(drawn.index) <= set(summary.index)
    assert drawn.index.tolist() == lifetime.fitting_sample(summary, 4).index.tolist()  # the same draw every time
    assert lifetime.fitting_sample(summary, 10) is summary and lifetime.fitting_sample(summary, None) is summary


def test_a_fit_on_a_member_sample_scores_every_member_close_to_the_full_fit(
        synthetic: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    """The parameters come from the sample (they differ from the full fit's), every member is scored."""
    transactions, as_of = synthetic[0], pd.Timestamp("2024-01-01").date()
    full = fit_lifetime(transactions, as_of, fit_members=None)
    sampled = fit_lifetime(transactions, as_of, fit_members=300)
    assert full is not None and sampled is not None and full.bgnbd is not None and sampled.bgnbd is not None
    assert len(sampled.summary) == len(full.summary) > 300
    assert sampled.bgnbd.r_ != full.bgnbd.r_
    moved = np.abs(sampled.p_purchase_within(90.0) - full.p_purchase_within(90.0))
    assert np.isfinite(moved).all() and moved.max() < 0.1
    assert fit_lifetime(transactions, as_of).bgnbd.r_ == full.bgnbd.r_  # type: ignore[union-attr]  # 800 < FIT_MEMBERS


def test_the_fit_on_distinct_histories_is_the_fit_on_every_member(
        synthetic: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    """fit_lifetime fits each distinct (x, t_x, T) once, weighted by its members: the same likelihood,
    so the same optimum as one row per member, to the optimiser's tolerance. Day-stamped, as most
    retail files are (with a time of day nearly every history is distinct)."""
    transactions, as_of = synthetic[0].assign(ts=synthetic[0]["ts"].dt.floor("D")), pd.Timestamp("2024-01-01").date()
    model = fit_lifetime(transactions, as_of)
    assert model is not None and model.bgnbd is not None and model.gamma_gamma is not None
    summary = model.summary
    distinct = lifetime.distinct_rows(summary, lifetime.HISTORY)
    assert len(distinct) < len(summary) and distinct[lifetime.MEMBERS].sum() == len(summary)
    per_member = BetaGeoFitter().fit(summary["frequency"], summary["recency"], summary["T"])
    fitted = model.bgnbd
    np.testing.assert_allclose([fitted.r_, fitted.alpha_, fitted.a_, fitted.b_],
                               [per_member.r_, per_member.alpha_, per_member.a_, per_member.b_], rtol=1e-3)
    assert fitted.log_likelihood_ == pytest.approx(per_member.log_likelihood_, rel=1e-8)
    repeat = summary[(summary["frequency"] > 0) & (summary["monetary_value"] > 0)]
    spend = GammaGammaFitter().fit(repeat["frequency"], repeat["monetary_value"])
    assert model.gamma_gamma.n_repeat_buyers_ == spend.n_repeat_buyers_ == len(repeat)
    assert model.gamma_gamma.log_likelihood_ == pytest.approx(spend.log_likelihood_, rel=1e-8)
