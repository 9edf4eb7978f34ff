"""training.value_metrics: member-value metrics against hand values and a second implementation.

Pinned: normalized Gini is the Kaggle definition (Gini of actual ranked by prediction over Gini of
actual ranked by itself), with tied predictions averaged so row order never matters; the top-decile
share splits boundary ties pro rata like lift_at; invalid input raises ValueError, and input with
nothing to rank (no spread, no spend) gives NaN.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest

from training.value_metrics import normalized_gini, top_decile_share, value_metrics

# Five members. Ranked by prediction (50, 25, 12, 4, 2) the actual spend is 60, 10, 30, 0, 0.
ACTUAL = [0.0, 10.0, 0.0, 30.0, 60.0]
PREDICTED = [2.0, 25.0, 4.0, 12.0, 50.0]


def test_value_metrics_match_hand_computation() -> None:
    """Every metric on five rows equals its hand-computed value."""
    expected = {
        # ranks of actual (zeros tied): 1.5 3 1.5 4 5; of predicted: 1 4 2 3 5; both mean 3.
        # deviations a: -1.5 0 -1.5 1 2, p: -2 1 -1 0 2 -> cov 3+0+1.5+0+4 = 8.5, var 9.5 and 10
        "spearman": 8.5 / math.sqrt(9.5 * 10),
        # by prediction: Lorenz L = .6 .7 1 1 1, sum 4.3 -> Gini = 4.3/5 - (5+1)/(2*5) = 0.26
        # by itself (60 30 10 0 0): L = .6 .9 1 1 1, sum 4.5 -> Gini = 0.9 - 0.6 = 0.3
        "normalized_gini": 0.26 / 0.3,
        # top round(0.5) -> at least 1 member: spend 60 of 100
        "top_decile_share": 0.6,
        # |0-2| + |10-25| + |0-4| + |30-12| + |60-50| = 49
        "mae": 49 / 5,
        "mean_actual": 20.0,
        "mean_predicted": 93 / 5,
        "n": 5.0,
    }
    metrics = value_metrics(np.array(ACTUAL), np.array(PREDICTED))
    assert set(metrics) == set(expected)
    for name, value in expected.items():
        assert metrics[name] == pytest.approx(value, rel=1e-12, abs=1e-12), name


@pytest.mark.parametrize(
    ("predicted", "fraction", "expected_gini", "expected_share"),
    [
        # top 2: 60 and 10 of 100
        pytest.param(PREDICTED, 0.4, 0.26 / 0.3, 0.7, id="no-ties"),
        # the 10, 0, 30 rows tie at 5 (mean 40/3): sorted 60, 40/3 x3, 0 -> L = .6 .7333 .8667 1 1,
        # sum 4.2 -> Gini 4.2/5 - 0.6 = 0.24 -> 0.24 / 0.3 = 0.8; top 2 = 60 + one share of 40/3
        pytest.param([1.0, 5.0, 5.0, 5.0, 9.0], 0.4, 0.8, (60 + 40 / 3) / 100, id="tie-at-the-boundary"),
        # one prediction for all: L rises linearly, Gini 0; top 2 places = 2 x mean spend 20
        pytest.param([3.0] * 5, 0.4, 0.0, 0.4, id="all-tied"),
    ],
)
def test_gini_and_share_with_ties_match_hand_computation(
    predicted: list[float], fraction: float, expected_gini: float, expected_share: float
) -> None:
    """Tied predictions are averaged in the Gini and share boundary places pro rata."""
    actual, predicted_ = np.array(ACTUAL), np.array(predicted)
    assert normalized_gini(actual, predicted_) == pytest.approx(expected_gini, rel=1e-12, abs=1e-12)
    assert top_decile_share(actual, predicted_, fraction) == pytest.approx(expected_share, rel=1e-12)


def test_perfect_and_reversed_rankings_give_plus_and_minus_one() -> None:
    """Ranking by the actual spend itself gives 1; ranking by its negative gives -1."""
    actual = np.random.default_rng(7).gamma(0.5, 40.0, size=200) * (np.arange(200) % 3 == 0)
    assert normalized_gini(actual, actual) == pytest.approx(1.0, rel=1e-12)
    assert normalized_gini(actual, np.sqrt(actual)) == pytest.approx(1.0, rel=1e-12)  # only order counts
    assert normalized_gini(actual, -actual) == pytest.approx(-1.0, rel=1e-12)


def test_metrics_do_not_depend_on_row_order_with_ties() -> None:
    """Shuffling rows, tied predictions included, changes no metric (bit for bit for the Gini)."""
    rng = np.random.default_rng(11)
    actual = rng.gamma(0.8, 30.0, size=300) * (rng.random(300) < 0.3)
    predicted = rng.integers(0, 6, size=300).astype(float)  # six coarse levels: many ties
    reference = value_metrics(actual, predicted)
    for _ in range(5):
        order = rng.permutation(len(actual))
        shuffled = value_metrics(actual[order], predicted[order])
        assert shuffled["normalized_gini"] == reference["normalized_gini"]
        for name, value in reference.items():
            assert shuffled[name] == pytest.approx(value, rel=1e-12), name


def _brute_force_normalized_gini(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Area between the Lorenz curve and the diagonal by the trapezoid rule, ratio to the ideal."""

    def area(order: np.ndarray) -> float:
        lorenz = np.r_[0.0, np.cumsum(actual[order]) / actual.sum()]
        share = np.linspace(0.0, 1.0, len(actual) + 1)
        return float(np.trapezoid(lorenz, share) - 0.5)

    return area(np.argsort(-predicted)) / area(np.argsort(-actual))


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_normalized_gini_agrees_with_trapezoid_area(seed: int) -> None:
    """On tie-free data the grouped Gini equals the Lorenz-area Gini of a second implementation."""
    rng = np.random.default_rng(seed)
    actual = rng.gamma(0.6, 50.0, size=500) * (rng.random(500) < 0.4)
    predicted = actual + rng.normal(0.0, 40.0, size=500)  # continuous: no ties
    assert len(np.unique(predicted)) == len(predicted)
    assert normalized_gini(actual, predicted) == pytest.approx(
        _brute_force_normalized_gini(actual, predicted), rel=1e-9
    )


