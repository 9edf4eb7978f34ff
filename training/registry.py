"""Writing to MLflow: runs, registered model versions and aliases.

Reading the registry (where the store is, model names, aliases, champion boosters) is
``models.catalog``, shared with serving; this is the training side.
"""

from __future__ import annotations

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
from mlflow.models import infer_signature

from models.catalog import model_name
from training import provenance


def run_name(task: str, project: str, day: date) -> str:
    """An MLflow run's display name: what was trained, for whom, when."""
    return f"{task} · {project} · {day.isoformat()}"


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
