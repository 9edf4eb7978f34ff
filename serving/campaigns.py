"""Campaigns: who is eligible for each, which probability drives its ranking, which model explains it.

A snapshot has no score history, so "rising risk" and "overdue" are read from what it does hold:
recency against the member's own usual gap (``gap_ratio``) and the 90-day purchase trend
(``RULE_FEATURES``). Ranking, filters and delivery of the lists live in ``serving.targets``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

LAPSED_STAGES = ("sleeping", "lost")
STILL_BUYING_STAGES = ("new", "active")
HIGH_VALUE_CLASSES = ("AA", "A")
RISK_THRESHOLD = 0.3  # churn probability from which a high-value member is "at risk"
REMINDER_THRESHOLD = 0.3  # P(buy within 7 days) from which a reminder is worth sending
OVERDUE_RATIO = 1.0  # gap_ratio >= 1: as long without a purchase as the member's usual gap, or longer
NUDGE_PROGRESS = 0.8  # share of the next card's threshold reached from which a member is "close" to it


@dataclass(frozen=True)
class Campaign:
    """A campaign: who is eligible, which probability drives it, and which model explains it."""

    name: str
    description: str
    driver: str  # the score column multiplied by value to rank, e.g. churn_probability
    task: str  # the model behind ``driver``, whose SHAP reasons are shown
    rule: Callable[[pd.DataFrame], pd.Series]  # members frame (scores + features) -> eligible mask
    raising_sign: int = 1  # sign of a SHAP contribution that raises ``driver`` (-1: AFT log-time)
    needs: str | None = None  # what fills ``driver`` when no model does (said when it is empty)


def _lapsing(members: pd.DataFrame) -> pd.Series:
    """Sleeping or lost: more than ``active_ratio`` of their usual gap without a purchase."""
    return members["lifecycle_stage"].isin(LAPSED_STAGES)


def _high_value_at_rising_risk(members: pd.DataFrame) -> pd.Series:
    """AA/A members, not yet lost, with churn probability >= RISK_THRESHOLD and a sign the risk
    is rising: overdue against their own rhythm, or fewer purchases than in the 90 days before."""
    rising = (members["gap_ratio"] >= OVERDUE_RATIO) | (members["orders_trend_90d"] < 0)
    return (members["abc_class"].isin(HIGH_VALUE_CLASSES) & (members["lifecycle_stage"] != "lost")
            & (members["churn_probability"] >= RISK_THRESHOLD) & rising)


def _still_buying(members: pd.DataFrame) -> pd.Series:
    """New or active members: an offer goes to someone who is shopping now, not to the lapsed."""
    return members["lifecycle_stage"].isin(STILL_BUYING_STAGES)


def _due_and_likely(members: pd.DataFrame) -> pd.Series:
    """P(buy within 7 days) >= REMINDER_THRESHOLD yet no purchase for at least their usual gap.

    One-time buyers have no own gap (``gap_ratio`` missing) and so are never "due".
    """
    return (members["p_purchase_7d"] >= REMINDER_THRESHOLD) & (members["gap_ratio"] >= OVERDUE_RATIO)


def _close_to_next_card(members: pd.DataFrame) -> pd.Series:
    """Tier programme: at least NUDGE_PROGRESS of the next card's threshold reached this period."""
    return members["next_tier_progress"] >= NUDGE_PROGRESS


def _losing_the_card(members: pd.DataFrame) -> pd.Series:
    """Tier programme (保级提醒): card holders whose pace falls short of their card's retention threshold."""
    return members["downgrade_risk"].astype("float64") == 1.0


TIER_PROGRAMME = "a tier programme (MEMBERSCORE_TIER_PROGRAMME) when the snapshot is built"

CAMPAIGNS: dict[str, Campaign] = {c.name: c for c in (
    Campaign("winback", "lapsing (sleeping or lost) members, by churn probability x value",
             "churn_probability", "churn", _lapsing),
    Campaign("retain_high_value", f"AA/A members not yet lost, churn probability >= {RISK_THRESHOLD} and overdue "
             "or buying less than the 90 days before, by churn probability x value",
             "churn_probability", "churn", _high_value_at_rising_risk),
    Campaign("upsell", "new or active members, by upsell probability x value, with the category to offer",
             "upsell_probability", "upsell", _still_buying),
    Campaign("next_purchase_reminder", f"P(buy within 7 days) >= {REMINDER_THRESHOLD} and no purchase for at least "
             "their usual gap, by that probability x value", "p_purchase_7d", "next_purchase", _due_and_likely,
             raising_sign=-1),
    Campaign("tier_upgrade_nudge", "members close to the next card this period, by progress towards it x value",
             "next_tier_progress", "value", _close_to_next_card, needs=TIER_PROGRAMME),
    Campaign("downgrade_warning", "card holders who will not reach their retention threshold at their current pace, "
             "by retention progress x value", "retention_progress", "value", _losing_the_card, needs=TIER_PROGRAMME),
)}
RULE_FEATURES = ("gap_ratio", "orders_trend_90d")


def campaign_named(name: str) -> Campaign:
    """The campaign called ``name``; an unknown name is an error listing the valid ones."""
    if name not in CAMPAIGNS:
        raise ValueError(f"campaign: unknown campaign {name!r}; valid: {', '.join(CAMPAIGNS)}")
    return CAMPAIGNS[name]
