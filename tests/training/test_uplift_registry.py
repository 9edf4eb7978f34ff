"""The uplift model is registered per project like the other tasks; champion only through its gate;
the champion ranks a list by expected incremental value."""

from __future__ import annotations

import json

import mlflow
import numpy as np
import pandas as pd
import pytest
import xgboost as xgb

from models import catalog
from models.uplift import champion as uplift_champion
from models.uplift import load_champion, rank_by_incremental_value
from training import champion
from training.uplift import OutcomeLearner
from training.uplift_train import train_uplift

from .test_uplift import campaign

FAST = OutcomeLearner(rounds=40, seed=7)


def _stump(feature: str, names: list[str]) -> xgb.Booster:
    """A one-split regression booster: 1.0 where ``feature`` is above 0.5, else -1.0 (base 0)."""
    x = np.array([[0.0] * len(names), [1.0] * len(names)], dtype=np.float32)
    x[:, [i for i, n in enumerate(names) if n != feature]] = 0.0
    matrix = xgb.DMatrix(x, label=[-1.0, 1.0], feature_names=names)
    return xgb.train({"max_depth": 1, "eta": 1.0, "base_score": 0.0, "lambda": 0.0, "min_child_weight": 0}, matrix, 1)


def test_rank_by_incremental_value_is_margin_net_of_cost() -> None:
    booster = _stump("segment", ["habit", "segment"])
    features = pd.DataFrame({"habit": [0.9, 0.1, 0.2], "segment": [0.0, 1.0, 1.0]}, index=["m1", "m2", "m3"])
    ranked = rank_by_incremental_value(features, booster, margin_rate=0.5, cost_per_contact=0.1)
    assert list(ranked.index) == ["m2", "m3", "m1"]  # ties keep input order
    assert ranked["incremental_outcome"].tolist() == pytest.approx([1.0, 1.0, -1.0])
    assert ranked["expected_incremental_value"].tolist() == pytest.approx([0.4, 0.4, -0.6])
    assert ranked["rank"].tolist() == [1, 2, 3]
    with pytest.raises(ValueError, match="margin_rate"):
        rank_by_incremental_value(features, booster, margin_rate=0.0)
    with pytest.raises(ValueError, match="features missing"):
        rank_by_incremental_value(features[["habit"]], booster)


@pytest.mark.slow
def test_registered_per_project_and_champion_only_through_the_gate(stores: object) -> None:
    features, treated, outcome = campaign(4000, effect=0.3, seed=1)
    won = train_uplift(features, treated, outcome, features["habit"].to_numpy(), project="shop",
                       learner=FAST, rounds=200, test_share=0.5, outcome_name="bought")
    assert won.decision.promote and won.version == "1"
    assert catalog.alias_version("uplift", catalog.CHAMPION, project="shop") == "1"
    assert catalog.alias_version("uplift", catalog.CHAMPION, project="other") is None
    assert catalog.model_name("uplift", project="shop") == "shop.memberscore-uplift"
    metrics = catalog.run_metrics(str(won.run_id))
    assert metrics["qini_diff_outcome_model_low"] > 0 and "outcome_model_uplift_at_30_high" in metrics
    decision = json.loads(mlflow.artifacts.load_text(f"runs:/{won.run_id}/decision.json"))
    assert decision["promoted"] is True

    booster = load_champion("shop")
    assert booster is not None
    found = uplift_champion("shop")  # what a campaign ranked by uplift records: the version that ranked
    assert found is not None and found.version == "1" and found.outcome == "bought" and not found.in_money
    assert np.array_equal(found.booster.predict(xgb.DMatrix(features[booster.feature_names])),
                          booster.predict(xgb.DMatrix(features[booster.feature_names])))
    assert uplift_champion("other") is None
    ranked = rank_by_incremental_value(features, booster)
    top = ranked.index[: len(ranked) // 5]
    assert features.loc[top, "segment"].mean() > 0.8  # the responders (3 in 10) come first

    null_features, null_treated, null_outcome = campaign(600, effect=0.0, seed=2)
    lost = train_uplift(null_features, null_treated, null_outcome, null_features["habit"].to_numpy(),
                        project="shop", learner=FAST, rounds=200, test_share=0.5)
    assert not lost.decision.promote and lost.version == "2"
    assert catalog.alias_version("uplift", catalog.CHAMPION, project="shop") == "1"
    assert catalog.alias_version("uplift", catalog.CHALLENGER, project="shop") == "2"
    kept = uplift_champion("shop")
    assert kept is not None and kept.version == "1"  # the loser does not rank lists
    with pytest.raises(ValueError, match="did not pass its gate"):
        champion.promote_version("uplift", "2", project="shop")
