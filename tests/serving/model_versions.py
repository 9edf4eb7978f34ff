"""Model versions written straight into a BentoML store, for the fault tests.

A running server reads its own store (its ``BENTOML_HOME``), so a test adds versions there with
``bentoml.models.create(..., _model_store=...)`` instead of the session's shared store: a corrupt
or incompatible version never reaches the other test modules' servers.
"""

from __future__ import annotations

import dataclasses
import shutil
from datetime import timedelta
from pathlib import Path

import numpy as np
import xgboost as xgb

from features.project import DEFAULT_PROJECT
from features.store import latest_snapshot_path, read_snapshot, write_snapshot
from models.catalog import model_name

NAME = model_name("churn", project=DEFAULT_PROJECT)
UNKNOWN_FEATURE = "loyalty_card_colour"


def trained_champion(trained: object) -> Path:
    """The session store's model directory of the trained champion (matched by MLflow run id)."""
    import bentoml
    from mlflow import MlflowClient

    run_id = MlflowClient(trained.tracking_uri, registry_uri=trained.tracking_uri).get_model_version_by_alias(NAME, "champion").run_id
    (model,) = [m for m in bentoml.models.list(NAME) if m.info.labels.get("run_id") == run_id][:1]
    return Path(model.path)


def add_version(home: Path, source: Path, labels: dict[str, str], booster_file: bytes | None = None) -> str:
    """A new version of the default project's churn model in the store under ``home``: a copy of ``source``, its
    booster file replaced by ``booster_file`` when given. It becomes ``:latest``; returns its tag."""
    import bentoml
    from bentoml._internal.models.model import ModelStore

    metadata = read_model_yaml(source)["metadata"]
    with bentoml.models.create(NAME, labels=labels, metadata=metadata, _model_store=ModelStore(home / "models")) as model:
        target = Path(model.path_of("mlflow_model"))
        shutil.copytree(source / "mlflow_model", target)
        if booster_file is not None:
            (target / "model.ubj").write_bytes(booster_file)
    return str(model.tag)


def read_model_yaml(model_dir: Path) -> dict:
    import yaml

    return yaml.safe_load((model_dir / "model.yaml").read_text())


def tiny_booster(names: list[str]) -> xgb.Booster:
    """A two-tree booster over ``names`` (a stand-in: these tests are about refusal, not quality)."""
    rng = np.random.default_rng(0)
    values = rng.uniform(0, 100, (64, len(names))).astype(np.float32)
    matrix = xgb.DMatrix(values, label=(values[:, 0] > 50).astype(float), feature_names=names)
    return xgb.train({"objective": "binary:logistic", "max_depth": 1, "nthread": 1}, matrix, 2)


def incompatible_booster_file() -> bytes:
    """A booster that loads fine but reads a feature no snapshot has."""
    return bytes(tiny_booster(["recency_days", UNKNOWN_FEATURE]).save_raw("ubj"))


def write_newer_snapshot(directory: Path) -> str:
    """The newest snapshot again, one day later (same members and features); returns its date."""
    current = read_snapshot(latest_snapshot_path(directory))
    newer = dataclasses.replace(current, as_of=current.as_of + timedelta(days=1))
    write_snapshot(newer, directory)
    return newer.as_of.isoformat()


def strip_baselines(directory: Path) -> None:
    """Rewrite the newest snapshot without the churn and upsell baselines (as one with too little
    history to fit them would be): without a churn champion, nothing can then score churn."""
    from models.baselines import BASELINE_COLUMNS

    path = latest_snapshot_path(directory)
    current = read_snapshot(path)
    write_snapshot(dataclasses.replace(current, profile=current.profile.drop(columns=list(BASELINE_COLUMNS))), directory)
