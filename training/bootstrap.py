"""Paired bootstrap of a metric difference: is the model's win over a baseline beyond noise?

Both scorers are measured on the *same* resampled rows each round, so the noise they share (which
members happen to be in the evaluation window) cancels in the difference. The interval is the
percentile interval of the per-round differences.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from training.resampled_metrics import RowWeightMetric

BLOCK_ROUNDS = 50  # resamples evaluated together at most: (50, n) weight arrays stay a few MB at n = 25,000
# ... and at most this many weights in one block: at n = 4.5 M evaluation members, 50 rounds at once
# held three (50, n) arrays of 8 bytes (draws, counts, weights): 5.4 GB, beside the examples.
BLOCK_WEIGHTS = BLOCK_ROUNDS * 25_000


@dataclass(frozen=True)
class BootstrapInterval:
    """Percentile interval of model minus baseline over ``rounds`` resamples where both are defined."""

    low: float
    high: float
    rounds: int


def resample_weights(n_rows: int, rounds: int, rng: np.random.Generator) -> np.ndarray:
    """(rounds, n_rows) draw counts: each row is n_rows draws with replacement of row indices."""
    drawn = rng.integers(0, n_rows, size=(rounds, n_rows)) + n_rows * np.arange(rounds)[:, None]
    return np.bincount(drawn.ravel(), minlength=rounds * n_rows).reshape(rounds, n_rows).astype(float)


def paired_bootstrap(model: RowWeightMetric, baseline: RowWeightMetric, n_rows: int, rounds: int = 1000,
                     seed: int = 7, level: float = 0.95) -> BootstrapInterval:
    """The ``level`` percentile interval of model(rows) - baseline(rows) over ``rounds`` paired resamples.

    Reproducible: one ``np.random.default_rng(seed)`` draws every resample. Rounds where either
    metric is undefined (e.g. a resample with one class only) are left out; with none left the
    interval is NaN, which no gate passes.
    """
    if n_rows < 1 or rounds < 1 or not 0 < level < 1:
        raise ValueError(f"need n_rows >= 1, rounds >= 1 and 0 < level < 1; got {n_rows}, {rounds}, {level}")
    rng = np.random.default_rng(seed)
    differences = []
    block = block_rounds(n_rows)
    for start in range(0, rounds, block):
        weights = resample_weights(n_rows, min(block, rounds - start), rng)
        differences.append(model(weights) - baseline(weights))
    difference = np.concatenate(differences)
    defined = difference[np.isfinite(difference)]
    if not len(defined):
        return BootstrapInterval(float("nan"), float("nan"), 0)
    tail = 100 * (1 - level) / 2
    low, high = np.percentile(defined, [tail, 100 - tail])
    return BootstrapInterval(float(low), float(high), len(defined))


def block_rounds(n_rows: int) -> int:
    """Resamples evaluated together: ``BLOCK_ROUNDS``, fewer (at least one) where ``n_rows`` is large,
    so a block's weights stay within ``BLOCK_WEIGHTS`` (memory bounded at any evaluation size).

    Up to 25,000 rows the blocks, and so the draws of a seed, are what they always were.
    """
    return max(1, min(BLOCK_ROUNDS, BLOCK_WEIGHTS // max(n_rows, 1)))
