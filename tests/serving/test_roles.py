"""Roles before routing, over every route of the service's app, in process (no server, no model):
each route x each role x (valid, expired, revoked, wrong store scope). Then what a marketer's and
a store-scoped key see of the members (pseudonyms; its stores only).

The app is the service's own FastAPI app (``serving.service.web``) with BentoML's ``self``
dependency pointed at a service object serving the hand-built snapshot of
tests/campaigns/test_store_lists.py (m000-m119; even members' home store S1, odd ones S2).
"""

from __future__ import annotations

import dataclasses
import itertools
import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from starlette.exceptions import HTTPException

from campaigns.store import open_store
from features.drift_rules import read_drift_rules
from features.segment_rules import read_segment_rules
from features.settings import load_settings
from serving import campaign_routes, kpi_routes, monitoring_routes
from serving.answers import Answers, include_routers
from serving.auth import ApiKeyMiddleware, hash_key, is_public
from serving.caller import ROLES, Caller, Role
from serving.keyfile import KeyRecord, append_key, now_utc
from serving.live import Served
from serving.method_routes import current_service
from serving.pseudonym import pseudonym
from serving.roles import ADMIN, ROUTE_ROLES, forbidden_text, roles_for
from serving.scope import pseudonyms_for
from serving.segment_summary import configured_labels
from tests.campaigns.test_store_lists import BODY, Live, loaded_snapshot
from tests.serving.test_kpi_routes import RULES, store_kpis

SECRET = "pseudonym-secret-for-tests-0123"
STATES = ("valid", "expired", "revoked", "wrong_scope")
# One request per operation of the app's document, that the allowed roles get a 2xx for.
REQUESTS: dict[tuple[str, str], dict[str, Any]] = {
    ("POST", "/score"): {"json": {"member_ids": ["m000", "m001"]}},
    ("POST", "/score_features"): {"json": {"rows": [{"member_id": "x", "features": {"spend_30d": 1.0}}]}},
    ("POST", "/explain"): {"json": {"member_id": "m000"}},
    ("GET", "/segments"): {},
    ("POST", "/targets"): {"json": {"campaign": "winback", "limit": 5}},
    ("GET", "/metadata"): {},
    ("POST", "/admin/reload"): {},
    ("POST", "/campaigns"): {},  # a new name each time: new_campaign()
    ("GET", "/campaigns"): {},
    ("GET", "/campaigns/{campaign_id}"): {},
    ("GET", "/campaigns/{campaign_id}/effect"): {},
    ("GET", "/kpis"): {"params": {"by": "store"}},  # a store-scoped key may see its stores' KPIs only
    ("GET", "/alerts"): {"params": {"by": "store"}},
    ("GET", "/monitoring"): {},
}
# Who may call what, as issue 18 states it (written out here, not read from serving.roles):
# crm scores; marketers work with segments, lists, campaigns, KPIs and the page's calls; analysts
# read everything (POST /score, /score_features, /explain and /targets store nothing); admin all.
EVERYONE_BUT_CRM = {"marketer", "analyst", "admin"}
EXPECTED: dict[tuple[str, str], set[str]] = {
    ("POST", "/score"): {"crm", "analyst", "admin"},
    ("POST", "/score_features"): {"crm", "analyst", "admin"},
    ("POST", "/explain"): {"analyst", "admin"},
    ("GET", "/segments"): EVERYONE_BUT_CRM,
    ("POST", "/targets"): EVERYONE_BUT_CRM,
    ("GET", "/metadata"): EVERYONE_BUT_CRM,
    ("POST", "/admin/reload"): {"admin"},
    ("POST", "/campaigns"): {"marketer", "admin"},
    ("GET", "/campaigns"): EVERYONE_BUT_CRM,
    ("GET", "/campaigns/{campaign_id}"): EVERYONE_BUT_CRM,
    ("GET", "/campaigns/{campaign_id}/effect"): EVERYONE_BUT_CRM,
    ("GET", "/kpis"): EVERYONE_BUT_CRM,
    ("GET", "/alerts"): EVERYONE_BUT_CRM,
    ("GET", "/monitoring"): EVERYONE_BUT_CRM,
}
# what an allowed caller gets where the hand-built service cannot answer 200 (not a refusal of the key)
NOT_REFUSED = {("POST", "/score_features"): 422, ("POST", "/explain"): 503,
               ("GET", "/campaigns/{campaign_id}/effect"): 404}


NAMES = itertools.count()


def new_campaign() -> dict[str, Any]:
    return {"json": {**BODY, "name": f"campaign {next(NAMES)}"}}


def request_for(method: str, path: str) -> dict[str, Any]:
    return new_campaign() if (method, path) == ("POST", "/campaigns") else REQUESTS[(method, path)]


def key_of(role: str, state: str) -> str:
    return f"{role}-{state}-key-0123456789abcdef"


