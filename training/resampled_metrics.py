"""The gate metrics on bootstrap resamples, many at once: (row weights) -> one metric per resample.

A bootstrap resample of the n evaluation rows is the same rows with integer weights (how often
each was drawn), and every gate metric here is a sum over rows or pairs of rows, so a weighted
form gives exactly the metric of the resampled rows. Each factory does the one sort the metric
needs up front; a call then costs a few O(n) array passes per resample, vectorised over a block
of resamples (shape ``(rounds, n)``). With weights of one they equal ``evaluate.binary_metrics``'
ROC AUC, ``survival.concordance_index`` and ``value_metrics.normalized_gini``; the tests hold
them to those on resampled rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from training.value_metrics import _validated

RowWeightMetric = Callable[[np.ndarray], np.ndarray]  # weights (rounds, n) -> metric per round (NaN: undefined)


@dataclass(frozen=True)
class GateMetric:
    """A weighted gate metric (``training.resampled_metrics``) bound to the evaluation rows' truth:
    ``metric(*truth, prediction)`` scores one scorer, on every row or on some (the same for every scorer)."""

    metric: Callable[..., RowWeightMetric]
    truth: tuple[np.ndarray, ...]

    def __call__(self, prediction: np.ndarray, rows: np.ndarray | None = None) -> RowWeightMetric:
        if rows is None:
            return self.metric(*self.truth, prediction)
        return self.metric(*(np.asarray(column)[rows] for column in self.truth), np.asarray(prediction)[rows])


class _TieGroups:
    """Rows grouped by equal ``key``, groups in ascending key order: per-group sums of row values, in bulk."""

    def __init__(self, key: np.ndarray) -> None:
        self.order = np.argsort(key, kind="stable")
        ordered = key[self.order]
        self.starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])

    def sums(self, values: np.ndarray) -> np.ndarray:
        """(rounds, n) row values -> (rounds, groups) sums."""
        return np.add.reduceat(values[:, self.order], self.starts, axis=1)


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, NaN where the denominator is 0 (the metric is undefined there)."""
    defined = denominator > 0
    return np.where(defined, numerator / np.where(defined, denominator, 1.0), np.nan)


def _rows(weights: np.ndarray, n: int) -> np.ndarray:
    weights = np.atleast_2d(np.asarray(weights, dtype=float))
    if weights.ndim != 2 or weights.shape[1] != n:
        raise ValueError(f"weights must be (rounds, {n}); got shape {weights.shape}")
    return weights


def roc_auc_by_weight(labels: np.ndarray, scores: np.ndarray) -> RowWeightMetric:
    """ROC AUC (Mann-Whitney, ties 0.5) of ``scores`` for binary ``labels``: NaN without both classes."""
    positive = np.asarray(labels)
    scores = np.asarray(scores, dtype=float)
    if positive.ndim != 1 or positive.shape != scores.shape or not np.isin(positive, (0, 1)).all():
        raise ValueError(f"labels must be 0/1 and scores one value per label; got {positive.shape}, {scores.shape}")
    if np.isnan(scores).any():
        raise ValueError("scores must not be NaN")
    positive = positive.astype(bool)
    groups, n = _TieGroups(scores), len(scores)

    def metric(weights: np.ndarray) -> np.ndarray:
        weights = _rows(weights, n)
        pos, neg = groups.sums(weights * positive), groups.sums(weights * ~positive)
        below = np.cumsum(neg, axis=1) - neg  # negatives scored strictly lower
        return _ratio((pos * (below + 0.5 * neg)).sum(axis=1), pos.sum(axis=1) * neg.sum(axis=1))

    return metric


