"""How models and snapshots reach the service.

Promotion moves the MLflow ``champion`` alias; ``import_champion`` copies that version into the
BentoML model store (labels carry the MLflow version and run), and the service loads the newest
imported model from the store, so ``bentoml build`` pins exactly what serves.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import bentoml
import pandas as pd
import xgboost as xgb

from features.snapshot import Snapshot
from features.store import latest_snapshot_path, read_snapshot
from serving.scoring import index_by_member, score_frame
from training import registry
from training.tasks import TASK_NAMES


@dataclass(frozen=True)
class ServingModel:
    """A loaded booster with the facts ``/metadata`` reports about it."""

    name: str
    booster: xgb.Booster
    mlflow_version: str
    run_id: str
    metrics: dict[str, float]


def import_champion(task: str) -> bentoml.Model | None:
    """Make the MLflow champion of ``task`` the newest model of its name in the BentoML store.

    The store's ``:latest`` is what serves, so the champion is re-imported whenever the latest
    stored model is another run: after a promotion, a rollback of the alias, or a new registry.
    A stored model is matched by run id (unique), not by version number (reused across registries).
    """
    version = registry.alias_version(task, registry.CHAMPION)
    if version is None:
        return None
    name = registry.model_name(task)
    run_id = registry.version_run_id(task, version)
    latest = _latest_stored(name)
    if latest is not None and latest.info.labels.get("run_id") == run_id:
        return latest
    metrics = {k: v for k, v in registry.run_metrics(run_id).items() if k.startswith("oot_")}
    return bentoml.mlflow.import_model(
        name,
        f"models:/{name}/{version}",
        labels={"mlflow_version": version, "run_id": run_id, "task": task},
        metadata={"metrics": json.dumps(metrics)},
    )


def _latest_stored(name: str) -> bentoml.Model | None:
    try:
        return bentoml.models.get(f"{name}:latest")
    except bentoml.exceptions.NotFound:
        return None


def load_models() -> dict[str, ServingModel]:
    """Every task's newest imported model; churn is required, the others serve when present."""
    models = {"churn": load_model("churn")}
    models.update({task: load_model(task) for task in TASK_NAMES[1:] if _latest_stored(registry.model_name(task))})
    return models


def import_champions() -> dict[str, bentoml.Model]:
    """``import_champion`` for every task that has a champion."""
    imported = {task: import_champion(task) for task in TASK_NAMES}
    return {task: model for task, model in imported.items() if model is not None}


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


@dataclass(frozen=True)
class LoadedSnapshot:
    """A snapshot ready to serve: model inputs and every output (no reasons) indexed by member id."""

    snapshot: Snapshot
    features_by_id: pd.DataFrame
    scores_by_id: pd.DataFrame


class LiveSnapshot:
    """The newest snapshot of a directory, re-read when a newer one appears (no restart needed).

    The directory is looked at no more often than every ``poll_seconds``; the snapshot and its
    member index are swapped together, so a request sees one consistent pair.
    """

    def __init__(self, directory: Path, poll_seconds: float, models: Mapping[str, xgb.Booster]) -> None:
        self.directory, self.poll_seconds, self.models = directory, poll_seconds, models
        self._checked_at = -float("inf")
        self._key: tuple[Path, int] | None = None
        self._current = self._refresh_if_newer()

    def current(self) -> LoadedSnapshot:
        """The snapshot with its inputs and scores indexed by member id, refreshed when a newer file is found."""
        if time.monotonic() - self._checked_at >= self.poll_seconds:
            self._current = self._refresh_if_newer() or self._current
        return self._current  # type: ignore[return-value]

    def _refresh_if_newer(self) -> LoadedSnapshot | None:
        self._checked_at = time.monotonic()
        path = latest_snapshot_path(self.directory)
        if path is None:
            raise FileNotFoundError(f"no feature snapshot in {self.directory}: run `memberscore train` or `memberscore snapshot`")
        key = (path, path.stat().st_mtime_ns)
        if key == self._key:
            return None
        snapshot = read_snapshot(path)
        inputs = snapshot.model_inputs()
        scores = score_frame(self.models, inputs, snapshot.profile, snapshot.as_of)
        self._key = key
        return LoadedSnapshot(snapshot, index_by_member(inputs), index_by_member(scores))
