"""features.segments: membership playbook rules against hand-worked truth tables.

Every expected label below is worked out by hand from the numbers next to it (the arithmetic is in
the comments); none is produced by re-running product code.
"""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from features.contract import MEMBER_ID
from features.segments import (
    ABC_CLASSES,
    LIFECYCLE_STAGES,
    ABCClassifier,
    LifecycleStager,
    RfmRules,
    SegmentRules,
    TierAssigner,
    TierRules,
    assign_tiers,
    fit_segments,
    read_segment_rules,
    rfm_segments,
    segment_members,
)
from features.snapshot import build_snapshot
from tests.conftest import examples

NAN = math.nan
FEATURE_DEFAULTS = {
    "recency_days": 10.0, "tenure_days": 400.0, "orders_total": 5.0, "spend_total": 100.0,
    "gap_mean_days": 20.0, "gap_ratio": 0.5, "spend_365d": 100.0,
}
AMOUNT_LADDER = [
    {"name": "silver", "amount": 100}, {"name": "platinum", "amount": 500}, {"name": "diamond", "amount": 1000},
]


@pytest.fixture(scope="module")
def defaults() -> SegmentRules:
    return read_segment_rules(None)


def members(**columns: list[float]) -> pd.DataFrame:
    """A snapshot-shaped frame (member ids m000, m001, ...): given columns, defaults for the rest."""
    size = len(next(iter(columns.values())))
    frame = pd.DataFrame({MEMBER_ID: pd.array([f"m{i:03d}" for i in range(size)], dtype="string")})
    for name, default in FEATURE_DEFAULTS.items():
        frame[name] = np.asarray(columns.pop(name, [default] * size), dtype="float64")
    assert not columns, f"unknown test columns {sorted(columns)}"
    return frame


