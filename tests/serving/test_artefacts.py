"""serving.artefacts: the model the service loads is the MLflow champion (DESIGN.md: "champion serves").

BentoML resolves its home once per process and this session shares one store, so the scenarios run
in one subprocess with a BentoML home of their own. Tiny hand-built boosters stand in for trained
models: the tests are about which version is imported and served, not about its quality.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]

SCENARIOS = r'''
import json, os, sys
import numpy as np, pandas as pd, xgboost as xgb
import bentoml
from models import catalog
from training import registry
from serving.artefacts import import_champion, load_model

root = sys.argv[1]

def use_store(name):
    os.environ["MLFLOW_TRACKING_URI"] = f"sqlite:///{root}/{name}/mlflow.db"
    catalog.configure_tracking(os.environ.get("MLFLOW_TRACKING_URI"))

def log_tiny(names, seed, project="default"):
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.uniform(0, 100, (200, len(names))), columns=names)
    labels = (frame[names[0]] > 50).astype(float)
    booster = xgb.train({"objective": "binary:logistic", "max_depth": 1, "nthread": 1},
                        xgb.DMatrix(frame.to_numpy(np.float32), label=labels, feature_names=names), 2)
    record = registry.RunRecord(task="churn", project=project, booster=booster, input_example=frame.head(3), params={},
                                tags={}, metrics={"oot_model_roc_auc": 0.9})
    return registry.log_run(record)

def promote(logged, project="default"):
    registry.set_alias("churn", catalog.CHAMPION, logged.version, project=project)
    return import_champion("churn", project=project)

def served(project="default"):
    model = load_model("churn", project=project)
    return {"run_id": model.run_id, "version": model.mlflow_version, "features": model.booster.feature_names,
            "name": model.name}

out = {}
use_store("a")
first = log_tiny(["recency_days", "orders_total"], 1)
promote(first)
out["first"] = {"expected": first.run_id, "served": served()}
second = log_tiny(["recency_days", "spend_total"], 2)
promote(second)
out["promotion"] = {"expected": second.run_id, "served": served()}
promote(first)  # roll the champion alias back to version 1
out["rollback"] = {"expected": first.run_id, "served": served()}
# the registry starts over (registered model deleted, or mlruns/ reset): its first model is version 1 again
from mlflow import MlflowClient
MlflowClient().delete_registered_model(catalog.model_name("churn", project="default"))
fresh = log_tiny(["recency_days", "tenure_days"], 3)
imported = promote(fresh)
out["reset"] = {"expected": fresh.run_id, "version": fresh.version, "imported": imported.info.labels["run_id"], "served": served()}
# another project in the same stores: its champion is its own version 1, and project default's is untouched
other = log_tiny(["recency_days", "orders_90d"], 4, project="shop-b")
promote(other, project="shop-b")
out["projects"] = {"expected": other.run_id, "version": other.version, "served": served("shop-b"),
                   "default": served(), "stored": sorted({m.tag.name for m in bentoml.models.list()})}
print("RESULT " + json.dumps(out))
'''


@pytest.fixture(scope="module")
def scenarios(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    root = tmp_path_factory.mktemp("artefacts")
    env = {**os.environ, "BENTOML_HOME": str(root / "bentoml"), "BENTOML_DO_NOT_TRACK": "True"}
    env.pop("MLFLOW_TRACKING_URI", None)
    completed = subprocess.run([sys.executable, "-c", SCENARIOS, str(root)], cwd=REPO, env=env,
                               capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-3000:]
    (line,) = [line for line in completed.stdout.splitlines() if line.startswith("RESULT ")]
    return json.loads(line.removeprefix("RESULT "))


def test_first_champion_is_imported_and_served(scenarios: dict[str, dict]) -> None:
    """Promoting version 1 and importing it: the service loads exactly that run."""
    assert scenarios["first"]["served"]["run_id"] == scenarios["first"]["expected"]
    assert scenarios["first"]["served"]["version"] == "1"


def test_promoting_a_new_version_serves_it(scenarios: dict[str, dict]) -> None:
    """Moving champion to version 2 and importing: the service loads version 2's booster."""
    served = scenarios["promotion"]["served"]
    assert served["run_id"] == scenarios["promotion"]["expected"]
    assert served["version"] == "2" and "spend_total" in served["features"]


def test_rolling_the_champion_back_serves_the_old_version(scenarios: dict[str, dict]) -> None:
    """Champion alias back to version 1: the service (memberscore serve) loads version 1 again."""
    served = scenarios["rollback"]["served"]
    assert (served["run_id"], served["version"]) == (scenarios["rollback"]["expected"], "1")


def test_a_restarted_registry_numbers_its_first_model_version_1(scenarios: dict[str, dict]) -> None:
    """Precondition of the namesake case below: after the registry starts over, version "1" is another run."""
    assert scenarios["reset"]["version"] == "1"
    assert scenarios["reset"]["expected"] != scenarios["first"]["expected"]


def test_a_new_registry_champion_is_imported_not_a_namesake(scenarios: dict[str, dict]) -> None:
    """A fresh registry's champion v1 (another run than the stored v1) is imported and served."""
    reset = scenarios["reset"]
    assert reset["imported"] == reset["expected"]
    assert reset["served"]["run_id"] == reset["expected"]


def test_each_project_imports_and_serves_only_its_own_champion(scenarios: dict[str, dict]) -> None:
    """Project shop-b's first champion is its own v1 under its own name; project default still serves its own."""
    projects, reset = scenarios["projects"], scenarios["reset"]
    assert projects["version"] == "1"
    assert projects["served"]["run_id"] == projects["expected"]
    assert projects["served"]["name"].startswith("shop-b.memberscore-churn:")
    assert projects["default"]["run_id"] == reset["expected"]
    assert projects["default"]["name"].startswith("default.memberscore-churn:")
    assert projects["stored"] == ["default.memberscore-churn", "shop-b.memberscore-churn"]
