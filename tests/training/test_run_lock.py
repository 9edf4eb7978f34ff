"""The project's run lock: one holder; a waiter is told once whom it waits for; a timeout names the holder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from training.commit import Locked, run_lock


def test_a_waiter_is_told_once_then_refused_naming_the_holder(tmp_path: Path) -> None:
    lock, told = tmp_path / "default.lock", []
    with run_lock(lock):  # flock conflicts between two open files even in one process
        with pytest.raises(Locked, match=rf"another run holds {lock} \(pid {os.getpid()} since .*\); waited 0.5 s"):
            with run_lock(lock, 0.5, poll_seconds=0.05, on_wait=told.append):
                pass
    assert len(told) == 1 and told[0].startswith(f"waiting up to 0.5 s for {lock}, held by pid {os.getpid()} since ")


def test_a_free_lock_is_taken_without_a_word_and_released_after_the_block(tmp_path: Path) -> None:
    lock, told = tmp_path / "default.lock", []
    with run_lock(lock, 5, on_wait=told.append):
        assert lock.read_text().startswith(f"pid {os.getpid()} since ")
    with run_lock(lock, 0):  # free again
        pass
    assert told == [] and lock.read_text() == ""
