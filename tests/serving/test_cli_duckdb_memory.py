"""The ``memberscore`` edge applies MEMBERSCORE_DUCKDB_MEMORY_LIMIT to the DuckDB connections a command opens.

Pinned: after a command starts with the variable set, a new connection reports that limit; a value
DuckDB cannot read stops every command with exit 2 and one line naming the variable.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from features.engine import default_backend, limit_duckdb_memory


def connection_limit() -> str:
    return str(default_backend().raw_sql("SELECT current_setting('memory_limit')").fetchone()[0])


def test_a_command_sets_the_limit_of_the_connections_it_opens(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("MEMBERSCORE_DUCKDB_MEMORY_LIMIT", "300MB")
    try:
        result = CliRunner().invoke(app, ["validate", "--transactions", str(tmp_path / "absent.csv")])
        assert result.exit_code == 2 and "file not found" in result.output  # the edge ran before the command
        assert connection_limit() in ("286.1 MiB", "300.0 MB")
    finally:
        limit_duckdb_memory(None)


def test_a_limit_duckdb_cannot_read_stops_the_command_naming_the_variable(monkeypatch: pytest.MonkeyPatch,
                                                                           tmp_path: Path) -> None:
    monkeypatch.setenv("MEMBERSCORE_DUCKDB_MEMORY_LIMIT", "lots")
    result = CliRunner().invoke(app, ["validate", "--transactions", str(tmp_path / "absent.csv")])
    assert result.exit_code == 2
    assert "MEMBERSCORE_DUCKDB_MEMORY_LIMIT 'lots': expected a number and a unit, e.g. 4GB" in result.output
    assert "file not found" not in result.output
