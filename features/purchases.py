"""From order lines to purchases: net returns inside an order, then keep orders that bought something.

A purchase is an order (``order_id``) or, without order ids, a member-day, whose net amount is
positive. Lines are cut at ``as_of`` *before* grouping, so an order straddling the cut-off
contributes only its earlier lines.
"""

from __future__ import annotations

from datetime import date

import ibis
from ibis.expr.types import Table

from features import contract
from features.engine import exact_sum, timestamp_literal


def lines_in_window(lines: Table, start: date | None, end: date) -> Table:
    """Lines with ``start <= ts < end`` (no lower bound when ``start`` is None)."""
    kept = lines.filter(lines[contract.TS] < timestamp_literal(end))
    if start is not None:
        kept = kept.filter(kept[contract.TS] >= timestamp_literal(start))
    return kept


def order_key(lines: Table) -> ibis.Value:
    """The key that groups lines into one order: ``order_id`` where present, else the member-day."""
    day_key = lines[contract.TS].truncate("D").cast("string")
    if contract.ORDER_ID in lines.columns:
        return ibis.coalesce(lines[contract.ORDER_ID], day_key)
    return day_key


def orders(lines: Table) -> Table:
    """One row per (member, order): first line time, net amount, line count."""
    keyed = lines.mutate(_order=order_key(lines))
    return keyed.group_by([contract.MEMBER_ID, "_order"]).aggregate(
        ts=keyed[contract.TS].min(),
        # in fixed point, so that 0.10 + 0.20 - 0.10 - 0.20 is 0, not 2.8e-17, in any order
        net=exact_sum(keyed[contract.AMOUNT]),
        lines=keyed.count(),
    )


def purchases(lines: Table) -> Table:
    """Orders with a positive net amount: the purchase occasions every feature counts."""
    all_orders = orders(lines)
    return all_orders.filter(all_orders.net > 0)


def members_before(lines: Table, as_of: date) -> Table:
    """The ids of members with a purchase before ``as_of``: the members a snapshot as of ``as_of`` holds."""
    return purchases(lines_in_window(lines, None, as_of)).select(contract.MEMBER_ID).distinct()
