"""training.member_sample: at most N members per training cut-off, drawn before the examples are built.

Pinned: the draw is over the members a snapshot as of the cut-off holds (a purchase before it:
never a member with only returns, or only later purchases), at most N, seeded by the seed and the
cut-off's date; the sampled examples are the full build's rows for the drawn members, every
feature equal except BG/NBD's (fitted on the sample: close, not equal), so point-in-time holds as
in build_examples; the category history is the full one's rows of the drawn members;
``prepare_data`` samples the training cut-offs and never the evaluation cut-off.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from features.catalogue import feature_names
from features.sampling import sample_positions
from training.config import TrainConfig
from training.examples import CUTOFF_COLUMN, build_category_history, build_examples
from training.member_sample import drawn_members, sampled_training_data
from training.pipeline import prepare_data

CUTOFFS = (date(2023, 9, 1), date(2023, 11, 3), date(2024, 1, 5))
HORIZON = 60
KEYS = ["member_id", CUTOFF_COLUMN]


def hand_built() -> pd.DataFrame:
    """m00..m29 buy before 2024-03-01; r1 only returns before it; late buys only after it."""
    rows = [(f"m{i:02d}", pd.Timestamp("2024-01-01") + pd.Timedelta(days=i), 10.0) for i in range(30)]
    rows += [("r1", pd.Timestamp("2024-01-05"), -5.0), ("late", pd.Timestamp("2024-03-02"), 8.0)]
    return pd.DataFrame(rows, columns=["member_id", "ts", "amount"]).astype({"member_id": "string"})


def test_the_draw_is_of_the_snapshots_members_at_most_n_and_seeded() -> None:
    lines = hand_built()
    drawn = drawn_members(lines, date(2024, 3, 1), 10, seed=7)
    assert drawn is not None and len(drawn) == 10 and drawn.is_unique and drawn.is_monotonic_increasing
    assert set(drawn) <= {f"m{i:02d}" for i in range(30)}
    every = pd.Series([f"m{i:02d}" for i in range(30)])
    expected = every.iloc[sample_positions(30, 10, [7, pd.Timestamp("2024-03-01").toordinal()])]
    assert list(drawn) == list(expected)
    assert list(drawn_members(lines.iloc[::-1], date(2024, 3, 1), 10, seed=7)) == list(drawn)  # line order is irrelevant
    assert list(drawn_members(lines, date(2024, 3, 1), 10, seed=8)) != list(drawn)
    assert drawn_members(lines, date(2024, 3, 1), 30, seed=7) is None  # no more members than the limit: all


def test_cutoffs_of_the_same_members_draw_different_samples() -> None:
    """Each draw is seeded by the cut-off's date too: equal member sets must not keep the same ids."""
    lines = hand_built()
    first, second = drawn_members(lines, date(2024, 3, 1), 10, 7), drawn_members(lines, date(2024, 3, 2), 10, 7)
    assert first is not None and second is not None and set(first) != set(second)


def test_each_cutoff_is_built_from_the_drawn_members_lines_only() -> None:
    """The builder never sees a member outside the cut-off's draw: sampling after building every
    member's examples is what cost a 100 M-line run 36 minutes and its memory."""
    lines, seen = hand_built(), []

    def spy(transactions: pd.DataFrame, cutoffs: object, horizon_days: int) -> pd.DataFrame:
        seen.append(set(transactions["member_id"]))
        return pd.DataFrame({"member_id": sorted(seen[-1]), CUTOFF_COLUMN: pd.Timestamp("2024-03-01")})

    examples, history = sampled_training_data(spy, lines, [date(2024, 3, 1), date(2024, 3, 2)], 30, 10, 7, False)
    drawn = [drawn_members(lines, day, 10, 7) for day in (date(2024, 3, 1), date(2024, 3, 2))]
    assert seen == [set(d) for d in drawn if d is not None] and len(seen) == 2 and history is None
    assert len(examples) == 20


@pytest.mark.slow
def test_sampled_examples_are_the_full_builds_rows_but_for_bgnbd(synthetic: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    transactions = synthetic[0]
    full = build_examples(transactions, CUTOFFS, HORIZON)
    sampled, history = sampled_training_data(build_examples, transactions, CUTOFFS, HORIZON, 150, 7, True)
    assert sampled.groupby(CUTOFF_COLUMN).size().tolist() == [150, 150, 150]
    assert full.groupby(CUTOFF_COLUMN).size().min() > 150  # the sample is a real subset at every cut-off
    for cutoff, rows in full.groupby(CUTOFF_COLUMN):  # the same members the full build's rows would have kept
        positions = sample_positions(len(rows), 150, [7, pd.Timestamp(cutoff).toordinal()])
        kept = sampled.loc[sampled[CUTOFF_COLUMN] == cutoff, "member_id"]
        assert list(kept) == list(rows["member_id"].iloc[positions])
    assert list(sampled.columns) == list(full.columns)
    expected = full.merge(sampled[KEYS], on=KEYS, how="inner").sort_values(KEYS, ignore_index=True)
    actual = sampled.sort_values(KEYS, ignore_index=True)
    bgnbd = [c for c in feature_names(True) if c not in feature_names(True, lifetime=False)]
    assert bgnbd and set(bgnbd) <= set(full.columns)
    pd.testing.assert_frame_equal(actual.drop(columns=bgnbd), expected.drop(columns=bgnbd), check_dtype=False)
    for column in bgnbd:  # four population parameters fitted on 150 members instead of ~600: close
        both = actual[column].notna() & expected[column].notna()
        assert both.mean() > 0.9
        assert np.corrcoef(actual.loc[both, column], expected.loc[both, column])[0, 1] > 0.95, column
    full_history = build_category_history(transactions, CUTOFFS, HORIZON)
    assert history is not None
    pd.testing.assert_frame_equal(history.reset_index(drop=True),
                                  full_history.merge(sampled[KEYS], on=KEYS, how="inner"), check_dtype=False)


@pytest.mark.slow
def test_prepare_data_samples_training_cutoffs_but_never_evaluation(synthetic: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    config = TrainConfig(horizon_days=HORIZON, n_train_cutoffs=3)
    whole = prepare_data(synthetic[0], config)
    sampled = prepare_data(synthetic[0], config.model_copy(update={"max_members_per_cutoff": 120}))
    assert (sampled.train.groupby(CUTOFF_COLUMN).size() == 120).all()
    assert (whole.train.groupby(CUTOFF_COLUMN).size() > 120).all()
    pd.testing.assert_frame_equal(sampled.evaluation, whole.evaluation)
    assert sampled.feature_names == whole.feature_names
    assert whole.category_history is not None and sampled.category_history is not None
    evaluation = pd.Timestamp(whole.plan.evaluation)
    pd.testing.assert_frame_equal(  # the evaluation cut-off's category history is every member's
        sampled.category_history[sampled.category_history[CUTOFF_COLUMN] == evaluation].reset_index(drop=True),
        whole.category_history[whole.category_history[CUTOFF_COLUMN] == evaluation].reset_index(drop=True))
    assert set(sampled.category_history[CUTOFF_COLUMN]) == set(whole.category_history[CUTOFF_COLUMN])


def test_a_sample_below_a_hundred_members_is_refused() -> None:
    with pytest.raises(ValueError, match="max_members_per_cutoff"):
        TrainConfig(max_members_per_cutoff=50)
