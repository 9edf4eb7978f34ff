"""The feature catalogue: the one place names, units and descriptions live.

Explanations reuse ``reason``: a gettext msgid with ``{name}`` placeholders over the member's feature
row, so a SHAP contribution can be told in words in the reader's language ("no purchase for 214
days, 6.0x their usual gap"; "已 214 天未购买，是其平常间隔的 6.0 倍").
"""

from __future__ import annotations

import functools
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

import numpy as np
import pandas as pd

from features.formats import Voice

ENGLISH: Final = Voice()


@dataclass(frozen=True)
class Feature:
    """One model input: its column name, unit, what it means, and how to say its value.

    ``reason`` is an English gettext msgid (``memberscore`` domain) whose ``{name}`` placeholders
    are filled with values already formatted for the reader: counts with grouping and ``decimals``,
    shares as percentages, amounts in the retailer's currency (``features.formats.Voice``). With
    ``reason_plural`` the sentence has plural forms, chosen by the value of ``plural_by`` (default:
    this feature), so English says "1 purchase" and "2 purchases" and Chinese has one form.
    """

    name: str
    unit: str
    description: str
    reason: str
    needs_category: bool = False
    lifetime: bool = False  # from the BG/NBD + Gamma-Gamma fit (features.lifetime), not an Ibis expression
    when_missing: str | None = None  # a full sentence for members without a value
    churn_direction: int = 0  # +1: more of it never lowers churn risk; -1: never raises it; 0: free
    reason_plural: str | None = None
    plural_by: str | None = None
    decimals: int = 0
    signed: bool = False  # told with + before a rise ("+3 purchases versus ...")

    def in_words(self, row: Mapping[str, object], voice: Voice = ENGLISH) -> str:
        """Render ``reason`` for one member (``words`` of a one-member column set)."""
        return self.words({name: np.array([row.get(name)], dtype=object) for name in self.reads()}, voice)[0]

    def words(self, columns: Mapping[str, np.ndarray], voice: Voice = ENGLISH) -> list[str]:
        """Render ``reason`` for many members at once; ``when_missing`` where the value is missing.

        ``columns`` holds equal-length arrays of the features ``reads()`` names (an absent one counts
        as missing). Where another feature the template names is missing, the value is told plainly.
        Missing values are found column by column, and each template is translated once per call,
        so batch scoring's millions of reasons cost a few ``format`` calls each.
        """
        own = columns.get(self.name)
        if own is None:
            raise KeyError(f"{self.name}: the feature's own values are needed to tell it in words")
        fields = template_fields(self.reason)
        named = [columns[name] if name in columns else np.full(len(own), None, dtype=object) for name in fields]
        present = _known(own)
        complete = present.copy()
        for column in named:
            complete &= _known(column)
        if complete.all():  # the usual case: no masks to apply
            return self._sentences(fields, named, voice)
        t = voice.translator
        description = t.pgettext("feature", self.description)
        missing = t.gettext(self.when_missing) if self.when_missing else t.gettext(NOT_KNOWN).format(
            description=description)
        texts = np.full(len(own), missing, dtype=object)
        partial = present & ~complete
        plain = t.gettext(TOLD_PLAINLY)
        texts[partial] = _objects(plain.format(description=description, value=value)
                                  for value in formatted(self.name, own[partial].tolist(), voice))
        texts[complete] = _objects(self._sentences(fields, [column[complete] for column in named], voice))
        return texts.tolist()

    def _sentences(self, fields: tuple[str, ...], named: list[np.ndarray], voice: Voice) -> list[str]:
        """The translated sentence for members whose every named value is known."""
        t = voice.translator
        rows = list(zip(*(formatted(name, column.tolist(), voice) for name, column in zip(fields, named))))
        if self.reason_plural is None:
            template = _positional(t.gettext(self.reason), fields)
            return [template.format(*row) for row in rows]
        counter = self.plural_by or self.name
        counts = named[fields.index(counter)].tolist()
        decimals = BY_NAME[counter].decimals if counter in BY_NAME else 0
        plural = self.reason_plural
        chosen: dict[int, str] = {}  # one catalogue look-up per distinct count
        out = []
        for row, count in zip(rows, counts):
            n = plural_count(count, decimals)
            if n not in chosen:
                chosen[n] = _positional(t.ngettext(self.reason, plural, n), fields)
            out.append(chosen[n].format(*row))
        return out

    def reads(self) -> tuple[str, ...]:
        """The features whose values ``words`` reads: this one and any other its template names."""
        return tuple(dict.fromkeys((self.name, *template_fields(self.reason))))

    def msgids(self) -> list[tuple[str | None, str, str | None]]:
        """(context, msgid, msgid_plural) of every text this feature can say, for the catalogue tests."""
        said: list[tuple[str | None, str, str | None]] = [(None, self.reason, self.reason_plural),
                                                          ("feature", self.description, None)]
        return said + ([(None, self.when_missing, None)] if self.when_missing else [])


