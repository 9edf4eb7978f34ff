"""features.load on files written the way their country writes them: dates, decimal marks, separators.

One file is read one way: a ts column gets a single day/month order (stated in the mapping or
shown by the data, else refused), amounts use the mapping's marks, cells the detected or stated
delimiter; the load report says which reading was used. Rejects name their line as an editor does.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest

from features.contract import AMOUNT, MEMBER_ID, TS, ColumnMapping, read_mapping
from features.load import NON_NUMERIC_AMOUNT, UNPARSEABLE_TS, LoadReport, clean_transactions, load_transactions

LOADED_AT = datetime(2026, 1, 1)


def load_text(tmp_path: Path, text: str, **mapping: object) -> tuple[pd.DataFrame, LoadReport]:
    source = tmp_path / "tx.csv"
    source.write_text(text, encoding="utf-8")
    return load_transactions(source, ColumnMapping(**mapping), rejects_path=tmp_path / "r.csv", loaded_at=LOADED_AT)


def stamps(clean: pd.DataFrame) -> dict[str, str]:
    return {member: str(ts) for member, ts in zip(clean[MEMBER_ID], clean[TS])}


def read_rejects(report: LoadReport) -> pd.DataFrame:
    return pd.read_csv(report.rejects_path, dtype=str, keep_default_na=False)


# -- dates: one reading per file ------------------------------------------------------------------

def test_the_issue_file_is_read_day_first_because_13_can_only_be_a_day(tmp_path: Path) -> None:
    """The issue's rows: 01/02/2024 was read as 2 January beside 13 February. Now both are February."""
    clean, report = load_text(tmp_path, "member_id,ts,amount\na,01/02/2024,5\nb,13/02/2024,5\n")

    assert stamps(clean) == {"a": "2024-02-01 00:00:00", "b": "2024-02-13 00:00:00"}
    assert report.ts_reading == "day-first (inferred from 13/02/2024)"
    assert report.to_dict()["ts_reading"] == report.ts_reading
    assert "ts read day-first (inferred from 13/02/2024)" in report.summary()


def test_month_first_when_only_the_second_field_passes_12(tmp_path: Path) -> None:
    text = "member_id,ts,amount\na,01/02/2024 10:30,5\nb,02/13/2024,5\nc,12.31.2023,1\n"
    clean, report = load_text(tmp_path, text)

    assert stamps(clean) == {"a": "2024-01-02 10:30:00", "b": "2024-02-13 00:00:00", "c": "2023-12-31 00:00:00"}
    assert report.ts_reading == "month-first (inferred from 02/13/2024)"


def test_iso_and_year_first_dates_need_no_inference(tmp_path: Path) -> None:
    text = "member_id,ts,amount\na,2024-02-01,5\nb,2024-02-13T09:00:00,5\nc,2024/03/04,5\nd,2024/13/04,5\n"
    clean, report = load_text(tmp_path, text)

    assert stamps(clean) == {"a": "2024-02-01 00:00:00", "b": "2024-02-13 09:00:00", "c": "2024-03-04 00:00:00"}
    assert report.rejected_by_reason == {UNPARSEABLE_TS: 1}  # year/13/04: never read as year/day/month
    assert report.ts_reading is not None and "first" not in report.ts_reading


def test_a_file_written_both_ways_is_refused_naming_examples_and_the_options(tmp_path: Path) -> None:
    text = "id,when,amount\na,01/02/2024,5\nb,13/02/2024,5\nc,02/13/2024,5\n"
    with pytest.raises(ValueError) as raised:
        load_text(tmp_path, text, columns={MEMBER_ID: "id", TS: "when"})
    message = str(raised.value)
    assert "\n" not in message
    for needle in ("tx.csv", "'when'", '"13/02/2024"', '"02/13/2024"', "dayfirst", "ts_format"):
        assert needle in message, needle
    assert not (tmp_path / "r.csv").exists()


def test_a_file_of_only_ambiguous_dates_is_refused_not_guessed(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"'ts'.*both day-first and month-first.*\"01/02/2024\".*dayfirst.*ts_format"):
        load_text(tmp_path, "member_id,ts,amount\na,01/02/2024,5\nb,03/04/2024,5\nc,05/05/2024,5\n")


