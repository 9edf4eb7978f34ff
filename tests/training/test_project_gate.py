"""A gate only compares models trained on the same project (issue 14, item 8).

The session's trained store holds a churn champion of project ``default``. Training churn on the
same data in project ``other`` in that store meets no champion (its registry starts at v1, its
gate says "no champion yet"), names its run for its project, and leaves ``default``'s champion
where it was. (Training again in ``default`` would move the session's champion, which other tests
read; tests/serving/test_projects.py trains two projects end to end in a store of its own.)
"""

from __future__ import annotations

import pandas as pd
import pytest
from mlflow import MlflowClient

from features.project import DEFAULT_PROJECT
from models import catalog
from tests.conftest import train_churn
from training.config import TrainConfig

pytestmark = pytest.mark.slow

CONFIG = TrainConfig(horizon_days=60, n_train_cutoffs=4, num_boost_round=40)


def test_a_gate_meets_only_its_own_projects_champion(use_trained: object,
                                                     synthetic: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    default_champion = catalog.alias_version("churn", catalog.CHAMPION, project=DEFAULT_PROJECT)
    assert default_champion is not None

    other = train_churn(synthetic[0], CONFIG, project="other")

    assert other.version == "1"
    assert "champion" not in other.decision.reason.replace("no champion yet", "")
    if other.decision.promote:
        assert other.decision.reason.endswith("no champion yet")
    run = MlflowClient().get_run(other.run_id)
    assert run.info.run_name.startswith("churn · other · ")
    assert run.data.tags["project"] == "other"
    assert MlflowClient().get_experiment(run.info.experiment_id).name == "other.memberscore-churn"
    assert catalog.alias_version("churn", catalog.CHAMPION, project=DEFAULT_PROJECT) == default_champion
    assert catalog.alias_version("churn", catalog.CHALLENGER, project="other") == "1"
    assert catalog.run_training_facts(other.run_id)["project"] == "other"
