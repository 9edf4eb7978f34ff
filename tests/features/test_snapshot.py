"""features.snapshot: every feature of every member, as of a cut-off, against hand-computed truth.

The truth table below is worked out by hand from the lines in ``LINES`` (the arithmetic is written
out next to each value); it never re-runs product code. The golden files pin a small seeded
simulation and its snapshot as of 2023-06-01, so that any change to a feature definition (or to
the simulator) is a visible diff.

Regenerate the golden files (only after a deliberate change, and review the diff):

    cd /work/main && .venv/bin/python -m tests.features.test_snapshot --regenerate-golden
"""

from __future__ import annotations

import math
import sys
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features import catalogue
from features.catalogue import CATALOGUE, ONE_PURCHASE, feature_names
from features.contract import CATEGORY, MEMBER_ID, ORDER_ID
from features.simulate import simulate_transactions
from features.snapshot import Snapshot, build_snapshot
from tests.features.conftest import transactions_frame

AS_OF = date(2024, 7, 1)  # history ends just before 2024-07-01 00:00
# Trailing windows start at AS_OF minus N days: 30 -> 2024-06-01, 90 -> 2024-04-02,
# 180 -> 2024-01-03, 365 -> 2023-07-02 (2024 is a leap year).
H = 1 / 24  # one hour in days

LINES = [
    # a: order ids, a return line inside an order, a cancelled order, a return after the cut-off
    ("a", "2024-03-02 10:00", 30.0, "a-1", "GROCERY"),
    ("a", "2024-03-02 10:00", 20.0, "a-1", "DAIRY"),
    ("a", "2024-06-21 12:00", 40.0, "a-2", "GROCERY"),
    ("a", "2024-06-21 12:00", 10.0, "a-2", "PRODUCE"),
    ("a", "2024-06-25 09:00", -10.0, "a-2", "PRODUCE"),  # return netted inside a-2
    ("a", "2024-06-28 08:00", 25.0, "a-3", None),  # a-3 is cancelled: net 0, not a purchase
    ("a", "2024-06-28 09:00", -25.0, "a-3", None),
    ("a", "2024-07-03 10:00", -40.0, "a-2", "GROCERY"),  # after the cut-off: never seen
    # b: no order ids, so a purchase is a member-day
    ("b", "2024-04-02 00:00", 15.0, None, "PRODUCE"),  # exactly AS_OF - 90 days: inside 90d
    ("b", "2024-05-10 09:00", 12.0, None, "GROCERY"),
    ("b", "2024-05-10 18:30", 8.0, None, "GROCERY"),  # same day: same purchase
    ("b", "2024-06-30 23:00", 5.0, None, "DAIRY"),  # one hour before the cut-off
    ("b", "2024-07-01 00:00", 100.0, None, "DAIRY"),  # at the cut-off: after it
    # c: two orders on one day are two purchases; one purchase older than 365 days
    ("c", "2023-06-01 12:00", 25.0, "c-1", "GROCERY"),
    ("c", "2024-06-10 09:00", 60.0, "c-2", "HOUSEHOLD"),
    ("c", "2024-06-10 15:00", 40.0, "c-3", "HOUSEHOLD"),
    # d: only a return, e: first purchase at the cut-off -> neither is scored
    ("d", "2024-05-01 12:00", -20.0, "d-1", "GROCERY"),
    ("e", "2024-07-01 00:00", 50.0, "e-1", "GROCERY"),
    # f: one purchase of two lines, half a day before AS_OF - 180 days
    ("f", "2024-01-02 12:00", 50.0, "f-1", "GROCERY"),
    ("f", "2024-01-02 12:00", 30.0, "f-1", "GROCERY"),
]

NAN = float("nan")


def entropy(*shares: float) -> float:
    return -sum(share * math.log(share) for share in shares)


A_GAP = 111 + 2 * H  # 03-02 10:00 -> 06-21 12:00
B_GAPS = (38 + 9 * H, 51 + 14 * H)  # 04-02 00:00 -> 05-10 09:00 -> 06-30 23:00
C_GAPS = (374 + 21 * H, 6 * H)  # 2023-06-01 12:00 -> 2024-06-10 09:00 -> 15:00

