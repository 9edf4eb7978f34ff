"""Labels for a horizon after a cut-off: what members did in [as_of, as_of + horizon)."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd

from features import contract
from features.engine import as_table, execute
from features.purchases import lines_in_window, purchases


def build_labels(transactions: pd.DataFrame, as_of: date, horizon_days: int) -> pd.DataFrame:
    """Churn label per member with a purchase before ``as_of``.

    ``churned`` is 1 when the member makes no purchase in [as_of, as_of + horizon_days); the
    window is only meaningful when the data covers it fully (the caller checks, see
    ``training.cutoffs``). Returns columns member_id, churned, orders_in_horizon.
    """
    lines = as_table(transactions)
    before = purchases(lines_in_window(lines, None, as_of))
    after = purchases(lines_in_window(lines, as_of, as_of + timedelta(days=horizon_days)))
    members = before.select(contract.MEMBER_ID).distinct()
    counts = after.group_by(contract.MEMBER_ID).aggregate(orders_in_horizon=after.count())
    joined = members.left_join(counts, contract.MEMBER_ID).drop(f"{contract.MEMBER_ID}_right")
    frame = execute(joined)
    frame["orders_in_horizon"] = frame["orders_in_horizon"].fillna(0).astype("int64")
    frame["churned"] = (frame["orders_in_horizon"] == 0).astype("int64")
    frame[contract.MEMBER_ID] = frame[contract.MEMBER_ID].astype("string")
    frame = frame.sort_values(contract.MEMBER_ID, kind="stable").reset_index(drop=True)
    return frame[[contract.MEMBER_ID, "churned", "orders_in_horizon"]]
