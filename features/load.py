"""Read a transactions table onto the data contract, keeping every rejected row with its reason.

DESIGN.md: rows without a member id (or with an unreadable time or amount) are rejected with a
reason, not silently dropped; every load reports rows read, kept and rejected by reason, and the
rejected rows are written out. ``rows_read == rows_kept + rows_rejected`` always holds.

Each rejected row gets exactly one reason, the first that applies, in this order:

- ``malformed line``: a CSV record with the wrong number of fields or broken quoting;
- ``undecodable text``: a CSV record with bytes that are not valid in the mapping's ``encoding``;
- ``missing member_id``: no id, or only blanks (ids are text: ``"007"`` stays ``"007"``);
- ``unparseable ts``: no time, text that is not a date with a four-digit year, or (with the
  mapping's ``ts_format``) text that does not match that format. A column is read one way for
  the whole file (``features.timestamps``); a file whose day/month order is unclear is refused;
- ``future ts``: later than the load time plus one day, in the mapping's time zone. A sale
  cannot happen after the file was written; the day of slack absorbs a source whose naive
  times are in another zone than configured, and clock skew. The load time is ``loaded_at``;
- ``non-numeric amount``: no amount, text, NaN, infinity, or too large for a float (``1e309``),
  or a number not written with the mapping's ``decimal`` and ``thousands`` marks
  (``features.amounts``); the report hints at the marks when amounts look like decimal commas;
- ``absurd amount``: ``abs(amount)`` above the mapping's ``max_abs_amount`` (default 1e9,
  e.g. ``1e300`` or a 30-digit integer): a typo or an overflow, never a line total;
- ``duplicate row``: a row identical in every source column to an earlier row, when the
  mapping says ``duplicates: drop`` (the default); the first copy is kept.

Raises ValueError, naming the file and the reason, only when the file as a whole cannot be used:
unknown file type, missing or unreadable file, no header line, a header that is not text in the
configured encoding, a delimiter that cannot be told, dates whose day/month order is unclear, or a
required (or mapped) column that is absent.

Every rejected row is written with its line number (1-based, as an editor counts: the header is
line 1; a Parquet file or a frame has no lines, so its 1-based row number) and its raw text (for
Parquet or a frame, its cells as one CSV line); see ``features.rejects``.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow

from features.amounts import decimal_comma_hint, read_numbers
from features.contract import (
    AMOUNT,
    MEMBER_ID,
    OPTIONAL_COLUMNS,
    QUANTITY,
    REQUIRED_COLUMNS,
    STRING_COLUMNS,
    TS,
    ColumnMapping,
    read_mapping,
)
from features.csv_source import CsvTable, read_csv_table
from features.data_key import DataKey
from features.load_report import LoadReport
from features.rejects import (  # the reasons are part of this module's public surface
    ABSURD_AMOUNT,
    DUPLICATE_ROW,
    FUTURE_TS,
    MALFORMED_LINE,
    MISSING_MEMBER_ID,
    NON_NUMERIC_AMOUNT,
    REJECT_REASONS,
    UNDECODABLE_TEXT,
    UNPARSEABLE_TS,
    RowOrigin,
    latest_ts,
    reject_reasons,
    write_rejects,
)
from features.timestamps import TS_DTYPE, as_local_naive, read_timestamps

__all__ = [
    "ABSURD_AMOUNT",
    "DUPLICATE_ROW",
    "FUTURE_TS",
    "MALFORMED_LINE",
    "MISSING_MEMBER_ID",
    "NON_NUMERIC_AMOUNT",
    "REJECT_REASONS",
    "TRANSACTIONS_SCHEMA",
    "UNDECODABLE_TEXT",
    "UNPARSEABLE_TS",
    "LoadReport",
    "clean_transactions",
    "load_transactions",
]

DEFAULT_REJECTS_DIR: Final = Path("var/rejects")

TRANSACTIONS_SCHEMA: Final = pa.DataFrameSchema(
    {
        MEMBER_ID: pa.Column("string", pa.Check.str_length(min_value=1), nullable=False),
        # pandera ignores the unit of datetime64, so the unit is checked explicitly
        TS: pa.Column(TS_DTYPE, pa.Check(lambda ts: str(ts.dtype) == TS_DTYPE, name="unit")),
        AMOUNT: pa.Column("float64", pa.Check(np.isfinite, element_wise=False), nullable=False),
        **{
            name: pa.Column("string", nullable=True, required=False)
            for name in STRING_COLUMNS
            if name != MEMBER_ID
        },
        QUANTITY: pa.Column("float64", nullable=True, required=False),
    },
    strict=True,
    name="transactions",
)


def load_transactions(
    path: str | Path,
    mapping: ColumnMapping | str | Path | None = None,
    *,
    rejects_path: str | Path | None = None,
    loaded_at: datetime | None = None,
    key: DataKey | None = None,
) -> tuple[pd.DataFrame, LoadReport]:
    """Read a CSV or Parquet file and clean it onto the contract.

    ``mapping`` may be a parsed mapping or the path of its YAML file. Rejected rows go to
    ``rejects_path``, by default ``var/rejects/<file stem>.rejects.csv``, so none is ever lost.
    ``loaded_at`` (default now) bounds ``future ts``; tests pass it to be independent of the clock.
    With a data ``key`` the rejects file is encrypted (``features.sealed``).
    """
    path = Path(path)
    if not isinstance(mapping, ColumnMapping):
        mapping = read_mapping(mapping)
    if rejects_path is None:
        rejects_path = DEFAULT_REJECTS_DIR / f"{path.stem}.rejects.csv"
    raw, table = read_table(path, mapping)
    clean, report = clean_transactions(
        raw,
        mapping,
        source=str(path),
        rejects_path=rejects_path,
        unreadable=None if table is None else table.unreadable,
        loaded_at=loaded_at,
        key=key,
        origin=table,
    )
    return clean, (report if table is None else replace(report, delimiter=table.delimiter.describe()))


def read_table(path: Path, mapping: ColumnMapping) -> tuple[pd.DataFrame, CsvTable | None]:
    """Every column as stored, and for CSV the table read (unreadable records, lines, delimiter).

    Also reads other tables onto their own contracts (``campaigns.exposures``).

    CSV cells stay text so ids keep leading zeros; cleaning reads an empty cell as missing.
    """
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet"):
        raise ValueError(f"{path}: unknown file type {path.suffix!r}; expected .csv or .parquet")
    if not path.is_file():
        raise ValueError(f"{path}: file not found")
    try:
        if suffix == ".parquet":
            return pd.read_parquet(path, engine="pyarrow"), None
        table = read_csv_table(path, mapping.encoding, mapping.delimiter)
    except (OSError, pyarrow.ArrowException) as error:
        raise ValueError(f"{path}: unreadable ({_first_line(error)})") from None
    return table.frame, table


def _first_line(error: Exception) -> str:
    return str(error).strip().split("\n")[0] or type(error).__name__


def clean_transactions(
    raw: pd.DataFrame,
    mapping: ColumnMapping,
    *,
    source: str = "<frame>",
    rejects_path: str | Path | None = None,
    unreadable: pd.DataFrame | None = None,
    loaded_at: datetime | None = None,
    origin: RowOrigin | None = None,
    key: DataKey | None = None,
) -> tuple[pd.DataFrame, LoadReport]:
    """Rename, type and filter ``raw`` onto the contract, sorted by (member_id, ts).

    Each rejected row gets exactly one reason, the first that applies (module docstring).
    ``unreadable`` (``reason``, ``text`` by row position) marks source records that could not
    be split into cells; ``origin`` gives the rows' line numbers and text (a CSV file's).
    Rejected rows are written, as read plus ``_line`` (1-based line, or row number without
    ``origin``), ``_row`` (0-based position after the header), ``_reason`` and ``_raw`` (the
    text as read), to ``rejects_path`` when given and there are any. Negative amounts are
    valid: returns are netted elsewhere.
    """
    raw = raw.reset_index(drop=True)
    typed, ts_reading, hints = _typed_contract_frame(raw, _select_sources(raw, mapping, source), mapping, source)
    reasons = reject_reasons(raw, typed, mapping, unreadable, latest_ts(loaded_at, mapping))
    rejected = reasons.notna()
    any_rejected = bool(rejected.any())
    kept = typed.loc[~rejected] if any_rejected else typed  # no copy of a table with nothing to reject
    clean = kept.sort_values([MEMBER_ID, TS], kind="stable").reset_index(drop=True)
    clean = TRANSACTIONS_SCHEMA.validate(clean)
    written = write_rejects(raw, reasons, unreadable, rejects_path, origin, key) if any_rejected else None
    counts = reasons.value_counts()
    report = LoadReport(
        source=source,
        rows_read=len(raw),
        rows_kept=len(clean),
        rejected_by_reason={r: int(counts[r]) for r in REJECT_REASONS if counts[r] > 0},
        rejects_path=written,
        ts_reading=ts_reading,
        hints=hints,
    )
    return clean, report


def _select_sources(raw: pd.DataFrame, mapping: ColumnMapping, source: str) -> dict[str, str]:
    """Contract name -> source column: required and mapped ones must exist, others are optional."""
    explicit = set(mapping.columns.values())
    selected: dict[str, str] = {}
    for name in (*REQUIRED_COLUMNS, *OPTIONAL_COLUMNS):
        column = mapping.source_for(name)
        if column in raw.columns and (name in mapping.columns or column not in explicit):
            selected[name] = column
        elif name in REQUIRED_COLUMNS or name in mapping.columns:
            raise ValueError(
                f"{source}: column {column!r} (mapped to {name}) not found; "
                f"columns are {list(raw.columns)}"
            )
    return selected


def _typed_contract_frame(
    raw: pd.DataFrame, sources: dict[str, str], mapping: ColumnMapping, source: str
) -> tuple[pd.DataFrame, str | None, tuple[str, ...]]:
    """Contract columns only, in contract dtypes (unreadable values missing), how ts was read,
    and hints for the report."""
    columns: dict[str, pd.Series] = {}
    ts_reading: str | None = None
    hints: list[str] = []
    for name, column in sources.items():
        values = raw[column]
        if name == TS and pd.api.types.is_datetime64_any_dtype(values):
            columns[name] = as_local_naive(values, mapping.timezone)
            ts_reading = "as stored (typed timestamps)"
        elif name == TS:
            read = read_timestamps(_to_text(values), mapping, column, source)
            columns[name], ts_reading = read.stamps, read.reading
            hints += [read.hint] if read.hint else []
        elif name in (AMOUNT, QUANTITY):
            columns[name] = _to_float(values, mapping)
            if name == AMOUNT and not pd.api.types.is_numeric_dtype(values):
                hint = decimal_comma_hint(_to_text(values), columns[name], mapping.decimal)
                hints += [hint] if hint else []
        else:
            columns[name] = _to_text(values)
    return pd.DataFrame(columns, index=raw.index), ts_reading, tuple(hints)


def _to_text(values: pd.Series) -> pd.Series:
    """Stripped text with pd.NA for blanks; never numbers, so "007" stays "007".

    Text that needs neither (the usual case) is returned as read, sharing the read column's
    memory: a copy of every id and category would be gigabytes at 100 M lines.
    """
    text = values.astype("string")
    stripped = text.str.strip()
    blank = stripped == ""
    if not blank.any() and stripped.eq(text).all():
        return text
    return stripped.mask(blank)


def _to_float(values: pd.Series, mapping: ColumnMapping) -> pd.Series:
    """Float64 with NaN for anything that is not a finite number; text read with the mapping's marks."""
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        return read_numbers(_to_text(values), mapping.decimal, mapping.thousands)
    numbers = pd.to_numeric(values, errors="coerce").astype("float64")
    return numbers.where(np.isfinite(numbers))
