"""Campaigns: who is eligible for each, which probability drives its ranking, which model explains it.

A snapshot has no score history, so "rising risk" and "overdue" are read from what it does hold:
recency against the member's own usual gap (``gap_ratio``) and the 90-day purchase trend
(``RULE_FEATURES``). Ranking, filters and delivery of the lists live in ``serving.targets``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pandas as pd

from serving.campaign_words import (
    SCORE_UNIT,
    Facts,
    downgrade_facts,
    nudge_facts,
    reminder_facts,
    retain_facts,
    upsell_facts,
    winback_facts,
)

LAPSED_STAGES = ("sleeping", "lost")
STILL_BUYING_STAGES = ("new", "active")
HIGH_VALUE_CLASSES = ("AA", "A")
RISK_THRESHOLD = 0.3  # churn probability from which a high-value member is "at risk"
REMINDER_THRESHOLD = 0.3  # P(buy within 7 days) from which a reminder is worth sending
OVERDUE_RATIO = 1.0  # gap_ratio >= 1: as long without a purchase as the member's usual gap, or longer
NUDGE_PROGRESS = 0.8  # share of the next card's threshold reached from which a member is "close" to it


@dataclass(frozen=True)
class Campaign:
    """A campaign: who is eligible, which probability drives it, which model explains it, and how
    its score and its choice of a member are said in words (``serving.campaign_words``)."""

    name: str
    description: str
    driver: str  # the score column multiplied by value to rank, e.g. churn_probability
    task: str  # the model behind ``driver``, whose SHAP reasons are shown
    rule: Callable[[pd.DataFrame], pd.Series]  # members frame (scores + features) -> eligible mask
    score_meaning: str  # msgid: what the score is, with its unit
    score_words: str  # msgid: one row's score, with {score}, {probability} (of ``driver``) and {value}
    facts: Facts  # a listed row -> the reasons it is on this campaign's list, in words
    raising_sign: int = 1  # sign of a SHAP contribution that raises ``driver`` (-1: AFT log-time)
    score_unit: str = SCORE_UNIT
    reason_features: frozenset[str] | None = None  # the model reasons a list may show (None: any feature)
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

# A churn list shows the model's reasons about silence and rhythm only: a large past purchase, a high
# spend level or a rising trend can raise the churn score, but on a win-back list they read as praise
# (on CDNOW: "spend +43.85 versus the previous 90 days"). Falling spend is said by the campaign's own
# reasons, only where it fell.
LAPSE_REASONS = frozenset({"recency_days", "gap_ratio", "gap_last_days", "orders_30d", "orders_90d", "orders_180d",
                           "orders_365d", "p_alive", "bgnbd_purchases_90d"})
AT_RISK = "expected spend at risk: churn probability x expected spend, in the currency of the amounts"
AT_RISK_ROW = "{score} expected spend at risk ({probability} churn probability x {value} expected spend)"
CAMPAIGNS: dict[str, Campaign] = {c.name: c for c in (
    Campaign("winback", "lapsing (sleeping or lost) members, by churn probability x value",
             "churn_probability", "churn", _lapsing, AT_RISK, AT_RISK_ROW, winback_facts,
             reason_features=LAPSE_REASONS),
    Campaign("retain_high_value", f"AA/A members not yet lost, churn probability >= {RISK_THRESHOLD} and overdue "
             "or buying less than the 90 days before, by churn probability x value",
             "churn_probability", "churn", _high_value_at_rising_risk, AT_RISK, AT_RISK_ROW, retain_facts,
             reason_features=LAPSE_REASONS),
    Campaign("upsell", "new or active members, by upsell probability x value, with the category to offer",
             "upsell_probability", "upsell", _still_buying,
             "expected spend within reach of an offer: upsell probability x expected spend, in the currency of "
             "the amounts",
             "{score} expected spend within reach of an offer ({probability} upsell probability x {value} expected "
             "spend)", upsell_facts),
    Campaign("next_purchase_reminder", f"P(buy within 7 days) >= {REMINDER_THRESHOLD} and no purchase for at least "
             "their usual gap, by that probability x value", "p_purchase_7d", "next_purchase", _due_and_likely,
             "expected spend of a purchase due now: probability of buying within 7 days x expected spend, in the "
             "currency of the amounts",
             "{score} expected spend due now ({probability} likely to buy within 7 days x {value} expected spend)",
             reminder_facts, raising_sign=-1),
    Campaign("tier_upgrade_nudge", "members close to the next card this period, by progress towards it x value",
             "next_tier_progress", "value", _close_to_next_card,
             "expected spend of members near the next card: progress towards it x expected spend, in the currency "
             "of the amounts",
             "{score} expected spend near the next card ({probability} of its threshold reached x {value} expected "
             "spend)", nudge_facts, needs=TIER_PROGRAMME),
    Campaign("downgrade_warning", "card holders who will not reach their retention threshold at their current pace, "
             "by retention progress x value", "retention_progress", "value", _losing_the_card,
             "expected spend of card holders at risk of losing the card: retention progress x expected spend, in "
             "the currency of the amounts",
             "{score} expected spend of a card at risk ({probability} of the retention threshold on pace x {value} "
             "expected spend)", downgrade_facts, needs=TIER_PROGRAMME),
)}
RULE_FEATURES = ("gap_ratio", "orders_trend_90d")


def campaign_named(name: str) -> Campaign:
    """The campaign called ``name``; an unknown name is an error listing the valid ones."""
    if name not in CAMPAIGNS:
        raise ValueError(f"campaign: unknown campaign {name!r}; valid: {', '.join(CAMPAIGNS)}")
    return CAMPAIGNS[name]
