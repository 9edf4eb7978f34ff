"""A snapshot that shrinks is held (issue 14, item 7): ``serving.live.LiveState`` on a tiny snapshot store.

The service serves 40 members; a newer snapshot of 10 (a partial file) is refused, named among the
reasons and logged, and the 40 keep serving, unless it carries the intended-shrink mark or the
threshold allows it. The store is written here; no model serves (a project no test trains), so
only snapshots move.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest

from features.contract import MEMBER_ID
from features.project import DEFAULT_PROJECT
from features.settings import load_settings
from features.simulate import simulate_transactions
from features.snapshot import Snapshot, build_snapshot
from features.store import latest_snapshot_path, project_snapshot_dir, snapshot_facts, write_snapshot
from serving.live import LiveState, Served

PROJECT = "shrink-test"  # no model of this project exists in any store: only snapshots serve
AS_OF = date(2023, 9, 1)


@pytest.fixture(scope="module")
def full() -> Snapshot:
    transactions, _ = simulate_transactions(60, date(2023, 1, 1), 240, seed=5)
    snapshot = build_snapshot(transactions, AS_OF)
    assert len(snapshot.frame) >= 40
    return keep_members(snapshot, 40)


def keep_members(snapshot: Snapshot, count: int, days_later: int = 0) -> Snapshot:
    """The first ``count`` members of ``snapshot``, dated ``days_later`` days after it."""
    ids = snapshot.frame[MEMBER_ID].iloc[:count]

    def only(frame: pd.DataFrame) -> pd.DataFrame:
        return frame[frame[MEMBER_ID].isin(ids)].reset_index(drop=True)

    return dataclasses.replace(snapshot, frame=only(snapshot.frame), profile=only(snapshot.profile),
                               shares=only(snapshot.shares), as_of=snapshot.as_of + timedelta(days=days_later))


def live(directory: Path, ratio: float = 0.5) -> LiveState:
    return LiveState(directory, poll_seconds=0.0, project=PROJECT, min_snapshot_ratio=ratio,
                     tracking_uri=os.environ.get("MLFLOW_TRACKING_URI"))


def served_as_of(state: LiveState | Served) -> tuple[date, int]:
    served = state.current() if isinstance(state, LiveState) else state
    assert served.snapshot is not None
    return served.snapshot.snapshot.as_of, len(served.snapshot.features_by_id)


def shrink_reasons(served: Served) -> list[str]:
    return [reason for reason in served.not_ready_reasons() if "refused" in reason]


def test_a_snapshot_with_fewer_than_half_the_members_is_refused_and_the_old_one_serves(
        full: Snapshot, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    write_snapshot(full, tmp_path)
    state = live(tmp_path)
    assert served_as_of(state) == (AS_OF, 40)
    partial = write_snapshot(keep_members(full, 19, days_later=1), tmp_path)

    with caplog.at_level(logging.ERROR, logger="serving.live"):
        assert served_as_of(state) == (AS_OF, 40)
    (reason,) = shrink_reasons(state.current())
    assert reason.startswith(f"snapshot {partial.name} refused: 19 members, fewer than 50% of the 40 in "
                             f"snapshot-{AS_OF}.parquet")
    assert "--allow-shrink" in reason
    assert caplog.text.count(reason) == 1, "logged once, not at every poll"
    assert served_as_of(state.reload()) == (AS_OF, 40), "an explicit reload holds it too"


def test_half_the_members_is_enough(full: Snapshot, tmp_path: Path) -> None:
    """The threshold is 'fewer than half': 20 of 40 serves."""
    write_snapshot(full, tmp_path)
    state = live(tmp_path)
    write_snapshot(keep_members(full, 20, days_later=1), tmp_path)

    assert served_as_of(state) == (AS_OF + timedelta(days=1), 20)
    assert shrink_reasons(state.current()) == []


def test_an_intended_shrink_is_served(full: Snapshot, tmp_path: Path) -> None:
    write_snapshot(full, tmp_path)
    state = live(tmp_path)
    marked = write_snapshot(keep_members(full, 10, days_later=1), tmp_path, allow_shrink=True)

    assert snapshot_facts(marked).allow_shrink
    assert served_as_of(state) == (AS_OF + timedelta(days=1), 10)
    assert shrink_reasons(state.current()) == []


@pytest.mark.parametrize(("ratio", "served"), [(0.2, 10), (0.0, 10), (0.3, 40), (1.0, 40)])
def test_the_threshold_is_a_setting(full: Snapshot, tmp_path: Path, ratio: float, served: int) -> None:
    """10 of 40 members is 25%: taken with a ratio of 0.2 (or 0: any snapshot), held with 0.3 or 1."""
    write_snapshot(full, tmp_path)
    state = live(tmp_path, ratio)
    write_snapshot(keep_members(full, 10, days_later=1), tmp_path)

    assert served_as_of(state)[1] == served


def test_a_full_snapshot_after_a_refused_one_serves_and_clears_the_reason(full: Snapshot, tmp_path: Path) -> None:
    write_snapshot(full, tmp_path)
    state = live(tmp_path)
    write_snapshot(keep_members(full, 5, days_later=1), tmp_path)
    assert shrink_reasons(state.current())
    write_snapshot(dataclasses.replace(full, as_of=AS_OF + timedelta(days=2)), tmp_path)

    assert served_as_of(state) == (AS_OF + timedelta(days=2), 40)
    assert shrink_reasons(state.current()) == []


def test_a_restart_does_not_take_what_the_running_service_held(full: Snapshot, tmp_path: Path) -> None:
    """Starting on a store whose newest snapshot shrank (unmarked): the one before it serves, with the reason."""
    write_snapshot(full, tmp_path)
    write_snapshot(keep_members(full, 10, days_later=1), tmp_path)

    state = live(tmp_path)
    assert served_as_of(state) == (AS_OF, 40)
    assert len(shrink_reasons(state.current())) == 1


def test_an_unreadable_snapshot_is_refused_once_as_before(full: Snapshot, tmp_path: Path,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    """A file that is no snapshot at all still takes the load-error path: refused, logged once, old one serves."""
    write_snapshot(full, tmp_path)
    state = live(tmp_path)
    (tmp_path / "snapshot-2099-01-01.parquet").write_bytes(b"not parquet")

    with caplog.at_level(logging.ERROR, logger="serving.live"):
        for _ in range(3):
            assert served_as_of(state) == (AS_OF, 40)
    (reason,) = state.current().problems
    assert reason.startswith("snapshot snapshot-2099-01-01.parquet with models [] refused:")
    assert len([r for r in caplog.records if "snapshot-2099-01-01.parquet" in r.getMessage()]) == 1


def test_a_first_snapshot_is_never_held(full: Snapshot, tmp_path: Path) -> None:
    write_snapshot(keep_members(full, 3), tmp_path)
    assert served_as_of(live(tmp_path)) == (AS_OF, 3)


def test_another_projects_snapshot_is_never_picked_up(full: Snapshot, tmp_path: Path) -> None:
    write_snapshot(full, project_snapshot_dir(tmp_path, PROJECT))
    state = live(project_snapshot_dir(tmp_path, PROJECT))
    write_snapshot(dataclasses.replace(full, as_of=AS_OF + timedelta(days=9)), project_snapshot_dir(tmp_path, "other"))

    assert served_as_of(state) == (AS_OF, 40)
    assert latest_snapshot_path(project_snapshot_dir(tmp_path, PROJECT)).name == f"snapshot-{AS_OF}.parquet"


@pytest.mark.parametrize(("text", "reason"), [("-0.1", "greater than or equal to 0"), ("1.5", "less than or equal to 1"),
                                              ("half", "valid number"), ("nan", "less than or equal to 1")])
def test_a_bad_ratio_is_refused_naming_the_variable(monkeypatch: pytest.MonkeyPatch, text: str, reason: str) -> None:
    monkeypatch.setenv("MEMBERSCORE_MIN_SNAPSHOT_RATIO", text)
    with pytest.raises(ValueError, match=f"MEMBERSCORE_MIN_SNAPSHOT_RATIO '{text}': .*{reason}"):
        load_settings()


def test_the_ratio_setting_reads_a_share(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMBERSCORE_MIN_SNAPSHOT_RATIO", "0.25")
    assert load_settings().min_snapshot_ratio == 0.25
    monkeypatch.setenv("MEMBERSCORE_MIN_SNAPSHOT_RATIO", "0")
    assert load_settings().min_snapshot_ratio == 0.0


# --- through the service: /readyz names the held snapshot and stays ready ----------------------------

def test_readyz_names_a_held_snapshot_while_staying_ready(use_trained: object, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from serving.service import MemberScoring

    directory = project_snapshot_dir(tmp_path, DEFAULT_PROJECT)
    current = latest_snapshot_path(use_trained.project_snapshots)
    directory.mkdir(parents=True)
    shutil.copy(current, directory / current.name)
    monkeypatch.setenv("MEMBERSCORE_SNAPSHOT_DIR", str(tmp_path))
    service = MemberScoring()
    served = service.metadata()
    partial = write_snapshot(keep_members(read_snapshot_at(current), 7, days_later=1), directory)

    readiness = service.reload()
    body = json.loads(readiness.body)
    assert readiness.status_code == 200 and body["ready"] is True and body["project"] == DEFAULT_PROJECT
    assert any(reason.startswith(f"snapshot {partial.name} refused: 7 members") for reason in body["reasons"])
    assert service.metadata().snapshot_as_of == served.snapshot_as_of
    assert service.metadata().snapshot_members == served.snapshot_members


def test_the_service_reads_the_threshold_from_the_environment(use_trained: object, tmp_path: Path,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    from serving.service import MemberScoring

    monkeypatch.setenv("MEMBERSCORE_SNAPSHOT_DIR", str(tmp_path))
    monkeypatch.setenv("MEMBERSCORE_MIN_SNAPSHOT_RATIO", "0.9")
    assert MemberScoring().answers.live.min_snapshot_ratio == 0.9
    monkeypatch.setenv("MEMBERSCORE_MIN_SNAPSHOT_RATIO", "2")
    with pytest.raises(ValueError, match="MEMBERSCORE_MIN_SNAPSHOT_RATIO '2'"):
        MemberScoring()


def read_snapshot_at(path: Path) -> Snapshot:
    from features.store import read_snapshot

    return read_snapshot(path)