EXPECTED: dict[str, dict[str, float]] = {
    "a": {
        "recency_days": 9 + 12 * H,  # 06-21 12:00 -> 07-01 00:00
        "tenure_days": 120 + 14 * H,  # 03-02 10:00 -> 07-01 00:00
        "orders_total": 2,  # a-1 (50), a-2 (40); a-3 nets to 0
        "spend_total": 90.0,  # 30 + 20 + 40 + 10 - 10 + 25 - 25
        "order_value_mean": 45.0,
        "order_value_max": 50.0,
        "lines_per_order": 2.5,  # (2 + 3) / 2: the return line is a line of a-2
        "gap_mean_days": A_GAP,
        "gap_std_days": NAN,  # one gap: no sample standard deviation
        "gap_last_days": A_GAP,
        "gap_ratio": (9 + 12 * H) / A_GAP,
        "orders_30d": 1,
        "orders_90d": 1,
        "orders_180d": 2,
        "orders_365d": 2,
        "spend_30d": 40.0,  # a-2 (40) + a-3 (0)
        "spend_90d": 40.0,
        "spend_180d": 90.0,
        "spend_365d": 90.0,
        "orders_trend_90d": 0,  # 1 - (2 - 1)
        "spend_trend_90d": -10.0,  # 40 - (90 - 40)
        "returns_share": 35 / 125,  # returned 10 + 25 of gross 30 + 20 + 40 + 10 + 25
        "categories_distinct": 3,  # GROCERY 70, DAIRY 20, PRODUCE 10 (gross, categorised)
        "category_entropy": entropy(0.7, 0.2, 0.1),
        "top_category_share": 0.7,
    },
    "b": {
        "recency_days": H,
        "tenure_days": 90.0,
        "orders_total": 3,
        "spend_total": 40.0,
        "order_value_mean": 40 / 3,
        "order_value_max": 20.0,
        "lines_per_order": 4 / 3,
        "gap_mean_days": sum(B_GAPS) / 2,
        "gap_std_days": (B_GAPS[1] - B_GAPS[0]) / math.sqrt(2),
        "gap_last_days": B_GAPS[1],
        "gap_ratio": H / (sum(B_GAPS) / 2),
        "orders_30d": 1,
        "orders_90d": 3,
        "orders_180d": 3,
        "orders_365d": 3,
        "spend_30d": 5.0,
        "spend_90d": 40.0,
        "spend_180d": 40.0,
        "spend_365d": 40.0,
        "orders_trend_90d": 3,  # 3 - (3 - 3)
        "spend_trend_90d": 40.0,
        "returns_share": 0.0,
        "categories_distinct": 3,  # PRODUCE 15, GROCERY 20, DAIRY 5
        "category_entropy": entropy(15 / 40, 20 / 40, 5 / 40),
        "top_category_share": 0.5,
    },
    "c": {
        "recency_days": 20 + 9 * H,  # 06-10 15:00 -> 07-01 00:00
        "tenure_days": 395.5,  # 2023-06-01 12:00 -> 2024-07-01 00:00 (366 + 30 days - 12 h)
        "orders_total": 3,
        "spend_total": 125.0,
        "order_value_mean": 125 / 3,
        "order_value_max": 60.0,
        "lines_per_order": 1.0,
        "gap_mean_days": sum(C_GAPS) / 2,
        "gap_std_days": (C_GAPS[0] - C_GAPS[1]) / math.sqrt(2),
        "gap_last_days": 6 * H,
        "gap_ratio": (20 + 9 * H) / (sum(C_GAPS) / 2),
        "orders_30d": 2,
        "orders_90d": 2,
        "orders_180d": 2,
        "orders_365d": 2,  # c-1 is before 2023-07-02
        "spend_30d": 100.0,
        "spend_90d": 100.0,
        "spend_180d": 100.0,
        "spend_365d": 100.0,
        "orders_trend_90d": 2,
        "spend_trend_90d": 100.0,
        "returns_share": 0.0,
        "categories_distinct": 2,  # GROCERY 25, HOUSEHOLD 100
        "category_entropy": entropy(0.2, 0.8),
        "top_category_share": 0.8,
    },
    "f": {
        "recency_days": 180.5,
        "tenure_days": 180.5,
        "orders_total": 1,
        "spend_total": 80.0,
        "order_value_mean": 80.0,
        "order_value_max": 80.0,
        "lines_per_order": 2.0,
        "gap_mean_days": NAN,
        "gap_std_days": NAN,
        "gap_last_days": NAN,
        "gap_ratio": NAN,
        "orders_30d": 0,
        "orders_90d": 0,
        "orders_180d": 0,  # 2024-01-02 12:00 is before 2024-01-03
        "orders_365d": 1,
        "spend_30d": 0.0,
        "spend_90d": 0.0,
        "spend_180d": 0.0,
        "spend_365d": 80.0,
        "orders_trend_90d": 0,
        "spend_trend_90d": 0.0,
        "returns_share": 0.0,
        "categories_distinct": 1,
        "category_entropy": 0.0,
        "top_category_share": 1.0,
    },
}


