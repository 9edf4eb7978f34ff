"""features.repeated_rows: the loader's duplicate check, a row hash then an exact comparison.

Two implementations of one answer: pandas' ``DataFrame.duplicated`` (every cell of every row) and
the hash-first check. They must agree on any table, including ones where every row's hash collides.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import features.repeated_rows as repeated
from features.repeated_rows import repeated_rows, rows_sharing_a_hash

TEXT = st.one_of(st.none(), st.sampled_from(["", " a", "a", "b", "007", "7", '"q"', "日本"]))
NUMBER = st.one_of(st.just(float("nan")), st.sampled_from([0.0, -0.0, 1.0, 1.5, 1e300]))


def _table(rows: list[tuple[str | None, str | None, float]]) -> pd.DataFrame:
    return pd.DataFrame({
        "member": pd.array([r[0] for r in rows], dtype="string"),
        'a "quoted" name': pd.array([r[1] for r in rows], dtype="string"),
        "amount": np.array([r[2] for r in rows], dtype="float64"),
    })


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(TEXT, TEXT, NUMBER), max_size=40))
def test_agrees_with_pandas_on_any_table(rows: list[tuple[str | None, str | None, float]]) -> None:
    """Missing equals missing, NaN equals NaN, "007" is not "7", a quoted column name is a name."""
    table = _table(rows)
    np.testing.assert_array_equal(repeated_rows(table), table.duplicated(keep="first").to_numpy(bool))


def test_candidates_are_every_repeat_and_its_first_copy() -> None:
    table = _table([("a", "x", 1.0), ("b", None, 2.0), ("a", "x", 1.0), ("b", None, 2.0), ("b", None, 3.0),
                    ("a", "x", 1.0)])
    assert list(rows_sharing_a_hash(table)) == [0, 1, 2, 3, 5]
    assert list(repeated_rows(table)) == [False, False, True, True, False, True]


def test_a_hash_collision_never_rejects_a_row(monkeypatch: pytest.MonkeyPatch) -> None:
    """With every row a candidate (as if every hash collided), only rows equal cell by cell repeat."""
    table = _table([("a", "x", 1.0), ("a", "x", 2.0), ("a", "y", 1.0), ("a", "x", 1.0)])
    monkeypatch.setattr(repeated, "rows_sharing_a_hash", lambda raw: np.arange(len(raw)))
    assert list(repeated.repeated_rows(table)) == [False, False, False, True]


def test_cells_arrow_cannot_type_are_compared_as_text() -> None:
    """Mixed Python objects in one column: every row is a candidate, the text decides."""
    table = pd.DataFrame({"member": ["a", "a", "a", "b"], "cell": [[1, 2], [1, 2], {"k": 1}, [1, 2]]})
    assert list(rows_sharing_a_hash(table)) == [0, 1, 2, 3]
    assert list(repeated_rows(table)) == [False, True, False, False]


def test_an_empty_table_has_no_repeats() -> None:
    assert repeated_rows(_table([])).shape == (0,)


def test_zero_signs_and_nan_payloads_are_one_value_as_in_pandas() -> None:
    table = pd.DataFrame({"amount": [0.0, -0.0, np.nan, -np.nan, float("inf") * 0]})
    assert list(repeated_rows(table)) == list(table.duplicated(keep="first")) == [False, True, False, True, True]
