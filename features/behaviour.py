"""Recency, frequency, spend, intervals and trailing activity per member, as of a cut-off.

Every expression here takes lines already cut at ``as_of`` (``ts < as_of``) and measures time back
from ``as_of``; nothing reads a row at or after it.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Final

import ibis
from ibis.expr.types import Table

from features import contract
from features.engine import (
    SECONDS_PER_DAY,
    days_between,
    exact_mean,
    exact_sample_std,
    exact_sum,
    seconds_between,
    timestamp_literal,
)
from features.purchases import orders

TRAILING_WINDOWS_DAYS: Final = (30, 90, 180, 365)
TREND_WINDOW_DAYS: Final = 90  # twice this must be one of the trailing windows


def purchase_history(lines: Table, as_of: date) -> Table:
    """Per member: recency, tenure, counts, order values and inter-purchase gaps.

    Members with no purchase before ``as_of`` (only returns, or nothing) do not appear.
    """
    all_orders = orders(lines)
    bought = all_orders.filter(all_orders.net > 0)
    # ties on ts are ordered by order key so the "last" gap is well defined (0 for same-time orders)
    by_member = ibis.window(group_by=bought[contract.MEMBER_ID], order_by=[bought.ts, bought._order])
    gaps = bought.mutate(
        gap=seconds_between(bought.ts, bought.ts.lag().over(by_member)),
        sequence=ibis.row_number().over(by_member),
    )
    cut = timestamp_literal(as_of)
    history = gaps.group_by(contract.MEMBER_ID).aggregate(
        recency_days=days_between(cut, gaps.ts.max()),
        tenure_days=days_between(cut, gaps.ts.min()),
        orders_total=gaps.count(),
        order_value_mean=exact_mean(gaps.net),
        order_value_max=gaps.net.max(),
        lines_per_order=exact_mean(gaps.lines),
        gap_mean_days=exact_mean(gaps.gap) / SECONDS_PER_DAY,
        gap_std_days=exact_sample_std(gaps.gap) / SECONDS_PER_DAY,
        gap_last_days=gaps.gap.argmax(gaps.sequence).cast("float64") / SECONDS_PER_DAY,
    )
    usual_gap = ibis.ifelse(history.gap_mean_days > 0, history.gap_mean_days, ibis.null("float64"))
    return history.mutate(gap_ratio=history.recency_days / usual_gap)


def spend_and_returns(lines: Table) -> Table:
    """Per member: net spend (returns subtracted) and the share of gross spend returned."""
    amount = lines[contract.AMOUNT]
    gross = exact_sum(ibis.ifelse(amount > 0, amount, 0.0))
    returned = exact_sum(ibis.ifelse(amount < 0, -amount, 0.0))
    return lines.group_by(contract.MEMBER_ID).aggregate(
        spend_total=exact_sum(amount),
        returns_share=ibis.ifelse(gross > 0, returned / gross, ibis.null("float64")),
    )


def trailing_activity(lines: Table, as_of: date) -> Table:
    """Per member: purchases and net spend in trailing windows, and their 90-day trend.

    Trend compares the last 90 days with the 90 days before them (difference, not ratio, so a
    member with nothing in the earlier window still gets a finite value).
    """
    all_orders = orders(lines)
    columns: dict[str, ibis.Value] = {}
    for days in TRAILING_WINDOWS_DAYS:
        inside = all_orders.ts >= timestamp_literal(as_of - timedelta(days=days))
        bought = inside & (all_orders.net > 0)
        columns[f"orders_{days}d"] = ibis.ifelse(bought, 1, 0).sum()
        columns[f"spend_{days}d"] = exact_sum(ibis.ifelse(inside, all_orders.net, 0.0))
    activity = all_orders.group_by(contract.MEMBER_ID).aggregate(**columns)
    recent, both = f"{TREND_WINDOW_DAYS}d", f"{2 * TREND_WINDOW_DAYS}d"
    return activity.mutate(
        orders_trend_90d=2 * activity[f"orders_{recent}"] - activity[f"orders_{both}"],
        spend_trend_90d=2 * activity[f"spend_{recent}"] - activity[f"spend_{both}"],
    )
