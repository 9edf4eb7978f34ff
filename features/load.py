"""Read a transactions table onto the data contract, keeping every rejected row with its reason.

DESIGN.md: rows without a member id (or with an unreadable time or amount) are rejected with a
reason, not silently dropped; every load reports rows read, kept and rejected by reason, and the
rejected rows are written out. ``rows_read == rows_kept + rows_rejected`` always holds.

Each rejected row gets exactly one reason, the first that applies, in this order:

- ``malformed line``: a CSV record with the wrong number of fields or broken quoting;
- ``undecodable text``: a CSV record with bytes that are not valid in the mapping's ``encoding``;
- ``missing member_id``: no id, or only blanks (ids are text: ``"007"`` stays ``"007"``);
- ``unparseable ts``: no time, or text that is not a date with a four-digit year;
- ``future ts``: later than the load time plus one day, in the mapping's time zone. A sale
  cannot happen after the file was written; the day of slack absorbs a source whose naive
  times are in another zone than configured, and clock skew. The load time is ``loaded_at``;
- ``non-numeric amount``: no amount, text, NaN, infinity, or too large for a float (``1e309``);
- ``absurd amount``: ``abs(amount)`` above the mapping's ``max_abs_amount`` (default 1e9,
  e.g. ``1e300`` or a 30-digit integer): a typo or an overflow, never a line total;
- ``duplicate row``: a row identical in every source column to an earlier row, when the
  mapping says ``duplicates: drop`` (the default); the first copy is kept.

Raises ValueError, naming the file and the reason, only when the file as a whole cannot be used:
unknown file type, missing or unreadable file, no header line, a header that is not text in the
configured encoding, or a required (or mapped) column that is absent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow

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
from features.csv_source import read_csv_table
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
    latest_ts,
    reject_reasons,
    write_rejects,
)

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

TS_DTYPE: Final = "datetime64[us]"  # pandas 3's default unit; ns would overflow after 2262
DEFAULT_REJECTS_DIR: Final = Path("var/rejects")
# A timestamp text must name a four-digit year: dateutil otherwise reads "now", "12:00" or
# "may" relative to today's clock, which would make a load depend on the day it runs.
_YEAR_PATTERN: Final = r"\d{4}"

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


@dataclass(frozen=True)
class LoadReport:
    """What one load did: nothing read is unaccounted for."""

    source: str
    rows_read: int
    rows_kept: int
    rejected_by_reason: dict[str, int]
    rejects_path: str | None

    @property
    def rows_rejected(self) -> int:
        return sum(self.rejected_by_reason.values())

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, for run logs and CLI output."""
        return {
            "source": self.source,
            "rows_read": self.rows_read,
            "rows_kept": self.rows_kept,
            "rows_rejected": self.rows_rejected,
            "rejected_by_reason": dict(self.rejected_by_reason),
            "rejects_path": self.rejects_path,
        }

    def summary(self) -> str:
        """One line for a human, e.g. ``read 10 rows, kept 8, rejected 2 (unparseable ts: 2)``."""
        line = (
            f"read {self.rows_read:,} rows, kept {self.rows_kept:,}, "
            f"rejected {self.rows_rejected:,}"
        )
        if not self.rejected_by_reason:
            return line
        reasons = ", ".join(f"{why}: {count:,}" for why, count in self.rejected_by_reason.items())
        return f"{line} ({reasons})"


def load_transactions(
    path: str | Path,
    mapping: ColumnMapping | str | Path | None = None,
    *,
    rejects_path: str | Path | None = None,
    loaded_at: datetime | None = None,
) -> tuple[pd.DataFrame, LoadReport]:
    """Read a CSV or Parquet file and clean it onto the contract.

    ``mapping`` may be a parsed mapping or the path of its YAML file. Rejected rows go to
    ``rejects_path``, by default ``var/rejects/<file stem>.rejects.csv``, so none is ever lost.
    ``loaded_at`` (default now) bounds ``future ts``; tests pass it to be independent of the clock.
    """
    path = Path(path)
    if not isinstance(mapping, ColumnMapping):
        mapping = read_mapping(mapping)
    if rejects_path is None:
        rejects_path = DEFAULT_REJECTS_DIR / f"{path.stem}.rejects.csv"
    raw, unreadable = _read_table(path, mapping.encoding)
    return clean_transactions(
        raw,
        mapping,
        source=str(path),
        rejects_path=rejects_path,
        unreadable=unreadable,
        loaded_at=loaded_at,
    )