def write_keys(file: Path) -> None:
    """Every role in every state; the wrong-scope keys see store S3, where no member lives."""
    now = now_utc()
    for role in ROLES:
        for state in STATES:
            append_key(file, KeyRecord(
                name=f"{role}-{state}", role=role, hash=hash_key(key_of(role, state)), created=now - timedelta(days=2),
                stores=("S3",) if state == "wrong_scope" else (), raw_ids=role != "marketer",
                expires=now - timedelta(days=1) if state == "expired" else None,
                revoked=now - timedelta(hours=1) if state == "revoked" else None))
    for stores, raw in ((("S1",), False), (("S1",), True)):
        append_key(file, KeyRecord(name=f"marketer-S1-{raw}", role="marketer", hash=hash_key(f"m-S1-{raw}-" + "k" * 24),
                                   created=now, stores=stores, raw_ids=raw))
    append_key(file, KeyRecord(name="crm-S1", role="crm", hash=hash_key("crm-S1-" + "k" * 24), created=now,
                               stores=("S1",), raw_ids=True))


class Reloadable(Live):
    def reload(self) -> Served:
        return self.served


def stores_snapshot() -> Any:
    loaded = loaded_snapshot()
    ids = loaded.scores_by_id.index
    homes = pd.Series(["S1" if int(i[1:]) % 2 == 0 else "S2" for i in ids], index=ids)
    return dataclasses.replace(loaded, home_stores=homes)


