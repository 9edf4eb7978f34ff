"""What ``memberscore refresh`` hands to its rules about each task's champion (cli.refresh_champions).

The registry is planted (catalog functions replaced): a champion is described with its training
metrics under the backtests' names; a task never tried goes to the ``no_champion`` rule; a task
tried lately (a version that lost its gate, or a retrain that had to skip it) rests until its last
attempt is older than the age rule's ``max_days``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from cli.refresh_champions import backtest_named, champion_facts
from features.i18n import translator
from features.refresh_decision import Champion
from features.refresh_log import RefreshRun
from features.refresh_rules import read_refresh_rules
from models import catalog

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)
TASKS = ("churn", "next_purchase", "upsell", "value", "value_12m")


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """churn: champion v3 trained 10 days ago; next_purchase: v2 lost its gate 20 days ago;
    value: v1 lost its gate 120 days ago; upsell and value_12m: never registered."""
    targets = {"churn": catalog.AliasTarget("3", "run-3")}
    newest = {"churn": NOW - timedelta(days=10), "next_purchase": NOW - timedelta(days=20),
              "value": NOW - timedelta(days=120)}
    monkeypatch.setattr(catalog, "alias_target", lambda task, alias, *, project: targets.get(task))
    monkeypatch.setattr(catalog, "version_created_at", lambda task, version, *, project: newest[task])
    monkeypatch.setattr(catalog, "newest_version_created_at", lambda task, *, project: newest.get(task))
    monkeypatch.setattr(catalog, "run_metrics", lambda run_id: {"oot_model_roc_auc": 0.8, "oot_bgnbd_roc_auc": 0.7,
                                                                 "train_roc_auc": 0.95, "oot_model_ece": 0.02})


def test_champions_never_tried_tasks_and_resting_ones(registry: None) -> None:
    skipped_upsell = RefreshRun(NOW - timedelta(days=3), "retrained", retrained=("churn",), skipped={"upsell": "no categories"})
    facts = champion_facts("shop", NOW, read_refresh_rules(), [skipped_upsell], TASKS)
    assert facts.champions == {"churn": Champion("3", NOW - timedelta(days=10), {"roc_auc": 0.8, "ece": 0.02}),
                               "value": None, "value_12m": None}
    assert facts.resting == {"next_purchase": (NOW - timedelta(days=20), "a model was trained and did not become champion"),
                             "upsell": (NOW - timedelta(days=3), "skipped: no categories")}
    assert facts.lines(translator("en"), read_refresh_rules()) == [
        "next_purchase: no champion (a baseline serves); last tried 2026-11-16 (a model was trained and did not "
        "become champion); tried again after 2027-02-14",
        "upsell: no champion (a baseline serves); last tried 2026-12-03 (skipped: no categories); tried again after 2027-03-03"]


def test_a_rest_lasts_the_age_rules_max_days(registry: None) -> None:
    rules = read_refresh_rules().model_copy(update={"champion_age": read_refresh_rules().champion_age.model_copy(
        update={"max_days": 15})})
    facts = champion_facts("shop", NOW, rules, [], ("next_purchase",))
    assert facts.champions == {"next_purchase": None} and facts.resting == {}


def test_only_the_models_own_out_of_time_metrics_are_compared() -> None:
    assert backtest_named({"oot_model_concordance": 0.7, "oot_bgnbd_concordance": 0.72, "train_concordance": 0.9}) == \
        {"concordance": 0.7}
