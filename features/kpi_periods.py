"""Reporting periods for membership KPIs and each member's history read into them, once.

A period is ``[start, end)``: a calendar month, or an ISO week starting on Monday (周一). Only
complete periods are reported: a period counts once the data reaches its last day, so a month
cut off mid-way by the end of the file is never shown as a collapse in activity.

``MemberHistory`` holds what the KPIs read, aggregated by DuckDB into one row per (member, order)
and per (member, period), with members coded 0..M-1 so every later step is a NumPy array of M.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal, get_args

import ibis
import numpy as np
import pandas as pd

from features import contract
from features.engine import AMOUNT_DECIMALS, as_table, execute
from features.purchases import order_key, orders

Freq = Literal["month", "week"]
FREQS: Final[tuple[Freq, ...]] = get_args(Freq)
NO_STORE: Final = "unknown"  # members whose first purchase line names no store
_MICROS: Final = 10**AMOUNT_DECIMALS  # amounts in whole millionths: sums exact in any order
_UNIT: Final = {"month": "M", "week": "W"}  # DuckDB's week starts on Monday, as ISO weeks do


def parse_freq(value: str) -> Freq:
    """``month`` or ``week``; anything else is a ValueError naming the option."""
    for freq in FREQS:
        if value == freq:
            return freq
    raise ValueError(f"freq: {value!r} is not supported; use one of {', '.join(FREQS)}")


def period_starts(first: pd.Timestamp, last: pd.Timestamp, freq: Freq) -> pd.DatetimeIndex:
    """Starts of every complete period from the one holding ``first``, plus the end of the last one.

    A period is complete when ``last`` (the newest row's time) falls on or after its last day.
    Returns n+1 boundaries for n periods (n may be 0).
    """
    step = pd.offsets.MonthBegin(1) if freq == "month" else pd.offsets.Week(weekday=0)
    begin = first.normalize() - pd.Timedelta(days=first.weekday()) if freq == "week" else first.normalize().replace(day=1)
    horizon = last.normalize() + pd.Timedelta(days=1)  # the data covers every day before this
    boundaries = pd.date_range(begin, horizon, freq=step)
    if len(boundaries) == 0 or boundaries[0] != begin:
        boundaries = pd.DatetimeIndex([begin, *boundaries])
    return boundaries[boundaries <= horizon]


@dataclass(frozen=True)
class MemberHistory:
    """Orders and per-period category counts of M members, coded 0..M-1 (``member_ids[code]``).

    Order arrays are sorted by period index ``order_period`` (period k holds ``bounds[k] <= ts <
    bounds[k + 1]``; K for rows after the last complete period, which no KPI reads).
    """

    bounds: pd.DatetimeIndex
    member_ids: pd.Index
    order_member: np.ndarray
    order_period: np.ndarray
    order_seconds: np.ndarray
    order_net: np.ndarray  # millionths of the currency unit, int64
    category_member: np.ndarray | None
    category_period: np.ndarray | None
    category_count: np.ndarray | None
    home_store: np.ndarray | None  # code into store_labels per member
    store_labels: tuple[str, ...] = ()

    @property
    def periods(self) -> int:
        return len(self.bounds) - 1

    @property
    def members(self) -> int:
        return len(self.member_ids)

    def boundary_seconds(self) -> np.ndarray:
        return _seconds(self.bounds.to_numpy())

    def orders_in(self, period: int) -> slice:
        """The slice of the order arrays that falls in ``period``."""
        lo, hi = np.searchsorted(self.order_period, [period, period + 1])
        return slice(int(lo), int(hi))


def read_history(transactions: pd.DataFrame, freq: Freq) -> MemberHistory:
    """Orders (``features.purchases.orders``), distinct categories bought per member and period, home stores.

    An order's time is its first line's; its net amount counts returns in it. Category counts use
    lines with a positive amount, like ``features.categories``.
    """
    if transactions.empty:
        raise ValueError("transactions: no rows, so no period to report")
    ts = transactions[contract.TS]
    bounds = period_starts(ts.min(), ts.max(), freq)
    lines = as_table(transactions)
    order_rows = execute(orders(_split_at_periods(lines, freq)).select(contract.MEMBER_ID, "ts", "net"))
    codes, member_ids = pd.factorize(order_rows[contract.MEMBER_ID].astype("string"), sort=True)
    seconds = _seconds(order_rows["ts"].to_numpy())
    period = np.searchsorted(_seconds(bounds.to_numpy()), seconds, side="right") - 1  # K: after the last period
    order = np.argsort(period, kind="stable")
    net = np.rint(order_rows["net"].to_numpy(dtype=float) * _MICROS).astype(np.int64)
    categories = _category_counts(lines, member_ids, bounds, freq) if contract.CATEGORY in transactions.columns else None
    stores = _home_stores(lines, member_ids) if contract.STORE in transactions.columns else None
    return MemberHistory(
        bounds, pd.Index(member_ids), codes[order].astype(np.int64), period[order].astype(np.int64), seconds[order],
        net[order], *(categories or (None, None, None)), *(stores or (None, ())),
    )


def _split_at_periods(lines: ibis.Table, freq: Freq) -> ibis.Table:
    """Lines whose order key also names their period, so an order straddling a period's end is two orders.

    A snapshot cuts lines at its ``as_of`` before grouping them into orders; this does the same at
    every period end, so a line added to an old order after a period never changes that period.
    """
    period = lines[contract.TS].truncate(_UNIT[freq]).cast("string")
    return lines.mutate(**{contract.ORDER_ID: order_key(lines).concat("@", period)})


def _seconds(values: np.ndarray) -> np.ndarray:
    """Whole seconds since the epoch, floored (as ``features.engine.seconds_between``)."""
    return values.astype("datetime64[s]").astype(np.int64)


def _category_counts(lines: ibis.Table, member_ids: pd.Index, bounds: pd.DatetimeIndex,
                     freq: Freq) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(member code, period index, distinct categories) for every member-period with a positive line."""
    bought = lines.filter((lines[contract.AMOUNT] > 0) & lines[contract.CATEGORY].notnull())
    start = bought[contract.TS].truncate(_UNIT[freq])
    counted = execute(bought.mutate(_start=start).group_by([contract.MEMBER_ID, "_start"]).aggregate(
        categories=bought[contract.CATEGORY].nunique()))
    period = np.searchsorted(_seconds(bounds.to_numpy()), _seconds(counted["_start"].to_numpy()))
    member = member_ids.get_indexer(pd.Index(counted[contract.MEMBER_ID].astype("string")))
    return member.astype(np.int64), period.astype(np.int64), counted["categories"].to_numpy(np.int64)


def _home_stores(lines: ibis.Table, member_ids: pd.Index) -> tuple[np.ndarray, tuple[str, ...]]:
    """Each member's home store as codes into sorted store names (``home_stores``)."""
    codes, labels = pd.factorize(home_stores(lines, member_ids).to_numpy(), sort=True)
    return codes.astype(np.int64), tuple(str(label) for label in labels)


def home_stores(lines: ibis.Table, member_ids: pd.Index) -> pd.Series:
    """Each member's home store (归属门店): the store of their first positive line (ties: the first store name).

    Fixed by the member's first purchase, so it never changes once a period has used it; the KPIs
    split by it and a store-scoped API key sees the members of its stores by it.
    """
    bought = lines.filter(lines[contract.AMOUNT] > 0)
    first = bought.group_by(contract.MEMBER_ID).aggregate(_first=bought[contract.TS].min())
    joined = bought.inner_join(first, [contract.MEMBER_ID, bought[contract.TS] == first._first])
    home = execute(joined.group_by(contract.MEMBER_ID).aggregate(home=joined[contract.STORE].min()))
    store = pd.Series(NO_STORE, index=member_ids, dtype=object)
    found = home.set_index(home[contract.MEMBER_ID].astype("string"))["home"].dropna().astype(str)
    store.loc[found.index.intersection(member_ids)] = found
    return store
