"""Campaigns with a holdout over HTTP (``serving.campaign_routes``) on a hand-built snapshot: the list is
the /targets list, the arms are drawn per decile, the MDE is the hand computation, control members
never leave in a contact list, a project sees only its campaigns, and refusals have the API's shape."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.testclient import TestClient
from starlette.exceptions import HTTPException

from campaigns.store import CampaignStore, open_store
from features.settings import load_settings
from features.snapshot import Snapshot
from serving import campaign_routes
from serving.artefacts import LoadedSnapshot
from serving.auth import ApiKeyMiddleware
from serving.campaign_routes import UpliftSource
from serving.errors import http_error, validation_error
from serving.live import Served

AS_OF = date(2024, 6, 1)
KEY = "campaign-test-key-0123456789"
N = 120  # 100 lapsing members (eligible for winback) and 20 active ones (not)


def loaded_snapshot() -> LoadedSnapshot:
    """Member m000 has the best score (churn x value), m099 the lowest lapsing; spend_30d = 2 x index."""
    ids = [f"m{i:03d}" for i in range(N)]
    lapsing = np.arange(N) < 100
    scores = pd.DataFrame({
        "churn_probability": np.linspace(0.9, 0.3, N), "expected_value": 100.0, "clv_12m": 100.0,
        "rfm_segment": "at_risk", "abc_class": "B", "tier": np.where(np.arange(N) % 2 == 0, "gold", "member"),
        "lifecycle_stage": np.where(lapsing, "sleeping", "active"), "p_purchase_7d": 0.1, "upsell_probability": 0.1,
    }, index=pd.Index(ids, name="member_id"))
    for column in ("rfm_segment", "abc_class", "tier", "lifecycle_stage"):
        scores[column] = scores[column].astype("string")
    features = pd.DataFrame({"gap_ratio": 2.0, "orders_trend_90d": 0.0, "tenure_days": np.where(np.arange(N) < 30, 40.0, 400.0),
                             "spend_30d": 2.0 * np.arange(N), "spend_90d": 5.0 * np.arange(N)}, index=scores.index)
    snapshot = Snapshot(frame=features.reset_index(), as_of=AS_OF, fingerprint="test")
    return LoadedSnapshot(snapshot, features, scores, baselines={"churn": "rfm_rule"})


class Live:
    def __init__(self, served: Served) -> None:
        self.served = served

    def current(self) -> Served:
        return self.served


def client_for(store: CampaignStore, project: str, monkeypatch: pytest.MonkeyPatch,
               uplift: UpliftSource | None = None) -> TestClient:
    monkeypatch.setenv("MEMBERSCORE_API_KEYS", KEY)
    app = FastAPI()
    app.add_exception_handler(RequestValidationError, validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, http_error)  # type: ignore[arg-type]
    app.include_router(campaign_routes.router)
    campaign_routes.attach(app, store, Live(Served(snapshot=loaded_snapshot(), project=project)), project, uplift)
    return TestClient(ApiKeyMiddleware(app, settings=load_settings),  # type: ignore[arg-type]
                      headers={"X-API-Key": KEY})


@pytest.fixture
def store(tmp_path: Path) -> Iterator[CampaignStore]:
    opened = open_store(f"sqlite:///{tmp_path / 'campaigns.db'}")
    yield opened
    opened.close()


@pytest.fixture
def client(store: CampaignStore, monkeypatch: pytest.MonkeyPatch) -> TestClient:
    return client_for(store, "shop", monkeypatch)


BODY: dict[str, Any] = {"name": "june winback", "campaign": "winback", "limit": 100, "holdout_share": 0.1,
                        "window_days": 30, "cost_per_contact": 0.5, "margin_rate": 0.4}


def test_create_lists_the_targets_draws_one_control_per_decile_and_says_the_mde(client: TestClient,
                                                                                 store: CampaignStore) -> None:
    answer = client.post("/campaigns", json=BODY)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    campaign_id = body["campaign"]["id"]
    assert body["arms"] == {"treatment": 90, "control": 10}
    members = store.members("shop", campaign_id)
    assert sorted(members["member_id"]) == [f"m{i:03d}" for i in range(100)]  # the winback list: lapsing only
    assert (members.groupby("score_decile")["arm"].apply(lambda arms: (arms == "control").sum()) == 1).all()
    assert members.loc[members["member_id"] == "m000", "score_decile"].item() == 1
    assert members.set_index("member_id")["is_new"].to_dict() == {f"m{i:03d}": i < 30 for i in range(100)}
    contacts = [row["member_id"] for row in body["contact_list"]]
    assert set(contacts) == set(members.loc[members["arm"] == "treatment", "member_id"])
    sd = float(np.std(2.0 * np.arange(100), ddof=1))  # spend_30d of the 100 listed members
    hand = (1.959963985 + 0.841621234) * sd * math.sqrt(1 / 90 + 1 / 10)
    mde = body["minimum_detectable_effect"]
    assert mde["spend_per_member"] == pytest.approx(hand, rel=1e-8)
    assert "spend_30d" in mde["estimated_from"] and (mde["treatment"], mde["control"]) == (90, 10)
    record = body["campaign"]
    assert (record["type"], record["start"], record["design"], record["holdout_share"]) == (
        "winback", "2024-06-01", "randomised", 0.1)
    assert record["model_versions"] == {"churn": "baseline:rfm_rule"}


def test_control_members_are_never_in_an_exported_contact_list(client: TestClient, store: CampaignStore) -> None:
    created = client.post("/campaigns", params={"format": "csv"}, json=BODY)
    assert created.status_code == 200 and created.headers["content-type"].startswith("text/csv")
    campaign_id = created.headers["x-campaign-id"]
    control = set(store.members("shop", campaign_id, "control")["member_id"])
    assert len(control) == 10
    for text in (created.text, client.get(f"/campaigns/{campaign_id}", params={"format": "csv"}).text):
        assert text.startswith("\ufeff")  # UTF-8 with a byte-order mark: Excel reads Chinese names
        rows = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))
        assert len(rows) == 90 and not control & {row["member_id"] for row in rows}
        assert "arm" not in rows[0]


def test_list_and_show_a_projects_campaigns_only(client: TestClient, store: CampaignStore,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    campaign_id = client.post("/campaigns", json=BODY).json()["campaign"]["id"]
    listed = client.get("/campaigns").json()
    assert "winback" in [c["name"] for c in listed["campaigns"]]  # the campaign types, as before
    assert [(r["campaign"]["id"], r["arms"]) for r in listed["records"]] == [(campaign_id, {"treatment": 90, "control": 10})]
    shown = client.get(f"/campaigns/{campaign_id}").json()
    assert shown["campaign"]["settings"]["limit"] == 100 and shown["arms"]["control"] == 10
    other = client_for(store, "elsewhere", monkeypatch)
    assert other.get("/campaigns").json()["records"] == []
    missing = other.get(f"/campaigns/{campaign_id}")
    assert missing.status_code == 404 and missing.json() == {
        "error": f"id: no campaign {campaign_id!r} in project 'elsewhere'"}


@pytest.mark.parametrize(("change", "error"), [
    ({"holdout_share": 1.0}, "holdout_share: Input should be less than 1"),
    ({"limit": 0}, "limit: Input should be greater than or equal to 1"),
    ({"margin_rate": 0}, "margin_rate: Input should be greater than 0"),
    ({"campaign": "nope"}, "campaign: unknown campaign 'nope'"),
    ({"limit": 40}, "holdout_share: 0.1 of 40 members leaves no control member"),  # 4 per decile: round(0.4) = 0
])
def test_bad_requests_are_refused_naming_the_field(client: TestClient, change: dict[str, Any], error: str) -> None:
    answer = client.post("/campaigns", json={**BODY, **change})
    assert answer.status_code == 422
    assert answer.json()["error"].startswith(error)
    assert client.get("/campaigns").json()["records"] == []  # nothing stored


def test_a_name_is_used_once_and_every_route_needs_a_key(client: TestClient) -> None:
    assert client.post("/campaigns", json=BODY).status_code == 200
    again = client.post("/campaigns", json=BODY)
    assert again.status_code == 422 and "already has a campaign named 'june winback'" in again.json()["error"]
    for method, path in (("POST", "/campaigns"), ("GET", "/campaigns"), ("GET", "/campaigns/x")):
        assert client.request(method, path, json=BODY, headers={"X-API-Key": "wrong"}).status_code == 401
