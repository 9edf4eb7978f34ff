"""training.spark_training: churn trained by xgboost.spark is a booster the pipeline logs, gates and serves.

Known truth: the simulated members carry planted churn, so a model that learnt anything ranks
out-of-time churners well above chance, as the local fit does on the same rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.project import DEFAULT_PROJECT
from models.calibration import read_calibration
from models.matrix import predict_proba
from training.churn import Churn
from training.config import TrainConfig
from training.evaluate import binary_metrics
from training.examples import CUTOFF_COLUMN, LABEL_COLUMN
from training.fit import local_train
from training.spark_training import (
    OnSpark,
    SparkBoosters,
    SparkChurn,
    SparkNextPurchase,
    SparkUpsell,
    SparkValue,
    can_stop_early,
    spark_params,
    tasks_for_engine,
    validation_flags,
)
from training.task import TaskData
from training.tasks import all_tasks

CONFIG = TrainConfig(horizon_days=60, n_train_cutoffs=3, cutoff_step_days=60, num_boost_round=30,
                     early_stopping_rounds=5)


def test_spark_params_leave_threads_and_objective_to_xgboost_spark() -> None:
    params = spark_params({"objective": "binary:logistic", "nthread": 2, "max_depth": 4, "eta": 0.05})
    assert params == {"max_depth": 4, "eta": 0.05}


def test_validation_split_is_the_latest_cutoff_fitted_on_windows_that_end_before_it() -> None:
    """Horizon 60: the cut-off 30 days before the latest overlaps its label window, so it is in neither part."""
    cutoffs = pd.to_datetime(["2024-01-01", "2024-03-01", "2024-04-01", "2024-05-01", "2024-05-01"])
    flags = validation_flags(pd.DataFrame({CUTOFF_COLUMN: cutoffs}), CONFIG)
    assert flags.astype(object).where(flags.notna(), None).tolist() == [False, False, None, True, True]


@pytest.mark.parametrize(("flags", "labels", "early_stopping_rounds", "expected"), [
    ([False, True, True], [0, 0, 1], 5, True),
    ([False, True, True], [0, 1, 1], 0, False),  # early stopping off
    ([None, True, True], [0, 0, 1], 5, False),  # nothing to fit on before the latest cut-off
    ([False, True, True], [1, 0, 0], 5, False),  # AUC undefined on one validation class
    ([False, None, None], [0, 0, 1], 5, False),  # nothing to validate on
])
def test_early_stopping_runs_only_when_the_split_can_judge_rounds(flags: list[bool | None], labels: list[int],
                                                                   early_stopping_rounds: int, expected: bool) -> None:
    config = CONFIG.model_copy(update={"early_stopping_rounds": early_stopping_rounds})
    assert can_stop_early(pd.Series(flags, dtype="boolean"), pd.Series(labels), config) is expected


def test_a_regression_target_stops_early_on_one_validation_value() -> None:
    """Spend needs no two classes: a Tweedie loss is defined on any values."""
    flags = pd.Series([False, True, True], dtype="boolean")
    assert can_stop_early(flags, pd.Series([3.0, 0.0, 0.0]), CONFIG, binary=False) is True
    assert can_stop_early(flags, pd.Series([3.0, 0.0, 0.0]), CONFIG, binary=True) is False


def test_tasks_for_engine_puts_every_task_on_spark_only_when_spark_is_configured() -> None:
    tasks = all_tasks()
    assert tasks_for_engine(tasks, "duckdb") == tasks
    swapped = tasks_for_engine(tasks, "spark", session=_FakeSession())
    assert [t.name for t in swapped] == [t.name for t in tasks]
    assert {t.name: type(t).__name__ for t in swapped} == {
        "churn": "SparkChurn", "value": "SparkValue", "value_12m": "SparkValue12m",  # xgboost.spark estimators
        "next_purchase": "SparkNextPurchase", "upsell": "SparkUpsell"}  # xgboost's collective on barrier tasks
    assert all(isinstance(t, OnSpark) for t in swapped)
    assert [t.horizon_days(CONFIG) for t in swapped] == [t.horizon_days(CONFIG) for t in tasks]
    assert all(isinstance(t, SparkBoosters) == (t.trainer() is not local_train) for t in swapped)


def test_the_local_engine_builds_examples_in_the_driver() -> None:
    from training.examples import build_examples
    from training.spark_training import examples_for_engine

    assert examples_for_engine("duckdb") is build_examples  # spark: tests/serving/test_cli_spark_cluster.py


class _FakeSession:
    """Just enough of a SparkSession for choosing tasks (nothing is trained)."""

    class sparkContext:
        defaultParallelism = 2
        master = "local[2]"


@pytest.fixture(scope="module")
def data(synthetic: tuple[pd.DataFrame, pd.DataFrame]) -> TaskData:
    from training.pipeline import prepare_data

    return prepare_data(synthetic[0], CONFIG)


@pytest.mark.slow
def test_spark_churn_is_registered_served_and_as_good_as_a_local_fit(
        spark: object, synthetic: tuple[pd.DataFrame, pd.DataFrame], data: TaskData, stores: object) -> None:
    """The whole pipeline with the Spark task: the version it registers is that booster, and it learnt the churn.

    Promotion follows the gate's interval (on the simulated BG/NBD members BG/NBD may hold churn's gate).
    """
    from mlflow import MlflowClient

    from models import catalog
    from training.pipeline import train_tasks

    (result,) = train_tasks(synthetic[0], CONFIG, [SparkChurn(spark, num_workers=2)], project=DEFAULT_PROJECT).results
    champion = catalog.load_booster("churn", catalog.CHALLENGER, project=DEFAULT_PROJECT)  # this run's version
    assert champion is not None, result.decision.reason
    assert result.decision.interval is not None
    assert result.decision.promote == (result.decision.interval.low > 0), result.decision.reason
    assert champion.feature_names == data.feature_names
    assert 1 <= champion.num_boosted_rounds() <= CONFIG.num_boost_round
    assert read_calibration(champion).method == "logit_scale"  # calibrated out of time as a local fit is
    y = data.evaluation[LABEL_COLUMN].to_numpy()
    spark_auc = binary_metrics(y, predict_proba(champion, data.evaluation))["roc_auc"]
    assert spark_auc == pytest.approx(result.out_of_time["model"]["roc_auc"], abs=1e-12)
    local_auc = binary_metrics(y, predict_proba(Churn().fit(data, CONFIG), data.evaluation))["roc_auc"]
    assert spark_auc > 0.7 and abs(spark_auc - local_auc) < 0.05, (spark_auc, local_auc)
    logged = {a.path for a in MlflowClient().list_artifacts(result.run_id)}
    assert "engine.json" in logged


@pytest.mark.slow
def test_spark_value_is_logged_like_a_local_fit_and_as_good(
        spark: object, synthetic: tuple[pd.DataFrame, pd.DataFrame], data: TaskData, stores: object) -> None:
    """Tweedie on Spark: the run's out-of-time numbers are that booster's, close to a local fit's on the same rows.

    Promotion is not asserted: on the simulated (BG/NBD) members the BG/NBD + Gamma-Gamma baseline
    is the right model and may win the gate.
    """
    from mlflow import MlflowClient

    from models import catalog
    from training.pipeline import train_tasks
    from training.value import Value, spend_target
    from training.value_metrics import value_metrics

    (result,) = train_tasks(synthetic[0], CONFIG, [SparkValue(spark, num_workers=2)], project=DEFAULT_PROJECT).results
    booster = catalog.load_booster("value", catalog.CHALLENGER, project=DEFAULT_PROJECT)  # this run's version, promoted or not
    assert booster.feature_names == data.feature_names
    actual = spend_target(data.evaluation)
    spark_gini = value_metrics(actual, predict_proba(booster, data.evaluation))["normalized_gini"]
    assert spark_gini == pytest.approx(result.out_of_time["model"]["normalized_gini"], abs=1e-12)
    local_gini = value_metrics(actual, predict_proba(Value().fit(data, CONFIG), data.evaluation))["normalized_gini"]
    assert spark_gini > 0.5 and abs(spark_gini - local_gini) < 0.05, (spark_gini, local_gini)
    assert "engine.json" in {a.path for a in MlflowClient().list_artifacts(result.run_id)}



@pytest.mark.slow
def test_spark_next_purchase_and_upsell_are_the_local_models(spark: object, data: TaskData) -> None:
    """survival:aft with label bounds and the multi-output upsell booster, each fitted on two Spark workers.

    They are close to local fits on the same rows (the only differences: the quantile sketch merged
    over two workers, subsampling drawn per worker). Tolerances: C-index, 30-day ECE, upsell ROC
    AUC within 0.02 of the local fit, the offers' hit rate at 3 within 0.02 or one adopting member
    (its step), upsell probabilities within 0.02 on average. (The first offered category is not compared member by member: on the
    simulated members the categories' scores are close, and a change in the third decimal
    reorders them.) The whole pipeline on Spark (gate, registry, engine.json) is
    tests/serving/test_cli_spark_cluster.py.
    """
    from models.matrix import to_matrix
    from models.offers import booster_categories
    from models.timing import DISTRIBUTION_ATTR
    from training.cross_sell import new_category_targets
    from training.next_purchase import NextPurchase
    from training.upsell import Upsell, member_keys

    timing = SparkNextPurchase(spark, num_workers=2).fit(data, CONFIG)  # type: ignore[arg-type]
    assert timing.feature_names == data.feature_names and timing.attr(DISTRIBUTION_ATTR) == CONFIG.aft_distribution
    assert read_calibration(timing).method == "aft_sigma"  # its holdout booster was trained on Spark too
    local = NextPurchase().metrics(NextPurchase().fit(data, CONFIG), data.evaluation, data)
    on_spark = NextPurchase().metrics(timing, data.evaluation, data)
    assert abs(on_spark["concordance"] - local["concordance"]) < 0.02, (on_spark, local)
    assert abs(on_spark["ece_30d"] - local["ece_30d"]) < 0.02, (on_spark, local)

    offers, local_offers = SparkUpsell(spark, num_workers=2).fit(data, CONFIG), Upsell().fit(data, CONFIG)  # type: ignore[arg-type]
    vocabulary = booster_categories(offers)
    assert vocabulary == booster_categories(local_offers) != []
    matrix = to_matrix(data.evaluation, data.feature_names)
    spark_p, local_p = offers.predict(matrix), local_offers.predict(matrix)
    assert spark_p.shape == local_p.shape == (len(data.evaluation), 1 + len(vocabulary))
    hits = {name: Upsell._category_baselines(vocabulary, p[:, 1:], data)[1]["model"]
            for name, p in (("spark", spark_p), ("local", local_p))}
    # the served offers' quality; the hit rate counts only members who adopted a new category, so
    # it moves in steps of 1/adopters (38 such members here): within 0.02 or one member, the larger
    targets = new_category_targets(data.categories_at(data.evaluation), member_keys(data.evaluation), vocabulary)
    adopters = int(np.asarray(targets).any(axis=1).sum())
    assert abs(hits["spark"] - hits["local"]) <= max(0.02, 1 / adopters) + 1e-12, (hits, adopters)
    assert np.abs(spark_p - local_p).mean() < 0.02
    aucs = [Upsell().metrics(b, data.evaluation, data)["roc_auc"] for b in (offers, local_offers)]
    assert abs(aucs[0] - aucs[1]) < 0.02, aucs
