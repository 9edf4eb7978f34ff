"""The audit log (serving.audit, serving.audit_file): exactly one line per request a key made, with the
route's template and what the route noted, never a member id; lines that cannot be forged; rotation
keeping N owner-only files, read back across them.

The in-process app is the campaign routes on the hand-built snapshot of tests/campaigns/test_store_lists.py
(members m000..m119), behind the real key check and the audit middleware, plus one route that notes
whatever its path holds, to show hostile text stays on its line.
"""

from __future__ import annotations

import json
import re
import stat
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.testclient import TestClient
from starlette.exceptions import HTTPException

from campaigns.store import open_store
from features.settings import load_settings
from serving import campaign_routes
from serving.audit import AuditMiddleware, audit_line, note
from serving.audit_file import AuditWriter, RotatingLines, log_files, read_entries
from serving.auth import ApiKeyMiddleware, hash_key
from serving.caller import Caller
from serving.errors import http_error, validation_error
from serving.keyfile import KeyRecord, append_key, now_utc
from serving.live import Served
from tests.campaigns.test_store_lists import BODY, KEY, Live, loaded_snapshot

MEMBER_ID = re.compile(r"m\d{3}(?!\d)")  # the hand-built snapshot's ids
KEY_NAME = "env-" + hash_key(KEY)[len("sha256:"):][:8]  # a MEMBERSCORE_API_KEYS key is named env-<hash prefix>


@pytest.fixture
def audited(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[TestClient, AuditMiddleware, Path]]:
    """(a client with the key, the audit middleware, the log's path)."""
    log = tmp_path / "logs" / "audit.log"
    monkeypatch.setenv("MEMBERSCORE_API_KEYS", KEY)
    monkeypatch.setenv("MEMBERSCORE_AUDIT_LOG", str(log))
    store = open_store(f"sqlite:///{tmp_path / 'campaigns.db'}")
    app = FastAPI()
    app.add_exception_handler(RequestValidationError, validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, http_error)  # type: ignore[arg-type]
    app.include_router(campaign_routes.router)
    campaign_routes.attach(app, store, Live(Served(snapshot=loaded_snapshot(), project="shop")), "shop")

    @app.get("/echo/{text}")
    def echo(text: str) -> dict[str, str]:
        note(list_name=text, rows=1)  # a careless route noting raw input: still one line
        return {"text": text}

    middleware = AuditMiddleware(ApiKeyMiddleware(app, settings=load_settings), settings=load_settings)  # type: ignore[arg-type]
    client = TestClient(middleware, headers={"X-API-Key": KEY})  # type: ignore[arg-type]  # as the service stacks them
    yield client, middleware, log
    middleware.writer.close()
    store.close()


def entries(middleware: AuditMiddleware, log: Path, count: int) -> list[dict[str, Any]]:
    """The log's entries once it holds ``count`` (a line is left just after its answer is sent: up to 5 s)."""
    deadline = time.monotonic() + 5
    while True:
        middleware.writer.flush()
        found = list(read_entries(log))
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.01)


def without_timing(entry: dict[str, Any]) -> dict[str, Any]:
    """An entry minus its time and duration, after checking their shapes."""
    assert datetime.fromisoformat(entry["time"]).utcoffset() == UTC.utcoffset(None)
    assert isinstance(entry["ms"], float) and entry["ms"] >= 0
    return {k: v for k, v in entry.items() if k not in ("time", "ms")}


def test_a_request_writes_exactly_its_line_and_no_member_id(audited: tuple[TestClient, AuditMiddleware, Path]) -> None:
    client, middleware, log = audited
    body = {**BODY, "filters": {"exclude_member_ids": ["m007", "m008"]}}
    created = client.post("/campaigns", params={"member_id": "m042", "q": "m043"}, json=body)
    assert created.status_code == 200, created.text
    campaign_id = created.json()["campaign"]["id"]
    exported = client.get(f"/campaigns/{campaign_id}", params={"format": "csv", "member_id": "m044"})
    assert len(MEMBER_ID.findall(exported.text)) == 88  # the answer holds ids; the log must not
    assert client.get("/campaigns/cmp-missing").status_code == 404
    assert [without_timing(e) for e in entries(middleware, log, 3)] == [
        {"key": KEY_NAME, "role": "admin", "method": "POST", "route": "/campaigns", "status": 200,
         "campaign_id": campaign_id, "list": "winback", "rows": 88},  # 98 listed (2 excluded) less 10 held out
        {"key": KEY_NAME, "role": "admin", "method": "GET", "route": "/campaigns/{campaign_id}", "status": 200,
         "campaign_id": campaign_id, "list": "winback", "rows": 88},
        {"key": KEY_NAME, "role": "admin", "method": "GET", "route": "/campaigns/{campaign_id}", "status": 404,
         "campaign_id": None, "list": None, "rows": None},  # an id the store does not know is not echoed
    ]
    text = log.read_text(encoding="utf-8")
    assert MEMBER_ID.findall(text) == [] and KEY not in text and "member_id" not in text
    assert list(json.loads(text.splitlines()[0])) == ["time", "key", "role", "method", "route", "status",
                                                      "campaign_id", "list", "rows", "ms"]


