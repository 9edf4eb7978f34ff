"""The tier programme's campaigns: tier_upgrade_nudge (close to the next card) and downgrade_warning (保级提醒).

Both rank by their progress column x value (``serving.targets``); without a programme in the
snapshot their driver is empty and the refusal says what is missing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from serving.schemas import TargetFilters
from serving.targets import CampaignUnavailable, ranked_targets
from tests.serving.test_targets import ids, members, ranked


@pytest.mark.parametrize(("campaign", "row", "eligible"), [
    ("tier_upgrade_nudge", {"next_tier_progress": 0.8}, True),
    ("tier_upgrade_nudge", {"next_tier_progress": 0.79}, False),
    ("tier_upgrade_nudge", {"next_tier_progress": np.nan, "retention_progress": 0.5}, False),  # top card
    ("downgrade_warning", {"downgrade_risk": True, "retention_progress": 0.5}, True),
    ("downgrade_warning", {"downgrade_risk": False, "retention_progress": 1.0}, False),
    ("downgrade_warning", {"downgrade_risk": None, "retention_progress": 0.5}, False),  # entry card: nothing to keep
])
def test_tier_campaign_rule(campaign: str, row: dict[str, object], eligible: bool) -> None:
    base = {"next_tier_progress": 0.1, "retention_progress": 0.1, "downgrade_risk": False}
    # an ineligible other member keeps the driver column from being all empty
    assert ids(ranked({"m": {**base, **row}, "other": base}, campaign)) == (["m"] if eligible else [])


def test_nudge_ranks_by_progress_times_value() -> None:
    """0.9 x 40 = 36 < 0.85 x 100 = 85: the valuable member first although further from the card."""
    rows = {"close": {"next_tier_progress": 0.9, "expected_value": 40.0, "downgrade_risk": False},
            "valuable": {"next_tier_progress": 0.85, "expected_value": 100.0, "downgrade_risk": False}}
    listed = ranked(rows, "tier_upgrade_nudge")
    assert ids(listed) == ["valuable", "close"] and list(listed["score"]) == pytest.approx([85.0, 36.0])


def test_without_a_programme_the_refusal_names_it() -> None:
    scores, features = members({"m": {"lifecycle_stage": "active"}})
    for campaign, column in (("tier_upgrade_nudge", "next_tier_progress"), ("downgrade_warning", "retention_progress")):
        with pytest.raises(CampaignUnavailable, match=f"{column}, which is empty: it needs a tier programme"):
            ranked_targets(scores, features, campaign, TargetFilters())


def test_segments_list_a_programme_s_cards_in_ladder_order() -> None:
    """GET /segments: with a programme its cards replace the quantile ladder, lowest first, empty ones as 0."""
    from features.segment_rules import read_segment_rules
    from serving.segment_summary import configured_labels, segment_counts

    scores = pd.DataFrame({"rfm_segment": ["lost", "lost"], "abc_class": ["C", "A"], "lifecycle_stage": ["lost"] * 2,
                           "tier": ["gold", "vip"], "clv_12m": [30.0, 10.0]})
    tiers = segment_counts(scores, configured_labels(read_segment_rules(), ("vip", "silver", "gold")))["tier"]
    assert [(t.name, t.members, t.value) for t in tiers] == [("vip", 1, 10.0), ("silver", 0, 0.0), ("gold", 1, 30.0)]
