"""The tier programme's rules as a table of cases: a tiny member history -> the card held as of a date.

Programme: ``tests/features/tier_cases.py`` (silver 1000 / one day 500 / retain 600, gold 3000 /
1500 / 2000, diamond 6000 / - / 4000, AA two years of 8000 or one of 15000, out below 5000).
Each expected card is worked out by hand in the case's id.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import pytest

from features.tier_migration import migration_cutoffs
from features.tier_outputs import tiers_as_of
from features.tier_spend import qualifying_days
from tests.features.tier_cases import history, programme

CASES: list[tuple[str, dict[str, Any], list[tuple[Any, ...]], date, str]] = [
    # --- single-day vs cumulative, within one period
    ("small spend keeps the entry card", {}, [("2023-02-01", 100)], date(2023, 6, 1), "vip"),
    ("cumulative 600 + 400 reaches silver", {}, [("2023-02-01", 600), ("2023-03-01", 400)], date(2023, 6, 1), "silver"),
    ("cumulative 333 x 3 = 999 does not", {},
     [("2023-02-01", 333), ("2023-03-01", 333), ("2023-04-01", 333)], date(2023, 6, 1), "vip"),
    ("one day of 500 reaches silver", {}, [("2023-02-01", 500)], date(2023, 6, 1), "silver"),
    ("two lines of one day add up (300 + 200)", {},
     [("2023-02-01 10:00", 300), ("2023-02-01 18:00", 200)], date(2023, 6, 1), "silver"),
    ("300 and 200 on two days are neither", {}, [("2023-02-01", 300), ("2023-02-02", 200)], date(2023, 6, 1), "vip"),
    ("one day of 1500 reaches gold", {}, [("2023-02-01", 1500)], date(2023, 6, 1), "gold"),
    ("diamond has no single-day route: 5999 in a day is gold", {}, [("2023-02-01", 5999)], date(2023, 6, 1), "gold"),
    ("periods do not add: 450 in Dec + 450 + 450 in Jan", {},
     [("2022-12-20", 450), ("2023-01-05", 450), ("2023-01-06", 450)], date(2023, 2, 1), "vip"),
    ("a purchase on the as-of day does not count yet", {},
     [("2023-01-02", 10), ("2023-06-01 09:00", 5000)], date(2023, 6, 1), "vip"),
    # --- exclusions
    ("3 of one product in an order is a bulk buy", {}, [("2023-02-01", 1200, 3)], date(2023, 6, 1), "vip"),
    ("2 of one product counts", {}, [("2023-02-01", 1200, 2)], date(2023, 6, 1), "silver"),
    ("2 + 2 of one product on two lines of one order is bulk", {},
     [("2023-02-01", 600, 2, "fashion", "p", "o"), ("2023-02-01", 600, 2, "fashion", "p", "o")], date(2023, 6, 1), "vip"),
    ("2 + 2 of one product in two orders is not", {},
     [("2023-02-01", 600, 2, "fashion", "p", "o1"), ("2023-02-01", 600, 2, "fashion", "p", "o2")], date(2023, 6, 1),
     "silver"),
    ("an excluded category never counts", {}, [("2023-02-01", 1200, 1, "gold_bullion")], date(2023, 6, 1), "vip"),
    ("with the exclusion off it counts", {"exclusions": {}},
     [("2023-02-01", 1200, 3, "gold_bullion")], date(2023, 6, 1), "silver"),
    # --- jump or step
    ("jump: 3500 in one day goes straight to gold", {}, [("2023-02-01", 3500)], date(2023, 6, 1), "gold"),
    ("step: 3500 in one day is one card up", {"promotion": "step"}, [("2023-02-01", 3500)], date(2023, 6, 1), "silver"),
    ("step: the next purchase day lifts one more", {"promotion": "step"},
     [("2023-02-01", 3500), ("2023-02-02", 10)], date(2023, 6, 1), "gold"),
    ("step: one card per day, never past what is earned", {"promotion": "step"},
     [("2023-02-01", 7000), ("2023-02-02", 10), ("2023-02-03", 10), ("2023-02-04", 10)], date(2023, 6, 1), "diamond"),
    # --- 保级: upgrade at once, downgrade only at the end of the period
    ("silver earned 2023 is held through 2024 with no spend", {}, [("2023-02-01", 1000)], date(2024, 12, 31), "silver"),
    ("... and kept with 600 in 2024", {}, [("2023-02-01", 1000), ("2024-05-01", 600)], date(2025, 1, 1), "silver"),
    ("... and lost with 300 + 299 in 2024", {},
     [("2023-02-01", 1000), ("2024-05-01", 300), ("2024-06-01", 299)], date(2025, 1, 1), "vip"),
    ("this_period: a one-day silver (500 < retain 600) is lost at the end of 2023", {"card_term": "this_period"},
     [("2023-02-01", 500)], date(2024, 1, 1), "vip"),
    ("next_period: the same silver is held through 2024", {}, [("2023-02-01", 500)], date(2024, 1, 1), "silver"),
    ("this_period: 1000 in 2023 keeps silver into 2024", {"card_term": "this_period"},
     [("2023-02-01", 1000)], date(2024, 6, 1), "silver"),
    ("re-earning gold in one day of 2024 (1500 < retain 2000) renews it through 2025", {},
     [("2023-02-01", 3000), ("2024-03-01", 1500)], date(2025, 12, 31), "gold"),
    ("... and with nothing in 2025 it is gone in 2026", {},
     [("2023-02-01", 3000), ("2024-03-01", 1500)], date(2026, 1, 1), "silver"),
    ("a return lowers spend but not an upgrade already made", {},
     [("2023-02-01", 1000), ("2023-02-05", -1000)], date(2023, 6, 1), "silver"),
    ("one_step: diamond with 700 in its last year drops to gold", {},
     [("2023-02-01", 7000), ("2024-02-01", 700)], date(2025, 1, 1), "gold"),
    ("to_retained: the same drops to silver (700 >= 600)", {"downgrade": "to_retained"},
     [("2023-02-01", 7000), ("2024-02-01", 700)], date(2025, 1, 1), "silver"),
    ("to_retained: nothing in its last year drops to vip", {"downgrade": "to_retained"},
     [("2023-02-01", 7000)], date(2025, 1, 1), "vip"),
    # --- AA / 至尊VIP over several years
    ("one year of 9000 is diamond, not AA", {}, [("2023-02-01", 9000)], date(2024, 1, 1), "diamond"),
    ("two consecutive years of 8000 make AA", {}, [("2022-02-01", 8000), ("2023-02-01", 8000)], date(2024, 1, 1), "aa"),
    ("two years with a gap do not", {}, [("2021-02-01", 8000), ("2023-02-01", 8000)], date(2024, 1, 1), "diamond"),
    ("one year of 15000 makes AA", {}, [("2023-02-01", 15000)], date(2024, 1, 1), "aa"),
    ("AA is assessed at the period end, not during it", {}, [("2023-02-01", 15000)], date(2023, 12, 31), "diamond"),
    ("AA stays with 5000 the next year", {}, [("2023-02-01", 15000), ("2024-02-01", 5000)], date(2025, 1, 1), "aa"),
    ("AA is left below 5000; the diamond card is kept (4999 >= 4000)", {},
     [("2023-02-01", 15000), ("2024-02-01", 4999)], date(2025, 1, 1), "diamond"),
]


@pytest.mark.parametrize(("case", "changes", "lines", "as_of", "expected"), CASES, ids=[c[0] for c in CASES])
def test_card_held(case: str, changes: dict[str, Any], lines: list[tuple[Any, ...]], as_of: date,
                   expected: str) -> None:
    tiers = tiers_as_of(history(*lines), programme(**changes), as_of)
    assert tiers["tier"].tolist() == [expected], case


def test_outputs_of_one_member_by_hand() -> None:
    """Silver from 2023 (1200), 300 so far in 2024: as of 2024-07-01 silver, held since last period,
    expiring 2024-12-31. 2700 more reaches gold (300 / 3000 = 0.1). Pace: 300 over the trailing 365
    days (2023-07-02..2024-06-30 has only the 300) -> 300/365 a day x 184 days left + 300 so far =
    451.23 < retain 600, so at risk; with the value model's 2 a day: 300 + 368 = 668 >= 600, safe."""
    lines = history(("2023-02-01", 1200), ("2024-03-01", 300))
    at_pace = tiers_as_of(lines, programme(), date(2024, 7, 1)).iloc[0]
    assert (at_pace["tier"], at_pace["tier_previous"], at_pace["tier_change"]) == ("silver", "silver", "same")
    assert at_pace["tier_expires"] == "2024-12-31"
    assert at_pace["spend_to_next_tier"] == 2700.0 and at_pace["next_tier_progress"] == pytest.approx(0.1)
    assert at_pace["projected_period_spend"] == pytest.approx(300 + 300 / 365 * 184)
    assert bool(at_pace["downgrade_risk"]) and at_pace["downgrade_risk_basis"] == "pace"
    # 80% interval: one purchase day of 300 in the window, so E[s^2]/E[s] = 300; the spend to come
    # (300/365 x 184) has sd sqrt(coming x 300); the low end is floored at the 300 already spent
    coming = 300 / 365 * 184
    assert at_pace["projected_period_spend_low"] == pytest.approx(300.0)
    assert at_pace["projected_period_spend_high"] == pytest.approx(300 + coming + 1.2815516 * np.sqrt(coming * 300))
    model = pd.Series({"m": 2.0})
    valued = tiers_as_of(lines, programme(), date(2024, 7, 1), expected_daily_spend=model).iloc[0]
    assert valued["projected_period_spend"] == pytest.approx(668.0)
    assert not bool(valued["downgrade_risk"]) and valued["downgrade_risk_basis"] == "value_model"
    assert valued["projected_period_spend_high"] == pytest.approx(668 + 1.2815516 * np.sqrt(368 * 300))


