"""training.calibration: out-of-time spread calibration stored on the booster it corrects.

Pinned: ECE exact on hand-made rows; a planted over-/under-confident booster is corrected (ECE drops
below 0.02 on fresh rows from the same law); the calibrator reads only the training cut-offs (the
evaluation window's labels cannot move it) and is fitted on the latest training cut-off only
(changing its labels moves it, changing an earlier cut-off's features moves it only through the
holdout booster); the attribute round-trips through save_raw and MLflow; the probability served
equals the training decode; AFT calibration keeps P7 <= P30 <= P90 and never changes ranking.
"""

from __future__ import annotations

from datetime import date, timedelta

import mlflow
import mlflow.xgboost
import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from scipy.special import expit

from models.calibration import CALIBRATION_ATTR, Calibration, aft_decoding, calibrated_probability, read_calibration
from models.matrix import predict_proba
from models.timing import event_probability_within, predict_timing
from training.calibration import Holdout, attach, fit_logit_scale, holdout_predictions
from training.churn import Churn
from training.config import TrainConfig
from training.cutoffs import CutoffPlan
from training.evaluate import expected_calibration_error
from training.examples import CUTOFF_COLUMN, LABEL_COLUMN
from training.next_purchase import NextPurchase
from training.task import TaskData

# ---- ECE by hand ------------------------------------------------------------------------------


def test_ece_exact_on_hand_made_rows() -> None:
    """10 rows, 10 equal-mass bins: one row each, so ECE = mean |p - y|."""
    p = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05])
    y = np.array([1, 0, 1, 0, 0, 1, 0, 0, 0, 0])
    # |p - y|: 0.1 0.8 0.3 0.6 0.5 0.6 0.3 0.2 0.1 0.05 -> 3.55 / 10
    assert expected_calibration_error(y, p) == pytest.approx(0.355, abs=1e-12)


def test_ece_two_bins_and_ties_stay_together() -> None:
    """Two bins of 4 rows: (0.1 x4, 1 event) and (0.6 x4, 3 events) -> 0.5|0.1-0.25| + 0.5|0.6-0.75|."""
    p = np.array([0.1, 0.1, 0.1, 0.1, 0.6, 0.6, 0.6, 0.6])
    y = np.array([1, 0, 0, 0, 1, 1, 1, 0])
    expected = 0.5 * 0.15 + 0.5 * 0.15
    assert expected_calibration_error(y, p) == pytest.approx(expected, abs=1e-12)
    assert expected_calibration_error(y[::-1], p[::-1]) == pytest.approx(expected, abs=1e-12)  # row order is moot
    assert expected_calibration_error(np.array([0, 1]), np.array([0.5, 0.5])) == 0.0  # one tied bin, rate 0.5
    assert np.isnan(expected_calibration_error(np.array([]), np.array([])))


# ---- planted mis-calibration -------------------------------------------------------------------


