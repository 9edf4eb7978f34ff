"""How models and snapshots reach the service.

The MLflow ``champion`` alias is the one source of truth for what serves: training, ``memberscore
promote`` and ``memberscore rollback`` move it, and batch scoring and the service follow it. The
BentoML model store is a cache of the registry: ``import_version`` copies a version in once
(labels carry the MLflow version and run), the service loads the champion from there, and
``bentoml build`` pins exactly the cached champions.
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
    key: str = ""  # what the poll compares (``stored_tag``); the BentoML tag when empty


def import_champion(task: str, *, project: str) -> bentoml.Model | None:
    """The MLflow champion of ``task`` in ``project`` in the BentoML store (imported unless cached); None without one."""
    target = catalog.alias_target(task, catalog.CHAMPION, project=project)
    return None if target is None else import_version(task, target.version, project=project)


def import_version(task: str, version: str, *, project: str) -> bentoml.Model:
    """Registered ``version`` of ``task`` in the BentoML store, imported once: the store is a cache of the catalog.

    A stored model is matched by run id (unique), not by version number (reused across
    registries); its labels record both. A model the service could not score with is refused
    and deleted again (``check_servable``).
    """
    name = catalog.model_name(task, project=project)
    run_id = catalog.version_run_id(task, version, project=project)
    cached = _stored_run(name, run_id)
    if cached is not None:
        return cached
    metrics = {k: v for k, v in catalog.run_metrics(run_id).items() if k.startswith("oot_")}
    imported = bentoml.mlflow.import_model(
        name,
        f"models:/{name}/{version}",
        labels={"mlflow_version": version, "run_id": run_id, "task": task, "project": project},
        metadata={"metrics": json.dumps(metrics), "training": json.dumps(catalog.run_training_facts(run_id))},
    )
    _keep_if_servable(imported, f"{name} v{version}")
    return imported


def _stored_run(name: str, run_id: str) -> bentoml.Model | None:
    """The newest stored model of ``name`` imported from ``run_id``, or None."""
    try:
        listed = bentoml.models.list(name)
    except bentoml.exceptions.NotFound:
        return None
    stored = [m for m in listed if m.info.labels.get("run_id") == run_id]
    return max(stored, key=lambda m: m.info.creation_time) if stored else None


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
    except Exception as error:
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
    """The key of the model that serves ``task`` in ``project``, or None: the MLflow champion
    (``<name>@v<version>:<run id>``), or, where the registry has none (a built Bento without
    MLflow), the BentoML store's newest model of the name. Cheap: one registry call, no import."""
    name = catalog.model_name(task, project=project)
    target = catalog.alias_target(task, catalog.CHAMPION, project=project)
    if target is not None:
        return _champion_key(name, target)
    stored = _latest_stored(name)
    return None if stored is None else str(stored.tag)


def _champion_key(name: str, target: catalog.AliasTarget) -> str:
    return f"{name}@v{target.version}:{target.run_id}"


def import_champions(*, project: str) -> dict[str, bentoml.Model]:
    """``import_champion`` for every task that has a champion in ``project``."""
    imported = {task: import_champion(task, project=project) for task in TASK_NAMES}
    return {task: model for task, model in imported.items() if model is not None}


def load_model(task: str, *, project: str) -> ServingModel:
    """The model that serves ``task`` in ``project`` (see ``stored_tag``) as a native XGBoost booster.

    The champion is loaded from the BentoML cache, imported there first when the alias moved to
    a version not yet cached; ``key`` says which champion it is, so the poll knows it has it.
    """
    name = catalog.model_name(task, project=project)
    target = catalog.alias_target(task, catalog.CHAMPION, project=project)
    if target is None:
        stored, key = bentoml.models.get(f"{name}:latest"), None
    else:
        stored, key = import_version(task, target.version, project=project), _champion_key(name, target)
    return ServingModel(
        name=str(stored.tag),
        booster=_booster(stored),
        mlflow_version=stored.info.labels.get("mlflow_version", "unknown"),
        run_id=stored.info.labels.get("run_id", "unknown"),
        metrics=json.loads(str(stored.info.metadata.get("metrics", "{}"))),
        training=json.loads(str(stored.info.metadata.get("training", "{}"))),
        key=key or str(stored.tag),
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
    home_stores: pd.Series | None = None  # member id -> home store, when the data has stores (serving.scope)

    def serves(self, task: str, models: Mapping[str, object]) -> bool:
        """Whether ``task`` has scores here: its champion's, or its baseline's."""
        return task in models or task in self.baselines
