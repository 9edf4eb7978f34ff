"""Member-value metrics, pure: (actual spend, predicted spend) -> numbers.

Actual spend over the horizon is >= 0 and mostly zero, so the ranking metrics (normalized Gini,
top-decile share, Spearman) say more than the error metric (MAE) about whom to act on.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import spearmanr

from training.evaluate import _top_fraction_total


def normalized_gini(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Gini of ``actual`` ranked by ``predicted`` over the Gini of ``actual`` ranked by itself.

    The Kaggle / insurance definition: rows sorted by prediction, highest first, give the Lorenz
    curve L_i = (spend of the top i rows) / (total spend), and Gini = mean_i (L_i - i/n), the
    area between that curve and the diagonal. 1.0 is a perfect ranking, about 0 a random one,
    -1.0 the reversed one.

    Ties: rows with equal predictions form one group whose actual spend is replaced by the
    group's mean, i.e. the curve rises linearly across the group. That is the average Gini
    over every order of the tied rows, so row order cannot change the result (a constant
    prediction scores exactly 0).

    Raises ValueError on mismatched, empty, non-finite or negative input. Returns NaN when the
    actual spend has no spread to rank (all equal, including all zero, or a single row).
    """
    actual, predicted = _validated(actual, predicted)
    if np.ptp(actual) == 0:
        return float("nan")
    return _gini(actual, predicted) / _gini(actual, actual)


def top_decile_share(actual: np.ndarray, predicted: np.ndarray, fraction: float = 0.1) -> float:
    """Share of total actual spend captured by the top ``fraction`` of members by prediction.

    The top is round(fraction * n) members, at least one; predictions tied at the boundary share
    the remaining places pro rata (their mean spend counts), as in ``evaluate.lift_at``.
    Raises ValueError as ``normalized_gini`` does, or for a fraction outside (0, 1]; returns
    NaN when the total actual spend is zero.
    """
    actual, predicted = _validated(actual, predicted)
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    total = actual.sum()
    if total == 0:
        return float("nan")
    captured, _ = _top_fraction_total(actual, predicted, fraction)
    return float(captured / total)


def value_metrics(actual: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """Spearman, normalized Gini, top-decile share, MAE, mean actual and predicted, row count."""
    actual, predicted = _validated(actual, predicted)
    ranked = np.ptp(actual) > 0 and np.ptp(predicted) > 0  # Spearman is undefined on a constant
    return {
        "spearman": float(spearmanr(actual, predicted).statistic) if ranked else float("nan"),
        "normalized_gini": normalized_gini(actual, predicted),
        "top_decile_share": top_decile_share(actual, predicted, 0.1),
        "mae": float(np.mean(np.abs(actual - predicted))),
        "mean_actual": float(actual.mean()),
        "mean_predicted": float(predicted.mean()),
        "n": float(len(actual)),
    }


def _gini(actual: np.ndarray, predicted: np.ndarray) -> float:
    """Unnormalized Gini with tied predictions averaged (see ``normalized_gini``)."""
    # A canonical order (prediction descending, then actual) makes the float sums, and so the
    # result, bit-for-bit independent of the input row order.
    order = np.lexsort((actual, -predicted))
    spend, score = actual[order], predicted[order]
    starts = np.flatnonzero(np.r_[True, score[1:] != score[:-1]])
    sizes = np.diff(np.r_[starts, len(score)])
    spend = np.repeat(np.add.reduceat(spend, starts) / sizes, sizes)
    lorenz = np.cumsum(spend) / spend.sum()
    n = len(spend)
    return float(lorenz.mean() - (n + 1) / (2 * n))


def _validated(actual: np.ndarray, predicted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    actual = np.asarray(actual, dtype=float)
    predicted = np.asarray(predicted, dtype=float)
    if actual.ndim != 1 or actual.shape != predicted.shape:
        raise ValueError(f"actual and predicted must be 1-D of one length, got {actual.shape} and {predicted.shape}")
    if len(actual) == 0:
        raise ValueError("actual and predicted are empty")
    if not (np.isfinite(actual).all() and np.isfinite(predicted).all()):
        raise ValueError("actual and predicted must be finite")
    if (actual < 0).any():
        raise ValueError("actual spend must be >= 0 (net returns out before scoring)")
    return actual, predicted