def _planted(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """True log-odds z ~ N(-0.5, 1.5^2), events ~ Bernoulli(expit(z))."""
    rng = np.random.default_rng(seed)
    z = rng.normal(-0.5, 1.5, n)
    return z, (rng.random(n) < expit(z)).astype(int)


@pytest.mark.parametrize("shrink", [0.4, 2.5], ids=["under-confident", "over-confident"])
def test_planted_spread_is_corrected(shrink: float) -> None:
    """A booster whose margin is the truth squeezed (or stretched) about the base rate's log-odds."""
    z_fit, y_fit = _planted(20_000, seed=1)
    z_new, y_new = _planted(20_000, seed=2)
    pivot = np.log(y_fit.mean() / (1 - y_fit.mean()))
    distort = lambda z: pivot + shrink * (z - pivot)  # noqa: E731
    holdout = Holdout(distort(z_fit), pd.DataFrame(index=range(len(z_fit))), pd.DataFrame(), "2024-01-01")
    calibration = fit_logit_scale(holdout, y_fit, y_fit, float(y_fit.mean()))
    assert calibration.method == "logit_scale"
    assert calibration.parameter == pytest.approx(1 / shrink, rel=0.1)
    before = expected_calibration_error(y_new, expit(distort(z_new)))
    after = expected_calibration_error(y_new, calibrated_probability(distort(z_new), calibration))
    assert before > 0.05
    assert after < 0.02


def test_one_class_holdout_is_not_calibrated_and_decodes_as_the_booster() -> None:
    holdout = Holdout(np.zeros(5), pd.DataFrame(index=range(5)), pd.DataFrame(), "2024-01-01")
    calibration = fit_logit_scale(holdout, np.zeros(5), np.array([0, 1]), 0.5)
    assert calibration.method == "none" and "one class" in calibration.reason
    np.testing.assert_allclose(calibrated_probability(np.array([-1.0, 2.0]), calibration), expit([-1.0, 2.0]))


# ---- the churn and next-purchase tasks on seeded synthetic examples ----------------------------

CUTOFFS = [date(2024, 1, 1) + timedelta(days=28 * i) for i in range(4)]
EVALUATION = date(2024, 7, 1)
NAMES = ["recency_days", "orders_365d"]


def _examples(seed: int, cutoffs: list[date], per_cutoff: int = 600) -> pd.DataFrame:
    """Churn rises with recency; the next purchase comes sooner with more orders (log-normal, censored at 90)."""
    rng = np.random.default_rng(seed)
    frames = []
    for cutoff in cutoffs:
        recency = rng.uniform(0, 300, per_cutoff)
        orders = rng.poisson(3, per_cutoff).astype(float)
        churned = (rng.random(per_cutoff) < expit(-2 + recency / 60)).astype(int)
        days = np.exp(rng.normal(4.5 - 0.3 * orders, 1.2))
        frames.append(pd.DataFrame({
            "member_id": [f"m{i}" for i in range(per_cutoff)], CUTOFF_COLUMN: pd.Timestamp(cutoff),
            "recency_days": recency, "orders_365d": orders, LABEL_COLUMN: churned,
            "days_to_next": np.where(days < 90, np.floor(days), np.nan),
        }))
    return pd.concat(frames, ignore_index=True)


CONFIG = TrainConfig(num_boost_round=40, early_stopping_rounds=0, monotone=False)


def _data(train: pd.DataFrame, evaluation: pd.DataFrame) -> TaskData:
    return TaskData(train=train, evaluation=evaluation, feature_names=NAMES,
                    plan=CutoffPlan(tuple(CUTOFFS), EVALUATION, 90))


@pytest.fixture(scope="module")
def train_rows() -> pd.DataFrame:
    return _examples(3, CUTOFFS)


@pytest.fixture(scope="module")
def evaluation_rows() -> pd.DataFrame:
    return _examples(4, [EVALUATION])


@pytest.fixture(scope="module")
def churn_booster(train_rows: pd.DataFrame, evaluation_rows: pd.DataFrame) -> xgb.Booster:
    return Churn().fit(_data(train_rows, evaluation_rows), CONFIG)


def test_calibrator_is_fitted_on_the_latest_training_cutoff_only(
        train_rows: pd.DataFrame, evaluation_rows: pd.DataFrame, churn_booster: xgb.Booster) -> None:
    calibration = read_calibration(churn_booster)
    assert calibration is not None and calibration.method == "logit_scale"
    assert calibration.fitted_on == CUTOFFS[-1].isoformat()
    assert calibration.rows == int((train_rows[CUTOFF_COLUMN] == pd.Timestamp(CUTOFFS[-1])).sum())
    # point in time: other evaluation-window labels leave the calibrator (and the booster) unchanged
    flipped = evaluation_rows.assign(**{LABEL_COLUMN: 1 - evaluation_rows[LABEL_COLUMN]})
    again = Churn().fit(_data(train_rows, flipped), CONFIG)
    assert again.attr(CALIBRATION_ATTR) == churn_booster.attr(CALIBRATION_ATTR)
    # ... while other labels at the latest training cut-off move it: it is what the fit reads
    latest = train_rows[CUTOFF_COLUMN] == pd.Timestamp(CUTOFFS[-1])
    moved = train_rows.copy()
    moved.loc[latest, LABEL_COLUMN] = np.random.default_rng(0).integers(0, 2, int(latest.sum()))
    assert read_calibration(Churn().fit(_data(moved, evaluation_rows), CONFIG)) != calibration


def test_holdout_booster_never_sees_the_latest_cutoff(train_rows: pd.DataFrame) -> None:
    """Its margins for the latest cut-off do not change when that cut-off's labels do (not in-sample)."""
    from models.matrix import to_matrix

    matrix_for = lambda rows: to_matrix(rows, NAMES, rows[LABEL_COLUMN].to_numpy())  # noqa: E731
    params = {**CONFIG.xgb_params, "seed": CONFIG.seed}
    first = holdout_predictions(train_rows, matrix_for, params, 20)
    latest = train_rows[CUTOFF_COLUMN] == pd.Timestamp(CUTOFFS[-1])
    flipped = train_rows.copy()
    flipped.loc[latest, LABEL_COLUMN] = 1 - flipped.loc[latest, LABEL_COLUMN]
    second = holdout_predictions(flipped, matrix_for, params, 20)
    assert isinstance(first, Holdout) and isinstance(second, Holdout)
    np.testing.assert_array_equal(first.margin, second.margin)
    one_cutoff = train_rows[latest]
    assert "one training cut-off" in holdout_predictions(one_cutoff, matrix_for, params, 20)


def test_one_training_cutoff_gives_an_uncalibrated_booster_with_its_reason(evaluation_rows: pd.DataFrame) -> None:
    only = _examples(5, CUTOFFS[:1])
    booster = Churn().fit(_data(only, evaluation_rows), CONFIG)
    calibration = read_calibration(booster)
    assert calibration is not None and calibration.method == "none" and "one training cut-off" in calibration.reason
    np.testing.assert_array_equal(predict_proba(booster, evaluation_rows),
                                  predict_proba(booster, evaluation_rows, calibrated=False))


def test_calibration_keeps_the_ranking(churn_booster: xgb.Booster, evaluation_rows: pd.DataFrame) -> None:
    calibrated = predict_proba(churn_booster, evaluation_rows)
    raw = predict_proba(churn_booster, evaluation_rows, calibrated=False)
    assert not np.allclose(calibrated, raw)
    assert (np.diff(calibrated[np.argsort(raw, kind="stable")]) >= -1e-12).all()


def test_attribute_round_trips_through_save_raw_and_mlflow(churn_booster: xgb.Booster,
                                                          evaluation_rows: pd.DataFrame, tmp_path) -> None:
    expected = predict_proba(churn_booster, evaluation_rows)
    raw = xgb.Booster()
    raw.load_model(bytearray(churn_booster.save_raw("ubj")))  # what Spark scoring broadcasts
    assert raw.attr(CALIBRATION_ATTR) == churn_booster.attr(CALIBRATION_ATTR)
    np.testing.assert_array_equal(predict_proba(raw, evaluation_rows), expected)
    # what MLflow and the BentoML store hold, saved as training/registry.py logs it (requirements
    # stated: MLflow's inference would import the flavour in a subprocess, ~6 s)
    mlflow.xgboost.save_model(churn_booster, str(tmp_path / "model"),
                              pip_requirements=mlflow.xgboost.get_default_pip_requirements())
    loaded = mlflow.xgboost.load_model(str(tmp_path / "model"))
    assert read_calibration(loaded) == read_calibration(churn_booster)
    np.testing.assert_array_equal(predict_proba(loaded, evaluation_rows), expected)


def test_served_probability_is_the_training_decode(churn_booster: xgb.Booster, evaluation_rows: pd.DataFrame) -> None:
    from serving.scoring import model_outputs

    served = model_outputs({"churn": churn_booster}, evaluation_rows, EVALUATION)["churn_probability"]
    np.testing.assert_array_equal(served.to_numpy(), predict_proba(churn_booster, evaluation_rows))


def test_next_purchase_sigma_is_calibrated_and_days_stay_monotone(
        train_rows: pd.DataFrame, evaluation_rows: pd.DataFrame) -> None:
    booster = NextPurchase().fit(_data(train_rows, evaluation_rows), CONFIG)
    calibration = read_calibration(booster)
    assert calibration is not None and calibration.method == "aft_sigma"
    assert calibration.fitted_on == CUTOFFS[-1].isoformat()
    assert calibration.parameter != pytest.approx(CONFIG.aft_sigma)  # planted noise is 1.2, trained at 1.0
    timing = predict_timing(booster, evaluation_rows)
    raw = predict_timing(booster, evaluation_rows, calibrated=False)
    assert (timing["p_within_7d"] <= timing["p_within_30d"]).all()
    assert (timing["p_within_30d"] <= timing["p_within_90d"]).all()
    # the median moves with the fitted margin spread, to where the served probabilities cross 1/2
    decoded, law, sigma = aft_decoding(np.log(raw["median_days"].to_numpy()), calibration, "normal", CONFIG.aft_sigma)
    crossing = [event_probability_within(decoded[i:i + 1], timing["median_days"].iloc[i], law, sigma)[0] for i in range(20)]
    np.testing.assert_allclose(crossing, 0.5)
    assert (np.diff(timing["median_days"].to_numpy()[np.argsort(raw["median_days"].to_numpy())]) >= -1e-9).all()
    assert not np.allclose(timing["p_within_30d"], raw["p_within_30d"])
    order = np.argsort(raw["p_within_30d"].to_numpy(), kind="stable")
    assert (np.diff(timing["p_within_30d"].to_numpy()[order]) >= -1e-12).all()
    from serving.scoring import model_outputs

    served = model_outputs({"next_purchase": booster}, evaluation_rows, EVALUATION)
    np.testing.assert_array_equal(served["p_purchase_30d"].to_numpy(), timing["p_within_30d"].to_numpy())


def test_calibration_json_round_trip() -> None:
    calibration = Calibration("logit_scale", 1.25, -0.5, "2024-01-01", 10)
    booster = attach(xgb.train({"objective": "binary:logistic"}, xgb.DMatrix(np.zeros((4, 1)), label=[0, 1, 0, 1]), 1),
                     calibration)
    assert read_calibration(booster) == calibration
