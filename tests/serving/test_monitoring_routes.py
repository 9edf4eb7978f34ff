"""``GET /monitoring`` (serving.monitoring_routes): drift of the served snapshot from the previous stored one,
behind the API key, open to marketers read-only, breaches logged once per served snapshot."""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from features.drift_rules import read_drift_rules
from features.settings import load_settings
from features.snapshot import Snapshot
from features.store import write_snapshot
from serving import monitoring_routes
from serving.auth import ApiKeyMiddleware
from serving.live import Served
from serving.roles import roles_for
from tests.campaigns.test_store_lists import Live, loaded_snapshot

KEY = "drift-test-key-0123456789abcdef"


def store_previous(directory: Path) -> None:
    """The served members but the last 20, a month earlier, with spend_30d moved far up (a planted shift)."""
    features = loaded_snapshot().features_by_id.iloc[:100].copy()
    features["spend_30d"] = 1000.0 + features["spend_30d"]
    write_snapshot(Snapshot(frame=features.reset_index(), as_of=date(2024, 5, 1), fingerprint="earlier"), directory)


def client_for(directory: Path, monkeypatch: pytest.MonkeyPatch) -> TestClient:
    monkeypatch.setenv("MEMBERSCORE_API_KEYS", KEY)
    app = FastAPI()
    app.include_router(monitoring_routes.router)
    monitoring_routes.attach(app, directory, Live(Served(snapshot=loaded_snapshot(), project="shop")), read_drift_rules())
    return TestClient(ApiKeyMiddleware(app, settings=load_settings), headers={"X-API-Key": KEY})  # type: ignore[arg-type]


def test_a_planted_shift_since_the_previous_snapshot_is_an_alert_and_logged_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    store_previous(tmp_path)
    client = client_for(tmp_path, monkeypatch)
    with caplog.at_level(logging.WARNING, logger="serving.monitoring_routes"):
        body = client.get("/monitoring").json()
        assert client.get("/monitoring").json() == body
    assert body["as_of"] == "2024-06-01" and body["reference"] == {"kind": "previous_snapshot", "as_of": "2024-05-01"}
    rows = {row["column"]: row for row in body["columns"]}
    assert {name: row["psi_level"] for name, row in rows.items()} == {
        "gap_ratio": "ok", "orders_trend_90d": "ok", "tenure_days": "ok", "spend_30d": "alert", "spend_90d": "warn"}
    # spend_90d = 5 x index: the reference's deciles hold 10 members each; the 20 new members all land
    # above the top edge, so 9 bins hold 1/12 of the served members and the top one 30/120.
    expected = 9 * (1 / 12 - 0.1) * np.log((1 / 12) / 0.1) + (0.25 - 0.1) * np.log(0.25 / 0.1)
    assert rows["spend_90d"]["psi"] == pytest.approx(expected, abs=1e-12)
    assert body["unknown_share"] == pytest.approx(20 / 120) and body["unknown_level"] == "warn"
    assert body["breaches"] == 3
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 3 and all("m0" not in line and "m1" not in line for line in lines)


def test_without_an_older_snapshot_there_is_nothing_to_compare(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    body = client_for(tmp_path, monkeypatch).get("/monitoring").json()
    assert body["reference"] is None and body["columns"] == [] and body["breaches"] == 0


def test_monitoring_needs_a_key_and_is_read_only_for_marketers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    client = client_for(tmp_path, monkeypatch)
    assert client.get("/monitoring", headers={"X-API-Key": "wrong"}).status_code == 401
    assert roles_for("GET", "/monitoring") == {"marketer", "analyst", "admin"}
    assert roles_for("POST", "/monitoring") == {"admin"}