def _read_table(path: Path, encoding: str) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """Every column as stored, and the CSV records that could not be read (features.csv_source).

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
        table = read_csv_table(path, encoding)
    except (OSError, pyarrow.ArrowException) as error:
        raise ValueError(f"{path}: unreadable ({_first_line(error)})") from None
    return table.frame, table.unreadable


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
) -> tuple[pd.DataFrame, LoadReport]:
    """Rename, type and filter ``raw`` onto the contract, sorted by (member_id, ts).

    Each rejected row gets exactly one reason, the first that applies (module docstring).
    ``unreadable`` (``reason``, ``text`` by row position) marks source records that could not
    be split into cells. Rejected rows are written, as read plus ``_row`` (0-based position of
    the record after the header) and ``_reason``, and ``_raw`` (the line as read) when some
    record was unreadable, to ``rejects_path`` when given and there are any. Negative amounts
    are valid: returns are netted elsewhere.
    """
    raw = raw.reset_index(drop=True)
    typed = _typed_contract_frame(raw, _select_sources(raw, mapping, source), mapping.timezone)
    reasons = reject_reasons(raw, typed, mapping, unreadable, latest_ts(loaded_at, mapping))
    rejected = reasons.notna()
    clean = (
        typed.loc[~rejected]
        .sort_values([MEMBER_ID, TS], kind="stable")
        .reset_index(drop=True)
    )
    clean = TRANSACTIONS_SCHEMA.validate(clean)
    written = write_rejects(raw, reasons, unreadable, rejects_path) if rejected.any() else None
    counts = reasons.value_counts()
    report = LoadReport(
        source=source,
        rows_read=len(raw),
        rows_kept=len(clean),
        rejected_by_reason={r: int(counts[r]) for r in REJECT_REASONS if r in counts.index},
        rejects_path=written,
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
    raw: pd.DataFrame, sources: dict[str, str], timezone: str
) -> pd.DataFrame:
    """Contract columns only, in contract dtypes; unreadable values become missing."""
    columns: dict[str, pd.Series] = {}
    for name, column in sources.items():
        values = raw[column]
        if name == TS:
            columns[name] = _local_naive_ts(values, timezone)
        elif name in (AMOUNT, QUANTITY):
            columns[name] = _to_float(values)
        else:
            columns[name] = _to_text(values)
    return pd.DataFrame(columns, index=raw.index)


def _to_text(values: pd.Series) -> pd.Series:
    """Stripped text with pd.NA for blanks; never numbers, so "007" stays "007"."""
    text = values.astype("string").str.strip()
    return text.mask(text == "")


def _to_float(values: pd.Series) -> pd.Series:
    """Float64 with NaN for anything that is not a finite number."""
    if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
        values = _to_text(values).astype(object)
    numbers = pd.to_numeric(values, errors="coerce").astype("float64")
    return numbers.where(np.isfinite(numbers))


def _local_naive_ts(values: pd.Series, timezone: str) -> pd.Series:
    """Naive wall-clock time in ``timezone``: naive input is already local, aware is converted."""
    if pd.api.types.is_datetime64_any_dtype(values):
        return _as_local_naive(values, timezone)
    text = _to_text(values)
    text = text.where(text.str.contains(_YEAR_PATTERN, na=False))
    try:
        parsed = pd.to_datetime(text, errors="coerce", format="mixed")
    except ValueError:  # aware and naive, or several offsets: pandas refuses to pick one zone
        stamps = [_parse_one(value, timezone) for value in text.astype(object)]
        return pd.Series(stamps, index=values.index, dtype=TS_DTYPE)
    return _as_local_naive(parsed, timezone)


def _as_local_naive(stamps: pd.Series, timezone: str) -> pd.Series:
    if isinstance(stamps.dtype, pd.DatetimeTZDtype):
        stamps = stamps.dt.tz_convert(timezone).dt.tz_localize(None)
    return stamps.astype(TS_DTYPE)


def _parse_one(value: object, timezone: str) -> pd.Timestamp:
    """Slow path for columns that mix zones: one value at a time."""
    if value is pd.NA or value is None:
        return pd.NaT
    stamp = pd.to_datetime(value, errors="coerce", format="mixed")
    if stamp is pd.NaT or stamp.tzinfo is None:
        return stamp
    return stamp.tz_convert(timezone).tz_localize(None)
