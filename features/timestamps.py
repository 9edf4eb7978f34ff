"""Read a text ts column one way for the whole file: as the mapping says, or as the data shows.

A date such as ``01/02/2024`` is 1 February in Europe and 2 January in the US. Reading it per
value (as dateutil does) would read ``01/02/2024`` month-first and ``13/02/2024`` day-first in the
same file. Here the column gets ONE reading:

- ``ts_format`` in the mapping: exactly that strptime format; a value that does not match is
  missing (the loader rejects it as ``unparseable ts``) and the report shows an example;
- ``dayfirst`` in the mapping: numeric day/month dates (``d/m/yyyy``, ``d.m.yyyy``, ``d-m-yyyy``)
  are read that way;
- neither: year-first and written-out dates are unambiguous; for numeric day/month dates, a value
  whose first field is above 12 can only be day-first, one whose second is above 12 only
  month-first. One kind alone decides for the whole column; both kinds, or only values that read
  either way (``01/02/2024``, no field above 12), are refused with a ValueError naming the column,
  examples and the options, never guessed.

Numeric dates are rewritten to ISO 8601 in the chosen order and parsed in one vectorised call;
naive and aware values are parsed apart (aware ones converted to the mapping's time zone), so
there is no per-value Python on the usual paths.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

import numpy as np
import pandas as pd
from pandas._libs.tslibs.nattype import NaTType

from features.contract import ColumnMapping

TS_DTYPE: Final = "datetime64[us]"  # pandas 3's default unit; ns would overflow after 2262
# A timestamp text must name a four-digit year: dateutil otherwise reads "now", "12:00" or
# "may" relative to today's clock, which would make a load depend on the day it runs.
_YEAR: Final = r"\d{4}"
_DAY_MONTH: Final = r"^(\d{1,2})([/.-])(\d{1,2})\2(\d{4})(.*)$"  # d/m/yyyy or m/d/yyyy (+ time)
_YEAR_FIRST: Final = r"^(\d{4})([/.])(\d{1,2})\2(\d{1,2})(.*)$"  # yyyy/m/d, yyyy.m.d (ISO's '-' parses as is)
# an offset or zone after a time of day marks an aware value ("2024-07-01" ends in "-01": no time, no zone)
_AWARE: Final = r"\d:\d\d(?::\d\d(?:[.,]\d+)?)?\s*(?:Z|UTC|GMT|[+-]\d\d(?::?\d\d)?)$"
_ZONE_SUFFIX: Final = r"(?:Z|UTC|GMT|\d[+-]\d\d(?::?\d\d)?)$"  # a cheap first look: 8x faster than _AWARE
_OPTION: Final = "set dayfirst: true|false or ts_format (e.g. \"%d/%m/%Y\") in the mapping"


@dataclass(frozen=True)
class TsReading:
    """Naive local times (NaT where unreadable), how the column was read, and a hint for rejects."""

    stamps: pd.Series
    reading: str
    hint: str | None = None


def as_local_naive(stamps: pd.Series, timezone: str) -> pd.Series:
    """Naive wall-clock time in ``timezone``: naive input is already local, aware is converted."""
    if isinstance(stamps.dtype, pd.DatetimeTZDtype):
        stamps = stamps.dt.tz_convert(timezone).dt.tz_localize(None)
    return stamps.astype(TS_DTYPE)


def read_timestamps(text: pd.Series, mapping: ColumnMapping, column: str, source: str) -> TsReading:
    """Read ``text`` (stripped, NA for blanks) one way; raises ValueError when that way is unclear."""
    if mapping.ts_format is not None:
        return _read_with_format(text, mapping.ts_format, mapping.timezone)
    has_year = text.str.contains(_YEAR, na=False)
    hint = _short_year_hint(text[~has_year & text.notna()])
    text = _iso_year_first(text.where(has_year))
    text, reading = _iso_day_month(text, mapping.dayfirst, column, source)
    return TsReading(_parse(text, mapping.timezone), reading, hint)


def _short_year_hint(without_year: pd.Series) -> str | None:
    """``01/02/24`` is unparseable without a format (which century?); say which option reads it."""
    short = without_year[without_year.str.match(r"^\d{1,2}[/.-]\d{1,2}[/.-]\d{2}(?:\D|$)", na=False)]
    if short.empty:
        return None
    return f'ts values like "{short.iloc[0]}" have a two-digit year: set ts_format (e.g. "%d/%m/%y") in the mapping'



def _read_with_format(text: pd.Series, ts_format: str, timezone: str) -> TsReading:
    aware = "%z" in ts_format or "%Z" in ts_format
    parsed = pd.to_datetime(text, format=ts_format, errors="coerce", utc=aware)
    stamps = as_local_naive(parsed, timezone)
    failed = text.notna() & stamps.isna()
    hint = None
    if failed.any():
        hint = f'ts values like "{text[failed].iloc[0]}" do not match ts_format "{ts_format}"'
    return TsReading(stamps, f'ts_format "{ts_format}" (mapping)', hint)


def _iso_year_first(text: pd.Series) -> pd.Series:
    """``yyyy/m/d`` and ``yyyy.m.d`` as ISO ``yyyy-mm-dd``: read year, month, day, never swapped."""
    found = text.str.match(r"^\d{4}[/.]\d", na=False)
    if not found.any():
        return text
    parts = text[found].str.extract(_YEAR_FIRST)
    return _with_iso(text, parts, year=parts[0], month=parts[2], day=parts[3], rest=parts[4])


def _iso_day_month(text: pd.Series, dayfirst: bool | None, column: str, source: str) -> tuple[pd.Series, str]:
    """Numeric day/month dates as ISO in the one order the mapping or the data says."""
    found = text.str.match(r"^\d{1,2}[/.-]\d{1,2}[/.-]\d{4}", na=False)
    if not found.any():
        return text, "unambiguous (year-month-day or month names)"
    parts = text[found].str.extract(_DAY_MONTH)
    if dayfirst is None:
        dayfirst, reading = _inferred_order(text[found], parts, column, source)
    else:
        reading = f"{'day' if dayfirst else 'month'}-first (mapping: dayfirst: {str(dayfirst).lower()})"
    day, month = (parts[0], parts[2]) if dayfirst else (parts[2], parts[0])
    return _with_iso(text, parts, year=parts[3], month=month, day=day, rest=parts[4]), reading


def _inferred_order(values: pd.Series, parts: pd.DataFrame, column: str, source: str) -> tuple[bool, str]:
    """Day-first or month-first from the values only one order can read; refuses both or neither."""
    first = pd.to_numeric(parts[0], errors="coerce")
    second = pd.to_numeric(parts[2], errors="coerce")
    day_only = (first > 12) & (second <= 12)
    month_only = (second > 12) & (first <= 12)
    either = (first <= 12) & (second <= 12) & (first != second)
    where = f"{source}: column {column!r} (ts)"
    if day_only.any() and month_only.any():
        raise ValueError(
            f'{where} has dates only day-first can read (e.g. "{values[day_only].iloc[0]}") and dates only '
            f'month-first can read (e.g. "{values[month_only].iloc[0]}"); one file is not read two ways: {_OPTION}'
        )
    if day_only.any():
        return True, f"day-first (inferred from {values[day_only].iloc[0]})"
    if month_only.any():
        return False, f"month-first (inferred from {values[month_only].iloc[0]})"
    if either.any():
        raise ValueError(
            f'{where}: every day/month date reads both day-first and month-first (e.g. "{values[either].iloc[0]}", '
            f"no field above 12); the order cannot be inferred: {_OPTION}"
        )
    return True, "day and month equal in every day/month date: either order reads the same"


def _with_iso(text: pd.Series, parts: pd.DataFrame, *, year: pd.Series, month: pd.Series, day: pd.Series,
              rest: pd.Series) -> pd.Series:
    """``text`` with the matched values replaced by ``yyyy-mm-dd`` + their time part; a value whose
    month is above 12 (or that mixes separators) becomes missing: it is never read the other way."""
    iso = year + "-" + month.str.zfill(2) + "-" + day.str.zfill(2) + rest
    valid = (pd.to_numeric(month, errors="coerce") <= 12) & (pd.to_numeric(day, errors="coerce") <= 31)
    rewritten = text.astype("string").copy()
    rewritten.loc[iso.index] = iso.where(valid.fillna(False).astype(bool))
    return rewritten


def _parse(text: pd.Series, timezone: str) -> pd.Series:
    """Naive and aware values parsed apart, both vectorised; aware ones converted to ``timezone``."""
    aware = _aware(text)
    if not aware.any():  # the usual file: one call, no assembly
        return _parse_naive(text, timezone)
    stamps = pd.Series(pd.NaT, index=text.index, dtype=TS_DTYPE)
    if (~aware).any():
        stamps[~aware] = _parse_naive(text[~aware], timezone)
    if aware.any():
        parsed = pd.to_datetime(text[aware], errors="coerce", format="mixed", utc=True)
        stamps[aware] = as_local_naive(parsed, timezone)
    return stamps


def _aware(text: pd.Series) -> np.ndarray:
    """Which values carry a zone after a time of day; the exact pattern runs only where a cheap
    look at the end (and a colon) says it may match."""
    maybe = (text.str.contains(_ZONE_SUFFIX, na=False) & text.str.contains(":", regex=False, na=False)).to_numpy(bool)
    aware = np.zeros(len(text), dtype=bool)
    if maybe.any():
        aware[maybe] = text[maybe].str.contains(_AWARE, na=False).to_numpy(bool)
    return aware


def _parse_naive(text: pd.Series, timezone: str) -> pd.Series:
    try:
        return as_local_naive(pd.to_datetime(text, errors="coerce", format="mixed"), timezone)
    except ValueError:  # a zone dateutil found by name beside naive values: one value at a time
        return pd.Series([_parse_one(value, timezone) for value in text.astype(object)], index=text.index,
                         dtype=TS_DTYPE)


def _parse_one(value: object, timezone: str) -> pd.Timestamp | NaTType:
    """Slow path for the rare column that mixes named zones and naive times."""
    if value is pd.NA or value is None:
        return pd.NaT
    stamp = pd.to_datetime(str(value), errors="coerce", format="mixed")
    if isinstance(stamp, NaTType) or stamp.tzinfo is None:
        return stamp
    return stamp.tz_convert(timezone).tz_localize(None)
