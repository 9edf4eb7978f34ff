"""features.load on hostile CSV files: every record is kept or rejected with its own reason.

Hypothesis writes whole files line by line, each line of a known kind with a known fate: good
rows, missing ids, unreadable, future or zone-mixed times, absurd amounts, duplicates, lines
with the wrong field count or an unbalanced quote, bytes that are not UTF-8, BOMs and UTF-16.
The expected reason of every record follows from how it was written (the first failing rule
in the order ``features.load`` documents), so the test checks each record, not only totals.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
import tempfile
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from features.contract import MEMBER_ID, TS, ColumnMapping
from features.load import (
    ABSURD_AMOUNT,
    DUPLICATE_ROW,
    FUTURE_TS,
    MALFORMED_LINE,
    MISSING_MEMBER_ID,
    NON_NUMERIC_AMOUNT,
    UNDECODABLE_TEXT,
    UNPARSEABLE_TS,
    LoadReport,
    load_transactions,
)
from tests.conftest import examples

LOADED_AT = datetime(2026, 1, 1, 12, 0)  # "future ts" means after 2026-01-02 12:00 (UTC)
HEADER = ["member_id", "ts", "amount", "note"]
NOT_UTF8 = b"\xe9\xff"  # never valid UTF-8: marks a cell the file's encoding cannot decode
TEXT = "member_id,ts,amount,category\n007,2024-07-01,5,z\u00fcrich\n008,2024-07-01,6,\u65e5\u672c\n"
PROFILE = settings(
    max_examples=examples(40),
    deadline=None,
    derandomize=True,  # CI runs the same examples every time
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

# (cell, reason the cell alone earns: None when it is good)
GOOD_IDS = st.sampled_from(["007", " 00123 ", "42", "A 7", "0", "x-1", "0042"])
MISSING_IDS = st.sampled_from(["", "   "])
PAST_TS = st.sampled_from(
    [
        "2024-07-01 10:00:00",
        "2024-07-01T10:00:00Z",
        "2024-07-01T10:00:00+05:30",  # mixed zones in one column
        "2025-12-31T23:00:00-05:00",  # 04:00 UTC on the load day: a year later than it reads
        "2026-01-02T06:00:00+05:00",  # 13 hours after the load time: inside the day of slack
        "2019-02-28",
        "2000-01-01T00:00:00.000001",
    ]
)
UNPARSEABLE = st.sampled_from(["garbage", "2024-13-45", "now", "", "12:00"])
FUTURE = st.sampled_from(["2027-01-01", "9999-12-31 23:59:59", "2026-06-01T00:00:00+09:00"])
GOOD_AMOUNTS = st.sampled_from(["12.50", "-3", "0", "1e3", " 7 ", "999999999"])
NON_NUMERIC = st.sampled_from(["abc", "nan", "inf", "-inf", "", "1,5", "NaN"])
ABSURD = st.sampled_from(["1e300", "-1e300", "123456789012345678901234567890", "1000000001"])
NOTES = st.sampled_from(["", "plain", "with, comma", 'say "hi"', "two\nlines", "zürich"])


def cell(good: st.SearchStrategy, *bad: tuple[st.SearchStrategy, str]) -> st.SearchStrategy:
    """A good cell most of the time, else one of the bad kinds with its reason."""
    kinds = [good.map(lambda v: (v, None))] * 3
    kinds += [strategy.map(lambda v, why=why: (v, why)) for strategy, why in bad]
    return st.one_of(kinds)


@dataclass(frozen=True)
class Line:
    """One record as written: its cells, the reason its cells earn, and how the line is broken."""

    fields: tuple[str, str, str, str]
    cell_reason: str | None
    kind: str = "row"  # row | short | long | open_quote | not_utf8

    def text(self) -> str:
        """The line without its end; "\x01" marks where bytes that are not UTF-8 go.

        A broken line is kept on one physical line: when a record over several lines is
        malformed the loader rejects its first line alone and reads on (one stray quote must
        not cost the rest of the file), so a broken two-line record would count as two.
        """
        fields = list(self.fields)
        if self.kind != "row":
            fields = [field.replace("\n", " ") for field in fields]
        if self.kind == "short":
            return _csv_line(fields[:2])
        if self.kind == "long":
            return _csv_line([*fields, "extra"])
        if self.kind == "open_quote":  # a quote opened before the time and never closed;
            # "x" keeps a later quote from reading as `",` (a valid end of a quoted cell)
            return f'{_csv_line(fields[:1])},"x{fields[1]},{fields[2]}'
        if self.kind == "not_utf8":
            return _csv_line([*fields[:3], "caf"]) + "\x01"
        return _csv_line(fields)


def _csv_line(fields: list[str]) -> str:
    buffer = io.StringIO()  # the writer quotes a cell holding a line end only if it knows the end
    csv.writer(buffer, lineterminator="\n").writerow(fields)
    return buffer.getvalue().removesuffix("\n")


ROW = st.builds(
    lambda id_, ts, amount, note: Line(
        (id_[0], ts[0], amount[0], note), next((why for _, why in (id_, ts, amount) if why), None)
    ),
    cell(GOOD_IDS, (MISSING_IDS, MISSING_MEMBER_ID)),
    cell(PAST_TS, (UNPARSEABLE, UNPARSEABLE_TS), (FUTURE, FUTURE_TS)),
    cell(GOOD_AMOUNTS, (NON_NUMERIC, NON_NUMERIC_AMOUNT), (ABSURD, ABSURD_AMOUNT)),
    NOTES,
)
BROKEN = st.builds(
    lambda row, kind: Line(row.fields, row.cell_reason, kind),
    ROW,
    st.sampled_from(["short", "long", "open_quote", "not_utf8"]),
)


@dataclass(frozen=True)
class Encoding:
    """How a file's bytes are written, and what the mapping declares."""

    codec: str
    bom: bytes = b""
    declared: str = "utf-8"


