"""Campaign target lists, pure: who to act on for a campaign, best first, with the model's reasons.

Every campaign ranks its eligible members by the expected value of acting on them: the campaign's
driving probability times the member's value, where value is the value model's ``expected_value``
and, for a member (or a snapshot) without one, the BG/NBD + Gamma-Gamma ``clv_12m``. A snapshot
has no score history, so "rising risk" and "overdue" are read from what it does hold: recency
against the member's own usual gap (``gap_ratio``) and the 90-day purchase trend.

Percentile ranks compare a member's ranking score with every member of the snapshot that has one
(before the campaign rule and the filters), so a filter never changes a member's percentile.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import xgboost as xgb

from features import contract
from features.offer_lists import NO_OFFERS, decode_offers
from features.segment_rules import ABC_CLASSES, LIFECYCLE_STAGES, read_segment_rules
from features.spreadsheet import csv_text
from serving.reasons import top_reasons
from serving.schemas import TargetFilters, TargetRow, TargetsRequest, TargetsResponse
from serving.scoring import shap_contributions

if TYPE_CHECKING:
    from serving.artefacts import LoadedSnapshot

LAPSED_STAGES = ("sleeping", "lost")
STILL_BUYING_STAGES = ("new", "active")
HIGH_VALUE_CLASSES = ("AA", "A")
RISK_THRESHOLD = 0.3  # churn probability from which a high-value member is "at risk"
REMINDER_THRESHOLD = 0.3  # P(buy within 7 days) from which a reminder is worth sending
OVERDUE_RATIO = 1.0  # gap_ratio >= 1: as long without a purchase as the member's usual gap, or longer
ROW_COLUMNS = [name for name in TargetRow.model_fields if name != "reasons"]


class CampaignUnavailable(ValueError):
    """The campaign's driving score is empty in this snapshot (its model has no champion)."""


@dataclass(frozen=True)
class Campaign:
    """A campaign: who is eligible, which probability drives it, and which model explains it."""

    name: str
    description: str
    driver: str  # the score column multiplied by value to rank, e.g. churn_probability
    task: str  # the model behind ``driver``, whose SHAP reasons are shown
    rule: Callable[[pd.DataFrame], pd.Series]  # members frame (scores + features) -> eligible mask
    raising_sign: int = 1  # sign of a SHAP contribution that raises ``driver`` (-1: AFT log-time)


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
)}
RULE_FEATURES = ("gap_ratio", "orders_trend_90d")


def campaign_named(name: str) -> Campaign:
    """The campaign called ``name``; an unknown name is an error listing the valid ones."""
    if name not in CAMPAIGNS:
        raise ValueError(f"campaign: unknown campaign {name!r}; valid: {', '.join(CAMPAIGNS)}")
    return CAMPAIGNS[name]


def ranked_targets(scores_by_id: pd.DataFrame, features_by_id: pd.DataFrame, campaign: str,
                   filters: TargetFilters) -> pd.DataFrame:
    """Every member passing the campaign rule and the filters, best first (``ROW_COLUMNS``)."""
    chosen = campaign_named(campaign)
    _check_filter_labels(filters, scores_by_id)
    members = _scored_members(scores_by_id, features_by_id, chosen)
    keep = chosen.rule(members).fillna(False).astype(bool) & _passes(members, filters) & members["score"].notna()
    listed = members[keep].sort_values(["score", contract.MEMBER_ID], ascending=[False, True], kind="stable")
    listed.insert(0, "rank", np.arange(1, len(listed) + 1))
    listed["offer_category"] = _offers(listed) if chosen.task == "upsell" else None
    if chosen.task != "upsell":
        listed["upsell_categories"] = NO_OFFERS
    return listed[ROW_COLUMNS].reset_index(drop=True)


def rank_targets(scores_by_id: pd.DataFrame, features_by_id: pd.DataFrame, campaign: str,
                 filters: TargetFilters, limit: int) -> pd.DataFrame:
    """The best ``limit`` targets of ``ranked_targets`` (which also gives the eligible count)."""
    return ranked_targets(scores_by_id, features_by_id, campaign, filters).head(limit)


def _scored_members(scores_by_id: pd.DataFrame, features_by_id: pd.DataFrame, campaign: Campaign) -> pd.DataFrame:
    """Scores, rule features, value, ranking score and both percentiles for every member."""
    driver = _required(scores_by_id, campaign.driver, f"the {campaign.task} model has no champion", campaign)
    expected, clv = _column(scores_by_id, "expected_value"), _column(scores_by_id, "clv_12m")
    value = expected.where(expected.notna(), clv)
    if value.isna().all():
        raise CampaignUnavailable(f"campaign {campaign.name!r}: no member has expected_value or clv_12m to rank by")
    members = scores_by_id.join(features_by_id.reindex(columns=list(RULE_FEATURES)), how="left")
    members["expected_value"] = value
    members["score"] = driver * value
    members = members.rename_axis(None).reset_index(names=contract.MEMBER_ID)
    members[contract.MEMBER_ID] = members[contract.MEMBER_ID].astype(str)
    members["percentile_global"] = _percentile(members["score"].rank(method="max", pct=True))
    by_segment = members.groupby(_column(members, "rfm_segment"), dropna=False)["score"]
    members["percentile_in_segment"] = _percentile(by_segment.rank(method="max", pct=True))
    return members


