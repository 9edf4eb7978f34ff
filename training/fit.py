"""Fit the XGBoost churn booster.

The number of boosting rounds is chosen out of time inside the training window: fit on the
earlier training cut-offs, stop early on the latest one, then refit on all of them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xgboost as xgb

from features.catalogue import churn_monotone_constraints
from training.config import TrainConfig
from training.examples import CUTOFF_COLUMN


def to_matrix(features: pd.DataFrame, feature_names: list[str], label: np.ndarray | None = None) -> xgb.DMatrix:
    """A DMatrix carrying the feature names, so the booster knows its own inputs."""
    return xgb.DMatrix(features[feature_names].to_numpy(dtype=np.float32), label=label, feature_names=feature_names)


def booster_params(feature_names: list[str], config: TrainConfig) -> dict[str, object]:
    params: dict[str, object] = {**config.xgb_params, "seed": config.seed}
    if config.monotone:
        params["monotone_constraints"] = churn_monotone_constraints(feature_names)
    return params


def choose_rounds(examples: pd.DataFrame, labels: np.ndarray, feature_names: list[str], config: TrainConfig) -> int:
    """Best round count when validating on the latest training cut-off.

    Only cut-offs whose label window ends by the latest cut-off are fitted on, so the validation
    is out of time; without such cut-offs (or without both classes) all rounds are used.
    """
    cutoffs = examples[CUTOFF_COLUMN]
    latest = cutoffs.max()
    valid_rows = (cutoffs == latest).to_numpy()
    fit_rows = (cutoffs + pd.Timedelta(days=config.horizon_days) <= latest).to_numpy()
    if config.early_stopping_rounds == 0 or not fit_rows.any() or len(np.unique(labels[valid_rows])) < 2:
        return config.num_boost_round
    booster = xgb.train(
        booster_params(feature_names, config),
        to_matrix(examples[fit_rows], feature_names, labels[fit_rows]),
        num_boost_round=config.num_boost_round,
        evals=[(to_matrix(examples[valid_rows], feature_names, labels[valid_rows]), "latest_cutoff")],
        early_stopping_rounds=config.early_stopping_rounds,
        verbose_eval=False,
    )
    return int(booster.best_iteration) + 1


def fit_booster(examples: pd.DataFrame, labels: np.ndarray, feature_names: list[str], config: TrainConfig) -> xgb.Booster:
    """Train on every training cut-off with the chosen round count; deterministic for a seed."""
    rounds = choose_rounds(examples, labels, feature_names, config)
    return xgb.train(booster_params(feature_names, config), to_matrix(examples, feature_names, labels), num_boost_round=rounds)


def predict_proba(booster: xgb.Booster, features: pd.DataFrame) -> np.ndarray:
    """P(churn) for each row, with the booster's own feature list."""
    names = list(booster.feature_names or [])
    return booster.predict(to_matrix(features, names)).astype(float)
