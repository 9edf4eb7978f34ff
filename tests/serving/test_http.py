"""The real HTTP service: ``bentoml serve serving.service:MemberScoring`` on loopback.

DESIGN.md: a stable JSON contract, unknown ids listed not errored, clear 4xx errors and never a
500 for bad input; the OpenAPI document the service publishes is the truth.
"""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest

from features.catalogue import BY_NAME
from features.store import latest_snapshot_path, read_snapshot
from serving.schemas import MAX_BATCH
from tests.serving.conftest import API_KEY

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
    """A 4xx says which field is wrong, so the CRM engineer can fix the call: /score answers like every
    other route (422, ``error`` naming the field; it was BentoML's 400 before one HTTP stack)."""
    response = client.post("/score", json={"member_ids": ["m00001"], "explain": -1})
    assert response.status_code == 422
    assert response.json()["error"] == "explain: Input should be greater than or equal to 0"
    assert ["body", "explain"] in [item["loc"] for item in response.json()["detail"]]
    other = client.post("/explain", json={"member_id": 7})
    assert other.status_code == 422 and set(other.json()) == set(response.json()) == {"error", "detail"}


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
    request_schema = paths["/score"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    if "$ref" in request_schema:
        request_schema = response.json()["components"]["schemas"][request_schema["$ref"].rsplit("/", 1)[1]]
    assert "post" in paths["/score"] and "get" in paths["/metadata"]
    assert request_schema["properties"]["member_ids"]["maxItems"] == MAX_BATCH
    assert request_schema["required"] == ["member_ids"]


def test_openapi_document_is_the_products_with_the_key_scheme(client: httpx.Client) -> None:
    """The document is memberscore's (title, package version, description), declares X-API-Key on every
    data route with its 401 and 403 answers, and leaves it off the probes."""
    from serving.contract import package_version

    document = client.get("/docs.json").json()
    assert document["info"]["title"] == "memberscore" and document["info"]["version"] == package_version()
    assert "loyalty members" in document["info"]["description"] and "BentoML" not in json.dumps(document["info"])
    assert document["components"]["securitySchemes"]["ApiKey"] == {
        "type": "apiKey", "in": "header", "name": "X-API-Key", "description": "an API key (`memberscore keys create`)"}
    for path, method in (("/score", "post"), ("/targets", "post"), ("/metadata", "get"), ("/admin/reload", "post")):
        operation = document["paths"][path][method]
        assert operation["security"] == [{"ApiKey": []}], path
        assert {"401", "403", "422"} <= set(operation["responses"]), path
    assert "security" not in document["paths"]["/readyz"]["get"] and "security" not in document["paths"]["/healthz"]["get"]


def test_probes_are_the_products(client: httpx.Client) -> None:
    """/readyz gives the reasons (the FastAPI route, not BentoML's bare probe); /healthz answers JSON."""
    assert client.get("/readyz").json()["ready"] is True
    assert client.get("/healthz").json() == {"status": "alive"} == client.get("/livez").json()


def test_repeated_ids_are_computed_once_and_answered_in_order(client: httpx.Client, snapshot) -> None:
    """Duplicates cost nothing: the answer repeats the same result at each position of the request."""
    members = [str(x) for x in snapshot.frame["member_id"].iloc[:3]]
    ids = [members[1], members[0], members[1], "nobody", members[2], members[0]]
    for explain in (3, 7):  # precomputed reasons, and reasons computed on the fly
        body = client.post("/score", json={"member_ids": ids, "explain": explain}).json()
        assert [r["member_id"] for r in body["results"]] == ids
        single = {m: client.post("/score", json={"member_ids": [m], "explain": explain}).json()["results"][0]
                  for m in set(ids)}
        assert body["results"] == [single[m] for m in ids]


def test_reasons_on_the_fly_are_bounded_with_a_422_that_states_the_limit(client: httpx.Client) -> None:
    """More than 5 reasons are computed per request; distinct ids x explain above 25,000 is refused."""
    from serving.answers import MAX_ON_THE_FLY_REASONS

    ids = [f"m{i:05d}" for i in range(MAX_ON_THE_FLY_REASONS // 25 + 1)]
    response = client.post("/score", json={"member_ids": ids, "explain": 25})
    assert response.status_code == 422, response.text[:300]
    assert response.json()["error"] == (
        "explain: more than 5 reasons are computed on the fly, for at most 25,000 distinct ids x explain per "
        "request; got 1,001 x 25 = 25,025 (ask for explain <= 5 or send fewer ids)")
    assert client.post("/score", json={"member_ids": ids[:-1], "explain": 25}).status_code == 200
    assert client.post("/score", json={"member_ids": ids * 9, "explain": 25}).status_code == 422  # distinct ids count
    assert client.post("/score", json={"member_ids": ids * 9, "explain": 5}).status_code == 200  # precomputed: no cap


def test_a_heavy_score_does_not_hold_a_single_member_behind_it(client: httpx.Client, server: str, snapshot) -> None:
    """While heavy /score requests run (reasons on the fly for the largest allowed batch), single-member
    /score requests keep answering, each within a second."""
    from serving.answers import MAX_ON_THE_FLY_REASONS

    members = [str(x) for x in snapshot.frame["member_id"]]
    heavy_ids = (members * (1000 // len(members) + 1))[:1000]
    heavy_ids = [f"{m}" if i < len(members) else f"x{i}" for i, m in enumerate(heavy_ids)]  # distinct: no dedup
    heavy_body = {"member_ids": heavy_ids, "explain": MAX_ON_THE_FLY_REASONS // len(heavy_ids)}
    finished: list[float] = []

    def heavy() -> None:
        with httpx.Client(base_url=server, timeout=120, headers={"X-API-Key": API_KEY}) as own:
            for _ in range(3):
                assert own.post("/score", json=heavy_body).status_code == 200
        finished.append(time.monotonic())

    threads = [threading.Thread(target=heavy) for _ in range(2)]
    for thread in threads:
        thread.start()
    time.sleep(0.3)
    light = []
    while not finished and len(light) < 200:
        started = time.monotonic()
        response = client.post("/score", json={"member_ids": [members[0]], "explain": 3})
        light.append((time.monotonic() - started, started))
        assert response.status_code == 200
    for thread in threads:
        thread.join(timeout=300)
    during = [seconds for seconds, started in light if not finished or started < min(finished)]
    assert during, "the heavy requests ended before any single-member request was sent"
    assert max(during) < 1.0, sorted(during)[-5:]
