"""The commit step of a training run: winners become champions all at once, and one run at a time.

A run may register model versions as it goes (they serve nobody until an alias names them);
moving the ``champion`` aliases is the step that changes what serves, so it comes last and is
undone should it fail part-way. ``run_lock`` serialises runs (and operator moves of the alias)
on one project, so two runs started together cannot both promote "with no champion yet".
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING

from models import catalog
from models.tasks import TASK_NAMES
from training import registry

if TYPE_CHECKING:
    from training.pipeline import TrainingRun


def commit_champions(run: TrainingRun, *, project: str, then: Callable[[], object] | None = None) -> dict[str, str]:
    """Move ``champion`` of every task whose run passed its gate, then run ``then`` (e.g. write the
    snapshot): all or none. Returns task -> new champion version.

    Should a move or ``then`` fail, the aliases already moved are put back (with their history)
    before the error goes on, so the registry never serves a mix of two runs, nor new models
    beside a snapshot that was not written.
    """
    winners = {r.task: r.version for r in run.results if r.decision.promote}
    before = {task: (catalog.alias_version(task, catalog.CHAMPION, project=project),
                     registry.champion_history(task, project=project)) for task in winners}
    moved: list[str] = []
    try:
        for task, version in winners.items():
            registry.move_champion(task, version, project=project)
            moved.append(task)
        if then is not None:
            then()
    except Exception:
        for task in moved:
            registry.restore_champion(task, *before[task], project=project)
        raise
    return winners


def promoted_tasks(run: TrainingRun, *, project: str) -> set[str]:
    """The tasks that will have a champion once ``run`` is committed: its winners and the current champions."""
    current = {task for task in TASK_NAMES if catalog.alias_version(task, catalog.CHAMPION, project=project)}
    return current | {r.task for r in run.results if r.decision.promote}



class Locked(ValueError):
    """Another run holds the project's lock (a ValueError: the CLI says it in one line, exit 2)."""


def lock_path(snapshot_dir: Path) -> Path:
    """The lock file of a project: beside its snapshot directory, named after it."""
    return snapshot_dir.parent / f"{snapshot_dir.name}.lock"


@contextmanager
def run_lock(path: Path, wait_seconds: float = 0.0, *, poll_seconds: float = 0.2,
             on_wait: Callable[[str], object] | None = None) -> Iterator[None]:
    """Hold an exclusive lock on ``path`` for the block, waiting up to ``wait_seconds`` for it.

    ``flock`` is released by the kernel when the holder exits, even killed, so a crashed run never
    leaves the project locked. Raises ``Locked`` naming the holder (pid, since when) on timeout.
    ``on_wait`` is told once, naming the holder, when the lock is taken and the call will wait:
    a command that sits silent for minutes looks hung.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + wait_seconds
    with open(path, "a+", encoding="utf-8") as handle:
        told = False
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise Locked(f"another run holds {path} ({_holder(handle)}); waited {wait_seconds:g} s: try again "
                                 "when it finishes, or pass --wait SECONDS") from None
                if on_wait is not None and not told:
                    on_wait(f"waiting up to {wait_seconds:g} s for {path}, held by {_holder(handle)}")
                    told = True
                time.sleep(poll_seconds)
        try:
            handle.seek(0)
            handle.truncate()
            handle.write(f"pid {os.getpid()} since {datetime.now(UTC).isoformat(timespec='seconds')}")
            handle.flush()
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)


def _holder(handle: IO[str]) -> str:
    """What the holder wrote into the lock file (pid, since when)."""
    handle.seek(0)
    return handle.read().strip() or "another process"
