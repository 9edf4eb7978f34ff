"""The ``memberscore`` command line: train, score and snapshot from a transactions file.

``train`` runs once per module as a real subprocess of the console script, with its own MLflow
store, snapshot directory and BentoML home (so the session's shared BentoML store is untouched).
The other commands run in-process through Typer's CliRunner. Expected failures must exit 2 with
one ``error:`` line naming what is wrong, never a traceback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner, Result

from cli.main import app
from features.project import DEFAULT_PROJECT
from features.score_history import history_path, read_scores
from features.store import latest_snapshot_path, read_snapshot
from models import catalog
from serving.scoring import OUTPUT_COLUMNS
from tests.conftest import fresh_mlflow_store

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
MEMBERSCORE = [sys.executable, "-m", "cli"]  # what the console script runs (pyproject: memberscore = "cli.main:app")
AS_OF = "2024-01-01"
EARLY_AS_OF = "2023-06-01"  # members are still joining then, so the count depends on the cut-off
# rows without a member id: rejected with a reason, written out, never lost
BAD_ROWS = pd.DataFrame({
    "member_id": ["", "", ""],
    "ts": ["2023-06-01 10:00:00", "2023-09-15 12:30:00", "2024-03-02 08:00:00"],
    "amount": ["111.11", "222.22", "333.33"],
    "order_id": ["bad-1", "bad-2", "bad-3"],
    "category": ["grocery", "dairy", "bakery"],
})
runner = CliRunner()


def run(*args: str) -> Result:
    return runner.invoke(app, list(args))


def error_line(result: Result, *needles: str) -> str:
    """Exit code 2, no traceback, and exactly one ``error:`` line (the last) mentioning every needle."""
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1 and lines[-1] == errors[0], result.stderr
    for needle in needles:
        assert needle in errors[0], (needle, errors[0])
    return errors[0]


def members_before(csv: Path, as_of: str | None) -> set[str]:
    """Independent count, straight from the file: ids with a purchase (an order whose lines before
    ``as_of`` net to a positive amount; a fully returned order is no purchase) before ``as_of``."""
    raw = pd.read_csv(csv, dtype=str, keep_default_na=False)
    raw = raw[raw["member_id"].str.strip() != ""]
    if as_of is not None:
        raw = raw[pd.to_datetime(raw["ts"]) < pd.Timestamp(as_of)]
    net = raw.assign(amount=raw["amount"].astype(float)).groupby(["member_id", "order_id"])["amount"].sum()
    return set(net[net > 0].index.get_level_values("member_id"))


@pytest.fixture(scope="module")
def transactions_csv(synthetic: tuple[pd.DataFrame, pd.DataFrame], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The synthetic transactions plus three rows lacking a member id, as a CSV on the contract."""
    transactions, _ = synthetic
    path = tmp_path_factory.mktemp("cli_data") / "x.csv"
    pd.concat([transactions.astype(str), BAD_ROWS], ignore_index=True).to_csv(path, index=False)
    return path


@dataclass(frozen=True)
class TrainedByCli:
    root: Path
    completed: subprocess.CompletedProcess[str]
    report: Path
    rejects: Path
    snapshots: Path
    bentoml_home: Path


@pytest.fixture(scope="module")
def cli_trained(transactions_csv: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TrainedByCli]:
    """``memberscore train`` once into fresh stores; the environment points at them for the module."""
    import mlflow

    root = tmp_path_factory.mktemp("cli_trained")
    env = {
        **os.environ,
        "MLFLOW_TRACKING_URI": fresh_mlflow_store(root / "mlruns" / "mlflow.db"),
        "MEMBERSCORE_SNAPSHOT_DIR": str(root / "snapshots"),
        "BENTOML_HOME": str(root / "bentoml"),
        "BENTOML_DO_NOT_TRACK": "True",
    }
    report, rejects, config = root / "r.json", root / "rejected.csv", root / "train.yaml"
    config.write_text("n_train_cutoffs: 2\nnum_boost_round: 30\nearly_stopping_rounds: 0\nbootstrap_rounds: 200\n")  # light: every task
    completed = subprocess.run(
        [*MEMBERSCORE, "train", "--transactions", str(transactions_csv), "--horizon-days", "60",
         "--config", str(config), "--report", str(report), "--rejects", str(rejects)],
        cwd=root, env=env, capture_output=True, text=True, timeout=900,
    )
    previous = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", env["MLFLOW_TRACKING_URI"])
        monkeypatch.setenv("MEMBERSCORE_SNAPSHOT_DIR", env["MEMBERSCORE_SNAPSHOT_DIR"])
        monkeypatch.chdir(root)  # default outputs (var/rejects) stay in the temporary directory
        catalog.configure_tracking(os.environ.get("MLFLOW_TRACKING_URI"))  # in-process reads (aliases, score) use this store, not the session's
        yield TrainedByCli(root, completed, report, rejects, root / "snapshots" / DEFAULT_PROJECT, root / "bentoml")
    mlflow.set_tracking_uri(previous[0])
    mlflow.set_registry_uri(previous[1])


