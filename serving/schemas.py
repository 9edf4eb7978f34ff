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
    """The scores of one requested id; unknown ids come back with status 'unknown' and no scores."""

    member_id: str
    status: Literal["scored", "unknown"]
    churn_probability: float | None = None
    reasons: list[Reason] = Field(default_factory=list)


class ScoreResponse(BaseModel):
    results: list[MemberScore] = Field(description="one entry per requested id, in request order")
    snapshot_as_of: str = Field(description="features are as of this date (history before it)")
    model_version: str


class Metadata(BaseModel):
    model_name: str
    model_version: str
    mlflow_run_id: str
    snapshot_as_of: str
    snapshot_members: int
    data_fingerprint: str
    metrics: dict[str, float]