def concordance_by_weight(days: np.ndarray, observed: np.ndarray, predicted_days: np.ndarray) -> RowWeightMetric:
    """Harrell's C exactly as ``survival.concordance_index`` counts it, each pair weighted w_i w_j.

    The same bit-by-bit split of the time key (see ``survival._counts_above``): each level's sort
    and searchsorted positions depend only on the data, so they are computed once, and a resample
    costs a cumulative sum of its weights per level.
    """
    days = np.asarray(days, dtype=float)
    observed = np.asarray(observed)
    predicted = np.asarray(predicted_days, dtype=float)
    if observed.dtype != bool or not (days.ndim == 1 and days.shape == observed.shape == predicted.shape):
        raise ValueError("days, observed (boolean) and predicted_days must be 1-D of one length")
    if not (np.isfinite(days).all() and np.isfinite(predicted).all()):
        raise ValueError("days and predicted_days must be finite")
    n = len(days)
    key = 2 * np.unique(days, return_inverse=True)[1].astype(np.int64) + (~observed)
    score = np.unique(predicted, return_inverse=True)[1].astype(np.int64)
    levels = _concordance_levels(key, score, np.flatnonzero(observed)) if n else []

    def metric(weights: np.ndarray) -> np.ndarray:
        weights = _rows(weights, n)
        pairs, higher, tied = (np.zeros(len(weights)) for _ in range(3))
        for members, rows, start, end, at_or_below, below in levels:
            cumulative = np.zeros((len(weights), len(members) + 1))
            np.cumsum(weights[:, members], axis=1, out=cumulative[:, 1:])
            row_weight = weights[:, rows]
            pairs += (row_weight * (cumulative[:, end] - cumulative[:, start])).sum(axis=1)
            higher += (row_weight * (cumulative[:, end] - cumulative[:, at_or_below])).sum(axis=1)
            tied += (row_weight * (cumulative[:, at_or_below] - cumulative[:, below])).sum(axis=1)
        return _ratio(higher + 0.5 * tied, pairs)

    return metric


def _concordance_levels(key: np.ndarray, score: np.ndarray, query: np.ndarray) -> list[tuple[np.ndarray, ...]]:
    """Per bit level: the rows with the bit set in table order, the query rows without it, and
    the table positions bounding each query row's same-prefix block and its score (as in _counts_above)."""
    width = int(score.max()) + 1
    levels: list[tuple[np.ndarray, ...]] = []
    for level in range(int(key.max()).bit_length()):
        upper = np.flatnonzero(((key >> level) & 1) == 1)
        composite = (key[upper] >> (level + 1)) * width + score[upper]
        order = np.argsort(composite, kind="stable")
        table = composite[order]
        rows = query[((key[query] >> level) & 1) == 0]
        base = (key[rows] >> (level + 1)) * width
        levels.append((upper[order], rows,
                       np.searchsorted(table, base, "left"), np.searchsorted(table, base + width - 1, "right"),
                       np.searchsorted(table, base + score[rows], "right"),
                       np.searchsorted(table, base + score[rows], "left")))
    return levels


def normalized_gini_by_weight(actual: np.ndarray, predicted: np.ndarray) -> RowWeightMetric:
    """Normalized Gini with tied predictions averaged, as ``value_metrics.normalized_gini``: NaN
    where the drawn rows' actual spend has no spread."""
    actual, predicted = _validated(actual, predicted)
    by_prediction, by_actual, n = _TieGroups(-predicted), _TieGroups(-actual), len(actual)

    def metric(weights: np.ndarray) -> np.ndarray:
        weights = _rows(weights, n)
        drawn = weights > 0
        spread = np.where(drawn, actual, -np.inf).max(axis=1) - np.where(drawn, actual, np.inf).min(axis=1)
        ratio = _ratio(_gini(weights, actual, by_prediction), _gini(weights, actual, by_actual))
        return np.where(spread > 0, ratio, np.nan)

    return metric


def _gini(weights: np.ndarray, actual: np.ndarray, groups: _TieGroups) -> np.ndarray:
    """Unnormalized Gini of the expanded rows: within a tie group of c rows with spend s, the
    Lorenz curve rises by s / c per row, so the group adds c * before + s * (c + 1) / 2."""
    count, spend = groups.sums(weights), groups.sums(weights * actual)
    before = np.cumsum(spend, axis=1) - spend
    rows, total = count.sum(axis=1), spend.sum(axis=1)
    lorenz_sum = (count * before + spend * (count + 1) / 2).sum(axis=1)
    return _ratio(lorenz_sum, rows * total) - (rows + 1) / (2 * rows)
