"""The audit log on disk: JSON lines appended to an owner-only file, rotated by size, read back across rotations.

The service only ever appends (``O_APPEND``: a write never lands anywhere but the end); when the
next line would take the file past its size, ``audit.log`` becomes ``audit.log.1``, ``.1`` becomes
``.2`` and so on, and the oldest beyond the kept number is deleted, as the standard library's
``RotatingFileHandler`` names them. That handler is a ``logging`` handler: the audit lines would
then pass through whatever logging configuration BentoML and the host install, and it creates files
with the process's umask (usually 0644). This writer creates the folder 0700 and every file 0600.

Requests do not wait for the disk: they leave their line in memory and one thread writes them in
batches (``AuditWriter``); the lines still pending when the process exits are written before it ends.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, Final

log = logging.getLogger(__name__)

FILE_MODE: Final = 0o600
FOLDER_MODE: Final = 0o700


class RotatingLines:
    """Appends lines to ``path``, rotating it to ``path.1`` .. ``path.<backups>`` before it would pass ``max_bytes``.

    One writer per file: rotation is a rename, safe within one process (the service runs one).
    """

    def __init__(self, path: Path, max_bytes: int, backups: int) -> None:
        self.path, self.max_bytes, self.backups = path, max_bytes, backups
        self._fd = self._open()
        self._size = os.fstat(self._fd).st_size

    def write(self, lines: Iterable[str]) -> None:
        """Append lines (each without a newline: callers write JSON with control characters escaped),
        in as few writes as the rotation allows."""
        chunk = bytearray()
        for line in lines:
            data = (line + "\n").encode("utf-8")
            if self._size + len(chunk) + len(data) > self.max_bytes and self._size + len(chunk) > 0:
                self._append(chunk)
                chunk.clear()
                self._rotate()
            chunk += data
        self._append(chunk)

    def close(self) -> None:
        os.close(self._fd)

    def _append(self, data: bytearray) -> None:
        if data:
            os.write(self._fd, data)
            self._size += len(data)

    def _open(self) -> int:
        self.path.parent.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
        os.fchmod(fd, FILE_MODE)  # a file made earlier under a looser umask is tightened too
        return fd

    def _rotate(self) -> None:
        os.close(self._fd)
        for number in range(self.backups - 1, 0, -1):
            older = numbered(self.path, number)
            if older.exists():
                os.replace(older, numbered(self.path, number + 1))
        os.replace(self.path, numbered(self.path, 1))
        self._fd, self._size = self._open(), 0


def numbered(path: Path, number: int) -> Path:
    """The ``number``-th rotated file of ``path`` (1 is the newest)."""
    return path.with_name(f"{path.name}.{number}")


class AuditWriter:
    """Writes the lines requests leave, in batches, on one thread: a request pays for a deque append.

    A queue that woke the thread for every line cost more than the write itself (the thread's wake-up
    and its turn at the GIL, per request); the thread instead wakes every ``interval`` seconds and
    writes what gathered in one call. A crash that kills the process (not a normal stop, which
    writes everything) can lose the last ``interval`` of lines. A failed write (disk full, folder
    gone) is logged as an error with the number of lines lost, never silently, and without them.
    """

    def __init__(self, lines: RotatingLines, interval: float = 0.1) -> None:
        self.lines, self.interval = lines, interval
        self._pending: deque[str] = deque()
        self._lock = threading.Lock()  # one drain at a time: the thread's, or a caller's flush
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="memberscore-audit", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    def put(self, line: str) -> None:
        self._pending.append(line)  # atomic, no lock: safe from the event loop and worker threads

    def flush(self) -> None:
        """Write every line put so far now (tests, and ``close``)."""
        with self._lock:
            batch = [self._pending.popleft() for _ in range(len(self._pending))]
            try:
                self.lines.write(batch)
            except OSError as error:
                log.error("audit log %s: %d lines could not be written (%s)", self.lines.path, len(batch),
                          error.strerror)

    def close(self) -> None:
        """Write what is pending, stop the thread and close the file (at exit too; idempotent)."""
        if self._stop.is_set():
            return
        self._stop.set()
        self._thread.join()
        self.flush()
        self.lines.close()
        atexit.unregister(self.close)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.flush()


def log_files(path: Path) -> list[Path]:
    """``path`` and its rotated files that exist, oldest first (``path.N`` .. ``path.1``, ``path``)."""
    rotated = [(int(p.name.rsplit(".", 1)[1]), p) for p in path.parent.glob(f"{path.name}.*")
               if p.name.rsplit(".", 1)[1].isdigit()]
    current = [path] if path.exists() else []
    return [p for _, p in sorted(rotated, reverse=True)] + current


def read_entries(path: Path) -> Iterator[dict[str, Any]]:
    """Every entry of the audit log and its rotated files, oldest first.

    A line that is not a JSON object (a file cut short by a crash mid-line) is a ValueError naming
    the file and line, not skipped: an audit trail with a silent gap cannot be trusted.
    """
    for file in log_files(path):
        with file.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, start=1):
                try:
                    entry = json.loads(line)
                except json.JSONDecodeError:
                    entry = None
                if not isinstance(entry, dict):
                    raise ValueError(f"{file}:{number}: not an audit entry (a JSON object per line)")
                yield entry
