"""Membership KPIs over time (features.kpis): exact values on a hand-built table, worked out by hand.

The table (no order ids, so an order is a member-day; spend_365d tiers with fixed amounts):

- a: Jan 5 (40 x + 30 y), Feb 5 (20 z), Mar 5 (50 x), Apr 5 (10 x)      home store s1
- b: Jan 10 (60 x), Feb 10 (-60 x, a return: no purchase)              s2
- c: Feb 14 (25 x + 25 y + 25 z, one order in 3 categories), Apr 30 (100 x)   s2
- d: Jan 2 (10 x)                                                       s1
- e: Jan 1 (10 x), Jan 2 (10 x): a gap of one day, then nothing         no store

Lifecycle at Apr 1 (default rules): a has 3 purchases 30 days apart and bought 27 days ago: active.
Repeat buyers' median gap is (30 + 1) / 2 = 15.5 days, so b (82 days) and d (90 days) are lost;
e waited 90 times its own gap: lost. All were ``new`` at Mar 1 (tenure <= 60 days, <= 2 purchases),
so March's churn rate is 3 / 5.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from features.contract import STORE
from features.kpis import kpi_table, kpi_tables, parse_by
from features.segment_rules import SegmentRules, read_segment_rules
from tests.features.conftest import transactions_frame

COLUMNS = ("member_id", "ts", "amount", "category", STORE)
ROWS = [
    ("a", "2024-01-05T10:00", 40.0, "x", "s1"), ("a", "2024-01-05T10:00", 30.0, "y", "s1"),
    ("a", "2024-02-05T10:00", 20.0, "z", "s1"), ("a", "2024-03-05T10:00", 50.0, "x", "s1"),
    ("a", "2024-04-05T10:00", 10.0, "x", "s1"),
    ("b", "2024-01-10T10:00", 60.0, "x", "s2"), ("b", "2024-02-10T10:00", -60.0, "x", "s2"),
    ("c", "2024-02-14T10:00", 25.0, "x", "s2"), ("c", "2024-02-14T10:00", 25.0, "y", "s2"),
    ("c", "2024-02-14T10:00", 25.0, "z", "s2"), ("c", "2024-04-30T10:00", 100.0, "x", "s2"),
    ("d", "2024-01-02T10:00", 10.0, "x", "s1"),
    ("e", "2024-01-01T10:00", 10.0, "x", None), ("e", "2024-01-02T10:00", 10.0, "x", None),
]
NAN = math.nan
# period: (members, active, new, spend, purchases, AOV, frequency, repurchase, repurchase spend share,
#          churn, categories per buyer, 3+ category share, tier up, tier down)
EXPECTED = {
    "2024-01-01": (4, 4, 4, 160.0, 5, 32.0, 1.25, NAN, 0.0, NAN, 1.25, 0.0, NAN, NAN),
    "2024-02-01": (5, 2, 1, 35.0, 2, 17.5, 1.0, 1 / 4, 20 / 35, 0.0, 2.0, 0.5, 0.0, 1 / 4),
    "2024-03-01": (5, 1, 0, 50.0, 1, 50.0, 1.0, 1 / 2, 1.0, 3 / 5, 1.0, 0.0, 1 / 5, 0.0),
    "2024-04-01": (5, 2, 0, 110.0, 2, 55.0, 1.0, 1.0, 10 / 110, 0.0, 1.0, 0.0, 1 / 5, 0.0),
}
KPIS = ("members", "active_members", "new_members", "spend", "purchases", "average_order_value",
        "purchase_frequency", "repurchase_rate", "repurchase_spend_share", "churn_rate", "categories_per_member",
        "multi_category_share", "tier_up_share", "tier_down_share")


def amount_tiers() -> SegmentRules:
    """Default rules with a fixed ladder: silver from 50, platinum from 100, diamond from 1000 (365-day spend)."""
    raw = read_segment_rules().model_dump()
    raw["tiers"]["ladder"] = [{"name": "silver", "amount": 50}, {"name": "platinum", "amount": 100},
                              {"name": "diamond", "amount": 1000}]
    return SegmentRules.model_validate(raw)


def table() -> pd.DataFrame:
    frame = transactions_frame(ROWS, COLUMNS)
    frame[STORE] = frame[STORE].astype("string")
    return frame


@pytest.fixture(scope="module")
def monthly() -> dict[str | None, pd.DataFrame]:
    return kpi_tables(table(), "month", (None, "tier", "lifecycle_stage", "store"), amount_tiers())  # type: ignore[arg-type]


def test_every_kpi_of_every_month_matches_the_hand_worked_values(monthly: dict[str | None, pd.DataFrame]) -> None:
    kpis = monthly[None]
    assert [str(d) for d in kpis["period_start"]] == list(EXPECTED)  # April is complete: the data reaches Apr 30
    assert list(kpis.columns) == ["period_start", "period_end", *KPIS]
    for (_, row), expected in zip(kpis.iterrows(), EXPECTED.values()):
        np.testing.assert_allclose(row[list(KPIS)].to_numpy(float), expected, rtol=1e-12, err_msg=str(row["period_start"]))


def test_groups_are_what_members_were_at_the_period_start(monthly: dict[str | None, pd.DataFrame]) -> None:
    april = {name: frame[frame["period_start"].astype(str) == "2024-04-01"].set_index(frame.columns[2])
             for name, frame in monthly.items() if name is not None}
    stage = april["lifecycle_stage"]  # at Apr 1: a active, c new, b d e lost
    assert stage["members"].to_dict() == {"new": 1, "active": 1, "sleeping": 0, "lost": 3}
    assert stage.loc["new", "spend"] == 100.0 and stage.loc["active", "spend"] == 10.0
    assert math.isnan(stage.loc["lost", "churn_rate"])  # nobody there could still be lost
    tier = april["tier"]  # at Apr 1: a platinum, c silver, the rest the base tier
    assert tier["members"].to_dict() == {"member": 3, "silver": 1, "platinum": 1, "diamond": 0}
    assert tier.loc["silver", "tier_up_share"] == 1.0  # c reached platinum with 175 in 365 days
    january = monthly["store"][monthly["store"]["period_start"].astype(str) == "2024-01-01"].set_index("store")
    assert january["spend"].to_dict() == {"s1": 80.0, "s2": 60.0, "unknown": 20.0}
    assert sum(monthly["store"]["spend"]) == sum(monthly[None]["spend"])  # every member in exactly one store


def test_weeks_start_on_monday_and_an_unfinished_last_period_is_left_out() -> None:
    frame = table()
    weekly = kpi_table(frame[frame["ts"] < pd.Timestamp("2024-04-10")], "week", rules=amount_tiers())
    assert str(weekly["period_start"].iloc[0]) == "2024-01-01"  # a Monday
    assert str(weekly["period_end"].iloc[-1]) == "2024-04-01"  # data stops on Fri Apr 5: that week is unfinished
    assert weekly["spend"].sum() == 160 + 35 + 50  # April's week is not complete
    assert all(pd.to_datetime(weekly["period_start"]).dt.weekday == 0)


def test_without_categories_the_category_kpis_are_left_out_not_zero() -> None:
    kpis = kpi_table(table().drop(columns="category"), "month", rules=amount_tiers())
    assert "categories_per_member" not in kpis.columns and "multi_category_share" not in kpis.columns
    assert kpis["spend"].tolist() == [160.0, 35.0, 50.0, 110.0]


@pytest.mark.parametrize(("by", "columns", "message"), [
    ("store", ("member_id", "ts", "amount"), "by: 'store' needs a store column"),
    ("region", ("member_id", "ts", "amount", STORE), "by: 'region' is not supported; use one of tier, store, lifecycle_stage"),
])
def test_a_split_the_data_cannot_give_is_refused_by_name(by: str, columns: tuple[str, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_by(by, columns)


def test_a_tier_rule_on_another_column_is_refused_by_name() -> None:
    raw = read_segment_rules().model_dump()
    raw["tiers"]["qualifying_column"] = "orders_365d"
    with pytest.raises(ValueError, match="tiers.qualifying_column 'orders_365d'"):
        kpi_table(table(), "month", rules=SegmentRules.model_validate(raw))
