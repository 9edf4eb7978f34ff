"""``memberscore kpis``: the KPI table to CSV or JSON, ``--alerts`` against the thresholds, one-line refusals.

Runs on the hand-built table of tests/features/test_kpis.py, whose values are worked out there.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from cli.main import app
from tests.features.test_kpis import ROWS

runner = CliRunner()


@pytest.fixture
def transactions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MEMBERSCORE_KPI_RULES", raising=False)
    path = tmp_path / "tx.csv"
    lines = [f"{m},{ts},{amount},{category},{store or ''}" for m, ts, amount, category, store in ROWS]
    lines.append("f,2024-04-20T10:00,5,x,=HYPERLINK(\"x\")")  # a store name a spreadsheet would run
    path.write_text("member_id,ts,amount,category,store\n" + "\n".join(lines) + "\n", encoding="utf-8")
    return path


def kpis(*args: str | Path) -> Result:
    return runner.invoke(app, ["kpis", *map(str, args)])


def test_the_table_goes_to_json_and_to_a_spreadsheet_safe_csv(transactions: Path, tmp_path: Path) -> None:
    result = kpis("--transactions", transactions, "--out", tmp_path / "k.json")
    assert result.exit_code == 0, result.output
    assert "4 complete months" in result.stdout
    document = json.loads((tmp_path / "k.json").read_text(encoding="utf-8"))
    assert document["freq"] == "month" and document["by"] is None
    first, march = document["rows"][0], document["rows"][2]
    assert first["period_start"] == "2024-01-01" and first["repurchase_rate"] is None  # no previous month
    assert march["churn_rate"] == pytest.approx(3 / 5) and march["active_members"] == 1
    result = kpis("--transactions", transactions, "--by", "store", "--out", tmp_path / "k.csv")
    assert result.exit_code == 0, result.output
    text = (tmp_path / "k.csv").read_bytes().decode("utf-8")
    assert text.startswith("\ufeffperiod_start,period_end,store,")  # Excel reads UTF-8 with the BOM
    assert "'=HYPERLINK" in text and ",=HYPERLINK" not in text


def test_alerts_list_each_breach_newest_first(transactions: Path, tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("min_members: 0\nalerts:\n"
                     "  - {kpi: active_members, compare: previous, direction: down, percent: 40}\n"
                     "  - {kpi: churn_rate, compare: previous, direction: up, points: 50}\n", encoding="utf-8")
    result = kpis("--transactions", transactions, "--alerts", "--rules", rules, "--out", tmp_path / "a.json")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "3 alerts"
    assert lines[1].startswith("2024-03-01 all: active members 1.00 against 2.00 in 2024-02-01 (-50.0%")
    assert lines[2].startswith("2024-03-01 all: churn rate 60.0% against 0.0% in 2024-02-01 (+60.0 points, threshold 50)")
    assert lines[3].startswith("2024-02-01 all: active members 2.00 against 4.00")
    chinese = kpis("--transactions", transactions, "--alerts", "--rules", rules, "--lang", "zh-CN").stdout.splitlines()
    assert chinese[0] == "3 条预警" and "流失率" in chinese[2] and "个百分点" in chinese[2]
    alerts = json.loads((tmp_path / "a.json").read_text(encoding="utf-8"))["rows"]
    assert [a["kpi"] for a in alerts] == ["active_members", "churn_rate", "active_members"]


@pytest.mark.parametrize(("args", "message"), [
    (("--by", "tier", "--freq", "day"), "error: freq: 'day' is not supported; use one of month, week"),
    (("--by", "region"), "error: by: 'region' is not supported; use one of tier, store, lifecycle_stage"),
    (("--out", "k.txt"), "error: --out k.txt: expected a .csv or .json file"),
    (("--alerts", "--rules", "missing.yaml"), "error: kpi rules missing.yaml: file not found"),
])
def test_bad_options_stop_with_one_line(transactions: Path, args: tuple[str, ...], message: str) -> None:
    result = kpis("--transactions", transactions, *args)
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines()[-1] == message


def test_a_split_the_data_cannot_give_stops_with_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "tx.csv").write_text("member_id,ts,amount\na,2024-01-05,10\na,2024-02-29,5\n", encoding="utf-8")
    result = kpis("--transactions", tmp_path / "tx.csv", "--by", "store")
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines()[-1] == "error: by: 'store' needs a store column in the transactions, and they have none"
    result = kpis("--transactions", tmp_path / "tx.csv", "--freq", "month")
    assert result.exit_code == 0 and "2 complete months" in result.stdout


@pytest.mark.slow
def test_snapshot_stores_the_kpis_beside_it_for_the_service(transactions: Path, stores: object,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from features.kpi_store import read_latest_kpis, stored_table

    monkeypatch.setenv("MEMBERSCORE_KPIS_WITH_SNAPSHOT", "true")  # the default; tests/conftest.py turns it off
    result = runner.invoke(app, ["snapshot", "--transactions", str(transactions)])
    assert result.exit_code == 0, result.output
    directory = stores.project_snapshots  # type: ignore[attr-defined]
    assert sorted(p.name for p in directory.iterdir()) == ["history", "kpis-2024-05-01.json",
                                                                 "snapshot-2024-05-01.parquet"]
    document = read_latest_kpis(directory)
    assert document is not None and set(document["tables"]) == {"month", "week"}
    assert set(document["tables"]["month"]) == {"all", "tier", "lifecycle_stage", "store"}
    monthly = stored_table(document, "month", None)
    assert monthly["churn_rate"].iloc[2] == pytest.approx(3 / 5)  # March, as worked out by hand (quantile tiers here)
    monkeypatch.setenv("MEMBERSCORE_KPIS_WITH_SNAPSHOT", "false")
    (directory / "kpis-2024-05-01.json").unlink()
    assert runner.invoke(app, ["snapshot", "--transactions", str(transactions)]).exit_code == 0
    assert not (directory / "kpis-2024-05-01.json").exists()