def test_change_columns_across_a_period_end() -> None:
    """An upgrade this period reads up; a card lost at the last period end reads down; the entry card has no expiry."""
    lines = pd.concat([history(("2024-02-01", 1000), member="up"),
                       history(("2022-02-01", 1000), member="down"),
                       history(("2024-02-01", 10), member="same")])
    tiers = tiers_as_of(lines, programme(), date(2024, 6, 1)).set_index("member_id")
    assert tiers.loc["up", ["tier", "tier_previous", "tier_change"]].tolist() == ["silver", "vip", "up"]
    assert tiers.loc["down", ["tier", "tier_previous", "tier_change"]].tolist() == ["vip", "silver", "down"]
    assert tiers.loc["same", "tier_change"] == "same"
    assert pd.isna(tiers.loc["same", "tier_expires"]) and pd.isna(tiers.loc["same", "downgrade_risk"])
    assert np.isnan(tiers.loc["down", "projected_period_spend_low"])  # no purchase day in the pace window
    assert tiers.loc["up", "tier_expires"] == "2025-12-31"


def test_members_without_a_line_before_as_of_are_absent() -> None:
    lines = pd.concat([history(("2023-02-01", 10), member="a"), history(("2023-08-01", 10), member="b")])
    assert tiers_as_of(lines, programme(), date(2023, 6, 1))["member_id"].tolist() == ["a"]


