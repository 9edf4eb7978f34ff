"""The point-in-time snapshot features three ways, on the same Parquet file of order lines.

- ``ibis``: the product code, ``features.snapshot.snapshot_expression`` executed by DuckDB over
  ``read_parquet`` (no pandas copy of the lines);
- ``sql``: the same features as one hand-written DuckDB SQL query: the yardstick of what DuckDB
  itself can do, which the Ibis expression should stay within 1.5x of;
- ``pandas``: the same features written as idiomatic pandas (read the file, groupby / shift), what
  a data scientist would write without a query engine.

All three return one row per member with a purchase before ``as_of`` and the catalogue's
non-lifetime features (``feature_names(True, lifetime=False)``: the BG/NBD features are a pandas
step after the query and are not part of this comparison). ``agreement`` checks that they compute
the same numbers before any of them is timed. Run one case in its own process (peak RSS is per
process):

    python -m bench.features_bench --impl sql --parquet var/bench/sim_1m.parquet --as-of 2024-12-31
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import duckdb
import ibis
import ibis.backends.duckdb
import numpy as np
import pandas as pd

from features.behaviour import TRAILING_WINDOWS_DAYS
from features.catalogue import feature_names
from features.engine import default_backend, execute
from features.snapshot import snapshot_expression

FEATURES = feature_names(True, lifetime=False)


def ibis_features(path: Path, as_of: date) -> pd.DataFrame:
    """The product's engine-neutral expression, run as the product runs it (``features.engine.execute``)."""
    con = default_backend()
    return _sorted(execute(snapshot_expression(con.read_parquet(str(path)), as_of), con))


def _window_columns(as_of: date) -> str:
    """orders_<d>d / spend_<d>d over all orders (a returned-only order counts its net, not a purchase)."""
    parts = []
    for days in TRAILING_WINDOWS_DAYS:
        since = f"TIMESTAMP '{as_of - timedelta(days=days)}'"
        parts.append(f"count(*) FILTER (WHERE ts >= {since} AND net > 0) AS orders_{days}d")
        parts.append(f"coalesce(sum(net) FILTER (WHERE ts >= {since}), 0) AS spend_{days}d")
    return ",\n           ".join(parts)


FEATURE_SQL = """
WITH lines AS (
    SELECT member_id, ts, amount, category,
           coalesce(order_id, CAST(date_trunc('day', ts) AS VARCHAR)) AS order_key
    FROM read_parquet('{path}') WHERE ts < TIMESTAMP '{as_of}'
), orders AS (
    SELECT member_id, order_key, min(ts) AS ts, round(sum(amount), 6) AS net, count(*) AS n_lines
    FROM lines GROUP BY member_id, order_key
), gaps AS (
    SELECT *, (epoch(ts) - epoch(lag(ts) OVER w)) / 86400.0 AS gap, row_number() OVER w AS seq
    FROM orders WHERE net > 0
    WINDOW w AS (PARTITION BY member_id ORDER BY ts, order_key)
), history AS (
    SELECT member_id,
           (epoch(TIMESTAMP '{as_of}') - epoch(max(ts))) / 86400.0 AS recency_days,
           (epoch(TIMESTAMP '{as_of}') - epoch(min(ts))) / 86400.0 AS tenure_days,
           count(*) AS orders_total, avg(net) AS order_value_mean, max(net) AS order_value_max,
           avg(n_lines) AS lines_per_order, avg(gap) AS gap_mean_days, stddev_samp(gap) AS gap_std_days,
           arg_max(gap, seq) AS gap_last_days
    FROM gaps GROUP BY member_id
), spend AS (
    SELECT member_id, sum(amount) AS spend_total,
           CASE WHEN sum(greatest(amount, 0)) > 0
                THEN sum(greatest(-amount, 0)) / sum(greatest(amount, 0)) END AS returns_share
    FROM lines GROUP BY member_id
), activity AS (
    SELECT member_id,
           {windows}
    FROM orders GROUP BY member_id
), category_spend AS (
    SELECT member_id, category, sum(amount) AS spend
    FROM lines WHERE amount > 0 AND category IS NOT NULL GROUP BY member_id, category
), shares AS (
    SELECT member_id, spend / sum(spend) OVER (PARTITION BY member_id) AS share FROM category_spend
), breadth AS (
    SELECT member_id, count(*) AS categories_distinct, -sum(share * ln(share)) AS category_entropy,
           max(share) AS top_category_share
    FROM shares GROUP BY member_id
)
SELECT h.member_id, h.recency_days, h.tenure_days, h.orders_total, s.spend_total, h.order_value_mean,
       h.order_value_max, h.lines_per_order, h.gap_mean_days, h.gap_std_days, h.gap_last_days,
       h.recency_days / CASE WHEN h.gap_mean_days > 0 THEN h.gap_mean_days END AS gap_ratio,
       a.orders_30d, a.orders_90d, a.orders_180d, a.orders_365d,
       a.spend_30d, a.spend_90d, a.spend_180d, a.spend_365d,
       2 * a.orders_90d - a.orders_180d AS orders_trend_90d, 2 * a.spend_90d - a.spend_180d AS spend_trend_90d,
       s.returns_share, b.categories_distinct, b.category_entropy, b.top_category_share
FROM history h
LEFT JOIN spend s USING (member_id) LEFT JOIN activity a USING (member_id) LEFT JOIN breadth b USING (member_id)
"""