NOT_KNOWN: Final = "{description}: not known"
TOLD_PLAINLY: Final = "{description}: {value}"


def _positional(template: str, fields: tuple[str, ...]) -> str:
    """``{recency_days}`` -> ``{0}``: filled from a tuple, no dict per member (a translation may
    reorder the placeholders; the numbers follow the names)."""
    for position, name in enumerate(fields):
        template = template.replace("{" + name + "}", "{" + str(position) + "}")
    return template


def plural_count(value: object, decimals: int) -> int:
    """The n that picks a plural form: the count as shown; a value shown with decimals is never
    singular ("1.00 times" takes the other form in English, as CLDR says)."""
    if decimals > 0:
        return 2
    return int(abs(round(float(value))))  # type: ignore[arg-type]  # a known number here


def formatted(name: str, values: list[object], voice: Voice) -> list[str]:
    """Values of feature ``name`` as the reader sees them: money, a percentage or a number."""
    feature = BY_NAME.get(name)
    if feature is None:
        return [voice.number(float(v), 2) for v in values]  # type: ignore[arg-type]
    if feature.unit == "currency":
        return [voice.money(float(v), feature.signed) for v in values]  # type: ignore[arg-type]
    if feature.unit in ("share", "probability"):
        return [voice.percent(float(v), feature.decimals) for v in values]  # type: ignore[arg-type]
    return [voice.number(float(v), feature.decimals, feature.signed) for v in values]  # type: ignore[arg-type]


@functools.cache
def template_fields(template: str) -> tuple[str, ...]:
    """The names a ``str.format`` template reads, e.g. ``("recency_days", "gap_ratio")``."""
    return tuple(dict.fromkeys(field for _, field, _, _ in string.Formatter().parse(template) if field))


def _known(values: np.ndarray) -> np.ndarray:
    """Where ``values`` holds a value: not NaN (float arrays, the fast common case), not None or NA."""
    return ~np.isnan(values) if values.dtype.kind == "f" else np.asarray(pd.notna(values), dtype=bool)


def _objects(texts: Iterable[str]) -> np.ndarray:
    """Strings as an object array (numpy would otherwise make a fixed-width ``str_`` array of them)."""
    return np.fromiter(texts, dtype=object)


ONE_PURCHASE: Final = "only one purchase so far, so no usual gap between purchases"

