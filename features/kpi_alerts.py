"""KPI alerts: each period's KPIs against the previous period or the same period a year before.

A breach is a rule of ``features.kpi_rules`` whose KPI moved in its direction by more than its
threshold. The same period last year is 12 months or 52 weeks back (52 weeks keep the weekday).
Periods or groups with fewer than ``min_members`` members, either side, are not judged, and a
KPI missing on either side (NaN: nothing to divide by) never fires.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd

from features.kpi_periods import Freq
from features.kpi_rules import AlertRule, KpiRules
from features.kpis import BY_CHOICES

ALERT_COLUMNS: Final = ("period_start", "group", "kpi", "compare", "direction", "reference_start", "value",
                        "reference", "change", "unit", "threshold")
_ROUNDING: Final = 1e-9


def reference_start(starts: pd.Series, freq: Freq, compare: str) -> pd.Series:
    """The start of the period each period is compared with."""
    dates = pd.to_datetime(starts)
    if compare == "previous":
        back = pd.DateOffset(months=1) if freq == "month" else pd.DateOffset(weeks=1)
    else:
        back = pd.DateOffset(years=1) if freq == "month" else pd.DateOffset(weeks=52)
    return (dates - back).dt.date


def find_alerts(kpis: pd.DataFrame, freq: Freq, rules: KpiRules) -> pd.DataFrame:
    """Every breach in a KPI table (``features.kpis.kpi_table``, with or without ``by``), newest first.

    ``group`` holds the ``by`` value of the row (``all`` without one).
    """
    table = kpis.copy()
    group = next((c for c in BY_CHOICES if c in table.columns), None)
    table["group"] = table[group].astype(str) if group else "all"
    found = [_breaches(table, freq, rule, rules.min_members) for rule in rules.alerts if rule.kpi in table.columns]
    alerts = pd.concat([frame for frame in found if not frame.empty] or [_empty()], ignore_index=True)
    return alerts.sort_values(["period_start", "group", "kpi"], ascending=[False, True, True], kind="stable",
                              ignore_index=True)[list(ALERT_COLUMNS)]


def _breaches(table: pd.DataFrame, freq: Freq, rule: AlertRule, min_members: int) -> pd.DataFrame:
    """Rows of ``table`` where ``rule`` fires, with the value compared and by how much it moved."""
    now = table[["period_start", "group", rule.kpi, "members"]].assign(
        reference_start=reference_start(table["period_start"], freq, rule.compare))
    before = table[["period_start", "group", rule.kpi, "members"]].rename(
        columns={"period_start": "reference_start", rule.kpi: "reference", "members": "reference_members"})
    paired = now.merge(before, on=["reference_start", "group"], how="inner").rename(columns={rule.kpi: "value"})
    paired = paired[(paired["members"] >= min_members) & (paired["reference_members"] >= min_members)]
    value, reference = paired["value"].to_numpy(float), paired["reference"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        change = (value - reference) * 100 if rule.unit == "points" else (value - reference) / reference * 100
    change = np.where(np.isfinite(change), change, np.nan)
    moved = change if rule.direction == "up" else -change
    beyond = moved > rule.threshold + _ROUNDING  # 0.12 - 0.10 is 2.0000000000000004 points: not more than 2
    fired = paired[beyond].assign(change=change[beyond])
    return fired.assign(kpi=rule.kpi, compare=rule.compare, direction=rule.direction, unit=rule.unit,
                        threshold=rule.threshold)


def _empty() -> pd.DataFrame:
    return pd.DataFrame({column: pd.Series(dtype=float if column in ("value", "reference", "change", "threshold")
                                           else object) for column in ALERT_COLUMNS})
