"""The feature matrix a booster reads, and its prediction per row: one decode for training and serving."""

from __future__ import annotations

import numpy as np
import pandas as pd
import xgboost as xgb

from features.categories import SHARE_PREFIX
from models.calibration import calibrated_probability, read_calibration


def model_frame(features: pd.DataFrame, feature_names: list[str]) -> pd.DataFrame:
    """The rows' values in the model's feature order, for training, scoring and explaining alike.

    A category share column the rows lack is 0: the member spent nothing in that category (the
    category was not among those the snapshot kept). Any other missing feature is an error naming
    it, never a silent zero.
    """
    missing = [n for n in feature_names if n not in features.columns and not n.startswith(SHARE_PREFIX)]
    if missing:
        raise ValueError(f"features missing for the model: {missing}")
    columns = {name: features[name] if name in features.columns else 0.0 for name in feature_names}
    return pd.DataFrame(columns, index=features.index)


def to_matrix(features: pd.DataFrame, feature_names: list[str], label: np.ndarray | None = None) -> xgb.DMatrix:
    """A DMatrix of ``model_frame`` carrying the feature names, so the booster knows its own inputs."""
    values = model_frame(features, feature_names).to_numpy(dtype=np.float32)
    return xgb.DMatrix(values, label=label, feature_names=feature_names)


def predict_proba(booster: xgb.Booster, features: pd.DataFrame, calibrated: bool = True) -> np.ndarray:
    """The booster's prediction for each row, with its own feature list: P(churn) for churn, spend for value.

    The one decode of a churn booster, for training, the gate and serving alike: a booster that
    carries a calibration (``models.calibration``) answers with the calibrated probability
    (``calibrated=False`` gives the booster's own, for before/after comparisons).
    """
    matrix = to_matrix(features, list(booster.feature_names or []))
    calibration = read_calibration(booster) if calibrated else None
    if calibration is None or calibration.method == "none":
        return booster.predict(matrix).astype(float)
    return calibrated_probability(booster.predict(matrix, output_margin=True), calibration)
