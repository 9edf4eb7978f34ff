"""Reproducible training (issue 6): same data, config and seed -> the same models and metrics.

Every task is trained twice on the same seeded synthetic transactions, each run in its own process
and its own fresh MLflow store, at the same time: one on every CPU, one held to a single CPU, with
different hash seeds. Both must give byte-identical boosters, identical predictions and identical
metrics, and record the same reproduction facts; those facts must describe the run truthfully
(the data's fingerprint, the config with its seed, the code and library versions). A control
shows the seed matters, so "identical" is not a property of any two fits.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import mlflow
import mlflow.xgboost
import numpy as np
import pandas as pd
import pytest

from features.simulate import simulate_transactions
from features.snapshot import build_snapshot, data_fingerprint
from models import catalog
from models.matrix import predict_proba
from tests.conftest import fresh_mlflow_store
from training import provenance, registry
from training.config import TrainConfig, read_config
from training.fit import booster_params

REPO = Path(__file__).resolve().parents[2]
CONFIG = TrainConfig(horizon_days=60, n_train_cutoffs=2, num_boost_round=20, early_stopping_rounds=5,
                     value_12m_max_rounds=10)
TRAINED_TASKS = ("churn", "next_purchase", "upsell", "value")  # value_12m: 540 days cannot hold its windows
# One training run, as `memberscore train` does it, minus the snapshot and the BentoML import.
TRAIN = """
import json, os, sys
import pandas as pd
from models import catalog
from training.config import TrainConfig
from training.pipeline import train_tasks
from training.tasks import all_tasks
catalog.configure_tracking(os.environ.get("MLFLOW_TRACKING_URI"))
run = train_tasks(pd.read_parquet(sys.argv[1]), TrainConfig.model_validate_json(sys.argv[2]), all_tasks(),
                  project="default")
print(json.dumps({result.task: result.run_id for result in run.results}))
"""


def one_cpu() -> None:
    """Hold the child process (and every thread it starts) to a single CPU."""
    os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


@dataclass(frozen=True)
class TwoRuns:
    transactions: pd.DataFrame
    stores: tuple[str, str]  # tracking URIs
    run_ids: tuple[dict[str, str], dict[str, str]]
    head: str  # the commit checked out when the runs started
    head_moved: bool  # someone committed while the runs trained (a shared checkout, never CI)


def launch(data: Path, store: Path, hash_seed: str, single_cpu: bool) -> subprocess.Popen[str]:
    env = {**os.environ, "MLFLOW_TRACKING_URI": fresh_mlflow_store(store / "mlflow.db"), "PYTHONHASHSEED": hash_seed,
           "PYTHONPATH": str(REPO), "MPLBACKEND": "Agg"}
    return subprocess.Popen([sys.executable, "-c", TRAIN, str(data), CONFIG.model_dump_json()], cwd=store, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=one_cpu if single_cpu and hasattr(os, "sched_setaffinity") else None)


def run_ids_of(process: subprocess.Popen[str]) -> dict[str, str]:
    out, err = process.communicate(timeout=900)
    assert process.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> TwoRuns:
    root = tmp_path_factory.mktemp("reproducible")
    transactions, _ = simulate_transactions(300, date(2023, 1, 1), 540, seed=11)
    data = root / "transactions.parquet"
    transactions.to_parquet(data, index=False)
    head = registry.code_version()
    first = launch(data, root / "a", hash_seed="1", single_cpu=False)
    second = launch(data, root / "b", hash_seed="2", single_cpu=True)
    run_ids = (run_ids_of(first), run_ids_of(second))
    stores = tuple(f"sqlite:///{root / name / 'mlflow.db'}" for name in ("a", "b"))
    return TwoRuns(transactions, stores, run_ids, head, head_moved=registry.code_version() != head)  # type: ignore[arg-type]


@contextmanager
def tracking(uri: str) -> Iterator[None]:
    """MLflow pointed at ``uri`` for the block; the previous store afterwards."""
    previous = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    try:
        yield
    finally:
        mlflow.set_tracking_uri(previous[0])
        mlflow.set_registry_uri(previous[1])


def each_run(runs: TwoRuns, task: str) -> Iterator[str]:
    """The task's run id in each store, with MLflow pointed at that store while the caller reads it."""
    for uri, ids in zip(runs.stores, runs.run_ids):
        with tracking(uri):
            yield ids[task]


@pytest.fixture(scope="module")
def member_features(two_runs: TwoRuns) -> pd.DataFrame:
    """Every member's features at the end of the data: what the models are compared on."""
    end = two_runs.transactions["ts"].max().date()
    return build_snapshot(two_runs.transactions, end).model_inputs()


@pytest.mark.slow
def test_both_runs_trained_every_task_the_data_allows(two_runs: TwoRuns) -> None:
    assert [sorted(ids) for ids in two_runs.run_ids] == [sorted(TRAINED_TASKS)] * 2


