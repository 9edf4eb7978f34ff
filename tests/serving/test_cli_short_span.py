"""Short histories (issue 14): ``train`` adapts its plan to the span and says so; below the models'
minimum it fits baselines only; ``score`` serves every member and names what served.

Real data (UCI Online Retail, its mapping in mappings/) cut to its first 89 or 50 days, H = 30, no
config file: 89 days adapt to 14 days of history and 2 cut-offs 14 days apart (span_plan's order);
50 < 2 x 30 + 14 days leaves baselines only. Runs ``memberscore train`` as a subprocess into its
own stores, like tests/serving/test_cli.py.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from cli.main import app
from features.project import DEFAULT_PROJECT
from tests.conftest import REPO, fresh_mlflow_store, shared_dataset

MEMBERSCORE = [sys.executable, "-m", "cli"]  # what the console script runs (pyproject: memberscore = "cli.main:app")
MAPPING = REPO / "mappings" / "online_retail.yaml"
FIRST_DAY = date(2010, 12, 1)
REQUIRED = ("churn_probability", "p_purchase_7d", "p_purchase_30d", "p_purchase_90d", "expected_value", "served_by")


@dataclass(frozen=True)
class ShortRun:
    data: Path
    end: date
    env: dict[str, str]
    completed: subprocess.CompletedProcess[str]
    report: dict


def train_on_first_days(days: int, root: Path) -> ShortRun:
    data = root / f"online_retail_{days}d.parquet"
    raw = pd.read_parquet(shared_dataset("online_retail/online_retail.parquet"))
    raw[raw["ts"] < pd.Timestamp(FIRST_DAY + timedelta(days=days))].to_parquet(data, index=False)
    env = {**os.environ, "MLFLOW_TRACKING_URI": fresh_mlflow_store(root / "mlflow.db"),
           "MEMBERSCORE_SNAPSHOT_DIR": str(root / "snapshots"), "BENTOML_HOME": str(root / "bentoml"),
           "BENTOML_DO_NOT_TRACK": "True"}
    report = root / "report.json"
    completed = subprocess.run(
        [*MEMBERSCORE, "train", "--transactions", str(data), "--mapping", str(MAPPING), "--horizon-days", "30",
         "--report", str(report)], cwd=root, env=env, capture_output=True, text=True, timeout=1200)
    assert completed.returncode == 0, completed.stderr[-3000:]
    return ShortRun(data, FIRST_DAY + timedelta(days=days), env, completed, json.loads(report.read_text()))


def score_all(run: ShortRun, out: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[pd.DataFrame, str]:
    for name in ("MLFLOW_TRACKING_URI", "MEMBERSCORE_SNAPSHOT_DIR"):
        monkeypatch.setenv(name, run.env[name])
    result = CliRunner().invoke(app, ["score", "--transactions", str(run.data), "--mapping", str(MAPPING),
                                      "--as-of", run.end.isoformat(), "--out", str(out), "--horizon-days", "30"])
    assert result.exit_code == 0, result.output
    return pd.read_csv(out, dtype={"member_id": str}), result.stdout


@pytest.mark.slow
def test_89_days_train_with_an_adapted_plan_and_score_every_member(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    run = train_on_first_days(89, tmp_path)
    plan = run.report["plan"]
    assert {k: plan[k] for k in ("span_days", "horizon_days", "history_days", "n_train_cutoffs", "step_days",
                                 "models", "adapted")} == \
        {"span_days": 89, "horizon_days": 30, "history_days": 14, "n_train_cutoffs": 2, "step_days": 14,
         "models": True, "adapted": True}
    assert plan["why"].startswith("span 89 days < 148")
    churn = run.report["tasks"]["churn"]
    assert churn["plan"] == plan and len(churn["cutoffs"]["train"]) == 2
    assert run.completed.stdout.startswith(f"plan: {plan['why']}\nchurn: run ")
    from mlflow.tracking import MlflowClient

    tags = MlflowClient(run.env["MLFLOW_TRACKING_URI"]).get_run(churn["run_id"]).data
    assert tags.tags["plan_why"] == plan["why"] and tags.tags["plan_adapted"] == "true"
    assert (tags.params["min_history_days"], tags.params["n_train_cutoffs"], tags.params["cutoff_step_days"]) == \
        ("14", "2", "14")
    scores, stdout = score_all(run, tmp_path / "s.csv", monkeypatch)
    for column in REQUIRED:
        assert scores[column].notna().all(), column
    assert "nan" not in stdout and "served by churn=" in stdout


@pytest.mark.slow
def test_below_the_minimum_only_baselines_are_fitted_and_served(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """50 days < 2 x 30 + 14: no model, no MLflow run; the snapshot's baselines serve every member."""
    run = train_on_first_days(50, tmp_path)
    assert run.report["plan"]["models"] is False and run.report["tasks"] == {}
    assert "baselines only" in run.report["plan"]["why"]
    assert "baselines only: no model trained; the snapshot serves churn=baseline:" in run.completed.stdout
    assert list((tmp_path / "snapshots" / DEFAULT_PROJECT).glob("snapshot-*.parquet"))
    scores, stdout = score_all(run, tmp_path / "s.csv", monkeypatch)
    for column in REQUIRED:
        assert scores[column].notna().all(), column
    assert scores["served_by"].str.contains("next_purchase=baseline:bgnbd", regex=False).all()
    assert "model:" not in stdout


def test_train_with_nothing_fittable_is_one_line(stores: object, tmp_path: Path) -> None:
    """Five members with one purchase each over 3 days: no model, no rule, no BG/NBD: exit 2, one line, no snapshot."""
    data = tmp_path / "tiny.csv"
    pd.DataFrame({"member_id": list("abcde"), "ts": ["2024-01-01", "2024-01-02", "2024-01-02", "2024-01-03",
                                                     "2024-01-03"], "amount": [5.0] * 5}).to_csv(data, index=False)
    result = CliRunner().invoke(app, ["train", "--transactions", str(data), "--horizon-days", "30"])
    assert result.exit_code == 2, result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "nothing can score churn, next_purchase, value" in errors[0], result.stderr
    assert not list(Path(os.environ["MEMBERSCORE_SNAPSHOT_DIR"]).rglob("snapshot-*.parquet"))
