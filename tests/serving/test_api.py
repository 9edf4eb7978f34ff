"""The complete API on a real server: keys, readiness, /score_features, /explain, /segments, /targets.

Expected values come from the served snapshot and boosters read independently in the test, so a
wrong lookup, order or sum fails.
"""

from __future__ import annotations

import csv
import io

import httpx
import numpy as np
import pytest
from mlflow import MlflowClient

from features.offer_lists import decode_offers
from features.project import DEFAULT_PROJECT
from features.store import latest_snapshot_path, read_snapshot
from models import catalog
from models.calibration import calibrated_probability, read_calibration
from serving.schemas import MAX_FEATURE_ROWS
from tests.serving.conftest import API_KEY

pytestmark = [pytest.mark.integration, pytest.mark.slow]

PROTECTED = [("POST", "/score", {"member_ids": ["x"]}), ("POST", "/score_features", {"rows": []}),
             ("POST", "/explain", {"member_id": "x"}), ("GET", "/segments", None), ("GET", "/metadata", None),
             ("GET", "/campaigns", None), ("POST", "/targets", {"campaign": "winback"}),
             ("POST", "/admin/reload", None), ("GET", "/metrics", None)]


@pytest.fixture(scope="module")
def snapshot(trained: object):
    return read_snapshot(latest_snapshot_path(trained.project_snapshots))


@pytest.fixture(scope="module")
def anonymous(server: str):
    with httpx.Client(base_url=server, timeout=30) as http:
        yield http


@pytest.mark.parametrize(("method", "path", "body"), PROTECTED, ids=[p for _, p, _ in PROTECTED])
@pytest.mark.parametrize("key", [None, "wrong-key", API_KEY + "x", ""], ids=["missing", "wrong", "longer", "empty"])
def test_every_data_endpoint_needs_a_valid_key(anonymous: httpx.Client, method: str, path: str, body: object,
                                               key: str | None) -> None:
    """No key or a wrong one: 401, and the body says nothing about valid keys."""
    headers = {} if key is None else {"X-API-Key": key}
    response = anonymous.request(method, path, json=body, headers=headers)
    assert response.status_code == 401, (path, response.status_code, response.text[:200])
    assert API_KEY not in response.text and "test-key" not in response.text


@pytest.mark.parametrize("path", ["/healthz", "/livez", "/readyz", "/docs.json", "/ui"])
def test_probes_pages_and_contract_need_no_key(anonymous: httpx.Client, path: str) -> None:
    assert anonymous.get(path).status_code == 200


def test_readyz_says_only_ready_without_a_key(anonymous: httpx.Client) -> None:
    """An anonymous probe learns ready or not, never a path, a project or a model (issue 18)."""
    for path in ("/readyz", "/readiness"):
        assert anonymous.get(path).json() == {"ready": True}


def test_readyz_says_ready_with_models_and_snapshot_to_an_admin_key(client: httpx.Client, snapshot) -> None:
    body = client.get("/readyz").json()
    assert body["ready"] is True and body["reasons"] == []
    assert body["snapshot_as_of"] == snapshot.as_of.isoformat()
    assert body["models"]["churn"].startswith("default.memberscore-churn:")
    assert 0.0 <= body["reasons_computed"] <= 1.0, "the reasons fill's progress (serving.lookup)"


def test_metadata_names_training_data_and_cutoff(client: httpx.Client, trained: object) -> None:
    """Each model lists its features, the fingerprint of its training data and its evaluation cut-off."""
    from models import catalog

    body = client.get("/metadata").json()
    churn = body["models"]["churn"]
    assert body["ready"] is True
    assert churn["features"] and "recency_days" in churn["features"]
    tags = MlflowClient(trained.tracking_uri).get_run(churn["mlflow_run_id"]).data.tags
    assert churn["training"]["data_fingerprint"] == tags["data_fingerprint"]
    assert churn["training"]["evaluation_cutoff"] == tags["evaluation_cutoff"]
    assert churn["promotion_metric"] == "roc_auc"
    assert catalog.model_name("churn", project="default") in churn["model_name"]