def test_dates_reading_the_same_either_way_need_no_option(tmp_path: Path) -> None:
    clean, report = load_text(tmp_path, "member_id,ts,amount\na,01/01/2024,5\nb,2024-03-04,5\n")

    assert stamps(clean) == {"a": "2024-01-01 00:00:00", "b": "2024-03-04 00:00:00"}


@pytest.mark.parametrize(("dayfirst", "expected"), [(True, "2024-02-01 00:00:00"), (False, "2024-01-02 00:00:00")])
def test_dayfirst_in_the_mapping_decides_and_the_other_order_is_rejected(tmp_path: Path, dayfirst: bool,
                                                                          expected: str) -> None:
    text = "member_id,ts,amount\na,01/02/2024,5\nb,13/02/2024,5\nc,02/13/2024,5\n"
    clean, report = load_text(tmp_path, text, dayfirst=dayfirst)

    assert stamps(clean)["a"] == expected
    assert len(clean) == 2 and report.rejected_by_reason == {UNPARSEABLE_TS: 1}
    assert report.ts_reading == f"{'day' if dayfirst else 'month'}-first (mapping: dayfirst: {str(dayfirst).lower()})"


def test_ts_format_reads_exactly_that_and_rejects_the_rest_with_a_hint(tmp_path: Path) -> None:
    text = "member_id,ts,amount\na,01.02.24 07:05,5\nb,2024-02-13,5\nc,13.02.24 23:59,5\n"
    clean, report = load_text(tmp_path, text, ts_format="%d.%m.%y %H:%M")

    assert stamps(clean) == {"a": "2024-02-01 07:05:00", "c": "2024-02-13 23:59:00"}
    assert report.rejected_by_reason == {UNPARSEABLE_TS: 1}
    assert report.ts_reading == 'ts_format "%d.%m.%y %H:%M" (mapping)'
    assert report.hints == ('ts values like "2024-02-13" do not match ts_format "%d.%m.%y %H:%M"',)
    assert read_rejects(report)["_raw"].tolist() == ["b,2024-02-13,5"]


def test_two_digit_years_are_rejected_with_a_hint_naming_ts_format(tmp_path: Path) -> None:
    clean, report = load_text(tmp_path, "member_id,ts,amount\na,01/02/24,5\nb,2024-02-13,5\n")

    assert clean[MEMBER_ID].tolist() == ["b"] and report.rejected_by_reason == {UNPARSEABLE_TS: 1}
    assert report.hints == ('ts values like "01/02/24" have a two-digit year: set ts_format (e.g. "%d/%m/%y") '
                            "in the mapping",)


def test_ts_format_with_offsets_converts_to_the_mapping_zone(tmp_path: Path) -> None:
    text = "member_id,ts,amount\na,01/07/2024 12:00 +0200,5\nb,01/07/2024 12:00 +0000,5\n"
    clean, _ = load_text(tmp_path, text, ts_format="%d/%m/%Y %H:%M %z", timezone="Europe/London")

    assert stamps(clean) == {"a": "2024-07-01 11:00:00", "b": "2024-07-01 13:00:00"}


def test_mixed_zones_are_still_converted_without_a_format() -> None:
    raw = pd.DataFrame({"member_id": ["a", "b", "c"], "amount": ["1", "1", "1"],
                        "ts": ["13/07/2024 12:00", "2024-07-01T12:00:00+02:00", "2024-01-15T12:00:00Z"]})
    clean, report = clean_transactions(raw, ColumnMapping(timezone="Europe/London"))

    assert stamps(clean) == {"a": "2024-07-13 12:00:00", "b": "2024-07-01 11:00:00", "c": "2024-01-15 12:00:00"}


# -- amounts: the file's decimal and thousands marks ----------------------------------------------

def test_decimal_comma_and_thousands_dot(tmp_path: Path) -> None:
    text = 'member_id;ts;amount\na;2024-07-01;1.234,50\nb;2024-07-01;-12,5\nc;2024-07-01;7\nd;2024-07-01;12.50\ne;2024-07-01;1.23,4\n'
    clean, report = load_text(tmp_path, text, decimal=",", thousands=".")

    assert dict(zip(clean[MEMBER_ID], clean[AMOUNT])) == {"a": 1234.5, "b": -12.5, "c": 7.0}
    # a point where the file groups thousands is not a decimal point, and broken grouping is no number
    assert report.rejected_by_reason == {NON_NUMERIC_AMOUNT: 2}
    assert report.hints == ()


