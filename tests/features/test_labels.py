"""features.labels: churn labels for the horizon [T, T + H), hand-computed.

A member is labelled when they bought before T; ``churned`` is 1 when they make no purchase (an
order, or a member-day without order ids, with positive net amount) in the horizon.
"""

from __future__ import annotations

import math
from datetime import date

import pandas as pd
import pytest

from features.contract import MEMBER_ID
from features.labels import LABEL_COLUMNS, build_labels
from tests.features.conftest import transactions_frame

AS_OF = date(2024, 7, 1)
HORIZON_DAYS = 30  # the horizon is [2024-07-01 00:00, 2024-07-31 00:00)

LINES = [
    # at_t: a purchase exactly at T is in the horizon
    ("at_t", "2024-06-01 10:00", 20.0, "at-1"),
    ("at_t", "2024-07-01 00:00", 15.0, "at-2"),
    # at_end: a purchase exactly at T + H is not
    ("at_end", "2024-06-01 10:00", 20.0, "end-1"),
    ("at_end", "2024-07-31 00:00", 15.0, "end-2"),
    # last_minute: the last minute of the horizon is in it
    ("last_minute", "2024-06-01 10:00", 20.0, "lm-1"),
    ("last_minute", "2024-07-30 23:59", 15.0, "lm-2"),
    # return_only: a return order in the horizon is not a purchase
    ("return_only", "2024-06-01 10:00", 20.0, "ro-1"),
    ("return_only", "2024-07-10 12:00", -20.0, "ro-2"),
    # late_return: returning (in the horizon) part of an order bought before T is not a purchase
    ("late_return", "2024-06-01 10:00", 20.0, "lr-1"),
    ("late_return", "2024-07-10 12:00", -5.0, "lr-1"),
    # cancelled: an order bought and cancelled in the horizon nets to 0
    ("cancelled", "2024-06-01 10:00", 20.0, "cx-1"),
    ("cancelled", "2024-07-05 10:00", 30.0, "cx-2"),
    ("cancelled", "2024-07-05 11:00", -30.0, "cx-2"),
    # member_day: without order ids a day is a purchase when its net is positive
    ("member_day", "2024-06-01 10:00", 20.0, None),
    ("member_day", "2024-07-06 09:00", 10.0, None),
    ("member_day", "2024-07-06 17:00", -4.0, None),  # day net 6: one purchase
    ("member_day", "2024-07-08 09:00", 10.0, None),
    ("member_day", "2024-07-08 10:00", -10.0, None),  # day net 0: none
    # two: two purchases in the horizon
    ("two", "2024-05-01 10:00", 20.0, "tw-1"),
    ("two", "2024-07-02 10:00", 5.0, "tw-2"),
    ("two", "2024-07-20 10:00", 5.0, "tw-3"),
    ("two", "2024-08-02 10:00", 5.0, "tw-4"),  # after the horizon
    # new: first purchase in the horizon -> not labelled
    ("new", "2024-07-02 10:00", 50.0, "nw-1"),
    # refund_before: only a return before T -> not labelled, whatever follows
    ("refund_before", "2024-06-01 10:00", -20.0, "rb-1"),
    ("refund_before", "2024-07-02 10:00", 20.0, "rb-2"),
]

# (member, churned, orders_in_horizon), sorted by member id
EXPECTED = [
    ("at_end", 1, 0),
    ("at_t", 0, 1),
    ("cancelled", 1, 0),
    ("last_minute", 0, 1),
    ("late_return", 1, 0),
    ("member_day", 0, 1),
    ("return_only", 1, 0),
    ("two", 0, 2),
]


@pytest.fixture(scope="module")
def labels() -> pd.DataFrame:
    transactions = transactions_frame(LINES, ("member_id", "ts", "amount", "order_id"))
    return build_labels(transactions, AS_OF, HORIZON_DAYS)


def test_only_members_who_bought_before_t_are_labelled(labels: pd.DataFrame) -> None:
    assert labels[MEMBER_ID].tolist() == [member for member, _, _ in EXPECTED]


@pytest.mark.parametrize(("member", "churned", "orders"), EXPECTED, ids=[m for m, _, _ in EXPECTED])
def test_churn_label(labels: pd.DataFrame, member: str, churned: int, orders: int) -> None:
    row = labels.set_index(MEMBER_ID).loc[member]
    assert (row["churned"], row["orders_in_horizon"]) == (churned, orders)