def sql_features(path: Path, as_of: date) -> pd.DataFrame:
    """The features as one hand-written DuckDB query over the Parquet file."""
    query = FEATURE_SQL.format(path=str(path).replace("'", "''"), as_of=as_of, windows=_window_columns(as_of))
    return _sorted(duckdb.connect().execute(query).df())


def pandas_features(path: Path, as_of: date) -> pd.DataFrame:
    """The features in idiomatic pandas: read the lines, then groupby, shift and merge."""
    lines = pd.read_parquet(path)
    lines = lines[lines["ts"] < pd.Timestamp(as_of)]
    day = lines["ts"].dt.floor("D").astype(str)
    lines = lines.assign(order_key=lines["order_id"].fillna(day) if "order_id" in lines else day)
    orders = lines.groupby(["member_id", "order_key"], observed=True, sort=False).agg(
        ts=("ts", "min"), net=("amount", "sum"), n_lines=("amount", "size")).reset_index()
    orders["net"] = orders["net"].round(6)
    features = _pandas_history(orders[orders["net"] > 0], as_of)
    features = features.join(_pandas_spend(lines)).join(_pandas_activity(orders, as_of))
    features = features.join(_pandas_breadth(lines))
    return _sorted(features.reset_index())


def _pandas_history(bought: pd.DataFrame, as_of: date) -> pd.DataFrame:
    bought = bought.sort_values(["member_id", "ts", "order_key"])
    bought = bought.assign(gap=bought.groupby("member_id", observed=True)["ts"].diff().dt.total_seconds() / 86400.0)
    by_member = bought.groupby("member_id", observed=True)
    cut = pd.Timestamp(as_of)
    history = pd.DataFrame({
        "recency_days": (cut - by_member["ts"].max()).dt.total_seconds() / 86400.0,
        "tenure_days": (cut - by_member["ts"].min()).dt.total_seconds() / 86400.0,
        "orders_total": by_member.size(),
        "order_value_mean": by_member["net"].mean(),
        "order_value_max": by_member["net"].max(),
        "lines_per_order": by_member["n_lines"].mean(),
        "gap_mean_days": by_member["gap"].mean(),
        "gap_std_days": by_member["gap"].std(),
        "gap_last_days": by_member["gap"].last(skipna=False),
    })
    history["gap_ratio"] = history["recency_days"] / history["gap_mean_days"].where(history["gap_mean_days"] > 0)
    return history


def _pandas_spend(lines: pd.DataFrame) -> pd.DataFrame:
    gross, returned = lines["amount"].clip(lower=0), (-lines["amount"]).clip(lower=0)
    sums = pd.DataFrame({"spend_total": lines["amount"], "gross": gross, "returned": returned}).groupby(
        lines["member_id"], observed=True).sum()
    sums["returns_share"] = (sums["returned"] / sums["gross"]).where(sums["gross"] > 0)
    return sums[["spend_total", "returns_share"]]


