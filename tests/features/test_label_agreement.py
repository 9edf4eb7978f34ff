"""Lifecycle stage, RFM segment and P(alive) cannot contradict (features/segment_rules.yaml, top).

Hand-worked cases first (the arithmetic is in the comments), then the property: for any member
history and any P(alive) the model could give, the three labels agree under the documented rule.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from features.btyd import BetaGeoFitter
from features.contract import MEMBER_ID
from features.segments import (
    LifecycleStager,
    SegmentRules,
    evidenced,
    evidenced_p_alive,
    fit_segments,
    read_segment_rules,
    segment_members,
)
from tests.conftest import examples

NAN = math.nan
STILL_BUYING, LAPSED = {"new", "active"}, {"sleeping", "lost"}


@pytest.fixture(scope="module")
def defaults() -> SegmentRules:
    return read_segment_rules(None)


def frame(**columns: list[float]) -> pd.DataFrame:
    size = len(next(iter(columns.values())))
    out = pd.DataFrame({MEMBER_ID: pd.array([f"m{i}" for i in range(size)], dtype="string")})
    for name, values in columns.items():
        out[name] = np.asarray(values, dtype="float64")
    return out


# typical gap of repeat buyers: median of 20, 40, 60 = 40 days
TRAIN = frame(gap_mean_days=[20.0, 40.0, 60.0, NAN])
CASES = [  # tenure, orders, recency, gap_ratio, p_alive -> stage, r_score, served p_alive
    (400, 5, 10, 0.25, 0.99, "active", 5, 0.99),  # 0.25 <= 0.5: r 5
    (400, 5, 30, 0.75, 0.90, "active", 4, 0.90),  # 0.75 <= 1.0: r 4
    (400, 5, 50, 1.25, 0.70, "active", 3, 0.70),  # 1.25 <= active_ratio 1.5: r 3
    (400, 5, 50, 1.25, 0.40, "sleeping", 2, 0.40),  # on rhythm, but the model thinks more likely gone than not
    (400, 5, 100, 2.5, 0.30, "sleeping", 2, 0.30),
    (400, 5, 200, 5.0, 0.20, "lost", 1, 0.20),
    (400, 5, 200, 5.0, 0.60, "sleeping", 2, 0.60),  # 5x past rhythm, but P(alive) >= 0.5 keeps them out of lost
    (400, 5, 200, 5.0, NAN, "lost", 1, NAN),  # no BG/NBD fit: rhythm alone
    (400, 1, 400, NAN, 1.00, "lost", 1, NAN),  # one-timer: 400 / 40 = 10; BG/NBD's 1.0 is not evidence
    (30, 1, 10, NAN, 1.00, "new", 5, NAN),  # one-timer: 10 / 40 = 0.25, young: new
    (30, 1, 30, NAN, 1.00, "new", 4, NAN),  # 30 / 40 = 0.75
    (50, 2, 50, 5.0, NAN, "new", 3, NAN),  # young: new, whatever the rhythm (r 3: still buying, past the edges)
    (50, 2, 50, 5.0, 0.10, "sleeping", 2, 0.10),  # young, but the model says likely gone
]


@pytest.mark.parametrize(("tenure", "orders", "recency", "ratio", "alive", "stage", "r", "served"), CASES)
def test_stage_recency_score_and_served_p_alive(defaults: SegmentRules, tenure: float, orders: float, recency: float,
                                                ratio: float, alive: float, stage: str, r: int, served: float) -> None:
    members = frame(tenure_days=[tenure], orders_total=[orders], recency_days=[recency], gap_ratio=[ratio],
                    p_alive=[alive])
    stager = LifecycleStager(defaults.lifecycle, defaults.rfm.recency_ratio_edges).fit(TRAIN)
    assert stager.typical_gap_days_ == 40.0
    assert stager.transform(members).tolist() == [stage]
    assert stager.recency_scores(members).tolist() == [r]
    np.testing.assert_equal(evidenced_p_alive(members), [served])
    np.testing.assert_equal(evidenced(np.array([alive]), np.array([ratio])), [served])  # /score's bare-array path


def test_bgnbd_gives_every_one_time_buyer_p_alive_one_whatever_their_silence() -> None:
    """Why a one-timer's P(alive) is not served: x = 0 means 1.0 after 1 week or 10 years."""
    model = BetaGeoFitter()
    model.r_, model.alpha_, model.a_, model.b_ = 0.243, 4.414, 0.793, 2.426  # the published CDNOW fit
    assert model.probability_alive([0, 0], [0, 0], [1.0, 520.0]).tolist() == [1.0, 1.0]
    assert model.probability_alive([1], [1.0], [520.0])[0] < 0.1  # a repeat buyer silent 10 years: gone


