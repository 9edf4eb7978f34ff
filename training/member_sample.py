"""Member sampling per training cut-off: a chain's models learn from a seeded sample of each cut-off's members.

At 100 million lines a year (4-5 million members), six training cut-offs stack to tens of millions
of rows: more than the trees need, and more memory than one machine has. ``TrainConfig.
max_members_per_cutoff`` keeps at most that many members of each training cut-off, drawn without
replacement. The cut-offs are built and sampled one at a time, so only one cut-off's full
examples are ever in memory. The evaluation cut-off is never sampled: every out-of-time metric
is measured on all its members. Whether a sample keeps the metrics of the full fit is measured
(``bench/sampling.py``), not assumed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import pandas as pd

from features.sampling import sample_positions
from training.examples import CUTOFF_COLUMN, ExamplesBuilder, stack_examples


def sample_members(examples: pd.DataFrame, max_members: int, seed: int) -> pd.DataFrame:
    """At most ``max_members`` rows of each cut-off, in their original order; every row where there are fewer.

    Each cut-off's draw is seeded by ``seed`` and the cut-off's date, so it does not depend on which
    other cut-offs the run has: the same data, seed and cut-off always keep the same members.
    """
    kept = []
    for cutoff in examples[CUTOFF_COLUMN].unique():
        rows = examples[examples[CUTOFF_COLUMN] == cutoff]
        positions = sample_positions(len(rows), max_members, [seed, pd.Timestamp(cutoff).toordinal()])
        kept.append(rows if positions is None else rows.iloc[positions])
    return pd.concat(kept) if kept else examples


def sampling_builder(build: ExamplesBuilder, max_members: int, seed: int) -> ExamplesBuilder:
    """``build`` run one cut-off at a time, each cut-off's examples sampled before the next is built."""
    def build_sampled(transactions: pd.DataFrame, cutoffs: Sequence[date], horizon_days: int) -> pd.DataFrame:
        frames = [sample_members(build(transactions, [cutoff], horizon_days), max_members, seed) for cutoff in cutoffs]
        return stack_examples(frames)

    return build_sampled
