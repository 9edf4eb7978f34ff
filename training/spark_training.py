"""Every model task trained distributed on Spark: churn and value with ``xgboost.spark``, the others with xgboost's collective.

The result is a plain ``xgb.Booster`` with the same feature names and parameters as a local fit,
so the pipeline logs, registers, gates and serves it exactly like one. Selected with
``MEMBERSCORE_ENGINE=spark`` (``tasks_for_engine``, given the setting by the CLI); the cluster is
``MEMBERSCORE_SPARK_MASTER``.
Churn and value are single-label boosters, fitted by ``SparkXGBClassifier`` / ``SparkXGBRegressor``.
Next purchase (``survival:aft``, which needs lower and upper label bounds) and the multi-output
upsell booster have no ``xgboost.spark`` estimator: they train on the same Spark barrier tasks with
xgboost's collective (``training.spark_booster``), every ``xgb.train`` call of the local task
(round choice, final fit, calibration holdout) included, so their model is the local one.
The training cut-offs' examples are built on the executors (``examples_for_engine``:
``training.spark_examples``), then collected to the driver, where the tasks' baselines,
calibration and gate read them and from where each fit ships them back to the workers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar, Final

import numpy as np
import pandas as pd
import xgboost as xgb

from models.matrix import to_matrix
from training.calibration import attach
from training.churn import Churn
from training.config import TrainConfig
from training.examples import CUTOFF_COLUMN, LABEL_COLUMN, ExamplesBuilder, build_examples
from training.fit import Trainer, booster_params
from training.next_purchase import NextPurchase
from training.spark_booster import train_on_spark
from training.task import Assessment, Task, TaskData
from training.upsell import Upsell
from training.value import Value, Value12m, spend_target, twelve_month_rounds, value_params

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

VALIDATION_COLUMN: Final = "_validation"
LABEL: Final = "_label"
# xgboost.spark refuses thread counts (it takes spark.task.cpus); SparkXGBClassifier sets the objective itself
NOT_FOR_SPARK: Final = ("nthread", "n_jobs", "objective")


class OnSpark:
    """A task trained on ``num_workers`` Spark tasks of ``session``; its run logs where (``engine.json``)."""

    trainer_name: ClassVar[str] = "xgboost.spark"

    def __init__(self, session: SparkSession, num_workers: int | None = None) -> None:
        super().__init__()
        self.session = session
        self.num_workers = num_workers or session.sparkContext.defaultParallelism

    def assess(self, booster: xgb.Booster, data: TaskData) -> Assessment:
        """The local task's assessment, plus where the booster was trained (``engine.json``)."""
        assessment = super().assess(booster, data)  # type: ignore[misc]  # a mixin: the task class beside it has assess
        assessment.documents["engine.json"] = {"trainer": self.trainer_name, "master": self.session.sparkContext.master,
                                               "num_workers": self.num_workers}
        return assessment


class SparkFit(OnSpark):
    """Fits one booster with an ``xgboost.spark`` estimator on ``num_workers`` Spark tasks.

    The round count is chosen out of time as ``training.fit.fit_booster`` does (early stopping on
    the latest training cut-off), then the booster is refitted on every cut-off.
    """

    def fit_on_spark(self, data: TaskData, config: TrainConfig, label: np.ndarray, params: Mapping[str, Any],
                     estimator: type, binary: bool) -> xgb.Booster:
        names = data.feature_names
        flags = validation_flags(data.train, config)
        rows = self._to_spark(data.train, names, label, flags)
        rounds = config.num_boost_round
        if can_stop_early(flags, pd.Series(label, index=data.train.index), config, binary):
            split = rows.filter(rows[VALIDATION_COLUMN].isNotNull())
            stopped = self._fit(estimator, split, names, params, rounds, config.early_stopping_rounds)
            rounds = int(stopped.attr("best_iteration") or rounds - 1) + 1
        return self._fit(estimator, rows.drop(VALIDATION_COLUMN), names, params, rounds, early_stopping=0)

    def _fit(self, estimator: type, rows: DataFrame, names: list[str], params: Mapping[str, Any], rounds: int,
             early_stopping: int) -> xgb.Booster:
        extra: dict[str, Any] = {}
        if early_stopping:
            extra = {"validation_indicator_col": VALIDATION_COLUMN, "early_stopping_rounds": early_stopping}
        fitted = estimator(features_col=names, label_col=LABEL, num_workers=self.num_workers, n_estimators=rounds,
                           **extra, **params)
        booster = fitted.fit(rows).get_booster()
        booster.feature_names = names  # xgboost.spark names them f0..fn; serving looks features up by name
        return booster

    def _to_spark(self, examples: pd.DataFrame, names: list[str], label: np.ndarray, validation: pd.Series) -> DataFrame:
        """Features, label and split flag as a Spark frame (float64 features keep NaN as missing)."""
        frame = examples[names].astype("float64")
        frame[LABEL] = label
        frame[VALIDATION_COLUMN] = validation.to_numpy()
        # Round-robin, so that every worker's partition holds fit and validation rows: xgboost.spark
        # 3.2 fails (KeyError 'values') on a partition whose validation part is empty.
        return self.session.createDataFrame(frame).repartition(self.num_workers)


