"""Why a row is rejected, and where rejected rows go: the loader's reasons in one place.

The reasons and their order are documented in ``features.load``; a row gets the first that applies.
A rejects file holds each rejected row's cells as read, then ``_line`` (where it is in the file),
``_row`` (0-based position after the header, as before), ``_reason`` and ``_raw`` (its text).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, Final, Protocol

import numpy as np
import pandas as pd

from features.contract import AMOUNT, MEMBER_ID, TS, ColumnMapping
from features.csv_source import MALFORMED_LINE, UNDECODABLE_TEXT
from features.data_key import DataKey
from features.repeated_rows import repeated_rows
from features.sealed import write_private
from features.spreadsheet import csv_text

MISSING_MEMBER_ID: Final = "missing member_id"
UNPARSEABLE_TS: Final = "unparseable ts"
FUTURE_TS: Final = "future ts"
NON_NUMERIC_AMOUNT: Final = "non-numeric amount"
ABSURD_AMOUNT: Final = "absurd amount"
DUPLICATE_ROW: Final = "duplicate row"
# checked in this order: a row gets the first reason that applies
REJECT_REASONS: Final = (
    MALFORMED_LINE,
    UNDECODABLE_TEXT,
    MISSING_MEMBER_ID,
    UNPARSEABLE_TS,
    FUTURE_TS,
    NON_NUMERIC_AMOUNT,
    ABSURD_AMOUNT,
    DUPLICATE_ROW,
)
# slack after the load time: naive times read in the wrong zone, clock skew
FUTURE_SLACK: Final = pd.Timedelta(days=1)
# the columns a rejects file adds to the source's (underscored: a source may have a column "line")
LINE_COLUMN: Final = "_line"
ROW_COLUMN: Final = "_row"
REASON_COLUMN: Final = "_reason"
RAW_COLUMN: Final = "_raw"


class RowOrigin(Protocol):
    """Where rows came from: their line numbers and text in the source (``features.csv_source.CsvTable``)."""

    def line_numbers(self, positions: np.ndarray) -> np.ndarray: ...

    def raw_lines(self, positions: np.ndarray) -> list[str]: ...


class FrameRows:
    """The origin of rows that have no lines (Parquet, a frame): the 1-based row number, and the
    row's cells rendered as one CSV line (missing cells empty) in place of a raw line."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame

    def line_numbers(self, positions: np.ndarray) -> np.ndarray:
        return np.asarray(positions, dtype=np.int64) + 1

    def raw_lines(self, positions: np.ndarray) -> list[str]:
        rows = self.frame.iloc[positions].astype(object)
        rows = rows.where(rows.notna(), None)
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")  # CRLF: a cell holding CR or LF is quoted
        texts: list[str] = []
        for values in rows.itertuples(index=False, name=None):  # rejected rows only
            buffer.seek(0)
            buffer.truncate()
            writer.writerow(values)
            texts.append(buffer.getvalue().removesuffix("\r\n"))
        return texts


def latest_ts(loaded_at: datetime | None, mapping: ColumnMapping) -> pd.Timestamp:
    """The latest believable ts: the load time as naive local time, plus a day of slack."""
    now = pd.Timestamp.now(tz=mapping.timezone) if loaded_at is None else pd.Timestamp(loaded_at)
    if now.tzinfo is not None:
        now = now.tz_convert(mapping.timezone).tz_localize(None)
    return now + FUTURE_SLACK


def reject_reasons(
    raw: pd.DataFrame,
    typed: pd.DataFrame,
    mapping: ColumnMapping,
    unreadable: pd.DataFrame | None,
    latest: pd.Timestamp,
) -> pd.Series:
    """The first failing reason per row, or NA for a row that is kept.

    A categorical (one byte a row), its checks made one at a time from the last reason to the
    first so each row keeps the first that fails: at 100 M lines, text per row or every check's
    flags held at once would cost gigabytes.
    """
    checks: dict[str, Callable[[], pd.Series | np.ndarray]] = {
        MALFORMED_LINE: lambda: _unreadable_as(MALFORMED_LINE, unreadable, raw.index),
        UNDECODABLE_TEXT: lambda: _unreadable_as(UNDECODABLE_TEXT, unreadable, raw.index),
        MISSING_MEMBER_ID: lambda: typed[MEMBER_ID].isna(),
        UNPARSEABLE_TS: lambda: typed[TS].isna(),
        FUTURE_TS: lambda: typed[TS] > latest,
        NON_NUMERIC_AMOUNT: lambda: typed[AMOUNT].isna(),
        ABSURD_AMOUNT: lambda: typed[AMOUNT].abs() > mapping.max_abs_amount,
        DUPLICATE_ROW: lambda: repeated_rows(raw) if mapping.duplicates == "drop" else np.zeros(len(raw), bool),
    }
    codes = np.full(len(raw), -1, dtype=np.int8)
    for code in reversed(range(len(REJECT_REASONS))):
        codes[_as_flags(checks[REJECT_REASONS[code]]())] = code
    return pd.Series(pd.Categorical.from_codes(codes, categories=pd.Index(REJECT_REASONS)), index=typed.index)


def _unreadable_as(reason: str, unreadable: pd.DataFrame | None, index: pd.Index) -> np.ndarray:
    """Rows whose source record could not be split into cells, for ``reason``."""
    flags = np.zeros(len(index), dtype=bool)
    if unreadable is not None and not unreadable.empty:
        positions = index.get_indexer(unreadable.index[unreadable["reason"] == reason])
        if (positions < 0).any():
            raise ValueError("unreadable records must be rows of the table read")
        flags[positions] = True
    return flags


def _as_flags(failed: pd.Series | np.ndarray) -> np.ndarray:
    """Plain booleans per row; a comparison with a missing value is no failure."""
    if isinstance(failed, np.ndarray):
        return failed
    return failed.fillna(False).to_numpy(bool)


def write_rejects(
    raw: pd.DataFrame,
    reasons: pd.Series,
    unreadable: pd.DataFrame | None,
    rejects_path: str | Path | None,
    origin: RowOrigin | None = None,
    key: DataKey | None = None,
) -> str | None:
    """Write rejected rows as read, with their line, position, reason and text; return the path.

    ``origin`` gives line numbers and text (a CSV file's); without it rows are numbered from 1
    and rendered from their cells, except unreadable records, whose text ``unreadable`` holds.
    With a data ``key`` the file is encrypted (``features.sealed``): it holds raw ids and amounts.
    """
    if rejects_path is None:
        return None
    rejected = reasons.notna().to_numpy(bool)
    positions = np.flatnonzero(rejected)
    source = origin if origin is not None else FrameRows(raw)
    texts = pd.Series(source.raw_lines(positions), index=raw.index[positions], dtype=object)
    if origin is None and unreadable is not None and not unreadable.empty:
        texts.update(unreadable["text"])
    provenance: dict[str, Any] = {
        LINE_COLUMN: source.line_numbers(positions),
        ROW_COLUMN: positions,
        REASON_COLUMN: reasons[rejected],
        RAW_COLUMN: texts,
    }
    rows = raw.loc[rejected].assign(**provenance)
    # RFC 4180 line ends (the csv writer then quotes a stray CR inside a cell too), no formulas
    text = csv_text(rows)
    return str(write_private(rejects_path, text.encode("utf-8", errors="backslashreplace"), key))
