"""Member value: what will the member spend in the next H days, and in 12 months? XGBoost Tweedie
beside BG/NBD + Gamma-Gamma.

Spend in a horizon is mostly zero with a long tail, which a Tweedie (compound Poisson-Gamma)
loss models directly. Net spend below zero (returns exceeding purchases) counts as zero.
"""

from __future__ import annotations

from typing import ClassVar, Final

import numpy as np
import pandas as pd
import xgboost as xgb

from models.matrix import predict_proba, to_matrix
from training.baselines import BGNBD
from training.config import TrainConfig
from training.fit import fit_booster
from training.plots import lift_figure, shap_summary_figure
from training.resampled_metrics import GateMetric, normalized_gini_by_weight
from training.task import Assessment, Task, TaskData
from training.value_metrics import value_metrics

TWELVE_MONTHS_DAYS: Final = 365
BGNBD_GAMMA_GAMMA: Final = f"{BGNBD}_gamma_gamma"  # expected purchases x expected spend per purchase


def spend_target(rows: pd.DataFrame) -> np.ndarray:
    return rows["spend_in_horizon"].clip(lower=0.0).to_numpy(float)


def value_params(config: TrainConfig) -> dict[str, object]:
    """The configured booster parameters with the Tweedie objective and its metric (local and Spark fits)."""
    params = {key: value for key, value in config.xgb_params.items() if key not in ("objective", "eval_metric")}
    params.update(objective="reg:tweedie", tweedie_variance_power=config.value_tweedie_power,
                  eval_metric=f"tweedie-nloglik@{config.value_tweedie_power}", seed=config.seed)
    return params


class Value(Task):
    name: ClassVar[str] = "value"
    promotion_metric: ClassVar[str] = "normalized_gini"

    def unavailable(self, data: TaskData) -> str | None:
        if data.lifetime_at_evaluation is None:
            return "too little history at the evaluation cut-off for the BG/NBD + Gamma-Gamma baseline"
        return None

    def fit(self, data: TaskData, config: TrainConfig) -> xgb.Booster:
        names = data.feature_names
        return fit_booster(data.train, lambda rows: to_matrix(rows, names, spend_target(rows)), value_params(config), config)

    def metrics(self, booster: xgb.Booster, rows: pd.DataFrame, data: TaskData) -> dict[str, float]:
        return value_metrics(spend_target(rows), predict_proba(booster, rows))

    def assess(self, booster: xgb.Booster, data: TaskData) -> Assessment:
        evaluation, horizon = data.evaluation, float(data.plan.horizon_days)
        lifetime = data.lifetime_at_evaluation
        assert lifetime is not None
        predicted = {"model": predict_proba(booster, evaluation)}
        missing = data.bgnbd_missing()  # a BG/NBD fit that did not converge drops out of the gate
        if not missing:
            bgnbd = pd.Series(lifetime.expected_spend(horizon), index=lifetime.summary.index.astype(str))
            predicted[BGNBD_GAMMA_GAMMA] = bgnbd.reindex(evaluation["member_id"].astype(str)).fillna(0.0).to_numpy()
        predicted["last_period_repeated"] = evaluation["spend_before_horizon"].clip(lower=0.0).to_numpy(float)
        actual = spend_target(evaluation)
        figures = {
            "gain.png": lift_figure(actual, predicted, what="spend"),
            "shap_summary.png": shap_summary_figure(booster, evaluation[data.feature_names]),
        }
        return Assessment({name: value_metrics(actual, p) for name, p in predicted.items()}, figures,
                          predictions=predicted, gate_metric=GateMetric(normalized_gini_by_weight, (actual,)),
                          baselines_unavailable={BGNBD_GAMMA_GAMMA: missing} if missing else {})


class Value12m(Value):
    """Expected spend over the next 12 months: the value task on 365-day labels, beside the
    BG/NBD + Gamma-Gamma 12-month CLV and last 365 days' spend repeated.

    Its own cut-offs leave every training label year before the evaluation cut-off and observe
    the evaluation year fully, so it needs about two years of data plus the minimum history;
    shorter data skips it with the planner's reason and serving keeps the BG/NBD + GG CLV.
    """

    name: ClassVar[str] = "value_12m"

    def horizon_days(self, config: TrainConfig) -> int:
        return TWELVE_MONTHS_DAYS

    def fit(self, data: TaskData, config: TrainConfig) -> xgb.Booster:
        """The value fit with at most ``value_12m_max_rounds`` rounds.

        Early stopping validates out of time only on cut-offs a full horizon apart, which a year's
        horizon rarely leaves inside the training window; then every allowed round is used, and
        a long run overfits (on a 3-year simulation: normalized Gini 0.88 at 50-100 rounds, 0.83 at 500).
        """
        return super().fit(data, twelve_month_rounds(config))


def twelve_month_rounds(config: TrainConfig) -> TrainConfig:
    """``config`` with at most ``value_12m_max_rounds`` rounds (``Value12m.fit``, here or on Spark)."""
    return config.model_copy(update={"num_boost_round": min(config.num_boost_round, config.value_12m_max_rounds)})
