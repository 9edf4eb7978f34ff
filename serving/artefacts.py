"""How models and snapshots reach the service.

Promotion moves the MLflow ``champion`` alias; ``import_champion`` copies that version into the
BentoML model store (labels carry the MLflow version and run), and the service loads the newest
imported model from the store, so ``bentoml build`` pins exactly what serves.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

import bentoml
import pandas as pd
import xgboost as xgb

from features.catalogue import BY_NAME
from features.categories import SHARE_PREFIX
from features.snapshot import Snapshot
from models import catalog
from models.tasks import TASK_NAMES
from serving.lookup import MemberLookup


@dataclass(frozen=True)
class ServingModel:
    """A loaded booster with the facts ``/metadata`` reports about it."""

    name: str
    booster: xgb.Booster
    mlflow_version: str
    run_id: str
    metrics: dict[str, float]
    training: dict[str, str] = field(default_factory=dict)


def import_champion(task: str, *, project: str) -> bentoml.Model | None:
    """Make the MLflow champion of ``task`` in ``project`` the newest model of its name in the BentoML store.

    The store's ``:latest`` is what serves, so the champion is re-imported whenever the latest
    stored model is another run: after a promotion, a rollback of the alias, or a new registry.
    A stored model is matched by run id (unique), not by version number (reused across registries).
    """
    version = catalog.alias_version(task, catalog.CHAMPION, project=project)
    if version is None:
        return None
    name = catalog.model_name(task, project=project)
    run_id = catalog.version_run_id(task, version, project=project)
    latest = _latest_stored(name)
    if latest is not None and latest.info.labels.get("run_id") == run_id:
        return latest
    metrics = {k: v for k, v in catalog.run_metrics(run_id).items() if k.startswith("oot_")}
    imported = bentoml.mlflow.import_model(
        name,
        f"models:/{name}/{version}",
        labels={"mlflow_version": version, "run_id": run_id, "task": task, "project": project},
        metadata={"metrics": json.dumps(metrics), "training": json.dumps(catalog.run_training_facts(run_id))},
    )
    _keep_if_servable(imported, f"{name} v{version}")
    return imported


def check_servable(booster: xgb.Booster) -> None:
    """Refuse a booster the service could not score with: it must name its features, all from the catalogue.

    Snapshot columns are matched to a booster by name, so an unnamed or unknown feature would only
    fail later, when the running service loads it.
    """
    names = list(booster.feature_names or [])
    if not names:
        raise ValueError("the booster names no features (serving matches snapshot columns by name)")
    unknown = sorted(n for n in names if n not in BY_NAME and not n.startswith(SHARE_PREFIX))
    if unknown:
        raise ValueError(f"features unknown to the catalogue, absent from every snapshot: {unknown[:5]}")


def _keep_if_servable(stored: bentoml.Model, label: str) -> None:
    """Delete a just-imported model that does not load or fails ``check_servable``, so it never becomes ``:latest``."""
    try:
        check_servable(_booster(stored))
    except Exception as error:  # noqa: BLE001 - a file that does not even load is refused the same way
        bentoml.models.delete(stored.tag)
        raise ValueError(f"{label} not imported into the BentoML store: {type(error).__name__}: {error}") from error


def _booster(stored: bentoml.Model) -> xgb.Booster:
    import mlflow.xgboost

    return mlflow.xgboost.load_model(stored.path_of("mlflow_model"))


def _latest_stored(name: str) -> bentoml.Model | None:
    try:
        return bentoml.models.get(f"{name}:latest")
    except bentoml.exceptions.NotFound:
        return None


def stored_tag(task: str, *, project: str) -> str | None:
    """The BentoML tag of ``task``'s newest imported model in ``project`` (what would serve), or None."""
    stored = _latest_stored(catalog.model_name(task, project=project))
    return None if stored is None else str(stored.tag)


def import_champions(*, project: str) -> dict[str, bentoml.Model]:
    """``import_champion`` for every task that has a champion in ``project``."""
    imported = {task: import_champion(task, project=project) for task in TASK_NAMES}
    return {task: model for task, model in imported.items() if model is not None}


def load_model(task: str, *, project: str) -> ServingModel:
    """The newest imported model of ``task`` in ``project`` from the BentoML store, as a native XGBoost booster."""
    stored = bentoml.models.get(f"{catalog.model_name(task, project=project)}:latest")
    return ServingModel(
        name=str(stored.tag),
        booster=_booster(stored),
        mlflow_version=stored.info.labels.get("mlflow_version", "unknown"),
        run_id=stored.info.labels.get("run_id", "unknown"),
        metrics=json.loads(stored.info.metadata.get("metrics", "{}")),
        training=json.loads(stored.info.metadata.get("training", "{}")),
    )


@dataclass(frozen=True)
class LoadedSnapshot:
    """A snapshot ready to serve: model inputs and every output indexed by member id, and the lookup
    of outputs with each model's top reasons (``serving.lookup``), all computed once when the
    snapshot or a model changes, so ``/score`` is a lookup."""

    snapshot: Snapshot
    features_by_id: pd.DataFrame
    scores_by_id: pd.DataFrame
    members: MemberLookup | None = None  # None: reasons are computed per request
    baselines: Mapping[str, str] = field(default_factory=dict)  # task without a champion -> the baseline serving it

    def serves(self, task: str, models: Mapping[str, object]) -> bool:
        """Whether ``task`` has scores here: its champion's, or its baseline's."""
        return task in models or task in self.baselines