def write_rules(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    return path


# ---------------------------------------------------------------- packaged defaults


def test_packaged_defaults_name_the_playbook_labels(defaults: SegmentRules) -> None:
    assert set(defaults.rfm.labels) == {
        "champions", "loyal_customers", "potential_loyalists", "new_customers", "promising", "need_attention",
        "about_to_sleep", "at_risk", "cannot_lose_them", "hibernating", "lost", "others",
    }
    assert defaults.tiers.labels == ("member", "silver", "platinum", "diamond")
    assert (defaults.abc.aa_share, defaults.abc.a_share, defaults.abc.b_share) == (0.5, 0.8, 0.95)
    assert defaults.tiers.retain_share == 0.8


# ---------------------------------------------------------------- RFM segments

RFM_GRID = [  # (r, f, segment) from the R x F map in segment_rules.yaml
    (5, 5, "champions"), (5, 4, "champions"), (4, 5, "loyal_customers"), (3, 4, "loyal_customers"),
    (5, 3, "potential_loyalists"), (4, 2, "potential_loyalists"), (5, 1, "new_customers"), (4, 1, "promising"),
    (3, 3, "need_attention"), (3, 1, "about_to_sleep"), (3, 2, "about_to_sleep"), (2, 5, "cannot_lose_them"),
    (1, 5, "cannot_lose_them"), (2, 3, "at_risk"), (1, 4, "at_risk"), (2, 2, "hibernating"),
    (1, 2, "hibernating"), (2, 1, "hibernating"), (1, 1, "lost"),
]


@pytest.mark.parametrize(("r", "f", "expected"), RFM_GRID)
def test_rfm_segment_truth_table(defaults: SegmentRules, r: int, f: int, expected: str) -> None:
    scores = pd.DataFrame({"r_score": [r], "f_score": [f], "m_score": [3]})
    assert rfm_segments(scores, defaults.rfm).tolist() == [expected]


def test_default_rfm_map_names_every_cell(defaults: SegmentRules) -> None:
    grid = [(r, f, 1) for r in range(1, 6) for f in range(1, 6)]
    cells = pd.DataFrame(grid, columns=["r_score", "f_score", "m_score"])
    named = rfm_segments(cells, defaults.rfm)
    assert "others" not in set(named)
    assert named[named == "lost"].index.tolist() == [0]  # only r=1, f=1


def test_rfm_first_match_wins_m_bounds_and_catch_all() -> None:
    big = {"name": "big", "r": [4, 5], "f": [1, 5], "m": [5, 5]}
    recent = {"name": "recent", "r": [4, 5], "f": [1, 5]}
    scores = pd.DataFrame({"r_score": [5, 5, 3], "f_score": [1, 1, 5], "m_score": [5, 4, 5]})
    big_first = RfmRules.model_validate({"segments": [big, recent], "catch_all": "rest"})
    recent_first = RfmRules.model_validate({"segments": [recent, big], "catch_all": "rest"})
    assert rfm_segments(scores, big_first).tolist() == ["big", "recent", "rest"]
    assert rfm_segments(scores, recent_first).tolist() == ["recent", "recent", "rest"]


# ---------------------------------------------------------------- ABC classes

# Positive spend totals 100. Cumulative from the top: 50 (0.50) 70 80 (0.80) 88 93 97 (0.97) 99 100.
# AA closes at 50 (reaches 0.5), A at 10 (reaches 0.8), B at 4 (first to reach 0.95).
PARETO_SPEND = [50.0, 20.0, 10.0, 8.0, 5.0, 4.0, 2.0, 1.0, 0.0, -3.0]
PARETO_CLASSES = ["AA", "A", "A", "B", "B", "B", "C", "C", "C", "C"]


def test_abc_truth_table(defaults: SegmentRules) -> None:
    frame = members(spend_365d=PARETO_SPEND)
    abc = ABCClassifier(defaults.abc).fit(frame)
    assert abc.thresholds_ == {"AA": 50.0, "A": 10.0, "B": 4.0}
    assert abc.transform(frame).tolist() == PARETO_CLASSES


def test_abc_ties_share_the_higher_class(defaults: SegmentRules) -> None:
    # total 100: the second 40 brings the top set to 0.8 >= 0.5 and >= 0.8, so both 40s are AA; 20 closes B
    frame = members(spend_365d=[40.0, 20.0, 40.0])
    assert ABCClassifier(defaults.abc).fit(frame).transform(frame).tolist() == ["AA", "B", "AA"]


def test_abc_share_reached_exactly_in_cents_counts_as_reached(defaults: SegmentRules) -> None:
    # 46.35 + 38.20 + 20.49 = 105.04 = 0.8 x 131.30 exactly, though in floats 105.04 < 0.8 * 131.3.
    # AA: 0.5 x 131.30 = 65.65 is reached by 46.35 + 38.20; B: 0.95 x 131.30 = 124.735 only at 9.02.
    frame = members(spend_365d=[46.35, 38.2, 20.49, 17.24, 9.02])
    assert ABCClassifier(defaults.abc).fit(frame).transform(frame).tolist() == ["AA", "AA", "A", "B", "B"]


def test_abc_class_a_is_the_smallest_set_reaching_a_share(defaults: SegmentRules) -> None:
    spend = np.unique(np.round(np.random.default_rng(11).lognormal(4.0, 1.2, 500), 2))  # no ties: "last" is defined
    frame = members(spend_365d=list(spend))
    classes = ABCClassifier(defaults.abc).fit(frame).transform(frame)
    for labels, share in ((["AA"], 0.5), (["AA", "A"], 0.8), (["AA", "A", "B"], 0.95)):
        top = np.sort(spend[classes.isin(labels).to_numpy()])
        assert top.sum() / spend.sum() >= share
        assert (top.sum() - top[0]) / spend.sum() < share


def test_abc_thresholds_from_training_apply_unchanged(defaults: SegmentRules) -> None:
    abc = ABCClassifier(defaults.abc).fit(members(spend_365d=PARETO_SPEND))
    fitted = dict(abc.thresholds_)
    later = members(spend_365d=[60.0, 50.0, 49.0, 10.0, 9.99, 4.0, 3.99, 0.0])
    assert abc.transform(later).tolist() == ["AA", "AA", "A", "A", "B", "B", "C", "C"]
    assert abc.thresholds_ == fitted
    # refitting on the scored rows would move A's threshold to 49 (159 of 186.98 >= 0.8)
    assert ABCClassifier(defaults.abc).fit(later).transform(later).tolist()[3] == "B"


# ---------------------------------------------------------------- lifecycle stages

# Repeat buyers' gaps 20, 40, 60 -> typical gap 40 (the one-timer's NaN and the 0 gap are skipped).
LIFECYCLE_TRAIN = members(gap_mean_days=[20.0, 40.0, 60.0, NAN, 0.0])
LIFECYCLE_CASES = [  # tenure, orders, recency, gap_ratio -> stage
    (30, 1, 30, NAN, "new"),
    (50, 2, 50, 5.0, "new"),  # new is checked before rhythm (too short to judge)
    (60, 2, 10, 0.5, "new"),  # tenure == new_days
    (61, 2, 10, 1.0, "active"),
    (30, 3, 15, 1.5, "active"),  # three orders: not new; ratio == active_ratio
    (400, 5, 40, 2.0, "sleeping"),
    (400, 5, 60, 3.0, "sleeping"),  # ratio == lost_ratio
    (400, 5, 61, 3.05, "lost"),
    (61, 1, 61, NAN, "sleeping"),  # one-timer: 61 / 40 = 1.525
    (120, 1, 120, NAN, "sleeping"),  # 120 / 40 = 3.0
    (121, 1, 121, NAN, "lost"),  # 121 / 40 = 3.025
    (100, 2, 100, NAN, "sleeping"),  # two purchases at one instant: no own gap, 100 / 40 = 2.5
]


@pytest.mark.parametrize(("tenure", "orders", "recency", "ratio", "expected"), LIFECYCLE_CASES)
def test_lifecycle_truth_table(
    defaults: SegmentRules, tenure: float, orders: float, recency: float, ratio: float, expected: str
) -> None:
    stager = LifecycleStager(defaults.lifecycle).fit(LIFECYCLE_TRAIN)
    assert stager.typical_gap_days_ == 40.0
    frame = members(tenure_days=[tenure], orders_total=[orders], recency_days=[recency], gap_ratio=[ratio])
    assert stager.transform(frame).tolist() == [expected]


def test_lifecycle_without_repeat_buyers_uses_the_fallback_gap(defaults: SegmentRules) -> None:
    stager = LifecycleStager(defaults.lifecycle).fit(members(gap_mean_days=[NAN, NAN]))
    assert stager.typical_gap_days_ == 90.0
    frame = members(tenure_days=[200.0], orders_total=[1.0], recency_days=[200.0], gap_ratio=[NAN])
    assert stager.transform(frame).tolist() == ["sleeping"]  # 200 / 90 = 2.2


# ---------------------------------------------------------------- tiers


def amount_tiers(**overrides: object) -> TierRules:
    return TierRules.model_validate(
        {"qualifying_column": "spend_365d", "base": "member", "ladder": AMOUNT_LADDER, "retain_share": 0.8, **overrides}
    )


def test_tier_quantiles_fitted_on_training_apply_unchanged(defaults: SegmentRules) -> None:
    # positive spend 1..100 (zeros and returns skipped); linear quantile at q: 1 + q * 99
    train = members(spend_365d=[*range(1, 101), 0.0, 0.0, -5.0])
    tiers = TierAssigner(defaults.tiers).fit(train)
    assert tiers.thresholds_ == pytest.approx({"silver": 50.5, "platinum": 80.2, "diamond": 95.05})
    later = members(spend_365d=[0.0, 50.49, 50.5, 80.19, 80.2, 95.05, 1e6, -1.0, NAN])
    expected = ["member", "member", "silver", "silver", "platinum", "diamond", "diamond", "member", "member"]
    assert tiers.transform(later).tolist() == expected
    assert tiers.thresholds_ == pytest.approx({"silver": 50.5, "platinum": 80.2, "diamond": 95.05})


def test_tier_amounts_truth_table() -> None:
    frame = members(spend_365d=[0.0, 99.99, 100.0, 499.0, 500.0, 1000.0, 5000.0, -10.0])
    expected = ["member", "member", "silver", "silver", "platinum", "diamond", "diamond", "member"]
    tiers = assign_tiers(frame, amount_tiers())
    assert tiers.tolist() == expected
    assert (tiers >= "platinum").tolist() == [tier in ("platinum", "diamond") for tier in expected]  # ladder order


GRACE_CASES = [  # previous tier, spend -> tier (thresholds 100 / 500 / 1000, retain 0.8)
    ("diamond", 800.0, "diamond"),  # 800 >= 0.8 x 1000: kept
    ("diamond", 799.0, "platinum"),  # below the grace: drops to what 799 earns
    ("diamond", 450.0, "silver"),  # straight down to silver (grace is for the tier held, not those passed)
    ("platinum", 400.0, "platinum"),  # 400 >= 0.8 x 500
    ("silver", 79.0, "member"),  # 79 < 0.8 x 100
    ("silver", 1200.0, "diamond"),  # upgrades are immediate
    ("member", 50.0, "member"),
    (None, 450.0, "silver"),  # no history
]


def test_tier_downgrade_grace_with_previous() -> None:
    frame = members(spend_365d=[spend for _, spend, _ in GRACE_CASES])
    previous = pd.Series({f"m{i:03d}": tier for i, (tier, _, _) in enumerate(GRACE_CASES) if tier is not None})
    previous["someone-gone"] = "diamond"  # members not in the snapshot are ignored
    assert assign_tiers(frame, amount_tiers(), previous).tolist() == [tier for _, _, tier in GRACE_CASES]
    assert assign_tiers(frame, amount_tiers()).tolist()[:2] == ["platinum", "platinum"]  # without history


def test_last_periods_tiers_as_the_ladders_categorical_give_the_same_tiers_as_text() -> None:
    """The KPIs pass each period's tiers (a Categorical of the ladder) on to the next: read from codes."""
    rules = amount_tiers()
    frame = members(spend_365d=[spend for _, spend, _ in GRACE_CASES])
    previous = pd.Series({f"m{i:03d}": tier for i, (tier, _, _) in enumerate(GRACE_CASES) if tier is not None})
    as_ladder = previous.astype(pd.CategoricalDtype(list(rules.labels), ordered=True))
    assert as_ladder.cat.codes.min() >= 0
    assert assign_tiers(frame, rules, as_ladder).tolist() == [tier for _, _, tier in GRACE_CASES]
    aligned = as_ladder.reindex(frame[MEMBER_ID].to_numpy())  # the frame's ids in its order, NaN = no tier
    assert aligned.index.equals(pd.Index(frame[MEMBER_ID])) and aligned.isna().sum() == 1
    assert assign_tiers(frame, rules, aligned).tolist() == [tier for _, _, tier in GRACE_CASES]
    assert assign_tiers(frame, rules, aligned.iloc[::-1]).tolist() == [tier for _, _, tier in GRACE_CASES]  # reindexed
    other_order = previous.astype(pd.CategoricalDtype(list(reversed(rules.labels))))  # not this ladder: read as text
    assert assign_tiers(frame, rules, other_order).tolist() == [tier for _, _, tier in GRACE_CASES]
    with pytest.raises(ValueError, match="not on the ladder"):
        assign_tiers(frame, rules, previous.replace("silver", "bronze").astype("category"))


def test_tier_errors_are_explicit(defaults: SegmentRules) -> None:
    frame = members(spend_365d=[10.0])
    with pytest.raises(ValueError, match="gold"):
        assign_tiers(frame, amount_tiers(), pd.Series({"m000": "gold"}))
    with pytest.raises(ValueError, match="TierAssigner"):
        assign_tiers(frame, defaults.tiers)


# ---------------------------------------------------------------- YAML overrides and validation

CUSTOM_RULES = """
abc: {a_share: 0.7}
lifecycle: {new_days: 0}
rfm:
  segments: [{name: top, r: [5, 5], f: [1, 5]}]
  catch_all: rest
tiers:
  ladder: [{name: bronze, amount: 10}, {name: gold, amount: 40}]
"""


def test_yaml_overrides_change_results_and_keep_other_defaults(tmp_path: Path, defaults: SegmentRules) -> None:
    custom = read_segment_rules(write_rules(tmp_path, CUSTOM_RULES))
    assert custom.abc.b_share == defaults.abc.b_share and custom.lifecycle.active_ratio == 1.5  # merged, not replaced
    # A closes at 20 once a_share is 0.7 (cumulative 70), so 10 falls to B
    spend = members(spend_365d=PARETO_SPEND)
    assert ABCClassifier(custom.abc).fit(spend).transform(spend).tolist()[2] == "B"
    # a 30-day one-timer is no longer new: 30 / 40 = 0.75 of the typical gap
    one_timer = members(tenure_days=[30.0], orders_total=[1.0], recency_days=[30.0], gap_ratio=[NAN])
    assert LifecycleStager(custom.lifecycle).fit(LIFECYCLE_TRAIN).transform(one_timer).tolist() == ["active"]
    assert LifecycleStager(defaults.lifecycle).fit(LIFECYCLE_TRAIN).transform(one_timer).tolist() == ["new"]
    scores = pd.DataFrame({"r_score": [5, 1], "f_score": [1, 1], "m_score": [1, 1]})
    assert rfm_segments(scores, custom.rfm).tolist() == ["top", "rest"]
    assert assign_tiers(members(spend_365d=[5.0, 10.0, 45.0]), custom.tiers).tolist() == ["member", "bronze", "gold"]


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("abc: {a_sharre: 0.8}", r"abc\.a_sharre"),
        ("surprise: 1", r"surprise"),
        ("rfm: {segments: [{name: x, r: [0, 5], f: [1, 5]}]}", r"rfm\.segments\.0\.r\.0"),
        ("rfm: {segments: [{name: x, r: [1, 6], f: [1, 5]}]}", r"rfm\.segments\.0\.r\.1"),
        ("rfm: {segments: [{name: x, r: [1, 5], f: [4, 2]}]}", r"rfm\.segments\.0\.f\n.*lo > hi"),
        ("rfm: {segments: [{name: x, r: [1, 5], f: [1, 5]}], catch_all: x}", r"unique"),
        ("abc: {b_share: 0.75}", r"a_share 0.8 < b_share 0.75"),
        ("abc: {aa_share: 0.9}", r"aa_share 0.9 < a_share"),
        ("abc: {spend_column: spend_999d}", r"abc\.spend_column\n.*spend_999d"),
        ("tiers: {ladder: [{name: silver, amount: 500}, {name: gold, amount: 300}]}", r"ladder: thresholds must"),
        ("tiers: {ladder: [{name: silver, quantile: 0.5}, {name: gold, amount: 300}]}", r"ladder: use quantiles"),
        ("tiers: {ladder: [{name: silver, quantile: 1.5}]}", r"tiers\.ladder\.0\.quantile"),
        ("tiers: {ladder: [{name: silver}]}", r"tiers\.ladder\.0\n.*exactly one of quantile or amount"),
        ("tiers: {retain_share: 1.5}", r"tiers\.retain_share"),
        ("lifecycle: {lost_ratio: 1.0}", r"active_ratio 1.5 < lost_ratio 1.0"),
        ("[not, a, mapping]", r"valid dictionary"),
    ],
)
def test_invalid_rules_name_the_field(tmp_path: Path, text: str, names: str) -> None:
    with pytest.raises(ValidationError, match=f"(?s){names}"):
        read_segment_rules(write_rules(tmp_path, text))


