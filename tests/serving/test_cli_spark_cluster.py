"""``memberscore train`` on a real standalone Spark cluster gives the local engine's results.

The test starts a master and two one-core workers as local processes (``spark-class``, bound to
127.0.0.1, 1 GB each), trains every task with ``MEMBERSCORE_ENGINE=spark`` against
``spark://127.0.0.1:PORT`` (training examples and their BG/NBD fits built on the workers too) and, at the same time, with the local engine, on the same file and config.

Tolerances, and why: a Spark fit differs from the local one only by the quantile sketch merged
over two workers and by row subsampling drawn per worker (``subsample``, ``colsample_bytree``), so
each task's out-of-time metrics must agree within 0.02 (observed on these 800 members, two cut-offs: at most
0.006 in AUC, C-index, Gini and ECE; every decision the same). The promotion decision must be the same wherever the local
gate's interval bound is more than 0.02 from zero: there a change of the model metric within the
tolerance cannot move it across (the baselines are computed identically on both engines).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import SPARK_TEST_JVM_OPTIONS, fresh_mlflow_store

pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.minutes]

TOLERANCE = 0.02
COMPARED = {"churn": ("roc_auc", "brier", "ece"), "next_purchase": ("concordance", "roc_auc_30d", "ece_30d"),
            "upsell": ("roc_auc", "brier", "ece"), "value": ("normalized_gini", "spearman")}
CONFIG = ("n_train_cutoffs: 2\nnum_boost_round: 20\nearly_stopping_rounds: 0\nbootstrap_rounds: 100\n"
          "max_categories: 3\n")  # light: every task, three upsell categories
SPARK_DEFAULTS = {"spark.executor.memory": "512m", "spark.executor.cores": "1", "spark.cores.max": "2",
                  "spark.driver.host": "127.0.0.1", "spark.sql.shuffle.partitions": "4", "spark.ui.enabled": "false",
                  "spark.driver.extraJavaOptions": SPARK_TEST_JVM_OPTIONS, "spark.executor.extraJavaOptions": SPARK_TEST_JVM_OPTIONS}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _spark_class() -> str:
    import pyspark

    return str(Path(pyspark.__file__).parent / "bin" / "spark-class")


def _alive_workers(ui_port: int) -> int:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{ui_port}/json/", timeout=1) as answer:
            return int(json.load(answer).get("aliveworkers", 0))
    except OSError:
        return 0


@pytest.fixture(scope="module")
def spark_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A standalone master and two workers (one core, 1 GB each) on 127.0.0.1; its master URL. Stopped at teardown."""
    root = tmp_path_factory.mktemp("spark_cluster")
    env = {**os.environ, "SPARK_LOCAL_IP": "127.0.0.1", "SPARK_LOG_DIR": str(root), "PYSPARK_PYTHON": sys.executable,
           "SPARK_DAEMON_JAVA_OPTS": SPARK_TEST_JVM_OPTIONS}
    port, ui_port = _free_port(), _free_port()
    commands = [["org.apache.spark.deploy.master.Master", "--host", "127.0.0.1", "--port", str(port),
                 "--webui-port", str(ui_port)]]
    commands += [["org.apache.spark.deploy.worker.Worker", f"spark://127.0.0.1:{port}", "--host", "127.0.0.1",
                  "--cores", "1", "--memory", "1g", "--webui-port", str(_free_port()), "--work-dir", str(root / f"w{i}")]
                 for i in range(2)]
    logs = [root / f"process{i}.log" for i in range(len(commands))]
    processes = [subprocess.Popen([_spark_class(), *command], env=env, stdout=log.open("w"), stderr=subprocess.STDOUT)
                 for command, log in zip(commands, logs, strict=True)]
    try:
        deadline = time.monotonic() + 90
        while _alive_workers(ui_port) < 2:
            if time.monotonic() > deadline or any(p.poll() is not None for p in processes):
                pytest.fail("the Spark cluster did not start:\n" + "\n".join(log.read_text()[-2000:] for log in logs))
            time.sleep(0.5)
        yield f"spark://127.0.0.1:{port}"
    finally:
        for process in reversed(processes):
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()


def _train(transactions: Path, root: Path, engine_env: dict[str, str]) -> tuple[subprocess.Popen[str], Path, str]:
    """Start ``memberscore train`` into its own stores; (process, report path, tracking URI)."""
    root.mkdir()
    (root / "train.yaml").write_text(CONFIG)
    tracking = fresh_mlflow_store(root / "mlflow.db")
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking, "MEMBERSCORE_SNAPSHOT_DIR": str(root / "snapshots"),
           "BENTOML_HOME": str(root / "bentoml"), "BENTOML_DO_NOT_TRACK": "True", **engine_env}
    report = root / "report.json"
    process = subprocess.Popen(
        [sys.executable, "-m", "cli", "train", "--transactions", str(transactions), "--horizon-days", "60",
         "--config", str(root / "train.yaml"), "--report", str(report)],
        cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return process, report, tracking


def test_train_on_a_spark_cluster_matches_the_local_engine(
        spark_cluster: str, synthetic: tuple[pd.DataFrame, pd.DataFrame], tmp_path: Path) -> None:
    import mlflow

    transactions = tmp_path / "tx.csv"
    synthetic[0].to_csv(transactions, index=False)
    conf = tmp_path / "spark_conf"
    conf.mkdir()
    (conf / "spark-defaults.conf").write_text("".join(f"{key} {value}\n" for key, value in SPARK_DEFAULTS.items()))
    spark_env = {"MEMBERSCORE_ENGINE": "spark", "MEMBERSCORE_SPARK_MASTER": spark_cluster, "SPARK_CONF_DIR": str(conf),
                 "SPARK_LOCAL_IP": "127.0.0.1", "PYSPARK_PYTHON": sys.executable}
    runs = {"spark": _train(transactions, tmp_path / "spark", spark_env),
            "local": _train(transactions, tmp_path / "local", {"MEMBERSCORE_ENGINE": "duckdb"})}
    for name, (process, _, _) in runs.items():
        out, err = process.communicate(timeout=600)
        assert process.returncode == 0, (name, out[-2000:], err[-4000:])
    reports = {name: json.loads(report.read_text())["tasks"] for name, (_, report, _) in runs.items()}
    assert set(reports["spark"]) == set(reports["local"]) == set(COMPARED)  # value_12m: 540 days are too short

    for task, metrics in COMPARED.items():
        spark, local = reports["spark"][task], reports["local"][task]
        for metric in metrics:
            assert spark["out_of_time"]["model"][metric] == pytest.approx(
                local["out_of_time"]["model"][metric], abs=TOLERANCE), (task, metric)
        interval = local["promotion_interval"]
        if interval is not None and abs(interval["low"]) > TOLERANCE:
            assert spark["promoted"] == local["promoted"], (task, spark["decision"], local["decision"])
        where = json.loads(Path(mlflow.artifacts.download_artifacts(
            run_id=spark["run_id"], artifact_path="engine.json", tracking_uri=runs["spark"][2],
            dst_path=str(tmp_path / "engine" / task))).read_text())
        assert where["master"] == spark_cluster and where["num_workers"] == 2, where
