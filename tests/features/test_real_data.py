"""Snapshots of real datasets (../shared/data) keep invariants that a feature bug would break.

Each dataset is loaded through ``features.load`` with its mapping in ``mappings/``, then cut to the
300 members whose ids sort first (as text), so the sample is fixed and small. Counts that the
product computes with Ibis are recomputed here with plain pandas.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.contract import AMOUNT, CATEGORY, MEMBER_ID, ORDER_ID, TS
from features.load import load_transactions
from features.snapshot import Snapshot, build_snapshot
from tests.conftest import REPO, shared_dataset

SAMPLE_MEMBERS = 300


@dataclass(frozen=True)
class Source:
    relative: str
    mapping: str
    as_of: date


SOURCES = {
    "cdnow": Source("cdnow/cdnow_master.parquet", "cdnow.yaml", date(1997, 10, 1)),
    # its first 300 members' lines, committed (tests/data/README.md): the sample this module takes
    "online_retail": Source(
        "online_retail/first_300_members.parquet", "online_retail.yaml", date(2011, 9, 1)
    ),
    "complete_journey": Source(
        "complete_journey/transactions.parquet", "complete_journey.yaml", date(2017, 9, 1)
    ),
}


@dataclass(frozen=True)
class Sample:
    transactions: pd.DataFrame
    snapshot: Snapshot

    @property
    def frame(self) -> pd.DataFrame:
        return self.snapshot.frame


def first_members(transactions: pd.DataFrame, count: int) -> pd.DataFrame:
    """Rows of the ``count`` members whose ids sort first as text: a fixed, reviewable rule."""
    kept = sorted(transactions[MEMBER_ID].unique())[:count]
    return transactions[transactions[MEMBER_ID].isin(kept)].reset_index(drop=True)


@pytest.fixture(scope="module")
def load_sample(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Sample]:
    rejects = tmp_path_factory.mktemp("rejects")  # never the developer's var/rejects

    @functools.cache
    def load(name: str) -> Sample:
        source = SOURCES[name]
        transactions, _ = load_transactions(
            shared_dataset(source.relative),
            REPO / "mappings" / source.mapping,
            rejects_path=rejects / f"{name}.rejects.csv",
        )
        sample = first_members(transactions, SAMPLE_MEMBERS)
        return Sample(sample, build_snapshot(sample, source.as_of))

    return load


def purchases_before(transactions: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """Independent pandas version: (member, order) with positive net before ``as_of``; the order
    is the order id where given, else the calendar day."""
    before = transactions[transactions[TS] < pd.Timestamp(as_of)]
    day = before[TS].dt.strftime("day %Y-%m-%d")
    order = day
    if ORDER_ID in before:
        order = before[ORDER_ID].astype(object).where(before[ORDER_ID].notna(), day)
    net = before.groupby([before[MEMBER_ID], order.rename("order")])[AMOUNT].sum()
    return net[net > 0].reset_index()


# Loading all 1.5 M Complete Journey lines takes seconds: its tests are marked slow.
SLOW = pytest.mark.slow
ALL = ["cdnow", "online_retail", pytest.param("complete_journey", marks=SLOW)]


@pytest.mark.parametrize("name", ALL)
def test_sample_is_the_first_300_members(load_sample: Callable[[str], Sample], name: str) -> None:
    sample = load_sample(name)
    ids = sample.transactions[MEMBER_ID].unique()

    assert len(ids) == SAMPLE_MEMBERS
    assert 0 < len(sample.frame) <= SAMPLE_MEMBERS


@pytest.mark.parametrize("name", ALL)
def test_members_are_exactly_those_with_a_purchase_before_t(
    load_sample: Callable[[str], Sample], name: str
) -> None:
    sample = load_sample(name)
    bought = purchases_before(sample.transactions, SOURCES[name].as_of)
    orders = bought.groupby(MEMBER_ID).size()

    assert len(sample.frame) == orders.size
    assert sample.frame[MEMBER_ID].tolist() == sorted(orders.index)
    by_member = sample.frame.set_index(MEMBER_ID)
    expected = orders.loc[by_member.index].astype(float)
    np.testing.assert_array_equal(by_member["orders_total"], expected)


@pytest.mark.parametrize("name", ALL)
def test_spend_total_is_the_net_of_every_line_before_t(
    load_sample: Callable[[str], Sample], name: str
) -> None:
    sample = load_sample(name)
    before = sample.transactions[sample.transactions[TS] < pd.Timestamp(SOURCES[name].as_of)]
    spend = before.groupby(MEMBER_ID)[AMOUNT].sum()
    by_member = sample.frame.set_index(MEMBER_ID)

    expected = spend.loc[by_member.index]
    np.testing.assert_allclose(by_member["spend_total"], expected, rtol=1e-9, atol=1e-6)


@pytest.mark.parametrize("name", ALL)
def test_recency_is_positive_and_within_tenure(
    load_sample: Callable[[str], Sample], name: str
) -> None:
    frame = load_sample(name).frame

    assert (frame["recency_days"] > 0).all()
    assert (frame["recency_days"] <= frame["tenure_days"]).all()


@pytest.mark.parametrize("name", ALL)
def test_trailing_counts_nest(load_sample: Callable[[str], Sample], name: str) -> None:
    frame = load_sample(name).frame
    chain = ["orders_30d", "orders_90d", "orders_180d", "orders_365d", "orders_total"]

    for shorter, longer in zip(chain, chain[1:]):
        assert (frame[shorter] <= frame[longer]).all(), (shorter, longer)
    assert (frame["orders_total"] >= 1).all()
    assert (frame["orders_trend_90d"] == 2 * frame["orders_90d"] - frame["orders_180d"]).all()


@pytest.mark.parametrize("name", ALL)
def test_returns_share_is_a_share(load_sample: Callable[[str], Sample], name: str) -> None:
    share = load_sample(name).frame["returns_share"]

    assert share.notna().all()
    assert share.between(0.0, 1.0).all()


@pytest.mark.parametrize("name", ALL)
def test_no_infinite_values(load_sample: Callable[[str], Sample], name: str) -> None:
    features = load_sample(name).frame.drop(columns=MEMBER_ID).to_numpy()

    assert not np.isinf(features).any()


@pytest.mark.parametrize("name", ALL)
def test_gaps_exist_exactly_for_repeat_buyers(
    load_sample: Callable[[str], Sample], name: str
) -> None:
    frame = load_sample(name).frame
    repeat = frame["orders_total"] >= 2

    assert frame["gap_mean_days"].notna().eq(repeat).all()
    assert frame["gap_std_days"].notna().eq(frame["orders_total"] >= 3).all()
    assert (frame.loc[repeat, "gap_mean_days"] >= 0).all()


@pytest.mark.parametrize(
    "name",
    [
        "cdnow",
        "online_retail",
        pytest.param("complete_journey", marks=SLOW),
    ],
)
def test_last_gap_exists_for_repeat_buyers(load_sample: Callable[[str], Sample], name: str) -> None:
    frame = load_sample(name).frame
    repeat = frame["orders_total"] >= 2

    assert frame["gap_last_days"].notna().eq(repeat).all()


@pytest.mark.parametrize("name", ALL)
def test_category_features_only_with_a_category_column(
    load_sample: Callable[[str], Sample], name: str
) -> None:
    sample = load_sample(name)
    category_features = {"categories_distinct", "category_entropy", "top_category_share"}

    if CATEGORY not in sample.transactions.columns:
        assert not category_features & set(sample.frame.columns)
        return
    frame = sample.frame
    assert (frame["categories_distinct"] >= 1).all()
    assert ((frame["top_category_share"] > 0) & (frame["top_category_share"] <= 1)).all()
    assert (frame["category_entropy"] >= 0).all()
    assert (frame["category_entropy"] <= np.log(frame["categories_distinct"]) + 1e-12).all()
    single = frame["categories_distinct"] == 1
    assert (frame.loc[single, "top_category_share"] == 1.0).all()


@SLOW
def test_complete_journey_has_categories(load_sample: Callable[[str], Sample]) -> None:
    assert CATEGORY in load_sample("complete_journey").transactions.columns


CDNOW_SAMPLE_AS_OF = date(1997, 10, 1)  # the 39-week calibration end of Fader, Hardie & Lee (2005)


def test_cdnow_orders_are_distinct_positive_days(tmp_path: Path) -> None:
    """CDNOW has day precision and no order id: a purchase is a day with positive spend."""
    transactions, report = load_transactions(
        shared_dataset("cdnow/cdnow_sample.parquet"),
        REPO / "mappings" / "cdnow.yaml",
        rejects_path=tmp_path / "rejects.csv",
    )
    before = transactions[transactions[TS] < pd.Timestamp(CDNOW_SAMPLE_AS_OF)]
    per_day = before.groupby([MEMBER_ID, before[TS].dt.normalize()])[AMOUNT].sum()
    expected = per_day[per_day > 0].groupby(level=MEMBER_ID).size()

    frame = build_snapshot(transactions, CDNOW_SAMPLE_AS_OF).frame.set_index(MEMBER_ID)

    assert report.rows_kept == 6919
    assert transactions[MEMBER_ID].nunique() == 2357
    # every sampled customer bought in Q1 1997, but 8 of them only for $0.00: not a purchase
    assert len(frame) == len(expected) == 2349
    assert frame.index.tolist() == sorted(expected.index)
    np.testing.assert_array_equal(frame["orders_total"], expected.loc[frame.index].astype(float))
