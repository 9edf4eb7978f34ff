"""training.span_plan: the history, cut-offs and step a span allows, in the documented order.

Pinned with hand-computed values around each threshold (room = span - 2H; defaults 60 days of
history, up to 6 cut-offs 28 days apart): defaults while they hold 2 cut-offs (room >= 88), then
history shrinks (room >= 14 + 28), then the step in whole weeks (room >= 14 + 7), then one cut-off
(room >= 14), then baselines only; the user's own values never move and an error names them.
"""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import examples
from training.config import read_config
from training.cutoffs import plan_cutoffs
from training.pipeline import choose_for, plan_for
from training.span_plan import choose_plan, fitting_cutoffs, models_minimum_days

DEFAULTS = (60, 6, 28)


@pytest.mark.parametrize(
    ("span", "horizon", "history", "n_train", "step", "adapted"),
    [
        # the real datasets at H = 90: exactly today's plan (cdnow 546, online_retail 374, complete_journey 365)
        pytest.param(546, 90, 60, 6, 28, False, id="cdnow"),
        pytest.param(374, 90, 60, 5, 28, False, id="online-retail-5-of-6"),
        pytest.param(365, 90, 60, 5, 28, False, id="complete-journey"),
        pytest.param(148, 30, 60, 2, 28, False, id="defaults-just-hold-two"),
        pytest.param(147, 30, 59, 2, 28, True, id="history-one-day-shorter"),
        pytest.param(102, 30, 14, 2, 28, True, id="history-at-its-floor"),
        pytest.param(101, 30, 14, 2, 21, True, id="step-three-weeks"),
        pytest.param(89, 30, 14, 2, 14, True, id="issue-89-days"),
        pytest.param(81, 30, 14, 2, 7, True, id="step-one-week"),
        pytest.param(80, 30, 14, 1, 28, True, id="one-cut-off"),
        pytest.param(74, 30, 14, 1, 28, True, id="models-minimum"),
    ],
)
def test_the_plan_shrinks_in_order(span: int, horizon: int, history: int, n_train: int, step: int,
                                   adapted: bool) -> None:
    choice = choose_plan(span, horizon, *DEFAULTS)
    assert (choice.min_history_days, choice.n_train_cutoffs, choice.step_days, choice.adapted) == \
        (history, n_train, step, adapted)
    assert choice.models and (f"span {span} days" in choice.why)
    assert choice.why.startswith("defaults") != adapted


@pytest.mark.parametrize(("span", "horizon"), [(73, 30), (60, 30), (1, 1), (193, 90), (743, 365)])
def test_below_two_horizons_and_two_weeks_only_baselines(span: int, horizon: int) -> None:
    choice = choose_plan(span, horizon, *DEFAULTS)
    assert span == models_minimum_days(horizon) - 1 or span < models_minimum_days(horizon)
    assert not choice.models and choice.n_train_cutoffs == 0
    assert f"span {span} days < {2 * horizon + 14}" in choice.why and "baselines only" in choice.why


def test_user_values_are_kept_and_named_when_they_do_not_fit() -> None:
    """A history the user set never shrinks: the other fields adapt around it, or the error names it."""
    kept = choose_plan(130, 30, 60, 6, 28, fixed={"min_history_days"})  # room 70: 60 + a week between two
    assert (kept.min_history_days, kept.n_train_cutoffs, kept.step_days) == (60, 2, 7)
    with pytest.raises(ValueError, match=r"span 89 days; a 30-day horizon with min_history_days 60 \(set in --config\)"):
        choose_plan(89, 30, 60, 6, 28, fixed={"min_history_days"})
    step = choose_plan(89, 30, 60, 6, 28, fixed={"cutoff_step_days"})  # room 29: no 28-day step for two
    assert (step.min_history_days, step.n_train_cutoffs, step.step_days) == (14, 1, 28)
    mine = choose_plan(89, 30, 14, 3, 7, fixed={"min_history_days", "n_train_cutoffs", "cutoff_step_days"})
    assert (mine.min_history_days, mine.n_train_cutoffs, mine.step_days, mine.adapted) == (14, 3, 7, False)


def test_only_values_set_in_the_config_file_are_fixed(tmp_path) -> None:
    """``model_fields_set``: a YAML value is the user's, a default is not."""
    path = tmp_path / "c.yaml"
    path.write_text("min_history_days: 60\n")
    tx = pd.DataFrame({"ts": pd.to_datetime(["2024-01-01", "2024-03-29"])})  # 89 days
    with pytest.raises(ValueError, match="min_history_days 60"):
        choose_for(tx, read_config(path, horizon_days=30), 30)
    assert choose_for(tx, read_config(None, horizon_days=30), 30).min_history_days == 14
    plan = plan_for(tx, read_config(None, horizon_days=30), 30)
    # end 03-30 (exclusive), evaluation 03-30 - 30 d = 02-29 (leap), latest 01-30, then 14 days before
    assert plan.train == (date(2024, 1, 16), date(2024, 1, 30)) and plan.evaluation == date(2024, 2, 29)
    assert plan.choice is not None and plan.choice.n_train_cutoffs == 2


@settings(max_examples=examples(300), deadline=None)
@given(span=st.integers(1, 1500), horizon=st.integers(1, 365))
def test_every_chosen_plan_is_placeable_and_defaults_never_move(span: int, horizon: int) -> None:
    """The choice fits (plan_cutoffs places exactly its count) and, when the defaults give two
    cut-offs, it is the defaults unchanged; spans below 2H + 14 get no model."""
    choice = choose_plan(span, horizon, *DEFAULTS)
    assert choice.models == (span >= 2 * horizon + 14)
    if not choice.models:
        return
    first = date(2024, 1, 1)
    plan = plan_cutoffs(first, first + timedelta(days=span), horizon, choice.n_train_cutoffs, choice.step_days,
                        choice.min_history_days)
    assert len(plan.train) == choice.n_train_cutoffs >= 1
    assert choice.step_days % 7 == 0 and choice.min_history_days >= 14
    if fitting_cutoffs(span - 2 * horizon, *DEFAULTS) >= 2:
        assert (choice.min_history_days, choice.step_days, choice.adapted) == (60, 28, False)


@pytest.mark.slow
@pytest.mark.parametrize(("name", "path", "first_cutoff", "count", "evaluation"), [
    ("cdnow", "cdnow/cdnow_master.parquet", date(1997, 8, 15), 6, date(1998, 4, 2)),
    ("online_retail", "online_retail/online_retail.parquet", date(2011, 2, 21), 5, date(2011, 9, 11)),
])
def test_real_datasets_keep_their_plan_at_90_days(name: str, path: str, first_cutoff: date, count: int,
                                                  evaluation: date) -> None:
    """The cut-offs of README's results (before issue 14) are what the adaptive planner chooses at H = 90."""
    from features.contract import read_mapping
    from features.load import load_transactions
    from tests.conftest import REPO, shared_dataset

    transactions, _ = load_transactions(shared_dataset(path), read_mapping(REPO / "mappings" / f"{name}.yaml"))
    plan = plan_for(transactions, read_config(None), 90)
    assert (plan.train[0], len(plan.train), plan.evaluation) == (first_cutoff, count, evaluation)
    assert plan.choice is not None and not plan.choice.adapted
    assert all(later - earlier == timedelta(days=28) for earlier, later in zip(plan.train, plan.train[1:]))
