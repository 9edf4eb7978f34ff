"""Request and response models of the HTTP API: the stable JSON contract the CRM codes against."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from features.offer_lists import decode_offers

MAX_BATCH = 10_000


# Offers are a list of category names in every answer; scoring frames carry them as one JSON array
# per member (features.offer_lists), decoded here so a name may hold any character.
OfferList = Annotated[list[str], BeforeValidator(decode_offers)]

class ScoreRequest(BaseModel):
    """Members to score from the newest snapshot, and how many reasons to give per score."""

    # a refusal names the field and the reason, never the member ids
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    member_ids: list[str] = Field(
        ..., min_length=1, max_length=MAX_BATCH,
        description="loyalty ids to score (1 to 10,000)", examples=[["12", "7592"]],
    )
    explain: int = Field(3, ge=0, le=25, description="top-k reasons per score (0 for none)")


class Reason(BaseModel):
    """One feature's exact TreeSHAP contribution to a score, in log-odds, and in words."""

    feature: str
    value: float | None = Field(description="the member's value of the feature (null when missing, or not served "
                                           "as an estimate: a one-time buyer's p_alive)")
    contribution: float = Field(description="SHAP contribution to the log-odds of churn")
    direction: Literal["raises", "lowers"]
    text: str = Field(description="the reason in plain words")


class MemberScore(BaseModel):
    """The scores of one requested id; unknown ids come back with status 'unknown' and no scores.

    A task without a champion is scored by its baseline (``model_versions`` names it); a field is
    null only where README's score-column table says it may be. Field names match ``memberscore score``.
    """

    member_id: str
    status: Literal["scored", "unknown"]
    churn_probability: float | None = None
    next_purchase_median_days: float | None = None
    next_purchase_date: str | None = Field(None, description="snapshot date + median days (ISO)")
    p_purchase_7d: float | None = None
    p_purchase_30d: float | None = None
    p_purchase_90d: float | None = None
    upsell_probability: float | None = None
    upsell_categories: OfferList | None = Field(None, description="categories to offer, best first (any text)")
    expected_value: float | None = Field(None, description="expected spend over the next H days (value model)")
    clv_12m: float | None = Field(None, description="expected spend over 12 months: the value_12m XGBoost Tweedie "
                                                    "champion when one serves, else BG/NBD + Gamma-Gamma")
    p_alive: float | None = Field(None, description="BG/NBD probability the member is still active")
    rfm_segment: str | None = None
    abc_class: str | None = None
    lifecycle_stage: str | None = None
    tier: str | None = None
    tier_previous: str | None = Field(None, description="tier programme: the tier held at the end of the last period")
    tier_change: str | None = Field(None, description="tier programme: up, down or same since tier_previous")
    tier_period_spend: float | None = Field(None, description="tier programme: qualifying spend this period so far")
    spend_to_next_tier: float | None = Field(None, description="tier programme: spend this period still needed for "
                                             "the next card (null on the top card)")
    next_tier_progress: float | None = Field(None, description="tier programme: share of the next card's threshold reached")
    tier_expires: str | None = Field(None, description="tier programme: last day the card is held (ISO)")
    tier_retain_threshold: float | None = Field(None, description="tier programme: spend the card's assessment asks for")
    projected_period_spend: float | None = Field(None, description="tier programme: spend projected for the assessed "
                                                 "period at the member's pace")
    projected_period_spend_low: float | None = Field(None, description="tier programme: 80% interval of "
                                                     "projected_period_spend, low end")
    projected_period_spend_high: float | None = Field(None, description="tier programme: 80% interval of "
                                                      "projected_period_spend, high end")
    retention_progress: float | None = Field(None, description="projected_period_spend / tier_retain_threshold, "
                                             "capped at 1")
    downgrade_risk: bool | None = Field(None, description="tier programme: the projection falls short of the threshold")
    downgrade_risk_basis: str | None = Field(None, description="where the pace came from: the value baseline's "
                                             "expected spend (baseline_expected_value) or pace")
    rfm_segment_label: str | None = Field(None, description="the RFM segment's name in the request's language")
    abc_class_label: str | None = Field(None, description="the ABC class's name in the request's language")
    lifecycle_stage_label: str | None = Field(None, description="the lifecycle stage's name in the request's language")
    tier_label: str | None = Field(None, description="the tier's name in the request's language (e.g. 钻石卡)")
    reasons: list[Reason] = Field(default_factory=list, description="the churn score's top reasons")
    model_reasons: dict[str, list[Reason]] = Field(
        default_factory=dict, description="top reasons per model: churn, next_purchase, upsell, value")


class ScoreResponse(BaseModel):
    results: list[MemberScore] = Field(description="one entry per requested id, in request order")
    snapshot_as_of: str = Field(description="features are as of this date (history before it)")
    model_version: str = Field(description="the churn champion's MLflow version ('baseline:rfm_rule' without one)")
    model_versions: dict[str, str] = Field(
        default_factory=dict, description="MLflow version per served model; 'baseline:<name>' where a task has no "
                                          "champion and its baseline serves (bgnbd for next_purchase and value, "
                                          "rfm_rule, recency_over_gap or bgnbd for churn, popular_new_categories "
                                          "or rfm_rule for upsell)")