def _pandas_activity(orders: pd.DataFrame, as_of: date) -> pd.DataFrame:
    columns = {}
    for days in TRAILING_WINDOWS_DAYS:
        inside = orders["ts"] >= pd.Timestamp(as_of - timedelta(days=days))
        columns[f"orders_{days}d"] = inside & (orders["net"] > 0)
        columns[f"spend_{days}d"] = orders["net"].where(inside, 0.0)
    activity = pd.DataFrame(columns).groupby(orders["member_id"], observed=True).sum()
    activity["orders_trend_90d"] = 2 * activity["orders_90d"] - activity["orders_180d"]
    activity["spend_trend_90d"] = 2 * activity["spend_90d"] - activity["spend_180d"]
    return activity


def _pandas_breadth(lines: pd.DataFrame) -> pd.DataFrame:
    bought = lines[(lines["amount"] > 0) & lines["category"].notna()]
    spend = bought.groupby(["member_id", "category"], observed=True)["amount"].sum()
    share = spend / spend.groupby(level="member_id", observed=True).transform("sum")
    by_member = share.groupby(level="member_id", observed=True)
    return pd.DataFrame({"categories_distinct": by_member.size(),
                         "category_entropy": -(share * np.log(share)).groupby(level="member_id", observed=True).sum(),
                         "top_category_share": by_member.max()})


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    """Members in id order, catalogue columns as float64: the three implementations become comparable."""
    frame = frame.assign(member_id=frame["member_id"].astype(str)).sort_values("member_id", kind="stable")
    return pd.concat([frame[["member_id"]], frame[FEATURES].astype("float64")], axis=1).reset_index(drop=True)


IMPLEMENTATIONS: dict[str, Callable[[Path, date], pd.DataFrame]] = {
    "ibis": ibis_features, "sql": sql_features, "pandas": pandas_features,
}


def agreement(path: Path, as_of: date, rtol: float = 1e-9) -> dict[str, str]:
    """Per implementation, the first column that differs from the Ibis result ('' when all agree)."""
    reference = ibis_features(path, as_of)
    verdicts = {}
    for name in ("sql", "pandas"):
        other = IMPLEMENTATIONS[name](path, as_of)
        verdicts[name] = _first_difference(reference, other, rtol)
    return verdicts


def _first_difference(expected: pd.DataFrame, actual: pd.DataFrame, rtol: float) -> str:
    if list(expected["member_id"]) != list(actual["member_id"]):
        return f"members differ ({len(expected)} vs {len(actual)})"
    for column in FEATURES:
        if not np.allclose(expected[column], actual[column], rtol=rtol, atol=1e-9, equal_nan=True):
            return column
    return ""


def main() -> None:
    parser = argparse.ArgumentParser(description="Time one feature implementation in this process.")
    parser.add_argument("--impl", choices=sorted(IMPLEMENTATIONS), required=True)
    parser.add_argument("--parquet", type=Path, required=True)
    parser.add_argument("--as-of", type=date.fromisoformat, required=True)
    args = parser.parse_args()
    started = time.perf_counter()
    frame = IMPLEMENTATIONS[args.impl](args.parquet, args.as_of)
    seconds = time.perf_counter() - started
    result = {"seconds": seconds, "members": len(frame)}
    if args.impl == "ibis":
        result["compile_seconds"] = ibis_compile_seconds(args.parquet, args.as_of)
    print(json.dumps(result))


def ibis_compile_seconds(path: Path, as_of: date) -> float:
    """Time to build the expression and compile it to SQL (no data touched): Ibis's fixed cost per run."""
    con = ibis.duckdb.connect()
    lines = con.read_parquet(str(path))
    started = time.perf_counter()
    con.compile(snapshot_expression(lines, as_of))
    return time.perf_counter() - started


if __name__ == "__main__":
    main()
