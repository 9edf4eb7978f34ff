"""Next purchase: how many days until the member buys again? XGBoost AFT survival, right-censored at H.

A member with no purchase in the horizon is censored: all we know is that the next purchase
comes after H days. The booster learns log T = margin + sigma * Z; the distribution and sigma are
stored on the booster so serving turns margins into the same probabilities (``models.timing``). XGBoost does not learn
sigma, so the law the margin is read with (distribution, margin spread, sigma) is chosen out of
time (``training.calibration``: one law for every day count, so P7 <= P30 <= P90) and stored
beside the trained distribution and sigma.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pandas as pd
import xgboost as xgb

from models.calibration import Calibration, read_calibration
from models.matrix import to_matrix
from models.timing import DISTRIBUTION_ATTR, SERVED_DAYS, SIGMA_ATTR, predict_timing
from training.baselines import BGNBD, RecencyOverGap
from training.calibration import attach, calibration_report, fit_aft, holdout_predictions
from training.config import TrainConfig
from training.evaluate import expected_calibration_error, reliability_curve
from training.fit import fit_booster
from training.plots import reliability_figure, shap_summary_figure
from training.resampled_metrics import GateMetric, concordance_by_weight
from training.survival import HORIZON_DAYS, aft_bounds, survival_metrics
from training.task import Assessment, Task, TaskData


def aft_matrix(rows: pd.DataFrame, names: list[str], horizon_days: int) -> xgb.DMatrix:
    """Rows with AFT label bounds: [days, days] when a purchase came, [H, inf) when censored."""
    lower, upper = aft_bounds(rows["days_to_next"].to_numpy(float), float(horizon_days))
    matrix = to_matrix(rows, names)
    matrix.set_float_info("label_lower_bound", lower)
    matrix.set_float_info("label_upper_bound", upper)
    return matrix


class NextPurchase(Task):
    name: ClassVar[str] = "next_purchase"
    promotion_metric: ClassVar[str] = "concordance"

    def unavailable(self, data: TaskData) -> str | None:
        if data.plan.horizon_days < HORIZON_DAYS:
            return f"a {data.plan.horizon_days}-day horizon cannot tell a purchase within {HORIZON_DAYS:g} days"
        if data.lifetime_at_evaluation is None:
            return "too little history at the evaluation cut-off for the BG/NBD baseline"
        return None

    def fit(self, data: TaskData, config: TrainConfig) -> xgb.Booster:
        names, horizon = data.feature_names, data.plan.horizon_days
        lower, _ = aft_bounds(data.train["days_to_next"].to_numpy(float), float(horizon))
        params = {key: value for key, value in config.xgb_params.items() if key not in ("objective", "eval_metric")}
        params.update(objective="survival:aft", eval_metric="aft-nloglik", seed=config.seed,
                      aft_loss_distribution=config.aft_distribution, aft_loss_distribution_scale=config.aft_sigma,
                      base_score=float(np.median(lower)))  # start from the typical time, not 0.5 days
        matrix_for = lambda rows: aft_matrix(rows, names, horizon)  # noqa: E731
        booster = fit_booster(data.train, matrix_for, params, config, self.trainer())
        booster.set_attr(**{DISTRIBUTION_ATTR: config.aft_distribution, SIGMA_ATTR: str(config.aft_sigma)})
        holdout = holdout_predictions(data.train, matrix_for, params, booster.num_boosted_rounds(), self.trainer())
        if isinstance(holdout, str):
            return attach(booster, Calibration("none", reason=holdout))
        return attach(booster, fit_aft(holdout, lambda d: _bought_within(holdout.rows, d),
                                       [d for d in SERVED_DAYS if d <= horizon], float(np.log(params["base_score"])),
                                       config.aft_sigma))

    def metrics(self, booster: xgb.Booster, rows: pd.DataFrame, data: TaskData) -> dict[str, float]:
        timing = predict_timing(booster, rows)
        return survival_metrics(rows["days_to_next"].to_numpy(float), float(data.plan.horizon_days),
                                timing["median_days"].to_numpy(), timing["p_within_30d"].to_numpy())

    def assess(self, booster: xgb.Booster, data: TaskData) -> Assessment:
        evaluation, horizon = data.evaluation, float(data.plan.horizon_days)
        timing = predict_timing(booster, evaluation)
        predicted = {"model": (timing["median_days"].to_numpy(), timing["p_within_30d"].to_numpy())}
        missing = data.bgnbd_missing()  # a BG/NBD fit that did not converge drops out of the gate
        if not missing:
            predicted[BGNBD] = self._bgnbd(data)
        predicted["recency_over_gap"] = self._recency_over_gap(data)
        days = evaluation["days_to_next"].to_numpy(float)
        out_of_time = {name: survival_metrics(days, horizon, *scores) for name, scores in predicted.items()}
        raw = predict_timing(booster, evaluation, calibrated=False)
        before = survival_metrics(days, horizon, raw["median_days"].to_numpy(), raw["p_within_30d"].to_numpy())
        bought = _bought_within(evaluation, HORIZON_DAYS)
        curves = {name: reliability_curve(bought, p30) for name, (_, p30) in predicted.items()}
        curves["model, uncalibrated"] = reliability_curve(bought, raw["p_within_30d"].to_numpy())
        figures = {
            "calibration_30d.png": reliability_figure(curves, "P(purchase within 30 days), out of time"),
            "shap_summary.png": shap_summary_figure(booster, evaluation[data.feature_names]),
        }
        keys = ("ece_30d", "roc_auc_30d", "brier_30d", "concordance")
        report = calibration_report(read_calibration(booster) or Calibration("none", reason="not calibrated"),
                                    {k: before[k] for k in keys} | _other_days_ece(raw, evaluation, horizon),
                                    {k: out_of_time["model"][k] for k in keys} | _other_days_ece(timing, evaluation, horizon))
        observed = ~np.isnan(days)  # the C-index pairs as survival_metrics forms them: censored at H
        gate_metric = GateMetric(concordance_by_weight, (np.where(observed, days, horizon), observed))
        return Assessment(out_of_time, figures, {"calibration.json": report},
                          predictions={name: p[0] for name, p in predicted.items()},
                          gate_metric=gate_metric, baselines_unavailable={BGNBD: missing} if missing else {})

    @staticmethod
    def _bgnbd(data: TaskData) -> tuple[np.ndarray, np.ndarray]:
        """BG/NBD fitted on the history before the evaluation cut-off: P(purchase within 30 days)."""
        lifetime = data.lifetime_at_evaluation
        assert lifetime is not None
        by_member = pd.Series(lifetime.p_purchase_within(HORIZON_DAYS), index=lifetime.summary.index.astype(str))
        p30 = by_member.reindex(data.evaluation["member_id"].astype(str)).fillna(by_member.median()).to_numpy()
        return 1.0 - p30, p30  # a ranking of "later" for the C-index; the probability as is

    @staticmethod
    def _recency_over_gap(data: TaskData) -> tuple[np.ndarray, np.ndarray]:
        """Days since the last purchase over the usual gap; calibrated to P(within 30 days) on training rows."""
        not_within = lambda rows: (np.nan_to_num(rows["days_to_next"].to_numpy(float), nan=np.inf) > HORIZON_DAYS)  # noqa: E731
        rule = RecencyOverGap().fit(data.train, not_within(data.train).astype(int))
        p30 = 1.0 - rule.predict_proba(data.evaluation)
        return rule.ratio(data.evaluation), p30


def _other_days_ece(timing: pd.DataFrame, rows: pd.DataFrame, horizon: float) -> dict[str, float]:
    """ECE of P(within 7 / 90 days), where the horizon observes them: one sigma serves every day count."""
    return {f"ece_{d:g}d": expected_calibration_error(_bought_within(rows, d), timing[f"p_within_{d:g}d"].to_numpy())
            for d in SERVED_DAYS if d != HORIZON_DAYS and d <= horizon}


def _bought_within(rows: pd.DataFrame, days: float) -> np.ndarray:
    """1 where the next purchase came within ``days`` of the cut-off (censored rows: none seen), else 0."""
    return (np.nan_to_num(rows["days_to_next"].to_numpy(float), nan=np.inf) <= days).astype(int)