def test_supreme_members_have_no_next_card_and_face_the_exit_threshold() -> None:
    tiers = tiers_as_of(history(("2023-02-01", 15000)), programme(), date(2024, 1, 1)).iloc[0]
    assert tiers["tier"] == "aa" and np.isnan(tiers["spend_to_next_tier"])
    assert tiers["tier_retain_threshold"] == 5000.0 and tiers["tier_expires"] == "2024-12-31"


def test_exclusions_are_counted_and_missing_columns_named() -> None:
    """Two bulk lines (one of 3, one of 2 + 2 in one order) and one excluded category line are counted; without
    quantity and category columns nothing can be excluded and both rules say so."""
    lines = history(("2023-02-01", 10, 3), ("2023-02-01", 10, 2, "fashion", "p", "o"),
                    ("2023-02-01", 10, 2, "fashion", "p", "o"), ("2023-02-02", 10, 1, "gold_bullion"),
                    ("2023-02-03", 10))
    counted = qualifying_days(lines, programme())
    assert counted.excluded == {"bulk_quantity": 3, "categories": 1} and counted.not_applied == ()
    assert counted.days["spend"].tolist() == [10.0]
    bare = qualifying_days(lines.drop(columns=["quantity", "category"]), programme())
    assert bare.excluded == {} and bare.not_applied == ("bulk_quantity", "categories")
    assert bare.days["spend"].tolist() == [30.0, 10.0, 10.0]


def test_migration_periods() -> None:
    assert migration_cutoffs(date(2023, 11, 15), date(2024, 1, 3), "month") == [
        date(2023, 11, 1), date(2023, 12, 1), date(2024, 1, 1), date(2024, 2, 1)]
    assert migration_cutoffs(date(2024, 1, 3), date(2024, 1, 9), "week") == [
        date(2024, 1, 1), date(2024, 1, 8), date(2024, 1, 15)]
    with pytest.raises(ValueError, match="freq: 'year' is not supported"):
        migration_cutoffs(date(2024, 1, 3), date(2024, 1, 9), "year")  # type: ignore[arg-type]
