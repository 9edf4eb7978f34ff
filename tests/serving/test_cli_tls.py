"""``memberscore serve`` refuses a certificate it could not serve with, in one line and exit 2, before
any work; and every command switches usage tracking and telemetry off unless told otherwise. (The
real HTTPS server: ``test_security_server.py``.)"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.main import app
from features.settings import QUIET_ENVIRONMENT, keep_quiet, load_settings
from tests.serving.certificates import make_certificates


@pytest.fixture(autouse=True)
def _restored_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The command's callback writes this process's environment: put it back afterwards."""
    for name in QUIET_ENVIRONMENT:
        monkeypatch.setenv(name, "unchanged")
    monkeypatch.delenv("MEMBERSCORE_TELEMETRY", raising=False)


@pytest.mark.parametrize("which", ["key of another certificate", "certificate alone", "key alone", "missing file"])
def test_a_bad_certificate_pair_is_one_line_and_exit_2(tmp_path: Path, which: str) -> None:
    mine, other = make_certificates(tmp_path / "a"), make_certificates(tmp_path / "b")
    options = {"key of another certificate": ["--ssl-certfile", str(mine.cert), "--ssl-keyfile", str(other.key)],
               "certificate alone": ["--ssl-certfile", str(mine.cert)],
               "key alone": ["--ssl-keyfile", str(mine.key)],
               "missing file": ["--ssl-certfile", str(tmp_path / "none.pem"), "--ssl-keyfile", str(mine.key)]}[which]
    result = CliRunner().invoke(app, ["serve", *options])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: --ssl-certfile") and result.stderr.count("\n") == 1, result.stderr


def test_every_command_starts_with_tracking_off() -> None:
    """The app's callback runs before any command (here one that fails at once): the switches are set."""
    import os

    CliRunner().invoke(app, ["serve", "--ssl-certfile", "missing.pem"])
    assert {name: os.environ[name] for name in QUIET_ENVIRONMENT} == QUIET_ENVIRONMENT


def test_telemetry_true_leaves_the_users_switches_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    environ = {"BENTOML_DO_NOT_TRACK": "False"}
    monkeypatch.setenv("MEMBERSCORE_TELEMETRY", "true")
    assert keep_quiet(load_settings(), environ) == {} and environ == {"BENTOML_DO_NOT_TRACK": "False"}
    monkeypatch.delenv("MEMBERSCORE_TELEMETRY")
    assert keep_quiet(load_settings(), environ) == QUIET_ENVIRONMENT and environ == QUIET_ENVIRONMENT
