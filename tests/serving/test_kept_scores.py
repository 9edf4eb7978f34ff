"""The score history keeps exactly what the service serves for a snapshot (``serving.kept_scores``)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import xgboost as xgb

from features.contract import MEMBER_ID
from features.score_history import read_scores, stored_dates
from features.snapshot import Snapshot
from features.store import write_snapshot
from serving.kept_scores import SERVED_BY, keep_scores, served_scores
from serving.live import load_snapshot
from serving.scoring import OUTPUT_COLUMNS


@pytest.mark.parametrize("tasks", [("churn", "value", "upsell"), ("value",)])
def test_stored_scores_equal_what_the_service_serves(tiny_snapshot: Snapshot, tiny_models: dict[str, xgb.Booster],
                                                     tmp_path: Path, tasks: tuple[str, ...]) -> None:
    """Write the snapshot, load it as the service does, keep its scores: every output of every member
    is the served one (same values, same dtypes), with served_by naming each champion's version."""
    models = {task: tiny_models[task] for task in tasks}
    versions = {task: str(i + 3) for i, task in enumerate(tasks)}
    path = write_snapshot(tiny_snapshot, tmp_path)
    served = load_snapshot(path, models, lookup=False).scores_by_id

    kept = keep_scores(served_scores(models, versions, tiny_snapshot), tiny_snapshot, tmp_path, versions,
                       horizon_days=60, key=None, keep_days=0)
    stored = read_scores(kept)

    outputs = stored.scores[list(OUTPUT_COLUMNS)]
    by_id = outputs.set_index(outputs[MEMBER_ID].astype(str)).drop(columns=MEMBER_ID)
    pd.testing.assert_frame_equal(by_id, served, check_names=False)
    assert (stored.as_of, stored.model_versions, stored.horizon_days) == (tiny_snapshot.as_of, versions, 60)
    first = stored.scores[SERVED_BY].iloc[0]
    assert all(f"{task}=model:{version}" in first for task, version in versions.items())
    assert stored_dates(tmp_path) == [tiny_snapshot.as_of]
