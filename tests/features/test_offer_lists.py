"""Offers as JSON arrays (issue 15): any category name round-trips through a frame cell and a CSV file."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest

from features.offer_lists import NO_OFFERS, decode_offers, encode_offers, encode_ranked
from features.spreadsheet import write_csv_safely

NAMES = ["Dairy | Eggs", "Wine, red", 'The "best"', "Tea; green", "line\nbreak", "=SUM(A1)", "饮料", "back\\slash", ""]


def test_encode_ranked_lists_the_listed_prefix_of_each_row() -> None:
    vocabulary = ["a|b", "c", "饮料", "x"]
    order = np.array([[0, 1], [2, 3], [3, 1]])
    listed = np.array([[True, True], [True, False], [False, False]])
    assert encode_ranked(vocabulary, order, listed) == ['["a|b","c"]', '["饮料"]', NO_OFFERS]
    assert encode_ranked(vocabulary, np.empty((0, 3), dtype=int), np.empty((0, 3), dtype=bool)) == []


@pytest.mark.parametrize("name", NAMES)
def test_any_name_round_trips(name: str) -> None:
    cell = encode_offers([name, "plain"])
    assert decode_offers(cell) == [name, "plain"]
    ranked = encode_ranked([name, "plain"], np.array([[0, 1]]), np.array([[True, True]]))
    assert ranked == [cell]


@pytest.mark.parametrize(("cell", "names"), [("", []), (None, []), (np.nan, []), ("[]", []), ("a|b", ["a", "b"]),
                                             (["x"], ["x"])])
def test_empty_cells_lists_and_old_pipe_joined_snapshots_decode(cell: object, names: list[str]) -> None:
    assert decode_offers(cell) == names


def test_list_cells_are_one_quoted_json_array_in_a_csv_file_and_formulas_stay_neutral() -> None:
    frame = pd.DataFrame({"member_id": ["=1", "2"], "upsell_categories": [NAMES, []], "offer": ["=SUM(A1)", "ok"]})
    buffer = io.StringIO()
    write_csv_safely(frame, buffer)
    back = pd.read_csv(io.StringIO(buffer.getvalue()), dtype=str, keep_default_na=False)
    assert [decode_offers(cell) for cell in back["upsell_categories"]] == [NAMES, []]
    assert list(back["member_id"]) == ["'=1", "2"] and list(back["offer"]) == ["'=SUM(A1)", "ok"]
    assert buffer.getvalue().count("\r\n") == 3, "a newline inside a name never starts a row"
