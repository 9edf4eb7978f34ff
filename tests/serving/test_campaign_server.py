"""POST and GET /campaigns on a real BentoML server: the service opens the store named by
MEMBERSCORE_CAMPAIGN_DB at start and answers with the trained champion's list (the session's server,
whose environment sets the database beside its stores). Here, not in tests/campaigns, to share that server."""

from __future__ import annotations

import csv
import io

import httpx
import pytest

from tests.serving.conftest import API_KEY

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_a_campaign_created_over_http_is_stored_and_shown(server: str) -> None:
    with httpx.Client(base_url=server, timeout=60, headers={"X-API-Key": API_KEY}) as http:
        created = http.post("/campaigns", json={"name": "over http", "campaign": "winback", "limit": 100})
        assert created.status_code == 200, created.text[:300]
        body = created.json()
        assert body["arms"] == {"treatment": 90, "control": 10} and body["campaign"]["model_versions"]["churn"]
        campaign_id = body["campaign"]["id"]
        assert campaign_id in [r["campaign"]["id"] for r in http.get("/campaigns").json()["records"]]
        contacts = list(csv.DictReader(io.StringIO(http.get(f"/campaigns/{campaign_id}", params={"format": "csv"}).text.removeprefix("\ufeff"))))
        assert {row["member_id"] for row in contacts} == {row["member_id"] for row in body["contact_list"]}
        assert httpx.get(f"{server}/campaigns/{campaign_id}", timeout=30).status_code == 401
