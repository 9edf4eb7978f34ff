"""features.spreadsheet: no text cell of a written CSV can start a formula; numbers stay numbers."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.spreadsheet import FORMULA_STARTS, csv_text, neutralise_formulas, write_csv_safely

HOSTILE = ['=HYPERLINK("http://x"&A1,"y")', "+1", "-2+3", "@SUM(A1)", "\tx", "\rx"]
HARMLESS = ["007", "a-b", "x=1", " =not first", "", "café"]


def test_each_formula_start_gets_one_apostrophe_and_nothing_else_changes() -> None:
    frame = pd.DataFrame({"member_id": [*HOSTILE, *HARMLESS]})
    safe = neutralise_formulas(frame)

    assert safe["member_id"].tolist() == [*("'" + text for text in HOSTILE), *HARMLESS]
    assert frame["member_id"].tolist() == [*HOSTILE, *HARMLESS]  # the input is not changed
    assert set(FORMULA_STARTS) == {"=", "+", "-", "@", "\t", "\r"}


def test_numbers_dates_and_missing_values_are_left_alone() -> None:
    frame = pd.DataFrame({
        "amount": [-3.5, 2.0, np.nan],
        "count": pd.array([-1, 0, None], dtype="Int64"),
        "flag": [True, False, True],
        "day": [date(2024, 7, 1)] * 3,
        "when": pd.to_datetime(["2024-07-01", "2024-07-02", None]),
        "mixed": [-1.5, "-1.5", None],  # object column: only the text is text
        "segment": pd.Series(["-lost", None, "ok"], dtype="string"),
        "tier": pd.Series(["=gold", "gold", "=gold"], dtype="category"),
    })
    safe = neutralise_formulas(frame)

    for name in ("amount", "count", "flag", "day", "when"):
        pd.testing.assert_series_equal(safe[name], frame[name])
    assert safe["mixed"].tolist()[:2] == [-1.5, "'-1.5"] and safe["mixed"].isna().tolist()[2]
    assert safe["segment"].tolist()[::2] == ["'-lost", "ok"] and pd.isna(safe["segment"].iloc[1])
    assert safe["tier"].tolist() == ["'=gold", "gold", "'=gold"]


def test_column_names_are_cells_too() -> None:
    assert list(neutralise_formulas(pd.DataFrame({"=cmd": [1], "ok": [2]})).columns) == ["'=cmd", "ok"]


def test_written_file_reads_back_with_every_text_cell_safe_and_numbers_as_numbers(tmp_path: Path) -> None:
    frame = pd.DataFrame({"member_id": [*HOSTILE, *HARMLESS], "value": np.arange(12) - 5.25})
    write_csv_safely(frame, tmp_path / "out.csv")
    data = (tmp_path / "out.csv").read_bytes()

    assert data.count(b"\r\n") == 13  # CRLF rows; the CR inside "\rx" is quoted, not a row end
    rows = list(csv.reader(io.StringIO(data.decode(), newline="")))
    assert len(rows) == 13
    assert not [cell for row in rows for cell in row if cell.startswith(FORMULA_STARTS) and not _is_number(cell)]
    back = pd.read_csv(tmp_path / "out.csv", dtype={"member_id": str}, keep_default_na=False)
    assert back["member_id"].str.removeprefix("'").tolist() == frame["member_id"].tolist()
    assert back["value"].tolist() == frame["value"].tolist()  # -5.25 stays the number -5.25
    assert csv_text(frame) == data.decode()


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("start", FORMULA_STARTS)
def test_the_rule_matches_the_marketers_page(start: str) -> None:
    """The page's download escapes strings matching /^[=+\\-@\\t\\r]/ (serving/static/marketer.html)."""
    page = (Path(__file__).resolve().parents[2] / "serving" / "static" / "marketer.html").read_text()
    assert r"/^[=+\-@\t\r]/.test(text)) text = `'${text}`" in page
    assert neutralise_formulas(pd.DataFrame({"x": [f"{start}y"]}))["x"].iloc[0] == f"'{start}y"
