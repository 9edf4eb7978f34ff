"""Distributed XGBoost training on Spark (``xgboost.spark``) for the churn task.

The result is a plain ``xgb.Booster`` with the same feature names and parameters as a local fit,
so the pipeline logs, registers, gates and serves it exactly like one. Selected with
``MEMBERSCORE_ENGINE=spark`` (``tasks_for_engine``); the cluster is ``MEMBERSCORE_SPARK_MASTER``.
The examples are still built by the feature engine in the driver; only the fit is distributed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, Final

import pandas as pd
import xgboost as xgb

from features.engine import configured_engine
from training.churn import Churn
from training.config import TrainConfig
from training.examples import CUTOFF_COLUMN, LABEL_COLUMN
from training.fit import booster_params
from training.task import Assessment, Task, TaskData

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

VALIDATION_COLUMN: Final = "_validation"
# xgboost.spark refuses thread counts (it takes spark.task.cpus); SparkXGBClassifier sets the objective itself
NOT_FOR_SPARK: Final = ("nthread", "n_jobs", "objective")


class SparkChurn(Churn):
    """Churn fitted by ``SparkXGBClassifier`` on ``num_workers`` Spark tasks (the default parallelism when None)."""

    def __init__(self, session: SparkSession, num_workers: int | None = None) -> None:
        self.session = session
        self.num_workers = num_workers or session.sparkContext.defaultParallelism

    def fit(self, data: TaskData, config: TrainConfig) -> xgb.Booster:
        """Choose the round count out of time as ``training.fit.fit_booster`` does, then refit on every cut-off."""
        names = data.feature_names
        params = spark_params(booster_params(names, config))
        flags = validation_flags(data.train, config)
        rows = self._to_spark(data.train, names, flags)
        rounds = config.num_boost_round
        if can_stop_early(flags, data.train[LABEL_COLUMN], config):
            split = rows.filter(rows[VALIDATION_COLUMN].isNotNull())
            stopped = self._fit(split, names, params, rounds, config.early_stopping_rounds)
            rounds = int(stopped.attr("best_iteration") or rounds - 1) + 1
        return self._fit(rows.drop(VALIDATION_COLUMN), names, params, rounds, early_stopping=0)

    def assess(self, booster: xgb.Booster, data: TaskData) -> Assessment:
        """The local churn assessment, plus a record of where the booster was trained."""
        assessment = super().assess(booster, data)
        assessment.documents["engine.json"] = {"trainer": "xgboost.spark", "master": self.session.sparkContext.master,
                                               "num_workers": self.num_workers}
        return assessment

    def _fit(self, rows: DataFrame, names: list[str], params: Mapping[str, Any], rounds: int,
             early_stopping: int) -> xgb.Booster:
        from xgboost.spark import SparkXGBClassifier

        extra: dict[str, Any] = {}
        if early_stopping:
            extra = {"validation_indicator_col": VALIDATION_COLUMN, "early_stopping_rounds": early_stopping}
        estimator = SparkXGBClassifier(features_col=names, label_col=LABEL_COLUMN, num_workers=self.num_workers,
                                       n_estimators=rounds, **extra, **params)
        booster = estimator.fit(rows).get_booster()
        booster.feature_names = names  # xgboost.spark names them f0..fn; serving looks features up by name
        return booster

    def _to_spark(self, examples: pd.DataFrame, names: list[str], validation: pd.Series) -> DataFrame:
        """Features, label and split flag as a Spark frame (float64 features keep NaN as missing)."""
        frame = examples[names].astype("float64")
        frame[LABEL_COLUMN] = examples[LABEL_COLUMN].astype("int64").to_numpy()
        frame[VALIDATION_COLUMN] = validation.to_numpy()
        # Round-robin, so that every worker's partition holds fit and validation rows: xgboost.spark
        # 3.2 fails (KeyError 'values') on a partition whose validation part is empty.
        return self.session.createDataFrame(frame).repartition(self.num_workers)


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


def can_stop_early(flags: pd.Series, labels: pd.Series, config: TrainConfig) -> bool:
    """Whether early stopping can choose the rounds: it is on, some rows fit, and validation has both classes.

    Otherwise all ``num_boost_round`` rounds are used, as ``training.fit.choose_rounds`` does.
    """
    is_validation = flags.fillna(False).astype(bool).to_numpy()
    is_fit = (~flags).fillna(False).astype(bool).to_numpy()
    return config.early_stopping_rounds > 0 and bool(is_fit.any()) and labels[is_validation].nunique() == 2


def spark_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Booster parameters as ``xgboost.spark`` takes them: threads and objective are its own."""
    return {key: value for key, value in params.items() if key not in NOT_FOR_SPARK}


def tasks_for_engine(tasks: Sequence[Task], session: SparkSession | None = None) -> list[Task]:
    """``tasks`` with churn trained on Spark when ``MEMBERSCORE_ENGINE=spark`` (unchanged otherwise).

    The session is ``features.spark.configured_session()`` unless given.
    """
    if configured_engine() != "spark":
        return list(tasks)
    if session is None:
        from features.spark import configured_session

        session = configured_session()
    return [SparkChurn(session) if isinstance(task, Churn) else task for task in tasks]