class SparkChurn(SparkFit, Churn):
    """Churn fitted by ``SparkXGBClassifier`` (the objective is its own: binary:logistic).

    Its calibration is the local task's (``Churn._calibration``): the holdout booster of the earlier
    cut-offs is fitted in the driver with the local parameters and the Spark booster's round count.
    """

    def fit(self, data: TaskData, config: TrainConfig) -> xgb.Booster:
        from xgboost.spark import SparkXGBClassifier

        names = data.feature_names
        params = spark_params(booster_params(names, config))
        label = data.train[LABEL_COLUMN].to_numpy().astype("int64")
        booster = self.fit_on_spark(data, config, label, params, SparkXGBClassifier, binary=True)
        matrix_for = lambda rows: to_matrix(rows, names, rows[LABEL_COLUMN].to_numpy())  # noqa: E731
        calibration = self._calibration(data.train, matrix_for, booster_params(names, config), booster.num_boosted_rounds())
        return attach(booster, calibration)


class SparkValue(SparkFit, Value):
    """Member value fitted by ``SparkXGBRegressor`` with the local task's Tweedie parameters."""

    def fit(self, data: TaskData, config: TrainConfig) -> xgb.Booster:
        from xgboost.spark import SparkXGBRegressor

        params = {k: v for k, v in value_params(config).items() if k not in ("nthread", "n_jobs")}
        return self.fit_on_spark(data, config, spend_target(data.train), params, SparkXGBRegressor, binary=False)


class SparkValue12m(SparkValue, Value12m):
    """The 12-month value fitted by ``SparkXGBRegressor``, with the local task's round cap."""

    def fit(self, data: TaskData, config: TrainConfig) -> xgb.Booster:
        return super().fit(data, twelve_month_rounds(config))


class SparkBoosters(OnSpark):
    """Every ``xgb.train`` call of the local task runs on Spark workers (``training.spark_booster``)."""

    trainer_name: ClassVar[str] = "xgboost collective on Spark barrier tasks"

    def trainer(self) -> Trainer:
        return partial(train_on_spark, self.session, self.num_workers)


class SparkNextPurchase(SparkBoosters, NextPurchase):
    """Next purchase's ``survival:aft`` booster, label bounds and calibration holdout included, fitted on Spark."""


class SparkUpsell(SparkBoosters, Upsell):
    """Upsell's multi-output (or spend-up) booster fitted on Spark: the same outputs, decoded by ``models.offers``."""


def validation_flags(examples: pd.DataFrame, config: TrainConfig) -> pd.Series:
    """True for the latest training cut-off, False for cut-offs whose label window ends by it, None otherwise.

    The same split as ``training.fit.choose_rounds``: validation is out of time.
    """
    cutoffs = examples[CUTOFF_COLUMN]
    latest = cutoffs.max()
    fit_rows = cutoffs + pd.Timedelta(days=config.horizon_days) <= latest
    flags = pd.Series(None, index=examples.index, dtype="boolean")
    flags[fit_rows] = False
    flags[cutoffs == latest] = True
    return flags


def can_stop_early(flags: pd.Series, labels: pd.Series, config: TrainConfig, binary: bool = True) -> bool:
    """Whether early stopping can choose the rounds: it is on, some rows fit and some validate, and
    (for a binary target) validation has both classes.

    Otherwise all ``num_boost_round`` rounds are used, as ``training.fit.choose_rounds`` does.
    """
    is_validation = flags.fillna(False).astype(bool).to_numpy()
    is_fit = (~flags).fillna(False).astype(bool).to_numpy()
    if config.early_stopping_rounds == 0 or not is_fit.any() or not is_validation.any():
        return False
    return not binary or labels[is_validation].nunique() == 2


def spark_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Booster parameters as ``xgboost.spark`` takes them: threads and objective are its own."""
    return {key: value for key, value in params.items() if key not in NOT_FOR_SPARK}


def tasks_for_engine(tasks: Sequence[Task], engine: str, spark_master: str | None = None,
                     session: SparkSession | None = None) -> list[Task]:
    """``tasks`` trained on Spark when ``engine`` is spark (unchanged otherwise).

    The session is a new one at ``spark_master`` (local, all cores, when None) unless given.
    """
    if engine != "spark":
        return list(tasks)
    if session is None:
        from features.spark import spark_session

        session = spark_session(spark_master)
    return [_on_spark(task, session) for task in tasks]


def examples_for_engine(engine: str, spark_master: str | None = None) -> ExamplesBuilder:
    """What builds the training examples: ``build_examples`` here, or on the Spark executors with engine spark."""
    if engine != "spark":
        return build_examples
    from features.spark import spark_session
    from training.spark_examples import train_examples_on_spark

    return partial(train_examples_on_spark, spark_session(spark_master))


def _on_spark(task: Task, session: SparkSession) -> Task:
    """The Spark version of a model task; any other task as it is."""
    spark_class = _SPARK_CLASSES.get(type(task))
    return spark_class(session) if spark_class else task  # type: ignore[return-value]  # each is a Task subclass


_SPARK_CLASSES: Final[dict[type[Task], type[OnSpark]]] = {
    Churn: SparkChurn, NextPurchase: SparkNextPurchase, Upsell: SparkUpsell, Value: SparkValue, Value12m: SparkValue12m}
