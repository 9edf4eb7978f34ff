"""training.examples.build_examples: one row per (member, cut-off), features and labels point-in-time.

Pinned: the stacked frame is exactly build_snapshot(T) plus a ``cutoff`` column and the
``churned`` label of build_labels(T, H), for each cut-off; the members are those with a purchase
(an order with positive net amount) before T; features at T ignore every row at or after T and
labels ignore every row at or after T + H (the leakage guard).
"""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest

from features.labels import build_labels
from features.snapshot import build_snapshot
from training.examples import CUTOFF_COLUMN, LABEL_COLUMN, build_examples, feature_columns

CUTOFFS = (date(2023, 9, 1), date(2024, 1, 5))
HORIZON = 60


@pytest.fixture(scope="module")
def transactions(synthetic: tuple[pd.DataFrame, pd.DataFrame]) -> pd.DataFrame:
    return synthetic[0]


@pytest.fixture(scope="module")
def examples(transactions: pd.DataFrame) -> pd.DataFrame:
    return build_examples(transactions, CUTOFFS, HORIZON)


def members_with_a_purchase_before(transactions: pd.DataFrame, cutoff: date) -> set[str]:
    """Independent oracle in pandas: members with an order of positive net amount before T."""
    before = transactions[transactions["ts"] < pd.Timestamp(cutoff)]
    net = before.groupby(["member_id", "order_id"])["amount"].sum()
    return set(net[net > 0].index.get_level_values("member_id"))


def test_one_row_per_member_and_cutoff(examples: pd.DataFrame, transactions: pd.DataFrame) -> None:
    """Each (member, cut-off) appears once; the members at T are those who bought before T."""
    assert not examples.duplicated(["member_id", CUTOFF_COLUMN]).any()
    assert sorted(examples[CUTOFF_COLUMN].unique()) == [pd.Timestamp(c) for c in CUTOFFS]
    for cutoff in CUTOFFS:
        at = examples[examples[CUTOFF_COLUMN] == pd.Timestamp(cutoff)]
        assert set(at["member_id"]) == members_with_a_purchase_before(transactions, cutoff)
    counts = examples.groupby(CUTOFF_COLUMN).size()
    assert counts.iloc[0] < counts.iloc[1], "members join over time, so the later cut-off has more rows"


@pytest.mark.parametrize("cutoff", CUTOFFS, ids=str)
def test_features_and_labels_equal_snapshot_and_labels(
    examples: pd.DataFrame, transactions: pd.DataFrame, cutoff: date
) -> None:
    """Rows at T: features == build_snapshot(T).model_inputs(), labels == build_labels(T, H)."""
    at = examples[examples[CUTOFF_COLUMN] == pd.Timestamp(cutoff)].reset_index(drop=True)
    snapshot = build_snapshot(transactions, cutoff)
    inputs = snapshot.model_inputs()
    pd.testing.assert_frame_equal(at[inputs.columns], inputs)
    assert feature_columns(examples) == [c for c in inputs.columns if c != "member_id"]
    labels = build_labels(transactions, cutoff, HORIZON)
    pd.testing.assert_frame_equal(at[labels.columns], labels)
    assert 0 < at[LABEL_COLUMN].mean() < 1
    assert list(examples.columns[:2]) == ["member_id", CUTOFF_COLUMN]


def test_features_ignore_rows_at_or_after_the_cutoff(transactions: pd.DataFrame) -> None:
    """Deleting every row with ts >= T, or appending future rows, leaves the features at T unchanged."""
    cutoff = CUTOFFS[1]
    full = build_examples(transactions, [cutoff], HORIZON)
    past = transactions[transactions["ts"] < pd.Timestamp(cutoff)]
    truncated = build_examples(past, [cutoff], HORIZON)
    inputs = ["member_id", CUTOFF_COLUMN, *feature_columns(full)]
    pd.testing.assert_frame_equal(full[inputs], truncated[inputs])
    assert truncated[LABEL_COLUMN].eq(1).all()  # nothing observed after T: everyone looks churned


def test_labels_ignore_rows_at_or_after_the_horizon(transactions: pd.DataFrame) -> None:
    """Rows at/after T + H (deleted, or new ones added for existing and new members) change nothing."""
    cutoff = CUTOFFS[0]
    end = pd.Timestamp(cutoff + timedelta(days=HORIZON))
    full = build_examples(transactions, [cutoff], HORIZON)
    observed = transactions[transactions["ts"] < end]
    members = full["member_id"].head(40).tolist() + ["new-member"]
    later = pd.DataFrame({
        "member_id": pd.array(members, dtype="string"),
        "ts": pd.Series([end] * len(members), dtype=transactions["ts"].dtype),  # exactly at T + H
        "amount": 25.0,
        "order_id": pd.array([f"future-{i}" for i in range(len(members))], dtype="string"),
        "category": pd.array(["grocery"] * len(members), dtype="string"),
    })
    extended = pd.concat([observed, later], ignore_index=True)
    pd.testing.assert_frame_equal(build_examples(observed, [cutoff], HORIZON), full)
    pd.testing.assert_frame_equal(build_examples(extended, [cutoff], HORIZON), full)
