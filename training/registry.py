"""The only module that talks to MLflow: tracking store, runs, registered models and aliases.

The store follows ``MLFLOW_TRACKING_URI``; without it, a local SQLite store under ``mlruns/``
(artifacts beside it) holds runs and the registry, so only the URI changes at scale.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from pathlib import Path
from typing import Any

import mlflow
import matplotlib.pyplot as plt
import mlflow.xgboost
import pandas as pd
import xgboost as xgb
from matplotlib.figure import Figure
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature

from features.project import check_project
from training import provenance

CHAMPION = "champion"
CHALLENGER = "challenger"


def model_name(task: str, *, project: str) -> str:
    """Registered model (and experiment) name of a task in a project: ``<project>.memberscore-<task>``.

    The project comes first and is cut off by the only '.' (project names have none), so no two
    projects share a name, and the name is valid for MLflow and as a BentoML tag.
    """
    return f"{check_project(project)}.memberscore-{task.replace('_', '-')}"


def run_name(task: str, project: str, day: date) -> str:
    """An MLflow run's display name: what was trained, for whom, when."""
    return f"{task} · {project} · {day.isoformat()}"


def local_store_uri(home: Path) -> str:
    """The embedded default: a SQLite tracking + registry database under ``home/mlruns``."""
    return f"sqlite:///{(home / 'mlruns' / 'mlflow.db').resolve()}"


def configure_tracking(home: Path | None = None) -> str:
    """Point MLflow at ``MLFLOW_TRACKING_URI`` or the local store; returns the URI in use."""
    uri = os.environ.get("MLFLOW_TRACKING_URI") or local_store_uri(home or Path.cwd())
    if uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    return uri


def _artifact_root(uri: str) -> str | None:
    """Artifacts sit beside a local SQLite store; a tracking server decides for itself."""
    if uri.startswith("sqlite:///"):
        return (Path(uri.removeprefix("sqlite:///")).parent / "artifacts").as_uri()
    return None


def _experiment_id(name: str) -> str:
    existing = mlflow.get_experiment_by_name(name)
    if existing is not None:
        return existing.experiment_id
    root = _artifact_root(mlflow.get_tracking_uri())
    return mlflow.create_experiment(name, artifact_location=f"{root}/{name}" if root else None)


def code_version() -> str:
    """The git commit of the code that trained (``unknown`` outside a checkout)."""
    try:
        completed = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True,
                                   cwd=Path(__file__).resolve().parent)
        return completed.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


@dataclass
class RunRecord:
    """Everything one training run logs; built by the pipeline, written here in one go."""

    task: str
    project: str
    booster: xgb.Booster
    input_example: pd.DataFrame
    params: dict[str, Any]
    tags: dict[str, str]
    metrics: dict[str, float]
    figures: dict[str, Figure] = field(default_factory=dict)
    documents: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LoggedModel:
    run_id: str
    version: str


def log_run(record: RunRecord) -> LoggedModel:
    """Log params, tags, metrics, figures, JSON documents and the model; register a new version."""
    name = model_name(record.task, project=record.project)
    started = run_name(record.task, record.project, datetime.now(timezone.utc).date())
    with mlflow.start_run(experiment_id=_experiment_id(name), run_name=started) as run:
        mlflow.set_tags({**record.tags, "git_sha": code_version(), "task": record.task, "project": record.project,
                         **provenance.environment_tags()})
        mlflow.log_text(provenance.installed_requirements(), provenance.REQUIREMENTS_ARTIFACT)
        mlflow.log_params({key: str(value)[:500] for key, value in record.params.items()})
        mlflow.log_metrics({k: v for k, v in record.metrics.items() if v == v})  # NaN is not loggable
        for filename, figure in record.figures.items():
            mlflow.log_figure(figure, filename)
            plt.close(figure)
        for filename, document in record.documents.items():
            mlflow.log_dict(document, filename)
        example = record.input_example.astype("float32")
        signature = infer_signature(example, record.booster.predict(xgb.DMatrix(example)))
        info = mlflow.xgboost.log_model(record.booster, name="model", signature=signature,
                                        input_example=example, registered_model_name=name)
    return LoggedModel(run_id=run.info.run_id, version=str(info.registered_model_version))


def set_alias(task: str, alias: str, version: str, *, project: str) -> None:
    MlflowClient().set_registered_model_alias(model_name(task, project=project), alias, version)


def alias_version(task: str, alias: str, *, project: str) -> str | None:
    """The version an alias points at, or None when the model or alias does not exist."""
    try:
        return str(MlflowClient().get_model_version_by_alias(model_name(task, project=project), alias).version)
    except MlflowException:
        return None


def load_booster(task: str, alias: str = CHAMPION, *, project: str) -> xgb.Booster | None:
    """The booster behind ``models:/<project>.memberscore-<task>@<alias>``, or None when there is none."""
    if alias_version(task, alias, project=project) is None:
        return None
    return mlflow.xgboost.load_model(f"models:/{model_name(task, project=project)}@{alias}")


def version_run_id(task: str, version: str, *, project: str) -> str:
    return str(MlflowClient().get_model_version(model_name(task, project=project), version).run_id)


def run_metrics(run_id: str) -> dict[str, float]:
    return dict(MlflowClient().get_run(run_id).data.metrics)


TRAINING_TAGS = ("project", "data_fingerprint", "evaluation_cutoff", "cutoffs", "horizon_days", "git_sha")


def run_training_facts(run_id: str) -> dict[str, str]:
    """What a model was trained on and judged by: project, data fingerprint, cut-offs, horizon, code, gate metric."""
    data = MlflowClient().get_run(run_id).data
    facts = {key: data.tags[key] for key in TRAINING_TAGS if key in data.tags}
    if "promotion_metric" in data.params:
        facts["promotion_metric"] = data.params["promotion_metric"]
    return facts


def run_reproduction_facts(run_id: str) -> dict[str, dict[str, str]]:
    """Everything a run recorded that decides its model: params (config and seed) and our tags.

    MLflow's own ``mlflow.*`` tags (user, start time, source) describe the occasion, not the model,
    and are left out; two runs that should give the same model must agree on everything returned.
    """
    data = MlflowClient().get_run(run_id).data
    tags = {key: value for key, value in data.tags.items() if not key.startswith("mlflow.")}
    return {"params": dict(data.params), "tags": tags}


def log_text(run_id: str, text: str, filename: str) -> None:
    """Add a text artifact (e.g. the evaluation page) to a finished run."""
    MlflowClient().log_text(run_id, text, filename)
