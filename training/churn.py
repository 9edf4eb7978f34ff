"""Churn: will the member make no purchase in the next H days? XGBoost binary beside RFM and gap rules
and BG/NBD's P(no purchase in H).

The booster's probabilities are calibrated out of time (``training.calibration``: its spread,
fitted on the latest training cut-off by a booster of the earlier ones) and the calibration is
stored on the booster, so ``predict_proba`` serves what the evaluation measured.
"""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd
import xgboost as xgb

from models.calibration import Calibration, read_calibration
from models.matrix import predict_proba, to_matrix
from training.baselines import BASELINES, BGNBD, bgnbd_no_purchase
from training.calibration import attach, calibration_report, fit_logit_scale, holdout_predictions
from training.config import TrainConfig
from training.evaluate import binary_metrics, reliability_curve
from training.examples import LABEL_COLUMN
from training.fit import booster_params, fit_booster
from training.plots import lift_figure, reliability_figure, roc_figure, shap_summary_figure
from training.resampled_metrics import GateMetric, roc_auc_by_weight
from training.task import Assessment, Task, TaskData


class Churn(Task):
    name: ClassVar[str] = "churn"
    promotion_metric: ClassVar[str] = "roc_auc"

    def fit(self, data: TaskData, config: TrainConfig) -> xgb.Booster:
        names = data.feature_names
        matrix_for = lambda rows: to_matrix(rows, names, rows[LABEL_COLUMN].to_numpy())  # noqa: E731
        params = booster_params(names, config)
        booster = fit_booster(data.train, matrix_for, params, config)
        return attach(booster, self._calibration(data.train, matrix_for, params, booster.num_boosted_rounds()))

    @staticmethod
    def _calibration(train: pd.DataFrame, matrix_for: Any, params: dict[str, Any], rounds: int) -> Calibration:
        """The spread, fitted on the latest training cut-off by a booster of the earlier ones."""
        holdout = holdout_predictions(train, matrix_for, params, rounds)
        if isinstance(holdout, str):
            return Calibration("none", reason=holdout)
        return fit_logit_scale(holdout, holdout.rows[LABEL_COLUMN].to_numpy(),
                               holdout.earlier[LABEL_COLUMN].to_numpy(), float(train[LABEL_COLUMN].mean()))

    def metrics(self, booster: xgb.Booster, rows: pd.DataFrame, data: TaskData) -> dict[str, float]:
        return binary_metrics(rows[LABEL_COLUMN].to_numpy(), predict_proba(booster, rows))

    def assess(self, booster: xgb.Booster, data: TaskData) -> Assessment:
        train, evaluation = data.train, data.evaluation
        y_train, y_eval = train[LABEL_COLUMN].to_numpy(), evaluation[LABEL_COLUMN].to_numpy()
        scores = {"model": predict_proba(booster, evaluation)}
        scores.update({b.name: b().fit(train, y_train).predict_proba(evaluation) for b in BASELINES})
        scores.update(self._bgnbd(data))
        out_of_time = {name: binary_metrics(y_eval, p) for name, p in scores.items()}
        uncalibrated = predict_proba(booster, evaluation, calibrated=False)
        curves = {name: reliability_curve(y_eval, p) for name, p in scores.items()}
        curves["model, uncalibrated"] = reliability_curve(y_eval, uncalibrated)
        figures = {
            "roc.png": roc_figure(y_eval, scores),
            "lift.png": lift_figure(y_eval, scores),
            "calibration.png": reliability_figure(curves, "P(churn), out of time"),
            "shap_summary.png": shap_summary_figure(booster, evaluation[data.feature_names]),
        }
        report = calibration_report(read_calibration(booster) or Calibration("none", reason="not calibrated"),
                                    _calibration_metrics(binary_metrics(y_eval, uncalibrated)),
                                    _calibration_metrics(out_of_time["model"]))
        missing = data.bgnbd_missing()
        return Assessment(out_of_time, figures, {"calibration.json": report},
                          predictions=scores, gate_metric=GateMetric(roc_auc_by_weight, (y_eval,)),
                          baselines_unavailable={BGNBD: missing} if missing else {})

    @staticmethod
    def _bgnbd(data: TaskData) -> dict[str, np.ndarray]:
        """BG/NBD's P(no purchase in H), fitted before the evaluation cut-off; nothing when it has no fit."""
        if data.bgnbd_missing() or data.lifetime_at_evaluation is None:
            return {}
        return {BGNBD: bgnbd_no_purchase(data.lifetime_at_evaluation, data.evaluation["member_id"], data.plan.horizon_days)}


def _calibration_metrics(metrics: dict[str, float]) -> dict[str, float]:
    return {key: metrics[key] for key in ("ece", "roc_auc", "brier")}
