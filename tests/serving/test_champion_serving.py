"""The running service follows the MLflow champion alias (issue 15, item 3), and runs on one
project are serialised by its lock (item 4): real processes, a real server.

A small simulated shop's snapshot and two tiny hand-built churn boosters (v1 and v2, each with the
gate decision its run would have recorded) stand in for a trained store: the tests are about which
version serves and who may move it, not about model quality.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from typer.testing import CliRunner

from cli.main import app
from features.project import DEFAULT_PROJECT
from features.retail_simulation import simulate_retail, write_simulation
from features.snapshot import build_snapshot
from features.store import write_snapshot
from tests.serving.conftest import API_KEY, REPO, start_server, stop
from training import registry
from training.champion import promote_version
from training.commit import lock_path
from training.config import TrainConfig
from training.serving_baselines import with_serving_baselines

pytestmark = [pytest.mark.slow, pytest.mark.integration, pytest.mark.minutes]

POLL_SECONDS = 1.0
PICKUP_SECONDS = 20.0  # the poll interval, plus loading the version and rescoring the snapshot on a shared machine
CONFIG = "horizon_days: 30\nn_train_cutoffs: 2\nnum_boost_round: 20\nearly_stopping_rounds: 0\nbootstrap_rounds: 100\n"


def log_tiny(features: list[str], seed: int) -> str:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(rng.uniform(0, 100, (60, len(features))), columns=features)
    booster = xgb.train({"objective": "binary:logistic", "max_depth": 1, "nthread": 1},
                        xgb.DMatrix(frame, label=(frame[features[0]] > 50).astype(float)), 2)
    record = registry.RunRecord(task="churn", project=DEFAULT_PROJECT, booster=booster, input_example=frame.head(2),
                                params={}, tags={}, metrics={"oot_model_roc_auc": 0.9},
                                documents={"decision.json": {"promoted": True, "reason": "planted win"}})
    return registry.log_run(record).version


def error_line(completed: subprocess.CompletedProcess[str]) -> str:
    """The one ``error:`` line of a refused command (MLflow may log store set-up lines before it)."""
    assert completed.returncode == 2 and "Traceback" not in completed.stderr, completed.stderr[-2000:]
    errors = [line for line in completed.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and completed.stderr.strip().endswith(errors[0]), completed.stderr
    return errors[0]


def _first_line_starting(process: subprocess.Popen[str], prefix: str) -> str:
    """The first stderr line of ``process`` that starts with ``prefix`` (MLflow may log set-up lines first)."""
    for _ in range(50):
        line = process.stderr.readline()
        if not line or line.startswith(prefix):
            return line
    return ""


def served_version(base: str) -> str | None:
    body = httpx.get(f"{base}/metadata", headers={"X-API-Key": API_KEY}, timeout=10).json()
    return body["models"].get("churn", {}).get("model_version")


def wait_for_version(base: str, expected: str) -> float:
    """Seconds until /metadata names ``expected`` as the churn version (fails after PICKUP_SECONDS)."""
    started = time.monotonic()
    while (seen := served_version(base)) != expected:
        assert time.monotonic() - started < PICKUP_SECONDS, f"still serving v{seen}, expected v{expected}"
        time.sleep(0.25)
    return time.monotonic() - started


@pytest.fixture
def env(stores: object, tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "MLFLOW_TRACKING_URI": stores.tracking_uri, "MEMBERSCORE_SNAPSHOT_DIR": str(stores.snapshots),
            "MEMBERSCORE_API_KEYS": API_KEY, "MEMBERSCORE_POLL_SECONDS": str(POLL_SECONDS),
            "PYTHONPATH": str(REPO)}


def test_a_running_service_follows_rollback_and_promote(stores: object, env: dict[str, str], tmp_path: Path) -> None:
    transactions, _ = simulate_retail(200, date(2023, 1, 1), 300, 5)
    as_of = date(2023, 10, 28)
    history = transactions[transactions["ts"] < pd.Timestamp(as_of)]
    write_snapshot(with_serving_baselines(history, build_snapshot(history, as_of), TrainConfig(horizon_days=30)),
                   stores.project_snapshots)
    first, second = log_tiny(["recency_days", "orders_total"], 1), log_tiny(["recency_days", "spend_total"], 2)
    promote_version("churn", first, project=DEFAULT_PROJECT)
    promote_version("churn", second, project=DEFAULT_PROJECT)
    running = start_server(tmp_path, {k: env[k] for k in ("MLFLOW_TRACKING_URI", "MEMBERSCORE_SNAPSHOT_DIR",
                                                          "MEMBERSCORE_API_KEYS", "MEMBERSCORE_POLL_SECONDS")})
    try:
        assert served_version(running.base) == "2"
        rolled = CliRunner().invoke(app, ["rollback", "--task", "churn"])  # in process: the service is the other one
        assert rolled.exit_code == 0 and rolled.stdout.strip() == "default.memberscore-churn: champion v2 -> v1 (rolled back)"
        wait_for_version(running.base, "1")
        promoted = CliRunner().invoke(app, ["promote", "--task", "churn", "--version", "2"])
        assert promoted.exit_code == 0, promoted.output
        wait_for_version(running.base, "2")
        body = httpx.get(f"{running.base}/metadata", headers={"X-API-Key": API_KEY}, timeout=10).json()
        assert body["models"]["churn"]["features"] == ["recency_days", "spend_total"]
    finally:
        stop(running.process)


def test_rollback_with_nothing_to_go_back_to_is_one_line(stores: object) -> None:
    """In process (the command, not a process, is under test): exit 2 and one ``error:`` line."""
    promote_version("churn", log_tiny(["recency_days", "orders_total"], 1), project=DEFAULT_PROJECT)
    for args, expected in ((["rollback", "--task", "churn"],
                            "error: default.memberscore-churn v1 has no previous champion to roll back to"),
                           (["promote", "--task", "churn", "--version", "1", "--force"],
                            "error: --force needs --reason TEXT: why this version serves without passing its gate")):
        refused = CliRunner().invoke(app, args)
        assert (refused.exit_code, refused.stderr.strip()) == (2, expected), refused.output


def test_two_train_runs_on_one_project_do_not_interleave(stores: object, env: dict[str, str], tmp_path: Path) -> None:
    """Started together without --wait: one trains and commits, the other refuses at once with one line."""
    transactions, truth = simulate_retail(300, date(2023, 1, 1), 400, 3)
    data, config = tmp_path / "tx.csv", tmp_path / "train.yaml"
    write_simulation(transactions, truth, data)
    config.write_text(CONFIG)
    command = [sys.executable, "-m", "cli", "train", "--transactions", str(data), "--config", str(config)]
    runs = [subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)]
    outcomes = sorted((run.wait(timeout=600), run.stderr.read()) for run in runs)
    (won, _), (refused, message) = outcomes
    assert (won, refused) == (0, 2), outcomes[1][1][-2000:]
    errors = [line for line in message.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and errors[0].startswith(f"error: another run holds {lock_path(stores.project_snapshots)} (pid ")
    assert "Traceback" not in message and "fitting" not in message
    assert len(list(stores.project_snapshots.glob("snapshot-*.parquet"))) == 1


def test_a_second_run_waits_for_the_lock_when_asked(stores: object, env: dict[str, str]) -> None:
    """A real process holds the project's lock until told: --wait 0 refuses at once, --wait says it
    waits (naming the holder), keeps waiting while the lock is held, and goes on once it is released.

    No fixed hold time: on a loaded machine a command's start-up alone can outlast one. The refusal
    runs in process (the lock is the other process's); the waiting command is a real process.
    """
    holder_code = ("import sys\nfrom pathlib import Path\nfrom training.commit import run_lock\n"
                   "with run_lock(Path(sys.argv[1])):\n    print('locked', flush=True)\n    sys.stdin.readline()\n")
    lock = lock_path(stores.project_snapshots)
    holder = subprocess.Popen([sys.executable, "-c", holder_code, str(lock)],
                              cwd=REPO, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    waiting: subprocess.Popen[str] | None = None
    try:
        assert holder.stdout.readline().strip() == "locked"
        refused = CliRunner().invoke(app, ["rollback", "--task", "churn"])
        assert refused.exit_code == 2 and refused.stderr.startswith(f"error: another run holds {lock} (pid {holder.pid} since ")
        waiting = subprocess.Popen([sys.executable, "-m", "cli", "rollback", "--task", "churn", "--wait", "600"],
                                   cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        told = _first_line_starting(waiting, "waiting up to ")  # blocks until the command found the lock taken
        assert told.startswith(f"waiting up to 600 s for {lock}, held by pid {holder.pid} since "), told
        time.sleep(2.0)
        assert waiting.poll() is None, "the waiting command went ahead while the lock was held"
        holder.communicate("release\n", timeout=30)
        _, stderr = waiting.communicate(timeout=120)
        waited = subprocess.CompletedProcess(waiting.args, waiting.returncode, "", stderr)
        # it got the lock once the holder let go, then found no champion to roll back
        assert error_line(waited) == "error: default.memberscore-churn has no champion to roll back"
    finally:
        for process in (holder, waiting):
            if process is not None:
                process.kill()
                process.wait()
