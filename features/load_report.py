"""What one load did and how it read the file: the loader's report (``features.load``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class LoadReport:
    """What one load did: nothing read is unaccounted for, and how the file was read.

    ``delimiter`` (CSV only), e.g. ``";" (detected)``; ``ts_reading``, e.g. ``day-first (inferred
    from 13/02/2024)``; ``hints``: what to set in the mapping when rejects suggest a misreading.
    """

    source: str
    rows_read: int
    rows_kept: int
    rejected_by_reason: dict[str, int]
    rejects_path: str | None
    delimiter: str | None = None
    ts_reading: str | None = None
    hints: tuple[str, ...] = ()

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
            "delimiter": self.delimiter,
            "ts_reading": self.ts_reading,
            "hints": list(self.hints),
        }

    def summary(self) -> str:
        """One line for a human, e.g. ``read 10 rows, kept 8, rejected 2 (unparseable ts: 2)``,
        then how the file was read and any hint, ``; ``-separated (a CLI error shows one line)."""
        line = (
            f"read {self.rows_read:,} rows, kept {self.rows_kept:,}, "
            f"rejected {self.rows_rejected:,}"
        )
        if self.rejected_by_reason:
            reasons = ", ".join(f"{why}: {count:,}" for why, count in self.rejected_by_reason.items())
            line = f"{line} ({reasons})"
        notes = [*self.hints]
        if self.delimiter is not None:
            notes.append(f"delimiter {self.delimiter}")
        if self.ts_reading is not None:
            notes.append(f"ts read {self.ts_reading}")
        return "; ".join([line, *notes])
