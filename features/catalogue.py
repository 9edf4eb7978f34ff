"""The feature catalogue: the one place names, units and descriptions live.

Explanations reuse ``reason``: a ``str.format`` template over the member's feature row, so a SHAP
contribution can be told in words ("no purchase for 214 days, 6.0x their usual gap").
"""

from __future__ import annotations

import functools
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Feature:
    """One model input: its column name, unit, what it means, and how to say its value."""

    name: str
    unit: str
    description: str
    reason: str
    needs_category: bool = False
    lifetime: bool = False  # from the BG/NBD + Gamma-Gamma fit (features.lifetime), not an Ibis expression
    when_missing: str | None = None  # a full sentence for members without a value
    churn_direction: int = 0  # +1: more of it never lowers churn risk; -1: never raises it; 0: free

    def in_words(self, row: Mapping[str, object]) -> str:
        """Render ``reason`` for one member (``words`` of a one-member column set)."""
        return self.words({name: np.array([row.get(name)], dtype=object) for name in self.reads()})[0]

    def words(self, columns: Mapping[str, np.ndarray]) -> list[str]:
        """Render ``reason`` for many members at once; ``when_missing`` where the value is missing.

        ``columns`` holds equal-length arrays of the features ``reads()`` names (an absent one counts
        as missing). Where another feature the template names is missing, the value is told plainly.
        Missing values are found column by column, so batch scoring's millions of reasons cost one
        ``str.format`` each.
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
        render = self.reason.format_map
        if complete.all():  # the usual case: no masks to apply
            return [render(dict(zip(fields, values))) for values in zip(*(column.tolist() for column in named))]
        texts = np.full(len(own), self.when_missing or f"{self.description}: not known", dtype=object)
        partial = present & ~complete
        texts[partial] = _objects(f"{self.description}: {value:,.2f}" for value in own[partial].tolist())
        texts[complete] = _objects(render(dict(zip(fields, values)))
                                   for values in zip(*(column[complete].tolist() for column in named)))
        return texts.tolist()

    def reads(self) -> tuple[str, ...]:
        """The features whose values ``words`` reads: this one and any other its template names."""
        return tuple(dict.fromkeys((self.name, *template_fields(self.reason))))


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
            "no purchase for {recency_days:.0f} days", churn_direction=1),
    Feature("tenure_days", "days", "days since the first purchase",
            "a member for {tenure_days:.0f} days"),
    Feature("orders_total", "orders", "purchases ever made",
            "{orders_total:.0f} purchases in total", churn_direction=-1),
    Feature("spend_total", "currency", "net spend ever (returns subtracted)",
            "{spend_total:,.2f} spent in total"),
    Feature("order_value_mean", "currency", "mean net value of a purchase",
            "spends {order_value_mean:,.2f} per purchase on average"),
    Feature("order_value_max", "currency", "largest net value of one purchase",
            "largest purchase {order_value_max:,.2f}"),
    Feature("lines_per_order", "lines", "mean number of lines in a purchase (basket size)",
            "{lines_per_order:.1f} lines per basket on average"),
    Feature("gap_mean_days", "days", "mean days between consecutive purchases",
            "usually buys every {gap_mean_days:.0f} days", when_missing=ONE_PURCHASE),
    Feature("gap_std_days", "days", "standard deviation of the days between purchases",
            "irregular rhythm: gaps vary by {gap_std_days:.0f} days", when_missing="fewer than three purchases, so no rhythm to measure yet"),
    Feature("gap_last_days", "days", "days between the last two purchases",
            "{gap_last_days:.0f} days between the last two purchases", when_missing=ONE_PURCHASE),
    Feature("gap_ratio", "ratio", "days since the last purchase divided by the member's usual gap",
            "no purchase for {recency_days:.0f} days, {gap_ratio:.1f}x their usual gap",
            when_missing=ONE_PURCHASE, churn_direction=1),
    Feature("orders_30d", "orders", "purchases in the last 30 days",
            "{orders_30d:.0f} purchases in the last 30 days", churn_direction=-1),
    Feature("orders_90d", "orders", "purchases in the last 90 days",
            "{orders_90d:.0f} purchases in the last 90 days", churn_direction=-1),
    Feature("orders_180d", "orders", "purchases in the last 180 days",
            "{orders_180d:.0f} purchases in the last 180 days", churn_direction=-1),
    Feature("orders_365d", "orders", "purchases in the last 365 days",
            "{orders_365d:.0f} purchases in the last 365 days", churn_direction=-1),
    Feature("spend_30d", "currency", "net spend in the last 30 days",
            "spent {spend_30d:,.2f} in the last 30 days"),
    Feature("spend_90d", "currency", "net spend in the last 90 days",
            "spent {spend_90d:,.2f} in the last 90 days"),
    Feature("spend_180d", "currency", "net spend in the last 180 days",
            "spent {spend_180d:,.2f} in the last 180 days"),
    Feature("spend_365d", "currency", "net spend in the last 365 days",
            "spent {spend_365d:,.2f} in the last 365 days"),
    Feature("orders_trend_90d", "orders", "purchases in the last 90 days minus the 90 days before",
            "{orders_trend_90d:+.0f} purchases versus the previous 90 days"),
    Feature("spend_trend_90d", "currency", "net spend in the last 90 days minus the 90 days before",
            "spend {spend_trend_90d:+,.2f} versus the previous 90 days"),
    Feature("returns_share", "share", "share of gross spend returned or cancelled",
            "returned {returns_share:.0%} of what they bought", when_missing="nothing bought yet"),
    Feature("p_alive", "probability", "BG/NBD probability that the member is still active",
            "{p_alive:.0%} likely to still be an active customer", lifetime=True,
            when_missing="too little history in the data to estimate whether still active"),
    Feature("bgnbd_purchases_90d", "orders", "BG/NBD expected purchases in the next 90 days",
            "expected to buy {bgnbd_purchases_90d:.2f} times in the next 90 days", lifetime=True,
            when_missing="too little history in the data to forecast purchases"),
    Feature("gg_order_value", "currency", "Gamma-Gamma expected spend per purchase",
            "expected to spend {gg_order_value:,.2f} per purchase", lifetime=True,
            when_missing="too little history in the data to forecast spend per purchase"),
    Feature("categories_distinct", "categories", "distinct categories bought",
            "buys in {categories_distinct:.0f} categories", needs_category=True),
    Feature("category_entropy", "nats", "how evenly spend spreads over categories (entropy)",
            "spend spread over categories (entropy {category_entropy:.2f})", needs_category=True),
    Feature("top_category_share", "share", "share of spend in the member's top category",
            "{top_category_share:.0%} of spend in one category", needs_category=True),
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
