"""training.cutoffs: rolling-origin cut-offs whose label windows never touch the evaluation window.

Pinned: the evaluation cut-off is end - H (its horizon ends exactly at the data's end); training
cut-offs are spaced by the step, oldest first, the latest at evaluation - H, none before
first_day + min_history; a span too short raises a ValueError naming the span and the need;
data_span gives (first day, day after the last timestamp).
"""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.conftest import examples
from training.cutoffs import CutoffPlan, data_span, plan_cutoffs

D = date.fromisoformat

# (first_day, end_exclusive, horizon, n_train, step, min_history) -> (train cut-offs, evaluation)
PLANS = [
    pytest.param(
        D("2024-01-01"), D("2024-07-01"), 30, 3, 14, 30,
        # evaluation = 07-01 - 30 d = 06-01; latest train = 06-01 - 30 d = 05-02; then -14 d twice
        (D("2024-04-04"), D("2024-04-18"), D("2024-05-02")), D("2024-06-01"),
        id="room-for-all",
    ),
    pytest.param(
        D("2024-01-01"), D("2024-04-01"), 30, 5, 7, 20,
        # evaluation 03-02 (leap year), latest 02-01, candidates 01-25, 01-18, ... ; earliest 01-21
        (D("2024-01-25"), D("2024-02-01")), D("2024-03-02"),
        id="min-history-drops-the-oldest",
    ),
    pytest.param(
        D("2024-01-01"), D("2024-02-20"), 20, 3, 7, 10,
        # span 50 = 10 + 2 * 20: exactly one training cut-off, on the first allowed day 01-11
        (D("2024-01-11"),), D("2024-01-31"),
        id="exact-minimum-span",
    ),
    pytest.param(
        D("2023-01-01"), D("2024-06-24"), 60, 4, 28, 60,
        # the synthetic fixture's span: 540 days from 2023-01-01, last ts on 2024-06-23
        (D("2023-12-03"), D("2023-12-31"), D("2024-01-28"), D("2024-02-25")), D("2024-04-25"),
        id="synthetic-span",
    ),
]


@pytest.mark.parametrize(("first", "end", "horizon", "n_train", "step", "history", "train", "evaluation"), PLANS)
def test_plan_cutoffs_exact_dates(
    first: date, end: date, horizon: int, n_train: int, step: int, history: int,
    train: tuple[date, ...], evaluation: date,
) -> None:
    """Hand-computed plans: evaluation = end - H; training cut-offs by step, oldest first."""
    plan = plan_cutoffs(first, end, horizon, n_train, step, history)
    assert plan == CutoffPlan(train=train, evaluation=evaluation, horizon_days=horizon)
    assert plan.to_dict() == {
        "train": [d.isoformat() for d in train],
        "evaluation": evaluation.isoformat(),
        "horizon_days": horizon,
    }


@pytest.mark.parametrize(
    ("first", "end", "horizon", "history", "span", "needed"),
    [
        pytest.param(D("2024-01-01"), D("2024-02-19"), 20, 10, 49, 50, id="one-day-short"),
        pytest.param(D("2024-01-01"), D("2024-03-01"), 90, 60, 60, 240, id="far-too-short"),
        pytest.param(D("2024-01-01"), D("2024-01-02"), 1, 0, 1, 2, id="one-day-of-data"),
    ],
)
def test_too_short_a_span_names_the_span_and_the_need(
    first: date, end: date, horizon: int, history: int, span: int, needed: int
) -> None:
    """Not enough data for history + one training window + the evaluation window is an error."""
    with pytest.raises(ValueError) as error:
        plan_cutoffs(first, end, horizon, 3, 7, history)
    message = str(error.value)
    assert f"span {span} days" in message
    assert f"at least {needed} days" in message
    assert f"{horizon}-day horizon" in message


@pytest.mark.parametrize(
    ("timestamps", "expected"),
    [
        pytest.param(["2024-03-05 13:00", "2024-01-02 00:00", "2024-06-30 23:59"],
                     (D("2024-01-02"), D("2024-07-01")), id="unsorted-with-times"),
        pytest.param(["2024-06-30 00:00"], (D("2024-06-30"), D("2024-07-01")), id="single-midnight"),
        pytest.param(["2023-12-31 23:59:59", "2024-02-28 08:00:00"],
                     (D("2023-12-31"), D("2024-02-29")), id="year-and-leap-day"),
    ],
)
def test_data_span_is_first_day_and_day_after_last(timestamps: list[str], expected: tuple[date, date]) -> None:
    """data_span: (date of the earliest ts, the day after the latest ts's date)."""
    assert data_span(pd.Series(pd.to_datetime(timestamps))) == expected


@settings(max_examples=examples(400), deadline=None)
@given(
    first=st.dates(min_value=D("1990-01-01"), max_value=D("2030-12-31")),
    span=st.integers(1, 2500),
    horizon=st.integers(1, 365),
    n_train=st.integers(1, 52),
    step=st.integers(1, 120),
    history=st.integers(0, 400),
)
@example(first=D("2024-01-01"), span=50, horizon=20, n_train=3, step=7, history=10)  # exact minimum
@example(first=D("2024-01-01"), span=49, horizon=20, n_train=3, step=7, history=10)  # one day short
def test_no_training_label_window_overlaps_evaluation(
    first: date, span: int, horizon: int, n_train: int, step: int, history: int
) -> None:
    """For any span/horizon/step: a plan exists iff span >= history + 2H, and when it does the
    evaluation horizon ends at the data's end, training cut-offs are step apart, oldest first,
    after the minimum history, and no [T, T+H) overlaps [evaluation, evaluation+H)."""
    end = first + timedelta(days=span)
    H = timedelta(days=horizon)
    if span < history + 2 * horizon:
        with pytest.raises(ValueError):
            plan_cutoffs(first, end, horizon, n_train, step, history)
        return
    plan = plan_cutoffs(first, end, horizon, n_train, step, history)
    assert plan.evaluation + H == end
    assert plan.horizon_days == horizon
    assert 1 <= len(plan.train) <= n_train
    assert list(plan.train) == sorted(plan.train)
    assert plan.train[-1] == plan.evaluation - H
    assert all(later - earlier == timedelta(days=step) for earlier, later in zip(plan.train, plan.train[1:]))
    assert all(t >= first + timedelta(days=history) for t in plan.train)
    for t in plan.train:
        # half-open windows [t, t+H) and [evaluation, evaluation+H) are disjoint
        assert t + H <= plan.evaluation or plan.evaluation + H <= t
        assert t + H <= plan.evaluation
    # as many cut-offs as fit: one more step back would break the minimum history (or n_train)
    if len(plan.train) < n_train:
        assert plan.train[0] - timedelta(days=step) < first + timedelta(days=history)
