"""Each campaign in words: what its score means, with its unit, and why a member is on its list.

A list answers "why this member, for this campaign": the facts the campaign selects on (for
win-back a long silence against the member's own rhythm and falling spend), not whatever the
churn model weighed most. A large past purchase raises churn risk in the model, and its SHAP
reason "largest purchase 298.21" is true, but on a win-back list it reads as praise. The model's
reasons stay in ``reasons``; these facts are ``campaign_reasons``.

Every campaign ranks by a probability (or a progress share) times the member's expected spend, so
every score is an amount in the currency of the data (``SCORE_UNIT``); amounts in words carry the
configured currency (``features.formats.Voice.money``).
Sentences are msgids of the ``memberscore`` catalogue, filled after translation. A CSV list may
hold millions of rows, so sentences are built a column at a time (``Said``): each template is
translated once per plural form and filled by concatenating columns, not formatted row by row.
"""

from __future__ import annotations

import math
import string
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

import numpy as np
import pandas as pd

from features.contract import MEMBER_ID
from features.formats import Voice
from features.i18n import Translator

if TYPE_CHECKING:
    from serving.campaigns import Campaign

SCORE_UNIT: Final = "currency"  # probability x expected spend: an amount in the currency of the amounts
# what the reasons read besides the listed row and the campaign's driving probability
FACT_FEATURES: Final = ("recency_days", "gap_mean_days", "gap_ratio", "orders_trend_90d", "spend_90d",
                        "spend_trend_90d")
# and, for the tier programme's campaigns, from the scores (``features.tier_outputs``)
FACT_SCORES: Final = ("spend_to_next_tier", "tier_retain_threshold", "projected_period_spend", "tier_expires")


def fill(template: str, size: int, fields: dict[str, np.ndarray]) -> np.ndarray:
    """``template.format`` for ``size`` rows at once: literal text and field columns concatenated."""
    texts = np.full(size, "", dtype=object)
    for literal, field, _, _ in string.Formatter().parse(template):
        texts = texts + literal if literal else texts
        if field is not None:
            texts = texts + fields[field]
    return texts


@dataclass(frozen=True)
class Said:
    """The columns of some listed rows and the voice to say them in (language, currency)."""

    frame: pd.DataFrame
    voice: Voice

    @property
    def t(self) -> Translator:
        return self.voice.translator

    def number(self, values: np.ndarray, decimals: int = 0) -> np.ndarray:
        return self._each(values, lambda value: self.voice.number(value, decimals))

    def money(self, values: np.ndarray) -> np.ndarray:
        """Amounts in the configured currency (``features.formats.Voice.money``: plain without one)."""
        return self._each(values, self.voice.money)

    def percent(self, shares: np.ndarray) -> np.ndarray:
        return self._each(shares, lambda share: self.voice.percent(share, 0))

    @staticmethod
    def _each(values: np.ndarray, say: Callable[[float], str]) -> np.ndarray:
        """``say`` every finite value; "" where missing (such rows are never told)."""
        return np.array([say(value) if math.isfinite(value) else "" for value in np.asarray(values, float).tolist()],
                        dtype=object)

    def values(self, column: str) -> np.ndarray:
        """A column as floats; NaN where missing, and all NaN when the frame lacks it."""
        if column not in self.frame.columns:
            return np.full(len(self.frame), np.nan)
        return pd.to_numeric(self.frame[column], errors="coerce").to_numpy(dtype="float64", na_value=np.nan)

    def sentence(self, message: str, rows: np.ndarray, **fields: np.ndarray) -> np.ndarray:
        """The translated ``message`` for the rows where ``rows`` holds, None elsewhere."""
        texts = np.full(len(self.frame), None, dtype=object)
        texts[rows] = fill(self.t.gettext(message), int(rows.sum()), {k: v[rows] for k, v in fields.items()})
        return texts

    def counted(self, singular: str, plural: str, counts: np.ndarray, rows: np.ndarray,
                **fields: np.ndarray) -> np.ndarray:
        """``sentence`` in the plural form each row's count needs; ``{count}`` is the count itself."""
        whole = np.rint(np.where(rows, counts, 0)).astype("int64")
        forms = {count: self.t.ngettext(singular, plural, count) for count in np.unique(whole[rows]).tolist()}
        form_of = np.array([forms.get(count, "") for count in whole.tolist()], dtype=object)
        texts = np.full(len(self.frame), None, dtype=object)
        fields = {**fields, "count": self.number(whole.astype(float))}
        for form in set(forms.values()):
            chosen = rows & (form_of == form)
            texts[chosen] = fill(form, int(chosen.sum()), {k: v[chosen] for k, v in fields.items()})
        return texts


Facts = Callable[[Said], list[np.ndarray]]  # sentence columns, None where a sentence does not apply


def silence(said: Said) -> np.ndarray:
    """How long without a purchase, against the member's own usual gap when they have one."""
    days, ratio, gap = said.values("recency_days"), said.values("gap_ratio"), said.values("gap_mean_days")
    known, own, usual = np.isfinite(days), np.isfinite(ratio), np.isfinite(gap)
    ratio_text, gap_text = said.number(ratio, 1), said.number(gap)
    texts = said.sentence("last purchase date not known", ~known)
    for rows, singular, plural in (
        (known & own & usual, "no purchase for {count} day, {ratio}x their usual gap of {gap} days",
         "no purchase for {count} days, {ratio}x their usual gap of {gap} days"),
        (known & own & ~usual, "no purchase for {count} day, {ratio}x their usual gap",
         "no purchase for {count} days, {ratio}x their usual gap"),
        (known & ~own, "one purchase only, {count} day ago, and none since",
         "one purchase only, {count} days ago, and none since"),
    ):
        said_here = said.counted(singular, plural, days, rows, ratio=ratio_text, gap=gap_text)
        texts = np.where(rows, said_here, texts)
    return texts


