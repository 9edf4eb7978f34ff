"""API keys with a name, role, scope and life (serving.keyfile, cli/keys.py), and the key check
reading the key file again when it changes (serving.auth.KeySource): no restart needed."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner, Result

from cli.main import app
from features.settings import load_settings
from serving import auth
from serving.auth import ApiKeyMiddleware, KeySource, hash_key
from serving.caller import caller_of
from serving.keyfile import KeyRecord, expiry, read_key_file

runner = CliRunner()
NOW = datetime(2026, 12, 6, 3, 0, tzinfo=UTC)


def keys(*args: str) -> Result:
    return runner.invoke(app, ["keys", *args])


def created_key(file: Path, *args: str) -> str:
    result = keys("create", "--file", str(file), *args)
    assert result.exit_code == 0, result.output
    return result.stdout.strip()


async def echo_caller(scope: dict[str, Any], receive: Any, send: Any) -> None:
    caller = caller_of(scope)
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": (repr(caller) if caller else "none").encode()})


def test_create_prints_the_key_once_and_stores_only_its_hash_and_rights(tmp_path: Path) -> None:
    file = tmp_path / "keys"
    key = created_key(file, "--role", "marketer", "--name", "anna", "--expires", "90d", "--store", "S1",
                      "--store", "S2")
    assert key.startswith("ms_") and len(key) >= 24
    text = file.read_text()
    assert key not in text and hash_key(key) in text and file.stat().st_mode & 0o777 == 0o600
    (record,) = read_key_file(file)
    assert (record.name, record.role, record.stores, record.raw_ids) == ("anna", "marketer", ("S1", "S2"), False)
    assert record.expires is not None and record.expires - record.created == timedelta(days=90)
    listed = keys("list", "--file", str(file))
    assert listed.exit_code == 0 and "anna" in listed.stdout and "marketer" in listed.stdout
    assert key not in listed.stdout and hash_key(key)[7:] not in listed.stdout  # no secrets, no hashes


def test_revoke_marks_the_line_and_names_are_never_reused(tmp_path: Path) -> None:
    file = tmp_path / "keys"
    created_key(file, "--role", "crm", "--name", "till-1")
    created_key(file, "--role", "analyst", "--name", "bi")
    assert keys("revoke", "till-1", "--file", str(file)).exit_code == 0
    states = {r.name: r.state(datetime.now(UTC) + timedelta(seconds=1)) for r in read_key_file(file)}
    assert states == {"till-1": "revoked", "bi": "active"}
    again = keys("create", "--file", str(file), "--role", "crm", "--name", "till-1")
    assert again.exit_code == 2 and "a key of that name exists" in again.stderr
    assert "no key of that name" in keys("revoke", "nobody", "--file", str(file)).stderr


@pytest.mark.parametrize(("args", "needle"), [
    (["--role", "boss", "--name", "x"], "--role 'boss': use one of crm, marketer, analyst, admin"),
    (["--role", "crm", "--name", "a b"], "--name 'a b'"),
    (["--role", "crm", "--name", "legacy-1"], "not starting with 'legacy-'"),
    (["--role", "crm", "--name", "x", "--expires", "soon"], "--expires 'soon': expected a length such as 12h, 7d, or a date"),
])
def test_bad_options_are_one_line_naming_the_option(tmp_path: Path, args: list[str], needle: str) -> None:
    result = keys("create", "--file", str(tmp_path / "keys"), *args)
    assert result.exit_code == 2 and needle in result.stderr and not (tmp_path / "keys").exists()


def test_expiry_in_days_hours_or_a_date() -> None:
    assert expiry("90d", NOW) == NOW + timedelta(days=90) and expiry("12h", NOW) == NOW + timedelta(hours=12)
    assert expiry("2027-01-31", NOW) == datetime(2027, 1, 31, tzinfo=UTC) and expiry(None, NOW) is None
    with pytest.raises(ValueError, match="has passed"):
        expiry("2020-01-01", NOW)


def test_an_old_hash_line_is_an_admin_key_with_a_warning_naming_the_line(tmp_path: Path,
                                                                          caplog: pytest.LogCaptureFixture) -> None:
    file = tmp_path / "keys"
    file.write_text(f"# from before roles\n{hash_key('o' * 30)}  # ops\n")
    with caplog.at_level(logging.WARNING):
        (record,) = read_key_file(file)
    assert (record.role, record.name, record.legacy) == ("admin", "legacy-" + hash_key("o" * 30)[7:15], True)
    assert f"{file}:2: a key without a name or role" in caplog.text
    assert keys("revoke", record.name, "--file", str(file)).exit_code == 0  # retired like any other
    assert read_key_file(file)[0].revoked is not None


def test_a_broken_line_is_refused_naming_file_and_line(tmp_path: Path) -> None:
    file = tmp_path / "keys"
    file.write_text('{"name": "a", "role": "crm"}\n')
    with pytest.raises(ValueError, match=rf"^{file}:1: not a key line"):
        read_key_file(file)
    assert f"{file}:1" in keys("create", "--file", str(file), "--role", "crm", "--name", "b").stderr


def test_expired_and_revoked_keys_are_refused_like_unknown_ones(tmp_path: Path) -> None:
    record = KeyRecord(name="a", role="crm", hash=hash_key("a" * 30), created=NOW, expires=NOW + timedelta(days=1))
    ring = auth.KeyRing((record, KeyRecord(name="b", role="crm", hash=hash_key("b" * 30), created=NOW, revoked=NOW)))
    assert ring.caller("a" * 30, NOW) is not None and ring.caller("a" * 30, NOW + timedelta(days=1)) is None
    assert ring.caller("b" * 30, NOW) is None and ring.caller("c" * 30, NOW) is None


def test_the_service_reads_the_key_file_again_when_it_changes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Create and revoke take effect on a running middleware: no restart (the clock stands in for a second)."""
    file = tmp_path / "keys"
    first = created_key(file, "--role", "crm", "--name", "first")
    monkeypatch.delenv("MEMBERSCORE_API_KEYS", raising=False)
    monkeypatch.setenv("MEMBERSCORE_API_KEY_FILE", str(file))
    ticks = iter(range(0, 1000, 2))
    middleware = ApiKeyMiddleware(echo_caller, settings=load_settings)  # type: ignore[arg-type]
    middleware.keys = KeySource(load_settings(), clock=lambda: float(next(ticks)))
    http = TestClient(middleware)  # type: ignore[arg-type]
    assert "name='first'" in http.post("/score", headers={"X-API-Key": first}).text
    second = created_key(file, "--role", "analyst", "--name", "second")
    assert "role='analyst'" in http.post("/explain", headers={"X-API-Key": second}).text
    assert keys("revoke", "first", "--file", str(file)).exit_code == 0
    assert http.post("/score", headers={"X-API-Key": first}).status_code == 401
    file.write_text("not json\n")  # a broken edit keeps the keys read last
    assert http.post("/explain", headers={"X-API-Key": second}).status_code == 200


