"""The law a next-purchase booster is read with: chosen out of time, stored on the booster, decoded once.

Pinned: on seeded times drawn from a planted AFT law (normal, logistic or extreme noise) read through
a shrunk margin, the held-out log-loss choice recovers the planted distribution, the margin's spread
and sigma; serving decodes a booster with the stored choice (not its trained distribution), by the
formula written out by hand; a calibration stored before the law was chosen decodes as it always did.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from scipy.special import expit, ndtr

from models.calibration import Calibration, read_calibration
from models.timing import DISTRIBUTION_ATTR, SIGMA_ATTR, predict_timing
from training.calibration import Holdout, attach, fit_aft

DAYS = (7.0, 30.0, 90.0)
PIVOT, SHRINK = np.log(20.0), 0.6  # the booster's base score; its margin is shrunk towards it


def _noise(distribution: str, uniform: np.ndarray) -> np.ndarray:
    """Z with CDF ndtr, expit or 1 - exp(-exp(z)), by inverting the CDF at ``uniform``."""
    if distribution == "logistic":
        return np.log(uniform / (1.0 - uniform))
    if distribution == "extreme":
        return np.log(-np.log1p(-uniform))
    from scipy.special import ndtri
    return np.asarray(ndtri(uniform))


def _planted(distribution: str, sigma: float, n: int = 6000, seed: int = 0) -> tuple[Holdout, np.ndarray]:
    rng = np.random.default_rng(seed)
    location = rng.normal(PIVOT, 1.0, n)
    times = np.exp(location + sigma * _noise(distribution, rng.uniform(1e-9, 1 - 1e-9, n)))
    margin = PIVOT + SHRINK * (location - PIVOT)
    return Holdout(margin, pd.DataFrame(index=range(n)), pd.DataFrame(), "2024-01-01"), times


@pytest.mark.parametrize(("distribution", "sigma"), [("normal", 0.8), ("logistic", 0.5), ("extreme", 0.9)])
def test_held_out_choice_recovers_the_planted_law(distribution: str, sigma: float) -> None:
    holdout, times = _planted(distribution, sigma)
    calibration = fit_aft(holdout, lambda d: (times <= d).astype(int), DAYS, PIVOT, 1.0)
    assert calibration.method == "aft_sigma" and calibration.distribution == distribution
    assert calibration.slope == pytest.approx(1.0 / SHRINK, rel=0.1)
    assert calibration.parameter == pytest.approx(sigma, rel=0.1)
    assert calibration.pivot == PIVOT and calibration.reason.startswith(f"{distribution}: lowest held-out log-loss")


def test_no_contrast_is_not_calibrated() -> None:
    holdout, _ = _planted("normal", 0.8, n=50)
    calibration = fit_aft(holdout, lambda d: np.ones(50, dtype=int), DAYS, PIVOT, 1.0)
    assert calibration.method == "none" and "nothing to calibrate on" in calibration.reason


@pytest.fixture(scope="module")
def normal_booster() -> tuple[xgb.Booster, pd.DataFrame]:
    rng = np.random.default_rng(1)
    features = pd.DataFrame({"recency_days": rng.uniform(0, 200, 300), "orders_365d": rng.poisson(3, 300).astype(float)})
    days = np.exp(3 - 0.2 * features["orders_365d"] + rng.normal(0, 0.7, 300))
    matrix = xgb.DMatrix(features, label_lower_bound=days, label_upper_bound=days)
    booster = xgb.train({"objective": "survival:aft", "aft_loss_distribution": "normal", "seed": 0}, matrix, 10)
    booster.set_attr(**{DISTRIBUTION_ATTR: "normal", SIGMA_ATTR: "1.0"})
    return booster, features


def test_serving_decodes_with_the_stored_choice(normal_booster: tuple[xgb.Booster, pd.DataFrame]) -> None:
    booster, features = normal_booster
    margin = booster.predict(xgb.DMatrix(features), output_margin=True).astype(float)
    raw = predict_timing(booster, features)
    np.testing.assert_allclose(raw["p_within_30d"], ndtr(np.log(30) - margin))  # trained law: normal, sigma 1
    attach(booster, Calibration("aft_sigma", 0.7, 3.0, "2024-01-01", 300, slope=1.3, distribution="logistic"))
    assert read_calibration(booster) == Calibration("aft_sigma", 0.7, 3.0, "2024-01-01", 300, slope=1.3,
                                                    distribution="logistic")
    read = 3.0 + 1.3 * (margin - 3.0)
    timing = predict_timing(booster, features)
    for d in DAYS:
        np.testing.assert_allclose(timing[f"p_within_{d:g}d"], expit((np.log(d) - read) / 0.7))
    np.testing.assert_allclose(timing["median_days"], np.exp(read))
    from serving.scoring import model_outputs

    served = model_outputs({"next_purchase": booster}, features, pd.Timestamp("2024-02-01").date())
    np.testing.assert_array_equal(served["p_purchase_30d"].to_numpy(), timing["p_within_30d"].to_numpy())


def test_a_calibration_from_before_the_choice_decodes_as_it_did() -> None:
    old = Calibration.from_json('{"method": "aft_sigma", "parameter": 1.2, "pivot": 0.0, "fitted_on": "2024-01-01", '
                                '"rows": 10, "reason": ""}')
    assert (old.slope, old.distribution) == (1.0, "")
    margin = np.array([2.0, 3.5])
    from models.calibration import aft_decoding

    decoded, law, sigma = aft_decoding(margin, old, "normal", 1.0)
    np.testing.assert_array_equal(decoded, margin)
    assert (law, sigma) == ("normal", 1.2)
