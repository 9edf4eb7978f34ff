"""KPI alert rules (features.kpi_rules) and breaches (features.kpi_alerts) on a hand-written KPI table."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from features.kpi_alerts import find_alerts, reference_start
from features.kpi_rules import KpiRules, read_kpi_rules


def kpis(churn: list[float], members: list[int], starts: list[str], **columns: list[float]) -> pd.DataFrame:
    frame = pd.DataFrame({"period_start": [date.fromisoformat(s) for s in starts], "members": members,
                          "churn_rate": churn, **columns})
    return frame


def rules(alerts: list[dict[str, object]], min_members: int = 100) -> KpiRules:
    return KpiRules.model_validate({"min_members": min_members, "alerts": alerts})


MONTHS = ["2023-03-01", "2023-04-01", "2024-02-01", "2024-03-01", "2024-04-01"]


def test_churn_up_more_than_two_points_on_the_same_month_last_year_fires_and_two_points_exactly_does_not() -> None:
    table = kpis([0.10, 0.11, 0.11, 0.121, 0.13], [500] * 5, MONTHS)
    alerts = find_alerts(table, "month", rules([{"kpi": "churn_rate", "compare": "last_year", "direction": "up",
                                                 "points": 2}]))
    assert alerts["period_start"].tolist() == [date(2024, 3, 1)]  # +2.1 points; April's +2.0 is not more than 2
    row = alerts.iloc[0]
    assert row["reference_start"] == date(2023, 3, 1) and row["group"] == "all"
    assert row["change"] == pytest.approx(2.1) and row["unit"] == "points" and row["threshold"] == 2.0


def test_a_fall_on_the_previous_period_in_percent_and_too_few_members_is_not_judged() -> None:
    table = kpis([0.1] * 5, [500, 500, 500, 500, 99], MONTHS, active_members=[100.0, 100.0, 100.0, 80.0, 10.0])
    alerts = find_alerts(table, "month", rules([{"kpi": "active_members", "compare": "previous",
                                                 "direction": "down", "percent": 10}]))
    assert alerts["period_start"].tolist() == [date(2024, 3, 1)]  # -20%; April fell 87.5% on 99 members
    assert alerts.iloc[0]["change"] == pytest.approx(-20.0)


def test_groups_are_compared_with_themselves_and_missing_values_never_fire() -> None:
    table = pd.concat([kpis([0.1, 0.2], [500, 500], ["2024-01-01", "2024-02-01"]).assign(tier="silver"),
                       kpis([0.3, float("nan")], [500, 500], ["2024-01-01", "2024-02-01"]).assign(tier="gold")])
    alerts = find_alerts(table, "month", rules([{"kpi": "churn_rate", "compare": "previous", "direction": "up",
                                                 "points": 5}]))
    assert alerts[["group", "change"]].to_dict("records") == [{"group": "silver", "change": pytest.approx(10.0)}]


def test_last_year_is_twelve_months_or_fifty_two_weeks_back() -> None:
    starts = pd.Series([date(2024, 2, 29), date(2024, 3, 4)])
    assert reference_start(starts, "month", "last_year").tolist() == [date(2023, 2, 28), date(2023, 3, 4)]
    assert reference_start(starts, "week", "last_year").tolist() == [date(2023, 3, 2), date(2023, 3, 6)]  # Mondays


def test_the_packaged_rules_load_and_hold_the_issue_example() -> None:
    packaged = read_kpi_rules()
    assert any(r.kpi == "churn_rate" and r.compare == "last_year" and r.points == 2 for r in packaged.alerts)


@pytest.mark.parametrize(("text", "message"), [
    ("alerts: [{kpi: churn, compare: previous, direction: up, points: 1}]", "alerts.0: kpi 'churn' is not a KPI"),
    ("alerts: [{kpi: spend, compare: previous, direction: up, points: 1}]", "spend: points are for shares"),
    ("alerts: [{kpi: churn_rate, compare: previous, direction: up}]", "give exactly one of points or percent"),
    ("alerts: [{kpi: churn_rate, compare: yesterday, direction: up, points: 1}]", "alerts.0.compare"),
    ("min_members: -1", "min_members: Input should be greater than or equal to 0"),
    ("alert: []", "alert: Extra inputs are not permitted"),
    ("- 1", "expected a YAML mapping"),
])
def test_a_bad_rules_file_is_refused_naming_the_field(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=f"kpi rules {path}: .*{message}"):
        read_kpi_rules(path)
    assert read_kpi_rules(None).min_members == 100
