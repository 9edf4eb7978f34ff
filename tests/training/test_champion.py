"""training.champion: operator promote and rollback of the MLflow ``champion`` alias (issue 15, item 3).

Tiny hand-built boosters stand in for trained models, each logged with the gate decision its run
would have recorded; the tests are about which version the alias names and what is kept.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from mlflow import MlflowClient

from models import catalog
from training import registry
from training.champion import FORCED_TAG, promote_version, rollback

PROJECT = "shop-a"


def log_tiny(promoted: bool, seed: int, project: str = PROJECT) -> str:
    """Register a one-split churn booster whose run recorded ``promoted``; returns its version."""
    names = ["recency_days", "orders_total"]
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.uniform(0, 100, (50, 2)), columns=names)
    booster = xgb.train({"objective": "binary:logistic", "max_depth": 1, "nthread": 1},
                        xgb.DMatrix(frame, label=(frame["recency_days"] > 50).astype(float)), 1)
    decision = {"promoted": promoted, "reason": "beat every baseline" if promoted else "lost to rfm_rule"}
    record = registry.RunRecord(task="churn", project=project, booster=booster, input_example=frame.head(2),
                                params={}, tags={}, metrics={}, documents={"decision.json": decision})
    return registry.log_run(record).version


def champion() -> str | None:
    return catalog.alias_version("churn", catalog.CHAMPION, project=PROJECT)


def test_promote_moves_the_alias_and_keeps_the_previous(stores: object) -> None:
    first, second = log_tiny(True, 1), log_tiny(True, 2)
    assert promote_version("churn", first, project=PROJECT).previous is None
    move = promote_version("churn", second, project=PROJECT)
    assert (move.previous, move.version, champion()) == ("1", "2", "2")
    assert catalog.alias_version("churn", registry.PREVIOUS_CHAMPION, project=PROJECT) == "1"
    assert registry.champion_history("churn", project=PROJECT) == ["1", "2"]
    assert move.line() == "shop-a.memberscore-churn: champion v1 -> v2"


def test_a_version_that_lost_its_gate_is_refused_unless_forced_with_a_reason(stores: object) -> None:
    winner, loser = log_tiny(True, 1), log_tiny(False, 2)
    promote_version("churn", winner, project=PROJECT)
    with pytest.raises(ValueError, match=r"v2 did not pass its gate: lost to rfm_rule; pass --force --reason TEXT"):
        promote_version("churn", loser, project=PROJECT)
    with pytest.raises(ValueError, match="--force needs --reason TEXT"):
        promote_version("churn", loser, project=PROJECT, force=True)
    assert champion() == "1"
    move = promote_version("churn", loser, project=PROJECT, force=True, reason="baseline data was stale")
    assert champion() == "2" and "forced: baseline data was stale" in move.line()
    name = catalog.model_name("churn", project=PROJECT)
    tag = MlflowClient().get_model_version(name, "2").tags[FORCED_TAG]
    assert "baseline data was stale" in tag and "lost to rfm_rule" in tag
    run_id = catalog.version_run_id("churn", "2", project=PROJECT)
    assert "baseline data was stale" in MlflowClient().get_run(run_id).data.tags[FORCED_TAG]


def test_promote_refuses_a_missing_version_and_the_serving_one(stores: object) -> None:
    promote_version("churn", log_tiny(True, 1), project=PROJECT)
    with pytest.raises(ValueError, match=r"^shop-a.memberscore-churn has no version 7$"):
        promote_version("churn", "7", project=PROJECT)
    with pytest.raises(ValueError, match="v1 is already the champion"):
        promote_version("churn", "1", project=PROJECT)


def test_rollback_walks_back_through_the_history_and_refuses_at_its_start(stores: object) -> None:
    for seed in (1, 2, 3):
        promote_version("churn", log_tiny(True, seed), project=PROJECT)
    assert (rollback("churn", project=PROJECT).version, champion()) == ("2", "2")
    assert catalog.alias_version("churn", registry.PREVIOUS_CHAMPION, project=PROJECT) == "1"
    assert (rollback("churn", project=PROJECT).version, champion()) == ("1", "1")
    with pytest.raises(ValueError, match=r"^shop-a.memberscore-churn v1 has no previous champion to roll back to$"):
        rollback("churn", project=PROJECT)
    assert champion() == "1"
    promote_version("churn", "3", project=PROJECT)  # promoting again after a rollback continues the history
    assert registry.champion_history("churn", project=PROJECT) == ["1", "3"]
    assert rollback("churn", project=PROJECT).version == "1"


def test_rollback_without_any_champion_is_refused(stores: object) -> None:
    with pytest.raises(ValueError, match=r"^shop-a.memberscore-churn has no champion to roll back$"):
        rollback("churn", project=PROJECT)
    log_tiny(True, 1)
    with pytest.raises(ValueError, match="has no champion to roll back"):
        rollback("churn", project=PROJECT)


def test_a_champion_set_before_the_history_existed_can_be_rolled_back_to(stores: object) -> None:
    """A store from before this issue: champion set by the alias alone, no history tag."""
    first, second = log_tiny(True, 1), log_tiny(True, 2)
    registry.set_alias("churn", catalog.CHAMPION, first, project=PROJECT)
    promote_version("churn", second, project=PROJECT)
    assert rollback("churn", project=PROJECT).version == "1"
