"""Read a CSV file into text cells, one row per record, without losing a line to a parse error.

pandas' CSV parser either stops at the first broken line or (with ``on_bad_lines``) drops it
without saying where; a short line quietly becomes missing values. Here every record after
the header is a row: one that cannot be read as the header's columns keeps its position,
gets empty cells, and carries its reason and its text so the loader can reject and write it.
Every row also knows the lines it came from, so any rejected row can name its line number and
text as an editor shows them (``CsvTable.line_numbers``, ``CsvTable.raw_lines``).
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd

from features.delimiter import Delimiter, choose_delimiter

MALFORMED_LINE: Final = "malformed line"
UNDECODABLE_TEXT: Final = "undecodable text"

# checked longest first: the UTF-32 LE mark begins with the UTF-16 LE one
_BYTE_ORDER_MARKS: Final = (
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)
# bytes the declared encoding cannot decode become lone surrogates (errors="surrogateescape")
_UNDECODED: Final = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class CsvTable:
    """The records of a CSV file as text.

    ``frame`` has one row per record in file order (blank lines are not records), cells as
    read (``""`` for an empty cell). ``unreadable`` is indexed by the positions of records that
    could not be read as the header's columns, with columns ``reason`` and ``text`` (the line
    as read, undecodable bytes written as ``\\xNN``); their cells in ``frame`` are None.
    ``delimiter`` is the separator used and where it came from.

    Line numbers are physical lines, 1-based, as an editor counts them: the header is line 1
    when nothing precedes it, blank lines count, and a record whose quoted cell spans several
    lines is numbered by its first line (its raw text holds all of them). The decoded text is
    kept (one string, cheaper than a list of lines) so that rejected rows can quote it.
    """

    frame: pd.DataFrame
    unreadable: pd.DataFrame
    delimiter: Delimiter
    text: str
    line_offsets: np.ndarray  # where each physical line starts in ``text``, plus its end
    first_lines: np.ndarray  # per row: its first physical line, 0-based
    end_lines: np.ndarray  # per row: the line after its last (a malformed record: its first only)

    def line_numbers(self, positions: np.ndarray) -> np.ndarray:
        """The 1-based line number of each row at ``positions`` (0-based rows after the header)."""
        return self.first_lines[positions] + 1

    def raw_lines(self, positions: np.ndarray) -> list[str]:
        """Each row's text as read, without its final line end (undecodable bytes as ``\\xNN``)."""
        starts = self.line_offsets[self.first_lines[positions]]
        ends = self.line_offsets[self.end_lines[positions]]
        return [_as_text([self.text[start:end]]) for start, end in zip(starts.tolist(), ends.tolist())]


class _Records:
    """The csv records of some lines with the span of lines each came from; can resume anywhere."""

    def __init__(self, lines: list[str], delimiter: str = ",") -> None:
        self.lines = lines
        self.delimiter = delimiter
        self.resume_at(0)

    def resume_at(self, line: int) -> None:
        """Go on reading at ``line``, whatever the current record was."""
        self.offset = line
        remaining = map(self.lines.__getitem__, range(line, len(self.lines)))
        self.reader = csv.reader(remaining, strict=True, delimiter=self.delimiter)

    def __iter__(self) -> Iterator[tuple[int, int, list[str] | None]]:
        """(first line, line after the last, fields) per non-blank record; fields None if broken."""
        while True:
            start = self.offset + self.reader.line_num
            try:
                fields = next(self.reader)
            except StopIteration:
                return
            except csv.Error:  # a quote never closed, or text after a closing quote
                yield start, self.offset + self.reader.line_num, None
                continue
            if fields:
                yield start, self.offset + self.reader.line_num, fields


