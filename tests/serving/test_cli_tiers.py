"""``memberscore tiers replay``: the month-by-month migration matrix, its files and its refusals.

History (test programme of ``tests/features/tier_cases.py``): a spends 1000 on 2023-01-10 (silver
in January); b joins on 2023-02-05 with 100 (vip); c spends 15000 in 2022 (diamond, AA at the end
of 2022) and 10 in 2023 (below the AA exit of 5000 -> at the end of 2023 AA is left, and its
diamond, due then, is lowered one step to gold).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import yaml
from typer.testing import CliRunner, Result

from cli.main import app
from tests.features.tier_cases import PROGRAMME, history

runner = CliRunner()


def _files(tmp_path: Path) -> tuple[Path, Path]:
    lines = pd.concat([history(("2023-01-10", 1000), member="a"), history(("2023-02-05", 100), member="b"),
                       history(("2022-11-15", 15000), ("2023-12-20", 10), member="c")])
    transactions = tmp_path / "tx.csv"
    lines.to_csv(transactions, index=False)
    programme = tmp_path / "programme.yaml"
    programme.write_text(yaml.safe_dump(PROGRAMME, allow_unicode=True), encoding="utf-8")
    return transactions, programme


def _replay(*args: object) -> Result:
    return runner.invoke(app, ["tiers", "replay", *map(str, args)])


def test_monthly_migration_as_csv(tmp_path: Path) -> None:
    transactions, programme = _files(tmp_path)
    out = tmp_path / "migration.csv"
    result = _replay("--transactions", transactions, "--programme", programme, "--out", out)
    assert result.exit_code == 0, result.output
    rows = pd.read_csv(out, dtype=str)
    january = rows[rows["period_start"] == "2023-01-01"]
    assert january[["tier_from", "tier_to", "members"]].values.tolist() == [["new", "silver", "1"], ["aa", "aa", "1"]]
    new_year = rows[rows["period_start"] == "2023-12-01"]
    assert new_year[["tier_from", "tier_to", "members"]].values.tolist() == [
        ["vip", "vip", "1"], ["silver", "silver", "1"], ["aa", "gold", "1"]]
    assert "2023-12-01 to 2024-01-01: 3 members, 0 up, 1 down, 2 same, 0 new" in result.output
    assert len(rows["period_start"].unique()) == 14  # 2022-11 .. 2023-12


def test_json_matrix_and_chinese_summary(tmp_path: Path) -> None:
    transactions, programme = _files(tmp_path)
    out = tmp_path / "migration.json"
    result = _replay("--transactions", transactions, "--programme", programme, "--out", out, "--lang", "zh-CN")
    assert result.exit_code == 0, result.output
    answer = json.loads(out.read_text(encoding="utf-8"))
    last = answer["periods"][-1]
    assert last["matrix"] == {"vip": {"vip": 1}, "silver": {"silver": 1}, "aa": {"gold": 1}}
    assert (last["members"], last["down"]) == (3, 1)
    assert answer["labels"]["aa"] == "至尊VIP" and answer["labels"]["new"] == "新会员"
    assert "会员 3 人，升级 0，降级 1" in result.output and "至尊VIP" in result.output and "银卡" in result.output


def test_refusals_are_one_line(tmp_path: Path) -> None:
    transactions, programme = _files(tmp_path)
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ncards: [{code: vip, name: V}, {code: s, name: S, cumulative: 10}]\n", encoding="utf-8")
    for args, message in [
        (("--programme", bad), "error: tier programme " + str(bad) + ": cards.1 ('s'): needs cumulative and retain"),
        (("--programme", programme, "--freq", "year"), "error: --freq 'year': use one of month, week"),
        (("--programme", programme, "--out", tmp_path / "m.xlsx"), "expected a .csv or .json file"),
    ]:
        result = _replay("--transactions", transactions, *args)
        assert result.exit_code == 2 and message in result.output, result.output


def test_grace_comes_only_from_tiers_of_the_same_ladder() -> None:
    """A programme takes no grace from the store; stored programme tiers give the quantile ladder none either."""
    from cli.data import grace_tiers

    ladder = ("member", "silver", "platinum", "diamond")
    quantile = pd.Series({"a": "silver", "b": None})
    assert grace_tiers(quantile, ladder, programme=False) is quantile
    assert grace_tiers(quantile, ladder, programme=True) is None
    assert grace_tiers(pd.Series({"a": "vip", "b": "silver"}), ladder, programme=False) is None
    assert grace_tiers(None, ladder, programme=False) is None
