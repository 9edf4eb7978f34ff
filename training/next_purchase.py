"""Next purchase: how many days until the member buys again? XGBoost AFT survival, right-censored at H.

A member with no purchase in the horizon is censored: all we know is that the next purchase
comes after H days. The booster learns log T = margin + sigma * Z; the distribution and sigma are
stored on the booster so serving turns margins into the same probabilities.
"""

from __future__ import annotations

from functools import partial
from typing import ClassVar

import numpy as np
import pandas as pd
import xgboost as xgb

from training.baselines import BGNBD, RecencyOverGap
from training.config import TrainConfig
from training.fit import fit_booster, to_matrix
from training.plots import shap_summary_figure
from training.resampled_metrics import concordance_by_weight
from training.survival import (
    HORIZON_DAYS,
    aft_bounds,
    event_probability_within,
    median_days,
    reliability_curve,
    reliability_figure,
    survival_metrics,
)
from training.task import Assessment, Task, TaskData

DISTRIBUTION_ATTR, SIGMA_ATTR = "aft_distribution", "aft_sigma"


def aft_matrix(rows: pd.DataFrame, names: list[str], horizon_days: int) -> xgb.DMatrix:
    """Rows with AFT label bounds: [days, days] when a purchase came, [H, inf) when censored."""
    lower, upper = aft_bounds(rows["days_to_next"].to_numpy(float), float(horizon_days))
    matrix = to_matrix(rows, names)
    matrix.set_float_info("label_lower_bound", lower)
    matrix.set_float_info("label_upper_bound", upper)
    return matrix


def predict_timing(booster: xgb.Booster, features: pd.DataFrame, days: tuple[float, ...] = (7.0, 30.0, 90.0)) -> pd.DataFrame:
    """Median days to the next purchase and P(purchase within each of ``days``), per row."""
    names = list(booster.feature_names or [])
    margin = booster.predict(to_matrix(features, names), output_margin=True).astype(float)
    distribution, sigma = booster.attr(DISTRIBUTION_ATTR) or "normal", float(booster.attr(SIGMA_ATTR) or 1.0)
    timing = {"median_days": median_days(margin, distribution, sigma)}
    timing.update({f"p_within_{d:g}d": event_probability_within(margin, d, distribution, sigma) for d in days})
    return pd.DataFrame(timing, index=features.index)


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
        booster = fit_booster(data.train, lambda rows: aft_matrix(rows, names, horizon), params, config)
        booster.set_attr(**{DISTRIBUTION_ATTR: config.aft_distribution, SIGMA_ATTR: str(config.aft_sigma)})
        return booster

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
        bought = (np.nan_to_num(days, nan=np.inf) <= HORIZON_DAYS).astype(int)
        curves = {name: reliability_curve(bought, p30) for name, (_, p30) in predicted.items()}
        figures = {
            "calibration_30d.png": reliability_figure(curves, "P(purchase within 30 days), out of time"),
            "shap_summary.png": shap_summary_figure(booster, evaluation[data.feature_names]),
        }
        observed = ~np.isnan(days)  # the C-index pairs as survival_metrics forms them: censored at H
        gate_metric = partial(concordance_by_weight, np.where(observed, days, horizon), observed)
        return Assessment(out_of_time, figures, predictions={name: p[0] for name, p in predicted.items()},
                          gate_metric=gate_metric, baselines_unavailable={BGNBD: missing} if missing else {})

    @staticmethod
    def _bgnbd(data: TaskData) -> tuple[np.ndarray, np.ndarray]:
        """BG/NBD fitted on the history before the evaluation cut-off: P(purchase within 30 days)."""
        lifetime = data.lifetime_at_evaluation
        assert lifetime is not None
        p30 = pd.Series(lifetime.p_purchase_within(HORIZON_DAYS), index=lifetime.summary.index.astype(str))
        p30 = p30.reindex(data.evaluation["member_id"].astype(str)).fillna(p30.median()).to_numpy()
        return 1.0 - p30, p30  # a ranking of "later" for the C-index; the probability as is

    @staticmethod
    def _recency_over_gap(data: TaskData) -> tuple[np.ndarray, np.ndarray]:
        """Days since the last purchase over the usual gap; calibrated to P(within 30 days) on training rows."""
        not_within = lambda rows: (np.nan_to_num(rows["days_to_next"].to_numpy(float), nan=np.inf) > HORIZON_DAYS)  # noqa: E731
        rule = RecencyOverGap().fit(data.train, not_within(data.train).astype(int))
        p30 = 1.0 - rule.predict_proba(data.evaluation)
        return rule.ratio(data.evaluation), p30
