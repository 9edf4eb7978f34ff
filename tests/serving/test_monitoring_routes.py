"""``GET /monitoring`` (serving.monitoring_routes): drift of the served snapshot from its champion's training
profile (``drift``) and from the previous stored one (top level), behind the API key, open to marketers
read-only, breaches logged once per served snapshot; drift breaches in ``GET /alerts`` (serving.kpi_routes)."""

from __future__ import annotations

import logging
from datetime import date
from pathlib import Path

import numpy as np
import pytest
import xgboost as xgb
from fastapi import FastAPI
from fastapi.testclient import TestClient

from features.drift_reference import build_reference, write_reference
from features.drift_rules import read_drift_rules
from features.settings import load_settings
from features.snapshot import Snapshot
from features.store import write_snapshot
from serving import kpi_routes, monitoring_routes
from serving.artefacts import ServingModel
from serving.auth import ApiKeyMiddleware
from serving.live import Served
from serving.roles import roles_for
from tests.campaigns.test_store_lists import Live, loaded_snapshot
from tests.serving.test_kpi_routes import RULES as KPI_RULES

KEY = "drift-test-key-0123456789abcdef"


def store_previous(directory: Path) -> None:
    """The served members but the last 20, a month earlier, with spend_30d moved far up (a planted shift)."""
    features = loaded_snapshot().features_by_id.iloc[:100].copy()
    features["spend_30d"] = 1000.0 + features["spend_30d"]
    write_snapshot(Snapshot(frame=features.reset_index(), as_of=date(2024, 5, 1), fingerprint="earlier"), directory)


CHURN_V3 = ServingModel(name="memberscore-churn:v3", booster=xgb.Booster(), mlflow_version="3", run_id="run-3",
                        metrics={})


def store_training_reference(directory: Path) -> None:
    """Churn v3 trained on the served members with spend_30d 1000 higher (a planted shift) and the same
    scores, on data that ended 60 days before the served snapshot: the 30 members with 40 days of tenure are new."""
    served = loaded_snapshot()
    training = served.features_by_id.assign(spend_30d=1000.0 + served.features_by_id["spend_30d"])
    write_reference(build_reference("churn", "3", "run-3", date(2024, 4, 2), training_rows=training,
                                    feature_names=list(training.columns),
                                    evaluation_scores=served.scores_by_id[["churn_probability"]], bins=10), directory)


def client_for(directory: Path, monkeypatch: pytest.MonkeyPatch, *, champion: bool = False) -> TestClient:
    monkeypatch.setenv("MEMBERSCORE_API_KEYS", KEY)
    app = app_for(directory, champion=champion)
    return TestClient(ApiKeyMiddleware(app, settings=load_settings), headers={"X-API-Key": KEY})  # type: ignore[arg-type]


def app_for(directory: Path, *, champion: bool = False) -> FastAPI:
    """The monitoring and KPI routes over the hand-built served snapshot (with churn v3 as champion, or baselines)."""
    app = FastAPI()
    app.include_router(monitoring_routes.router)
    app.include_router(kpi_routes.router)
    live = Live(Served(models={"churn": CHURN_V3} if champion else {}, snapshot=loaded_snapshot(), project="shop"))
    monitoring_routes.attach(app, directory, live, read_drift_rules())
    kpi_routes.attach(app, directory, live, KPI_RULES)
    return app


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
    assert body["drift"] is None  # only baselines serve: no training data to compare with


def test_monitoring_needs_a_key_and_is_read_only_for_marketers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    client = client_for(tmp_path, monkeypatch)
    assert client.get("/monitoring", headers={"X-API-Key": "wrong"}).status_code == 401
    assert roles_for("GET", "/monitoring") == {"marketer", "analyst", "admin"}
    assert roles_for("POST", "/monitoring") == {"admin"}


