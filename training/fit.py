"""Fit XGBoost boosters for any task.

The number of boosting rounds is chosen out of time inside the training window: fit on the
earlier training cut-offs, stop early on the latest one, then refit on all of them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import numpy as np
import pandas as pd
import xgboost as xgb

from features.catalogue import churn_monotone_constraints
from training.config import TrainConfig
from training.examples import CUTOFF_COLUMN

MatrixFor = Callable[[pd.DataFrame], xgb.DMatrix]  # example rows -> DMatrix with the task's labels


class Trainer(Protocol):
    """What trains a booster: ``xgb.train`` here, or the same call on Spark workers (``training.spark_booster``)."""

    def __call__(self, params: dict[str, Any], dtrain: xgb.DMatrix, num_boost_round: int, *,
                 evals: Sequence[tuple[xgb.DMatrix, str]] = (), early_stopping_rounds: int | None = None) -> xgb.Booster:
        ...


def local_train(params: dict[str, Any], dtrain: xgb.DMatrix, num_boost_round: int, *,
                evals: Sequence[tuple[xgb.DMatrix, str]] = (), early_stopping_rounds: int | None = None) -> xgb.Booster:
    """``xgb.train`` in this process, quiet."""
    return xgb.train(params, dtrain, num_boost_round=num_boost_round, evals=list(evals),
                     early_stopping_rounds=early_stopping_rounds, verbose_eval=False)


def booster_params(feature_names: list[str], config: TrainConfig) -> dict[str, object]:
    """The churn booster's parameters: the configured ones, the seed, and monotone directions."""
    params: dict[str, object] = {**config.xgb_params, "seed": config.seed}
    if config.monotone:
        params["monotone_constraints"] = churn_monotone_constraints(feature_names)
    return params


def choose_rounds(examples: pd.DataFrame, matrix_for: MatrixFor, params: Mapping[str, Any], config: TrainConfig,
                  train: Trainer = local_train) -> int:
    """Best round count when validating on the latest training cut-off.

    Only cut-offs whose label window ends by the latest cut-off are fitted on, so the validation
    is out of time; without such cut-offs all rounds are used.
    """
    cutoffs = examples[CUTOFF_COLUMN]
    latest = cutoffs.max()
    fit_rows = (cutoffs + pd.Timedelta(days=config.horizon_days) <= latest).to_numpy()
    if config.early_stopping_rounds == 0 or not fit_rows.any():
        return config.num_boost_round
    validation = matrix_for(examples[(cutoffs == latest).to_numpy()])
    if str(params.get("objective", "")).startswith("binary") and len(np.unique(validation.get_label())) < 2:
        return config.num_boost_round  # AUC is undefined on one class
    try:
        booster = train(dict(params), matrix_for(examples[fit_rows]), config.num_boost_round,
                        evals=[(validation, "latest_cutoff")], early_stopping_rounds=config.early_stopping_rounds)
    except xgb.core.XGBoostError:  # e.g. AUC undefined: one class only in the validation rows
        return config.num_boost_round
    return int(booster.best_iteration) + 1


def fit_booster(examples: pd.DataFrame, matrix_for: MatrixFor, params: Mapping[str, Any], config: TrainConfig,
                train: Trainer = local_train) -> xgb.Booster:
    """Train on every training cut-off with the chosen round count; deterministic for a seed."""
    rounds = choose_rounds(examples, matrix_for, params, config, train)
    return train(dict(params), matrix_for(examples), rounds)