def test_score_features_equals_score_for_the_same_member(client: httpx.Client, snapshot) -> None:
    """A member's snapshot features sent as a row get the same model outputs and reasons as /score."""
    inputs = snapshot.model_inputs()
    member = str(inputs["member_id"].iloc[3])
    row = inputs.iloc[3].drop("member_id")
    features = {name: (None if value != value else float(value)) for name, value in row.items()}
    by_features = client.post("/score_features", json={"rows": [{"member_id": member, "features": features}],
                                                       "explain": 2})
    assert by_features.status_code == 200, by_features.text[:500]
    by_id = client.post("/score", json={"member_ids": [member], "explain": 2}).json()["results"][0]
    got = by_features.json()["results"][0]
    assert got["member_id"] == member
    modelled = {"churn_probability": "churn", "p_purchase_30d": "next_purchase", "expected_value": "value",
                "upsell_probability": "upsell"}
    for field, task in modelled.items():  # baseline-served outputs come from the snapshot, not from features
        if by_id[field] is not None and not by_features.json()["model_versions"].get(task, "").startswith("baseline"):
            assert got[field] == pytest.approx(by_id[field], rel=1e-6), field
    assert got["p_alive"] == pytest.approx(by_id["p_alive"], rel=1e-9)
    assert got["model_reasons"] == by_id["model_reasons"]
    assert got["rfm_segment"] is None and by_id["rfm_segment"] is not None  # segments need a snapshot


BAD_FEATURE_ROWS = {
    "unknown feature": ({"rows": [{"features": {"no_such_feature": 1.0}}]}, "no_such_feature"),
    "missing feature": ({"rows": [{"features": {"recency_days": 3.0}}]}, "missing"),
    "NaN value": (b'{"rows": [{"features": {"recency_days": NaN}}]}', "recency_days"),
    "Infinity value": (b'{"rows": [{"features": {"recency_days": Infinity}}]}', "recency_days"),
    "string value": ({"rows": [{"features": {"recency_days": "ten"}}]}, "recency_days"),
    "empty rows": ({"rows": []}, "rows"),
    "too many rows": ({"rows": [{"features": {}}] * (MAX_FEATURE_ROWS + 1)}, "rows"),
    "unknown field": ({"rows": [{"features": {}}], "limit": 3}, "limit"),
}


@pytest.mark.parametrize(("payload", "named"), list(BAD_FEATURE_ROWS.values()), ids=list(BAD_FEATURE_ROWS))
def test_bad_feature_rows_are_422_naming_the_field(client: httpx.Client, payload: object, named: str) -> None:
    if isinstance(payload, bytes):
        response = client.post("/score_features", content=payload, headers={"content-type": "application/json"})
    else:
        response = client.post("/score_features", json=payload)
    assert response.status_code == 422, (response.status_code, response.text[:300])
    assert named in response.text


def test_explain_returns_exact_full_shap_vectors(client: httpx.Client, snapshot, use_trained: object) -> None:
    """Per model: base value + sum of contributions == margin; feature values are the snapshot's; the
    served churn probability is the champion's own calibration of that margin."""
    member = str(snapshot.frame["member_id"].iloc[11])
    response = client.post("/explain", json={"member_id": member})
    assert response.status_code == 200, response.text[:300]
    models = response.json()["models"]
    assert "churn" in models
    expected_values = snapshot.frame.set_index("member_id").loc[member]
    for task, explanation in models.items():
        total = explanation["base_value"] + sum(explanation["contributions"].values())
        assert total == pytest.approx(explanation["margin"], abs=1e-4), task
        for name, value in explanation["feature_values"].items():
            if name in expected_values.index:
                want = expected_values[name]
                assert (value is None and np.isnan(want)) or value == pytest.approx(want), (task, name)
    churn = models["churn"]
    probability = client.post("/score", json={"member_ids": [member], "explain": 0}).json()["results"][0]
    calibration = read_calibration(catalog.load_booster("churn", project=DEFAULT_PROJECT))
    served = calibrated_probability(np.array([churn["margin"]]), calibration)[0]
    assert served == pytest.approx(probability["churn_probability"], rel=1e-5)


def test_explain_unknown_member_is_404(client: httpx.Client) -> None:
    response = client.post("/explain", json={"member_id": "nobody-here"})
    assert response.status_code == 404 and "member_id" in response.text


