"""Out-of-time calibration of a booster's spread, stored inside the booster it corrects.

Two things make a booster's probabilities wrong on a later window. Its *spread*: boosting stopped
early at a small learning rate is shrunk towards its base rate, and an AFT booster's noise scale
sigma is a setting XGBoost never learns. That is a property of the fit, and it carries over from
one window to the next. And the *base rate* of the window (season, trend), which no past window
predicts: a map fitted to the latest training window's rate bets on it recurring and moves every
probability when it does not. So the calibrator has one parameter, the spread:

- churn (binary): ``p = expit(pivot + slope * (margin - pivot))``, temperature scaling (Guo et al.
  2017) about ``pivot``, the log-odds of the training base rate (XGBoost's own base score), so the
  booster keeps its level and only its confidence changes;
- next purchase (AFT): the law the margin is read with, ``log T = pivot + slope * (margin - pivot)
  + sigma * Z``: the noise distribution (normal, logistic or extreme) and both spreads, the
  margin's (shrunk like churn's) and the noise's (a setting XGBoost never learns), fitted by the
  mean log-loss of P(purchase within 7, 30 and 90 days) (those the horizon covers), the
  distribution with the lowest loss kept. ``pivot`` is the log of the booster's base score, so
  the typical member keeps the booster's median. One law for all days keeps P7 <= P30 <= P90;
  the median moves with the slope, staying where the served probabilities put it (P = 1/2).

Both are monotone in the margin, so ROC AUC and the C-index do not change. The booster is
trained once with the configured distribution; choosing the law it is *read* with needs no
refit (refitting per distribution was tried: on Online Retail the held-out pick then served
worse probabilities than the configured booster). The parameter is fitted
on predictions for the latest training cut-off made by a booster trained on the earlier training
cut-offs only (``holdout_predictions``): never on rows a booster was fitted on, never on the
evaluation window. Those earlier cut-offs' label windows may overlap the latest one's (never the
evaluation's): a booster of only the cut-offs whose windows end by the latest (two of six by
default) sees a third of the rows, and the spread depends on how much data a booster had (leaf
weights shrink more on fewer rows), which is the very thing being measured.

The fit travels as the booster attribute ``calibration`` (JSON), so every copy of the model
(MLflow, the BentoML store, raw bytes sent to Spark) carries it; ``models.calibration`` reads and
applies it (through ``models.matrix.predict_proba`` and ``models.timing.predict_timing``), for
training and serving alike. This module fits it. SHAP reasons explain the raw margin.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd
import xgboost as xgb
from scipy.optimize import minimize, minimize_scalar
from scipy.special import expit, logit

from models.calibration import CALIBRATION_ATTR, Calibration
from models.timing import DISTRIBUTIONS, event_probability_within
from training.examples import CUTOFF_COLUMN
from training.fit import Trainer, local_train

_LOG_BOUNDS = (-3.0, 3.0)  # the fitted parameter within a factor of e^3 (20x) of 1 / of the trained sigma
_EPS = 1e-12


def attach(booster: xgb.Booster, calibration: Calibration) -> xgb.Booster:
    booster.set_attr(**{CALIBRATION_ATTR: calibration.to_json()})
    return booster


@dataclass(frozen=True)
class Holdout:
    """Margins of a booster trained on the earlier training cut-offs, for the latest one's rows."""

    margin: np.ndarray
    rows: pd.DataFrame  # the latest training cut-off's examples
    earlier: pd.DataFrame  # the examples the holdout booster was fitted on
    cutoff: str


def holdout_predictions(examples: pd.DataFrame, matrix_for: Callable[[pd.DataFrame], xgb.DMatrix],
                        params: dict[str, Any], rounds: int, train: Trainer = local_train) -> Holdout | str:
    """Refit on every training cut-off before the latest (same params and rounds); predict the latest.

    Returns the reason instead when there is only one training cut-off.
    """
    cutoffs = examples[CUTOFF_COLUMN]
    latest = cutoffs.max()
    earlier, held = (cutoffs < latest).to_numpy(), (cutoffs == latest).to_numpy()
    if not earlier.any():
        return "one training cut-off: no earlier cut-off to fit the calibration booster on"
    booster = train(dict(params), matrix_for(examples[earlier]), rounds)
    rows = examples[held]
    margin = booster.predict(matrix_for(rows), output_margin=True).astype(float)
    return Holdout(margin, rows, examples[earlier], pd.Timestamp(latest).date().isoformat())


