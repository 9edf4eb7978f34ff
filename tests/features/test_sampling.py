"""The one seeded draw behind every member sample (lifetime fits, serving rules, training cut-offs)."""

from __future__ import annotations

import numpy as np

from features.sampling import sample_positions


def test_a_draw_is_sorted_distinct_within_range_and_repeats_for_its_seed() -> None:
    drawn = sample_positions(1_000, 100, seed=3)
    assert drawn is not None and len(drawn) == 100 == len(np.unique(drawn))
    assert (np.diff(drawn) > 0).all() and drawn.min() >= 0 and drawn.max() < 1_000
    np.testing.assert_array_equal(sample_positions(1_000, 100, seed=3), drawn)
    assert not np.array_equal(sample_positions(1_000, 100, seed=4), drawn)
    assert not np.array_equal(sample_positions(1_000, 100, seed=[3, 1]), drawn)  # a seed sequence is another seed


def test_it_is_numpys_draw_without_replacement_so_earlier_samples_keep_their_members() -> None:
    expected = np.sort(np.random.default_rng([7, 738_000]).choice(500, size=20, replace=False))
    np.testing.assert_array_equal(sample_positions(500, 20, seed=[7, 738_000]), expected)


def test_every_row_is_kept_without_a_limit_or_when_there_are_no_more_rows_than_it() -> None:
    assert sample_positions(10, None, seed=0) is None
    assert sample_positions(10, 10, seed=0) is None
    assert sample_positions(0, 5, seed=0) is None
