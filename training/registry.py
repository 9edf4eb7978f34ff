"""Writing to MLflow: runs, registered model versions and aliases.

Reading the registry (where the store is, model names, aliases, champion boosters) is
``models.catalog``, shared with serving; this is the training side.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import mlflow
import mlflow.xgboost
import pandas as pd
import xgboost as xgb
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature

from models.catalog import CHAMPION, alias_version, model_name, version_run_id
from training import provenance

PREVIOUS_CHAMPION = "previous_champion"
CHAMPION_HISTORY_TAG = "champion_history"  # registered-model tag: JSON list of versions, oldest first
HISTORY_KEPT = 50


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
    figures: dict[str, bytes] = field(default_factory=dict)  # PNG per file name (training.plots.png)
    documents: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LoggedModel:
    run_id: str
    version: str


def log_run(record: RunRecord) -> LoggedModel:
    """Log params, tags, metrics, figures, JSON documents and the model; register a new version."""
    name = model_name(record.task, project=record.project)
    started = run_name(record.task, record.project, datetime.now(UTC).date())
    with mlflow.start_run(experiment_id=_experiment_id(name), run_name=started) as run:
        mlflow.set_tags({**record.tags, "git_sha": code_version(), "task": record.task, "project": record.project,
                         **provenance.environment_tags()})
        mlflow.log_text(provenance.installed_requirements(), provenance.REQUIREMENTS_ARTIFACT)
        mlflow.log_params({key: str(value)[:500] for key, value in record.params.items()})
        mlflow.log_metrics({k: v for k, v in record.metrics.items() if v == v})  # NaN is not loggable
        _log_images(record.figures)
        for filename, document in record.documents.items():
            mlflow.log_dict(document, filename)
        example = record.input_example.astype("float32")
        signature = infer_signature(example, record.booster.predict(xgb.DMatrix(example)))
        # The model needs only xgboost to load; stating it skips MLflow's requirement inference, which
        # imports the flavour in a subprocess and cost 5-7 s per model (the run's full environment is
        # logged above as provenance).
        info = mlflow.xgboost.log_model(record.booster, name="model", signature=signature,
                                        input_example=example, registered_model_name=name,
                                        pip_requirements=mlflow.xgboost.get_default_pip_requirements())
    return LoggedModel(run_id=run.info.run_id, version=str(info.registered_model_version))


def _log_images(images: dict[str, bytes]) -> None:
    """Each PNG as an artifact of the active run under its file name."""
    if not images:
        return
    with tempfile.TemporaryDirectory() as folder:
        for filename, image in images.items():
            (Path(folder) / filename).write_bytes(image)
        mlflow.log_artifacts(folder)


def set_alias(task: str, alias: str, version: str, *, project: str) -> None:
    MlflowClient().set_registered_model_alias(model_name(task, project=project), alias, version)


def champion_history(task: str, *, project: str) -> list[str]:
    """The versions that were champion, oldest first, as ``move_champion`` and ``rollback`` keep them."""
    try:
        tags = MlflowClient().get_registered_model(model_name(task, project=project)).tags
    except MlflowException:
        return []
    try:
        return [str(v) for v in json.loads(tags.get(CHAMPION_HISTORY_TAG, "[]"))]
    except ValueError:
        return []


def _write_history(task: str, history: list[str], *, project: str) -> None:
    MlflowClient().set_registered_model_tag(model_name(task, project=project), CHAMPION_HISTORY_TAG,
                                            json.dumps(history[-HISTORY_KEPT:]))


def move_champion(task: str, version: str, *, project: str) -> str | None:
    """Point ``champion`` at ``version``; the version it named becomes ``previous_champion`` and the
    history grows by one. Returns the version that was champion (None for the first)."""
    old = alias_version(task, CHAMPION, project=project)
    if old == version:
        return old
    history = champion_history(task, project=project)
    if old is not None and (not history or history[-1] != old):
        history.append(old)  # a champion set before the history existed
    set_alias(task, CHAMPION, version, project=project)
    _write_history(task, [*history, version], project=project)
    if old is not None:
        set_alias(task, PREVIOUS_CHAMPION, old, project=project)
    return old


def restore_champion(task: str, version: str | None, history: list[str], *, project: str) -> None:
    """Put ``champion`` and the history back as they were (the undo of a failed multi-task commit)."""
    name = model_name(task, project=project)
    if version is None:
        try:
            MlflowClient().delete_registered_model_alias(name, CHAMPION)
        except MlflowException:
            pass
    else:
        set_alias(task, CHAMPION, version, project=project)
    _write_history(task, history, project=project)


def pop_champion(task: str, *, project: str) -> tuple[str, str]:
    """Move ``champion`` back to the version before it in the history; returns (from, to).

    ValueError when there is no earlier champion to go back to.
    """
    current = alias_version(task, CHAMPION, project=project)
    name = model_name(task, project=project)
    if current is None:
        raise ValueError(f"{name} has no champion to roll back")
    history = champion_history(task, project=project)
    if history and history[-1] == current:
        history = history[:-1]
    if not history:
        previous = alias_version(task, PREVIOUS_CHAMPION, project=project)
        if previous is None or previous == current:
            raise ValueError(f"{name} v{current} has no previous champion to roll back to")
        history = [previous]
    target = history[-1]
    set_alias(task, CHAMPION, target, project=project)
    _write_history(task, history, project=project)
    earlier = history[-2] if len(history) > 1 else None
    if earlier is not None:
        set_alias(task, PREVIOUS_CHAMPION, earlier, project=project)
    else:
        try:
            client = MlflowClient()
            client.delete_registered_model_alias(name, PREVIOUS_CHAMPION)
        except MlflowException:
            pass
    return current, target


def version_exists(task: str, version: str, *, project: str) -> bool:
    try:
        MlflowClient().get_model_version(model_name(task, project=project), version)
    except MlflowException:
        return False
    return True


def note_on_version(task: str, version: str, key: str, value: str, *, project: str) -> None:
    """A tag on a model version and on its run: what an operator did to it and why."""
    client = MlflowClient()
    client.set_model_version_tag(model_name(task, project=project), version, key, value[:5000])
    client.set_tag(version_run_id(task, version, project=project), key, value[:5000])


def run_decision(run_id: str) -> dict[str, Any]:
    """The gate's decision.json of a run ({} when it logged none)."""
    try:
        return dict(mlflow.artifacts.load_dict(f"runs:/{run_id}/decision.json"))
    except Exception:
        return {}


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