@pytest.mark.parametrize(
    ("actual", "predicted", "message"),
    [
        pytest.param([1.0, 2.0, 3.0], [1.0, 2.0], "one length", id="length-mismatch"),
        pytest.param([], [], "empty", id="empty"),
        pytest.param([1.0, -2.0, 3.0], [1.0, 2.0, 3.0], ">= 0", id="negative-actual"),
        pytest.param([1.0, float("nan"), 3.0], [1.0, 2.0, 3.0], "finite", id="nan-actual"),
        pytest.param([1.0, 2.0, 3.0], [1.0, float("inf"), 3.0], "finite", id="inf-predicted"),
        pytest.param([[1.0, 2.0]], [[1.0, 2.0]], "1-D", id="two-dimensional"),
    ],
)
def test_invalid_input_raises(actual: list[float], predicted: list[float], message: str) -> None:
    """Every public function refuses input it cannot score, with a reason."""
    for metric in (normalized_gini, top_decile_share, value_metrics):
        with pytest.raises(ValueError, match=message):
            metric(np.array(actual), np.array(predicted))


def test_fraction_outside_unit_interval_raises() -> None:
    with pytest.raises(ValueError, match="fraction"):
        top_decile_share(np.array(ACTUAL), np.array(PREDICTED), 0.0)


def test_nothing_to_rank_gives_nan_without_warnings() -> None:
    """All-zero spend: no Gini, no share, no Spearman (NaN); MAE and means are still defined."""
    actual, predicted = np.zeros(10), np.linspace(0.0, 9.0, 10)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # scipy warns on constant input; we must not call it
        metrics = value_metrics(actual, predicted)
    for name in ("spearman", "normalized_gini", "top_decile_share"):
        assert math.isnan(metrics[name]), name
    assert metrics["mae"] == pytest.approx(4.5)
    # equal positive spend: still nothing to rank, but a share is defined
    assert math.isnan(normalized_gini(np.full(4, 7.0), np.arange(4.0)))
    assert top_decile_share(np.full(4, 7.0), np.arange(4.0), 0.5) == pytest.approx(0.5)
