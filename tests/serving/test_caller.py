"""The key check names the caller on every request it lets in, and on no public one."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from features.settings import load_settings
from serving.auth import ApiKeyMiddleware, hash_key
from serving.caller import UNAUTHENTICATED, caller_of

KEY = "k" * 32


async def echo_caller(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """A bare ASGI app answering with what the middleware attached."""
    caller = caller_of(scope)
    body = (repr(caller) if caller else "none").encode()
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": body})


def client(monkeypatch: pytest.MonkeyPatch, **environment: str) -> TestClient:
    monkeypatch.delenv("MEMBERSCORE_API_KEYS", raising=False)
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    return TestClient(ApiKeyMiddleware(echo_caller, settings=load_settings))  # type: ignore[arg-type]


def test_a_valid_key_is_named_by_its_hash_never_by_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    answer = client(monkeypatch, MEMBERSCORE_API_KEYS=KEY).get("/segments", headers={"X-API-Key": KEY}).text
    assert f"name='env-{hash_key(KEY)[7:15]}', role='admin'" in answer and KEY not in answer


def test_public_paths_and_rejected_keys_carry_no_caller(monkeypatch: pytest.MonkeyPatch) -> None:
    http = client(monkeypatch, MEMBERSCORE_API_KEYS=KEY)
    assert http.get("/healthz").text == "none"
    assert "role='admin'" in http.get("/readyz", headers={"X-API-Key": KEY}).text  # a public path, with a key
    assert http.get("/readyz", headers={"X-API-Key": "wrong"}).text == "none"  # never refused there
    assert http.get("/segments", headers={"X-API-Key": "wrong"}).status_code == 401


def test_without_authentication_the_caller_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    answer = client(monkeypatch, MEMBERSCORE_INSECURE_NO_AUTH="true").get("/segments").text
    assert answer == repr(UNAUTHENTICATED)