@pytest.fixture(scope="module")
def http(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    from serving.service import MemberScoring, web

    root = tmp_path_factory.mktemp("roles")
    write_keys(root / "keys")
    live = Reloadable(Served(snapshot=stores_snapshot(), project="shop"))
    service = object.__new__(MemberScoring.inner)  # type: ignore[attr-defined]  # set by @bentoml.service
    service.answers = Answers(live, configured_labels(read_segment_rules(None), None), "shop", SecretStr(SECRET), None)
    include_routers(web)  # as the worker's start does
    store = open_store(f"sqlite:///{root / 'campaigns.db'}")
    campaign_routes.attach(web, store, live, "shop", lambda: None, SecretStr(SECRET))
    kpi_routes.attach(web, store_kpis(root / "snapshots"), live, RULES)
    monitoring_routes.attach(web, root / "snapshots", live, read_drift_rules())
    web.dependency_overrides[current_service] = lambda: service
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("MEMBERSCORE_API_KEYS", raising=False)
        patch.setenv("MEMBERSCORE_API_KEY_FILE", str(root / "keys"))
        client = TestClient(ApiKeyMiddleware(web, settings=load_settings))  # type: ignore[arg-type]
    try:
        yield client
    finally:
        web.dependency_overrides.pop(current_service, None)
        store.close()


@pytest.fixture(scope="module")
def campaign_id(http: TestClient) -> str:
    created = http.post("/campaigns", **new_campaign(), headers={"X-API-Key": key_of("admin", "valid")})
    assert created.status_code == 200, created.text
    return str(created.json()["campaign"]["id"])


def operations() -> list[tuple[str, str]]:
    from serving.service import web

    include_routers(web)  # as the worker's start does: every route the service answers
    return [(method.upper(), path) for path, item in web.openapi()["paths"].items() for method in item]


def test_every_route_of_the_app_is_in_the_roles_table_or_public() -> None:
    """A new route fails here until it is listed (until then it is admin only, which is safe)."""
    listed = set(ROUTE_ROLES)
    for operation in operations():
        assert is_public(operation[1]) or operation in listed, operation
        assert is_public(operation[1]) or operation in REQUESTS, operation
        assert is_public(operation[1]) or roles_for(*operation) == EXPECTED[operation], operation
    assert roles_for("GET", "/metrics") == ADMIN and roles_for("DELETE", "/score") == ADMIN
    assert roles_for("HEAD", "/segments") == roles_for("GET", "/segments")


@pytest.mark.parametrize("role", ROLES)
def test_the_route_by_role_matrix(http: TestClient, campaign_id: str, role: Role) -> None:
    """Valid keys: allowed routes answer (2xx, or the hand-built service's own non-key answer),
    the others a 403 naming only the role; expired and revoked keys: 401 everywhere; a key scoped
    to a store without members passes the role check like a valid one, and no member id of the
    snapshot appears in any of its answers (its /score ids come back unknown)."""
    seen = []
    for method, path in operations():
        if is_public(path):
            continue
        url = path.replace("{campaign_id}", campaign_id)
        for state in STATES:
            answer = http.request(method, url, headers={"X-API-Key": key_of(role, state)},
                                  **request_for(method, path))
            where = (role, state, method, path, answer.status_code, answer.text[:200])
            if state in ("expired", "revoked"):
                assert answer.status_code == 401, where
            elif role not in EXPECTED[(method, path)]:
                assert (answer.status_code, answer.json()) == (403, {"error": forbidden_text(role)}), where
            elif state == "wrong_scope" and path == "/monitoring":  # drift is chain-wide: not for a scoped key
                assert answer.status_code == 403 and "outside its scope" in answer.json()["error"], where
                continue  # a refusal of the scope, not of the role: kept out of the role check below
            elif state == "wrong_scope":  # S3 has no members: nothing about one leaks, whatever the answer
                assert answer.status_code not in (401, 403) and answer.status_code < 500, where
                if path == "/score":
                    assert {r["status"] for r in answer.json()["results"]} == {"unknown"}, where
                elif path == "/explain":  # the answer to an id that is not there at all
                    assert answer.json() == {"error": "member_id 'm000' is not in the served snapshot"}, where
                else:
                    assert not re.search(r"m\d{3}", answer.text), where
            else:
                assert answer.status_code < 300 or answer.status_code == NOT_REFUSED.get((method, path)), where
            seen.append(answer.status_code)
    assert 200 in seen and 401 in seen and (403 in seen) == (role != "admin")


def test_a_route_that_does_not_exist_is_403_for_non_admins_and_404_for_admins(http: TestClient) -> None:
    for role in ("crm", "marketer", "analyst"):
        answer = http.get("/no/such/route", headers={"X-API-Key": key_of(role, "valid")})
        assert (answer.status_code, answer.json()) == (403, {"error": forbidden_text(role)})
    assert http.get("/no/such/route", headers={"X-API-Key": key_of("admin", "valid")}).status_code == 404


def test_marketers_get_pseudonyms_unless_granted_raw_ids(http: TestClient) -> None:
    body = {"campaign": "winback", "limit": 5, "explain": 0}
    raw = [r["member_id"] for r in http.post("/targets", json=body, headers={"X-API-Key": key_of("admin", "valid")})
           .json()["rows"]]
    hidden = http.post("/targets", json=body, headers={"X-API-Key": key_of("marketer", "valid")}).json()["rows"]
    assert [r["member_id"] for r in hidden] == [pseudonym(m, SECRET.encode()) for m in raw]
    csv = http.post("/targets", json=body, params={"format": "csv"}, headers={"X-API-Key": key_of("marketer", "valid")})
    assert csv.status_code == 200 and not any(m in csv.text for m in raw) and pseudonym(raw[0], SECRET.encode()) in csv.text
    created = http.post("/campaigns", **new_campaign(), headers={"X-API-Key": key_of("marketer", "valid")}).json()
    contacts = [row["member_id"] for row in created["contact_list"]]
    assert contacts and not any(c.startswith("m") and len(c) == 4 for c in contacts)
    stored = http.get(f"/campaigns/{created['campaign']['id']}", params={"format": "csv"},
                      headers={"X-API-Key": key_of("marketer", "valid")}).text
    members = http.get(f"/campaigns/{created['campaign']['id']}", params={"format": "csv"},
                       headers={"X-API-Key": key_of("admin", "valid")}).text.splitlines()[1:]
    first = members[0].split(",")[0]  # the stored campaign's first member, as the admin sees it
    assert first not in stored and pseudonym(first, SECRET.encode()) in stored


def test_a_store_scoped_key_sees_only_its_stores_members(http: TestClient) -> None:
    scores = http.post("/score", json={"member_ids": ["m000", "m001", "m002"], "explain": 0},
                       headers={"X-API-Key": "crm-S1-" + "k" * 24}).json()["results"]
    assert [(r["member_id"], r["status"]) for r in scores] == [("m000", "scored"), ("m001", "unknown"),
                                                               ("m002", "scored")]
    listed = http.post("/targets", json={"campaign": "winback", "limit": 1000, "explain": 0},
                       headers={"X-API-Key": "m-S1-True-" + "k" * 24}).json()
    assert listed["eligible"] == 50 and {int(r["member_id"][1:]) % 2 for r in listed["rows"]} == {0}
    segments = http.get("/segments", headers={"X-API-Key": "m-S1-False-" + "k" * 24}).json()
    assert segments["members"] == 60  # m000, m002, ... m118
    nobody = http.post("/targets", json={"campaign": "winback"}, headers={"X-API-Key": key_of("marketer", "wrong_scope")})
    assert nobody.json()["eligible"] == 0


def test_a_scoped_key_is_refused_on_a_snapshot_without_stores() -> None:
    from serving.answers import scored

    served = Served(snapshot=loaded_snapshot(), project="shop")  # no home stores
    with pytest.raises(HTTPException) as refused:
        scored(served, ["m000"], 0, caller=Caller(name="x", role="crm", stores=("S1",)))
    assert refused.value.status_code == 403 and "the served snapshot has no stores" in refused.value.detail


def test_a_key_without_raw_ids_gets_no_ids_at_all_without_a_pseudonym_key() -> None:
    with pytest.raises(HTTPException) as refused:
        pseudonyms_for(Caller(name="m", role="marketer"), False, None)
    assert refused.value.status_code == 503 and "MEMBERSCORE_PSEUDONYM_KEY is not set" in refused.value.detail
    assert pseudonyms_for(Caller(name="c", role="crm", raw_ids=True), False, None) is None
    assert pseudonyms_for(Caller(name="m", role="marketer"), False, SecretStr(SECRET)) == SECRET.encode()