def read_csv_table(path: Path, encoding: str = "utf-8", delimiter: str | None = None) -> CsvTable:
    """Read ``path``: the first non-blank record is the header, every later one is a row.

    Cells are separated by ``delimiter``; without one it is detected from the first lines
    (``features.delimiter``; an ambiguous file is refused, naming the ``delimiter`` option).

    A record whose field count differs from the header's, or whose quoting is broken (a quote
    never closed, text after a closing quote), is ``malformed line``; when such a record ran
    over several lines (an unbalanced quote swallows the lines after it), only its first line
    is rejected and reading resumes on the next, so one stray quote costs one line, not the
    rest of the file. A record holding bytes that are not valid ``encoding`` is ``undecodable
    text``. Raises ValueError for a file that has no header or whose header is unreadable.
    """
    text, lines, undecoded = _decoded_lines(path, encoding)
    chosen = choose_delimiter(lines, delimiter, str(path))
    records = _Records(lines, chosen.character)
    header = _read_header(records, path, encoding, undecoded)
    width = len(header)
    rows: list[list[str] | list[None]] = []
    spans: list[tuple[int, int]] = []
    unreadable: dict[int, tuple[str, str]] = {}
    for start, end, fields in records:
        if fields is not None and len(fields) == width:
            if not (undecoded and _any_between(undecoded, start, end)):
                rows.append(fields)
                spans.append((start, end))
                continue
            unreadable[len(rows)] = (UNDECODABLE_TEXT, _as_text(lines[start:end]))
        else:
            if end > start + 1:
                records.resume_at(start + 1)
            end = start + 1
            unreadable[len(rows)] = (MALFORMED_LINE, _as_text(lines[start:end]))
        rows.append([None] * width)
        spans.append((start, end))
    frame = pd.DataFrame(rows, columns=header, dtype=object)
    table = pd.DataFrame.from_dict(unreadable, orient="index", columns=["reason", "text"])
    bounds = np.array(spans, dtype=np.int64).reshape(-1, 2)
    offsets = np.concatenate([[0], np.cumsum([len(line) for line in lines], dtype=np.int64)])
    return CsvTable(frame, table, chosen, text, offsets, bounds[:, 0].copy(), bounds[:, 1].copy())


def _decode(data: bytes, encoding: str) -> str:
    """Text of the file; a byte-order mark names its own encoding and is not part of the text."""
    for mark, marked_encoding in _BYTE_ORDER_MARKS:
        if data.startswith(mark):
            return data[len(mark) :].decode(marked_encoding, errors="surrogateescape")
    # a codec such as "utf-16" reads its own mark; "utf-8" would keep it as U+FEFF
    return data.decode(encoding, errors="surrogateescape").removeprefix("\ufeff")


def _read_header(records: _Records, path: Path, encoding: str, undecoded: list[int]) -> list[str]:
    """The column names of the first non-blank record, made unique the way pandas does."""
    for start, end, fields in records:
        if fields is None:
            raise ValueError(f"{path}: header line {start + 1} has broken quoting")
        if _any_between(undecoded, start, end):
            raise ValueError(
                f"{path}: header line is not valid {encoding} text; set `encoding` in the mapping"
            )
        if any("\x00" in name for name in fields):
            raise ValueError(
                f"{path}: header line holds NUL characters, as UTF-16 text without a byte-order "
                "mark does; set `encoding` (e.g. utf-16-le) in the mapping"
            )
        return _unique_names(fields)
    raise ValueError(f"{path}: empty file, no header line")


def _unique_names(names: list[str]) -> list[str]:
    """Empty names become ``Unnamed: i`` and repeats ``name.1``, ``name.2`` (as pandas reads them)."""
    unique: list[str] = []
    seen: set[str] = set()
    for position, name in enumerate(names):
        base = name or f"Unnamed: {position}"
        candidate, copy = base, 0
        while candidate in seen:
            copy += 1
            candidate = f"{base}.{copy}"
        unique.append(candidate)
        seen.add(candidate)
    return unique


def _decoded_lines(path: Path, encoding: str) -> tuple[str, list[str], list[int]]:
    """The text, its physical lines (line ends kept, as csv wants them) and, in order, the
    numbers of those holding bytes that ``encoding`` could not decode.

    A line ends at LF, CRLF or a lone CR, as in most editors.
    """
    text = _decode(path.read_bytes(), encoding)
    lines = list(io.StringIO(text, newline=""))
    if not _UNDECODED.search(text):  # one pass over the text instead of one per line
        return text, lines, []
    return text, lines, [number for number, line in enumerate(lines) if _UNDECODED.search(line)]


def _any_between(sorted_numbers: list[int], start: int, end: int) -> bool:
    """Whether any number lies in ``[start, end)``."""
    index = bisect_left(sorted_numbers, start)
    return index < len(sorted_numbers) and sorted_numbers[index] < end


def _as_text(lines: list[str]) -> str:
    """Lines as one string for the rejects file: no final line end, undecodable bytes as ``\\xNN``."""
    text = "".join(lines).removesuffix("\n").removesuffix("\r")
    return _UNDECODED.sub(_escape_undecoded, text)


def _escape_undecoded(match: re.Match[str]) -> str:
    """``\\xNN`` for a byte kept by surrogateescape, ``\\uNNNN`` for any other lone surrogate."""
    code = ord(match.group())
    return f"\\x{code - 0xDC00:02x}" if 0xDC80 <= code <= 0xDCFF else f"\\u{code:04x}"
