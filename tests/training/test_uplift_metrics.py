"""Qini and uplift@k against values worked out by hand, and the bootstrap form against repeated rows."""

from __future__ import annotations

import numpy as np
import pytest

from training.uplift_gate import ranking_metrics
from training.uplift_metrics import qini, qini_by_weight, uplift_at, uplift_at_by_weight

# rows A, B, C, D: (treated, outcome); A treated buyer, B control non-buyer, C treated non-buyer, D control buyer
TREATED = np.array([1, 0, 1, 0])
OUTCOME = np.array([1.0, 0.0, 0.0, 1.0])


def test_qini_of_a_hand_built_ranking() -> None:
    # curve (x, q): (.25, .25) (.5, .25) (.75, .25) (1, 0): area .1875, random line ends at 0
    assert qini(OUTCOME, TREATED, np.array([4.0, 3, 2, 1])) == pytest.approx(0.1875)
    # reversed: (.25, 0) (.5, -.25) (.75, -.125) (1, 0)
    assert qini(OUTCOME, TREATED, np.array([1.0, 2, 3, 4])) == pytest.approx(-0.09375)


def test_tied_scores_enter_together() -> None:
    # A and B tied: the curve jumps to (.5, .25) in one step
    assert qini(OUTCOME, TREATED, np.array([3.0, 3, 2, 1])) == pytest.approx(0.15625)
    rng = np.random.default_rng(0)
    y, t = rng.normal(size=50), rng.integers(0, 2, 50)
    assert qini(y, t, np.zeros(50)) == pytest.approx(0.0, abs=1e-12)
    assert uplift_at(y, t, np.zeros(50), 0.1) == pytest.approx(y[t == 1].mean() - y[t == 0].mean())


def test_uplift_at_k_by_hand() -> None:
    score = np.array([4.0, 3, 2, 1])
    assert uplift_at(OUTCOME, TREATED, score, 0.5) == pytest.approx(1.0)
    assert uplift_at(OUTCOME, TREATED, score, 0.3) == pytest.approx(1.0)  # A, and a fifth of B
    assert uplift_at(OUTCOME, TREATED, score, 1.0) == pytest.approx(0.0)
    assert np.isnan(uplift_at(OUTCOME, TREATED, score, 0.25))  # only A: no control row


def test_resample_weights_equal_repeated_rows() -> None:
    rng = np.random.default_rng(3)
    y, t, s = rng.exponential(size=30), rng.integers(0, 2, 30), rng.integers(0, 6, 30).astype(float)
    weights = rng.integers(0, 3, size=(4, 30)).astype(float)
    for row, w in enumerate(weights):
        drawn = np.repeat(np.arange(30), w.astype(int))
        assert qini_by_weight(y, t, s)(weights)[row] == pytest.approx(qini(y[drawn], t[drawn], s[drawn]))
        assert uplift_at_by_weight(y, t, s, 0.3)(weights)[row] == pytest.approx(
            uplift_at(y[drawn], t[drawn], s[drawn], 0.3), nan_ok=True)


def test_intervals_bracket_the_estimate_and_bad_input_is_named() -> None:
    rng = np.random.default_rng(5)
    t = rng.integers(0, 2, 400)
    x = rng.uniform(size=400)
    y = (rng.uniform(size=400) < 0.1 + 0.4 * t * (x > 0.5)).astype(float)
    found = ranking_metrics(y, t, x, rounds=200)
    for name in ("qini", "uplift_at_10", "uplift_at_30"):
        assert found[f"{name}_low"] <= found[name] <= found[f"{name}_high"]
    assert found["qini_low"] > 0
    with pytest.raises(ValueError, match="treated must be 0/1"):
        qini(y, t + 1, x)
    with pytest.raises(ValueError, match="share"):
        uplift_at(y, t, x, 0.0)