def _percentile(share: pd.Series) -> pd.Series:
    """Share of members scoring at most this one, in % with two decimals (the top member: 100)."""
    return (share * 100).round(2)


def _required(scores_by_id: pd.DataFrame, column: str, why: str, campaign: Campaign) -> pd.Series:
    values = _column(scores_by_id, column)
    if values.isna().all():
        raise CampaignUnavailable(f"campaign {campaign.name!r} ranks by {column}, which is empty: {why}")
    return values


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    """A column as floats/labels, or all-missing when the frame lacks it."""
    if name not in frame.columns:
        return pd.Series(np.nan, index=frame.index, dtype="float64")
    values = frame[name]
    return values if values.dtype == object or isinstance(values.dtype, pd.StringDtype) else values.astype("float64")


@functools.cache
def _filter_fields() -> tuple[tuple[str, str, tuple[str, ...]], ...]:
    """(filter field, profile column, configured labels): rfm names and tiers from the packaged rules."""
    rules = read_segment_rules()
    return (
        ("segments", "rfm_segment", rules.rfm.labels),
        ("tiers", "tier", rules.tiers.labels),
        ("abc_classes", "abc_class", ABC_CLASSES),
        ("lifecycle_stages", "lifecycle_stage", LIFECYCLE_STAGES),
    )


def _check_filter_labels(filters: TargetFilters, scores_by_id: pd.DataFrame) -> None:
    """Every label must be a configured one or one present in the snapshot (built with custom rules)."""
    for field, column, configured in _filter_fields():
        wanted = getattr(filters, field) or []
        present = _column(scores_by_id, column).dropna().astype(str).unique()
        valid = list(dict.fromkeys([*configured, *sorted(present)]))
        unknown = [label for label in wanted if label not in valid]
        if unknown:
            raise ValueError(f"filters.{field}: unknown {', '.join(map(repr, unknown))}; valid: {', '.join(valid)}")


def _passes(members: pd.DataFrame, filters: TargetFilters) -> pd.Series:
    keep = pd.Series(True, index=members.index)
    for field, column, _ in _filter_fields():
        wanted = getattr(filters, field)
        if wanted:
            keep &= members[column].isin(wanted)
    if filters.min_value is not None:
        keep &= members["expected_value"] >= filters.min_value
    if filters.exclude_member_ids:
        excluded = set(filters.exclude_member_ids)  # a set lookup per member: isin on Arrow strings is slow here
        keep &= np.fromiter((m not in excluded for m in members[contract.MEMBER_ID].tolist()), bool, len(members))
    return keep


def _offers(listed: pd.DataFrame) -> pd.Series:
    """The first of the member's ``upsell_categories`` (a JSON array, best first), None when empty."""
    offers = [decode_offers(cell) for cell in listed["upsell_categories"].tolist()]
    return pd.Series([names[0] if names else None for names in offers], index=listed.index, dtype=object)


def targets_response(models: Mapping[str, xgb.Booster], loaded: LoadedSnapshot,
                     request: TargetsRequest) -> TargetsResponse:
    """The ranked list of ``request`` with the campaign model's top reasons for the listed rows only."""
    campaign = campaign_named(request.campaign)
    ranked = ranked_targets(loaded.scores_by_id, loaded.features_by_id, campaign.name, request.filters)
    listed = ranked.head(request.limit)
    rows = loaded.features_by_id.loc[listed[contract.MEMBER_ID]]
    reasons = supporting_reasons(models.get(campaign.task), rows, request.explain, campaign.raising_sign)
    records = listed.astype(object).where(listed.notna(), None).to_dict(orient="records")
    return TargetsResponse(
        campaign=campaign.name,
        snapshot_as_of=loaded.snapshot.as_of.isoformat(),
        eligible=len(ranked),
        rows=[TargetRow(**record, reasons=why) for record, why in zip(records, reasons)],
    )


def supporting_reasons(booster: xgb.Booster | None, rows: pd.DataFrame, k: int, raising_sign: int) -> list[list[str]]:
    """Per row, in words, the ``k`` largest SHAP contributions that push the campaign's score up.

    A list answers "why is this member on it", so contributions pulling the other way are left
    out (a row may then have fewer than ``k``). No model (or k = 0): no reasons.
    """
    if booster is None or k <= 0 or rows.empty:
        return [[] for _ in range(len(rows))]
    contributions, frame = shap_contributions(booster, rows)
    supporting = np.where(contributions * raising_sign > 0, contributions, 0.0)
    return [[reason.text for reason in row if reason.contribution != 0.0]
            for row in top_reasons(supporting, frame, k)]


def targets_csv(response: TargetsResponse) -> str:
    """The rows as CSV, one column per reason (``reason_1``, ...) so a spreadsheet shows them side by side.

    Spreadsheet-safe (``features.spreadsheet``): the CLI's file and the API's ``?format=csv`` both come from here.
    """
    k = max((len(row.reasons) for row in response.rows), default=0)
    frame = pd.DataFrame([row.model_dump(exclude={"reasons"}) for row in response.rows], columns=ROW_COLUMNS)
    for i in range(k):
        frame[f"reason_{i + 1}"] = [row.reasons[i] if i < len(row.reasons) else "" for row in response.rows]
    return csv_text(frame)