ENCODINGS = [
    Encoding("utf-8"),
    Encoding("utf-8", bom=b"\xef\xbb\xbf"),
    Encoding("utf-16-le", bom=b"\xff\xfe"),
    Encoding("utf-16-be", bom=b"\xfe\xff", declared="latin-1"),  # the mark wins
    Encoding("latin-1", declared="latin-1"),
]


@dataclass(frozen=True)
class HostileCsv:
    lines: list[Line]  # the records, in file order
    encoding: Encoding
    newlines: list[str]  # the end of each written line; "\n\n" leaves a blank line

    def write(self, path: Path) -> Path:
        texts = [_csv_line(HEADER), *(line.text() for line in self.lines)]
        ends = [self.newlines[i % len(self.newlines)] for i in range(len(texts))]
        path.write_bytes(self.encoding.bom + b"".join(self._bytes(t + e) for t, e in zip(texts, ends)))
        return path

    def _bytes(self, text: str) -> bytes:
        head, marker, tail = text.partition("\x01")
        undecodable = NOT_UTF8 if marker else b""
        return head.encode(self.encoding.codec) + undecodable + tail.encode(self.encoding.codec)

    def line_numbers(self) -> list[int]:
        """Each record's first physical line, 1-based (the header is line 1; blank lines and
        line ends inside quoted cells count, as in an editor)."""
        texts = [_csv_line(HEADER), *(line.text() for line in self.lines)]
        numbers, line = [], 1
        for i, text in enumerate(texts):
            numbers.append(line)
            line += len(list(io.StringIO(text + self.newlines[i % len(self.newlines)], newline="")))
        return numbers[1:]

    def expected_reasons(self) -> list[str | None]:
        """Each record's reason, in the documented order; equal earlier rows make duplicates."""
        reasons: list[str | None] = []
        for position, line in enumerate(self.lines):
            if line.kind in ("short", "long", "open_quote"):
                reason = MALFORMED_LINE
            elif line.kind == "not_utf8":
                reason = UNDECODABLE_TEXT
            else:
                seen = line in self.lines[:position]
                reason = line.cell_reason or (DUPLICATE_ROW if seen else None)
            reasons.append(reason)
        return reasons