@pytest.fixture(scope="module")
def lines() -> pd.DataFrame:
    return transactions_frame(LINES)


@pytest.fixture(scope="module")
def snapshot(lines: pd.DataFrame) -> Snapshot:
    return build_snapshot(lines, AS_OF)


def frame_row(frame: pd.DataFrame, member: str) -> dict[str, float]:
    (position,) = np.flatnonzero(frame[MEMBER_ID] == member)
    return frame.drop(columns=MEMBER_ID).iloc[position].to_dict()


def assert_features(actual: dict[str, float], expected: dict[str, float]) -> None:
    assert list(actual) == list(expected)
    for name, value in expected.items():
        assert actual[name] == pytest.approx(value, rel=1e-12, abs=1e-12, nan_ok=True), name


LIFETIME = [f.name for f in CATALOGUE if f.lifetime]
# a typical fitted member's BG/NBD + Gamma-Gamma outputs, for rendering their words
LIFETIME_ROW = {"p_alive": 0.62, "bgnbd_purchases_90d": 1.4, "gg_order_value": 37.5}


def test_expected_table_names_every_catalogue_feature() -> None:
    for values in EXPECTED.values():
        assert list(values) == feature_names(True, lifetime=False)


def test_only_members_with_a_purchase_before_the_cut_off_are_scored(snapshot: Snapshot) -> None:
    """d only returned, e first bought at the cut-off: both absent; rows sorted by member id."""
    assert snapshot.frame[MEMBER_ID].tolist() == ["a", "b", "c", "f"]
    assert snapshot.as_of == AS_OF


@pytest.mark.parametrize("member", sorted(EXPECTED))
def test_every_feature_of_every_member(snapshot: Snapshot, member: str) -> None:
    """The hand-computed table; four members are too few for a BG/NBD fit, so those are missing."""
    row = frame_row(snapshot.frame, member)
    assert all(np.isnan(row.pop(name)) for name in LIFETIME)
    assert_features(row, EXPECTED[member])


def test_frame_columns_and_dtypes_follow_the_catalogue(snapshot: Snapshot) -> None:
    frame = snapshot.frame
    assert list(frame.columns) == [MEMBER_ID, *feature_names(True)]
    assert snapshot.feature_names == feature_names(True)
    assert isinstance(frame[MEMBER_ID].dtype, pd.StringDtype)
    assert (frame.drop(columns=MEMBER_ID).dtypes == "float64").all()
    assert frame.index.tolist() == list(range(len(frame)))


def test_without_a_category_column_category_features_are_absent(lines: pd.DataFrame) -> None:
    frame = build_snapshot(lines.drop(columns=CATEGORY), AS_OF).frame

    assert list(frame.columns) == [MEMBER_ID, *feature_names(False)]
    category_features = {"categories_distinct", "category_entropy", "top_category_share"}
    assert not category_features & set(frame.columns)
    for member, expected in EXPECTED.items():
        kept = {name: value for name, value in expected.items() if name in feature_names(False)}
        row = {name: value for name, value in frame_row(frame, member).items() if name not in LIFETIME}
        assert_features(row, kept)


