"""TrainConfig: every knob of a training run, parsed once from YAML at the edge."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator


def default_xgb_params() -> dict[str, Any]:
    """Shallow, regularised trees: tabular churn data is small and noisy."""
    return {
        "objective": "binary:logistic",
        "eval_metric": "auc",
        "max_depth": 4,
        "eta": 0.05,
        "subsample": 0.8,
        "colsample_bytree": 0.8,
        "min_child_weight": 5.0,
        "lambda": 1.0,
        "tree_method": "hist",
        "nthread": 2,
    }


class TrainConfig(BaseModel):
    """How a churn model is trained and judged."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    horizon_days: int = Field(90, ge=1, le=730, description="label window length H")
    n_train_cutoffs: int = Field(6, ge=1, le=52, description="rolling training cut-offs")
    cutoff_step_days: int = Field(28, ge=1, description="days between training cut-offs (whole weeks keep weekdays aligned)")
    min_history_days: int = Field(60, ge=0, description="history required before the first cut-off")
    num_boost_round: int = Field(500, ge=1, description="upper bound; early stopping picks fewer, used as is when it cannot run")
    early_stopping_rounds: int = Field(50, ge=0, description="0 disables; validates on the latest training cut-off")
    monotone: bool = Field(True, description="apply the catalogue's churn directions as monotone constraints")
    max_members_per_cutoff: int | None = Field(None, ge=100, description="at most this many members' examples per "
                                               "training cut-off, a seeded sample (training.member_sample); "
                                               "evaluation keeps every member. None: all")
    baseline_members: int | None = Field(200_000, ge=100, description="at most this many members, a seeded "
                                         "sample, in the windows the serving baselines' rules are fitted and "
                                         "chosen on (training.serving_baselines); every member is scored. None: all")
    seed: int = 7
    bootstrap_rounds: int = Field(1000, ge=100, le=100_000, description="paired bootstrap resamples behind the "
                                  "gate's 95% interval of model minus best baseline (seeded by seed)")
    bootstrap_rows: int | None = Field(200_000, ge=100, description="the gate's resamples draw from a seeded "
                                       "sample of at most this many evaluation rows (a wider interval: a "
                                       "stricter gate); the metrics themselves use every row. None: all")
    xgb_params: dict[str, Any] = Field(default_factory=default_xgb_params)
    aft_distribution: Literal["normal", "logistic", "extreme"] = Field("normal", description="next-purchase AFT noise")
    aft_sigma: float = Field(1.0, gt=0, description="next-purchase AFT scale of log-time noise")
    spend_up_growth: float = Field(0.2, ge=0, description="without categories, upsell = next-H spend >= (1 + g) x trailing-H spend")
    max_categories: int = Field(20, ge=1, le=200, description="categories the upsell model ranks (most owned first)")
    value_tweedie_power: float = Field(1.5, gt=1, lt=2, description="member value: Tweedie variance power")
    value_12m_max_rounds: int = Field(100, ge=1, description="12-month value: boosting rounds at most; its "
                                      "training cut-offs rarely span the year out-of-time early stopping needs")

    @field_validator("xgb_params")
    @classmethod
    def _over_defaults(cls, params: dict[str, Any]) -> dict[str, Any]:
        """A partial override (e.g. only max_depth) keeps every other default, objective included."""
        return {**default_xgb_params(), **params}


def read_config(path: str | Path | None, **overrides: Any) -> TrainConfig:
    """Load a TrainConfig from YAML (defaults when no path), then apply CLI overrides."""
    raw: dict[str, Any] = {}
    if path is not None:
        with open(path, encoding="utf-8") as handle:
            raw = yaml.safe_load(handle) or {}
    raw.update({key: value for key, value in overrides.items() if value is not None})
    return TrainConfig.model_validate(raw)