@st.composite
def hostile_csv(draw: st.DrawFn) -> HostileCsv:
    encoding = draw(st.sampled_from(ENCODINGS))
    broken = BROKEN if encoding.codec == "utf-8" else BROKEN.filter(lambda line: line.kind != "not_utf8")
    records = draw(st.lists(st.one_of(ROW, ROW, broken), max_size=12))
    repeats = draw(st.lists(st.integers(0, 11), max_size=3))  # exact copies of earlier lines
    for index in repeats:
        if index < len(records):
            records.append(records[index])
    newlines = draw(st.lists(st.sampled_from(["\n", "\r\n", "\n\n", "\r\n\r\n"]), min_size=1, max_size=3))
    return HostileCsv(records, encoding, newlines)


@PROFILE
@given(hostile_csv())
@example(HostileCsv([], ENCODINGS[0], ["\n"]))  # header only
@example(  # a stray quote, then good rows the quote must not swallow
    HostileCsv(
        [
            Line(("1", "2024-07-01", "5", ""), None, "open_quote"),
            Line(("2", "2024-07-01", "6", "with, comma"), None),
            Line(("007", "2024-07-02", "7", "two\nlines"), None),
            Line(("007", "2024-07-02", "7", "two\nlines"), None),
        ],
        ENCODINGS[0],
        ["\r\n"],
    )
)
def test_every_record_is_kept_or_rejected_with_its_reason(file: HostileCsv) -> None:
    with tempfile.TemporaryDirectory() as directory:
        source = file.write(Path(directory) / "hostile.csv")
        rejects_path = Path(directory) / "rejects.csv"
        mapping = ColumnMapping(encoding=file.encoding.declared)
        clean, report = load_transactions(source, mapping, rejects_path=rejects_path, loaded_at=LOADED_AT)
        rejects = (_read_rejects(rejects_path) if report.rejects_path
                   else pd.DataFrame(columns=["_line", "_row", "_reason", "_raw"]))

    expected = file.expected_reasons()
    assert report.rows_read == len(file.lines) == report.rows_kept + report.rows_rejected
    assert len(clean) == report.rows_kept
    assert list(zip(rejects["_row"].astype(int), rejects["_reason"])) == [
        (row, reason) for row, reason in enumerate(expected) if reason
    ]
    assert report.rejected_by_reason == {
        reason: count for reason, count in rejects["_reason"].value_counts().items()
    }
    lines = file.line_numbers()
    assert rejects["_line"].astype(int).tolist() == [lines[row] for row, reason in enumerate(expected) if reason]
    rejected_lines = [line for line, reason in zip(file.lines, expected) if reason]
    assert [raw for raw, line in zip(rejects["_raw"], rejected_lines) if line.kind in ("row", "short", "long")] == [
        line.text() for line in rejected_lines if line.kind in ("row", "short", "long")
    ]  # every reject keeps its text as written, a two-line record both lines
    kept = [line.fields[0].strip() for line, reason in zip(file.lines, expected) if not reason]
    assert sorted(clean[MEMBER_ID]) == sorted(kept)  # "007" stays "007", " 00123 " is "00123"


