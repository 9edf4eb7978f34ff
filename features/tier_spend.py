"""What counts towards a card: each member's qualifying spend per day, and the programme's periods.

Lines excluded by the programme (bulk buys, chosen categories) are dropped before summing; returns
(negative amounts) count against the day they are recorded on, as a till would net them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np
import pandas as pd

from features import contract
from features.tier_programme import Period, TierProgramme

DAY = "day"
SPEND = "spend"


@dataclass(frozen=True)
class QualifyingDays:
    """Net qualifying spend per member and day (``member_id``, ``day``, ``spend``), sorted by member and day.

    ``first_day`` holds every member's first day with any line (excluded lines too: a member who
    only bought excluded goods is still a member, on the entry card). ``excluded`` counts the lines
    each exclusion removed; ``not_applied`` names exclusions the data cannot support (no column).
    """

    days: pd.DataFrame
    first_day: pd.Series
    excluded: dict[str, int] = field(default_factory=dict)
    not_applied: tuple[str, ...] = ()


def qualifying_days(transactions: pd.DataFrame, programme: TierProgramme) -> QualifyingDays:
    """Daily qualifying spend from clean transactions (``features.load``); all rows, no cut-off here."""
    lines = transactions[[c for c in transactions.columns if c in _USED]].copy()
    lines[contract.MEMBER_ID] = lines[contract.MEMBER_ID].astype(str)
    lines[DAY] = lines[contract.TS].dt.normalize()
    first_day = lines.groupby(contract.MEMBER_ID, sort=True)[DAY].min()
    keep, excluded, not_applied = _exclusion_mask(lines, programme)
    kept = lines[keep]
    days = (kept.groupby([contract.MEMBER_ID, DAY], sort=True)[contract.AMOUNT].sum()
            .rename(SPEND).reset_index())
    return QualifyingDays(days, first_day, excluded, not_applied)


_USED = (contract.MEMBER_ID, contract.TS, contract.AMOUNT, contract.ORDER_ID, contract.PRODUCT_ID,
         contract.QUANTITY, contract.CATEGORY)


def _exclusion_mask(lines: pd.DataFrame, programme: TierProgramme) -> tuple[np.ndarray, dict[str, int], tuple[str, ...]]:
    """Lines that count, lines removed per exclusion, and exclusions the data has no column for."""
    rules, keep = programme.exclusions, np.ones(len(lines), dtype=bool)
    excluded: dict[str, int] = {}
    not_applied: list[str] = []
    if rules.bulk_quantity is not None:
        if contract.QUANTITY in lines.columns:
            bulk = _bulk(lines, rules.bulk_quantity)
            excluded["bulk_quantity"] = int((bulk & keep).sum())
            keep &= ~bulk
        else:
            not_applied.append("bulk_quantity")
    if rules.categories:
        if contract.CATEGORY in lines.columns:
            chosen = lines[contract.CATEGORY].isin(rules.categories).to_numpy(dtype=bool)
            excluded["categories"] = int((chosen & keep).sum())
            keep &= ~chosen
        else:
            not_applied.append("categories")
    return keep, excluded, tuple(not_applied)


def _bulk(lines: pd.DataFrame, at_least: int) -> np.ndarray:
    """Lines of a product bought ``at_least`` times or more in one basket (order, else day), net of returns.

    Without a product id each line is its own product: its quantity alone decides.
    """
    quantity = lines[contract.QUANTITY].astype("float64").fillna(0.0)
    if contract.PRODUCT_ID not in lines.columns:
        return (quantity >= at_least).to_numpy(dtype=bool)
    basket = contract.ORDER_ID if contract.ORDER_ID in lines.columns else DAY
    keys = [lines[contract.MEMBER_ID], lines[basket].astype(str), lines[contract.PRODUCT_ID].astype(str)]
    total = quantity.groupby(keys, sort=False).transform("sum")
    return (total >= at_least).to_numpy(dtype=bool)


def period_index(days: pd.Series | pd.DatetimeIndex, period: Period) -> np.ndarray:
    """The period each day falls in (an integer; consecutive periods differ by one)."""
    stamps = pd.DatetimeIndex(days)
    months = stamps.year.to_numpy() * 12 + stamps.month.to_numpy() - 1
    return np.floor_divide(months - (period.first_month - 1), period.months)


def period_start(k: int, period: Period) -> date:
    """The first day of period ``k``."""
    month = int(k) * period.months + period.first_month - 1
    return date(month // 12, month % 12 + 1, 1)


def period_of(day: date, period: Period) -> int:
    """The period of one date."""
    return int(period_index(pd.DatetimeIndex([pd.Timestamp(day)]), period)[0])