# Without an order_id column every purchase is a member-day: a's return (06-25) and cancelled
# lines (06-28) become days of their own that are not purchases, and c's two orders on
# 2024-06-10 become one purchase of 100.
WITHOUT_ORDER_IDS = [
    ("a", "orders_total", 2),
    ("a", "order_value_mean", 50.0),  # 03-02: 50, 06-21: 50 (the return is on 06-25)
    ("a", "lines_per_order", 2.0),
    ("a", "spend_30d", 40.0),  # 06-21 (50) + 06-25 (-10) + 06-28 (0)
    ("a", "orders_30d", 1),
    ("b", "orders_total", 3),
    ("b", "lines_per_order", 4 / 3),
    ("c", "orders_total", 2),
    ("c", "order_value_max", 100.0),
    ("c", "lines_per_order", 1.5),
    ("c", "recency_days", 20 + 15 * H),  # the member-day starts at its first line, 09:00
    ("c", "gap_last_days", 374 + 21 * H),
    ("c", "orders_30d", 1),
]


@pytest.fixture(scope="module")
def without_order_ids(lines: pd.DataFrame) -> pd.DataFrame:
    return build_snapshot(lines.drop(columns=ORDER_ID), AS_OF).frame


@pytest.mark.parametrize(("member", "feature", "expected"), WITHOUT_ORDER_IDS)
def test_without_order_ids_a_purchase_is_a_member_day(
    without_order_ids: pd.DataFrame, member: str, feature: str, expected: float
) -> None:
    frame = without_order_ids

    assert frame[MEMBER_ID].tolist() == ["a", "b", "c", "f"]
    assert frame_row(frame, member)[feature] == pytest.approx(expected, rel=1e-12)


def test_a_member_with_only_returns_or_nothing_before_the_cut_off_is_absent() -> None:
    lines = transactions_frame(
        [
            ("r", "2024-06-01 10:00", -15.0, "r-1", "GROCERY"),
            ("z", "2024-06-01 10:00", 0.0, "z-1", "GROCERY"),  # a zero order buys nothing
            ("k", "2024-06-02 10:00", 9.0, "k-1", "GROCERY"),
        ]
    )
    assert build_snapshot(lines, AS_OF).frame[MEMBER_ID].tolist() == ["k"]


def test_nobody_bought_before_the_cut_off_gives_an_empty_frame_with_all_columns(
    lines: pd.DataFrame,
) -> None:
    frame = build_snapshot(lines, date(2023, 1, 1)).frame

    assert frame.empty
    assert list(frame.columns) == [MEMBER_ID, *feature_names(True)]


def test_a_fully_returned_order_is_not_a_purchase() -> None:
    """An order bought for 0.10 + 0.20 and returned line by line nets to zero in currency."""
    lines = transactions_frame(
        [
            ("x", "2024-06-01 10:00", 0.10, "x-1", "GROCERY"),
            ("x", "2024-06-01 10:00", 0.20, "x-1", "DAIRY"),
            ("x", "2024-06-03 10:00", -0.10, "x-1", "GROCERY"),
            ("x", "2024-06-03 10:00", -0.20, "x-1", "DAIRY"),
            ("k", "2024-06-02 10:00", 9.0, "k-1", "GROCERY"),
        ]
    )
    assert build_snapshot(lines, AS_OF).frame[MEMBER_ID].tolist() == ["k"]


@pytest.mark.parametrize(
    ("times", "expected_last"),
    [
        (["2024-06-01 10:00", "2024-06-03 10:00", "2024-06-05 10:00", "2024-06-05 10:00"], 0.0),
        (["2024-06-05 10:00", "2024-06-05 10:00"], 0.0),  # seen in Online Retail: 12424
    ],
    ids=["four-purchases", "two-purchases"],
)
def test_gap_last_is_zero_when_the_last_two_purchases_share_a_timestamp(
    times: list[str], expected_last: float
) -> None:
    lines = transactions_frame(
        [("t", ts, 10.0, f"t-{n}", "GROCERY") for n, ts in enumerate(times)]
    )
    row = frame_row(build_snapshot(lines, AS_OF).frame, "t")

    assert row["gap_last_days"] == expected_last


