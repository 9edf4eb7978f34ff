"""Each campaign in words: what its score means, with its unit, and why a member is on its list.

A list answers "why this member, for this campaign": the facts the campaign selects on (for
win-back a long silence against the member's own rhythm and falling spend), not whatever the
churn model weighed most. A large past purchase raises churn risk in the model, and its SHAP
reason "largest purchase 298.21" is true, but on a win-back list it reads as praise. The model's
reasons stay in ``reasons``; these facts are ``campaign_reasons``.

Every campaign ranks by a probability times the member's expected spend, so every score is an
amount in the currency of the data (``SCORE_UNIT``); the currency symbol is the locale layer's.
Sentences are msgids of the ``memberscore`` catalogue, filled with ``str.format`` after translation.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Final

import pandas as pd

from features.contract import MEMBER_ID
from features.i18n import Translator

if TYPE_CHECKING:
    from serving.campaigns import Campaign

SCORE_UNIT: Final = "currency"  # probability x expected spend: an amount in the currency of the amounts
Row = Mapping[str, object]
Facts = Callable[[Row, Translator], list[str]]
# what the reasons read besides the listed row and the campaign's driving probability
FACT_FEATURES: Final = ("recency_days", "gap_mean_days", "gap_ratio", "orders_trend_90d", "spend_90d",
                        "spend_trend_90d")


def _number(row: Row, name: str) -> float:
    """The row's value of ``name`` as a float, NaN when absent or missing."""
    value = row.get(name)
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan


def _days(t: Translator, singular: str, plural: str, days: float, **fields: str) -> str:
    count = round(days)
    return t.ngettext(singular, plural, count).format(count=t.number(count), **fields)


def silence(row: Row, t: Translator) -> str:
    """How long without a purchase, against the member's own usual gap when they have one."""
    days, ratio, gap = _number(row, "recency_days"), _number(row, "gap_ratio"), _number(row, "gap_mean_days")
    if not math.isfinite(days):
        return t.gettext("last purchase date not known")
    if math.isfinite(ratio) and math.isfinite(gap):
        return _days(t, "no purchase for {count} day, {ratio}x their usual gap of {gap} days",
                     "no purchase for {count} days, {ratio}x their usual gap of {gap} days", days,
                     ratio=t.number(ratio, 1), gap=t.number(gap))
    if math.isfinite(ratio):
        return _days(t, "no purchase for {count} day, {ratio}x their usual gap",
                     "no purchase for {count} days, {ratio}x their usual gap", days, ratio=t.number(ratio, 1))
    return _days(t, "one purchase only, {count} day ago, and none since",
                 "one purchase only, {count} days ago, and none since", days)


def falling(row: Row, t: Translator) -> list[str]:
    """Falling spend (last 90 days against the 90 before), else fewer purchases; nothing if neither fell."""
    trend, now = _number(row, "spend_trend_90d"), _number(row, "spend_90d")
    if trend < 0 and math.isfinite(now):
        return [t.gettext("spend fell to {now} in the last 90 days from {before} in the 90 days before")
                .format(now=t.number(now, 2), before=t.number(now - trend, 2))]
    fewer = -_number(row, "orders_trend_90d")
    if fewer > 0:
        return [_days(t, "{count} purchase fewer than in the 90 days before",
                      "{count} purchases fewer than in the 90 days before", fewer)]
    return []


def _probability(t: Translator, message: str, row: Row, column: str) -> list[str]:
    value = _number(row, column)
    return [t.gettext(message).format(p=t.percent(value, 0))] if math.isfinite(value) else []


def winback_facts(row: Row, t: Translator) -> list[str]:
    return [silence(row, t), *falling(row, t),
            *_probability(t, "churn probability {p}", row, "churn_probability")]


def retain_facts(row: Row, t: Translator) -> list[str]:
    """Top spender, the sign of rising risk the rule saw (overdue, or buying less), the risk."""
    spender = t.gettext("class {abc_class}: among the members who bring most of the spend").format(
        abc_class=t.pgettext("abc_class", str(row.get("abc_class"))))
    overdue = [silence(row, t)] if _number(row, "gap_ratio") >= 1.0 else []
    return [spender, *(overdue or falling(row, t)),
            *_probability(t, "churn probability {p}", row, "churn_probability")]


def upsell_facts(row: Row, t: Translator) -> list[str]:
    recent = _days(t, "still buying: last purchase {count} day ago", "still buying: last purchase {count} days ago",
                   _number(row, "recency_days"))
    offer = row.get("offer_category")
    offered = [t.gettext("category to offer: {category}").format(category=offer)] if isinstance(offer, str) else []
    return [recent, *_probability(t, "upsell probability {p}", row, "upsell_probability"), *offered]


def reminder_facts(row: Row, t: Translator) -> list[str]:
    return [silence(row, t), *_probability(t, "{p} likely to buy within 7 days", row, "p_purchase_7d")]


def score_text(t: Translator, message: str, row: Row, driver: str) -> str:
    """One row's score in words: the amount, and the probability and spend it multiplies."""
    return t.gettext(message).format(score=t.number(_number(row, "score"), 2),
                                     probability=t.percent(_number(row, driver), 0),
                                     value=t.number(_number(row, "expected_value"), 2))


def rows_of(frame: pd.DataFrame) -> list[dict[str, object]]:
    """Records with missing values as None, for the fact functions."""
    return frame.astype(object).where(frame.notna(), None).to_dict(orient="records")  # type: ignore[return-value]


def listed_words(campaign: Campaign, listed: pd.DataFrame, scores_by_id: pd.DataFrame,
                 features_by_id: pd.DataFrame, t: Translator) -> tuple[list[str], list[list[str]]]:
    """Per listed row (``serving.targets`` columns), its score in words and the campaign's reasons.

    Reads the campaign's driving probability from the scores and ``FACT_FEATURES`` from the
    features of the listed members only, so a page or a CSV chunk costs its own rows.
    """
    ids = listed[MEMBER_ID].astype(str).to_numpy()
    driver = scores_by_id.reindex(index=ids, columns=[campaign.driver]).reset_index(drop=True)
    facts = features_by_id.reindex(index=ids, columns=list(FACT_FEATURES)).reset_index(drop=True)
    records = rows_of(pd.concat([listed.reset_index(drop=True), driver, facts], axis=1))
    return ([score_text(t, campaign.score_words, row, campaign.driver) for row in records],
            [campaign.facts(row, t) for row in records])
