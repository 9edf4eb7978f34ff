"""KPIs are point in time: rows at or after a period's end never change it; the stages and tiers the
KPIs step through period by period are the ones a snapshot as of each period end gives.

The property draws small histories and rows to append after a period boundary (new members, late
lines on old orders, returns), as tests/features/test_point_in_time.py does for snapshots.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import ibis
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features.contract import AMOUNT, CATEGORY, MEMBER_ID, ORDER_ID, TS
from features.kpi_periods import read_history
from features.kpi_states import period_states
from features.kpis import kpi_tables
from features.snapshot import build_snapshot
from tests.conftest import examples
from tests.features.conftest import LINE_COLUMNS, transactions_frame
from tests.features.test_kpis import ROWS, amount_tiers, table

BASE = datetime(2024, 1, 1)  # a Monday and a month start
CUTS = {"month": date(2024, 3, 1), "week": date(2024, 2, 12)}

line = st.tuples(
    st.sampled_from(("m1", "m2", "m3", "m4", "m5")),
    st.integers(0, 24 * 60 - 1),  # minutes after the day starts
    st.sampled_from((5.0, 20.0, 80.0, 300.0, -20.0)),
    st.sampled_from(("o1", "o2", None)),  # a shared id puts a late line on an old order
    st.sampled_from(("x", "y", "z", None)),
)


def frame_of(lines: list[tuple[str, int, int, float, str | None, str | None]]) -> pd.DataFrame:
    rows = [(m, (BASE + timedelta(days=d, minutes=t)).isoformat(), a, o, c) for m, d, t, a, o, c in lines]
    return transactions_frame(rows, LINE_COLUMNS)


@pytest.mark.slow
@settings(max_examples=examples(12), deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(freq=st.sampled_from(("month", "week")),
       before=st.lists(st.tuples(st.integers(0, 59)).flatmap(lambda d: line.map(lambda x: (x[0], d[0], *x[1:]))),
                       min_size=1, max_size=25),
       after=st.lists(st.tuples(st.integers(0, 40)).flatmap(lambda d: line.map(lambda x: (x[0], d[0], *x[1:]))),
                      min_size=1, max_size=15))
def test_rows_after_a_period_end_never_change_that_period(freq: str, before: list, after: list) -> None:
    cut = CUTS[freq]
    offset = (cut - BASE.date()).days
    early = [row for row in before if row[1] < offset]
    if not early:
        return
    history = frame_of(early + [("m1", offset - 1, 24 * 60 - 1, 1.0, None, None)])  # the data reaches the cut
    grown = frame_of(early + [("m1", offset - 1, 24 * 60 - 1, 1.0, None, None)]
                     + [(m, offset + d, t, a, o, c) for m, d, t, a, o, c in after])
    bys = (None, "tier", "lifecycle_stage")
    old, new = kpi_tables(history, freq, bys), kpi_tables(grown, freq, bys)  # type: ignore[arg-type]
    for by in bys:
        assert len(old[by]) > 0
        past = new[by][new[by]["period_end"] <= cut].reset_index(drop=True)
        pd.testing.assert_frame_equal(past, old[by], check_exact=True)


@pytest.mark.slow
def test_stages_and_tiers_at_each_month_end_are_the_snapshots() -> None:
    """Agreement of two implementations: the KPIs' period stepping vs ``build_snapshot`` at each end,
    given the previous month's tiers for the downgrade grace."""
    transactions, rules = table(), amount_tiers()
    history = read_history(transactions, "month")
    previous: pd.Series | None = None
    for state in period_states(history, rules):
        end = history.bounds[state.period + 1].date()
        snapshot = build_snapshot(transactions, end, ibis.duckdb.connect(threads=1), rules, previous_tiers=previous)
        members = history.member_ids.get_indexer(snapshot.profile[MEMBER_ID].astype("string"))
        stages = np.asarray(("new", "active", "sleeping", "lost"))[state.stage_after[members]]
        tiers = np.asarray(rules.tiers.labels)[state.tier_after[members]]
        assert stages.tolist() == snapshot.profile["lifecycle_stage"].tolist(), end
        assert tiers.tolist() == snapshot.profile["tier"].tolist(), end
        assert (state.stage_after[np.setdiff1d(np.arange(history.members), members)] == -1).all()
        previous = pd.Series(tiers, index=snapshot.profile[MEMBER_ID].astype(str).to_numpy())
    assert state.period == 3 and len(ROWS) == 14  # four months checked, on the whole hand-built table


def test_a_late_line_on_an_old_order_does_not_change_its_month() -> None:
    """The fast check of the property: an order begun in February and continued in March."""
    lines = [("m1", "2024-01-03T10:00", 50.0, "o1", "x"), ("m1", "2024-02-27T23:59", 40.0, "o2", "x"),
             ("m2", "2024-02-28T10:00", 30.0, None, "y")]
    late = [("m1", "2024-03-01T00:00", -40.0, "o2", "x"), ("m2", "2024-03-31T10:00", 5.0, None, None)]
    old = kpi_tables(transactions_frame(lines, LINE_COLUMNS), "month", (None,))[None]
    new = kpi_tables(transactions_frame(lines + late, LINE_COLUMNS), "month", (None,))[None]
    pd.testing.assert_frame_equal(new.iloc[: len(old)], old, check_exact=True)
    assert new["spend"].tolist() == [50.0, 70.0, -35.0]  # the return counts in March, where it happened
    assert {TS, AMOUNT, ORDER_ID, CATEGORY} <= set(LINE_COLUMNS)