def log_document(run_id: str, document: dict[str, Any], filename: str) -> None:
    """Add a JSON artifact (e.g. the drift reference, which names the version) to a finished run."""
    MlflowClient().log_dict(run_id, document, filename)


def backtest_experiment(project: str) -> str:
    """The project's backtest experiment, beside its models' (``<project>.memberscore-backtests``)."""
    return model_name("backtests", project=project)


def log_backtest(project: str, as_of: date, metrics: dict[str, float], params: dict[str, str],
                 tags: dict[str, str]) -> tuple[str, bool]:
    """One run per backtested snapshot date, named by project and date; returns (run id, newly logged).

    A date already logged (tag ``backtest_as_of``) is not logged twice: its run id comes back, so a
    backtest interrupted between MLflow and its stored result does not leave two runs.
    """
    experiment = _experiment_id(backtest_experiment(project))
    found = MlflowClient().search_runs([experiment], filter_string=f"tags.backtest_as_of = '{as_of.isoformat()}'",
                                       max_results=1)
    if found:
        return found[0].info.run_id, False
    with mlflow.start_run(experiment_id=experiment, run_name=f"backtest · {project} · {as_of.isoformat()}") as run:
        mlflow.set_tags({**tags, "backtest_as_of": as_of.isoformat(), "project": project, "git_sha": code_version()})
        mlflow.log_params(params)
        mlflow.log_metrics({k: v for k, v in metrics.items() if v == v})  # NaN is not loggable
    return run.info.run_id, True
