"""features.refresh_log and refresh_outcome: one owner-only JSON line per run, the latest run and retrain,
the /monitoring section in the reader's language, and the exit codes."""

from __future__ import annotations

import json
import logging
import os
import stat
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from features.i18n import translator
from features.refresh_log import RefreshRun, append_run, read_runs, refresh_log_path, refresh_section
from features.refresh_outcome import EXIT_ALERT, EXIT_BAD_INPUT, EXIT_OK, EXIT_RETRAINED, exit_code, outcome_of
from features.refresh_reasons import Reason

T0 = datetime(2026, 12, 4, 5, 0, tzinfo=UTC)
AGE = Reason("champion_age", "retrain", "churn", {"version": "3", "days": 100, "max_days": 90})


@pytest.mark.parametrize(("retrained", "alert", "outcome", "code"), [
    (False, False, "ok", 0), (True, False, "retrained", 3), (False, True, "alert", 4), (True, True, "alert", 4)])
def test_outcome_and_exit_code(retrained: bool, alert: bool, outcome: str, code: int) -> None:
    assert outcome_of(retrained, alert) == outcome and exit_code(outcome_of(retrained, alert)) == code
    assert (EXIT_OK, EXIT_BAD_INPUT, EXIT_RETRAINED, EXIT_ALERT) == (0, 2, 3, 4)


def test_runs_are_appended_as_json_lines_owner_only(tmp_path: Path) -> None:
    project = tmp_path / "snapshots" / "shop"
    old_mask = os.umask(0o022)  # a permissive umask: the log is owner-only anyway
    try:
        append_run(project, RefreshRun(T0, "retrained", (AGE,), ("churn",), ("churn: promoted v4",)))
        append_run(project, RefreshRun(T0 + timedelta(days=1), "ok"))
    finally:
        os.umask(old_mask)
    path = refresh_log_path(project)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600 and stat.S_IMODE(project.stat().st_mode) == 0o700
    lines = path.read_text(encoding="utf-8").splitlines()
    assert json.loads(lines[0]) == {
        "finished_at": "2026-12-04T05:00:00Z", "outcome": "retrained", "exit_code": 3, "retrained": ["churn"],
        "notes": ["churn: promoted v4"], "skipped": {},
        "reasons": [{"rule": "champion_age", "action": "retrain", "task": "churn",
                     "values": {"version": "3", "days": 100, "max_days": 90}}]}
    assert read_runs(project) == [RefreshRun(T0, "retrained", (AGE,), ("churn",), ("churn: promoted v4",)),
                                  RefreshRun(T0 + timedelta(days=1), "ok")]


def test_the_section_shows_the_last_run_and_the_last_retrain(tmp_path: Path) -> None:
    beijing = timezone(timedelta(hours=8))
    append_run(tmp_path, RefreshRun(T0, "retrained", (AGE,), ("churn",)))
    append_run(tmp_path, RefreshRun(datetime(2026, 12, 6, 13, 0, tzinfo=beijing), "alert",
                                    (Reason("no_champion", "alert", "upsell"),)))
    assert refresh_section(tmp_path, translator("en")) == {
        "last_run": "2026-12-06T05:00:00Z", "outcome": "alert", "exit_code": 4,
        "reasons": ["alert: Upsell: no champion yet (rule no_champion)"], "retrained": [],
        "last_retrain": "2026-12-04T05:00:00Z", "last_retrained": ["churn"]}
    assert refresh_section(tmp_path, translator("zh-CN"))["reasons"] == ["告警：交叉销售：尚无冠军模型（规则 no_champion）"]  # type: ignore[index]


def test_no_log_is_no_section(tmp_path: Path) -> None:
    assert refresh_section(tmp_path, translator("en")) is None and read_runs(tmp_path) == []


def test_an_unreadable_line_is_skipped_with_a_warning(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    append_run(tmp_path, RefreshRun(T0, "ok"))
    with refresh_log_path(tmp_path).open("a", encoding="utf-8") as log:
        log.write('{"finished_at": "2026-12-05T05:00:00Z", "outc\n{"finished_at": "2026-12-05T05:00:00Z", "outcome": "great"}\n')
    append_run(tmp_path, RefreshRun(T0 + timedelta(days=2), "ok"))
    with caplog.at_level(logging.WARNING, logger="features.refresh_log"):
        assert [r.finished_at for r in read_runs(tmp_path)] == [T0, T0 + timedelta(days=2)]
    assert "2 unreadable line(s) skipped" in caplog.text


def test_a_naive_time_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="finished_at: a timezone-aware"):
        append_run(tmp_path, RefreshRun(datetime(2026, 12, 6), "ok"))
