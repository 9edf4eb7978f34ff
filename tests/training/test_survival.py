"""training.survival: AFT bounds, AFT probabilities, C-index and reliability, checked against outside truth.

Pinned: the AFT CDFs equal scipy's normal / logistic / Gumbel-min CDFs; the fast C-index equals an
O(n^2) brute force to 1e-12 and hand values on 4 rows; an XGBoost AFT booster trained on data
planted from each distribution gives calibrated P(T <= 30) through ``event_probability_within``
(so our reading of XGBoost's ``extreme`` is the one it trains with) and ranks close to the truth.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import matplotlib.pyplot as plt
import numpy as np
import pytest
import xgboost as xgb
from scipy import stats

from models.timing import event_probability_within, median_days
from training.survival import aft_bounds, concordance_index, reliability_curve, reliability_figure, survival_metrics

SCIPY_NOISE = {"normal": stats.norm, "logistic": stats.logistic, "extreme": stats.gumbel_l}


def brute_force_concordance(days: np.ndarray, observed: np.ndarray, predicted: np.ndarray) -> float:
    """Harrell's C pair by pair: i before j (or same time, j censored) with i observed."""
    earlier = (days[:, None] < days[None, :]) | ((days[:, None] == days[None, :]) & ~observed[None, :])
    comparable = earlier & observed[:, None]
    concordant = comparable & (predicted[:, None] < predicted[None, :])
    tied = comparable & (predicted[:, None] == predicted[None, :])
    return (concordant.sum() + 0.5 * tied.sum()) / comparable.sum()


def simulate_aft(rng: np.random.Generator, n: int, distribution: str, sigma: float) -> tuple[np.ndarray, ...]:
    """log T = 3 + X @ beta + sigma * Z, right-censored at 90 days."""
    features = rng.normal(size=(n, 3))
    margin = 3.0 + features @ np.array([0.8, -0.5, 0.0])
    times = np.exp(margin + sigma * SCIPY_NOISE[distribution].rvs(size=n, random_state=rng))
    return features, margin, np.where(times <= 90, times, np.nan), np.full(n, 90.0)


@pytest.fixture(autouse=True)
def close_figures() -> Iterator[None]:
    yield
    plt.close("all")


def test_aft_bounds_exact_rows() -> None:
    """Observed rows are point intervals (same-day floored); censored rows are [window, +inf)."""
    lower, upper = aft_bounds(np.array([0.0, 3.0, np.nan, 0.2]), np.array([60.0, 60.0, 60.0, 90.0]))
    np.testing.assert_array_equal(lower, [0.5, 3.0, 60.0, 0.5])
    np.testing.assert_array_equal(upper, [0.5, 3.0, np.inf, 0.5])
    lower, upper = aft_bounds(np.array([np.nan, 10.0]), 90.0, floor_days=1.0)
    np.testing.assert_array_equal(lower, [90.0, 10.0])
    np.testing.assert_array_equal(upper, [np.inf, 10.0])


@pytest.mark.parametrize("call, argument", [
    (lambda: aft_bounds(np.array([1.0, -2.0]), 90.0), "days_to_next"),
    (lambda: aft_bounds(np.array([1.0, 2.0]), np.array([90.0, 90.0, 90.0])), "censor_days"),
    (lambda: aft_bounds(np.array([1.0, np.nan]), np.array([90.0, 0.0])), "censor_days"),
    (lambda: aft_bounds(np.array([100.0]), 90.0), "days_to_next exceeds censor_days"),
    (lambda: aft_bounds(np.array([1.0]), 90.0, floor_days=0.0), "floor_days"),
    (lambda: concordance_index(np.array([1.0, -1.0]), np.array([True, True]), np.ones(2)), "days_to_next"),
    (lambda: concordance_index(np.array([1.0, 2.0]), np.array([True]), np.ones(2)), "observed"),
    (lambda: concordance_index(np.array([1.0, 2.0]), np.array([1, 0]), np.ones(2)), "observed"),
    (lambda: concordance_index(np.array([1.0, 2.0]), np.array([True, True]), np.ones(3)), "predicted_days"),
    (lambda: event_probability_within(np.zeros(2), 30, "weibull", 1.0), "distribution"),
    (lambda: event_probability_within(np.zeros(2), 30, "normal", 0.0), "sigma"),
    (lambda: median_days(np.zeros(2), "gamma", 1.0), "distribution"),
    (lambda: survival_metrics(np.array([1.0, np.nan]), np.array([90.0, 20.0]), np.ones(2), np.ones(2) / 2),
     "censor_days must be >= 30"),
    (lambda: survival_metrics(np.array([1.0, np.nan]), 90.0, np.ones(2), np.ones(3) / 2), "p_within_30"),
    (lambda: survival_metrics(np.array([1.0, -3.0]), 90.0, np.ones(2), np.ones(2) / 2), "days_to_next"),
    (lambda: reliability_curve(np.array([0, 1]), np.array([0.5])), "observed_event and probability"),
])
def test_bad_input_names_the_argument(call: Callable[[], object], argument: str) -> None:
    with pytest.raises(ValueError, match=argument):
        call()


