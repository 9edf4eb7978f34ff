"""Decoding a next-purchase (XGBoost AFT) booster into days and purchase probabilities.

The booster learns ``log T = margin + sigma * Z`` with ``Z`` standard normal, logistic or, for
XGBoost's ``extreme``, the type-1 (minimum) extreme-value law with CDF ``1 - exp(-exp(z))``
(XGBoost ``src/common/probability_distribution.h``; ``scipy.stats.gumbel_l``). ``booster.predict``
returns ``exp(margin)`` for every distribution, which is the median only for normal and logistic.
The distribution and sigma are stored on the booster, and the out-of-time calibrated law (chosen
distribution, margin spread and sigma) beside them (``models.calibration``), so serving turns
margins into the same probabilities as training.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xgboost as xgb
from scipy.special import expit, ndtr

from models.calibration import aft_decoding, read_calibration
from models.matrix import to_matrix

DISTRIBUTIONS = ("normal", "logistic", "extreme")
DISTRIBUTION_ATTR, SIGMA_ATTR = "aft_distribution", "aft_sigma"
SERVED_DAYS = (7.0, 30.0, 90.0)  # P(purchase within d days) that scoring serves


def _standard_cdf(z: np.ndarray, distribution: str) -> np.ndarray:
    """CDF of the AFT noise ``Z`` exactly as XGBoost's ``aft_loss_distribution`` defines it."""
    if distribution == "normal":
        return np.asarray(ndtr(z), dtype=float)
    if distribution == "logistic":
        return np.asarray(expit(z), dtype=float)
    if distribution == "extreme":
        return np.asarray(-np.expm1(-np.exp(z)), dtype=float)  # 1 - exp(-exp(z)), accurate for small probabilities
    raise ValueError(f"distribution must be one of {DISTRIBUTIONS}; got {distribution!r}")


def event_probability_within(margin: np.ndarray, days: float, distribution: str, sigma: float) -> np.ndarray:
    """P(T <= days) under ``log T = margin + sigma * Z``: the chance of a purchase within ``days``.

    ``margin`` is ``booster.predict(..., output_margin=True)``; ``sigma`` must be the
    ``aft_loss_distribution_scale`` the booster was trained with (XGBoost does not learn it).
    """
    if sigma <= 0:
        raise ValueError(f"sigma must be > 0; got {sigma}")
    if days <= 0:
        raise ValueError(f"days must be > 0; got {days}")
    z = (np.log(days) - np.asarray(margin, dtype=float)) / sigma
    return _standard_cdf(z, distribution)


def median_days(margin: np.ndarray, distribution: str, sigma: float) -> np.ndarray:
    """Median days to the next purchase; ``exp(margin)`` except under ``extreme``, whose median of Z is log(log 2)."""
    if sigma <= 0:
        raise ValueError(f"sigma must be > 0; got {sigma}")
    _standard_cdf(np.zeros(0), distribution)  # validates the name
    shift = sigma * np.log(np.log(2.0)) if distribution == "extreme" else 0.0
    return np.exp(np.asarray(margin, dtype=float) + shift)


def predict_timing(booster: xgb.Booster, features: pd.DataFrame, days: tuple[float, ...] = SERVED_DAYS,
                   calibrated: bool = True) -> pd.DataFrame:
    """Median days to the next purchase and P(purchase within each of ``days``), per row.

    The one decode of a next-purchase booster, for training and serving: its calibrated law (the
    chosen distribution, margin spread and sigma) when it carries one (``calibrated=False`` gives
    the trained distribution and sigma, for before/after comparisons).
    """
    names = list(booster.feature_names or [])
    margin = booster.predict(to_matrix(features, names), output_margin=True).astype(float)
    distribution, sigma = booster.attr(DISTRIBUTION_ATTR) or "normal", float(booster.attr(SIGMA_ATTR) or 1.0)
    margin, distribution, sigma = aft_decoding(margin, read_calibration(booster) if calibrated else None,
                                               distribution, sigma)
    timing = {"median_days": median_days(margin, distribution, sigma)}
    timing.update({f"p_within_{d:g}d": event_probability_within(margin, d, distribution, sigma) for d in days})
    return pd.DataFrame(timing, index=features.index)