def test_refusals_and_unmatched_paths_are_logged_without_a_route(audited: tuple[TestClient, AuditMiddleware, Path]) -> None:
    """A wrong key is a line with no key or role (401); a public path is none; an unmatched path has route null."""
    client, middleware, log = audited
    assert client.get("/campaigns", headers={"X-API-Key": "wrong"}).status_code == 401
    assert client.get("/healthz", headers={"X-API-Key": "wrong"}).status_code != 401
    assert client.get("/no/such/m001").status_code == 404
    assert [(e["key"], e["role"], e["route"], e["status"]) for e in entries(middleware, log, 2)] == [
        (None, None, None, 401), (KEY_NAME, "admin", None, 404)]


def test_a_role_refused_a_route_is_logged_with_its_key_and_role(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    keys, log, crm_key = tmp_path / "keys", tmp_path / "audit.log", "crm-" + "k" * 24
    append_key(keys, KeyRecord(name="crm-till", role="crm", hash=hash_key(crm_key), created=now_utc()))
    monkeypatch.delenv("MEMBERSCORE_API_KEYS", raising=False)
    monkeypatch.setenv("MEMBERSCORE_API_KEY_FILE", str(keys))
    monkeypatch.setenv("MEMBERSCORE_AUDIT_LOG", str(log))
    middleware = AuditMiddleware(ApiKeyMiddleware(FastAPI(), settings=load_settings), settings=load_settings)  # type: ignore[arg-type]
    assert TestClient(middleware).get("/campaigns", headers={"X-API-Key": crm_key}).status_code == 403  # type: ignore[arg-type]
    assert [without_timing(e) for e in entries(middleware, log, 1)] == [
        {"key": "crm-till", "role": "crm", "method": "GET", "route": None, "status": 403,
         "campaign_id": None, "list": None, "rows": None}]
    middleware.writer.close()


def test_a_forged_newline_or_escape_in_a_path_stays_on_its_line(audited: tuple[TestClient, AuditMiddleware, Path]) -> None:
    client, middleware, log = audited
    forged = '%0A{"key":"admin","role":"admin"}%0D%1B[2J%E2%80%A8'
    assert client.get(f"/echo/{forged}").status_code == 200
    found = entries(middleware, log, 1)
    assert len(log.read_text(encoding="utf-8").splitlines()) == len(found) == 1
    assert found[0]["route"] == "/echo/{text}" and found[0]["list"] == '\n{"key":"admin","role":"admin"}\r\x1b[2J\u2028'
    assert re.fullmatch(r"[\x20-\x7e]+\n", log.read_text(encoding="utf-8"))  # printable ASCII only: escapes stay escaped


def test_a_key_name_with_control_characters_is_escaped() -> None:
    line = audit_line(datetime(2026, 12, 1, tzinfo=UTC), Caller(name="ops\nfake\u0085", role="analyst"), "GET",
                      "/metadata", 200, {}, 0.00123)
    assert line == ('{"time":"2026-12-01T00:00:00.000+00:00","key":"ops\\nfake\\u0085","role":"analyst","method":"GET",'
                    '"route":"/metadata","status":200,"campaign_id":null,"list":null,"rows":null,"ms":1.2}')


def test_an_error_escaping_the_app_is_logged_as_500(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMBERSCORE_AUDIT_LOG", str(tmp_path / "audit.log"))
    monkeypatch.setenv("MEMBERSCORE_INSECURE_NO_AUTH", "true")
    monkeypatch.delenv("MEMBERSCORE_API_KEYS", raising=False)
    app = FastAPI()

    @app.post("/admin/reload")
    def broken() -> None:
        raise RuntimeError("boom")

    middleware = AuditMiddleware(app, settings=load_settings)  # type: ignore[arg-type]
    client = TestClient(ApiKeyMiddleware(middleware, settings=load_settings), raise_server_exceptions=False)  # type: ignore[arg-type]
    assert client.post("/admin/reload").status_code == 500
    assert [(e["key"], e["route"], e["status"]) for e in entries(middleware, tmp_path / "audit.log", 1)] == [
        ("insecure-no-auth", "/admin/reload", 500)]
    middleware.writer.close()


def test_rotation_keeps_n_owner_only_files_and_reads_back_across_them(tmp_path: Path) -> None:
    path = tmp_path / "var" / "audit.log"
    lines = RotatingLines(path, max_bytes=40, backups=2)
    for number in range(10):
        lines.write([json.dumps({"n": number, "pad": "x" * 8})])  # 26 bytes: one line per file
    lines.close()
    assert log_files(path) == [path.with_name("audit.log.2"), path.with_name("audit.log.1"), path]
    assert [entry["n"] for entry in read_entries(path)] == [7, 8, 9]
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert {stat.S_IMODE(p.stat().st_mode) for p in log_files(path)} == {0o600}


def test_an_existing_file_is_appended_to_and_made_owner_only(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    path.write_text('{"n":0}\n', encoding="utf-8")
    path.chmod(0o644)
    writer = AuditWriter(RotatingLines(path, max_bytes=4096, backups=3))
    writer.put('{"n":1}')
    writer.close()
    writer.close()  # idempotent (it also runs at exit)
    assert path.read_text(encoding="utf-8") == '{"n":0}\n{"n":1}\n' and stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_torn_line_is_an_error_naming_the_file_and_line(tmp_path: Path) -> None:
    path = tmp_path / "audit.log"
    path.write_text('{"n":0}\n{"n":1', encoding="utf-8")
    with pytest.raises(ValueError, match=r"audit.log:2: not an audit entry"):
        list(read_entries(path))