@pytest.mark.parametrize("distribution", ["normal", "logistic", "extreme"])
def test_event_probability_matches_scipy_cdf(distribution: str) -> None:
    """P(T <= t) = F_Z((log t - margin) / sigma) with scipy's law of the same name (Gumbel-min for extreme)."""
    margin, sigma = np.linspace(-2.0, 6.0, 41), 0.7
    for days in (0.5, 7.0, 30.0, 365.0):
        expected = SCIPY_NOISE[distribution].cdf((np.log(days) - margin) / sigma)
        np.testing.assert_allclose(event_probability_within(margin, days, distribution, sigma), expected,
                                   rtol=1e-12, atol=1e-15)
    # the median is where the CDF crosses one half
    median = median_days(margin, distribution, sigma)
    halves = [event_probability_within(margin[i:i + 1], median[i], distribution, sigma)[0] for i in range(len(margin))]
    np.testing.assert_allclose(halves, 0.5, rtol=1e-12)


def test_concordance_hand_values() -> None:
    """Four rows, worked by hand."""
    days = np.array([1.0, 2.0, 3.0, 4.0])
    observed = np.array([True, True, False, True])
    # comparable: (0,1) (0,2) (0,3) (1,2) (1,3); (1,2) discordant: 4 / 5
    assert concordance_index(days, observed, np.array([1.0, 3.0, 2.0, 4.0])) == pytest.approx(0.8, abs=1e-15)
    # (1,2) tied in prediction: 4.5 / 5
    assert concordance_index(days, observed, np.array([1.0, 3.0, 3.0, 4.0])) == pytest.approx(0.9, abs=1e-15)
    # at equal times an observed row is compared with a censored one, never with another observed one
    tied_days = np.array([1.0, 2.0, 2.0, 2.0])
    tied_observed = np.array([True, True, False, True])
    # comparable: (0,1) (0,2) (0,3) (1,2) (3,2); concordant: all of row 0, (1,2) 3 < 4, (3,2) 5 > 4 is discordant
    assert concordance_index(tied_days, tied_observed, np.array([1.0, 3.0, 4.0, 5.0])) == pytest.approx(0.8, abs=1e-15)
    assert np.isnan(concordance_index(np.array([5.0, 6.0]), np.array([False, False]), np.array([1.0, 2.0])))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_concordance_agrees_with_brute_force(seed: int) -> None:
    """Random rows with censoring, tied times and tied predictions: fast == pairwise to 1e-12."""
    rng = np.random.default_rng(seed)
    n = 400
    days = rng.integers(0, 40, size=n).astype(float)  # many tied times
    observed = rng.random(n) < 0.6
    predicted = np.round(days + rng.normal(scale=8.0, size=n))  # many tied predictions
    fast = concordance_index(days, observed, predicted)
    assert fast == pytest.approx(brute_force_concordance(days, observed, predicted), abs=1e-12)
    assert concordance_index(days, observed, -predicted) == pytest.approx(1 - fast, abs=1e-12)


def test_concordance_is_fast_on_100k_rows() -> None:
    rng = np.random.default_rng(3)
    n = 100_000
    days = rng.exponential(30.0, size=n)
    start = time.perf_counter()
    value = concordance_index(days, rng.random(n) < 0.7, days + rng.normal(scale=10.0, size=n))
    assert time.perf_counter() - start < 3.0
    assert 0.7 < value < 1.0


