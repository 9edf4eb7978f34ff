"""The audit log of the whole service, in process (BentoML's ``to_asgi``, as its testing guide does): the key
check, the audit middleware and the real routes, on the session's trained models. Every route that
touches members logs its rows and never an id, though ids are in the bodies, the queries and the answers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from serving.audit_file import read_entries
from serving.auth import hash_key

pytestmark = pytest.mark.slow
KEY = "audit-service-key-0123456789"


@pytest.fixture
def service(use_trained: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[TestClient, Path]]:
    from serving.service import MemberScoring

    log = tmp_path / "audit.log"
    monkeypatch.setenv("MEMBERSCORE_API_KEYS", KEY)
    monkeypatch.setenv("MEMBERSCORE_AUDIT_LOG", str(log))
    monkeypatch.setenv("MEMBERSCORE_CAMPAIGN_DB", f"sqlite:///{tmp_path / 'campaigns.db'}")
    with TestClient(MemberScoring.to_asgi(), headers={"X-API-Key": KEY}) as client:
        yield client, log


def served_ids() -> list[str]:
    import os

    from features.project import DEFAULT_PROJECT
    from features.store import latest_snapshot_path, read_snapshot

    snapshot = read_snapshot(latest_snapshot_path(Path(os.environ["MEMBERSCORE_SNAPSHOT_DIR"]) / DEFAULT_PROJECT))
    return [str(member) for member in snapshot.frame["member_id"]]


def logged(log: Path, lines: int) -> list[dict[str, Any]]:
    """The entries once ``lines`` are written (a thread writes each just after its answer; up to 5 s)."""
    import time

    deadline = time.monotonic() + 5
    while not (log.exists() and log.read_text(encoding="utf-8").count("\n") >= lines) and time.monotonic() < deadline:
        time.sleep(0.02)
    return list(read_entries(log))


def test_each_route_logs_its_template_and_rows_never_an_id(service: tuple[TestClient, Path]) -> None:
    client, log = service
    ids = served_ids()
    asked = [ids[3], ids[1], "nobody"]
    assert client.post("/score", params={"member_id": ids[7]}, json={"member_ids": asked, "explain": 1}).status_code == 200
    assert client.post("/explain", json={"member_id": ids[2]}).status_code == 200
    targets = client.post("/targets", params={"lang": "zh-CN"},
                          json={"campaign": "winback", "limit": 4, "filters": {"exclude_member_ids": ids[:5]}})
    assert targets.status_code == 200, targets.text
    assert client.post("/targets", params={"format": "csv"}, json={"campaign": "winback", "limit": 6}).status_code == 200
    assert client.post("/targets", json={"campaign": ids[9]}).status_code == 422  # an id where a campaign goes
    assert client.post("/admin/reload").status_code == 200
    assert client.get("/healthz").status_code == 200  # public: no line, with a key too
    assert client.get("/readyz").json()["project"]  # an admin key reads the reasons: still no data access, no line
    found = logged(log, 6)
    name = "env-" + hash_key(KEY)[len("sha256:"):][:8]
    assert [(e["key"], e["role"], e["method"], e["route"], e["status"], e["list"], e["rows"]) for e in found] == [
        (name, "admin", "POST", "/score", 200, None, 3),
        (name, "admin", "POST", "/explain", 200, None, 1),
        (name, "admin", "POST", "/targets", 200, "winback", 4),
        (name, "admin", "POST", "/targets", 200, "winback", 6),
        (name, "admin", "POST", "/targets", 422, None, None),
        (name, "admin", "POST", "/admin/reload", 200, None, None),
    ]
    text = log.read_text(encoding="utf-8")
    assert [member for member in ids if member in text] == [] and KEY not in text
    assert all(json.loads(line)["ms"] >= 0 for line in text.splitlines())
