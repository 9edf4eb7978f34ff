"""training.baselines: RFMRule and RecencyOverGap, honest baselines fitted on training rows only.

Pinned: everything learned (RFM quintile edges, the typical gap, the isotonic calibration) comes
from ``fit``; ``predict_proba`` on another frame never refits; probabilities stay in [0, 1] even
far outside the training range; risk is monotone in each baseline's raw score; one-time buyers
(no gap of their own) get the median gap of the *training* repeat buyers.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.btyd import BetaGeoFitter
from features.lifetime import LifetimeModel
from training.baselines import BASELINES, BGNBD, RecencyOverGap, RFMRule, bgnbd_no_purchase


def member_frame(seed: int, n: int = 400, recency_scale: float = 1.0, gap_scale: float = 1.0,
                 spend_scale: float = 1.0) -> pd.DataFrame:
    """Feature rows of the columns the baselines read; about 20% one-time buyers (gap NaN)."""
    rng = np.random.default_rng(seed)
    orders = rng.integers(1, 30, n).astype(float)
    gap = rng.gamma(2.0, 15.0, n) * gap_scale
    gap[orders == 1] = np.nan
    gap[rng.random(n) < 0.2] = np.nan
    return pd.DataFrame({
        "recency_days": rng.gamma(1.5, 40.0, n).round() * recency_scale,
        "orders_total": orders,
        "spend_total": rng.gamma(2.0, 50.0, n) * orders * spend_scale,
        "gap_mean_days": gap,
    })


def churn_labels(frame: pd.DataFrame, seed: int) -> np.ndarray:
    """Noisy labels: long recency relative to the gap, and few orders, raise churn odds."""
    rng = np.random.default_rng(seed)
    ratio = frame["recency_days"] / frame["gap_mean_days"].fillna(30.0)
    logit = 1.2 * np.log1p(ratio) - 0.08 * frame["orders_total"] - 0.5
    return (rng.random(len(frame)) < 1 / (1 + np.exp(-logit))).astype(int).to_numpy()


TRAIN = member_frame(seed=1)
Y_TRAIN = churn_labels(TRAIN, seed=2)
# a frame drawn from a very different distribution: 10x recency, 5x gaps, 100x spend
SHIFTED = member_frame(seed=3, n=250, recency_scale=10.0, gap_scale=5.0, spend_scale=100.0)


def learned_state(model: object) -> dict[str, object]:
    """Copies of everything a fitted baseline learned: calibration steps, RFM edges, typical gap."""
    calibrator = model.calibrator_
    state: dict[str, object] = {
        "calibrator": calibrator,
        "X_thresholds_": calibrator.X_thresholds_.copy(),
        "y_thresholds_": calibrator.y_thresholds_.copy(),
        "X_range": (calibrator.X_min_, calibrator.X_max_),
    }
    if isinstance(model, RFMRule):
        state["scorer"] = model.scorer_
        state.update({f"edges_{k}": v.copy() for k, v in model.scorer_.edges_.items()})
    if isinstance(model, RecencyOverGap):
        state["typical_gap_"] = model.typical_gap_
    return state


def assert_same_state(before: dict[str, object], after: dict[str, object]) -> None:
    assert before.keys() == after.keys()
    for name, value in before.items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(value, after[name], err_msg=name)
        elif name in ("calibrator", "scorer"):
            assert after[name] is value, f"{name} was replaced"
        else:
            assert after[name] == value, name


@pytest.mark.parametrize("baseline", BASELINES, ids=lambda b: b.name)
def test_predicting_another_frame_does_not_refit(baseline: type) -> None:
    """Learned attributes after fit are untouched by predict_proba on a shifted frame, and the
    predictions equal those of a model that never saw the shifted frame."""
    model = baseline().fit(TRAIN, Y_TRAIN)
    before = learned_state(model)
    assert before, "a fitted baseline exposes learned attributes"
    shifted = model.predict_proba(SHIFTED)
    assert_same_state(before, learned_state(model))
    fresh = baseline().fit(TRAIN, Y_TRAIN)
    np.testing.assert_array_equal(shifted, fresh.predict_proba(SHIFTED))
    np.testing.assert_array_equal(model.predict_proba(TRAIN), fresh.predict_proba(TRAIN))


def test_rfm_rule_quintile_edges_come_from_training_rows() -> None:
    """RFMRule's quintile edges are the training frame's quantiles, not the scored frame's."""
    model = RFMRule().fit(TRAIN, Y_TRAIN)
    model.predict_proba(SHIFTED)
    edges = model.scorer_.edges_
    np.testing.assert_allclose(edges["r_score"], np.quantile(TRAIN["recency_days"], [0.2, 0.4, 0.6, 0.8]))
    np.testing.assert_allclose(edges["f_score"], np.quantile(TRAIN["orders_total"], [0.2, 0.4, 0.6, 0.8]))
    np.testing.assert_allclose(edges["m_score"], np.quantile(TRAIN["spend_total"], [0.2, 0.4, 0.6, 0.8]))


@pytest.mark.parametrize("baseline", BASELINES, ids=lambda b: b.name)
@pytest.mark.parametrize("frame", [TRAIN, SHIFTED, member_frame(seed=9, n=50, recency_scale=0.0)],
                         ids=["train", "shifted", "zero-recency"])
def test_probabilities_are_within_unit_interval(baseline: type, frame: pd.DataFrame) -> None:
    """P(churn) is a probability for every row, also outside the training range."""
    probability = baseline().fit(TRAIN, Y_TRAIN).predict_proba(frame)
    assert probability.shape == (len(frame),)
    assert np.isfinite(probability).all()
    assert ((probability >= 0.0) & (probability <= 1.0)).all()