MAX_FEATURE_ROWS = 1_000
FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]


class FeatureRow(BaseModel):
    """One caller-supplied feature row: every feature the served models use (null = unknown)."""

    model_config = ConfigDict(extra="forbid")

    member_id: str | None = Field(None, max_length=200, description="echoed back; row-<i> when absent")
    features: dict[str, FiniteFloat | None] = Field(
        ..., description="feature name -> value (finite; null when unknown); names as in GET /metadata")


class ScoreFeaturesRequest(BaseModel):
    """Rows to score as given (no snapshot): same outputs and reasons as /score, computed on the fly."""

    model_config = ConfigDict(extra="forbid")

    rows: list[FeatureRow] = Field(..., min_length=1, max_length=MAX_FEATURE_ROWS,
                                   description=f"1 to {MAX_FEATURE_ROWS:,} feature rows")
    explain: int = Field(3, ge=0, le=25, description="top-k reasons per score (0 for none)")
    as_of: date | None = Field(None, description="the rows' as-of date, for next_purchase_date "
                                                 "(default: the served snapshot's)")


class ExplainRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    member_id: str = Field(..., min_length=1, max_length=200, description="a member of the served snapshot")


class ModelExplanation(BaseModel):
    """A model's full TreeSHAP vector for one member: base_value + sum(contributions) == margin."""

    base_value: float = Field(description="the model's expected margin (the SHAP bias term)")
    margin: float = Field(description="the model's raw output for this member (log-odds for churn)")
    contributions: dict[str, float] = Field(description="exact TreeSHAP contribution of every feature")
    feature_values: dict[str, float | None] = Field(description="the member's feature values (null = missing)")
    output: str = Field(description="what the margin is: e.g. log-odds of churn (in the request's language)")
    texts: dict[str, str] = Field(default_factory=dict,
                                  description="every feature's value in words, in the request's language")


class ExplainResponse(BaseModel):
    member_id: str
    snapshot_as_of: str
    models: dict[str, ModelExplanation]


class SegmentCount(BaseModel):
    name: str
    label: str | None = Field(None, description="the name in the request's language")
    members: int
    share_members: float
    value: float = Field(description="sum of the value column over the group's members")
    share_value: float


class SegmentsResponse(BaseModel):
    snapshot_as_of: str
    members: int
    value_column: str = Field(description="the value summed per group (clv_12m: 12-month expected spend)")
    total_value: float
    dimensions: dict[str, list[SegmentCount]] = Field(
        description="rfm_segment, tier, abc_class, lifecycle_stage: every configured label, empty ones too")


class Readiness(BaseModel):
    """Without an ``admin`` key only ``ready``; with one, the project, reasons, models and snapshot too."""

    project: str | None = Field(None, description="the project this service serves (MEMBERSCORE_PROJECT)")
    ready: bool
    reasons: list[str] = Field(default_factory=list, description="why the service is not ready; when ready, any "
                                                                 "model or snapshot refused (the previous one keeps serving)")
    models: dict[str, str] = Field(default_factory=dict, description="served model tag per task")
    snapshot_as_of: str | None = None
    reasons_computed: float | None = Field(None, description="share of members whose top reasons are computed; the "
                                           "rest are computed when asked, until the fill that starts with each "
                                           "snapshot ends")


class ModelInfo(BaseModel):
    model_name: str = Field(description="BentoML tag of the served model (<project>.memberscore-<task>:<tag>)")
    model_version: str = Field(description="MLflow registered model version")
    mlflow_run_id: str
    metrics: dict[str, float] = Field(description="out-of-time metrics: oot_<scorer>_<metric>, scorer 'model' or a baseline")
    features: list[str] = Field(default_factory=list, description="the model's input features, in order")
    promotion_metric: str | None = Field(None, description="the out-of-time metric its champion gate compares "
                                                           "(oot_model_<metric> vs oot_<baseline>_<metric>)")
    training: dict[str, str] = Field(default_factory=dict, description="data_fingerprint, evaluation_cutoff, cutoffs, "
                                                                         "horizon_days, git_sha of the training run")


class Metadata(BaseModel):
    """What serves now. The top-level model fields repeat the churn model's (null before it exists)."""

    project: str = Field(description="the project this service serves: its models and snapshots only")
    model_name: str | None = None
    model_version: str | None = None
    mlflow_run_id: str | None = None
    models: dict[str, ModelInfo] = Field(default_factory=dict, description="every served model by task")
    snapshot_as_of: str | None = Field(None, description="the served snapshot's date (history before it)")
    snapshot_members: int = 0
    data_fingerprint: str | None = Field(None, description="fingerprint of the transactions behind the snapshot")
    metrics: dict[str, float] = Field(default_factory=dict)
    ready: bool = False


