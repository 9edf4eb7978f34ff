"""Seeded member samples: one draw, so every sampled fit in the product repeats the same way.

A chain's fits (BG/NBD and Gamma-Gamma, the serving baselines' rules, the training examples of
each cut-off) learn from a sample of members where all of them would cost more memory or time
than they add. Each draw is seeded, so the same data and seed always keep the same members, and
positions come back sorted, so a sample keeps the data's order.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def sample_positions(size: int, limit: int | None, seed: int | Sequence[int]) -> np.ndarray | None:
    """Sorted positions of ``limit`` of ``size`` rows drawn without replacement by a generator seeded
    with ``seed``; None when every row is kept (no limit, or no more rows than it)."""
    if limit is None or size <= limit:
        return None
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(size, size=limit, replace=False))
