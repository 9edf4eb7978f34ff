"""``GET /monitoring``'s ``refresh`` section: the last refresh run and retrain from the refresh log, in the asked language."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from features.refresh_log import RefreshRun, append_run
from features.refresh_reasons import Reason
from features.settings import load_settings
from serving import page_scripts
from serving.auth import ApiKeyMiddleware
from tests.serving.test_monitoring_routes import client_for


def test_null_before_the_first_run_then_the_last_run_and_retrain(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    client = client_for(tmp_path, monkeypatch)
    assert client.get("/monitoring").json()["refresh"] is None
    append_run(tmp_path, RefreshRun(datetime(2026, 12, 5, 5, tzinfo=UTC), "retrained",
                                    (Reason("no_champion", "retrain", "churn"),), ("churn",)))
    append_run(tmp_path, RefreshRun(datetime(2026, 12, 6, 5, tzinfo=UTC), "ok"))
    assert client.get("/monitoring").json()["refresh"] == {  # read again: a run needs no new snapshot
        "last_run": "2026-12-06T05:00:00Z", "outcome": "ok", "exit_code": 0, "reasons": [], "retrained": [],
        "last_retrain": "2026-12-05T05:00:00Z", "last_retrained": ["churn"]}
    append_run(tmp_path, RefreshRun(datetime(2026, 12, 7, 5, tzinfo=UTC), "alert", (Reason("no_champion", "alert", "upsell"),)))
    assert client.get("/monitoring?lang=zh-CN").json()["refresh"]["reasons"] == ["告警：交叉销售：尚无冠军模型（规则 no_champion）"]
    assert client.get("/monitoring?lang=fr").status_code == 422


def test_the_health_panel_script_is_public_and_monitoring_is_not(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    app = FastAPI()
    app.include_router(page_scripts.router)
    client_for(tmp_path, monkeypatch)  # sets the service's key
    anonymous = TestClient(ApiKeyMiddleware(app, settings=load_settings))  # type: ignore[arg-type]
    script = anonymous.get("/ui/health.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert "monitoring?lang=" in script.text
    assert client_for(tmp_path, monkeypatch).get("/monitoring", headers={"X-API-Key": ""}).status_code == 401
