"""Properties of the tier replay (Hypothesis), and the programme schema's errors.

- more spend never lowers a tier: one more purchase before ``as_of`` never gives a lower card,
  under every combination of promotion, downgrade and card term;
- point in time: rows at or after ``as_of`` change nothing;
- one walk with many cut-offs agrees with one replay per cut-off.

The properties take a few seconds (each example replays small frames through pandas): ``slow``.
"""

from __future__ import annotations

import copy
from datetime import date, timedelta
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from features.tier_outputs import tier_frame, tiers_as_of
from features.tier_programme import parse_programme, read_programme
from features.tier_replay import replay
from features.tier_spend import qualifying_days
from tests.features.tier_cases import PROGRAMME, history, programme

START = date(2022, 1, 1)
DAYS = 3 * 365
RANK = {code: rank for rank, code in enumerate(programme().codes)}

lines = st.lists(st.tuples(st.integers(0, DAYS - 1), st.sampled_from([100, 400, 600, 1600, 2500, 7000, 16000])),
                 max_size=8)
variants = st.fixed_dictionaries({"promotion": st.sampled_from(["jump", "step"]),
                                  "downgrade": st.sampled_from(["one_step", "to_retained"]),
                                  "card_term": st.sampled_from(["this_period", "next_period"])})
FAST = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _frame(days_and_amounts: list[tuple[int, int]]) -> pd.DataFrame:
    return history(("2021-12-31", 1), *((START + timedelta(days=d), a) for d, a in days_and_amounts))


def _tier(frame: pd.DataFrame, changes: dict[str, Any], as_of: date) -> int:
    return RANK[tiers_as_of(frame, programme(**changes), as_of)["tier"].iloc[0]]


@pytest.mark.slow
@FAST
@given(lines, variants, st.integers(1, DAYS), st.integers(0, DAYS - 1), st.sampled_from([100, 600, 3000, 16000]))
def test_more_spend_never_lowers_a_tier(past: list[tuple[int, int]], changes: dict[str, Any], as_of_day: int,
                                        extra_day: int, extra: int) -> None:
    as_of = START + timedelta(days=as_of_day)
    extra_day = min(extra_day, as_of_day - 1)
    assert _tier(_frame([*past, (extra_day, extra)]), changes, as_of) >= _tier(_frame(past), changes, as_of)


@pytest.mark.slow
@FAST
@given(lines, lines, variants, st.integers(1, DAYS))
def test_rows_at_or_after_as_of_change_nothing(past: list[tuple[int, int]], later: list[tuple[int, int]],
                                               changes: dict[str, Any], as_of_day: int) -> None:
    as_of = START + timedelta(days=as_of_day)
    before = [(d, a) for d, a in past if d < as_of_day]
    after = [(max(d, as_of_day), a) for d, a in later]
    chosen = programme(**changes)
    expected = tiers_as_of(_frame(before), chosen, as_of)
    pd.testing.assert_frame_equal(tiers_as_of(_frame([*before, *after]), chosen, as_of), expected)


@pytest.mark.slow
@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(lines, min_size=1, max_size=4), variants)
def test_one_walk_agrees_with_one_replay_per_cutoff(members: list[list[tuple[int, int]]], changes: dict[str, Any]) -> None:
    frame = pd.concat([_frame(past).assign(member_id=f"m{i}") for i, past in enumerate(members)])
    frame["member_id"] = frame["member_id"].astype("string")
    chosen = programme(**changes)
    qualifying = qualifying_days(frame, chosen)
    cutoffs = [date(2022, 3, 1), date(2023, 1, 1), date(2023, 7, 15), date(2024, 12, 31)]
    for state in replay(qualifying, chosen, cutoffs):
        (alone,) = replay(qualifying, chosen, [state.as_of])
        pd.testing.assert_frame_equal(tier_frame(state, qualifying, chosen), tier_frame(alone, qualifying, chosen))


def test_the_shipped_example_is_the_department_store() -> None:
    example = read_programme()
    assert example.codes == ("vip", "silver", "platinum", "diamond", "aa")
    assert example.exclusions.bulk_quantity == 3 and example.supreme is not None


def _broken(path: str, value: Any) -> dict[str, Any]:
    """The test programme with one field (``cards.1.retain``) replaced."""
    raw: Any = copy.deepcopy(PROGRAMME)  # the shared test programme must stay as it is
    *parents, last = path.split(".")
    target = raw
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    target[last] = value
    return raw


@pytest.mark.parametrize(("path", "value", "message"), [
    ("promotion", "leap", "tier programme t.yaml: promotion: Input should be 'jump' or 'step'"),
    ("cards.1.retain", -5, "cards.1.retain: Input should be greater than 0"),
    ("cards.1.retain", 2000, "card 'silver': retain 2000 is above its cumulative threshold 1000"),
    ("cards.2.single_day", 400, "cards: single_day thresholds must strictly increase up the ladder, got [500.0, 400.0]"),
    ("cards.0.cumulative", 10, "cards.0 ('vip'): the entry card every member holds has no thresholds"),
    ("cards.2.code", "silver", "codes must be unique"),
    ("cards.2.code", "new", "'new' is reserved"),
    ("cards.1.colour", "grey", "cards.1.colour: Extra inputs are not permitted"),
    ("supreme.exit_below", 9000, "supreme: exit_below 9000 is above each_at_least 8000"),
    ("period.months", 0, "period.months: Input should be greater than or equal to 1"),
])
def test_schema_errors_name_the_field(path: str, value: Any, message: str) -> None:
    with pytest.raises(ValueError, match="^tier programme t.yaml: ") as error:
        parse_programme(_broken(path, value), "t.yaml")
    assert message in str(error.value)


def test_a_missing_file_is_one_line(tmp_path: Any) -> None:
    with pytest.raises(ValueError, match="file not found"):
        read_programme(tmp_path / "absent.yaml")
