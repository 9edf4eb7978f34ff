"""How models and snapshots reach the service.

Promotion moves the MLflow ``champion`` alias; ``import_champion`` copies that version into the
BentoML model store (labels carry the MLflow version and run), and the service loads the newest
imported model from the store, so ``bentoml build`` pins exactly what serves.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import bentoml
import xgboost as xgb

from features.snapshot import Snapshot
from features.store import latest_snapshot_path, read_snapshot
from training import registry


@dataclass(frozen=True)
class ServingModel:
    """A loaded booster with the facts ``/metadata`` reports about it."""

    name: str
    booster: xgb.Booster
    mlflow_version: str
    run_id: str
    metrics: dict[str, float]


def import_champion(task: str) -> bentoml.Model | None:
    """Import ``models:/memberscore-<task>@champion`` into the BentoML store (once per version)."""
    version = registry.alias_version(task, registry.CHAMPION)
    if version is None:
        return None
    name = registry.model_name(task)
    for existing in _stored_versions(name):
        if existing.info.labels.get("mlflow_version") == version:
            return existing
    run_id = registry.version_run_id(task, version)
    metrics = {k: v for k, v in registry.run_metrics(run_id).items() if k.startswith("oot_")}
    return bentoml.mlflow.import_model(
        name,
        f"models:/{name}@{registry.CHAMPION}",
        labels={"mlflow_version": version, "run_id": run_id, "task": task},
        metadata={"metrics": json.dumps(metrics)},
    )


def _stored_versions(name: str) -> list[bentoml.Model]:
    try:
        return bentoml.models.list(name)
    except bentoml.exceptions.NotFound:
        return []


def load_model(task: str) -> ServingModel:
    """The newest imported model of ``task`` from the BentoML store, as a native XGBoost booster."""
    import mlflow.xgboost

    stored = bentoml.models.get(f"{registry.model_name(task)}:latest")
    booster = mlflow.xgboost.load_model(stored.path_of("mlflow_model"))
    return ServingModel(
        name=str(stored.tag),
        booster=booster,
        mlflow_version=stored.info.labels.get("mlflow_version", "unknown"),
        run_id=stored.info.labels.get("run_id", "unknown"),
        metrics=json.loads(stored.info.metadata.get("metrics", "{}")),
    )


def load_latest_snapshot(directory: Path) -> Snapshot:
    """The newest snapshot in ``directory``; a clear error when there is none."""
    path = latest_snapshot_path(directory)
    if path is None:
        raise FileNotFoundError(f"no feature snapshot in {directory}: run `memberscore train` or `memberscore snapshot`")
    return read_snapshot(path)