@pytest.mark.parametrize("distribution, sigma", [("normal", 0.5), ("logistic", 0.4), ("extreme", 0.5)])
def test_planted_aft_booster_ranks_and_is_calibrated(distribution: str, sigma: float) -> None:
    """A booster trained on planted AFT data: C-index near the truth's, P(T <= 30) calibrated within 0.03."""
    rng = np.random.default_rng(11)
    features, true_margin, days, censor = simulate_aft(rng, 6000, distribution, sigma)
    train, test = slice(0, 4000), slice(4000, None)
    lower, upper = aft_bounds(days[train], censor[train])
    dtrain = xgb.DMatrix(features[train])
    dtrain.set_float_info("label_lower_bound", lower)
    dtrain.set_float_info("label_upper_bound", upper)
    # AFT does not boost from the average: base_score stays 0.5 days unless set, and from there
    # logistic AFT takes wild first steps on censored rows (margins of +-100 on this data)
    params = {"objective": "survival:aft", "eval_metric": "aft-nloglik", "aft_loss_distribution": distribution,
              "aft_loss_distribution_scale": sigma, "base_score": float(np.median(lower)),
              "max_depth": 2, "eta": 0.1, "nthread": 1, "seed": 0}
    booster = xgb.train(params, dtrain, num_boost_round=150)

    dtest = xgb.DMatrix(features[test])
    margin = booster.predict(dtest, output_margin=True)
    predicted_days = booster.predict(dtest)
    np.testing.assert_allclose(predicted_days, np.exp(margin), rtol=1e-5)  # predict() is exp(margin)

    p_within_30 = event_probability_within(margin, 30.0, distribution, sigma)
    metrics = survival_metrics(days[test], censor[test], predicted_days, p_within_30)
    truth = survival_metrics(days[test], censor[test], np.exp(true_margin[test]),
                             event_probability_within(true_margin[test], 30.0, distribution, sigma))
    assert metrics["concordance"] > 0.65
    assert metrics["concordance"] == pytest.approx(truth["concordance"], abs=0.02)
    assert p_within_30.mean() == pytest.approx(metrics["base_rate_30d"], abs=0.03)
    assert metrics["roc_auc_30d"] == pytest.approx(truth["roc_auc_30d"], abs=0.02)
    assert metrics["n"] == 2000


def test_survival_metrics_exact_rows() -> None:
    """Hand rows: a 30-day event is days_to_next <= 30; censored rows use the window for the C-index."""
    days = np.array([5.0, 30.0, 45.0, np.nan])
    predicted = np.array([4.0, 20.0, 50.0, 60.0])
    probability = np.array([0.9, 0.6, 0.3, 0.1])
    metrics = survival_metrics(days, 90.0, predicted, probability)
    assert metrics["concordance"] == 1.0
    assert metrics["roc_auc_30d"] == 1.0
    assert metrics["base_rate_30d"] == 0.5
    assert metrics["brier_30d"] == pytest.approx((0.1**2 + 0.4**2 + 0.3**2 + 0.1**2) / 4)
    assert metrics["n"] == 4.0
    one_class = survival_metrics(np.array([50.0, np.nan]), 90.0, np.array([1.0, 2.0]), np.array([0.2, 0.1]))
    assert np.isnan(one_class["roc_auc_30d"]) and one_class["base_rate_30d"] == 0.0


def test_reliability_curve_quantile_bins() -> None:
    probability = np.repeat([0.1, 0.2, 0.3, 0.4], 5)
    event = np.array([1, 0, 0, 0, 0] * 2 + [1, 1, 0, 0, 0] * 2)
    curve = reliability_curve(event, probability, bins=4)
    np.testing.assert_allclose(curve["mean_predicted"], [0.1, 0.2, 0.3, 0.4])
    np.testing.assert_allclose(curve["observed_rate"], [0.2, 0.2, 0.4, 0.4])
    assert curve["count"].tolist() == [5, 5, 5, 5]
    flat = reliability_curve(np.array([0, 1, 1]), np.full(3, 0.5))
    assert flat["count"].tolist() == [3] and flat["observed_rate"].iloc[0] == pytest.approx(2 / 3)


def test_reliability_figure_is_a_new_figure_with_a_diagonal() -> None:
    curve = reliability_curve(np.array([0, 1] * 50), np.linspace(0, 1, 100), bins=5)
    first = reliability_figure({"model": curve, "baseline": curve}, "P(purchase within 30 days)")
    second = reliability_figure({"model": curve}, "again")
    assert first is not second
    assert len(first.axes) == 1 and len(first.axes[0].lines) == 3
    assert first.axes[0].get_title() == "P(purchase within 30 days)"
    diagonal = first.axes[0].lines[-1]
    np.testing.assert_array_equal(diagonal.get_xdata(), [0, 1])
    np.testing.assert_array_equal(diagonal.get_ydata(), [0, 1])