def _read_rejects(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


# -- the same hostile cases one at a time, with what the rejects file says -----------------------


def load_bytes(data: bytes, tmp_path: Path, **mapping: object) -> tuple[pd.DataFrame, LoadReport, pd.DataFrame]:
    source = tmp_path / "t.csv"
    source.write_bytes(data)
    clean, report = load_transactions(
        source, ColumnMapping(**mapping), rejects_path=tmp_path / "r.csv", loaded_at=LOADED_AT
    )
    rejects = _read_rejects(tmp_path / "r.csv") if report.rejects_path else pd.DataFrame()
    return clean, report, rejects


def test_broken_lines_are_rejected_with_their_text_and_the_rest_is_read(tmp_path: Path) -> None:
    data = (
        b"member_id,ts,amount\n"
        b"1,2024-07-01,5\n"
        b"2,2024-07-01\n"  # a field short
        b"3,2024-07-01,5,extra\n"  # a field too many
        b'4,"2024-07-01,5\n'  # a quote never closed: it must not swallow the lines after it
        b"5,2024-07-01,5\n"
        b'6,"2024-07-01"x,5\n'  # text after a closing quote
        b"\n"  # a blank line is not a record
        b'7,"2024-07-01\n12:00",5\n'  # a quoted cell over two lines is one record
        b"8,2024-07-01,1e300\n"
    )
    clean, report, rejects = load_bytes(data, tmp_path)

    assert clean[MEMBER_ID].tolist() == ["1", "5", "7"]
    assert clean[TS].tolist() == [pd.Timestamp("2024-07-01"), pd.Timestamp("2024-07-01"), pd.Timestamp("2024-07-01 12:00")]
    assert report.rows_read == 8
    assert report.rejected_by_reason == {MALFORMED_LINE: 4, ABSURD_AMOUNT: 1}
    assert rejects["_row"].tolist() == ["1", "2", "3", "5", "7"]
    # physical lines as an editor numbers them: header 1, the blank line and the two-line record count
    assert rejects["_line"].tolist() == ["3", "4", "5", "7", "11"]
    assert rejects["_raw"].tolist() == [
        "2,2024-07-01", "3,2024-07-01,5,extra", '4,"2024-07-01,5', '6,"2024-07-01"x,5', "8,2024-07-01,1e300"
    ]
    assert rejects.loc[4, "amount"] == "1e300"  # a readable row keeps its cells, as read
    assert rejects.loc[0, "member_id"] == ""  # an unreadable line has no cells, only its text


def test_bytes_that_are_not_the_declared_encoding_are_rejected_not_guessed(tmp_path: Path) -> None:
    data = "member_id,ts,amount,category\n1,2024-07-01,5,caf\u00e9\n2,2024-07-01,5,tea\n".encode("latin-1")
    clean, report, rejects = load_bytes(data, tmp_path)

    assert clean[MEMBER_ID].tolist() == ["2"]
    assert report.rejected_by_reason == {UNDECODABLE_TEXT: 1}
    assert rejects["_raw"].tolist() == ["1,2024-07-01,5,caf\\xe9"]

    clean, report, _ = load_bytes(data, tmp_path, encoding="latin-1")
    assert clean["category"].tolist() == ["caf\u00e9", "tea"] and report.rows_rejected == 0


@pytest.mark.parametrize(
    "data",
    [
        codecs.BOM_UTF8 + TEXT.encode("utf-8"),
        codecs.BOM_UTF16_LE + TEXT.encode("utf-16-le"),
        codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be"),
        TEXT.encode("utf-32"),  # Python writes the mark
        TEXT.encode("utf-8").replace(b"\n", b"\r\n"),
    ],
    ids=["utf-8-bom", "utf-16-le-bom", "utf-16-be-bom", "utf-32-bom", "crlf"],
)
def test_byte_order_marks_name_the_encoding(data: bytes, tmp_path: Path) -> None:
    clean, report, _ = load_bytes(data, tmp_path)

    assert list(clean.columns) == ["member_id", "ts", "amount", "category"]
    assert clean[MEMBER_ID].tolist() == ["007", "008"] and report.rows_rejected == 0
    assert clean["category"].tolist() == ["z\u00fcrich", "\u65e5\u672c"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty file, no header line"),
        (b"\r\n\n", "empty file, no header line"),
        (codecs.BOM_UTF8, "empty file, no header line"),
        (TEXT.encode("utf-16-le"), "UTF-16 text without a byte-order mark"),
        (b"caf\xe9,ts,amount\n1,2024-07-01,5\n", "header line is not valid utf-8 text"),
        (b'"member_id,ts,amount\n', "header line 1 has broken quoting"),
    ],
)
def test_a_file_without_a_readable_header_is_refused(data: bytes, message: str, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=re.escape(message)) as raised:
        load_bytes(data, tmp_path)
    assert str(raised.value).startswith(str(tmp_path / "t.csv"))


def test_a_header_only_file_reads_no_rows(tmp_path: Path) -> None:
    clean, report, _ = load_bytes(b"member_id,ts,amount\n", tmp_path)

    assert clean.empty and list(clean.columns) == ["member_id", "ts", "amount"]
    assert (report.rows_read, report.rows_kept, report.rows_rejected) == (0, 0, 0)


def test_unnamed_and_repeated_header_cells_are_named_as_pandas_names_them(tmp_path: Path) -> None:
    data = b"member_id,ts,amount,,note,note\n1,2024-07-01,x,a,b,c\n"
    _, _, rejects = load_bytes(data, tmp_path)

    assert list(rejects.columns) == [
        "member_id", "ts", "amount", "Unnamed: 3", "note", "note.1", "_line", "_row", "_reason", "_raw"
    ]
