"""Applying the out-of-time calibration a booster carries (fitting it: ``training.calibration``).

The fit travels as the booster attribute ``calibration`` (JSON), so every copy of the model
(MLflow, the BentoML store, raw bytes sent to Spark) carries it; ``models.matrix.predict_proba``
and ``models.timing.predict_timing`` apply it, for training and serving alike. SHAP reasons
explain the raw margin.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
import xgboost as xgb
from scipy.special import expit

CALIBRATION_ATTR = "calibration"
Method = Literal["none", "logit_scale", "aft_sigma"]


@dataclass(frozen=True)
class Calibration:
    """The fitted spread correction, or ``method="none"`` with the reason none could be fitted."""

    method: Method
    parameter: float = 1.0  # logit_scale: the slope; aft_sigma: sigma
    pivot: float = 0.0  # logit_scale: log-odds, aft_sigma: log-days, about which the margin is scaled
    fitted_on: str = ""  # the training cut-off whose rows it was fitted on
    rows: int = 0
    reason: str = ""  # method "none": why; aft_sigma: how the distribution was chosen
    slope: float = 1.0  # aft_sigma only: the margin's spread about pivot (1 for boosters calibrated before it)
    distribution: str = ""  # aft_sigma only: the law read with ("" for the booster's trained one)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Calibration:
        return cls(**json.loads(text))


def read_calibration(booster: xgb.Booster) -> Calibration | None:
    """The calibration stored on ``booster``, or None for a booster trained before calibration existed."""
    text = booster.attr(CALIBRATION_ATTR)
    return None if text is None else Calibration.from_json(text)


def calibrated_probability(margin: np.ndarray, calibration: Calibration | None) -> np.ndarray:
    """P(event) from a binary booster's margin: temperature-scaled when calibrated, else expit(margin)."""
    margin = np.asarray(margin, dtype=float)
    if calibration is None or calibration.method != "logit_scale":
        return np.asarray(expit(margin), dtype=float)
    return np.asarray(expit(calibration.pivot + calibration.parameter * (margin - calibration.pivot)), dtype=float)


def aft_decoding(margin: np.ndarray, calibration: Calibration | None, distribution: str,
                 sigma: float) -> tuple[np.ndarray, str, float]:
    """The margin, distribution and sigma a next-purchase booster's days are read with.

    Calibrated: ``log T = pivot + slope * (margin - pivot) + sigma * Z`` with ``Z`` of the chosen
    law; otherwise the booster's own (``distribution``, ``sigma``, the margin as is). The slope is
    positive, so the order of members (C-index, ROC AUC) never changes.
    """
    margin = np.asarray(margin, dtype=float)
    if calibration is None or calibration.method != "aft_sigma":
        return margin, distribution, sigma
    return (calibration.pivot + calibration.slope * (margin - calibration.pivot),
            calibration.distribution or distribution, calibration.parameter)
