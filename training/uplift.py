"""Uplift learners on XGBoost: who would buy *because* of the contact, from randomised rows.

Two meta-learners for a binary treatment and a binary or continuous outcome, generic over a
numeric feature frame (Hillstrom's own columns, or a memberscore snapshot as of a campaign start):

- T-learner: one outcome model per arm; uplift = mu1(x) - mu0(x).
- DR-learner (Kennedy 2023): cross-fitted outcome models per arm and the known assignment share e
  give each row the doubly robust pseudo-outcome
  ``mu1 - mu0 + T (Y - mu1) / e - (1 - T) (Y - mu0) / (1 - e)``, whose mean given x is the uplift;
  one more booster regresses it on x. That final booster *is* the uplift model: a single XGBoost
  booster predicting incremental outcome per member, so it is logged, registered and served
  exactly like the other tasks' boosters.

Why not a library: causalml 0.18 installs cleanly against our pins, but brings eight new runtime
dependencies (lightgbm, statsmodels, seaborn, pathos, forestci, formulaic, and black at run time)
for two learners that are a few dozen lines on the xgboost we already ship; scikit-uplift was last
released in 2022. Assignment is randomised, so e is the treated share, not a fitted propensity.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import xgboost as xgb

from models.matrix import predict_proba, to_matrix

DEFAULT_PARAMS: dict[str, Any] = {"max_depth": 3, "eta": 0.1, "subsample": 0.8, "min_child_weight": 5,
                                  "nthread": 1}
DEFAULT_ROUNDS = 100
FOLDS = 2


def check_randomised(treated: np.ndarray, outcome: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """0/1 treatment with both arms present and a finite outcome, one per row; ValueError naming the field."""
    treated, outcome = np.asarray(treated), np.asarray(outcome, dtype=float)
    if treated.shape != outcome.shape or treated.ndim != 1:
        raise ValueError(f"treated and outcome must be 1-D of one length; got {treated.shape}, {outcome.shape}")
    if not np.isin(treated, (0, 1)).all():
        raise ValueError("treated must be 0/1 (treatment/control)")
    if treated.sum() < 2 or (1 - treated).sum() < 2:
        raise ValueError("treated must hold at least two rows of each arm")
    if not np.isfinite(outcome).all():
        raise ValueError("outcome must be finite on every row")
    return treated.astype(int), outcome


def is_binary(outcome: np.ndarray) -> bool:
    return bool(np.isin(outcome, (0.0, 1.0)).all())


@dataclass
class OutcomeLearner:
    """One XGBoost outcome model: logistic for a 0/1 outcome, squared error otherwise."""

    params: dict[str, Any] = field(default_factory=lambda: dict(DEFAULT_PARAMS))
    rounds: int = DEFAULT_ROUNDS
    seed: int = 7

    def fit(self, features: pd.DataFrame, outcome: np.ndarray) -> xgb.Booster:
        objective = "binary:logistic" if is_binary(outcome) else "reg:squarederror"
        params = {**self.params, "objective": objective, "seed": self.seed}
        return xgb.train(params, to_matrix(features, list(features.columns), outcome), self.rounds)


def predict(booster: xgb.Booster, features: pd.DataFrame) -> np.ndarray:
    """The booster's own prediction per row (no calibration), read with its own feature list."""
    return predict_proba(booster, features, calibrated=False)


@dataclass
class TLearner:
    """mu1 - mu0: an outcome model per arm. ``treated_`` is also the outcome-model-alone ranking."""

    learner: OutcomeLearner = field(default_factory=OutcomeLearner)
    treated_: xgb.Booster | None = None
    control_: xgb.Booster | None = None

    def fit(self, features: pd.DataFrame, treated: np.ndarray, outcome: np.ndarray) -> TLearner:
        treated, outcome = check_randomised(treated, outcome)
        arm = treated == 1
        self.treated_ = self.learner.fit(features[arm], outcome[arm])
        self.control_ = self.learner.fit(features[~arm], outcome[~arm])
        return self

    def uplift(self, features: pd.DataFrame) -> np.ndarray:
        if self.treated_ is None or self.control_ is None:
            raise ValueError("the T-learner is not fitted")
        return predict(self.treated_, features) - predict(self.control_, features)


def pseudo_outcome(features: pd.DataFrame, treated: np.ndarray, outcome: np.ndarray,
                   learner: OutcomeLearner, seed: int) -> np.ndarray:
    """The DR pseudo-outcome per row, its outcome models fitted on the other fold (cross-fitting),
    so no row's own outcome leaks into the models that correct it."""
    treated, outcome = check_randomised(treated, outcome)
    share = treated.mean()
    folds = np.random.default_rng(seed).permutation(len(outcome)) % FOLDS
    phi = np.empty(len(outcome))
    for fold in range(FOLDS):
        held, fit_rows = folds == fold, folds != fold
        t_learner = TLearner(learner).fit(features[fit_rows], treated[fit_rows], outcome[fit_rows])
        assert t_learner.treated_ is not None and t_learner.control_ is not None
        mu1 = predict(t_learner.treated_, features[held])
        mu0 = predict(t_learner.control_, features[held])
        t, y = treated[held], outcome[held]
        phi[held] = mu1 - mu0 + t * (y - mu1) / share - (1 - t) * (y - mu0) / (1 - share)
    return phi


@dataclass
class DRLearner:
    """The doubly robust learner: a booster of the cross-fitted pseudo-outcome on the features."""

    learner: OutcomeLearner = field(default_factory=OutcomeLearner)
    final_: xgb.Booster | None = None

    def fit(self, features: pd.DataFrame, treated: np.ndarray, outcome: np.ndarray) -> DRLearner:
        phi = pseudo_outcome(features, treated, outcome, self.learner, self.learner.seed)
        params = {**self.learner.params, "objective": "reg:squarederror", "seed": self.learner.seed}
        self.final_ = xgb.train(params, to_matrix(features, list(features.columns), phi), self.learner.rounds)
        return self

    def uplift(self, features: pd.DataFrame) -> np.ndarray:
        if self.final_ is None:
            raise ValueError("the DR-learner is not fitted")
        return predict(self.final_, features)