def test_snapshot_rfm_segments_follow_the_stage(defaults: SegmentRules) -> None:
    """A weekly shopper silent 3 weeks was a "champion" by days (r 5) yet lost by rhythm; now lost."""
    members = frame(recency_days=[21.0, 3.0], tenure_days=[400.0, 400.0], orders_total=[50.0, 50.0],
                    spend_total=[5000.0, 5000.0], spend_365d=[5000.0, 5000.0], gap_mean_days=[7.0, 7.0],
                    gap_ratio=[3.0 + 1e-9, 3.0 / 7.0], p_alive=[0.2, 0.95])
    train = frame(recency_days=[10.0] * 5, orders_total=[1.0, 2.0, 3.0, 4.0, 5.0], spend_total=[10.0] * 5,
                  spend_365d=[10.0] * 5, gap_mean_days=[7.0] * 5)  # order edges 1.8 .. 4.2: 50 orders is f 5
    labels = segment_members(members, fit_segments(train, defaults))
    assert labels["lifecycle_stage"].tolist() == ["lost", "active"]
    assert labels["rfm_segment"].tolist() == ["cannot_lose_them", "champions"]  # r 1 f 5; r 5 (3/7 <= 0.5) f 5


def recency_claim(r_range: tuple[int, int]) -> set[str] | None:
    """The stages a segment's r range allows: r 3-5 still buying, r 1-2 lapsed, r 1 lost; else no claim."""
    low, high = r_range
    if (low, high) == (1, 1):
        return {"lost"}
    if low >= 3:
        return STILL_BUYING
    return LAPSED if high <= 2 else None


def histories(size: int) -> st.SearchStrategy[pd.DataFrame]:
    """Members from purchase days (0 = first day of data) seen at day ``now``, with any P(alive)."""
    member = st.tuples(st.lists(st.integers(0, 700), min_size=1, max_size=8), st.integers(0, 300),
                       st.floats(0, 1), st.floats(-50, 5000))

    def build(rows: list[tuple[list[int], int, float, float]]) -> pd.DataFrame:
        columns: dict[str, list[float]] = {name: [] for name in (
            "recency_days", "tenure_days", "orders_total", "spend_total", "spend_365d", "gap_mean_days",
            "gap_ratio", "p_alive")}
        for days, after, alive, spend in rows:
            days = sorted(days)
            now = days[-1] + 1 + after
            gap = (days[-1] - days[0]) / (len(days) - 1) if len(days) > 1 else NAN
            values = (now - days[-1], now - days[0], len(days), spend, spend, gap,
                      (now - days[-1]) / gap if gap > 0 else NAN, 1.0 if len(days) == 1 else alive)  # BG/NBD: x=0 -> 1
            for name, value in zip(columns, values):
                columns[name].append(float(value))
        return frame(**columns)

    return st.lists(member, min_size=1, max_size=size).map(build)


@settings(max_examples=examples(40), deadline=None)
@given(train=histories(20), later=histories(20))
def test_stage_segment_and_p_alive_never_contradict(defaults: SegmentRules, train: pd.DataFrame,
                                                   later: pd.DataFrame) -> None:
    labels = segment_members(later, fit_segments(train, defaults))
    stage, segment = labels["lifecycle_stage"].astype(str), labels["rfm_segment"].astype(str)
    served = evidenced_p_alive(later)
    threshold = defaults.lifecycle.alive_threshold
    assert not (stage == "lost").to_numpy()[served >= threshold].any(), "lost yet likely alive"
    assert not stage.isin(STILL_BUYING).to_numpy()[served < threshold].any(), "still buying yet likely gone"
    assert np.isnan(served[later["orders_total"].to_numpy() == 1]).all(), "a one-timer's 1.0 is not served"
    claims = {rule.name: recency_claim(rule.r) for rule in defaults.rfm.segments}
    for name, member_stage in zip(segment, stage):
        allowed = claims.get(name)
        assert allowed is None or member_stage in allowed, f"{name} in stage {member_stage}"
    assert not ((segment == "champions") & (stage == "lost")).any()