def test_decimal_commas_without_the_option_are_rejected_with_a_hint(tmp_path: Path) -> None:
    text = "member_id;ts;amount\na;2024-07-01;12,50\nb;2024-07-01;1.234,50\nc;2024-07-01;3\n"
    clean, report = load_text(tmp_path, text)

    assert clean[MEMBER_ID].tolist() == ["c"]
    assert report.rejected_by_reason == {NON_NUMERIC_AMOUNT: 2}
    assert report.hints == ('amounts like "1.234,50" look like decimal commas: set decimal: "," and thousands: "." '
                            "in the mapping",)
    assert report.hints[0] in report.summary() and "\n" not in report.summary()


# -- delimiters ---------------------------------------------------------------------------------

@pytest.mark.parametrize(("delimiter", "shown"), [(";", '";"'), ("\t", "tab"), ("|", '"|"'), (",", '","')])
def test_the_delimiter_is_detected_and_reported(tmp_path: Path, delimiter: str, shown: str) -> None:
    rows = [["member_id", "ts", "amount", "note"], ["a", "2024-07-01", "5", "x, y; z"], ["b", "2024-07-02", "6", ""]]
    text = "".join(delimiter.join(f'"{c}"' if "," in c or ";" in c else c for c in row) + "\n" for row in rows)
    clean, report = load_text(tmp_path, text)

    assert clean[MEMBER_ID].tolist() == ["a", "b"] and report.rows_rejected == 0
    assert report.delimiter == f"{shown} (detected)"
    assert f"delimiter {shown} (detected)" in report.summary()


def test_an_ambiguous_delimiter_is_refused_and_the_mapping_settles_it(tmp_path: Path) -> None:
    text = "member_id;ts,amount;note\na;2024-07-01,5;x\n"  # splits into 3 on ";" and 2 on ",", every row alike
    with pytest.raises(ValueError, match=r"tx\.csv: cannot tell the delimiter.*\",\" and \";\".*set `delimiter`"):
        load_text(tmp_path, text)
    with pytest.raises(ValueError, match="'ts' .*not found"):  # the mapping's ";" is used as said
        load_text(tmp_path, text, delimiter=";")
    clean, report = load_text(tmp_path, text, delimiter=";", columns={TS: "ts,amount", AMOUNT: "note"})
    assert report.delimiter == '";" (mapping)' and report.rows_rejected == 1  # "x" is no amount


def test_parquet_has_no_delimiter_and_rejects_name_row_numbers(tmp_path: Path) -> None:
    frame = pd.DataFrame({"member_id": ["a", None, "c\nd"], "ts": pd.to_datetime(["2024-07-01"] * 3),
                          "amount": [1.5, 2.0, float("nan")]})
    frame.to_parquet(tmp_path / "tx.parquet")
    _, report = load_transactions(tmp_path / "tx.parquet", rejects_path=tmp_path / "r.csv", loaded_at=LOADED_AT)

    assert report.delimiter is None and report.ts_reading == "as stored (typed timestamps)"
    rejects = read_rejects(report)
    assert rejects["_line"].tolist() == ["2", "3"]  # 1-based row numbers: Parquet has no lines
    assert rejects["_raw"].tolist() == [",2024-07-01 00:00:00,2.0", '"c\nd",2024-07-01 00:00:00,']


# -- the mapping ----------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "message"), [
    ('ts_format: "%d/%m/%Y"\ndayfirst: true\n', "ts_format and dayfirst: set one, not both"),
    ('decimal: ","\nthousands: ","\n', "decimal and thousands are both ','"),
    ('decimal: ";"\n', "decimal"),
    ('delimiter: ";;"\n', "delimiter"),
    ('ts_format: "dd/mm/yyyy"\n', "ts_format: expected a strptime format"),
    ("thousands: x\n", "thousands"),
])
def test_contradictory_reading_options_are_refused(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "m.yaml").write_text(text)
    with pytest.raises(ValueError, match=re.escape(message)):
        read_mapping(tmp_path / "m.yaml")


def test_reading_options_parse_from_yaml(tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text('delimiter: "\\t"\ndayfirst: true\ndecimal: ","\nthousands: "."\n')
    mapping = read_mapping(tmp_path / "m.yaml")

    assert (mapping.delimiter, mapping.dayfirst, mapping.decimal, mapping.thousands) == ("\t", True, ",", ".")
