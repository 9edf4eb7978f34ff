"""A campaign ranked by the uplift champion (``"rank": "uplift"``, ``--rank uplift``) on the hand-built
snapshot of ``test_store_lists``: the list is who the champion says a contact moves, the record says
so, and without a champion (or with one that cannot read the snapshot) it is refused, never ranked by
score instead."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pytest
import xgboost as xgb
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from campaigns.store import CampaignStore
from cli.main import app
from models.uplift import UpliftChampion
from tests.campaigns.test_store_lists import BODY, client_for
from tests.campaigns.test_store_lists import store as store  # the fixture

LAPSING = [f"m{i:03d}" for i in range(100)]  # the winback list, best score first


def stump(feature: str = "spend_30d") -> xgb.Booster:
    """Incremental outcome -1 below ``feature`` 100, +1 from 100 up: on the snapshot (spend_30d = 2 x index)
    the members from m050 respond, the score's best fifty do not."""
    matrix = xgb.DMatrix(np.array([[0.0], [100.0]], dtype=np.float32), label=[-1.0, 1.0], feature_names=[feature])
    return xgb.train({"max_depth": 1, "eta": 1.0, "base_score": 0.0, "lambda": 0.0, "min_child_weight": 0}, matrix, 1)


def client_with(store: CampaignStore, monkeypatch: pytest.MonkeyPatch, champion: UpliftChampion | None) -> TestClient:
    return client_for(store, "shop", monkeypatch, lambda: champion)


UPLIFT_BODY: dict[str, Any] = {**BODY, "limit": 50, "rank": "uplift"}


def test_rank_uplift_lists_who_the_champion_says_responds_and_records_it(store: CampaignStore,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    client = client_with(store, monkeypatch, UpliftChampion("3", stump()))
    answer = client.post("/campaigns", json=UPLIFT_BODY)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    members = store.members("shop", body["campaign"]["id"])
    assert sorted(members["member_id"]) == LAPSING[50:]  # the responders; by score it would be m000 .. m049
    assert members["score"].to_numpy() == pytest.approx(np.full(50, 1.0 * 0.4 - 0.5))  # margin 0.4, cost 0.5
    assert body["arms"] == {"treatment": 40, "control": 10}  # 5 per decile, round(0.5) = 1 control each
    record = body["campaign"]
    assert record["settings"]["rank"] == "uplift" and record["settings"]["score"] == "expected_incremental_value"
    assert record["model_versions"] == {"churn": "baseline:rfm_rule", "uplift": "3"}
    by_score = client.post("/campaigns", json={**UPLIFT_BODY, "name": "by score", "rank": "score"}).json()
    assert sorted(store.members("shop", by_score["campaign"]["id"])["member_id"]) == LAPSING[:50]
    assert by_score["campaign"]["settings"]["rank"] == "score" and "uplift" not in by_score["campaign"]["model_versions"]


def test_a_champion_of_a_purchase_outcome_ranks_by_the_increment_with_no_money_taken_off(
        store: CampaignStore, monkeypatch: pytest.MonkeyPatch) -> None:
    client = client_with(store, monkeypatch, UpliftChampion("5", stump(), outcome="bought_30d"))
    body = client.post("/campaigns", json=UPLIFT_BODY).json()
    members = store.members("shop", body["campaign"]["id"])
    assert sorted(members["member_id"]) == LAPSING[50:]
    assert members["score"].to_numpy() == pytest.approx(np.ones(50))  # +1 purchase, not 1 x margin - cost
    assert body["campaign"]["settings"]["score"] == "incremental bought_30d"


def test_no_uplift_champion_is_a_422_naming_rank_and_nothing_is_stored(store: CampaignStore,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    client = client_with(store, monkeypatch, None)
    refused = client.post("/campaigns", json=UPLIFT_BODY)
    assert refused.status_code == 422
    assert refused.json() == {"error": "rank: 'uplift' needs an uplift champion for project 'shop', and none has "
                                       "passed its gate; rank by 'score' or train an uplift model on a randomised campaign"}
    assert store.list("shop") == []
    assert client.post("/campaigns", json={**UPLIFT_BODY, "rank": "score"}).status_code == 200  # by score: no champion needed


def test_a_champion_reading_features_the_snapshot_lacks_is_refused(store: CampaignStore,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    client = client_with(store, monkeypatch, UpliftChampion("4", stump("history")))
    refused = client.post("/campaigns", json=UPLIFT_BODY)
    assert refused.status_code == 422
    assert refused.json()["error"].startswith("rank: the uplift champion (version 4) cannot rank this snapshot: "
                                              "features missing for the model: ['history']")
    bad = client.post("/campaigns", json={**UPLIFT_BODY, "rank": "best"})
    assert bad.status_code == 422 and "rank" in bad.json()["error"]


CREATE = ["campaign", "create", "--campaign", "winback", "--limit", "50", "--name", "june", "--rank", "uplift"]


def test_cli_rank_uplift_without_a_champion_is_one_line_exit_2(db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("models.uplift.champion", lambda project: None)  # the registry's answer: test_uplift_registry
    result = CliRunner().invoke(app, CREATE)
    assert result.exit_code == 2, result.output
    assert result.output.strip() == ("error: --rank: 'uplift' needs an uplift champion for project 'default', and "
                                     "none has passed its gate; rank by 'score' or train an uplift model on a "
                                     "randomised campaign")


def test_cli_rank_uplift_with_a_champion(db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("models.uplift.champion", lambda project: UpliftChampion("7", stump()))
    result = CliRunner().invoke(app, CREATE)
    assert result.exit_code == 0, result.output
    answer = json.loads(result.output)
    assert answer["campaign"]["settings"]["rank"] == "uplift" and answer["campaign"]["model_versions"]["uplift"] == "7"
    assert {row["member_id"] for row in answer["contact_list"]} <= set(LAPSING[50:])
    bad = CliRunner().invoke(app, [*CREATE[:-1], "best"])
    assert bad.exit_code == 2 and bad.output.startswith("error: --rank: Input should be 'score' or 'uplift'")
