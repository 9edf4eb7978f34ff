"""The refresh log: one JSON line per ``memberscore refresh`` run, in the project's snapshot directory.

``<snapshot_dir>/<project>/refresh.jsonl``: when the run finished, its outcome (ok, retrained,
alert), the reasons as data (``features.refresh_reasons``: shown in the reader's language later),
the tasks retrained and those the retrain had to skip (and why), free notes (the gate's verdicts,
already in words) and the exit code. It holds no member data. A line is appended with one ``write`` on a file opened for appending, so runs never
interleave within a line; the file is created owner-only (0600, folder 0700) whatever the umask,
like everything else the product writes (features.owner_only). A line that cannot be read (a disk
that filled mid-write) is skipped with a warning, never a reason to hide the other runs.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from features.i18n import Translator
from features.refresh_outcome import EXIT_CODES, Outcome
from features.refresh_reasons import Reason, reason_line

LOG_FILE: Final = "refresh.jsonl"
OWNER_FILE: Final = 0o600
OWNER_FOLDER: Final = 0o700
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RefreshRun:
    """One refresh run as logged; ``finished_at`` is timezone-aware (stored in UTC)."""

    finished_at: datetime
    outcome: Outcome
    reasons: tuple[Reason, ...] = ()
    retrained: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    skipped: Mapping[str, str] = field(default_factory=dict)  # task -> why a retrain could not fit it

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.outcome]

    def as_record(self) -> dict[str, Any]:
        return {"finished_at": _utc_text(self.finished_at), "outcome": self.outcome, "exit_code": self.exit_code,
                "retrained": list(self.retrained), "reasons": [r.as_record() for r in self.reasons],
                "notes": list(self.notes), "skipped": dict(self.skipped)}

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> RefreshRun:
        if record["outcome"] not in EXIT_CODES:
            raise ValueError(f"outcome {record['outcome']!r} is not one of {', '.join(EXIT_CODES)}")
        return cls(datetime.fromisoformat(record["finished_at"]), record["outcome"],
                   tuple(Reason.from_record(r) for r in record.get("reasons", [])),
                   tuple(str(t) for t in record.get("retrained", [])), tuple(str(n) for n in record.get("notes", [])),
                   {str(task): str(why) for task, why in (record.get("skipped") or {}).items()})


def refresh_log_path(project_snapshots: Path) -> Path:
    return project_snapshots / LOG_FILE


def append_run(project_snapshots: Path, run: RefreshRun) -> Path:
    """Add ``run`` to the project's refresh log (created owner-only); returns the log's path."""
    if run.finished_at.tzinfo is None:
        raise ValueError("finished_at: a timezone-aware time is needed (UTC)")
    project_snapshots.mkdir(mode=OWNER_FOLDER, parents=True, exist_ok=True)
    path = refresh_log_path(project_snapshots)
    line = (json.dumps(run.as_record(), ensure_ascii=False, sort_keys=True) + "\n").encode("utf-8")
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, OWNER_FILE)
    try:
        os.write(descriptor, line)
    finally:
        os.close(descriptor)
    return path


def read_runs(project_snapshots: Path) -> list[RefreshRun]:
    """Every readable run, in the order they were logged (oldest first); [] without a log."""
    path = refresh_log_path(project_snapshots)
    if not path.is_file():
        return []
    runs, unreadable = [], 0
    for text in path.read_text(encoding="utf-8", errors="replace").splitlines():
        if not text.strip():
            continue
        try:
            runs.append(RefreshRun.from_record(json.loads(text)))
        except (ValueError, KeyError, TypeError):
            unreadable += 1
    if unreadable:
        log.warning("refresh log %s: %d unreadable line(s) skipped", path, unreadable)
    return runs


def latest_runs(runs: Sequence[RefreshRun]) -> tuple[RefreshRun | None, RefreshRun | None]:
    """The newest run, and the newest run that retrained a model (None where there is none)."""
    last = max(runs, key=lambda r: r.finished_at, default=None)
    retrain = max((r for r in runs if r.retrained), key=lambda r: r.finished_at, default=None)
    return last, retrain


def refresh_section(project_snapshots: Path, words: Translator) -> dict[str, Any] | None:
    """The ``refresh`` section of ``GET /monitoring``: the last run, its reasons in the reader's
    language, and when a model was last retrained; None before the first run."""
    last, retrain = latest_runs(read_runs(project_snapshots))
    if last is None:
        return None
    return {"last_run": _utc_text(last.finished_at), "outcome": last.outcome, "exit_code": last.exit_code,
            "reasons": [reason_line(r, words) for r in last.reasons] + list(last.notes),
            "retrained": list(last.retrained),
            "last_retrain": _utc_text(retrain.finished_at) if retrain else None,
            "last_retrained": list(retrain.retrained) if retrain else []}


def _utc_text(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
