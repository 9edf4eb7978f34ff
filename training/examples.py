"""Training and evaluation examples: one snapshot plus labels per cut-off, stacked."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import pandas as pd

from features import contract
from features.labels import build_labels
from features.snapshot import build_snapshot

CUTOFF_COLUMN = "cutoff"
LABEL_COLUMN = "churned"


def build_examples(transactions: pd.DataFrame, cutoffs: Iterable[date], horizon_days: int) -> pd.DataFrame:
    """Features as of each cut-off joined to the churn label of the horizon after it."""
    frames = [_examples_at(transactions, cutoff, horizon_days) for cutoff in cutoffs]
    return pd.concat(frames, ignore_index=True)


def _examples_at(transactions: pd.DataFrame, cutoff: date, horizon_days: int) -> pd.DataFrame:
    snapshot = build_snapshot(transactions, cutoff)
    labels = build_labels(transactions, cutoff, horizon_days)[[contract.MEMBER_ID, LABEL_COLUMN]]
    examples = snapshot.frame.merge(labels, on=contract.MEMBER_ID, how="inner", validate="one_to_one")
    if len(examples) != len(snapshot.frame):
        raise AssertionError(f"labels do not cover every member scored at {cutoff}")
    examples.insert(1, CUTOFF_COLUMN, pd.Timestamp(cutoff))
    return examples
