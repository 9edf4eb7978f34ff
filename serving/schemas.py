"""Request and response models of the HTTP API: the stable JSON contract the CRM codes against."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_BATCH = 10_000


class ScoreRequest(BaseModel):
    """Members to score from the newest snapshot, and how many reasons to give per score."""

    model_config = ConfigDict(extra="forbid")

    member_ids: list[str] = Field(
        ..., min_length=1, max_length=MAX_BATCH,
        description="loyalty ids to score (1 to 10,000)", examples=[["12", "7592"]],
    )
    explain: int = Field(3, ge=0, le=25, description="top-k reasons per score (0 for none)")


class Reason(BaseModel):
    """One feature's exact TreeSHAP contribution to a score, in log-odds, and in words."""

    feature: str
    value: float | None = Field(description="the member's value of the feature (null when missing)")
    contribution: float = Field(description="SHAP contribution to the log-odds of churn")
    direction: Literal["raises", "lowers"]
    text: str = Field(description="the reason in plain words")


class MemberScore(BaseModel):
    """The scores of one requested id; unknown ids come back with status 'unknown' and no scores.

    A model without a champion leaves its fields null. Field names match ``memberscore score``.
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
    upsell_categories: str | None = Field(None, description="categories to offer, best first, '|'-separated")
    expected_value: float | None = Field(None, description="expected spend over the next H days (value model)")
    clv_12m: float | None = Field(None, description="BG/NBD + Gamma-Gamma expected spend over 12 months")
    p_alive: float | None = Field(None, description="BG/NBD probability the member is still active")
    rfm_segment: str | None = None
    abc_class: str | None = None
    lifecycle_stage: str | None = None
    tier: str | None = None
    reasons: list[Reason] = Field(default_factory=list, description="the churn score's top reasons")
    model_reasons: dict[str, list[Reason]] = Field(
        default_factory=dict, description="top reasons per model: churn, next_purchase, upsell, value")


class ScoreResponse(BaseModel):
    results: list[MemberScore] = Field(description="one entry per requested id, in request order")
    snapshot_as_of: str = Field(description="features are as of this date (history before it)")
    model_version: str = Field(description="the churn champion's MLflow version")
    model_versions: dict[str, str] = Field(default_factory=dict, description="MLflow version per served model")


class ModelInfo(BaseModel):
    model_name: str
    model_version: str
    mlflow_run_id: str
    metrics: dict[str, float]


class Metadata(BaseModel):
    model_name: str
    model_version: str
    mlflow_run_id: str
    models: dict[str, ModelInfo] = Field(default_factory=dict, description="every served model by task")
    snapshot_as_of: str
    snapshot_members: int
    data_fingerprint: str
    metrics: dict[str, float]
