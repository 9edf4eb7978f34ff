"""The real HTTP service: ``bentoml serve serving.service:MemberScoring`` on loopback.

DESIGN.md: a stable JSON contract, unknown ids listed not errored, clear 4xx errors and never a
500 for bad input; the OpenAPI document the service publishes is the truth.
"""

from __future__ import annotations

import json

import httpx
import pytest

from features.catalogue import BY_NAME
from features.store import latest_snapshot_path, read_snapshot
from serving.schemas import MAX_BATCH

pytestmark = [pytest.mark.integration, pytest.mark.slow]

@pytest.fixture(scope="module")
def snapshot(trained: object):
    return read_snapshot(latest_snapshot_path(trained.project_snapshots))


def test_healthz(client: httpx.Client) -> None:
    """GET /healthz answers 200 once the service is up."""
    assert client.get("/healthz").status_code == 200


def test_score_known_and_unknown_ids_in_order(client: httpx.Client, snapshot) -> None:
    """POST /score: 200, one result per id in request order, unknown listed, reasons with text."""
    frame = snapshot.frame
    known = [str(x) for x in frame["member_id"].iloc[[7, 2]]]
    ids = [known[0], "not-a-member", known[1], known[0]]
    response = client.post("/score", json={"member_ids": ids, "explain": 2})
    assert response.status_code == 200, response.text
    body = response.json()
    assert [r["member_id"] for r in body["results"]] == ids
    assert [r["status"] for r in body["results"]] == ["scored", "unknown", "scored", "scored"]
    assert body["results"][1]["churn_probability"] is None and body["results"][1]["reasons"] == []
    assert body["results"][0] == body["results"][3]
    assert body["model_version"] == "1"
    assert body["snapshot_as_of"] == snapshot.as_of.isoformat()
    for result in (body["results"][0], body["results"][2]):
        assert 0.0 <= result["churn_probability"] <= 1.0
        assert len(result["reasons"]) == 2
        for reason in result["reasons"]:
            assert set(reason) == {"feature", "value", "contribution", "direction", "text"}
            assert isinstance(reason["text"], str) and reason["text"]
            assert reason["direction"] == ("raises" if reason["contribution"] > 0 else "lowers")
    row = frame.set_index("member_id").loc[known[0]].to_dict()
    for reason in body["results"][0]["reasons"]:
        assert reason["text"] == BY_NAME[reason["feature"]].in_words(row)


def test_score_accepts_the_maximum_batch(client: httpx.Client, snapshot) -> None:
    """Exactly 10,000 ids (the documented maximum) are scored in one request."""
    members = [str(x) for x in snapshot.frame["member_id"]]
    ids = (members * (MAX_BATCH // len(members) + 1))[:MAX_BATCH]
    response = client.post("/score", json={"member_ids": ids, "explain": 0})
    assert response.status_code == 200, response.text[:500]
    results = response.json()["results"]
    assert len(results) == MAX_BATCH
    assert all(r["status"] == "scored" and r["reasons"] == [] for r in results)


def test_metadata(client: httpx.Client, snapshot) -> None:
    """GET /metadata: model version "1", the snapshot date, and out-of-time metrics."""
    response = client.get("/metadata")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model_version"] == "1"
    assert body["snapshot_as_of"] == snapshot.as_of.isoformat()
    assert body["snapshot_members"] == len(snapshot.frame)
    assert 0.5 < body["metrics"]["oot_model_roc_auc"] <= 1.0


BAD_PAYLOADS = {
    "malformed json": b'{"member_ids": ["m00001",',
    "not an object": b'["m00001"]',
    "empty body": b"",
    "member_ids missing": json.dumps({"explain": 3}).encode(),
    "member_ids empty": json.dumps({"member_ids": []}).encode(),
    "member_ids not a list": json.dumps({"member_ids": "m00001"}).encode(),
    "member_ids null": json.dumps({"member_ids": None}).encode(),
    "member_id not a string": json.dumps({"member_ids": [{"id": 1}]}).encode(),
    "10,001 ids": json.dumps({"member_ids": [f"m{i:05d}" for i in range(MAX_BATCH + 1)]}).encode(),
    "unknown field": json.dumps({"member_ids": ["m00001"], "limit": 5}).encode(),
    "explain negative": json.dumps({"member_ids": ["m00001"], "explain": -1}).encode(),
    "explain too large": json.dumps({"member_ids": ["m00001"], "explain": 26}).encode(),
    "explain a word": json.dumps({"member_ids": ["m00001"], "explain": "three"}).encode(),
    "explain fractional": json.dumps({"member_ids": ["m00001"], "explain": 2.5}).encode(),
}


@pytest.mark.parametrize("payload", list(BAD_PAYLOADS.values()), ids=list(BAD_PAYLOADS))
def test_bad_payloads_are_4xx_never_5xx(client: httpx.Client, payload: bytes) -> None:
    """Every malformed request to /score is refused with a 4xx and a JSON error body, never a 5xx."""
    response = client.post("/score", content=payload, headers={"content-type": "application/json"})
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    assert response.json()["error"]


def test_error_body_names_the_offending_field(client: httpx.Client) -> None:
    """A 4xx says which field is wrong, so the CRM engineer can fix the call."""
    response = client.post("/score", json={"member_ids": ["m00001"], "explain": -1})
    assert response.status_code == 400
    assert ["explain"] in [item["loc"] for item in response.json()["detail"]]


def test_wrong_method_and_unknown_path_are_4xx(client: httpx.Client) -> None:
    """GET /score, POST /metadata and an unknown path are 405/405/404, not 5xx."""
    assert client.get("/score").status_code == 405
    assert client.post("/metadata").status_code == 405
    assert client.get("/no-such-endpoint").status_code == 404


def test_openapi_document_lists_score_and_metadata(client: httpx.Client) -> None:
    """/docs.json publishes the contract: POST /score with its request schema, GET /metadata."""
    response = client.get("/docs.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    assert "post" in paths["/score"] and "get" in paths["/metadata"]
    request_schema = paths["/score"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert request_schema["properties"]["member_ids"]["maxItems"] == MAX_BATCH
    assert request_schema["required"] == ["member_ids"]
