"""XGBoost's own distributed training on Spark, for boosters ``xgboost.spark``'s estimators cannot take.

``xgboost.spark`` (3.2 installed; the same in 3.5-dev, ``python-package/xgboost/spark/data.py``)
builds each worker's DMatrix from one scalar label column plus weight, base margin and qid: there
is no column for AFT label bounds (``survival:aft`` then fails, dmlc/xgboost#11666) and none for
a multi-column label (the multi-output upsell booster), and it refuses a callable objective.
Its estimators are a thin layer over xgboost's public distributed primitives: a barrier stage of
``num_workers`` Spark tasks, a ``RabitTracker`` on the driver and a ``collective`` communicator in
each task, inside which plain ``xgb.train`` runs on the task's partition. ``train_on_spark`` uses
the same primitives with the DMatrix the local task builds, so next purchase trains the very
``survival:aft`` booster it trains locally (label bounds and all) and upsell its multi-output
booster: the local model is unchanged, and serving decodes both alike.

``train_on_spark`` has ``xgb.train``'s signature for what tasks use (params, one training matrix,
rounds, one validation matrix, early stopping), so ``training.fit`` and ``training.calibration``
take it in place of ``xgb.train`` (``Task.trainer``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from threading import Thread
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import pandas as pd
import xgboost as xgb

if TYPE_CHECKING:
    from pyspark.sql import SparkSession

VALID: Final = "_valid"
LOWER, UPPER = "_lower", "_upper"
MODEL_SCHEMA: Final = "model binary"


@dataclass(frozen=True)
class Layout:
    """How a DMatrix travels as Spark columns: features ``x0..``, labels ``y0..``, optional AFT bounds."""

    feature_names: list[str]
    n_targets: int
    bounds: bool

    @property
    def features(self) -> list[str]:
        return [f"x{i}" for i in range(len(self.feature_names))]

    @property
    def labels(self) -> list[str]:
        return [f"y{i}" for i in range(self.n_targets)]


def layout_of(matrix: xgb.DMatrix) -> Layout:
    """The columns ``matrix`` needs: its feature names, label width and whether it has AFT bounds."""
    label = matrix.get_label()
    n_targets = 0 if label.size == 0 else (label.shape[1] if label.ndim == 2 else 1)
    bounds = matrix.get_float_info("label_lower_bound").size > 0
    return Layout(list(matrix.feature_names or [f"f{i}" for i in range(matrix.num_col())]), n_targets, bounds)


def to_columns(matrix: xgb.DMatrix, layout: Layout, valid: bool) -> pd.DataFrame:
    """``matrix`` as a frame of ``layout``'s columns; a missing value stays NaN (XGBoost's missing)."""
    sparse = matrix.get_data()
    dense = np.full((matrix.num_row(), matrix.num_col()), np.nan, dtype=np.float32)
    dense[np.repeat(np.arange(matrix.num_row()), np.diff(sparse.indptr)), sparse.indices] = sparse.data
    frame = pd.DataFrame(dense, columns=layout.features)
    label = matrix.get_label().reshape(matrix.num_row(), -1) if layout.n_targets else np.empty((matrix.num_row(), 0))
    for i, column in enumerate(layout.labels):
        frame[column] = label[:, i].astype(np.float64)
    if layout.bounds:
        frame[LOWER] = matrix.get_float_info("label_lower_bound").astype(np.float64)
        frame[UPPER] = matrix.get_float_info("label_upper_bound").astype(np.float64)
    frame[VALID] = valid
    return frame


def from_columns(frame: pd.DataFrame, layout: Layout) -> xgb.DMatrix:
    """The DMatrix ``to_columns`` took apart (one partition's rows of it)."""
    label = frame[layout.labels].to_numpy(np.float64) if layout.n_targets else None
    if label is not None and layout.n_targets == 1:
        label = label[:, 0]
    matrix = xgb.DMatrix(frame[layout.features].to_numpy(np.float32), label=label, feature_names=layout.feature_names)
    if layout.bounds:
        matrix.set_float_info("label_lower_bound", frame[LOWER].to_numpy(np.float64))
        matrix.set_float_info("label_upper_bound", frame[UPPER].to_numpy(np.float64))
    return matrix


def train_on_spark(session: SparkSession, num_workers: int, params: dict[str, Any], dtrain: xgb.DMatrix,
                   num_boost_round: int, *, evals: Sequence[tuple[xgb.DMatrix, str]] = (),
                   early_stopping_rounds: int | None = None) -> xgb.Booster:
    """``xgb.train`` on ``num_workers`` Spark tasks: one booster, trained on every row, returned to the driver.

    Rows go round-robin to the workers so each holds training and validation rows. What returns to
    the driver is the booster's bytes; ``evals`` takes at most one validation matrix (the latest
    cut-off, as ``training.fit.choose_rounds`` passes it).
    """
    if len(evals) > 1:
        raise ValueError(f"train_on_spark validates on one matrix; got {len(evals)}")
    layout = layout_of(dtrain)
    parts = [to_columns(dtrain, layout, valid=False), *(to_columns(m, layout, valid=True) for m, _ in evals)]
    rows = session.createDataFrame(pd.concat(parts, ignore_index=True)).repartition(num_workers)
    task_params = {**params, "nthread": int(session.conf.get("spark.task.cpus", "1") or 1)}
    job = _Job(layout, task_params, num_boost_round, evals[0][1] if evals else None, early_stopping_rounds,
               start_tracker(session, num_workers))
    chunks = rows.mapInPandas(job.run, schema=MODEL_SCHEMA, barrier=True).collect()
    booster = xgb.Booster()
    booster.load_model(bytearray(b"".join(bytes(row.model) for row in chunks)))
    return booster


def start_tracker(session: SparkSession, num_workers: int) -> dict[str, Any]:
    """A Rabit tracker on the driver (as ``xgboost.spark`` starts one); the arguments every worker joins with."""
    from xgboost.tracker import RabitTracker

    host = session.sparkContext.getConf().get("spark.driver.host") or "127.0.0.1"
    tracker = RabitTracker(n_workers=num_workers, host_ip=host, sortby="task")
    tracker.start()
    Thread(target=tracker.wait_for, daemon=True).start()
    return {"n_workers": num_workers, **tracker.worker_args()}


@dataclass(frozen=True)
class _Job:
    """What one barrier task runs; pickled to the executors, so it holds plain values only."""

    layout: Layout
    params: dict[str, Any]
    rounds: int
    eval_name: str | None
    early_stopping_rounds: int | None
    tracker_args: dict[str, Any]

    def run(self, partitions: Iterable[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        """Join the communicator, train on this task's rows; task 0 sends the booster back."""
        from pyspark import BarrierTaskContext
        from xgboost.collective import CommunicatorContext

        context = BarrierTaskContext.get()
        context.barrier()
        empty = pd.DataFrame(columns=[*self.layout.features, *self.layout.labels, LOWER, UPPER, VALID])
        rows = pd.concat([empty.astype({VALID: bool}), *partitions], ignore_index=True)
        valid = rows[VALID].astype(bool).to_numpy()
        with CommunicatorContext(dmlc_task_id=str(context.partitionId()), **self.tracker_args):
            dtrain = from_columns(rows[~valid], self.layout)
            evals = [(from_columns(rows[valid], self.layout), self.eval_name)] if self.eval_name else []
            booster = xgb.train(self.params, dtrain, self.rounds, evals=evals,
                                early_stopping_rounds=self.early_stopping_rounds if evals else None, verbose_eval=False)
        context.barrier()
        if context.partitionId() == 0:
            yield pd.DataFrame({"model": [bytes(booster.save_raw("ubj"))]})
