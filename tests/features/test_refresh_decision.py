"""features.refresh_decision.decide: every rule of refresh_rules.yaml by a table of cases, boundaries included."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from features.drift import ColumnDrift, DriftReport
from features.i18n import translator
from features.refresh_decision import Champion, DriftLevels, decide, drift_levels
from features.refresh_rules import RefreshRules, read_refresh_rules

NOW = datetime(2026, 12, 6, 5, 0, tzinfo=UTC)
RULES = read_refresh_rules()  # the packaged defaults: age 90 days, baseline margin 0, training margin 0.05


def champion(days_old: float = 10, version: str = "3", **metrics: float) -> Champion:
    return Champion(version, NOW - timedelta(days=days_old), metrics)


def backtest(served: float, baselines: dict[str, float | None], as_of: str = "2026-08-01", version: str = "3",
             direction: str = "higher", served_by: str = "model v3", metric: str = "roc_auc") -> dict[str, Any]:
    return {"as_of": as_of, "horizon_days": 90, "evaluated_on": "2026-11-01", "members": 100,
            "model_versions": {"churn": version}, "mlflow_run_id": "r",
            "metrics": [{"task": "churn", "metric": metric, "direction": direction, "served": served,
                         "served_by": served_by, "baselines": baselines}]}


def rules(**changes: Any) -> RefreshRules:
    return RefreshRules.model_validate({**RULES.model_dump(), **changes})


def fired(decision: Any) -> list[tuple[str, str, str]]:
    return [(r.rule, r.action, r.task) for r in decision.reasons]


@pytest.mark.parametrize(("days_old", "expected"), [
    (89, []),
    (90, []),  # exactly the limit is not "more than"
    (90 + 1 / 86400, [("champion_age", "retrain", "churn")]),  # one second more
    (400, [("champion_age", "retrain", "churn")]),
])
def test_champion_age(days_old: float, expected: list[tuple[str, str, str]]) -> None:
    decision = decide(NOW, {"churn": champion(days_old)}, [], {}, RULES)
    assert fired(decision) == expected
    assert decision.retrain == bool(expected) and decision.tasks == (("churn",) if expected else ())
    assert not decision.alert


def test_age_reason_names_the_numbers() -> None:
    reason = decide(NOW, {"churn": champion(120.5)}, [], {}, RULES).reasons[0]
    assert reason.values == {"version": "3", "days": 120, "max_days": 90}


@pytest.mark.parametrize(("served", "baselines", "direction", "expected"), [
    (0.80, {"recency": 0.78, "bgnbd_p_alive": 0.80}, "higher", []),  # level with the best baseline: margin 0
    (0.799, {"recency": 0.78, "bgnbd_p_alive": 0.80}, "higher", [("bgnbd_p_alive", 0.8, 0.001)]),
    (0.70, {"recency": 0.75, "bgnbd_p_alive": None}, "higher", [("recency", 0.75, 0.05)]),  # a missing baseline is skipped
    (0.90, {"recency": 0.78}, "higher", []),
    (0.05, {"recency": 0.04, "flat": 0.09}, "lower", [("recency", 0.04, 0.01)]),  # calibration error: lower is better
    (0.04, {"recency": 0.04}, "lower", []),
    (0.50, {}, "higher", []),  # no baseline carried: nothing to compare
])
def test_backtest_below_the_best_baseline(served: float, baselines: dict[str, float | None], direction: str,
                                          expected: list[tuple[str, float, float]]) -> None:
    decision = decide(NOW, {"churn": champion()}, [backtest(served, baselines, direction=direction)], {}, RULES)
    assert [(r.values["baseline"], r.values["best"], pytest.approx(r.values["gap"])) for r in decision.reasons] == expected
    assert decision.tasks == (("churn",) if expected else ())


@pytest.mark.parametrize(("margin", "served", "fires"), [
    (0.02, 0.78, False),  # 0.80 - 0.78 is 0.020000000000000018 in floats: exactly the margin, not more
    (0.02, 0.7799, True),
    (0.0, 0.80, False),
])
def test_baseline_margin_boundary(margin: float, served: float, fires: bool) -> None:
    decision = decide(NOW, {"churn": champion()}, [backtest(served, {"recency": 0.80})],
                      {}, rules(backtest_below_baseline={"margin": margin, "action": "retrain"}))
    assert decision.retrain is fires


@pytest.mark.parametrize(("trained", "served", "direction", "fires"), [
    (0.80, 0.75, "higher", False),  # dropped by exactly the 0.05 margin (0.05000000000000004 in floats)
    (0.80, 0.7499, "higher", True),
    (0.80, 0.85, "higher", False),  # better than at training
    (0.02, 0.07, "lower", False),
    (0.02, 0.0701, "lower", True),
])
def test_backtest_below_the_metric_at_training(trained: float, served: float, direction: str, fires: bool) -> None:
    no_baseline = rules(backtest_below_baseline=None)
    decision = decide(NOW, {"churn": champion(roc_auc=trained)}, [backtest(served, {}, direction=direction)], {}, no_baseline)
    assert fired(decision) == ([("backtest_below_training", "retrain", "churn")] if fires else [])
    if fires:
        assert decision.reasons[0].values["trained"] == trained and decision.reasons[0].values["served"] == served


def test_only_the_newest_backtest_of_the_serving_version_counts() -> None:
    """v2's bad backtest is history once v3 serves; of v3's, only the newest (a good one) counts."""
    backtests = [backtest(0.60, {"recency": 0.78}, as_of="2026-05-01", version="2"),
                 backtest(0.60, {"recency": 0.78}, as_of="2026-06-01", version="3"),
                 backtest(0.85, {"recency": 0.78}, as_of="2026-07-01", version="3"),
                 backtest(0.60, {"recency": 0.78}, as_of="2026-08-01", version="2")]
    assert decide(NOW, {"churn": champion()}, backtests, {}, RULES).reasons == ()
    worse = [*backtests, backtest(0.70, {"recency": 0.78}, as_of="2026-07-15", version="3")]
    assert [r.values["as_of"] for r in decide(NOW, {"churn": champion()}, worse, {}, RULES).reasons] == ["2026-07-15"]


def test_a_metric_served_by_a_baseline_is_not_a_models_decay() -> None:
    served_by_rule = backtest(0.60, {"recency": 0.78}, served_by="baseline recency")
    assert decide(NOW, {"churn": champion(roc_auc=0.9)}, [served_by_rule], {}, RULES).reasons == ()


def test_no_champion_retrains_and_judges_nothing_else() -> None:
    decision = decide(NOW, {"churn": None, "value": champion()}, [backtest(0.1, {"recency": 0.8})], {}, RULES)
    assert fired(decision) == [("no_champion", "retrain", "churn")] and decision.tasks == ("churn",)
    assert decide(NOW, {"churn": None}, [], {}, rules(no_champion=None)).reasons == ()


DRIFT_CASES = [  # scores, features -> fired (action, kind, count) with the default rules
    ({"churn_probability": "ok"}, {"a": "alert", "b": "alert"}, []),
    ({"churn_probability": "warn"}, {}, [("alert", "score", 1)]),
    ({"churn_probability": "alert"}, {}, [("retrain", "score", 1), ("alert", "score", 1)]),
    ({}, {"a": "alert", "b": "alert", "c": "alert"}, [("retrain", "feature", 3)]),  # K = 3 exactly
    ({}, {"a": "alert", "b": "alert", "c": "warn", "d": "warn"}, []),  # 2 at alert, 4 at warn or worse
    ({}, {"a": "alert", "b": "alert", "c": "warn", "d": "warn", "e": "warn"}, [("alert", "feature", 5)]),
    ({}, {}, []),
]


@pytest.mark.parametrize(("scores", "features", "expected"), DRIFT_CASES)
def test_drift_rules(scores: dict[str, Any], features: dict[str, Any], expected: list[tuple[str, str, int]]) -> None:
    decision = decide(NOW, {"churn": champion()}, [], {"churn": DriftLevels(scores, features)}, RULES)
    assert [(r.action, r.values["kind"], r.values["count"]) for r in decision.reasons] == expected
    assert decision.retrain == any(action == "retrain" for action, _, _ in expected)
    assert decision.alert == any(action == "alert" for action, _, _ in expected)


def test_drift_reason_lists_the_columns_sorted() -> None:
    levels = DriftLevels({}, {"spend_90d": "alert", "gap_ratio": "alert", "tenure_days": "alert", "x": "ok"})
    reason = decide(NOW, {}, [], {"upsell": levels}, RULES).reasons[0]
    assert reason.task == "upsell" and reason.values["columns"] == "gap_ratio, spend_90d, tenure_days"


def test_drift_levels_take_the_worse_of_psi_and_missing_share() -> None:
    def column(name: str, kind: Any, psi: Any, missing: Any) -> ColumnDrift:
        return ColumnDrift(column=name, kind=kind, psi=0.0, missing_reference=0.0, missing_current=0.0,
                           psi_level=psi, missing_level=missing)
    report = DriftReport(columns=(column("a", "feature", "ok", "alert"), column("b", "feature", "warn", "ok"),
                                  column("churn_probability", "score", "warn", "warn")),
                         unknown_share=None, unknown_level="ok")
    assert drift_levels(report) == DriftLevels({"churn_probability": "warn"}, {"a": "alert", "b": "warn"})


def test_tasks_to_retrain_are_listed_once_in_rule_order() -> None:
    decision = decide(NOW, {"churn": champion(100, roc_auc=0.9), "value": None},
                      [backtest(0.7, {"recency": 0.8})], {"churn": DriftLevels({"churn_probability": "alert"})}, RULES)
    assert decision.tasks == ("churn", "value")
    assert [r.rule for r in decision.reasons] == ["champion_age", "no_champion", "backtest_below_baseline",
                                                  "backtest_below_training", "drift", "drift"]


def test_an_alert_action_alerts_without_retraining() -> None:
    decision = decide(NOW, {"churn": champion(100)}, [], {}, rules(champion_age={"max_days": 90, "action": "alert"}))
    assert decision.alert and not decision.retrain


def test_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="now: a timezone-aware"):
        decide(NOW.replace(tzinfo=None), {}, [], {}, RULES)
    naive = Champion("3", datetime(2026, 1, 1))
    with pytest.raises(ValueError, match=r"champions\.churn\.trained_at"):
        decide(NOW, {"churn": naive}, [], {}, RULES)


def test_reasons_read_in_english_and_chinese() -> None:
    decision = decide(NOW, {"churn": champion(100, roc_auc=0.81)}, [backtest(0.7, {"recency": 0.75})],
                      {"churn": DriftLevels({}, {"a": "alert", "b": "alert", "c": "alert"})}, RULES)
    english, chinese = decision.lines(translator("en")), decision.lines(translator("zh-CN"))
    assert english == (
        "retrain: Churn: the champion (version 3) was trained 100 days ago, more than the 90 the rule allows (rule champion_age)",
        "retrain: Churn: the backtest of 2026-08-01 scored roc_auc 0.700, worse than the baseline recency (0.750) by 0.050, "
        "more than the margin 0.000 (rule backtest_below_baseline)",
        "retrain: Churn: the backtest of 2026-08-01 scored roc_auc 0.700 against 0.810 at training, worse by 0.110, "
        "more than the margin 0.050 (rule backtest_below_training)",
        "retrain: Churn: 3 features at drift level alert or worse (a, b, c); the rule fires at 3 (rule drift)")
    assert chinese[0] == "重新训练：流失：冠军模型（版本 3）训练于 100 天前，超过规则允许的 90 天（规则 champion_age）"
    assert chinese[3] == "重新训练：流失：3 个特征的漂移达到告警或以上（a, b, c）；规则在 3 个时触发（规则 drift）"
