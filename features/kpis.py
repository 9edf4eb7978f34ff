"""Membership KPIs over time: per month or week, optionally per tier, home store or lifecycle stage.

What a membership operations manager watches month by month (the playbooks' 会员运营 KPIs):

====================  ==========================================================================
column                meaning (period P = [period_start, period_end); "buyer": a purchase in P)
====================  ==========================================================================
members               members with a purchase before the period's end
active_members        buyers (活跃会员)
new_members           buyers whose first purchase ever is in P (新会员)
spend                 net spend of all orders in P, returns subtracted (销售额)
purchases             orders in P with a positive net amount
average_order_value   spend / purchases (客单价)
purchase_frequency    purchases / active_members (购买频次)
repurchase_rate       share of the previous period's buyers who bought again in P (回购率)
repurchase_spend_share  share of spend in P from those repurchasing buyers (回购金额占比)
churn_rate            share of the members not lost at the start of P that are lost at its end,
                      by the lifecycle rule (``features.segments.LifecycleStager``) (流失率)
categories_per_member   mean distinct categories per buyer (全品类渗透)
multi_category_share  share of buyers who bought in 3 or more categories
tier_up_share         share of members who had bought before P whose tier is higher at its end
tier_down_share       ... lower at its end (tiers by ``features.segments.TierAssigner``, with grace)
====================  ==========================================================================

A rate with nothing to divide by is NaN (the first period has no previous buyers). The KPIs count
the whole membership, not a sample, so they carry no sampling interval. Each period reads only rows
before its end (``features.kpi_states``): rows added later never change a reported period.

``by`` splits members by what they were at the period's start: ``tier`` (members yet to buy count
in the base tier), ``lifecycle_stage`` (members yet to buy count as ``new``) or ``store``, the home
store of their first purchase. Category KPIs need a ``category`` column and are left out without one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Final, Literal, get_args

import numpy as np
import pandas as pd

from features import contract
from features.kpi_periods import FREQS, NO_STORE, Freq, MemberHistory, parse_freq, read_history
from features.kpi_states import NONE, PeriodState, period_states
from features.segment_rules import LIFECYCLE_STAGES, SegmentRules, read_segment_rules

__all__ = ["BY_CHOICES", "CATEGORY_KPIS", "FREQS", "KPI_COLUMNS", "By", "Freq", "kpi_table", "kpi_tables", "parse_by",
           "parse_freq"]

By = Literal["tier", "store", "lifecycle_stage"]
BY_CHOICES: Final[tuple[By, ...]] = get_args(By)
MULTI_CATEGORY_MIN: Final = 3
KPI_COLUMNS: Final = ("members", "active_members", "new_members", "spend", "purchases", "average_order_value",
                      "purchase_frequency", "repurchase_rate", "repurchase_spend_share", "churn_rate",
                      "categories_per_member", "multi_category_share", "tier_up_share", "tier_down_share")
CATEGORY_KPIS: Final = ("categories_per_member", "multi_category_share")
_LOST: Final = LIFECYCLE_STAGES.index("lost")
_MICROS: Final = 1e6


def parse_by(value: str | None, columns: Iterable[str]) -> By | None:
    """A valid ``by`` the data supports: ``store`` needs a store column. None passes through."""
    if value is None:
        return None
    chosen = next((by for by in BY_CHOICES if by == value), None)
    if chosen is None:
        raise ValueError(f"by: {value!r} is not supported; use one of {', '.join(BY_CHOICES)}")
    if chosen == "store" and contract.STORE not in set(columns):
        raise ValueError("by: 'store' needs a store column in the transactions, and they have none")
    return chosen


def kpi_table(transactions: pd.DataFrame, freq: Freq, by: By | None = None,
              rules: SegmentRules | None = None) -> pd.DataFrame:
    """One row per complete period (and group, with ``by``): the KPIs of the module docstring."""
    return kpi_tables(transactions, freq, (by,), rules)[by]


def kpi_tables(transactions: pd.DataFrame, freq: Freq, bys: Sequence[By | None] = (None,),
               rules: SegmentRules | None = None) -> dict[By | None, pd.DataFrame]:
    """The KPI table for each of ``bys`` from one pass over the periods (clean transactions, ``features.load``)."""
    for by in bys:
        parse_by(by, transactions.columns)
    rules = rules or read_segment_rules()
    history = read_history(transactions, freq)
    rows: dict[By | None, list[dict[str, Any]]] = {by: [] for by in bys}
    for state in period_states(history, rules):
        for by in bys:
            codes, labels = _groups(state, history, rules, by)
            rows[by].append(_period_rows(state, codes, labels, history))
    has_categories = contract.CATEGORY in transactions.columns
    return {by: _finished(parts, by, has_categories) for by, parts in rows.items()}


def _groups(state: PeriodState, history: MemberHistory, rules: SegmentRules,
            by: By | None) -> tuple[np.ndarray, tuple[str, ...]]:
    """Each member's group code at the period's start, and the groups' names."""
    if by is None:
        return np.zeros(history.members, np.int64), ("all",)
    if by == "tier":
        return np.where(state.tier_before == NONE, 0, state.tier_before).astype(np.int64), rules.tiers.labels
    if by == "lifecycle_stage":
        new = LIFECYCLE_STAGES.index("new")
        return np.where(state.stage_before == NONE, new, state.stage_before).astype(np.int64), LIFECYCLE_STAGES
    if history.home_store is None:
        raise ValueError("by: 'store' needs a store column in the transactions, and they have none")
    return history.home_store, history.store_labels or (NO_STORE,)