# --- golden files --------------------------------------------------------------------------------

GOLDEN_DIR = Path(__file__).resolve().parents[1] / "golden"
GOLDEN_SNAPSHOT = GOLDEN_DIR / "snapshot_sim20_2023-06-01.csv"
GOLDEN_TRANSACTIONS = GOLDEN_DIR / "transactions_sim20.csv"  # the snapshot's input, kept as well
GOLDEN_AS_OF = date(2023, 6, 1)


def simulated_transactions() -> pd.DataFrame:
    transactions, _ = simulate_transactions(20, date(2023, 1, 1), 200, seed=11)
    return transactions


def read_golden_transactions() -> pd.DataFrame:
    text = pd.read_csv(GOLDEN_TRANSACTIONS, dtype=str, keep_default_na=False)
    return transactions_frame(text.where(text != "", None).itertuples(index=False), text.columns)


def read_golden_snapshot() -> pd.DataFrame:
    golden = pd.read_csv(GOLDEN_SNAPSHOT, dtype={MEMBER_ID: "string"})
    features = golden.drop(columns=MEMBER_ID).astype("float64")
    features.insert(0, MEMBER_ID, golden[MEMBER_ID])
    return features


def write_golden() -> None:
    GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
    transactions = simulated_transactions()
    transactions.to_csv(GOLDEN_TRANSACTIONS, index=False)
    build_snapshot(transactions, GOLDEN_AS_OF).frame.to_csv(GOLDEN_SNAPSHOT, index=False)


def test_snapshot_of_the_golden_transactions_matches_the_golden_snapshot() -> None:
    """Any change to a feature definition shows up here as a diff of the snapshot CSV."""
    actual = build_snapshot(read_golden_transactions(), GOLDEN_AS_OF).frame

    golden = read_golden_snapshot()
    fitted = [f.name for f in CATALOGUE if f.lifetime]

    assert len(actual) == 20
    pd.testing.assert_frame_equal(
        actual.drop(columns=fitted), golden.drop(columns=fitted), check_exact=False, rtol=1e-9, atol=0
    )
    # BG/NBD + Gamma-Gamma come out of an L-BFGS-B fit on 20 members, whose optimum moves between CPUs
    # (vectorised log/gammaln differ in the last bits): by ~1e-7 on an Intel AVX2 machine, by up to
    # 1.1e-5 (P(alive), expected purchases) on an AMD EPYC with AVX-512, against the file written on
    # another AMD. 1e-4 leaves that margin and is still far less than any change to the model moves them.
    pd.testing.assert_frame_equal(actual[fitted], golden[fitted], check_exact=False, rtol=1e-4, atol=0)


def test_simulator_still_produces_the_golden_transactions() -> None:
    """The golden input is simulate_transactions(20, 2023-01-01, 200 days, seed=11); a change to
    the simulator shows up here (and only here): regenerate with the command at the top."""
    pd.testing.assert_frame_equal(
        simulated_transactions(), read_golden_transactions(), check_exact=True
    )


# --- catalogue -----------------------------------------------------------------------------------


@pytest.mark.parametrize("has_category", [True, False])
def test_feature_names_are_catalogue_order_without_duplicates(has_category: bool) -> None:
    names = feature_names(has_category)

    assert names == [f.name for f in CATALOGUE if has_category or not f.needs_category]
    assert len(set(names)) == len(names)
    assert list(catalogue.BY_NAME) == [f.name for f in CATALOGUE]


@pytest.mark.parametrize("feature", CATALOGUE, ids=lambda f: f.name)
def test_every_feature_has_words_that_render_for_a_typical_member(
    snapshot: Snapshot, feature: catalogue.Feature
) -> None:
    """Member b has every feature present; its reason must render from the template itself."""
    row = {**frame_row(snapshot.frame, "b"), **LIFETIME_ROW}
    words = feature.in_words(row)

    assert feature.description.strip() and feature.unit.strip()
    assert "{" + feature.name in feature.reason
    assert words and "{" not in words and "}" not in words
    assert not words.startswith(feature.description + ":")  # not the fallback
    assert words != feature.when_missing


