"""What an anonymous caller learns from the probes (``ready`` only) and what an admin key adds.

In process: the product's readiness answer behind the real key check (``ApiKeyMiddleware``), for a
service that is not ready because of a file it could not read (the reasons name the path and the
exception, which only an admin may see).
"""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import pytest
from fastapi import Depends, FastAPI
from fastapi.responses import JSONResponse
from starlette.testclient import TestClient

from features.settings import load_settings
from serving.auth import ApiKeyMiddleware
from serving.caller import SCOPE_KEY, Caller
from serving.live import Served
from serving.probes import admin_asking, readiness_response

KEY = "probe-key-0123456789abcdef"
SECRET_REASON = "cannot read /srv/memberscore/var/snapshots/default/2024-03-01.parquet: PermissionError(13)"
NOT_READY = Served(problems=(SECRET_REASON,), project="acme")


def probe_app() -> FastAPI:
    app = FastAPI()

    @app.get("/readyz")
    def readyz(detailed: Annotated[bool, Depends(admin_asking)] = True) -> JSONResponse:
        return readiness_response(NOT_READY, detailed)

    return app


@pytest.fixture
def http(monkeypatch: pytest.MonkeyPatch) -> TestClient:
    monkeypatch.setenv("MEMBERSCORE_API_KEYS", KEY)
    monkeypatch.delenv("MEMBERSCORE_API_KEY_FILE", raising=False)
    return TestClient(ApiKeyMiddleware(probe_app(), settings=load_settings))  # type: ignore[arg-type]


@pytest.mark.parametrize("headers", [{}, {"X-API-Key": "wrong-key-0123456789abcdef"}], ids=["no key", "wrong key"])
def test_without_a_valid_key_readyz_says_only_whether_it_is_ready(http: TestClient, headers: dict[str, str]) -> None:
    answer = http.get("/readyz", headers=headers)
    assert answer.status_code == 503
    assert answer.json() == {"ready": False}  # no project, path, exception text or model names


def test_an_admin_key_gets_the_reasons(http: TestClient) -> None:
    answer = http.get("/readyz", headers={"X-API-Key": KEY})
    body = answer.json()
    assert answer.status_code == 503 and body["ready"] is False and body["project"] == "acme"
    assert SECRET_REASON in body["reasons"]


@pytest.mark.parametrize(("caller", "detailed"), [
    (None, False),
    (Caller(name="crm-1", role="crm"), False),
    (Caller(name="mk-1", role="marketer", raw_ids=True), False),
    (Caller(name="an-1", role="analyst"), False),
    (Caller(name="ops", role="admin"), True),
])
def test_only_the_admin_role_sees_details(caller: Caller | None, detailed: bool) -> None:
    from starlette.requests import Request

    scope: dict[str, Any] = {"type": "http", "path": "/readyz", "headers": []}
    if caller is not None:
        scope[SCOPE_KEY] = caller
    assert asyncio.run(admin_asking(Request(scope))) is detailed
