"""A real PostgreSQL server for the campaign store's tests, started by the test run.

Debian's ``postgresql`` package (``.ci/run`` installs it) brings ``initdb`` and ``pg_ctl`` under
``/usr/lib/postgresql/<version>/bin``. initdb refuses to run as root, so as root the server runs as
the ``postgres`` user (or ``nobody``) on a temporary directory that user owns. It listens on
127.0.0.1 only, on a free port, with no Unix socket, and is stopped when the session ends.
Missing: the tests skip on a developer's machine and fail under CI=true.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.measure import free_port
from tests.campaigns.test_store_lists import loaded_snapshot

HOST = "127.0.0.1"


def _binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    return Path(found[-1]).parent if found else None


def _missing(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason}; CI=true: a missing PostgreSQL fails the test", pytrace=False)
    pytest.skip(reason)


def _as_user() -> tuple[list[str], str | None]:
    """The command prefix that runs the server's tools unprivileged, and that user (None: we are not root)."""
    if os.geteuid() != 0:
        return [], None
    for user in ("postgres", "nobody"):
        try:
            pwd.getpwnam(user)
        except KeyError:
            continue
        return ["runuser", "-u", user, "--"], user
    _missing("running as root and neither user postgres nor nobody exists to run PostgreSQL")
    raise AssertionError("unreachable")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """``postgresql+psycopg://`` URL of a fresh server and database, for this test session only."""
    binaries = _binaries()
    if binaries is None:
        _missing("PostgreSQL is not installed (Debian package postgresql: /usr/lib/postgresql/*/bin/initdb)")
    assert binaries is not None
    prefix, user = _as_user()
    root = Path(tempfile.mkdtemp(prefix="memberscore-pg-"))
    data = root / "data"
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(root, entry.pw_uid, entry.pw_gid)
    role = "memberscore"
    run = lambda *args: subprocess.run([*prefix, *args], check=True, capture_output=True, cwd=root)  # noqa: E731
    port = free_port(HOST)
    try:
        run(str(binaries / "initdb"), "-D", str(data), "-U", role, "--auth=trust", "-E", "UTF8", "--no-sync")
        run(str(binaries / "pg_ctl"), "-D", str(data), "-l", str(root / "server.log"), "-w", "-t", "60",
            "-o", f"-h {HOST} -p {port} -k '' -F", "start")
    except subprocess.CalledProcessError as error:
        shutil.rmtree(root, ignore_errors=True)
        pytest.fail(f"PostgreSQL did not start: {error.stderr.decode(errors='replace')[-500:]}", pytrace=False)
    try:
        yield f"postgresql+psycopg://{role}@{HOST}:{port}/postgres"
    finally:
        subprocess.run([*prefix, str(binaries / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
                       capture_output=True, cwd=root)
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """The campaign database the CLI tests use, set as the environment variable (the CLI's default)."""
    monkeypatch.setattr("cli.campaign.champion_boosters", lambda project, tracking_uri: {})
    monkeypatch.setattr("cli.campaign.newest_snapshot", lambda project, models, snapshot_dir: loaded_snapshot())
    url = f"sqlite:///{tmp_path / 'var' / 'campaigns.db'}"
    monkeypatch.setenv("MEMBERSCORE_CAMPAIGN_DB", url)
    return url
