"""What each listed member bought in a campaign's window, and in the window of the same length before it.

The window is ``[start, start + D)``: contacts go out on ``start``, and a purchase on that day
counts. The pre-period ``[start - D, start)`` is the covariate that sharpens the estimate (CUPED):
it uses nothing at or after ``start``, so the treatment cannot have moved it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from features.contract import AMOUNT, MEMBER_ID, TS

OUTCOME_COLUMNS = ("pre_spend", "spend", "bought")


@dataclass(frozen=True)
class Window:
    """``[start, start + days)``, and the ``days`` before it."""

    start: date
    days: int

    def __post_init__(self) -> None:
        if self.days < 1:
            raise ValueError(f"window_days: expected at least 1 day, got {self.days}")

    @property
    def end(self) -> date:
        """The first day after the window."""
        return self.start + timedelta(days=self.days)

    @property
    def pre_start(self) -> date:
        return self.start - timedelta(days=self.days)

    def is_over(self, transactions: pd.DataFrame) -> bool:
        """The data reach the window's last day (a window still running would understate spend)."""
        if transactions.empty:
            return False
        return bool(transactions[TS].max() >= pd.Timestamp(self.end - timedelta(days=1)))

    def earlier(self) -> Window:
        """The same window one window earlier (a placebo start, when nothing was sent)."""
        return Window(self.pre_start, self.days)


def spend_between(transactions: pd.DataFrame, member_ids: pd.Series, first: date, end: date) -> np.ndarray:
    """Net spend of each of ``member_ids`` (in their order) on days ``[first, end)``; 0 without purchases.

    Returns (negative amounts) are netted, as a member's value is everywhere else in memberscore.
    """
    inside = transactions[(transactions[TS] >= pd.Timestamp(first)) & (transactions[TS] < pd.Timestamp(end))]
    by_member = inside.groupby(inside[MEMBER_ID].astype(str))[AMOUNT].sum()
    return by_member.reindex(member_ids.astype(str).to_numpy()).fillna(0.0).to_numpy(dtype="float64")


def buyers_between(transactions: pd.DataFrame, member_ids: pd.Series, first: date, end: date) -> np.ndarray:
    """Whether each of ``member_ids`` made any purchase (a positive amount) on days ``[first, end)``."""
    inside = transactions[(transactions[TS] >= pd.Timestamp(first)) & (transactions[TS] < pd.Timestamp(end))
                          & (transactions[AMOUNT] > 0)]
    return member_ids.astype(str).isin(set(inside[MEMBER_ID].astype(str))).to_numpy()


def member_outcomes(members: pd.DataFrame, transactions: pd.DataFrame, window: Window) -> pd.DataFrame:
    """``members`` with ``pre_spend`` (before ``start``), ``spend`` and ``bought`` (in the window)."""
    ids = members[MEMBER_ID]
    return members.assign(
        pre_spend=spend_between(transactions, ids, window.pre_start, window.start),
        spend=spend_between(transactions, ids, window.start, window.end),
        bought=buyers_between(transactions, ids, window.start, window.end),
    )
