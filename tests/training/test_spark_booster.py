"""training.spark_booster: xgboost's collective on Spark barrier tasks trains the booster ``xgb.train`` trains.

Two implementations agree: on one Spark worker the AFT booster (label bounds, early stopping on a
validation matrix) and the multi-output booster are the local ones to the bit; on two workers
(the quantile sketch is merged across workers) their predictions stay close.
"""

from __future__ import annotations

import numpy as np
import pytest
import xgboost as xgb

from training.fit import local_train
from training.spark_booster import from_columns, layout_of, to_columns, train_on_spark

NAMES = ["recency days", "frequency", "share_Bio & Öko", "spend", "gap"]  # names Spark columns could not take


def _features(n: int, seed: int = 0) -> tuple[np.ndarray, np.random.Generator]:
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, len(NAMES))).astype(np.float32), rng


def _aft(rows: slice, n: int = 3000) -> xgb.DMatrix:
    """Log-normal days to the next purchase driven by the first feature, censored at 8 days; 10% missing values."""
    x, rng = _features(n)
    days = np.exp(1.0 + 0.5 * x[:, 0] + 0.5 * rng.normal(size=n))
    x[rng.random(x.shape) < 0.1] = np.nan
    x[:, 1] = np.where(rng.random(n) < 0.2, 0.0, x[:, 1])  # explicit zeros are values, not missing
    censored = days > 8.0
    matrix = xgb.DMatrix(x[rows], feature_names=NAMES)
    matrix.set_float_info("label_lower_bound", np.where(censored, 8.0, days)[rows])
    matrix.set_float_info("label_upper_bound", np.where(censored, np.inf, days)[rows])
    return matrix


def _multi_output(n: int = 3000) -> xgb.DMatrix:
    x, _ = _features(n, seed=1)
    labels = np.column_stack([x[:, 0] > 0, x[:, 1] > 0.5, x[:, 2] < 0]).astype(float)
    return xgb.DMatrix(x, label=labels, feature_names=NAMES)


AFT_PARAMS = {"objective": "survival:aft", "eval_metric": "aft-nloglik", "aft_loss_distribution": "normal",
              "aft_loss_distribution_scale": 1.0, "max_depth": 3, "eta": 0.1, "seed": 1, "base_score": 4.0}
MULTI_PARAMS = {"objective": "binary:logistic", "multi_strategy": "one_output_per_tree", "max_depth": 3, "seed": 1}


def _dense(matrix: xgb.DMatrix) -> np.ndarray:
    sparse = matrix.get_data()
    dense = np.full((matrix.num_row(), matrix.num_col()), np.nan, dtype=np.float32)
    dense[np.repeat(np.arange(matrix.num_row()), np.diff(sparse.indptr)), sparse.indices] = sparse.data
    return dense


@pytest.mark.parametrize("matrix", [_aft(slice(0, 50)), _multi_output(50)], ids=["aft_bounds", "multi_output"])
def test_a_matrix_survives_its_trip_through_spark_columns(matrix: xgb.DMatrix) -> None:
    """Features (NaN missing, zeros kept), every label column and both AFT bounds come back as they went."""
    layout = layout_of(matrix)
    back = from_columns(to_columns(matrix, layout, valid=False), layout)
    assert back.feature_names == NAMES
    np.testing.assert_array_equal(_dense(back), _dense(matrix))
    np.testing.assert_array_equal(back.get_label(), matrix.get_label())
    for bound in ("label_lower_bound", "label_upper_bound"):
        np.testing.assert_array_equal(back.get_float_info(bound), matrix.get_float_info(bound))


def test_the_layout_names_what_the_matrix_carries() -> None:
    aft, multi = layout_of(_aft(slice(0, 10))), layout_of(_multi_output(10))
    assert (aft.n_targets, aft.bounds, multi.n_targets, multi.bounds) == (0, True, 3, False)
    assert multi.labels == ["y0", "y1", "y2"] and aft.features == ["x0", "x1", "x2", "x3", "x4"]


def test_more_than_one_validation_matrix_is_refused() -> None:
    matrix = _multi_output(10)
    with pytest.raises(ValueError, match="one matrix; got 2"):
        train_on_spark(None, 1, MULTI_PARAMS, matrix, 1, evals=[(matrix, "a"), (matrix, "b")])  # type: ignore[arg-type]


@pytest.mark.slow
def test_one_spark_worker_trains_the_local_aft_booster_bounds_and_early_stopping_included(spark: object) -> None:
    train, valid = _aft(slice(0, 2000)), _aft(slice(2000, 3000))
    local = local_train(AFT_PARAMS, train, 200, evals=[(valid, "latest_cutoff")], early_stopping_rounds=5)
    on_spark = train_on_spark(spark, 1, AFT_PARAMS, train, 200, evals=[(valid, "latest_cutoff")],  # type: ignore[arg-type]
                              early_stopping_rounds=5)
    assert on_spark.best_iteration == local.best_iteration < 199  # stopped early, at the same round
    assert on_spark.feature_names == NAMES
    np.testing.assert_array_equal(on_spark.predict(valid, output_margin=True), local.predict(valid, output_margin=True))
    two = train_on_spark(spark, 2, AFT_PARAMS, train, local.best_iteration + 1)  # type: ignore[arg-type]
    refit = local_train(AFT_PARAMS, train, local.best_iteration + 1)
    np.testing.assert_allclose(two.predict(valid, output_margin=True), refit.predict(valid, output_margin=True), atol=0.02)


@pytest.mark.slow
def test_spark_workers_train_the_local_multi_output_booster(spark: object) -> None:
    matrix = _multi_output()
    local = local_train(MULTI_PARAMS, matrix, 20)
    one = train_on_spark(spark, 1, MULTI_PARAMS, matrix, 20)  # type: ignore[arg-type]
    np.testing.assert_array_equal(one.predict(matrix), local.predict(matrix))
    two = train_on_spark(spark, 2, MULTI_PARAMS, matrix, 20)  # type: ignore[arg-type]
    assert two.predict(matrix).shape == (3000, 3)
    assert np.abs(two.predict(matrix) - local.predict(matrix)).mean() < 0.01  # sketch merged over two workers