@pytest.mark.slow
@pytest.mark.parametrize("task", TRAINED_TASKS)
def test_same_data_config_and_seed_give_the_same_model(two_runs: TwoRuns, member_features: pd.DataFrame,
                                                       task: str) -> None:
    """Byte-identical boosters and bit-identical predictions, on every CPU or on one."""
    boosters = [mlflow.xgboost.load_model(f"runs:/{run_id}/model") for run_id in each_run(two_runs, task)]
    assert bytes(boosters[0].save_raw("ubj")) == bytes(boosters[1].save_raw("ubj"))
    first, second = (predict_proba(booster, member_features) for booster in boosters)
    assert np.array_equal(first, second)
    assert np.std(first) > 0  # a constant model would agree trivially


@pytest.mark.slow
@pytest.mark.parametrize("task", TRAINED_TASKS)
def test_same_data_config_and_seed_give_the_same_metrics(two_runs: TwoRuns, task: str) -> None:
    first, second = (catalog.run_metrics(run_id) for run_id in each_run(two_runs, task))
    assert first == second
    assert any(name.startswith("oot_model_") for name in first) and any(name.startswith("train_model_") for name in first)


@pytest.mark.slow
@pytest.mark.parametrize("task", TRAINED_TASKS)
def test_both_runs_record_the_same_reproduction_facts(two_runs: TwoRuns, task: str) -> None:
    first, second = (registry.run_reproduction_facts(run_id) for run_id in each_run(two_runs, task))
    if two_runs.head_moved:  # the code changed under the test: only the code facts may differ
        for facts in (first, second):
            assert len(facts["tags"].pop("git_sha")) == 40
            facts["tags"].pop("git_tree")
    assert first == second
    required = {"data_fingerprint", "cutoffs", "evaluation_cutoff", "horizon_days", "feature_list", "python_version",
                *(provenance.VERSION_TAG_PREFIX + name for name in provenance.KEY_LIBRARIES)}
    assert required <= set(first["tags"])


@pytest.mark.slow
@pytest.mark.parametrize("task", TRAINED_TASKS)
def test_recorded_facts_describe_the_run(two_runs: TwoRuns, task: str, tmp_path: Path) -> None:
    """The fingerprint is the data's, the logged config reads back as the one trained with (seed
    included), and the versions are this environment's: enough to rebuild the run."""
    run_id = two_runs.run_ids[0][task]
    with tracking(two_runs.stores[0]):
        facts = registry.run_reproduction_facts(run_id)
        config_file = Path(mlflow.artifacts.download_artifacts(f"runs:/{run_id}/train_config.json", dst_path=str(tmp_path)))
        requirements = mlflow.artifacts.load_text(f"runs:/{run_id}/{provenance.REQUIREMENTS_ARTIFACT}")
    tags, params = facts["tags"], facts["params"]
    assert tags["data_fingerprint"] == data_fingerprint(two_runs.transactions)
    assert tags["git_sha"] == two_runs.head or (two_runs.head_moved and len(tags["git_sha"]) == 40)
    assert tags["git_tree"] in ("clean", "dirty")
    assert read_config(config_file) == CONFIG
    assert params["seed"] == str(CONFIG.seed) and params["nthread"] == str(CONFIG.xgb_params["nthread"])
    versions = provenance.library_versions()
    assert {name: tags[provenance.VERSION_TAG_PREFIX + name] for name in versions} == versions
    assert f"xgboost=={versions['xgboost']}" in requirements.splitlines()


def test_logged_config_reads_back_as_yaml(tmp_path: Path) -> None:
    """train_config.json is valid input to ``memberscore train --config`` (JSON is YAML)."""
    path = tmp_path / "train_config.json"
    path.write_text(json.dumps(CONFIG.model_dump(mode="json")))
    assert read_config(path) == CONFIG


def test_boosters_get_the_seed_and_a_fixed_thread_count() -> None:
    """Seed and nthread are pinned in the params, so a machine's core count never changes a model."""
    params = booster_params(["recency_days"], TrainConfig(seed=123))
    assert params["seed"] == 123 and params["nthread"] == 2


@pytest.mark.slow
def test_the_seed_decides_the_model(two_runs: TwoRuns, member_features: pd.DataFrame) -> None:
    """Control: refitting churn in this process with the run's seed gives the stored model; another
    seed (subsampled rows and columns) gives a different one."""
    from training.churn import Churn
    from training.pipeline import prepare_data

    data = prepare_data(two_runs.transactions, CONFIG)
    same = Churn().fit(data, CONFIG)
    other = Churn().fit(data, CONFIG.model_copy(update={"seed": CONFIG.seed + 1}))
    with tracking(two_runs.stores[0]):
        stored = mlflow.xgboost.load_model(f"runs:/{two_runs.run_ids[0]['churn']}/model")
    assert np.array_equal(predict_proba(same, member_features), predict_proba(stored, member_features))
    assert not np.array_equal(predict_proba(other, member_features), predict_proba(stored, member_features))