def _log_loss(event: np.ndarray, probability: np.ndarray) -> float:
    p = np.clip(probability, _EPS, 1.0 - _EPS)
    return float(-np.mean(event * np.log(p) + (1.0 - event) * np.log1p(-p)))


def _fit_log_parameter(loss: Callable[[float], float]) -> float:
    """exp of the log-parameter minimising ``loss`` (bounded, deterministic)."""
    result = minimize_scalar(loss, bounds=_LOG_BOUNDS, method="bounded", options={"xatol": 1e-6})
    return float(np.exp(result.x))


def fit_logit_scale(holdout: Holdout, event: np.ndarray, earlier_event: np.ndarray, base_rate: float) -> Calibration:
    """Temperature scaling of a binary booster's margin about its base rate's log-odds.

    The slope is fitted on the holdout booster, scaling about the log-odds of the rate it was
    trained on (``earlier_event``); it is applied about ``base_rate``, the served booster's.
    """
    event, earlier_rate = np.asarray(event, dtype=float), float(np.mean(earlier_event))
    if not 0 < event.sum() < len(event) or not 0 < earlier_rate < 1 or not 0 < base_rate < 1:
        return Calibration("none", reason=f"one class only at {holdout.cutoff} or in training: nothing to calibrate on")
    fit_pivot = float(logit(earlier_rate))
    slope = _fit_log_parameter(lambda s: _log_loss(event, expit(fit_pivot + np.exp(s) * (holdout.margin - fit_pivot))))
    return Calibration("logit_scale", slope, float(logit(base_rate)), holdout.cutoff, len(event))


def fit_aft(holdout: Holdout, within: Callable[[float], np.ndarray], days: Sequence[float], pivot: float,
            trained_sigma: float, distributions: Sequence[str] = DISTRIBUTIONS) -> Calibration:
    """The AFT law (distribution, margin spread about ``pivot``, sigma) minimising held-out log-loss.

    For each distribution, the slope and sigma of ``log T = pivot + slope * (margin - pivot) +
    sigma * Z`` minimise the mean log-loss of P(purchase within d) over ``days`` (the served day
    counts the horizon observes); the distribution with the lowest loss is kept. ``within(d)`` is
    the observed 0/1 event per holdout row; ``pivot`` the log of the booster's base score, shared
    by the holdout and the served booster.
    """
    events = {d: np.asarray(within(d), dtype=float) for d in days}
    if not any(0 < e.sum() < len(e) for e in events.values()):
        return Calibration("none", reason=f"no purchase-within-d contrast at {holdout.cutoff}: nothing to calibrate on")
    fits = {name: _fit_aft_law(holdout.margin, events, pivot, trained_sigma, name) for name in distributions}
    best = min(fits, key=lambda name: fits[name][0])
    loss, slope, sigma = fits[best]
    chosen = ", ".join(f"{name} {fits[name][0]:.4f}" for name in distributions)
    return Calibration("aft_sigma", sigma, pivot, holdout.cutoff, len(holdout.margin),
                       reason=f"{best}: lowest held-out log-loss of P(purchase within {'/'.join(f'{d:g}' for d in days)} "
                              f"days) ({chosen})", slope=slope, distribution=best)


def _fit_aft_law(margin: np.ndarray, events: dict[float, np.ndarray], pivot: float, trained_sigma: float,
                 distribution: str) -> tuple[float, float, float]:
    """(mean log-loss, slope, sigma) of one distribution; both parameters within e^3 of 1 / the trained sigma."""
    def loss(log_parameters: np.ndarray) -> float:
        shifted = pivot + np.exp(log_parameters[0]) * (margin - pivot)
        sigma = trained_sigma * np.exp(log_parameters[1])
        return sum(_log_loss(e, event_probability_within(shifted, d, distribution, sigma))
                   for d, e in events.items()) / len(events)

    result = minimize(loss, np.zeros(2), method="Nelder-Mead", bounds=[_LOG_BOUNDS, _LOG_BOUNDS],
                      options={"xatol": 1e-6, "fatol": 1e-9, "maxiter": 2000})
    return float(result.fun), float(np.exp(result.x[0])), float(trained_sigma * np.exp(result.x[1]))


def calibration_report(calibration: Calibration, uncalibrated: dict[str, float],
                       calibrated: dict[str, float]) -> dict[str, Any]:
    """What was fitted and the evaluation window's metrics before and after (``calibration.json``)."""
    return {**asdict(calibration), "before": uncalibrated, "after": calibrated}