def test_drift_from_the_champions_training_data_flags_the_planted_shift_and_new_members(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    store_training_reference(tmp_path)
    client = client_for(tmp_path, monkeypatch, champion=True)
    with caplog.at_level(logging.INFO, logger="serving.monitoring_routes"):
        drift = client.get("/monitoring").json()["drift"]
        assert client.get("/monitoring").json()["drift"] == drift
        alerts = client.get("/alerts").json()
    assert drift["reference"] == {"kind": "champion_training", "tasks": {"churn": "3"}, "data_end": {"churn": "2024-04-02"}}
    rows = {row["column"]: row for row in drift["columns"]}
    assert {name: (row["task"], row["kind"], row["psi_level"]) for name, row in rows.items()} == {
        "gap_ratio": ("churn", "feature", "ok"), "orders_trend_90d": ("churn", "feature", "ok"),
        "tenure_days": ("churn", "feature", "ok"), "spend_30d": ("churn", "feature", "alert"),
        "spend_90d": ("churn", "feature", "ok"), "churn_probability": ("churn", "score", "ok")}
    # every served spend_30d lies below the reference's lowest decile edge: one bin holds them all
    expected = 0.9 * np.log(1 / 0.1) + 9 * (1e-4 - 0.1) * np.log(1e-4 / 0.1)
    assert rows["spend_30d"]["psi"] == pytest.approx(expected, abs=1e-12)
    assert rows["churn_probability"]["psi"] == pytest.approx(0.0, abs=1e-12)
    assert drift["unknown_share"] == pytest.approx(30 / 120) and drift["unknown_level"] == "warn"
    assert drift["breaches"] == [f"churn v3: feature spend_30d: PSI {expected:.3f} (alert)",
                                 "churn v3: unknown members: share 0.250 (warn)"]
    logged = [r.getMessage() for r in caplog.records if "training data" in r.getMessage()]
    assert logged == [f"drift of snapshot 2024-06-01 from the champions' training data: {line}" for line in drift["breaches"]]
    assert all("m0" not in r.getMessage() for r in caplog.records)
    # no KPIs stored: /alerts still answers, with the drift breaches as alerts of their own kind
    assert alerts["kpis_stored"] is False and alerts["alerts"] == [] and alerts["as_of"] == "2024-06-01"
    assert [(a["kind"], a["measure"], a["column"], a["level"], a["threshold"]) for a in alerts["drift_alerts"]] == [
        ("drift", "psi", "spend_30d", "alert", 0.25), ("drift", "unknown_share", None, "warn", 0.1)]
    assert alerts["drift_alerts"][1]["message"] == ("Churn v3: 25.0% of the served members are new since its training "
                                                    "data (above 10.0%)")
    chinese = client.get("/alerts", params={"lang": "zh-CN"}).json()["drift_alerts"][0]["message"]
    assert chinese == f"流失 v3：spend_30d 的 PSI 为 {expected:.3f}（超过 0.25）"


def test_a_champion_without_a_stored_profile_is_named_and_not_compared(tmp_path: Path,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    client = client_for(tmp_path, monkeypatch, champion=True)
    drift = client.get("/monitoring").json()["drift"]
    assert drift["columns"] == [] and drift["breaches"] == [] and drift["unknown_share"] is None
    assert drift["unavailable"]["churn"].startswith("no training profile stored for churn v3")
    assert client.get("/alerts").json()["drift_alerts"] == []


def test_a_store_scoped_key_gets_no_drift_alerts(tmp_path: Path) -> None:
    from typing import Any

    from serving.caller import SCOPE_KEY, Caller

    store_training_reference(tmp_path)
    app = app_for(tmp_path, champion=True)

    async def as_caller(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await app({**scope, SCOPE_KEY: Caller(name="s1-manager", role="marketer", stores=("s1",))}, receive, send)

    scoped = TestClient(as_caller)  # type: ignore[arg-type]
    assert scoped.get("/alerts").json()["drift_alerts"] == []
    assert scoped.get("/monitoring").status_code == 403