CATALOGUE: Final[tuple[Feature, ...]] = (
    Feature("recency_days", "days", "days since the last purchase",
            "no purchase for {recency_days} day", reason_plural="no purchase for {recency_days} days",
            churn_direction=1),
    Feature("tenure_days", "days", "days since the first purchase",
            "a member for {tenure_days} day", reason_plural="a member for {tenure_days} days"),
    Feature("orders_total", "orders", "purchases ever made",
            "{orders_total} purchase in total", reason_plural="{orders_total} purchases in total",
            churn_direction=-1),
    Feature("spend_total", "currency", "net spend ever (returns subtracted)",
            "{spend_total} spent in total"),
    Feature("order_value_mean", "currency", "mean net value of a purchase",
            "spends {order_value_mean} per purchase on average"),
    Feature("order_value_max", "currency", "largest net value of one purchase",
            "largest purchase {order_value_max}"),
    Feature("lines_per_order", "lines", "mean number of lines in a purchase (basket size)",
            "{lines_per_order} lines per basket on average", decimals=1),
    Feature("gap_mean_days", "days", "mean days between consecutive purchases",
            "usually buys every {gap_mean_days} day", reason_plural="usually buys every {gap_mean_days} days",
            when_missing=ONE_PURCHASE),
    Feature("gap_std_days", "days", "standard deviation of the days between purchases",
            "irregular rhythm: gaps vary by {gap_std_days} day",
            reason_plural="irregular rhythm: gaps vary by {gap_std_days} days",
            when_missing="fewer than three purchases, so no rhythm to measure yet"),
    Feature("gap_last_days", "days", "days between the last two purchases",
            "{gap_last_days} day between the last two purchases",
            reason_plural="{gap_last_days} days between the last two purchases", when_missing=ONE_PURCHASE),
    Feature("gap_ratio", "ratio", "days since the last purchase divided by the member's usual gap",
            "no purchase for {recency_days} day, {gap_ratio}x their usual gap",
            reason_plural="no purchase for {recency_days} days, {gap_ratio}x their usual gap", plural_by="recency_days",
            when_missing=ONE_PURCHASE, churn_direction=1, decimals=1),
    Feature("orders_30d", "orders", "purchases in the last 30 days",
            "{orders_30d} purchase in the last 30 days", reason_plural="{orders_30d} purchases in the last 30 days",
            churn_direction=-1),
    Feature("orders_90d", "orders", "purchases in the last 90 days",
            "{orders_90d} purchase in the last 90 days", reason_plural="{orders_90d} purchases in the last 90 days",
            churn_direction=-1),
    Feature("orders_180d", "orders", "purchases in the last 180 days",
            "{orders_180d} purchase in the last 180 days",
            reason_plural="{orders_180d} purchases in the last 180 days", churn_direction=-1),
    Feature("orders_365d", "orders", "purchases in the last 365 days",
            "{orders_365d} purchase in the last 365 days",
            reason_plural="{orders_365d} purchases in the last 365 days", churn_direction=-1),
    Feature("spend_30d", "currency", "net spend in the last 30 days",
            "spent {spend_30d} in the last 30 days"),
    Feature("spend_90d", "currency", "net spend in the last 90 days",
            "spent {spend_90d} in the last 90 days"),
    Feature("spend_180d", "currency", "net spend in the last 180 days",
            "spent {spend_180d} in the last 180 days"),
    Feature("spend_365d", "currency", "net spend in the last 365 days",
            "spent {spend_365d} in the last 365 days"),
    Feature("orders_trend_90d", "orders", "purchases in the last 90 days minus the 90 days before",
            "{orders_trend_90d} purchase versus the previous 90 days",
            reason_plural="{orders_trend_90d} purchases versus the previous 90 days", signed=True),
    Feature("spend_trend_90d", "currency", "net spend in the last 90 days minus the 90 days before",
            "spend {spend_trend_90d} versus the previous 90 days", signed=True),
    Feature("returns_share", "share", "share of gross spend returned or cancelled",
            "returned {returns_share} of what they bought", when_missing="nothing bought yet"),
    Feature("p_alive", "probability", "BG/NBD probability that the member is still active",
            "{p_alive} likely to still be an active customer", lifetime=True,
            when_missing="too little history in the data to estimate whether still active"),
    Feature("bgnbd_purchases_90d", "orders", "BG/NBD expected purchases in the next 90 days",
            "expected to buy {bgnbd_purchases_90d} time in the next 90 days",
            reason_plural="expected to buy {bgnbd_purchases_90d} times in the next 90 days", lifetime=True,
            when_missing="too little history in the data to forecast purchases", decimals=2),
    Feature("gg_order_value", "currency", "Gamma-Gamma expected spend per purchase",
            "expected to spend {gg_order_value} per purchase", lifetime=True,
            when_missing="too little history in the data to forecast spend per purchase"),
    Feature("categories_distinct", "categories", "distinct categories bought",
            "buys in {categories_distinct} category", reason_plural="buys in {categories_distinct} categories",
            needs_category=True),
    Feature("category_entropy", "nats", "how evenly spend spreads over categories (entropy)",
            "spend spread over categories (entropy {category_entropy})", needs_category=True, decimals=2),
    Feature("top_category_share", "share", "share of spend in the member's top category",
            "{top_category_share} of spend in one category", needs_category=True),
)

BY_NAME: Final[Mapping[str, Feature]] = {feature.name: feature for feature in CATALOGUE}


def churn_monotone_constraints(names: list[str]) -> dict[str, int]:
    """XGBoost monotone constraints for churn from the catalogue's domain directions."""
    return {name: BY_NAME[name].churn_direction for name in names if name in BY_NAME and BY_NAME[name].churn_direction}


def feature_names(has_category: bool, lifetime: bool = True) -> list[str]:
    """Catalogue order of the features a dataset with (or without) categories provides.

    ``lifetime=False`` leaves out the BG/NBD + Gamma-Gamma features, which are not Ibis expressions.
    """
    return [f.name for f in CATALOGUE if (has_category or not f.needs_category) and (lifetime or not f.lifetime)]