# ---------------------------------------------------------------- all together


def test_segment_members_on_real_snapshots_fits_on_training_only(
    synthetic: tuple[pd.DataFrame, pd.DataFrame], defaults: SegmentRules
) -> None:
    transactions, _ = synthetic
    train = build_snapshot(transactions, date(2023, 10, 1)).frame
    later = build_snapshot(transactions, date(2024, 4, 1)).frame
    fitted = fit_segments(train, defaults)
    labels = segment_members(later, fitted)
    assert labels.columns.tolist() == ["rfm_segment", "abc_class", "lifecycle_stage", "tier"]
    assert labels.index.equals(later.index) and not labels.isna().any().any()
    assert labels["tier"].tolist() == TierAssigner(defaults.tiers).fit(train).transform(later).tolist()
    assert labels["tier"].tolist() != TierAssigner(defaults.tiers).fit(later).transform(later).tolist()
    on_train = segment_members(train, fitted)
    a_class = on_train["abc_class"].isin(["AA", "A"]).to_numpy()
    spend = train["spend_365d"].clip(lower=0).to_numpy()
    assert spend[a_class].sum() / spend.sum() >= 0.8
    assert {"champions", "hibernating"} <= set(on_train["rfm_segment"])


def member_rows(size: int) -> st.SearchStrategy[pd.DataFrame]:
    """Snapshot-like frames: one-time buyers have no gap; tenure never precedes recency."""
    row = st.tuples(
        st.floats(0, 800), st.floats(0, 400), st.integers(1, 40), st.floats(0, 300), st.floats(-50, 5000)
    )

    def frame(rows: list[tuple[float, float, int, float, float]]) -> pd.DataFrame:
        gaps = [gap if orders > 1 else NAN for _, _, orders, gap, _ in rows]
        return members(
            recency_days=[recency for recency, *_ in rows],
            tenure_days=[recency + extra for recency, extra, *_ in rows],
            orders_total=[orders for _, _, orders, _, _ in rows],
            spend_total=[spend for *_, spend in rows],
            spend_365d=[spend for *_, spend in rows],
            gap_mean_days=gaps,
            gap_ratio=[recency / gap if gap > 0 else NAN for (recency, *_), gap in zip(rows, gaps)],
        )

    return st.lists(row, min_size=1, max_size=size).map(frame)