@pytest.fixture
def trained_ok(cli_trained: TrainedByCli) -> TrainedByCli:
    assert cli_trained.completed.returncode == 0, cli_trained.completed.stderr[-3000:]
    return cli_trained


# --- train -------------------------------------------------------------------------------------------

@pytest.mark.slow
def test_train_reports_out_of_time_metrics_cutoffs_and_promotion(trained_ok: TrainedByCli) -> None:
    """train exits 0; the report has model and every baseline out of time, the cut-offs, and the
    gate's decision: promoted exactly when the bootstrap interval against the best baseline lies above 0
    (on this BG/NBD simulation BG/NBD usually holds churn's gate)."""
    report = json.loads(trained_ok.report.read_text())
    assert report["model_version"] == "1"
    assert report["promoted"] == (report["promotion_interval"]["low"] > 0), report["decision"]
    for scorer in ("model", "rfm_rule", "recency_over_gap", "bgnbd"):
        assert 0.0 <= report["out_of_time"][scorer]["roc_auc"] <= 1.0
    assert report["out_of_time"]["model"]["roc_auc"] > report["out_of_time"]["rfm_rule"]["roc_auc"]
    cutoffs = report["cutoffs"]
    assert cutoffs["horizon_days"] == 60
    train = [date.fromisoformat(d) for d in cutoffs["train"]]
    evaluation = date.fromisoformat(cutoffs["evaluation"])
    assert train == sorted(train) and len(train) >= 2
    assert train[-1] + timedelta(days=60) <= evaluation, "no training label window may overlap evaluation"
    assert "promoted" in trained_ok.completed.stdout