def test_recency_over_gap_is_monotone_in_recency_over_gap() -> None:
    """A member whose recency is longer relative to their gap never gets a lower P(churn)."""
    model = RecencyOverGap().fit(TRAIN, Y_TRAIN)
    recency, gap = np.meshgrid(np.arange(0.0, 400.0, 7.0), np.arange(1.0, 120.0, 3.0))
    grid = pd.DataFrame({"recency_days": recency.ravel(), "gap_mean_days": gap.ravel(),
                         "orders_total": 5.0, "spend_total": 100.0})
    probability = model.predict_proba(grid)
    order = np.argsort(grid["recency_days"] / grid["gap_mean_days"], kind="stable")
    assert (np.diff(probability[order]) >= 0).all()
    assert probability[order][-1] > probability[order][0], "the calibration is not flat on this grid"


@pytest.mark.parametrize(
    ("column", "direction"),
    [("recency_days", +1), ("orders_total", -1), ("spend_total", -1)],
)
def test_rfm_rule_is_monotone_in_each_axis(column: str, direction: int) -> None:
    """All else equal: more recency never lowers P(churn); more orders or spend never raises it."""
    model = RFMRule().fit(TRAIN, Y_TRAIN)
    values = np.quantile(TRAIN[column], np.linspace(0, 1, 41))
    base = {name: float(TRAIN[name].median()) for name in ("recency_days", "orders_total", "spend_total")}
    base["gap_mean_days"] = 20.0
    grid = pd.DataFrame([{**base, column: value} for value in values])
    probability = model.predict_proba(grid)
    steps = direction * np.diff(probability)
    assert (steps >= 0).all()
    assert direction * (probability[-1] - probability[0]) > 0, "the rule moves risk along this axis"


def test_one_time_buyers_use_the_training_median_gap() -> None:
    """Gap NaN -> the median gap of the training repeat buyers (NaNs excluded): not their mean, and
    never the scored frame's."""
    # training gaps 10, 10, 20, 20, 60, 60 (median 20, mean 30) and two one-time buyers;
    # churned iff recency > 1.5 gaps, so the calibration rises between ratios 0.5 and 3
    train = pd.DataFrame({
        "recency_days": [5.0, 40.0, 10.0, 60.0, 30.0, 180.0, 10.0, 100.0],
        "gap_mean_days": [10.0, 10.0, 20.0, 20.0, 60.0, 60.0, np.nan, np.nan],
        "orders_total": [3.0, 3.0, 3.0, 3.0, 3.0, 3.0, 1.0, 1.0],
        "spend_total": 50.0,
    })
    churned = (train["recency_days"] / train["gap_mean_days"].fillna(20.0) > 1.5).astype(int).to_numpy()
    model = RecencyOverGap().fit(train, churned)
    assert model.typical_gap_ == 20.0
    # the scored frame's repeat buyers have a median gap of 200; the one-time buyer must use 20
    scored = pd.DataFrame({
        "recency_days": [40.0, 40.0, 40.0, 40.0, 40.0],
        "gap_mean_days": [np.nan, 20.0, 30.0, 200.0, 200.0],
        "orders_total": [1.0, 3.0, 3.0, 3.0, 3.0],
        "spend_total": 50.0,
    })
    probability = model.predict_proba(scored)
    assert model.typical_gap_ == 20.0
    assert probability[0] == probability[1]  # scored like a gap of 20 (ratio 2)
    assert probability[0] > probability[2] > probability[3]  # not like 30 (the mean) or 200 (scored frame's)


def test_bgnbd_no_purchase_is_one_minus_p_purchase_within_h_per_member() -> None:
    """Churn's BG/NBD baseline: 1 - P(purchase within H days) of each evaluation member, in the
    rows' order; a member without BG/NBD history gets the median of the scored members. Hand-set FHL05 CDNOW parameters,
    histories in weeks: P(alive) * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x))."""
    model = BetaGeoFitter()
    model.r_, model.alpha_, model.a_, model.b_ = 0.243, 4.414, 0.793, 2.426
    summary = pd.DataFrame({"frequency": [0.0, 2.0, 5.0], "recency": [0.0, 10.0, 30.0], "T": [20.0, 30.0, 32.0]},
                           index=pd.Index(["a", "b", "c"], name="member_id"))
    lifetime = LifetimeModel(summary, model, None)
    p = bgnbd_no_purchase(lifetime, pd.Series(["c", "zz", "a"]), horizon_days=70)  # 70 days = 10 weeks
    within_a = 1 - ((4.414 + 20) / (4.414 + 30)) ** 0.243  # x = 0: alive for sure
    assert p[2] == pytest.approx(1 - within_a, rel=1e-12)
    expected = 1 - model.probability_of_purchase_within(10.0, summary["frequency"], summary["recency"], summary["T"])
    assert p[0] == pytest.approx(expected[2], rel=1e-12)
    assert p[1] == pytest.approx((expected[0] + expected[2]) / 2, rel=1e-12)  # the median of a and c
    assert BGNBD == "bgnbd"


def test_bgnbd_no_purchase_ranks_a_lapsed_repeat_buyer_above_a_recent_one() -> None:
    """Same frequency and T: the member whose last purchase is long ago is likelier to make none."""
    model = BetaGeoFitter()
    model.r_, model.alpha_, model.a_, model.b_ = 0.243, 4.414, 0.793, 2.426
    summary = pd.DataFrame({"frequency": [4.0, 4.0], "recency": [5.0, 29.0], "T": [30.0, 30.0]},
                           index=pd.Index(["lapsed", "recent"], name="member_id"))
    p = bgnbd_no_purchase(LifetimeModel(summary, model, None), pd.Series(["lapsed", "recent"]), horizon_days=90)
    assert p[0] > p[1]