def _period_rows(state: PeriodState, codes: np.ndarray, labels: tuple[str, ...],
                 history: MemberHistory) -> dict[str, Any]:
    """The KPIs of one period for every group (columns of equal length), from counts summed per group code."""
    def total(values: np.ndarray) -> np.ndarray:
        return np.bincount(codes, weights=values.astype(float), minlength=len(labels))

    exists_after = state.existed_before | state.bought
    repurchased = state.bought & state.bought_before
    at_risk = state.existed_before & (state.stage_before != _LOST)
    active, spend, purchases = total(state.bought), total(state.spend) / _MICROS, total(state.purchases)
    spenders = state.bought * state.categories
    groups = len(labels)
    return {
        "period_start": [history.bounds[state.period].date()] * groups,
        "period_end": [history.bounds[state.period + 1].date()] * groups, "group": list(labels), "members": total(exists_after), "active_members": active,
        "new_members": total(state.bought & ~state.existed_before), "spend": spend, "purchases": purchases,
        "average_order_value": _ratio(spend, purchases), "purchase_frequency": _ratio(purchases, active),
        "repurchase_rate": _ratio(total(repurchased), total(state.bought_before)),
        "repurchase_spend_share": _ratio(total(np.where(repurchased, state.spend, 0)) / _MICROS, spend),
        "churn_rate": _ratio(total(at_risk & (state.stage_after == _LOST)), total(at_risk)),
        "categories_per_member": _ratio(total(spenders), active),
        "multi_category_share": _ratio(total(spenders >= MULTI_CATEGORY_MIN), active),
        "tier_up_share": _ratio(total(state.existed_before & (state.tier_after > state.tier_before)),
                                total(state.existed_before)),
        "tier_down_share": _ratio(total(state.existed_before & (state.tier_after < state.tier_before)),
                                  total(state.existed_before)),
    }


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, NaN where the denominator is not positive (nothing to divide by)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1), np.nan)


def _finished(parts: list[dict[str, Any]], by: By | None, has_categories: bool) -> pd.DataFrame:
    """Stacked periods with whole-number counts; category KPIs dropped when the data has no categories."""
    keys = ["period_start", "period_end"] + ([by] if by is not None else [])
    columns = [c for c in KPI_COLUMNS if has_categories or c not in CATEGORY_KPIS]
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype=object if c in keys else float) for c in [*keys, *columns]})
    table = pd.DataFrame({column: np.concatenate([part[column] for part in parts]) for column in parts[0]})
    table = table.rename(columns={"group": by} if by else {})
    for column in ("members", "active_members", "new_members", "purchases"):
        table[column] = table[column].round().astype(np.int64)
    return table[[*keys, *columns]]
