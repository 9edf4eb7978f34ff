"""training.member_sample: at most N members per training cut-off, seeded, rows unchanged, evaluation whole.

Pinned: each cut-off keeps min(N, its members) rows in their original order; a cut-off's draw
depends only on the seed and its date; every sampled row equals the full build's row for that
member and cut-off (sampling selects, never alters, so point-in-time holds as in build_examples);
``prepare_data`` samples the training cut-offs and never the evaluation cut-off.
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from training.config import TrainConfig
from training.examples import CUTOFF_COLUMN, build_examples
from training.member_sample import sample_members, sampling_builder
from training.pipeline import prepare_data

CUTOFFS = (date(2023, 9, 1), date(2023, 11, 3), date(2024, 1, 5))
HORIZON = 60


def hand_built() -> pd.DataFrame:
    """Cut-offs with 5, 12 and 20 members; ``value`` numbers the rows so order can be checked."""
    sizes = {pd.Timestamp("2024-01-01"): 5, pd.Timestamp("2024-02-01"): 12, pd.Timestamp("2024-03-01"): 20}
    rows = [(f"m{i}", cutoff) for cutoff, size in sizes.items() for i in range(size)]
    frame = pd.DataFrame(rows, columns=["member_id", CUTOFF_COLUMN])
    frame["value"] = range(len(frame))
    return frame


def test_each_cutoff_keeps_at_most_n_rows_in_their_order() -> None:
    sampled = sample_members(hand_built(), max_members=10, seed=7)
    assert sampled.groupby(CUTOFF_COLUMN).size().tolist() == [5, 10, 10]
    assert sampled["value"].is_monotonic_increasing
    assert sampled.duplicated(["member_id", CUTOFF_COLUMN]).sum() == 0


def test_a_cutoffs_draw_depends_only_on_the_seed_and_its_date() -> None:
    frame = hand_built()
    last = frame[CUTOFF_COLUMN] == frame[CUTOFF_COLUMN].max()
    together = sample_members(frame, 10, seed=7)
    alone = sample_members(frame[last], 10, seed=7)
    pd.testing.assert_frame_equal(together[together[CUTOFF_COLUMN] == frame[CUTOFF_COLUMN].max()], alone)
    pd.testing.assert_frame_equal(sample_members(frame, 10, seed=7), together)
    assert not sample_members(frame, 10, seed=8)["value"].equals(together["value"])


@pytest.mark.slow
def test_sampled_rows_equal_the_full_builds_rows(synthetic: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    transactions = synthetic[0]
    full = build_examples(transactions, CUTOFFS, HORIZON)
    sampled = sampling_builder(build_examples, 150, seed=7)(transactions, CUTOFFS, HORIZON)
    assert sampled.groupby(CUTOFF_COLUMN).size().tolist() == [150, 150, 150]
    assert full.groupby(CUTOFF_COLUMN).size().min() > 150  # the sample is a real subset at every cut-off
    assert list(sampled.columns) == list(full.columns)
    keys = ["member_id", CUTOFF_COLUMN]
    expected = full.merge(sampled[keys], on=keys, how="inner")
    pd.testing.assert_frame_equal(sampled.sort_values(keys, ignore_index=True), expected.sort_values(keys, ignore_index=True),
                                  check_dtype=False)


@pytest.mark.slow
def test_prepare_data_samples_training_cutoffs_but_never_evaluation(synthetic: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    config = TrainConfig(horizon_days=HORIZON, n_train_cutoffs=3)
    whole = prepare_data(synthetic[0], config)
    sampled = prepare_data(synthetic[0], config.model_copy(update={"max_members_per_cutoff": 120}))
    assert (sampled.train.groupby(CUTOFF_COLUMN).size() == 120).all()
    assert (whole.train.groupby(CUTOFF_COLUMN).size() > 120).all()
    pd.testing.assert_frame_equal(sampled.evaluation, whole.evaluation)
    assert sampled.feature_names == whole.feature_names


def test_a_sample_below_a_hundred_members_is_refused() -> None:
    with pytest.raises(ValueError, match="max_members_per_cutoff"):
        TrainConfig(max_members_per_cutoff=50)


def test_cutoffs_of_the_same_members_draw_different_samples() -> None:
    """Each draw is seeded by the cut-off's date too: equal cut-offs must not keep the same positions."""
    members = [f"m{i}" for i in range(40)]
    frame = pd.DataFrame({"member_id": members * 2,
                          CUTOFF_COLUMN: [pd.Timestamp("2024-01-01")] * 40 + [pd.Timestamp("2024-02-01")] * 40})
    sampled = sample_members(frame, 10, seed=7)
    first, second = (set(rows["member_id"]) for _, rows in sampled.groupby(CUTOFF_COLUMN))
    assert len(first) == len(second) == 10 and first != second
