"""Training and evaluation examples: one snapshot plus labels per cut-off, stacked."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date

import pandas as pd

from features import contract
from features.categories import SHARE_PREFIX
from features.labels import LABEL_COLUMNS, build_labels, category_history
from features.lifetime import LifetimeModel
from features.snapshot import build_snapshot

CUTOFF_COLUMN = "cutoff"
LABEL_COLUMN = "churned"
NOT_FEATURES = (contract.MEMBER_ID, CUTOFF_COLUMN, *LABEL_COLUMNS)
ExamplesBuilder = Callable[[pd.DataFrame, Sequence[date], int], pd.DataFrame]  # build_examples' (tx, cutoffs, H)


def build_examples(
    transactions: pd.DataFrame,
    cutoffs: Iterable[date],
    horizon_days: int,
    lifetimes: Mapping[date, LifetimeModel | None] | None = None,
) -> pd.DataFrame:
    """Features (and category spend shares) as of each cut-off joined to every label of the horizon after it.

    A category share column absent at one cut-off is 0 there: the member spent nothing in it.
    ``lifetimes`` holds BG/NBD models the caller already fitted as of some cut-offs (not refitted).
    """
    fitted = lifetimes or {}
    return stack_examples([_examples_at(transactions, cutoff, horizon_days, fitted.get(cutoff)) for cutoff in cutoffs])


def stack_examples(frames: Sequence[pd.DataFrame]) -> pd.DataFrame:
    """Cut-offs' examples stacked; a category share column absent at one cut-off is 0 there."""
    stacked = pd.concat(frames, ignore_index=True)
    shares = [c for c in stacked.columns if c.startswith(SHARE_PREFIX)]
    stacked[shares] = stacked[shares].fillna(0.0)
    return stacked


def feature_columns(examples: pd.DataFrame) -> list[str]:
    """Model inputs of an examples frame: everything but ids, cut-offs and labels."""
    return [c for c in examples.columns if c not in NOT_FEATURES]


def _examples_at(transactions: pd.DataFrame, cutoff: date, horizon_days: int,
                 lifetime: LifetimeModel | None = None) -> pd.DataFrame:
    snapshot = build_snapshot(transactions, cutoff, lifetime=lifetime)
    labels = build_labels(transactions, cutoff, horizon_days)
    features = snapshot.model_inputs()
    examples = features.merge(labels, on=contract.MEMBER_ID, how="inner", validate="one_to_one")
    if len(examples) != len(features):
        raise AssertionError(f"labels do not cover every member scored at {cutoff}")
    examples.insert(1, CUTOFF_COLUMN, pd.Timestamp(cutoff))
    return examples


def build_category_history(transactions: pd.DataFrame, cutoffs: Iterable[date], horizon_days: int) -> pd.DataFrame:
    """``features.labels.category_history`` for each cut-off, stacked with a ``cutoff`` column."""
    frames = []
    for cutoff in cutoffs:
        history = category_history(transactions, cutoff, horizon_days)
        history.insert(0, CUTOFF_COLUMN, pd.Timestamp(cutoff))
        frames.append(history)
    return pd.concat(frames, ignore_index=True)