# (member, days_to_next, spend_in_horizon, spend_before_horizon): T = 2024-07-01, H = 30 days
TIMING_AND_SPEND = [
    ("at_end", math.nan, 0.0, 20.0),
    ("at_t", 0.0, 15.0, 20.0),
    ("cancelled", math.nan, 0.0, 20.0),  # bought and cancelled in the horizon: no purchase, no spend
    ("last_minute", 29 + (23 * 60 + 59) / 1440, 15.0, 20.0),
    ("late_return", math.nan, -5.0, 20.0),  # a return of an earlier order is negative spend
    ("member_day", 5 + 9 / 24, 6.0, 20.0),  # the day's first line times the purchase
    ("return_only", math.nan, -20.0, 20.0),
    ("two", 1 + 10 / 24, 10.0, 0.0),  # bought on 2024-05-01, before the 30 days before T
]


@pytest.mark.parametrize(("member", "days", "spend_in", "spend_before"), TIMING_AND_SPEND,
                         ids=[m for m, *_ in TIMING_AND_SPEND])
def test_days_to_next_and_spend_windows(
    labels: pd.DataFrame, member: str, days: float, spend_in: float, spend_before: float
) -> None:
    row = labels.set_index(MEMBER_ID).loc[member]
    if math.isnan(days):
        assert math.isnan(row["days_to_next"])
    else:
        assert row["days_to_next"] == pytest.approx(days, abs=1e-9)
    assert row["spend_in_horizon"] == pytest.approx(spend_in, abs=1e-9)
    assert row["spend_before_horizon"] == pytest.approx(spend_before, abs=1e-9)


def test_spend_before_covers_exactly_the_h_days_before_the_cut_off() -> None:
    """[T - H, T): a purchase at T - H counts, one a minute earlier does not."""
    transactions = transactions_frame(
        [
            ("x", "2024-05-01 10:00", 7.0, "x-1"),  # 61 days before T: outside
            ("x", "2024-05-31 23:59", 11.0, "x-2"),  # one minute before T - H: outside
            ("x", "2024-06-01 00:00", 13.0, "x-3"),  # exactly T - H: inside
            ("x", "2024-06-30 23:59", 17.0, "x-4"),  # the last minute before T: inside
        ],
        ("member_id", "ts", "amount", "order_id"),
    )
    (before,) = build_labels(transactions, AS_OF, HORIZON_DAYS)["spend_before_horizon"]
    assert before == 30.0


def test_label_frame_shape_and_dtypes(labels: pd.DataFrame) -> None:
    assert list(labels.columns) == [MEMBER_ID, *LABEL_COLUMNS]
    assert isinstance(labels[MEMBER_ID].dtype, pd.StringDtype)
    assert labels["churned"].dtype == "int64"
    assert labels["orders_in_horizon"].dtype == "int64"
    assert labels.index.tolist() == list(range(len(EXPECTED)))


def test_a_longer_horizon_sees_later_purchases() -> None:
    """With H = 31 the purchase at 2024-07-31 00:00 falls inside: at_end is no longer churned."""
    transactions = transactions_frame(LINES, ("member_id", "ts", "amount", "order_id"))
    labels = build_labels(transactions, AS_OF, HORIZON_DAYS + 1).set_index(MEMBER_ID)

    assert labels.loc["at_end", "churned"] == 0
    assert labels.loc["two", "orders_in_horizon"] == 2  # 2024-08-02 is still outside


def test_without_order_ids_purchases_are_member_days() -> None:
    """Dropping order_id: cancelled's 07-05 lines are one day netting to 0, still churned; two's
    purchases are on separate days, still 2."""
    transactions = transactions_frame(LINES, ("member_id", "ts", "amount", "order_id"))
    labels = build_labels(transactions.drop(columns="order_id"), AS_OF, HORIZON_DAYS)

    assert labels.set_index(MEMBER_ID)[["churned", "orders_in_horizon"]].to_dict("index") == {
        member: {"churned": churned, "orders_in_horizon": orders}
        for member, churned, orders in EXPECTED
    }


def test_a_fully_returned_order_in_the_horizon_is_not_a_purchase() -> None:
    transactions = transactions_frame(
        [
            ("x", "2024-06-01 10:00", 20.0, "x-1"),
            ("x", "2024-07-05 10:00", 0.10, "x-2"),
            ("x", "2024-07-05 10:00", 0.20, "x-2"),
            ("x", "2024-07-06 10:00", -0.10, "x-2"),
            ("x", "2024-07-06 10:00", -0.20, "x-2"),
        ],
        ("member_id", "ts", "amount", "order_id"),
    )
    labels = build_labels(transactions, AS_OF, HORIZON_DAYS)

    assert labels[["churned", "orders_in_horizon"]].values.tolist() == [[1, 0]]
