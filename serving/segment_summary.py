"""Segment sizes and value shares of the served snapshot, for GET /segments and the marketers' page."""

from __future__ import annotations

import pandas as pd

from features.i18n import Translator
from features.segment_rules import ABC_CLASSES, LIFECYCLE_STAGES, SegmentRules
from features.snapshot import SEGMENT_COLUMNS
from features.value_names import label
from serving.schemas import SegmentCount

VALUE_COLUMN = "clv_12m"
ENGLISH = Translator("en")


def configured_labels(rules: SegmentRules, tier_codes: tuple[str, ...] | None = None) -> dict[str, tuple[str, ...]]:
    """Every label each segment dimension can take under ``rules``, in the playbook's order.

    ``tier_codes``: a tier programme's cards (and AA), lowest first, which replace the quantile ladder.
    """
    return {"rfm_segment": rules.rfm.labels, "abc_class": ABC_CLASSES,
            "lifecycle_stage": LIFECYCLE_STAGES, "tier": tier_codes or rules.tiers.labels}


def segment_counts(scores: pd.DataFrame, labels: dict[str, tuple[str, ...]],
                   translator: Translator = ENGLISH) -> dict[str, list[SegmentCount]]:
    """Members and summed value per label of every segment dimension, each named in ``translator``'s language.

    Configured labels come first, in their order, so an empty segment shows as 0 rather than
    vanishing; labels found in the data but not configured (a snapshot built with other rules)
    follow. A member without a value counts as 0 value. Shares are of all members / total value.
    """
    value = member_values(scores)
    total_members, total = len(scores), float(value.sum())
    counts = {}
    for column in SEGMENT_COLUMNS:
        groups = pd.DataFrame({"label": scores[column].astype("string"), "value": value})
        sizes = groups.groupby("label", dropna=True)["value"].agg(["size", "sum"])
        known = list(labels.get(column, ()))
        order = known + sorted(str(x) for x in sizes.index if x not in known)
        counts[column] = [_count(name, sizes, total_members, total).model_copy(
            update={"label": label(column, name, translator)}) for name in order]
    return counts


def _count(name: str, sizes: pd.DataFrame, total_members: int, total_value: float) -> SegmentCount:
    members = int(sizes["size"].get(name, 0))
    summed = float(sizes["sum"].get(name, 0.0))
    return SegmentCount(name=name, members=members,
                        share_members=members / total_members if total_members else 0.0,
                        value=summed, share_value=summed / total_value if total_value > 0 else 0.0)


def member_values(scores: pd.DataFrame) -> pd.Series:
    """Each member's value for the summary: ``clv_12m``, 0 where missing or negative."""
    return pd.to_numeric(scores[VALUE_COLUMN], errors="coerce").fillna(0.0).clip(lower=0.0)


def total_value(scores: pd.DataFrame) -> float:
    return float(member_values(scores).sum())