def falling(said: Said) -> np.ndarray:
    """Falling spend (last 90 days against the 90 before), else fewer purchases; None if neither fell."""
    trend, now, fewer = said.values("spend_trend_90d"), said.values("spend_90d"), -said.values("orders_trend_90d")
    spend_fell = (trend < 0) & np.isfinite(now)
    spend = said.sentence("spend fell to {now} in the last 90 days from {before} in the 90 days before", spend_fell,
                          now=said.money(now), before=said.money(now - trend))
    orders = said.counted("{count} purchase fewer than in the 90 days before",
                          "{count} purchases fewer than in the 90 days before", fewer, ~spend_fell & (fewer > 0))
    return np.where(spend_fell, spend, orders)


def probability(said: Said, message: str, column: str) -> np.ndarray:
    values = said.values(column)
    return said.sentence(message, np.isfinite(values), p=said.percent(values))


def winback_facts(said: Said) -> list[np.ndarray]:
    return [silence(said), falling(said), probability(said, "churn probability {p}", "churn_probability")]


def retain_facts(said: Said) -> list[np.ndarray]:
    """Top spender, the sign of rising risk the rule saw (overdue, else buying less), the risk."""
    classes = said.frame["abc_class"].astype(str).to_numpy(dtype=object)
    named = {code: said.t.pgettext("abc_class", code) for code in set(classes.tolist())}
    names = np.array([named[code] for code in classes.tolist()], dtype=object)
    spender = said.sentence("class {abc_class}: among the members who bring most of the spend",
                            np.ones(len(classes), dtype=bool), abc_class=names)
    overdue = said.values("gap_ratio") >= 1.0
    return [spender, np.where(overdue, silence(said), falling(said)),
            probability(said, "churn probability {p}", "churn_probability")]


def upsell_facts(said: Said) -> list[np.ndarray]:
    days = said.values("recency_days")
    recent = said.counted("still buying: last purchase {count} day ago", "still buying: last purchase {count} days ago",
                          days, np.isfinite(days))
    offers = said.frame["offer_category"].to_numpy(dtype=object)
    offered = np.array([isinstance(offer, str) for offer in offers.tolist()], dtype=bool)
    category = said.sentence("category to offer: {category}", offered, category=offers)
    return [recent, probability(said, "upsell probability {p}", "upsell_probability"), category]


def reminder_facts(said: Said) -> list[np.ndarray]:
    return [silence(said), probability(said, "{p} likely to buy within 7 days", "p_purchase_7d")]


def nudge_facts(said: Said) -> list[np.ndarray]:
    """How far along to the next card, and the spend this period that reaches it."""
    progress, needed = said.values("next_tier_progress"), said.values("spend_to_next_tier")
    return [said.sentence("{progress} of the next card's threshold reached this period", np.isfinite(progress),
                          progress=said.percent(progress)),
            said.sentence("{amount} more spend this period reaches the next card", np.isfinite(needed),
                          amount=said.money(needed))]


def downgrade_facts(said: Said) -> list[np.ndarray]:
    """The spend their pace projects against what keeps the card, and until when the card is held."""
    projected, threshold = said.values("projected_period_spend"), said.values("tier_retain_threshold")
    frame = said.frame
    days = (frame["tier_expires"] if "tier_expires" in frame else pd.Series([None] * len(frame))).astype(object)
    until = np.array([isinstance(day, str) and day != "" for day in days.tolist()], dtype=bool)
    return [said.sentence("on pace for {projected} this period; {threshold} keeps the card",
                          np.isfinite(projected) & np.isfinite(threshold),
                          projected=said.money(projected), threshold=said.money(threshold)),
            said.sentence("card held until {day}", until, day=days.to_numpy())]


def listed_words(campaign: Campaign, listed: pd.DataFrame, scores_by_id: pd.DataFrame,
                 features_by_id: pd.DataFrame, voice: Voice) -> tuple[list[str], list[list[str]]]:
    """Per listed row (``serving.targets`` columns), its score in words and the campaign's reasons.

    Reads the campaign's driving probability from the scores and ``FACT_FEATURES`` from the
    features of the listed members only, so a page or a CSV chunk costs its own rows.
    """
    ids = listed[MEMBER_ID].astype(str).to_numpy()
    wanted = [c for c in (campaign.driver, *FACT_SCORES) if c not in listed.columns and c in scores_by_id.columns]
    driver = scores_by_id.reindex(index=ids, columns=list(dict.fromkeys([campaign.driver, *wanted])))
    driver = driver.reset_index(drop=True)
    facts = features_by_id.reindex(index=ids, columns=list(FACT_FEATURES)).reset_index(drop=True)
    said = Said(pd.concat([listed.reset_index(drop=True), driver, facts], axis=1), voice)
    size = len(listed)
    scores = said.sentence(campaign.score_words, np.ones(size, dtype=bool),
                           score=said.money(said.values("score")), probability=said.percent(said.values(campaign.driver)),
                           value=said.money(said.values("expected_value")))
    columns = campaign.facts(said)
    reasons = [[text for text in row if text is not None] for row in zip(*(c.tolist() for c in columns))]
    return scores.tolist(), reasons if columns else [[] for _ in range(size)]
