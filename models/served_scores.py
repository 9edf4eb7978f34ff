"""The scores each task's champion serves, decoded from its booster: what drift compares per task.

The columns and decoders are the ones ``serving.scoring.model_outputs`` serves (a test holds the
two together), so a training profile of a champion's scores describes exactly what it will serve.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

import pandas as pd
import xgboost as xgb

from models.matrix import predict_proba, to_matrix
from models.offers import any_new_probability
from models.timing import predict_timing

SCORE_COLUMNS: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType({
    "churn": ("churn_probability",),
    "next_purchase": ("next_purchase_median_days", "p_purchase_7d", "p_purchase_30d", "p_purchase_90d"),
    "upsell": ("upsell_probability",),
    "value": ("expected_value",),
    "value_12m": ("clv_12m",),
})


def served_scores(task: str, booster: xgb.Booster, features: pd.DataFrame) -> pd.DataFrame:
    """``SCORE_COLUMNS[task]`` for every row of ``features`` (same index), as the service decodes them."""
    if task not in SCORE_COLUMNS:
        raise ValueError(f"task: {task!r} serves no scores; known: {', '.join(SCORE_COLUMNS)}")
    if task == "next_purchase":
        timing = predict_timing(booster, features)
        return pd.DataFrame({"next_purchase_median_days": timing["median_days"].to_numpy(),
                             "p_purchase_7d": timing["p_within_7d"].to_numpy(),
                             "p_purchase_30d": timing["p_within_30d"].to_numpy(),
                             "p_purchase_90d": timing["p_within_90d"].to_numpy()}, index=features.index)
    if task == "upsell":
        values = any_new_probability(booster.predict(to_matrix(features, list(booster.feature_names or []))))
    else:
        values = predict_proba(booster, features)
    (column,) = SCORE_COLUMNS[task]
    return pd.DataFrame({column: values}, index=features.index)
