"""``--lang`` in the CLI: summaries, names, reasons and list headers in the language; codes without it;
UTF-8 with a byte-order mark so Excel opens Chinese; an unsupported language is exit 2 with one line.

Champions and the served snapshot are replaced by small in-memory ones (no MLflow, no store)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from typer.testing import CliRunner

import cli.lists
from cli.main import app
from tests.serving.test_targets import loaded_snapshot

ROOT = Path(__file__).resolve().parents[2]
TRANSACTIONS = ROOT / "tests" / "golden" / "transactions_sim20.csv"
runner = CliRunner()


@pytest.fixture(scope="module")
def champion_and_snapshot() -> tuple[xgb.Booster, Any]:
    rng = np.random.default_rng(5)
    x = pd.DataFrame({"recency_days": rng.uniform(0, 200, 300), "orders_90d": rng.integers(0, 5, 300).astype(float)})
    booster = xgb.train({"objective": "binary:logistic", "max_depth": 2, "nthread": 1},
                        xgb.DMatrix(x, label=(x["recency_days"] > 80).astype(float)), num_boost_round=5)
    loaded = loaded_snapshot({"a": {"recency_days": 150.0, "tier": "diamond", "expected_value": 30.0},
                              "b": {"recency_days": 90.0}, "c": {"lifecycle_stage": "active"}})
    return booster, loaded


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch, champion_and_snapshot: tuple[xgb.Booster, Any]) -> None:
    """One churn champion and a three-member snapshot, in place of MLflow and the snapshot store."""
    booster, loaded = champion_and_snapshot
    monkeypatch.setattr(cli.lists, "champion_boosters", lambda *_: {"churn": booster})
    monkeypatch.setattr(cli.lists, "newest_snapshot", lambda *_: loaded)


def targets(out: Path, *options: str) -> Any:
    return runner.invoke(app, ["targets", "--campaign", "winback", "--out", str(out), "--explain", "1", *options])


def test_targets_in_chinese_say_the_summary_and_write_names_reasons_and_headers(served: None, tmp_path: Path) -> None:
    result = targets(tmp_path / "list.csv", "--lang", "zh-CN")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("流失召回：2 名符合条件的会员中的 2 名（快照截至")
    raw = (tmp_path / "list.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # UTF-8 byte-order mark: Excel reads the Chinese right
    listed = pd.read_csv(tmp_path / "list.csv", encoding="utf-8-sig")
    assert list(listed.columns[:3]) == ["排名", "会员编号", "得分"]
    first = listed.iloc[0]
    assert (first["会员等级"], first["会员等级名称"], first["生命周期阶段名称"]) == ("diamond", "钻石卡", "沉睡")
    assert first["原因 1"] == "已 150 天未购买"


def test_targets_without_lang_keep_the_stable_columns_and_english(served: None, tmp_path: Path) -> None:
    result = targets(tmp_path / "list.csv")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("winback: 2 of 2 eligible members (snapshot as of")  # as before --lang
    listed = pd.read_csv(tmp_path / "list.csv", encoding="utf-8-sig")
    assert "tier_label" not in listed.columns and listed.loc[0, "tier"] == "diamond"
    assert listed.loc[0, "reason_1"] == "no purchase for 150 days"


def test_a_json_list_keeps_codes_and_adds_labels_in_the_language(served: None, tmp_path: Path) -> None:
    result = targets(tmp_path / "list.json", "--lang", "zh")
    assert result.exit_code == 0, result.output
    answer = json.loads((tmp_path / "list.json").read_text(encoding="utf-8"))
    assert (answer["campaign"], answer["campaign_label"]) == ("winback", "流失召回")
    assert (answer["rows"][0]["tier"], answer["rows"][0]["tier_label"]) == ("diamond", "钻石卡")


def test_an_unsupported_language_is_exit_2_with_one_line(tmp_path: Path) -> None:
    result = runner.invoke(app, ["score", "--transactions", str(TRANSACTIONS), "--as-of", "2023-06-01",
                                 "--out", str(tmp_path / "s.csv"), "--lang", "fr"])
    assert result.exit_code == 2
    assert result.output.strip() == "error: --lang: 'fr' is not supported; use one of en, zh-CN"
    assert not (tmp_path / "s.csv").exists()


@pytest.mark.slow  # builds a snapshot and fits BG/NBD on the 20 golden members (~3 s)
def test_score_in_chinese_with_the_currency_setting(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(cli.lists, "champion_boosters", lambda *_: {})  # every task served by its baseline
    monkeypatch.setenv("MEMBERSCORE_CURRENCY", "CNY")
    result = runner.invoke(app, ["score", "--transactions", str(TRANSACTIONS), "--as-of", "2023-06-01",
                                 "--out", str(tmp_path / "s.csv"), "--lang", "zh-CN"])
    assert result.exit_code == 0, result.output
    assert "已为 20 名会员评分（截至 2023-06-01）" in result.output and "名会员的平均流失概率为" in result.output
    scored = pd.read_csv(tmp_path / "s.csv", encoding="utf-8-sig")
    assert scored.columns[0] == "会员编号" and "会员等级名称" in scored.columns
    assert set(scored["会员等级名称"]) <= {"贵宾卡", "银卡", "铂金卡", "钻石卡"}


@pytest.mark.slow  # creates a campaign with its power estimate (~2 s)
def test_a_campaign_in_chinese_names_its_type_and_writes_translated_contact_headers(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.campaigns.test_store_lists import loaded_snapshot as campaign_snapshot

    monkeypatch.setattr("cli.campaign.champion_boosters", lambda project, tracking_uri: {})
    monkeypatch.setattr("cli.campaign.newest_snapshot", lambda project, models, snapshot_dir: campaign_snapshot())
    monkeypatch.setenv("MEMBERSCORE_CAMPAIGN_DB", f"sqlite:///{tmp_path / 'campaigns.db'}")
    monkeypatch.setenv("MEMBERSCORE_CURRENCY", "CNY")
    out = tmp_path / "contacts.csv"
    created = runner.invoke(app, ["campaign", "create", "--campaign", "winback", "--limit", "100", "--name", "六月",
                                  "--cost-per-contact", "0.5", "--out", str(out), "--lang", "zh-CN"])
    assert created.exit_code == 0, created.output
    assert "（流失召回，'六月'，randomised）：实验组 90 人，对照组 10 人" in created.output
    assert "30 天内每位会员消费的最小可检测效应：¥" in created.output
    contacts = pd.read_csv(out, encoding="utf-8-sig")
    assert list(contacts.columns[:2]) == ["会员编号", "得分"] and "会员等级名称" in contacts.columns
    listed = runner.invoke(app, ["campaign", "list", "--lang", "zh-CN"])
    assert listed.exit_code == 0 and "（流失召回，'六月'，randomised）" in listed.output
