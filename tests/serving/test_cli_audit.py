"""``memberscore audit``: the entries since --since across the log and its rotated files, filtered by key and
route, as rows or as stored JSON; a bad --since or no log is one line and exit 2."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from cli.audit import parse_since
from cli.main import app
from serving.audit_file import RotatingLines

runner = CliRunner()
NOW = datetime.now(UTC)


def entry(age: timedelta, key: str, route: str | None, rows: int | None = None) -> dict[str, Any]:
    return {"time": (NOW - age).isoformat(timespec="milliseconds"), "key": key, "role": "marketer", "method": "POST",
            "route": route, "status": 200, "campaign_id": None, "list": "winback" if rows else None, "rows": rows,
            "ms": 3.5}


# oldest first; one line per file (max_bytes below a line's size), so the 4 written land in audit.log.3 .. audit.log
ENTRIES = [entry(timedelta(days=9), "crm-a", "/score", 5),
           entry(timedelta(days=6), "crm-a", "/score", 7),
           entry(timedelta(hours=30), "mkt-b", "/targets", 100),
           entry(timedelta(minutes=5), "crm-a\x1b[2J", "/score", 1)]


@pytest.fixture
def log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "audit.log"
    lines = RotatingLines(path, max_bytes=4096 // 16, backups=5)
    for item in ENTRIES:
        lines.write([json.dumps(item, ensure_ascii=True)])
    lines.close()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["audit.log", "audit.log.1", "audit.log.2", "audit.log.3"]
    monkeypatch.setenv("MEMBERSCORE_AUDIT_LOG", str(path))
    return path


def audit(*args: str) -> Result:
    return runner.invoke(app, ["audit", *args])


def test_since_reads_across_the_rotated_files_oldest_first(log: Path) -> None:
    result = audit("--since", "7d")
    assert result.exit_code == 0, result.output
    rows = result.stdout.splitlines()
    assert rows[0] == "time\tkey\trole\tmethod\troute\tstatus\tcampaign_id\tlist\trows\tms"
    assert [row.split("\t")[1] for row in rows[1:]] == ["crm-a", "mkt-b", "crm-a\\x1b[2J"]  # escaped on the terminal
    assert rows[2].split("\t")[4:] == ["/targets", "200", "", "winback", "100", "3.5"]
    assert result.stderr.startswith("3 requests since ")


def test_key_route_and_json(log: Path) -> None:
    result = audit("--since", "2w", "--key", "crm-a", "--route", "/score", "--json")
    assert result.exit_code == 0, result.output
    assert [json.loads(line) for line in result.stdout.splitlines()] == ENTRIES[:2]
    assert audit("--since", "1h", "--lang", "zh-CN").stderr.startswith("自 ")


@pytest.mark.parametrize("since", ["7x", "-7d", "yesterday", "2026-13-01", ""])
def test_a_bad_since_is_one_line_and_exit_2(log: Path, since: str) -> None:
    result = audit("--since", since)
    assert result.exit_code == 2
    assert result.stderr == f"error: --since {since!r}: expected a length such as 30m, 12h, 7d, 2w, or a date as YYYY-MM-DD\n"


def test_no_log_is_one_line_and_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMBERSCORE_AUDIT_LOG", str(tmp_path / "none.log"))
    result = audit()
    assert result.exit_code == 2 and len(result.stderr.splitlines()) == 1 and "MEMBERSCORE_AUDIT_LOG" in result.stderr


def test_since_accepts_ages_and_utc_dates() -> None:
    now = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
    assert parse_since("30m", now) == datetime(2026, 12, 6, 11, 30, tzinfo=UTC)
    assert parse_since("2w", now) == datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
    assert parse_since("2026-12-01", now) == datetime(2026, 12, 1, tzinfo=UTC)