# --- campaign target lists (serving.targets) --------------------------------------------------------

MAX_TARGETS = 10_000
MAX_EXCLUDED = 100_000
DEFAULT_PAGE = 100
MAX_CURSOR_CHARS = 200


class TargetFilters(BaseModel):
    """Which eligible members a list may hold; every filter given must hold (an empty list filters nothing)."""

    model_config = ConfigDict(extra="forbid")

    segments: list[str] | None = Field(None, description="RFM segment names to keep", examples=[["at_risk"]])
    tiers: list[str] | None = Field(None, description="membership tiers to keep", examples=[["platinum", "diamond"]])
    abc_classes: list[str] | None = Field(None, description="ABC classes to keep (AA, A, B, C)", examples=[["AA", "A"]])
    lifecycle_stages: list[str] | None = Field(None, description="lifecycle stages to keep (new, active, sleeping, lost)")
    min_value: FiniteFloat | None = Field(None, ge=0, description="keep members whose value (see TargetRow.expected_value) is at least this")
    exclude_member_ids: list[str] = Field(
        default_factory=list, max_length=MAX_EXCLUDED,
        description="member ids never to list, e.g. already contacted (up to 100,000)")


class TargetsRequest(BaseModel):
    """A ranked target list for one campaign (GET /metadata and serving.targets.CAMPAIGNS name them)."""

    model_config = ConfigDict(extra="forbid")

    campaign: str = Field(..., description="winback, retain_high_value, upsell, next_purchase_reminder, "
                          "tier_upgrade_nudge or downgrade_warning (the last two need a tier programme)",
                          examples=["winback"])
    limit: int | None = Field(
        None, ge=1, description="rows, best first. JSON: a page of 1 to 10,000 (default 100), the next page from "
        "`next_cursor`; CSV (?format=csv): no cap, default the whole eligible list")
    cursor: str | None = Field(None, max_length=MAX_CURSOR_CHARS,
                               description="JSON only: the previous page's `next_cursor`, unchanged")
    filters: TargetFilters = Field(default_factory=TargetFilters)
    explain: int = Field(3, ge=0, le=10, description="top-k reasons per row from the campaign's model (0 for none)")


class TargetRow(BaseModel):
    """One member of a target list, with the score that ranks it and why the model thinks so."""

    model_config = ConfigDict(extra="forbid")

    rank: int = Field(description="1 = best target")
    member_id: str
    score: float = Field(description="the campaign's ranking score, e.g. churn probability x value for winback")
    expected_value: float = Field(description="value model's expected spend, else the 12-month BG/NBD CLV")
    rfm_segment: str | None = None
    tier: str | None = None
    abc_class: str | None = None
    lifecycle_stage: str | None = None
    rfm_segment_label: str | None = Field(None, description="the RFM segment's name in the request's language")
    abc_class_label: str | None = Field(None, description="the ABC class's name in the request's language")
    lifecycle_stage_label: str | None = Field(None, description="the lifecycle stage's name in the request's language")
    tier_label: str | None = Field(None, description="the tier's name in the request's language (e.g. 钻石卡)")
    percentile_global: float = Field(description="share of all scored members (%) whose ranking score is <= this one's")
    percentile_in_segment: float = Field(description="the same within the member's RFM segment")
    offer_category: str | None = Field(None, description="upsell only: the category to offer")
    upsell_categories: OfferList = Field(default_factory=list,
                                         description="upsell only: the categories to offer, best first")
    score_unit: str = Field("currency", description="the score's unit: 'currency' = an amount in the currency of "
                                                    "the transactions (every campaign's score is probability x spend)")
    score_text: str = Field("", description="the score in words, e.g. '84.42 expected spend at risk (87% churn "
                                            "probability x 97.04 expected spend)'")
    campaign_reasons: list[str] = Field(default_factory=list, description="why the member is on this campaign's "
                                        "list, in words: e.g. for winback the silence against their own rhythm, "
                                        "falling spend, the churn probability")
    reasons: list[str] = Field(default_factory=list, description="top reasons of the campaign's model, in words")


class TargetsResponse(BaseModel):
    model_config = ConfigDict(extra="forbid")

    campaign: str
    campaign_label: str | None = Field(None, description="the campaign's name in the request's language")
    snapshot_as_of: str = Field(description="features are as of this date (history before it)")
    eligible: int = Field(description="members passing the campaign rule and the filters (before the limit)")
    score_unit: str = Field("currency", description="the unit of every row's score (see TargetRow.score_unit)")
    score_meaning: str = Field("", description="what the score is, in words, e.g. 'expected spend at risk: churn "
                                               "probability x expected spend, in the currency of the amounts'")
    rows: list[TargetRow] = Field(description="best first, at most `limit`")
    next_cursor: str | None = Field(None, description="send it as `cursor` (same request otherwise) for the next "
                                    "page; null on the last page. A cursor from an older list answers 410")
