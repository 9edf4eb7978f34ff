"""Numbers written as text, read with the marks the file uses (``1.234,50`` in much of Europe).

With the default marks (``decimal: "."``, no ``thousands``) a cell is whatever ``pd.to_numeric``
reads. With others, a cell must be written in exactly that style: digits, optionally grouped by
threes with the thousands mark, then optionally the decimal mark and digits (and an exponent);
anything else is not a number, never half-read (``1.2.3`` or ``12.50`` in a decimal-comma file).
Vectorised: one regular-expression pass and one ``to_numeric`` per column.
"""

from __future__ import annotations

import re
from typing import Final

import numpy as np
import pandas as pd

# "12,50", "-3,5", "1.234,50": what a decimal comma looks like to a reader expecting a point
_DECIMAL_COMMA: Final = r"[+-]?(?:\d+|\d{1,3}(?:\.\d{3})+),\d+"


def read_numbers(text: pd.Series, decimal: str = ".", thousands: str | None = None) -> pd.Series:
    """Float64 of ``text`` (stripped, NA for blanks) with NaN for anything that is not a finite number."""
    if decimal == "." and thousands is None:
        numbers = pd.to_numeric(text.astype(object), errors="coerce").astype("float64")
    else:
        written = text.str.fullmatch(_number_pattern(decimal, thousands), na=False) & text.str.contains(r"\d", na=False)
        plain = text.where(written)
        if thousands is not None:
            plain = plain.str.replace(thousands, "", regex=False)
        plain = plain.str.replace(decimal, ".", regex=False)
        numbers = pd.to_numeric(plain.astype(object), errors="coerce").astype("float64")
    return numbers.where(np.isfinite(numbers))


def _number_pattern(decimal: str, thousands: str | None) -> str:
    integer = r"\d*" if thousands is None else rf"(?:\d*|\d{{1,3}}(?:{re.escape(thousands)}\d{{3}})+)"
    return rf"[+-]?{integer}(?:{re.escape(decimal)}\d*)?(?:[eE][+-]?\d+)?"


def decimal_comma_hint(text: pd.Series, numbers: pd.Series, decimal: str) -> str | None:
    """A line for the load report when amounts that did not read look like decimal commas."""
    if decimal != ".":
        return None
    failed = text[numbers.isna() & text.notna()]
    looks = failed[failed.str.fullmatch(_DECIMAL_COMMA, na=False)]
    if looks.empty:
        return None
    grouped = looks[looks.str.contains(".", regex=False)]
    example = (grouped if not grouped.empty else looks).iloc[0]
    marks = 'decimal: "," and thousands: "."' if "." in example else 'decimal: ","'
    return f'amounts like "{example}" look like decimal commas: set {marks} in the mapping'
