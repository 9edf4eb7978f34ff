"""Tier downgrade grace across snapshots: last period's tiers come from the snapshot store.

Ladder (absolute amounts): silver 100, platinum 500, diamond 1000, retain_share 0.8, so a member
holding silver keeps it down to a qualifying spend of 80. Qualifying spend is ``spend_365d``:
net spend in [as_of - 365 days, as_of). Every expected tier is worked out by hand in the comments.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from features.segment_rules import SegmentRules, TierRules, read_segment_rules
from features.snapshot import Snapshot, build_snapshot
from features.store import previous_tiers, write_snapshot
from tests.features.conftest import transactions_frame

LAST_PERIOD = date(2024, 1, 1)  # window [2023-01-01, 2024-01-01)
THIS_PERIOD = date(2024, 3, 1)  # window [2023-03-02, 2024-03-01): 2024 is a leap year
ROWS = [
    # keeps: 30 + 90 = 120 last period (silver); 90 this period: 80 <= 90 < 100
    ("keeps", "2023-02-15 10:00", 30.0, "k1", "grocery"),
    ("keeps", "2023-06-01 10:00", 90.0, "k2", "grocery"),
    # drops: 50 + 70 = 120 last period (silver); 70 this period < 80
    ("drops", "2023-02-15 10:00", 50.0, "d1", "grocery"),
    ("drops", "2023-06-01 10:00", 70.0, "d2", "grocery"),
    # climbs: 100 last period (silver); 100 + 450 = 550 this period (platinum)
    ("climbs", "2023-06-01 10:00", 100.0, "c1", "dairy"),
    ("climbs", "2024-02-01 10:00", 450.0, "c2", "dairy"),
    # diamond: 400 + 1000 = 1400 last period; 1000 - 150 (a return) = 850 this period: 800 <= 850
    ("diamond", "2023-02-01 10:00", 400.0, "x1", "bakery"),
    ("diamond", "2023-09-01 10:00", 1000.0, "x2", "bakery"),
    ("diamond", "2023-12-01 10:00", -150.0, "x2", "bakery"),
    # newcomer: first purchase this period, 600 (platinum), no tier history
    ("newcomer", "2024-02-10 10:00", 600.0, "n1", "produce"),
]
WITH_GRACE = {"keeps": "silver", "drops": "member", "climbs": "platinum", "diamond": "diamond", "newcomer": "platinum"}
WITHOUT_GRACE = {**WITH_GRACE, "keeps": "member", "diamond": "platinum"}


@pytest.fixture(scope="module")
def rules() -> SegmentRules:
    amounts = TierRules.model_validate({
        "qualifying_column": "spend_365d", "base": "member", "retain_share": 0.8,
        "ladder": [{"name": "silver", "amount": 100}, {"name": "platinum", "amount": 500},
                   {"name": "diamond", "amount": 1000}],
    })
    return read_segment_rules(None).model_copy(update={"tiers": amounts})


@pytest.fixture(scope="module")
def transactions() -> pd.DataFrame:
    return transactions_frame(ROWS)


def tiers_of(snapshot: Snapshot) -> dict[str, str]:
    return dict(zip(snapshot.profile["member_id"].astype(str), snapshot.profile["tier"].astype(str)))


def test_last_period_tiers_as_worked_out(transactions: pd.DataFrame, rules: SegmentRules) -> None:
    """The starting point: every member of the last period earned its tier by spend alone."""
    last = build_snapshot(transactions, LAST_PERIOD, rules=rules)
    assert tiers_of(last) == {"keeps": "silver", "drops": "silver", "climbs": "silver", "diamond": "diamond"}


def test_previous_snapshot_in_the_store_grants_the_grace(
    transactions: pd.DataFrame, rules: SegmentRules, tmp_path: Path
) -> None:
    """Silver kept at 90 (>= 0.8 x 100) only with last period's snapshot; below 80 it drops; the
    upgrade and the newcomer's tier apply at once, with or without history."""
    write_snapshot(build_snapshot(transactions, LAST_PERIOD, rules=rules), tmp_path)
    held = previous_tiers(tmp_path, THIS_PERIOD)
    assert held is not None and held.to_dict() == {
        "climbs": "silver", "diamond": "diamond", "drops": "silver", "keeps": "silver"}
    graced = build_snapshot(transactions, THIS_PERIOD, rules=rules, previous_tiers=held)
    plain = build_snapshot(transactions, THIS_PERIOD, rules=rules)
    assert tiers_of(graced) == WITH_GRACE
    assert tiers_of(plain) == WITHOUT_GRACE
    # the grace changes tiers only: every other profile column and every feature is untouched
    pd.testing.assert_frame_equal(graced.frame, plain.frame)
    pd.testing.assert_frame_equal(graced.profile.drop(columns="tier"), plain.profile.drop(columns="tier"))


def test_only_a_strictly_older_snapshot_is_last_period(
    transactions: pd.DataFrame, rules: SegmentRules, tmp_path: Path
) -> None:
    """Of snapshots at 2023-04-01, 2024-01-01, 2024-03-01 (being rebuilt) and 2024-06-01, the
    2024-01-01 one supplies the tiers of a 2024-03-01 snapshot."""
    for as_of in (date(2023, 4, 1), LAST_PERIOD, THIS_PERIOD, date(2024, 6, 1)):
        write_snapshot(build_snapshot(transactions, as_of, rules=rules), tmp_path)
    held = previous_tiers(tmp_path, THIS_PERIOD)
    assert held is not None
    # 2023-04-01 knew only keeps/drops/diamond (climbs first bought in June); the later two know newcomer
    assert sorted(held.index) == ["climbs", "diamond", "drops", "keeps"]
    assert held.to_dict() == tiers_of(build_snapshot(transactions, LAST_PERIOD, rules=rules))


def test_no_older_snapshot_or_no_tiers_means_no_history(transactions: pd.DataFrame, tmp_path: Path) -> None:
    assert previous_tiers(tmp_path / "absent", THIS_PERIOD) is None
    assert previous_tiers(tmp_path, THIS_PERIOD) is None  # empty store
    plain = build_snapshot(transactions, LAST_PERIOD)
    write_snapshot(Snapshot(frame=plain.frame, as_of=LAST_PERIOD, fingerprint=plain.fingerprint), tmp_path)
    assert previous_tiers(tmp_path, THIS_PERIOD) is None  # a snapshot written before tiers existed
    assert previous_tiers(tmp_path, LAST_PERIOD) is None  # the same day is not a previous period


def test_a_previous_tier_off_the_ladder_is_refused_by_name(transactions: pd.DataFrame, rules: SegmentRules) -> None:
    with pytest.raises(ValueError, match="gold"):
        build_snapshot(transactions, THIS_PERIOD, rules=rules, previous_tiers=pd.Series({"keeps": "gold"}))
