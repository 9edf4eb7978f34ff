"""features.refresh_rules: the packaged defaults, a user's file over them, null switches a rule off, one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from features.refresh_rules import DriftRule, read_refresh_rules


def test_packaged_defaults() -> None:
    rules = read_refresh_rules()
    assert rules.champion_age is not None and (rules.champion_age.max_days, rules.champion_age.action) == (90, "retrain")
    assert rules.backtest_below_baseline is not None and rules.backtest_below_baseline.margin == 0.0
    assert rules.backtest_below_training is not None and rules.backtest_below_training.margin == 0.05
    assert rules.drift[:2] == [DriftRule(kind="score", level="alert", count=1, action="retrain"),
                               DriftRule(kind="feature", level="alert", count=3, action="retrain")]


def test_a_users_key_replaces_its_default_and_null_switches_a_rule_off(tmp_path: Path) -> None:
    path = tmp_path / "refresh.yaml"
    path.write_text("champion_age: {max_days: 30, action: alert}\nno_champion: null\ndrift: []\n", encoding="utf-8")
    rules = read_refresh_rules(path)
    assert rules.champion_age is not None and (rules.champion_age.max_days, rules.champion_age.action) == (30, "alert")
    assert rules.no_champion is None and rules.drift == []
    assert rules.backtest_below_training == read_refresh_rules().backtest_below_training


@pytest.mark.parametrize(("text", "message"), [
    ("champion_age: {max_days: 0, action: retrain}\n", "champion_age.max_days: Input should be greater than or equal to 1"),
    ("backtest_below_baseline: {margin: -0.1, action: retrain}\n", "backtest_below_baseline.margin: Input should be greater"),
    ("drift: [{kind: score, level: ok, count: 1, action: retrain}]\n", "drift.0.level: Input should be 'warn' or 'alert'"),
    ("no_champion: {action: panic}\n", "no_champion.action: Input should be 'retrain' or 'alert'"),
    ("max_age: 3\n", "max_age: Extra inputs are not permitted"),
    ("- 1\n", "expected a YAML mapping of rules"),
])
def test_a_bad_file_is_one_line_naming_the_field(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "refresh.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match="^refresh rules .*" + message.replace(".", r"\.").replace("[", r"\[")) as caught:
        read_refresh_rules(path)
    assert "\n" not in str(caught.value)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="refresh rules .*nope.yaml: file not found"):
        read_refresh_rules(tmp_path / "nope.yaml")
