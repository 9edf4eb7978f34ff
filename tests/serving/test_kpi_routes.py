"""``GET /kpis`` and ``GET /alerts`` (serving.kpi_routes): answered from the KPIs stored beside the snapshot,
behind the API key, in the one error shape; the page's panel script is public.

The stored KPIs come from the hand-built table of tests/features/test_kpis.py (values worked out there).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.testclient import TestClient
from starlette.exceptions import HTTPException

from features.kpi_rules import KpiRules
from features.kpi_store import build_kpi_document, write_kpis
from features.settings import load_settings
from serving import kpi_routes
from serving.auth import ApiKeyMiddleware
from serving.caller import SCOPE_KEY, Caller
from serving.errors import http_error, validation_error
from serving.live import Served
from tests.campaigns.test_store_lists import Live, loaded_snapshot
from tests.features.test_kpis import amount_tiers, table

KEY = "kpi-test-key-0123456789abcdef"
RULES = KpiRules.model_validate({"min_members": 0, "alerts": [
    {"kpi": "churn_rate", "compare": "previous", "direction": "up", "points": 50}]})


def store_kpis(directory: Path) -> Path:
    """The hand-built table's KPIs as ``memberscore snapshot`` would store them, as of 2024-05-01."""
    write_kpis(build_kpi_document(table(), date(2024, 5, 1), amount_tiers()), directory)
    return directory


@pytest.fixture(scope="module")
def stored(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return store_kpis(tmp_path_factory.mktemp("snapshots"))


def kpi_app(directory: Path) -> FastAPI:
    app = FastAPI()
    app.add_exception_handler(RequestValidationError, validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, http_error)  # type: ignore[arg-type]
    app.include_router(kpi_routes.router)
    kpi_routes.attach(app, directory, Live(Served(snapshot=loaded_snapshot(), project="shop")), RULES)
    return app


def client_for(directory: Path, monkeypatch: pytest.MonkeyPatch, key: str | None = KEY) -> TestClient:
    monkeypatch.setenv("MEMBERSCORE_API_KEYS", KEY)
    return TestClient(ApiKeyMiddleware(kpi_app(directory), settings=load_settings),  # type: ignore[arg-type]
                      headers={"X-API-Key": key} if key else {})


def test_kpis_answer_the_stored_table_with_labels(stored: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    client = client_for(stored, monkeypatch)
    body = client.get("/kpis").json()
    assert body["as_of"] == "2024-05-01" and body["freq"] == "month" and body["by"] is None
    march = body["rows"][2]
    assert march["period_start"] == "2024-03-01" and march["churn_rate"] == pytest.approx(3 / 5)
    assert body["rows"][0]["repurchase_rate"] is None  # January has no previous month
    assert body["labels"]["churn_rate"] == "churn rate"
    assert client.get("/kpis", params={"lang": "zh-CN"}).json()["labels"]["repurchase_rate"] == "回购率"
    by_tier = client.get("/kpis", params={"by": "tier", "freq": "week"}).json()["rows"]
    assert {row["tier"] for row in by_tier} == {"member", "silver", "platinum", "diamond"}
    assert all("tier_label" in row for row in by_tier)


def test_alerts_are_judged_with_the_service_thresholds(stored: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    body = client_for(stored, monkeypatch).get("/alerts", headers={"Accept-Language": "zh-CN"}).json()
    assert [(a["period_start"], a["kpi"], a["reference_start"]) for a in body["alerts"]] == [
        ("2024-03-01", "churn_rate", "2024-02-01")]
    assert body["alerts"][0]["change"] == pytest.approx(60.0) and body["alerts"][0]["kpi_label"] == "流失率"


@pytest.mark.parametrize(("path", "params", "status", "error"), [
    ("/kpis", {"freq": "day"}, 422, "freq: 'day' is not supported; use one of month, week"),
    ("/alerts", {"by": "region"}, 422, "by: 'region' is not stored with this snapshot; stored: tier, lifecycle_stage, store"),
    ("/kpis", {"lang": "fr"}, 422, "lang: 'fr' is not supported; use one of en, zh-CN"),
])
def test_bad_choices_are_refused_naming_the_field(stored: Path, monkeypatch: pytest.MonkeyPatch, path: str,
                                                  params: dict[str, str], status: int, error: str) -> None:
    answer = client_for(stored, monkeypatch).get(path, params=params)
    assert (answer.status_code, answer.json()) == (status, {"error": error})


def test_no_key_no_kpis_but_the_panel_script_is_public(stored: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    anonymous = client_for(stored, monkeypatch, key=None)
    assert anonymous.get("/kpis").status_code == 401 and anonymous.get("/alerts").status_code == 401
    script = anonymous.get("/ui/kpis.js")
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")


def test_a_snapshot_without_stored_kpis_says_how_to_store_them(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    answer = client_for(tmp_path, monkeypatch).get("/kpis")
    assert answer.status_code == 404
    assert answer.json()["error"].startswith("kpis: none stored with the snapshot as of 2024-06-01: run `memberscore snapshot")


def client_as(directory: Path, caller: Caller) -> TestClient:
    """The routes called by ``caller``, attached to the scope as the key check attaches it."""
    app = kpi_app(directory)

    async def as_caller(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await app({**scope, SCOPE_KEY: caller}, receive, send)

    return TestClient(as_caller)  # type: ignore[arg-type]


def test_a_store_scoped_key_sees_its_stores_kpis_and_no_chain_totals(stored: Path) -> None:
    scoped = client_as(stored, Caller(name="s1-manager", role="marketer", stores=("s1",)))
    rows = scoped.get("/kpis", params={"by": "store"}).json()["rows"]
    assert rows and {row["store"] for row in rows} == {"s1"}
    everyone = client_as(stored, Caller(name="chain", role="marketer")).get("/kpis", params={"by": "store"}).json()
    assert [r for r in everyone["rows"] if r["store"] == "s1"] == rows  # the same rows, the others left out
    assert {row["store"] for row in everyone["rows"]} > {"s1"}
    weekly = {"by": "store", "freq": "week"}
    chain_alerts = client_as(stored, Caller(name="chain", role="analyst")).get("/alerts", params=weekly).json()
    assert {a["group"] for a in chain_alerts["alerts"]} == {"s2", "unknown"}
    assert scoped.get("/alerts", params=weekly).json()["alerts"] == []  # s1 has none; s2's are left out
    for params, split in (({}, "chain totals"), ({"by": "tier"}, "by tier"), ({"by": "lifecycle_stage"}, "by lifecycle_stage")):
        for path in ("/kpis", "/alerts"):
            answer = scoped.get(path, params=params)
            assert (answer.status_code, answer.json()) == (403, {"error": (
                f"key 's1-manager' sees only the members of stores s1: KPIs over the whole chain ({split}) "
                "are outside its scope; ask with by=store")})
