"""``--lang`` on train, snapshot, validate and simulate: their summaries in Chinese, English unchanged
without it, and one option (train's HTML report and summary share it).

Training, MLflow and the snapshot store are replaced by stand-ins, so each test takes well under a second."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from typer.testing import CliRunner

import cli.data
import cli.kpis
import cli.train
from cli.main import app

ROOT = Path(__file__).resolve().parents[2]
TRANSACTIONS = ROOT / "tests" / "golden" / "transactions_sim20.csv"
runner = CliRunner()


def _run() -> Any:
    """A finished run as train_summary reads it: one promoted churn task and one skipped task."""
    result = SimpleNamespace(
        task="churn", run_id="r1", version=3, plan=SimpleNamespace(evaluation="2023-03-01"),
        members={"evaluation_members": 1234}, out_of_time={"model": {"roc_auc": 0.81234, "n": 9.0}},
        baselines_unavailable={"bgnbd": "too few repeaters"}, decision=SimpleNamespace(reason="promoted: roc_auc 0.8123"))
    return SimpleNamespace(plan=SimpleNamespace(why="defaults fit the span"), baselines_only=False, results=[result],
                           skipped={"upsell": "no categories"})


@pytest.fixture
def trained(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """``train`` with its fitting, commit, KPIs and MLflow replaced: only its summary is real."""
    monkeypatch.setenv("MEMBERSCORE_SNAPSHOT_DIR", str(tmp_path / "snapshots"))
    monkeypatch.setattr("models.catalog.configure_tracking", lambda *_: None)
    monkeypatch.setattr("models.catalog.alias_version", lambda *_, **__: None)
    uncommitted = cli.train.Uncommitted(_run(), SimpleNamespace(profile=None, as_of=None), None, [], None, 90)  # type: ignore[arg-type]
    monkeypatch.setattr(cli.train, "_train_uncommitted", lambda *_, **__: uncommitted)
    monkeypatch.setattr(cli.train, "_commit_run", lambda *_, **__: None)
    monkeypatch.setattr(cli.train, "store_kpis", lambda *_: None)
    monkeypatch.setattr(cli.train, "keep_history", lambda *_: None)


def test_train_says_its_summary_in_chinese(trained: None) -> None:
    result = runner.invoke(app, ["train", "--transactions", str(TRANSACTIONS), "--lang", "zh-CN"])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "训练计划：defaults fit the span",
        "流失：运行 r1，v3，于 2023-03-01 在 1,234 名会员上评估",
        "  model                  roc_auc 0.8123",
        "  bgnbd                  未参与比较：too few repeaters",
        "  promoted: roc_auc 0.8123",
        "交叉销售：已跳过（no categories）"]


def test_train_without_lang_keeps_the_english_summary_with_task_codes(trained: None) -> None:
    result = runner.invoke(app, ["train", "--transactions", str(TRANSACTIONS)])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[1] == "churn: run r1, v3, evaluated at 2023-03-01 on 1,234 members"
    assert result.stdout.splitlines()[-1] == "upsell: skipped (no categories)"


def test_train_refuses_an_unsupported_language_before_any_work(trained: None) -> None:
    result = runner.invoke(app, ["train", "--transactions", str(TRANSACTIONS), "--lang", "fr"])
    assert result.exit_code == 2
    assert result.output.strip() == "error: --lang: 'fr' is not supported; use one of en, zh-CN"


def test_snapshot_says_its_summary_in_chinese(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "snapshot.parquet"
    monkeypatch.setattr(cli.data, "store_snapshot", lambda *_: (SimpleNamespace(frame=[0] * 1500), path))
    monkeypatch.setattr(cli.kpis, "store_kpis", lambda *_: None)
    monkeypatch.setattr(cli.data, "keep_history", lambda *_: None)
    monkeypatch.setattr(cli.data, "held_by_a_service", lambda *_: "12 members against 1,500")
    result = runner.invoke(app, ["snapshot", "--transactions", str(TRANSACTIONS), "--as-of", "2023-06-01",
                                 "--allow-shrink", "--lang", "zh-CN"])
    assert result.exit_code == 0, result.output
    assert "正在读取" in result.output and "读取 " in result.output and " 行，保留 " in result.output
    assert "警告：正在运行的服务将保留其原快照：12 members against 1,500" in result.output
    assert result.stdout.splitlines()[-1] == f"截至 2023-06-01 的快照：1,500 名会员 -> {path}（已标记为有意缩减）"


def test_validate_keeps_its_json_codes_and_says_its_progress_in_chinese() -> None:
    result = runner.invoke(app, ["validate", "--transactions", str(TRANSACTIONS), "--lang", "zh-CN"])
    assert result.exit_code == 0, result.output
    said = [line for line in result.output.splitlines() if line.startswith("[")]
    assert said[0].endswith(f"正在读取 {TRANSACTIONS}")
    english = runner.invoke(app, ["validate", "--transactions", str(TRANSACTIONS)])
    report = json.loads(english.output[english.output.index("{"):])
    assert f"读取 {report['rows_read']:,} 行，保留 {report['rows_kept']:,} 行，拒绝 {report['rows_rejected']:,} 行" in said[1]
    assert json.loads(result.output[result.output.index("{"):]) == report  # keys and codes unchanged


def test_simulate_says_its_summary_in_chinese(tmp_path: Path) -> None:
    out = tmp_path / "sim.csv"
    result = runner.invoke(app, ["simulate", "--members", "3", "--days", "30", "--out", str(out), "--lang", "zh-CN"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("已模拟 3 名会员、") and "自 2023-01-01 起共 30 天" in result.output
    english = runner.invoke(app, ["simulate", "--members", "1", "--days", "30", "--out", str(out)])
    assert english.output.startswith("simulated 1 member, ")  # the singular, from the catalogue's plural forms