@pytest.mark.parametrize(
    ("member", "name", "expected"),
    [
        ("c", "recency_days", "no purchase for 20 days"),
        ("c", "gap_ratio", "no purchase for 20 days, 0.1x their usual gap"),
        ("c", "spend_total", "125.00 spent in total"),
        ("c", "top_category_share", "80% of spend in one category"),
        ("a", "returns_share", "returned 28% of what they bought"),
        ("a", "orders_trend_90d", "+0 purchases versus the previous 90 days"),
        ("a", "spend_trend_90d", "spend -10.00 versus the previous 90 days"),
        ("b", "lines_per_order", "1.3 lines per basket on average"),
    ],
)
def test_reason_text_for_known_members(
    snapshot: Snapshot, member: str, name: str, expected: str
) -> None:
    assert catalogue.BY_NAME[name].in_words(frame_row(snapshot.frame, member)) == expected


@pytest.mark.parametrize(
    ("member", "name", "expected"),
    [
        ("f", "gap_mean_days", ONE_PURCHASE),
        ("f", "gap_last_days", ONE_PURCHASE),
        ("f", "gap_ratio", ONE_PURCHASE),
        ("a", "gap_std_days", "fewer than three purchases, so no rhythm to measure yet"),
    ],
)
def test_missing_values_are_told_with_when_missing(
    snapshot: Snapshot, member: str, name: str, expected: str
) -> None:
    row = frame_row(snapshot.frame, member)

    assert math.isnan(row[name])
    assert catalogue.BY_NAME[name].in_words(row) == expected


def test_missing_value_without_when_missing_falls_back_to_the_description() -> None:
    feature = catalogue.BY_NAME["category_entropy"]
    assert feature.when_missing is None
    assert feature.in_words({"category_entropy": NAN}) == f"{feature.description}: not known"
    assert feature.in_words({}) == f"{feature.description}: not known"


def test_reason_naming_a_missing_other_feature_falls_back_to_the_value() -> None:
    """gap_ratio's template also names recency_days; without it the value is still told."""
    feature = catalogue.BY_NAME["gap_ratio"]
    assert feature.in_words({"gap_ratio": 2.0, "recency_days": NAN}) == (
        f"{feature.description}: 2.0"
    )


def test_words_tell_many_members_at_once_each_case_as_in_words() -> None:
    """One call over a column set: complete, own value missing, another named value missing, and
    values of an integer column; every answer a plain ``str`` equal to the one-member ``in_words``."""
    feature = catalogue.BY_NAME["gap_ratio"]
    columns = {"gap_ratio": np.array([6.04, NAN, 2.0, 0.5]), "recency_days": np.array([214.4, 9.0, NAN, 10.0])}
    expected = ["no purchase for 214 days, 6.0x their usual gap", ONE_PURCHASE,
                f"{feature.description}: 2.0", "no purchase for 10 days, 0.5x their usual gap"]

    words = feature.words(columns)

    assert words == expected
    assert all(type(text) is str for text in words)
    assert [feature.in_words({name: values[i] for name, values in columns.items()}) for i in range(4)] == expected
    assert catalogue.BY_NAME["orders_total"].words({"orders_total": np.array([3, 12])}) == [
        "3 purchases in total", "12 purchases in total"]
    assert feature.words({"gap_ratio": np.array([2.0])}) == [f"{feature.description}: 2.0"]  # recency not given
    with pytest.raises(KeyError, match="gap_ratio"):
        feature.words({"recency_days": np.array([1.0])})


if __name__ == "__main__":
    if sys.argv[1:] != ["--regenerate-golden"]:
        raise SystemExit("usage: python -m tests.features.test_snapshot --regenerate-golden")
    write_golden()
    print(f"wrote {GOLDEN_TRANSACTIONS} and {GOLDEN_SNAPSHOT}")
