"""``memberscore refresh`` end to end (issue 19, item 4), in process with CliRunner on a small simulated shop.

A project is trained on the shop's first 340 days (every task made champion: the gate is planted
to win, as in test_train_commit), so its snapshot's scores are kept. The routine then runs on all
400 days, once per rule file: with nothing due it backtests the first snapshot (its 30-day horizon
has passed), writes today's snapshot and exits 0 without touching the registry; with the
backtest rule set to alert it exits 4 naming the metrics the stored backtest lost; with an age rule
(the champions' age planted at five days) set to alert it exits 4 and trains nothing; with the same rule set to retrain it trains challengers
for every task through the gate and exits 3. Each run is one line of the refresh log, which
``GET /monitoring``'s refresh section reads.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner, Result

from cli.main import app
from features.drift_reference import read_reference
from features.i18n import translator
from features.project import DEFAULT_PROJECT
from features.refresh_log import read_runs, refresh_section
from features.retail_simulation import simulate_retail, write_simulation
from models import catalog
from training import pipeline
from training.promotion import Decision

pytestmark = pytest.mark.slow

CONFIG = "horizon_days: 30\nn_train_cutoffs: 2\nnum_boost_round: 20\nearly_stopping_rounds: 0\nbootstrap_rounds: 100\n"
START, DAYS, EARLY_DAYS = date(2023, 1, 1), 400, 340
CORE_TASKS = ("churn", "next_purchase", "upsell", "value")
OTHERS_OFF = "no_champion: null\ndrift: []\nbacktest_below_training: null\n"
NOTHING_DUE = "champion_age: {max_days: 365, action: retrain}\nbacktest_below_baseline: null\n" + OTHERS_OFF
BACKTEST_ALERTS = "champion_age: null\nbacktest_below_baseline: {margin: 0.0, action: alert}\n" + OTHERS_OFF
AGE_ALERTS = "champion_age: {max_days: 1, action: alert}\nbacktest_below_baseline: null\n" + OTHERS_OFF
AGE_RETRAINS = "champion_age: {max_days: 1, action: retrain}\nbacktest_below_baseline: null\n" + OTHERS_OFF


@pytest.fixture
def shop(stores: object, tmp_path: Path) -> dict[str, Path]:
    transactions, truth = simulate_retail(300, START, DAYS, 3)
    full, early = tmp_path / "full.csv", tmp_path / "early.csv"
    write_simulation(transactions, truth, full)
    cut = pd.Timestamp(START + timedelta(days=EARLY_DAYS))
    write_simulation(transactions[transactions["ts"] < cut], truth, early)
    config = tmp_path / "train.yaml"
    config.write_text(CONFIG)
    return {"full": full, "early": early, "config": config, "rules": tmp_path / "rules.yaml"}


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(app, [str(arg) for arg in args])


def refresh(shop: dict[str, Path], rules: str, monkeypatch: pytest.MonkeyPatch) -> Result:
    shop["rules"].write_text(rules)
    monkeypatch.setenv("MEMBERSCORE_REFRESH_RULES", str(shop["rules"]))
    return invoke("refresh", "--transactions", shop["full"], "--config", shop["config"])


def champions() -> dict[str, str | None]:
    return {task: catalog.alias_version(task, catalog.CHAMPION, project=DEFAULT_PROJECT) for task in CORE_TASKS}


def test_refresh_backtests_then_alerts_then_retrains_as_its_rules_say(stores: object, shop: dict[str, Path],
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pipeline, "judge", lambda *args, **kwargs: Decision(True, "planted: wins its gate"))
    trained = invoke("train", "--transactions", shop["early"], "--config", shop["config"])
    assert trained.exit_code == 0, trained.output
    assert champions() == dict.fromkeys(CORE_TASKS, "1")
    directory = stores.project_snapshots
    # the drift reference is one cross-section (the newest training cut-off: at most one row per member),
    # not the 2 cut-offs' 600 stacked rows, whose older histories would make time-trending features drift
    reference = read_reference(directory, "churn", "1")
    assert reference is not None and 0 < reference.features.rows <= 300 and reference.scores.rows <= 300
    first_day = min(p.name for p in (directory / "history").glob("scores-*"))
    full_end = pd.read_csv(shop["full"], usecols=["ts"], parse_dates=["ts"])["ts"].max().date() + timedelta(days=1)

    quiet = refresh(shop, NOTHING_DUE, monkeypatch)
    assert quiet.exit_code == 0, quiet.output
    lines = quiet.stdout.splitlines()
    first = first_day.removeprefix("scores-").removesuffix(".parquet")
    assert lines[0].startswith(f"snapshot as of {full_end}: ") and f"backtest of {first} (H 30 days" in quiet.stdout
    assert "no rule asks for a retrain or an alert" in lines and lines[-1].startswith("refresh: ok (exit 0)")
    assert (directory / "history" / f"backtest-{first}.json").is_file()
    assert (directory / f"snapshot-{full_end}.parquet").is_file() and (directory / "history" / f"scores-{full_end}.parquet").is_file()
    assert champions() == dict.fromkeys(CORE_TASKS, "1")

    # the planted champions lose to a baseline on what happened after the first snapshot (seeded data):
    # each reason's numbers are the stored backtest's
    decaying = refresh(shop, BACKTEST_ALERTS, monkeypatch)
    assert decaying.exit_code == 4, decaying.output
    reasons = read_runs(directory)[-1].reasons
    assert reasons and {r.rule for r in reasons} == {"backtest_below_baseline"}
    stored = json.loads((directory / "history" / f"backtest-{first}.json").read_text())
    for reason in reasons:
        row = next(r for r in stored["metrics"] if r["task"] == reason.task and r["metric"] == reason.values["metric"])
        assert reason.values["served"] == row["served"] and reason.values["best"] == row["baselines"][reason.values["baseline"]]
        worse = row["baselines"][reason.values["baseline"]] - row["served"]
        assert reason.values["gap"] == pytest.approx(worse if row["direction"] == "higher" else -worse) and worse != 0
    assert champions() == dict.fromkeys(CORE_TASKS, "1")

    # the champions' registration is planted five days back: the age rules (one day) fire
    five_days_ago = datetime.now(UTC) - timedelta(days=5)
    monkeypatch.setattr(catalog, "version_created_at", lambda *args, **kwargs: five_days_ago)
    alerting = refresh(shop, AGE_ALERTS, monkeypatch)
    assert alerting.exit_code == 4, alerting.output
    assert sum("(rule champion_age)" in line for line in alerting.stdout.splitlines()) == len(CORE_TASKS)
    assert f"{first}: already backtested, not logged again" in alerting.stdout
    assert champions() == dict.fromkeys(CORE_TASKS, "1")

    retraining = refresh(shop, AGE_RETRAINS, monkeypatch)
    assert retraining.exit_code == 3, retraining.output
    assert champions() == dict.fromkeys(CORE_TASKS, "2")
    assert "churn: run " in retraining.stdout and retraining.stdout.splitlines()[-1].startswith("refresh: retrained (exit 3)")

    runs = read_runs(directory)
    assert [run.outcome for run in runs] == ["ok", "alert", "alert", "retrained"]
    assert [run.exit_code for run in runs] == [0, 4, 4, 3]
    assert set(runs[3].retrained) == set(CORE_TASKS) and {r.rule for r in runs[3].reasons} == {"champion_age"}
    assert all(note.endswith("planted: wins its gate") for note in runs[3].notes)
    section = refresh_section(directory, translator("en"))
    assert section is not None and section["outcome"] == "retrained" and set(section["last_retrained"]) == set(CORE_TASKS)
    logged = [json.loads(line) for line in (directory / "refresh.jsonl").read_text().splitlines()]
    assert "m0" not in json.dumps(logged)  # no member ids in the log


def test_refresh_of_a_missing_file_is_one_line_and_exit_2(stores: object, tmp_path: Path) -> None:
    result = invoke("refresh", "--transactions", tmp_path / "absent.csv")
    assert result.exit_code == 2
    assert [line for line in result.stderr.splitlines() if line.strip()][-1].startswith("error: ")
    assert "Traceback" not in result.output
    assert not (stores.project_snapshots / "refresh.jsonl").exists()


def test_a_bad_rules_file_is_refused_before_any_work(stores: object, shop: dict[str, Path],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    result = refresh(shop, "champion_age: {max_days: -1, action: retrain}\n", monkeypatch)
    assert result.exit_code == 2, result.output
    error = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(error) == 1 and "max_days" in error[0]
    assert not stores.project_snapshots.exists() or not list(stores.project_snapshots.glob("snapshot-*"))