def test_the_file_is_looked_at_most_once_a_second(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    file = tmp_path / "keys"
    created_key(file, "--role", "crm", "--name", "first")
    monkeypatch.setenv("MEMBERSCORE_API_KEY_FILE", str(file))
    now = [0.0]
    source = KeySource(load_settings(), clock=lambda: now[0])
    key = created_key(file, "--role", "crm", "--name", "later")
    now[0] = 0.5
    assert source.ring().caller(key, datetime.now(UTC)) is None  # not looked at yet
    now[0] = 1.5
    assert source.ring().caller(key, datetime.now(UTC)) is not None


def test_a_weak_plain_key_stops_the_start_naming_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMBERSCORE_API_KEYS", "letmein-please")
    with pytest.raises(ValueError, match=r"^MEMBERSCORE_API_KEYS: key 1 of 1 has 14 characters") as error:
        ApiKeyMiddleware(echo_caller, settings=load_settings)  # type: ignore[arg-type]
    assert "letmein" not in str(error.value)


def test_records_round_trip_through_one_line(tmp_path: Path) -> None:
    record = KeyRecord(name="x", role="marketer", hash=hash_key("x" * 30), created=NOW, stores=("上海 1",),
                       expires=NOW + timedelta(days=3))
    (tmp_path / "k").write_text(record.line() + "\n", encoding="utf-8")
    assert read_key_file(tmp_path / "k") == (record,) and json.loads(record.line())["stores"] == ["上海 1"]
