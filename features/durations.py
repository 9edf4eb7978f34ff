"""An option that is either a length of time (``30m``, ``12h``, ``7d``, ``2w``) or a UTC date (``YYYY-MM-DD``).

``memberscore audit --since`` counts such a time back from now and ``memberscore keys create
--expires`` forward; both read it here, so one spelling means the same everywhere and a mistake
gets the same one-line message naming the option.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from typing import Final

UNITS: Final = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}
_AMOUNT: Final = re.compile(r"(\d{1,6})([a-z])")


def length_or_date(text: str, option: str, units: Collection[str] = "mhdw") -> timedelta | datetime:
    """A positive length of time in one of ``units``, or midnight UTC of a date; anything else is a
    ValueError naming ``option`` and showing what it accepts."""
    cleaned = text.strip()
    amount = _AMOUNT.fullmatch(cleaned)
    if amount and amount[2] in units and int(amount[1]) > 0:
        return int(amount[1]) * UNITS[amount[2]]
    try:
        return datetime.strptime(cleaned, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        examples = ", ".join(f"{n}{u}" for n, u in zip((30, 12, 7, 2), "mhdw", strict=True) if u in units)
        raise ValueError(f"{option} {text!r}: expected a length such as {examples}, or a date as YYYY-MM-DD") from None