@pytest.mark.slow
def test_train_counts_and_writes_rejected_rows(trained_ok: TrainedByCli, synthetic: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    """Three rows without a member id: counted in the report's load section and written to --rejects.

    The simulator's order lines can repeat exactly (same order, category and amount); the loader
    drops such copies by default (``duplicates: drop``), so they are counted as rejected too."""
    load = json.loads(trained_ok.report.read_text())["load"]
    rows, copies = len(synthetic[0]), int(synthetic[0].duplicated().sum())
    assert (load["rows_read"], load["rows_kept"], load["rows_rejected"]) == (rows + 3, rows - copies, 3 + copies)
    assert load["rejected_by_reason"] == {"missing member_id": 3, **({"duplicate row": copies} if copies else {})}
    assert Path(load["rejects_path"]) == trained_ok.rejects
    rejected = pd.read_csv(trained_ok.rejects, dtype=str)
    rejected = rejected[rejected["_reason"] == "missing member_id"]
    assert len(rejected) == 3
    assert sorted(rejected["amount"]) == sorted(BAD_ROWS["amount"])
    assert sorted(rejected["order_id"]) == sorted(BAD_ROWS["order_id"])


@pytest.mark.slow
def test_train_writes_a_snapshot_and_imports_the_champion(trained_ok: TrainedByCli, transactions_csv: Path,
                                                          synthetic: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    """train leaves a snapshot as of the day after the last row, and every champion in the BentoML store."""
    last_day = synthetic[0]["ts"].max().date()
    snapshot = read_snapshot(trained_ok.snapshots / f"snapshot-{last_day + timedelta(days=1)}.parquet")
    assert set(snapshot.frame["member_id"].astype(str)) == members_before(transactions_csv, None)
    assert snapshot.profile["baseline_churn_probability"].notna().all(), "the churn baseline, should churn lose its gate"
    from features.project import DEFAULT_PROJECT
    from models import catalog
    from models.tasks import TASK_NAMES

    champions = [task for task in TASK_NAMES if catalog.alias_version(task, catalog.CHAMPION, project=DEFAULT_PROJECT)]
    assert champions, "no task beat its baselines beyond noise on the simulation"
    for task in champions:
        assert (trained_ok.bentoml_home / "models" / catalog.model_name(task, project=DEFAULT_PROJECT)).is_dir(), task


@pytest.mark.slow
def test_train_stores_every_version_s_drift_reference_beside_the_snapshot(trained_ok: TrainedByCli) -> None:
    """Each registered version's training profile is in <project>/reference/, and the snapshot train wrote
    (as of the end of its data) has no member new to a champion; the champions' drift is measured."""
    from features.drift_reference import read_reference, training_drift
    from features.drift_rules import read_drift_rules
    from features.store import latest_snapshot_path
    from serving.artefacts import load_model
    from serving.live import load_snapshot

    report = json.loads(trained_ok.report.read_text(encoding="utf-8"))
    for task, facts in report["tasks"].items():
        reference = read_reference(trained_ok.snapshots, task, facts["model_version"])
        assert reference is not None and reference.run_id == facts["run_id"], task
    champions = {task: load_model(task, project=DEFAULT_PROJECT) for task, facts in report["tasks"].items()
                 if facts["promoted"]}
    path = latest_snapshot_path(trained_ok.snapshots)
    assert path is not None
    loaded = load_snapshot(path, {task: m.booster for task, m in champions.items()}, lookup=False)
    drift = training_drift(loaded.features_by_id, loaded.scores_by_id, loaded.snapshot.as_of,
                           {task: m.mlflow_version for task, m in champions.items()}, trained_ok.snapshots,
                           read_drift_rules(), {task: m.run_id for task, m in champions.items()})
    assert drift.unavailable == {} and set(drift.reports) == set(champions)
    assert all(report.unknown_share == 0.0 for report in drift.reports.values())


# --- score -------------------------------------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.parametrize("as_of", [AS_OF, EARLY_AS_OF])
def test_score_writes_one_row_per_member_with_history(trained_ok: TrainedByCli, transactions_csv: Path, tmp_path: Path,
                                                      as_of: str) -> None:
    """score --as-of D: one row per member with a purchase before D; member_id, churn_probability in [0, 1]."""
    out = tmp_path / "s.csv"
    result = run("score", "--transactions", str(transactions_csv), "--as-of", as_of, "--out", str(out))
    assert result.exit_code == 0, result.output
    scores = pd.read_csv(out, dtype={"member_id": str})
    assert list(scores.columns) == [*OUTPUT_COLUMNS, "served_by"]
    churn_champion = catalog.alias_version("churn", catalog.CHAMPION, project=DEFAULT_PROJECT)
    served = "churn=model:" if churn_champion else "churn=baseline:"  # a baseline when the model lost its gate
    assert scores["served_by"].str.startswith(served).all(), scores["served_by"].iloc[0]
    expected = members_before(transactions_csv, as_of)
    assert len(scores) == len(expected)
    assert set(scores["member_id"]) == expected
    assert scores["churn_probability"].between(0, 1).all()
    # a model (or BG/NBD) ranks finely; the RFM rule serving before BG/NBD can be fitted has a few levels
    assert scores["churn_probability"].nunique() > (10 if churn_champion else 1)


def test_early_cut_off_leaves_members_out(transactions_csv: Path) -> None:
    """Fixture check: at EARLY_AS_OF some members have not bought yet, so row counts can tell cut-offs apart."""
    assert 0 < len(members_before(transactions_csv, EARLY_AS_OF)) < len(members_before(transactions_csv, AS_OF))


@pytest.mark.slow
def test_score_ignores_rows_on_or_after_as_of(trained_ok: TrainedByCli, transactions_csv: Path, tmp_path: Path) -> None:
    """Point in time: removing every row with ts >= D from the input leaves the score file byte-identical."""
    raw = pd.read_csv(transactions_csv, dtype=str, keep_default_na=False)
    before = raw[pd.to_datetime(raw["ts"]) < pd.Timestamp(AS_OF)]
    assert 0 < len(before) < len(raw)
    truncated = tmp_path / "before.csv"
    before.to_csv(truncated, index=False)
    full_out, truncated_out = tmp_path / "full.csv", tmp_path / "truncated.csv"
    assert run("score", "--transactions", str(transactions_csv), "--as-of", AS_OF, "--out", str(full_out)).exit_code == 0
    assert run("score", "--transactions", str(truncated), "--as-of", AS_OF, "--out", str(truncated_out)).exit_code == 0
    assert full_out.read_bytes() == truncated_out.read_bytes()


@pytest.mark.slow
@pytest.mark.parametrize("command", ["train", "score"])
def test_missing_transactions_file_is_named_with_a_champion(trained_ok: TrainedByCli, tmp_path: Path, command: str) -> None:
    """train / score with a transactions path that does not exist: exit 2 naming the file (nothing trained)."""
    missing = tmp_path / "nowhere.csv"
    extra = ["--as-of", AS_OF, "--out", str(tmp_path / "s.csv")] if command == "score" else []
    error_line(run(command, "--transactions", str(missing), *extra), str(missing))
    from models import catalog

    assert catalog.alias_version("churn", catalog.CHALLENGER, project=DEFAULT_PROJECT) == "1", "a failed load must log no run"


def test_score_refuses_an_unknown_output_type(stores: object, transactions_csv: Path, tmp_path: Path) -> None:
    """--out s.txt: exit 2 with one line naming --out and the accepted types; nothing written."""
    out = tmp_path / "s.txt"
    result = run("score", "--transactions", str(transactions_csv), "--as-of", AS_OF, "--out", str(out))
    error_line(result, "--out", ".csv")
    assert result.stderr.strip().count("\n") == 0
    assert not out.exists()


def test_score_refuses_an_impossible_date(stores: object, transactions_csv: Path, tmp_path: Path) -> None:
    """--as-of 2024-13-01: exit 2 naming --as-of, the value and the expected format."""
    result = run("score", "--transactions", str(transactions_csv), "--as-of", "2024-13-01", "--out", str(tmp_path / "s.csv"))
    error_line(result, "--as-of", "2024-13-01", "YYYY-MM-DD")


def test_score_without_a_champion_is_served_by_baselines(stores: object, transactions_csv: Path, tmp_path: Path) -> None:
    """A fresh store has no champion (as if every model lost its gate): the baselines serve every
    member, served_by names them, and the summary prints what served, never nan (issue 14)."""
    out = tmp_path / "s.csv"
    result = run("score", "--transactions", str(transactions_csv), "--as-of", AS_OF, "--out", str(out))
    assert result.exit_code == 0, result.output
    scores = pd.read_csv(out, dtype={"member_id": str})
    for column in ("churn_probability", "p_purchase_7d", "p_purchase_30d", "p_purchase_90d", "expected_value",
                   "upsell_probability", "served_by"):
        assert scores[column].notna().all(), column
    assert scores["served_by"].str.contains("next_purchase=baseline:bgnbd", regex=False).all()
    assert scores["served_by"].str.contains("value=baseline:bgnbd", regex=False).all()
    assert "served by churn=baseline:" in result.stdout and "nan" not in result.stdout
    history = read_scores(history_path(Path(os.environ["MEMBERSCORE_SNAPSHOT_DIR"]) / DEFAULT_PROJECT, date.fromisoformat(AS_OF)))
    assert history.model_versions == {} and history.scores["served_by"].tolist() == scores["served_by"].tolist()


@pytest.mark.slow
def test_score_keeps_what_it_scored_in_the_history(trained_ok: TrainedByCli, transactions_csv: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """score --out x.parquet: the history file for --as-of equals the output (every member, every output,
    served_by), names the champions' versions, and a second date beyond MEMBERSCORE_SCORE_HISTORY_DAYS
    deletes the first."""
    from features.score_history import stored_dates
    from models.tasks import TASK_NAMES

    out = tmp_path / "s.parquet"
    assert run("score", "--transactions", str(transactions_csv), "--as-of", EARLY_AS_OF, "--out", str(out)).exit_code == 0
    history = read_scores(history_path(trained_ok.snapshots, date.fromisoformat(EARLY_AS_OF)))
    outputs = [*OUTPUT_COLUMNS, "served_by"]
    pd.testing.assert_frame_equal(history.scores[outputs], pd.read_parquet(out))
    # beside them, the baselines the snapshot carried, for the same members (what a backtest compares with)
    assert history.scores.columns[len(outputs):].tolist() == [
        "baseline_churn_probability", "bgnbd_p_purchase_7d", "bgnbd_p_purchase_30d", "bgnbd_p_purchase_90d",
        "baseline_next_purchase_median_days", "baseline_upsell_probability", "baseline_upsell_categories",
        "baseline_expected_value"]
    assert history.scores["baseline_churn_probability"].between(0, 1).all()
    assert set(history.scores["member_id"]) == members_before(transactions_csv, EARLY_AS_OF)
    champions = {task: catalog.alias_version(task, catalog.CHAMPION, project=DEFAULT_PROJECT) for task in TASK_NAMES}
    assert history.model_versions == {task: version for task, version in champions.items() if version}
    assert (history.as_of, history.horizon_days) == (date.fromisoformat(EARLY_AS_OF), 90)  # score's default H
    newest = latest_snapshot_path(trained_ok.snapshots)
    assert newest is not None
    trained_on = read_snapshot(newest).as_of  # train kept its snapshot's scores
    assert {date.fromisoformat(EARLY_AS_OF), trained_on} <= set(stored_dates(trained_ok.snapshots))
    # EARLY_AS_OF is 214 days before AS_OF and over 300 before the trained snapshot: dropped, AS_OF kept
    monkeypatch.setenv("MEMBERSCORE_SCORE_HISTORY_DAYS", "200")
    assert run("score", "--transactions", str(transactions_csv), "--as-of", AS_OF, "--out", str(out)).exit_code == 0
    assert stored_dates(trained_ok.snapshots) == [date.fromisoformat(AS_OF), trained_on]


def test_score_with_nothing_fittable_is_one_line(stores: object, transactions_csv: Path, tmp_path: Path) -> None:
    """--as-of the day after the first purchase: no champion, no rule, no BG/NBD fit: exit 2, one line, no file."""
    first = pd.read_csv(transactions_csv, usecols=["ts"], parse_dates=["ts"])["ts"].min().date()
    out = tmp_path / "s.csv"
    result = run("score", "--transactions", str(transactions_csv), "--as-of", str(first + timedelta(days=1)),
                 "--out", str(out))
    error_line(result, "nothing can score churn, next_purchase, value", "BG/NBD")
    assert not out.exists()


# --- snapshot and loading errors ---------------------------------------------------------------------

def test_snapshot_writes_the_dated_file_into_the_store(stores: object, transactions_csv: Path) -> None:
    """snapshot --as-of D writes snapshot-D.parquet into MEMBERSCORE_SNAPSHOT_DIR/default, one row per member before D."""
    result = run("snapshot", "--transactions", str(transactions_csv), "--as-of", AS_OF)
    assert result.exit_code == 0, result.output
    path = Path(os.environ["MEMBERSCORE_SNAPSHOT_DIR"]) / DEFAULT_PROJECT / f"snapshot-{AS_OF}.parquet"
    assert path.is_file()
    assert [p.name for p in path.parent.glob("snapshot-*.parquet")] == [path.name]
    snapshot = read_snapshot(path)
    assert snapshot.as_of == date.fromisoformat(AS_OF)
    assert set(snapshot.frame["member_id"].astype(str)) == members_before(transactions_csv, AS_OF)
    assert (snapshot.frame["recency_days"] > 0).all()
    # the serving baselines, fitted on the 90 days before AS_OF (the default horizon)
    assert snapshot.profile["baseline_churn_probability"].between(0, 1).all()
    assert snapshot.profile["baseline_upsell_categories"].str.len().gt(0).any()
    # its scores are kept for backtests, exactly as the service serves them (no champion: the baselines)
    from serving.live import load_snapshot

    kept = read_scores(history_path(path.parent, date.fromisoformat(AS_OF)))
    outputs = kept.scores[list(OUTPUT_COLUMNS)]
    served = load_snapshot(path, {}, lookup=False).scores_by_id
    pd.testing.assert_frame_equal(outputs.set_index(outputs["member_id"].astype(str)).drop(columns="member_id"),
                                  served, check_names=False)
    assert (kept.model_versions, kept.horizon_days, kept.baselines["value"]) == ({}, 90, "bgnbd")
    assert kept.scores["served_by"].str.startswith("churn=baseline:").all()


def test_snapshot_missing_transactions_file_is_named(stores: object, tmp_path: Path) -> None:
    """snapshot with a transactions path that does not exist: exit 2 naming the file, no snapshot."""
    missing = tmp_path / "nowhere.csv"
    error_line(run("snapshot", "--transactions", str(missing)), str(missing))
    assert not any(Path(os.environ["MEMBERSCORE_SNAPSHOT_DIR"]).rglob("snapshot-*.parquet"))


def test_mapping_with_an_unknown_contract_column_is_named(stores: object, transactions_csv: Path, tmp_path: Path) -> None:
    """A mapping onto a contract column that does not exist: exit 2, and the one line names it."""
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text("columns: {member_id: member_id, bogus: amount}\ntimezone: UTC\n")
    error_line(run("snapshot", "--transactions", str(transactions_csv), "--mapping", str(mapping), "--as-of", AS_OF),
               "bogus")


def test_mapping_naming_a_missing_column_is_named(stores: object, transactions_csv: Path, tmp_path: Path) -> None:
    """A mapping onto a source column the file lacks: exit 2 naming that column."""
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text("columns: {member_id: customer_id}\ntimezone: UTC\n")
    error_line(run("snapshot", "--transactions", str(transactions_csv), "--mapping", str(mapping), "--as-of", AS_OF),
               "customer_id")
    assert not any(Path(os.environ["MEMBERSCORE_SNAPSHOT_DIR"]).rglob("snapshot-*.parquet"))
