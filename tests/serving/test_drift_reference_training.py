"""The drift reference a training run stores (training.pipeline -> features.drift_reference), and the
scores it profiles (models.served_scores) agreeing with what the service serves (serving.scoring)."""

from __future__ import annotations

import mlflow
import pandas as pd
import pytest
import xgboost as xgb

from features.drift_reference import TrainingReference
from features.project import DEFAULT_PROJECT
from features.snapshot import Snapshot
from models.served_scores import SCORE_COLUMNS, served_scores
from serving.scoring import model_outputs
from tests.serving.conftest import TINY_AS_OF


def test_served_scores_are_the_columns_the_service_serves(tiny_models: dict[str, xgb.Booster],
                                                          tiny_snapshot: Snapshot) -> None:
    inputs = tiny_snapshot.model_inputs()
    for task, booster in tiny_models.items():
        served = model_outputs({task: booster}, inputs, TINY_AS_OF)[list(SCORE_COLUMNS[task])]
        pd.testing.assert_frame_equal(served_scores(task, booster, inputs), served, check_dtype=False)
    with pytest.raises(ValueError, match="task: 'uplift' serves no scores"):
        served_scores("uplift", tiny_models["churn"], inputs)


def test_a_registered_version_logs_its_training_profile_to_its_run(use_trained: object) -> None:
    from serving.artefacts import load_model

    model = load_model("churn", project=DEFAULT_PROJECT)
    document = mlflow.artifacts.load_dict(f"runs:/{model.run_id}/drift_reference.json")
    reference = TrainingReference.from_dict(document)
    assert (reference.task, reference.model_version, reference.run_id) == ("churn", model.mlflow_version, model.run_id)
    assert [c.column for c in reference.features.columns] == list(model.booster.feature_names or [])
    assert [c.column for c in reference.scores.columns] == ["churn_probability"]
    assert all(c.comparable for c in reference.scores.columns)
    assert "member_id" not in str(document)
