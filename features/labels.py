"""Labels for a horizon after a cut-off: what members did in [as_of, as_of + horizon).

Every model's target comes from here, so each one reads only rows in its horizon window (and,
for spend-up, the equally long window just before the cut-off).
"""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
from ibis.backends import BaseBackend
from ibis.expr.types import Table

from features import contract
from features.engine import as_table, days_between, exact_sum, execute, timestamp_literal
from features.purchases import lines_in_window, members_before, purchases

LABEL_COLUMNS = ("churned", "orders_in_horizon", "days_to_next", "spend_in_horizon", "spend_before_horizon")


def build_labels(
    transactions: pd.DataFrame | Table, as_of: date, horizon_days: int, backend: BaseBackend | None = None
) -> pd.DataFrame:
    """Targets per member with a purchase before ``as_of``, one row each, sorted by id.

    - ``churned``: 1 when the member makes no purchase in [as_of, as_of + horizon_days);
    - ``orders_in_horizon``: purchases in that window;
    - ``days_to_next``: days from ``as_of`` to the first purchase in the window, NaN when there
      is none (right-censored at ``horizon_days``);
    - ``spend_in_horizon``: net spend of every line in the window (returns subtracted);
    - ``spend_before_horizon``: net spend in the window of the same length before ``as_of``.

    The window is only meaningful when the data covers it fully (the caller checks, see
    ``training.cutoffs``). ``transactions`` may be a table of ``backend`` (e.g.
    ``features.engine.read_parquet``); the labels are then computed by that engine.
    """
    frame = execute(labels_expression(as_table(transactions), as_of, horizon_days), backend)
    frame["orders_in_horizon"] = frame["orders_in_horizon"].fillna(0).astype("int64")
    frame["churned"] = (frame["orders_in_horizon"] == 0).astype("int64")
    for column in ("spend_in_horizon", "spend_before_horizon"):
        frame[column] = frame[column].fillna(0.0).astype("float64")
    frame["days_to_next"] = frame["days_to_next"].astype("float64")
    frame[contract.MEMBER_ID] = frame[contract.MEMBER_ID].astype("string")
    frame = frame.sort_values(contract.MEMBER_ID, kind="stable").reset_index(drop=True)
    return frame[[contract.MEMBER_ID, *LABEL_COLUMNS]]


def labels_expression(lines: Table, as_of: date, horizon_days: int) -> Table:
    """The Ibis expression behind ``build_labels``: engine-neutral, runs on DuckDB or Spark.

    Uses rows in [as_of - horizon_days, as_of + horizon_days) and, for membership, rows before
    ``as_of``. Counts and spend are NULL where a member has none in a window.
    """
    end = as_of + timedelta(days=horizon_days)
    after = purchases(lines_in_window(lines, as_of, end))
    members = members_before(lines, as_of)
    parts = [
        after.group_by(contract.MEMBER_ID).aggregate(
            orders_in_horizon=after.count(),
            days_to_next=days_between(after[contract.TS].min(), timestamp_literal(as_of)),
        ),
        _net_spend(lines_in_window(lines, as_of, end), "spend_in_horizon"),
        _net_spend(lines_in_window(lines, as_of - timedelta(days=horizon_days), as_of), "spend_before_horizon"),
    ]
    for part in parts:
        members = members.left_join(part, contract.MEMBER_ID).drop(f"{contract.MEMBER_ID}_right")
    return members


def _net_spend(window: Table, name: str) -> Table:
    return window.group_by(contract.MEMBER_ID).aggregate(**{name: exact_sum(window[contract.AMOUNT])})


def category_history(transactions: pd.DataFrame, as_of: date, horizon_days: int) -> pd.DataFrame:
    """Long frame of (member, category) before and in the horizon, for cross-sell targets.

    Columns ``member_id, category, spend_before`` (gross spend in the category before
    ``as_of``, 0 when none) and ``bought_in_horizon``. Members are those with a purchase
    before ``as_of``; a pair appears when the member bought in the category before or in the
    window. Requires a ``category`` column.
    """
    if contract.CATEGORY not in transactions.columns:
        raise ValueError("category_history needs a 'category' column in the transactions")
    lines = as_table(transactions)
    bought = lines.filter((lines[contract.AMOUNT] > 0) & lines[contract.CATEGORY].notnull())
    members = members_before(lines, as_of)
    keys = [contract.MEMBER_ID, contract.CATEGORY]
    history = lines_in_window(bought, None, as_of)
    spend = history.group_by(keys).aggregate(spend_before=exact_sum(history[contract.AMOUNT]))
    window = lines_in_window(bought, as_of, as_of + timedelta(days=horizon_days))
    later = execute(window.select(*keys).distinct().semi_join(members, contract.MEMBER_ID))
    frame = execute(spend.semi_join(members, contract.MEMBER_ID)).merge(
        later.assign(bought_in_horizon=True), on=keys, how="outer")
    frame["spend_before"] = frame["spend_before"].fillna(0.0).astype("float64")
    frame["bought_in_horizon"] = frame["bought_in_horizon"].fillna(False).astype(bool)
    frame[contract.MEMBER_ID] = frame[contract.MEMBER_ID].astype("string")
    frame[contract.CATEGORY] = frame[contract.CATEGORY].astype("string")
    return frame.sort_values(keys, kind="stable").reset_index(drop=True)
