"""The audit log on disk: JSON lines appended to an owner-only file, rotated by size, read back across rotations.

The service only ever appends (``O_APPEND``: a write never lands anywhere but the end); when the
next line would take the file past its size, ``audit.log`` becomes ``audit.log.1``, ``.1`` becomes
``.2`` and so on, and the oldest beyond the kept number is deleted, as the standard library's
``RotatingFileHandler`` names them. That handler is a ``logging`` handler: the audit lines would
then pass through whatever logging configuration BentoML and the host install, and it creates files
with the process's umask (usually 0644). This writer creates the folder 0700 and every file 0600.

Requests do not wait for the disk: they put their line on a queue and one thread writes
(``AuditWriter``); the lines still queued when the process exits are written before it ends.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import queue
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

log = logging.getLogger(__name__)

FILE_MODE: Final = 0o600
FOLDER_MODE: Final = 0o700
_STOP: Final = object()


class RotatingLines:
    """Appends lines to ``path``, rotating it to ``path.1`` .. ``path.<backups>`` before it would pass ``max_bytes``.

    One writer per file: rotation is a rename, safe within one process (the service runs one).
    """

    def __init__(self, path: Path, max_bytes: int, backups: int) -> None:
        self.path, self.max_bytes, self.backups = path, max_bytes, backups
        self._fd = self._open()
        self._size = os.fstat(self._fd).st_size

    def write(self, line: str) -> None:
        """Append one line (``line`` holds no newline: callers write JSON with control characters escaped)."""
        data = (line + "\n").encode("utf-8")
        if self._size and self._size + len(data) > self.max_bytes:
            self._rotate()
        os.write(self._fd, data)
        self._size += len(data)

    def close(self) -> None:
        os.close(self._fd)

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
    """Writes queued lines on one thread, so a request pays for a queue put, not a disk write.

    A failed write (disk full, file removed from under it) is logged as an error with the count of
    lines lost, never silently; the lines themselves are not echoed into the ordinary log.
    """

    def __init__(self, lines: RotatingLines) -> None:
        self.lines = lines
        self._queue: queue.Queue[object] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="memberscore-audit", daemon=True)
        self._thread.start()
        atexit.register(self.close)

    def put(self, line: str) -> None:
        self._queue.put(line)

    def flush(self) -> None:
        """Wait until every line put so far is on disk (tests, and ``close``)."""
        self._queue.join()

    def close(self) -> None:
        """Write what is queued, then stop the thread and close the file (at exit; idempotent)."""
        if not self._thread.is_alive():
            return
        self._queue.put(_STOP)
        self._thread.join()
        self.lines.close()
        atexit.unregister(self.close)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            try:
                if item is _STOP:
                    return
                self.lines.write(str(item))
            except OSError as error:
                log.error("audit log %s: a line could not be written (%s)", self.lines.path, error.strerror)
            finally:
                self._queue.task_done()


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