def test_segments_counts_and_value_shares_add_up(client: httpx.Client, snapshot) -> None:
    """Every dimension counts every member once, lists every configured label, and shares sum to 1."""
    body = client.get("/segments").json()
    profile = snapshot.profile
    assert body["members"] == len(profile)
    assert body["total_value"] == pytest.approx(profile["clv_12m"].fillna(0).sum(), rel=1e-9)
    for dimension, groups in body["dimensions"].items():
        assert sum(g["members"] for g in groups) == len(profile), dimension
        assert sum(g["share_value"] for g in groups) == pytest.approx(1.0), dimension
        observed = profile[dimension].value_counts()
        for group in groups:
            assert group["members"] == int(observed.get(group["name"], 0)), (dimension, group["name"])
    assert [g["name"] for g in body["dimensions"]["abc_class"]] == ["AA", "A", "B", "C"]


def test_campaigns_and_targets_json_and_csv_agree(client: httpx.Client) -> None:
    names = [c["name"] for c in client.get("/campaigns").json()["campaigns"]]
    assert {"winback", "retain_high_value", "upsell", "next_purchase_reminder"} <= set(names)
    request = {"campaign": "winback", "limit": 15, "explain": 1}
    as_json = client.post("/targets", json=request)
    assert as_json.status_code == 200, as_json.text[:300]
    rows = as_json.json()["rows"]
    assert [r["rank"] for r in rows] == list(range(1, len(rows) + 1))
    assert all(a["score"] >= b["score"] for a, b in zip(rows, rows[1:]))
    as_csv = client.post("/targets", params={"format": "csv"}, json=request)
    assert as_csv.status_code == 200 and as_csv.headers["content-type"].startswith("text/csv")
    listed = list(csv.DictReader(io.StringIO(as_csv.text.removeprefix("\ufeff"))))
    assert [r["member_id"] for r in listed] == [r["member_id"] for r in rows]


@pytest.mark.parametrize(("body", "params", "named"), [
    ({"campaign": "no_such_campaign"}, {}, "campaign"),
    ({"campaign": "winback", "filters": {"tiers": ["bronze-ish"]}}, {}, "tiers"),
    ({"campaign": "winback", "limit": 0}, {}, "limit"),
    ({"campaign": "winback", "filters": {"min_value": -1}}, {}, "min_value"),
    ({"campaign": "winback"}, {"format": "xml"}, "format"),
], ids=["unknown campaign", "unknown tier", "limit 0", "negative min_value", "bad format"])
def test_bad_target_requests_are_4xx_naming_the_field(client: httpx.Client, body: dict, params: dict, named: str) -> None:
    response = client.post("/targets", json=body, params=params)
    assert 400 <= response.status_code < 500, (response.status_code, response.text[:300])
    assert named in response.text


def test_tasks_without_a_champion_say_their_baseline_serves(client: httpx.Client, snapshot) -> None:
    """The session's stores hold a churn champion only: next purchase and value come from BG/NBD, upsell
    from the snapshot's popular new categories, and each says so."""
    members = [str(m) for m in snapshot.frame["member_id"].iloc[:20]]
    body = client.post("/score", json={"member_ids": members, "explain": 0}).json()
    assert body["model_versions"]["next_purchase"] == "baseline:bgnbd"
    assert body["model_versions"]["value"] == "baseline:bgnbd"
    assert body["model_versions"]["upsell"] == "baseline:popular_new_categories"
    assert body["model_versions"]["churn"] == body["model_version"] and body["model_version"].isdigit()
    profile = snapshot.profile.set_index("member_id").loc[members]
    results = body["results"]
    assert [r["p_purchase_30d"] for r in results] == pytest.approx(list(profile["bgnbd_p_purchase_30d"]))
    assert [r["expected_value"] for r in results] == pytest.approx(list(profile["baseline_expected_value"]))  # over H (issue 14)
    assert [r["upsell_probability"] for r in results] == pytest.approx(list(profile["baseline_upsell_probability"]))
    # issue 15: the answer's offers are JSON lists, the snapshot keeps one JSON array per member
    assert [r["upsell_categories"] for r in results] == [decode_offers(o) for o in profile["baseline_upsell_categories"]]
    assert any(r["upsell_categories"] for r in results)
