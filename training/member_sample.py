"""Member sampling per training cut-off: a chain's models learn from a seeded sample of each cut-off's members.

At 100 million lines a year (4-5 million members), six training cut-offs stack to tens of millions
of rows: more than the trees need, and more memory than one machine has. ``TrainConfig.
max_members_per_cutoff`` keeps at most that many of each training cut-off's members, drawn without
replacement, and the cut-off's examples are built from the sampled members' lines only: building
every member's features first and then dropping most of them cost a 100 M-line run 36 minutes and
its memory (bench/HISTORY.md). Every feature is the member's own except BG/NBD's, whose four
population parameters are then fitted on the sample (a fit on a sample is what ``features.lifetime``
does at scale anyway). The evaluation cut-off is never sampled: every out-of-time metric is
measured on all its members. Whether a sample keeps the metrics of the full fit is measured
(``bench/sampling.py``), not assumed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import pandas as pd

from features import contract
from features.engine import as_table, execute
from features.purchases import members_before
from features.sampling import sample_positions
from training.config import TrainConfig
from training.cutoffs import CutoffPlan
from training.examples import ExamplesBuilder, build_category_history, stack_examples


def drawn_members(transactions: pd.DataFrame, cutoff: date, max_members: int, seed: int) -> pd.Index | None:
    """The ids of at most ``max_members`` of the members a snapshot as of ``cutoff`` holds; None: all of them.

    The draw is over the members sorted by id and seeded by ``seed`` and the cut-off's date, so it
    does not depend on which other cut-offs the run has, nor on the order of the lines.
    """
    members = execute(members_before(as_table(transactions), cutoff))[contract.MEMBER_ID].astype("string")
    members = members.sort_values(kind="stable", ignore_index=True)
    positions = sample_positions(len(members), max_members, [seed, pd.Timestamp(cutoff).toordinal()])
    return None if positions is None else pd.Index(members.iloc[positions])


def sampled_lines(transactions: pd.DataFrame, cutoff: date, max_members: int, seed: int) -> pd.DataFrame:
    """Every line (before and after ``cutoff``) of the members ``drawn_members`` keeps."""
    drawn = drawn_members(transactions, cutoff, max_members, seed)
    if drawn is None:
        return transactions
    return transactions[transactions[contract.MEMBER_ID].isin(drawn)]


def sampled_training_data(build: ExamplesBuilder, transactions: pd.DataFrame, cutoffs: Sequence[date],
                          horizon_days: int, max_members: int, seed: int,
                          with_category_history: bool) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The training cut-offs' examples (and category history, for upsell) from each cut-off's sample.

    One cut-off at a time, so only one sample's lines are held beside the transactions.
    """
    examples, histories = [], []
    for cutoff in cutoffs:
        lines = sampled_lines(transactions, cutoff, max_members, seed)
        examples.append(build(lines, [cutoff], horizon_days))
        if with_category_history:
            histories.append(build_category_history(lines, [cutoff], horizon_days))
    return stack_examples(examples), (pd.concat(histories, ignore_index=True) if with_category_history else None)


def training_data(transactions: pd.DataFrame, plan: CutoffPlan, config: TrainConfig, build_train: ExamplesBuilder,
                  with_category_history: bool) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The training cut-offs' examples, and their category history when asked: every member's, or
    each cut-off's seeded sample of members when ``config.max_members_per_cutoff`` is set."""
    if config.max_members_per_cutoff is not None:
        return sampled_training_data(build_train, transactions, plan.train, plan.horizon_days,
                                     config.max_members_per_cutoff, config.seed, with_category_history)
    history = build_category_history(transactions, plan.train, plan.horizon_days) if with_category_history else None
    return build_train(transactions, plan.train, plan.horizon_days), history