@settings(max_examples=examples(40), deadline=None)
@given(train=member_rows(25), later=member_rows(25), data=st.data())
def test_every_member_gets_one_configured_label_of_each_kind(
    defaults: SegmentRules, train: pd.DataFrame, later: pd.DataFrame, data: st.DataObject
) -> None:
    tiers_or_none = st.sampled_from([*defaults.tiers.labels, None])
    held = data.draw(st.lists(tiers_or_none, min_size=len(later), max_size=len(later)))
    previous = pd.Series(held, index=later[MEMBER_ID].to_numpy(), dtype=object)
    labels = segment_members(later, fit_segments(train, defaults), previous)
    assert labels.shape == (len(later), 4) and labels.index.equals(later.index)
    assert not labels.isna().any().any()
    for column, allowed in (
        ("rfm_segment", defaults.rfm.labels), ("abc_class", ABC_CLASSES),
        ("lifecycle_stage", LIFECYCLE_STAGES), ("tier", defaults.tiers.labels),
    ):
        assert set(labels[column].astype(str)) <= set(allowed)


def test_labelling_by_position_equals_labelling_the_text() -> None:
    """The KPIs' fast path (codes, no strings) gives the same categorical as the labels themselves."""
    from features.segments import LIFECYCLE_STAGES, _labelled, _positions_labelled

    positions = np.array([3, 0, 0, 2, 1, 3])
    index = pd.Index([f"m{i}" for i in range(6)])
    for ordered in (False, True):
        pd.testing.assert_series_equal(
            _positions_labelled(positions, LIFECYCLE_STAGES, index, "stage", ordered),
            _labelled(np.asarray(LIFECYCLE_STAGES, dtype=object)[positions], LIFECYCLE_STAGES, index, "stage", ordered))
