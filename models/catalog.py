"""Reading the MLflow registry: where the store is, each task's model name, its aliases and boosters.

What serving, batch scoring and the CLI need to find the models that serve; logging runs and
moving aliases stay in ``training.registry``. The store follows ``MLFLOW_TRACKING_URI``; without
it, a local SQLite store under ``mlruns/`` (artifacts beside it) holds runs and the registry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import mlflow
import mlflow.xgboost
import xgboost as xgb
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from features.project import check_project

CHAMPION = "champion"
CHALLENGER = "challenger"
TRAINING_TAGS = ("project", "data_fingerprint", "evaluation_cutoff", "cutoffs", "horizon_days", "git_sha")


def model_name(task: str, *, project: str) -> str:
    """Registered model (and experiment) name of a task in a project: ``<project>.memberscore-<task>``.

    The project comes first and is cut off by the only '.' (project names have none), so no two
    projects share a name, and the name is valid for MLflow and as a BentoML tag.
    """
    return f"{check_project(project)}.memberscore-{task.replace('_', '-')}"


def local_store_uri(home: Path) -> str:
    """The embedded default: a SQLite tracking + registry database under ``home/mlruns``."""
    return f"sqlite:///{(home / 'mlruns' / 'mlflow.db').resolve()}"


def configure_tracking(uri: str | None = None, home: Path | None = None) -> str:
    """Point MLflow at ``uri`` (the ``MLFLOW_TRACKING_URI`` setting) or the local store; returns the URI in use."""
    uri = uri or local_store_uri(home or Path.cwd())
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return uri


def reread_telemetry_switch() -> None:
    """Make MLflow read its telemetry switch again (``MLFLOW_DISABLE_TELEMETRY``, set by
    ``features.settings.keep_quiet``): a process that imported mlflow before it was set stops reporting."""
    from mlflow.telemetry import set_telemetry_client

    set_telemetry_client()


def alias_version(task: str, alias: str, *, project: str) -> str | None:
    """The version an alias points at, or None when the model or alias does not exist."""
    try:
        return str(MlflowClient().get_model_version_by_alias(model_name(task, project=project), alias).version)
    except MlflowException:
        return None


@dataclass(frozen=True)
class AliasTarget:
    """The registered version an alias names, and the run that produced it (unique across registries)."""

    version: str
    run_id: str


def alias_target(task: str, alias: str = CHAMPION, *, project: str) -> AliasTarget | None:
    """What ``<project>.memberscore-<task>@<alias>`` names, in one registry call; None when the model or
    alias does not exist. Any other registry failure (unreachable server, locked store) raises, so a
    caller never mistakes an outage for "no champion"."""
    try:
        found = MlflowClient().get_model_version_by_alias(model_name(task, project=project), alias)
    except MlflowException as error:
        if error.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE"):
            return None
        raise
    return AliasTarget(str(found.version), str(found.run_id))



def load_booster(task: str, alias: str = CHAMPION, *, project: str) -> xgb.Booster | None:
    """The booster behind ``models:/<project>.memberscore-<task>@<alias>``, or None when there is none."""
    if alias_version(task, alias, project=project) is None:
        return None
    booster: xgb.Booster = mlflow.xgboost.load_model(f"models:/{model_name(task, project=project)}@{alias}")
    return booster


def load_version_booster(task: str, version: str, *, project: str) -> xgb.Booster:
    """The booster of one registered version (``models:/<project>.memberscore-<task>/<version>``)."""
    booster: xgb.Booster = mlflow.xgboost.load_model(f"models:/{model_name(task, project=project)}/{version}")
    return booster


def version_run_id(task: str, version: str, *, project: str) -> str:
    return str(MlflowClient().get_model_version(model_name(task, project=project), version).run_id)


def version_created_at(task: str, version: str, *, project: str) -> datetime:
    """When a version was registered (timezone-aware, UTC): when the model it holds was trained."""
    found = MlflowClient().get_model_version(model_name(task, project=project), version)
    return datetime.fromtimestamp(int(found.creation_timestamp) / 1000, tz=UTC)


def newest_version_created_at(task: str, *, project: str) -> datetime | None:
    """When the task's newest version was registered (UTC; champion or not), None when it has none:
    when a model of the task was last trained and judged."""
    found = MlflowClient().search_model_versions(f"name = '{model_name(task, project=project)}'")
    stamps = [int(version.creation_timestamp) for version in found]
    return datetime.fromtimestamp(max(stamps) / 1000, tz=UTC) if stamps else None


def run_params(run_id: str) -> dict[str, str]:
    return dict(MlflowClient().get_run(run_id).data.params)


def run_metrics(run_id: str) -> dict[str, float]:
    return dict(MlflowClient().get_run(run_id).data.metrics)


def run_training_facts(run_id: str) -> dict[str, str]:
    """What a model was trained on and judged by: project, data fingerprint, cut-offs, horizon, code, gate metric."""
    data = MlflowClient().get_run(run_id).data
    facts = {key: data.tags[key] for key in TRAINING_TAGS if key in data.tags}
    if "promotion_metric" in data.params:
        facts["promotion_metric"] = data.params["promotion_metric"]
    return facts
