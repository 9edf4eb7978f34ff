"""Churn: will the member make no purchase in the next H days? XGBoost binary beside RFM and gap rules
and BG/NBD's P(no purchase in H)."""

from __future__ import annotations

from functools import partial
from typing import ClassVar

import numpy as np
import pandas as pd
import xgboost as xgb

from training.baselines import BASELINES, BGNBD, bgnbd_no_purchase
from training.config import TrainConfig
from training.evaluate import binary_metrics
from training.examples import LABEL_COLUMN
from training.fit import booster_params, fit_booster, predict_proba, to_matrix
from training.plots import lift_figure, roc_figure, shap_summary_figure
from training.resampled_metrics import roc_auc_by_weight
from training.task import Assessment, Task, TaskData


class Churn(Task):
    name: ClassVar[str] = "churn"
    promotion_metric: ClassVar[str] = "roc_auc"

    def fit(self, data: TaskData, config: TrainConfig) -> xgb.Booster:
        names = data.feature_names
        return fit_booster(data.train, lambda rows: to_matrix(rows, names, rows[LABEL_COLUMN].to_numpy()),
                           booster_params(names, config), config)

    def metrics(self, booster: xgb.Booster, rows: pd.DataFrame, data: TaskData) -> dict[str, float]:
        return binary_metrics(rows[LABEL_COLUMN].to_numpy(), predict_proba(booster, rows))

    def assess(self, booster: xgb.Booster, data: TaskData) -> Assessment:
        train, evaluation = data.train, data.evaluation
        y_train, y_eval = train[LABEL_COLUMN].to_numpy(), evaluation[LABEL_COLUMN].to_numpy()
        scores = {"model": predict_proba(booster, evaluation)}
        scores.update({b.name: b().fit(train, y_train).predict_proba(evaluation) for b in BASELINES})
        scores.update(self._bgnbd(data))
        figures = {
            "roc.png": roc_figure(y_eval, scores),
            "lift.png": lift_figure(y_eval, scores),
            "shap_summary.png": shap_summary_figure(booster, evaluation[data.feature_names]),
        }
        missing = data.bgnbd_missing()
        return Assessment({name: binary_metrics(y_eval, p) for name, p in scores.items()}, figures,
                          predictions=scores, gate_metric=partial(roc_auc_by_weight, y_eval),
                          baselines_unavailable={BGNBD: missing} if missing else {})

    @staticmethod
    def _bgnbd(data: TaskData) -> dict[str, np.ndarray]:
        """BG/NBD's P(no purchase in H), fitted before the evaluation cut-off; nothing when it has no fit."""
        if data.bgnbd_missing() or data.lifetime_at_evaluation is None:
            return {}
        return {BGNBD: bgnbd_no_purchase(data.lifetime_at_evaluation, data.evaluation["member_id"], data.plan.horizon_days)}
