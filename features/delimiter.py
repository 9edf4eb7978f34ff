"""Which character separates the cells of a CSV file: the mapping's, or one detected from its first lines.

European files are often ``;``-separated (the comma is their decimal mark), exports from other
tools use tab or ``|``. Detection considers only ``,`` ``;`` tab and ``|``: the header (the first
non-blank record) must split into at least two columns on a candidate, and among several such
candidates the one whose first records have the header's width most often wins. A tie is a file
that reads sensibly two ways, and is refused rather than guessed: the ``delimiter`` option decides.
Without any candidate the comma stands (the loader then names the columns it found).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from itertools import islice
from typing import Final, Literal

CANDIDATES: Final = (",", ";", "\t", "|")
SAMPLE_LINES: Final = 200  # physical lines read to judge; the header plus enough rows to see a pattern
_NAMES: Final = {"\t": "tab"}


@dataclass(frozen=True)
class Delimiter:
    """The separator and where it came from."""

    character: str
    source: Literal["mapping", "detected", "default"]

    def describe(self) -> str:
        """For the load report, e.g. ``";" (detected)`` or ``tab (mapping)``."""
        shown = _NAMES.get(self.character, f'"{self.character}"')
        return f"{shown} ({self.source})"


def choose_delimiter(lines: list[str], configured: str | None, source: str) -> Delimiter:
    """The mapping's delimiter when given, else the one ``lines`` (a file's physical lines) use.

    Raises ValueError naming ``source`` and the ``delimiter`` option when two candidates fit equally.
    """
    if configured is not None:
        return Delimiter(configured, "mapping")
    fits = {candidate: _fit(lines, candidate) for candidate in CANDIDATES}
    splitting = {candidate: share for candidate, share in fits.items() if share is not None}
    if not splitting:
        return Delimiter(",", "default")
    best = max(splitting.values())
    winners = [candidate for candidate, share in splitting.items() if share == best]
    if len(winners) > 1:
        shown = " and ".join(_NAMES.get(c, f'"{c}"') for c in winners)
        raise ValueError(
            f"{source}: cannot tell the delimiter: the header and first rows split as well on {shown}; "
            "set `delimiter` in the mapping"
        )
    return Delimiter(winners[0], "detected")


def _fit(lines: list[str], candidate: str) -> float | None:
    """Share of the first records as wide as the header when split on ``candidate``; None when
    the header does not split on it (or cannot be read with it)."""
    records = [fields for fields in _records(lines, candidate) if fields]
    if not records or len(records[0]) < 2:
        return None
    width, rows = len(records[0]), records[1:]
    return sum(len(fields) == width for fields in rows) / len(rows) if rows else 1.0


def _records(lines: list[str], candidate: str) -> list[list[str]]:
    """The records of the first lines; a record with broken quoting ends the sample."""
    reader = csv.reader(islice(lines, SAMPLE_LINES), delimiter=candidate, strict=True)
    records: list[list[str]] = []
    try:
        records.extend(reader)
    except csv.Error:
        pass
    return records
