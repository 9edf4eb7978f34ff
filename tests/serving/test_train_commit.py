"""``memberscore train`` is all or nothing (issue 15, item 4).

A first run commits champions and a snapshot; then a run whose value fit raises, and a run that
wins every gate but whose snapshot write raises, must each exit 2 with one line saying what
failed and leave the aliases (and their history), the snapshot store and the served set as they
were. In process with CliRunner on a small simulated shop (300 members, 400 days, 20 rounds).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from cli.main import app
from features.project import DEFAULT_PROJECT
from features.retail_simulation import simulate_retail, write_simulation
from models import catalog
from models.tasks import TASK_NAMES
from training import pipeline, registry
from training.promotion import Decision
from training.value import Value

pytestmark = pytest.mark.slow

CONFIG = "horizon_days: 30\nn_train_cutoffs: 2\nnum_boost_round: 20\nearly_stopping_rounds: 0\nbootstrap_rounds: 100\n"


@pytest.fixture
def shop(stores: object, tmp_path: Path) -> tuple[Path, Path]:
    transactions, truth = simulate_retail(300, date(2023, 1, 1), 400, 3)
    data = tmp_path / "tx.csv"
    write_simulation(transactions, truth, data)
    config = tmp_path / "train.yaml"
    config.write_text(CONFIG)
    return data, config


def train(shop: tuple[Path, Path]) -> Result:
    return CliRunner().invoke(app, ["train", "--transactions", str(shop[0]), "--config", str(shop[1])])


def champions() -> dict[str, tuple[str | None, list[str]]]:
    return {task: (catalog.alias_version(task, catalog.CHAMPION, project=DEFAULT_PROJECT),
                   registry.champion_history(task, project=DEFAULT_PROJECT)) for task in TASK_NAMES}


def snapshots(stores: object) -> dict[str, tuple[int, int]]:
    """What serves from the snapshot store: every file but the registered versions' drift profiles
    (``reference/``), which describe a version whether or not it ever serves."""
    root = stores.project_snapshots
    return {p.name: (p.stat().st_mtime_ns, p.stat().st_size) for p in root.rglob("*")
            if p.is_file() and p.parent != root / "reference"}


def references(stores: object) -> set[str]:
    return {p.name for p in (stores.project_snapshots / "reference").glob("*.json")}


def one_error_line(result: Result) -> str:
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert "Traceback" not in result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("error:")]
    assert len(errors) == 1 and lines[-1] == errors[0], result.stderr
    return errors[0]


def test_a_failed_run_leaves_the_previous_champions_and_snapshot(stores: object, shop: tuple[Path, Path],
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    with monkeypatch.context() as wins:
        wins.setattr(pipeline, "judge", lambda *args, **kwargs: Decision(True, "planted: wins its gate"))
        first = train(shop)
    assert first.exit_code == 0, first.output
    before, stored = champions(), snapshots(stores)
    assert {task: version for task, (version, _) in before.items() if version} == \
        {"churn": "1", "next_purchase": "1", "upsell": "1", "value": "1"}
    assert len([name for name in stored if name.startswith("snapshot-")]) == 1

    def planted(self: Value, *args: object) -> None:
        raise RuntimeError("planted fit failure")

    with monkeypatch.context() as broken:
        broken.setattr(Value, "fit", planted)
        line = one_error_line(train(shop))
    assert line == ("error: training failed, nothing committed (the previous champions and snapshot keep serving): "
                    "RuntimeError: planted fit failure")
    assert champions() == before and snapshots(stores) == stored
    # every task is fitted before any is logged: the failed fit registered nothing
    assert catalog.alias_version("churn", catalog.CHALLENGER, project=DEFAULT_PROJECT) == "1"

    def unwritable(*args: object, **kwargs: object) -> Path:
        raise OSError("planted: disk full")

    with monkeypatch.context() as full:
        full.setattr(pipeline, "judge", lambda *args, **kwargs: Decision(True, "planted: wins its gate"))
        full.setattr("features.store.write_snapshot", unwritable)
        line = one_error_line(train(shop))
    assert line == ("error: commit failed, nothing committed (the previous champions and snapshot keep serving): "
                    "OSError: planted: disk full")
    assert champions() == before and snapshots(stores) == stored
    # the versions this run registered stay in the registry, named by no champion alias, with their
    # drift profiles (a later `promote` of one compares against it)
    assert catalog.alias_version("churn", catalog.CHALLENGER, project=DEFAULT_PROJECT) == "2"
    assert references(stores) == {f"{task}-v{version}.json" for task in ("churn", "next_purchase", "upsell", "value")
                                  for version in (1, 2)}
