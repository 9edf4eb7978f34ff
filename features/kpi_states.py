"""Every member's state at each period end, stepped forward one period at a time.

At the end of period k the loop knows, per member, only orders before that end: the running
purchase count, first and last purchase time, and the net spend in the tier rules' qualifying
window (kept exact in millionths: each order adds its amount in the period it falls in and takes
it back in the first period whose end is past its window). From these it rebuilds the inputs of the
existing playbook rules, which it then applies unchanged: ``LifecycleStager`` (fitted on the
members at that end, as a snapshot would be) and ``TierAssigner`` with last period's tiers for the
downgrade grace. So each period's stages and tiers are what a snapshot as of its end would say.

The rebuilt inputs follow ``features.behaviour.purchase_history``: a purchase is an order with a
positive net amount; recency and tenure are whole seconds back from the end, in days; the mean gap
between n purchases telescopes to (last - first) / (n - 1).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

import numpy as np
import pandas as pd

from features import contract
from features.kpi_periods import MemberHistory
from features.segment_rules import SegmentRules
from features.segments import LifecycleStager, TierAssigner

NONE: Final = -1  # no stage or tier: the member had not bought yet
_WINDOW = re.compile(r"spend_(\d+)d")
_SECONDS_PER_DAY: Final = 86_400.0


@dataclass(frozen=True)
class PeriodState:
    """Per member (arrays of M) in period k: what happened in it and the state at both its ends."""

    period: int
    existed_before: np.ndarray  # a purchase before the period's start
    bought_before: np.ndarray  # a purchase in the previous period
    bought: np.ndarray
    purchases: np.ndarray
    spend: np.ndarray  # net, all orders in the period, in millionths
    categories: np.ndarray  # distinct categories with a positive line in the period (0 without the column)
    stage_before: np.ndarray  # code into ``stage_labels``, NONE before the first purchase
    stage_after: np.ndarray
    tier_before: np.ndarray  # rank on the ladder, NONE before the first purchase
    tier_after: np.ndarray


def qualifying_window_days(column: str) -> float:
    """Days of the tier rules' qualifying spend window: ``spend_<N>d`` is N, ``spend_total`` unbounded."""
    if column == "spend_total":
        return float("inf")
    match = _WINDOW.fullmatch(column)
    if match is None:
        raise ValueError(f"tiers.qualifying_column {column!r}: KPIs follow tiers on spend_total or spend_<N>d only")
    return float(match.group(1))


def period_states(history: MemberHistory, rules: SegmentRules) -> Iterator[PeriodState]:
    """Yield the state of period 0, 1, ... K-1, in order; period k reads orders before its end only."""
    m, ends = history.members, history.boundary_seconds()[1:]
    count, first, last = np.zeros(m, np.int64), np.full(m, np.iinfo(np.int64).max), np.full(m, NONE, np.int64)
    window, expiry = np.zeros(m, np.int64), _expiries(history, rules)
    bought_before, stage, tier = np.zeros(m, bool), np.full(m, NONE, np.int8), np.full(m, NONE, np.int8)
    for k in range(history.periods):
        inside = history.orders_in(k)
        who, when, net = history.order_member[inside], history.order_seconds[inside], history.order_net[inside]
        existed = count > 0
        spend = np.bincount(who, weights=net.astype(float), minlength=m).astype(np.int64)  # exact below 2**53
        bought_now = net > 0
        purchases = np.bincount(who[bought_now], minlength=m)
        count += purchases
        np.minimum.at(first, who[bought_now], when[bought_now])
        np.maximum.at(last, who[bought_now], when[bought_now])
        np.add.at(window, who, net)
        expired = expiry[k]
        np.subtract.at(window, expired[0], expired[1])
        new_stage, new_tier = _stages_and_tiers(count, first, last, window, tier, int(ends[k]), rules)
        yield PeriodState(k, existed, bought_before, purchases > 0, purchases, spend, _categories(history, k),
                          stage, new_stage, tier, new_tier)
        bought_before, stage, tier = purchases > 0, new_stage, new_tier


def _expiries(history: MemberHistory, rules: SegmentRules) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per period: (members, amounts) of orders whose qualifying window closed before its end.

    An order at t counts towards ends E with E - N days <= t < E, so it leaves at the first period
    whose end is after t + N days.
    """
    days = qualifying_window_days(rules.tiers.qualifying_column)
    periods = history.periods
    if not np.isfinite(days):
        return [(np.empty(0, np.int64), np.empty(0, np.int64))] * periods
    leaves = np.searchsorted(history.boundary_seconds()[1:], history.order_seconds + int(days * _SECONDS_PER_DAY),
                             side="right")
    leaves = np.where(history.order_period < periods, leaves, periods)  # never added: never taken back
    order = np.argsort(leaves, kind="stable")
    cuts = np.searchsorted(leaves[order], np.arange(periods + 1))
    members, amounts = history.order_member[order], history.order_net[order]
    return [(members[cuts[k]:cuts[k + 1]], amounts[cuts[k]:cuts[k + 1]]) for k in range(periods)]


def _categories(history: MemberHistory, period: int) -> np.ndarray:
    if history.category_period is None or history.category_member is None or history.category_count is None:
        return np.zeros(history.members, np.int64)
    inside = history.category_period == period
    return np.bincount(history.category_member[inside], weights=history.category_count[inside],
                       minlength=history.members).astype(np.int64)


def _stages_and_tiers(count: np.ndarray, first: np.ndarray, last: np.ndarray, window: np.ndarray,
                      tier_before: np.ndarray, end: int, rules: SegmentRules) -> tuple[np.ndarray, np.ndarray]:
    """Lifecycle stage and tier rank of every member at ``end`` (NONE for members yet to buy)."""
    stage, tier = np.full(len(count), NONE, np.int8), np.full(len(count), NONE, np.int8)
    members = np.flatnonzero(count > 0)
    if members.size == 0:
        return stage, tier
    frame = snapshot_inputs(members, count, first, last, window, end, rules.tiers.qualifying_column)
    stager = LifecycleStager(rules.lifecycle).fit(frame)
    stage[members] = stager.transform(frame).cat.codes.to_numpy()
    # Every member in the frame's order (NONE: no tier yet, a missing value): codes are the ranks,
    # read back without hashing, and an index equal to the frame's ids needs no reindexing.
    ladder = pd.CategoricalDtype(list(rules.tiers.labels), ordered=True)
    previous = pd.Series(pd.Categorical.from_codes(tier_before[members], dtype=ladder), index=members)
    tier[members] = TierAssigner(rules.tiers).fit(frame).transform(frame, previous).cat.codes.to_numpy()
    return stage, tier


def snapshot_inputs(members: np.ndarray, count: np.ndarray, first: np.ndarray, last: np.ndarray,
                    window: np.ndarray, end: int, qualifying: str) -> pd.DataFrame:
    """The snapshot columns the lifecycle and tier rules read, for ``members`` (codes) as of ``end`` (seconds)."""
    n = count[members].astype(float)
    recency = (end - last[members]) / _SECONDS_PER_DAY
    with np.errstate(divide="ignore", invalid="ignore"):
        gap = np.where(n > 1, (last[members] - first[members]) / _SECONDS_PER_DAY / (n - 1), np.nan)
        ratio = np.where(gap > 0, recency / gap, np.nan)
    return pd.DataFrame({
        contract.MEMBER_ID: members, "recency_days": recency, "tenure_days": (end - first[members]) / _SECONDS_PER_DAY,
        "orders_total": n, "gap_mean_days": gap, "gap_ratio": ratio, qualifying: window[members] / 1e6,
    })
