"""Training examples built on Spark executors: ``training.examples.build_examples``'s rows, as a Spark DataFrame.

Per cut-off, the executors compute the features (``features.snapshot.snapshot_expression``), the
BG/NBD + Gamma-Gamma features (``features.spark_lifetime``: only aggregates reach the driver),
the category spend shares and the labels (``features.labels.labels_expression``); the cut-offs
are stacked by column name, a share column absent at one cut-off being 0 there. What reaches the
driver: the lifetime fits' aggregates and, per cut-off, the names of the most bought categories
(at most ``MAX_SHARE_COLUMNS``). The frame is lazy: nothing is computed until it is used.

With ``MEMBERSCORE_ENGINE=spark``, ``memberscore train`` builds the training cut-offs' examples
here (``train_examples_on_spark``) and then collects them: the tasks' baselines, calibration and
gate read pandas examples. The evaluation cut-off's examples stay a driver build, with the
BG/NBD model its baselines use.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import date
from functools import reduce
from typing import TYPE_CHECKING

import pandas as pd
from ibis.backends import BaseBackend
from ibis.expr.types import Table

from features import contract
from features.catalogue import feature_names
from features.categories import MAX_SHARE_COLUMNS, SHARE_PREFIX, share_column
from features.labels import LABEL_COLUMNS, labels_expression
from features.lifetime import LIFETIME_FEATURES
from features.snapshot import snapshot_expression
from features.spark import spark_frame
from features.spark_lifetime import fit_on_spark, occasions_on_spark
from training.examples import CUTOFF_COLUMN

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession


def examples_on_spark(backend: BaseBackend, lines: Table, cutoffs: Iterable[date], horizon_days: int) -> DataFrame:
    """Features as of each cut-off joined to the labels of the horizon after it, stacked (a Spark DataFrame).

    ``lines`` is a table of the Spark ``backend`` (e.g. ``features.engine.read_parquet``).
    """
    frames = [_examples_at(backend, lines, cutoff, horizon_days) for cutoff in cutoffs]
    stacked = reduce(lambda a, b: a.unionByName(b, allowMissingColumns=True), frames)
    order = list(dict.fromkeys(c for frame in frames for c in frame.columns))  # as pd.concat stacks them
    shares = [c for c in order if c.startswith(SHARE_PREFIX)]
    return (stacked.fillna(0.0, subset=shares) if shares else stacked).select(*order)


def train_examples_on_spark(session: SparkSession, transactions: pd.DataFrame, cutoffs: Iterable[date],
                            horizon_days: int) -> pd.DataFrame:
    """``build_examples``'s frame (same columns, order and dtypes) computed on the executors of ``session``.

    The clean transactions are shipped to Spark once per call; the examples come back to the
    driver, where the tasks' baselines, calibration and gate read them.
    """
    from features.spark import spark_backend

    backend = spark_backend(session)
    view = f"memberscore_lines_{uuid.uuid4().hex}"
    session.createDataFrame(transactions).createOrReplaceTempView(view)
    try:
        frame = examples_on_spark(backend, backend.table(view), cutoffs, horizon_days).toPandas()
    finally:
        session.catalog.dropTempView(view)
    return _with_driver_dtypes(frame)


def _with_driver_dtypes(frame: pd.DataFrame) -> pd.DataFrame:
    """member_id as string, the cut-off as a timestamp, counts as int64, everything else float64."""
    frame[contract.MEMBER_ID] = frame[contract.MEMBER_ID].astype("string")
    as_driver = pd.Series([pd.Timestamp(date(2000, 1, 1))]).dtype  # build_examples' pd.Timestamp(cutoff)
    frame[CUTOFF_COLUMN] = pd.to_datetime(frame[CUTOFF_COLUMN]).astype(as_driver)
    for column in frame.columns.drop([contract.MEMBER_ID, CUTOFF_COLUMN]):
        frame[column] = frame[column].astype("int64" if column in ("churned", "orders_in_horizon") else "float64")
    return frame


def _examples_at(backend: BaseBackend, lines: Table, cutoff: date, horizon_days: int) -> DataFrame:
    from pyspark.sql import functions as F

    has_category = contract.CATEGORY in lines.columns
    features = spark_frame(backend, snapshot_expression(lines, cutoff))
    features = features.join(_lifetime(backend, lines, cutoff), contract.MEMBER_ID, "left")
    names = feature_names(has_category)
    features = features.select(F.col(contract.MEMBER_ID).cast("string").alias(contract.MEMBER_ID),
                               *(F.col(n).cast("double").alias(n) for n in names))
    if has_category:
        shares = category_shares_on_spark(spark_frame(backend, lines), cutoff)
        features = features.join(shares, contract.MEMBER_ID, "left")
    labels = _labels(backend, lines, cutoff, horizon_days)
    examples = features.join(labels, contract.MEMBER_ID, "inner")
    return examples.select(contract.MEMBER_ID, F.to_timestamp(F.lit(f"{cutoff.isoformat()} 00:00:00")).alias(CUTOFF_COLUMN),
                           *[c for c in examples.columns if c != contract.MEMBER_ID])


def _lifetime(backend: BaseBackend, lines: Table, cutoff: date) -> DataFrame:
    """member_id and the lifetime features; no rows (so NULL features, as the driver's NaN) without a fit."""
    fitted = fit_on_spark(occasions_on_spark(backend, lines, cutoff), cutoff)
    if fitted is None:
        session = spark_frame(backend, lines).sparkSession
        schema = ", ".join([f"{contract.MEMBER_ID} string", *(f"{c} double" for c in LIFETIME_FEATURES)])
        return session.createDataFrame([], schema)
    return fitted.features.select(contract.MEMBER_ID, *LIFETIME_FEATURES)


def _labels(backend: BaseBackend, lines: Table, cutoff: date, horizon_days: int) -> DataFrame:
    """``features.labels.build_labels``'s columns and conventions (no purchase: 0 orders, 0 spend, churned)."""
    from pyspark.sql import functions as F

    raw = spark_frame(backend, labels_expression(lines, cutoff, horizon_days))
    orders = F.coalesce(F.col("orders_in_horizon"), F.lit(0)).cast("long")
    return raw.select(
        F.col(contract.MEMBER_ID).cast("string").alias(contract.MEMBER_ID),
        F.when(orders == 0, 1).otherwise(0).cast("long").alias("churned"), orders.alias("orders_in_horizon"),
        F.col("days_to_next").cast("double").alias("days_to_next"),
        *(F.coalesce(F.col(c).cast("double"), F.lit(0.0)).alias(c) for c in ("spend_in_horizon", "spend_before_horizon")),
    ).select(contract.MEMBER_ID, *LABEL_COLUMNS)


def category_shares_on_spark(lines: DataFrame, as_of: date) -> DataFrame:
    """``features.categories.category_shares`` on the executors: member_id and one share column per frequent category.

    Only the names of the ``MAX_SHARE_COLUMNS`` categories with the most buyers reach the driver
    (ties by name, as there); categories whose slugs collide add up in one column.
    """
    from pyspark.sql import functions as F

    cutoff = F.to_timestamp(F.lit(f"{as_of.isoformat()} 00:00:00"))
    bought = lines.filter((F.col(contract.TS).cast("timestamp") < cutoff) & (F.col(contract.AMOUNT) > 0)
                          & F.col(contract.CATEGORY).isNotNull())
    spend = bought.groupBy(contract.MEMBER_ID, contract.CATEGORY).agg(F.sum(contract.AMOUNT).alias("_spend"))
    ranked = spend.groupBy(contract.CATEGORY).count().orderBy(F.desc("count"), F.asc(contract.CATEGORY))
    frequent = [row[contract.CATEGORY] for row in ranked.limit(MAX_SHARE_COLUMNS).collect()]
    columns = {category: share_column(category) for category in frequent}
    mapping = F.create_map(*(F.lit(v) for pair in columns.items() for v in pair)) if columns else None
    total = bought.groupBy(contract.MEMBER_ID).agg(F.sum(contract.AMOUNT).alias("_total"))
    kept = spend.filter(F.col(contract.CATEGORY).isin(frequent)).join(total, contract.MEMBER_ID)
    if mapping is None:
        return kept.select(F.col(contract.MEMBER_ID).cast("string").alias(contract.MEMBER_ID)).distinct()
    shares = kept.select(F.col(contract.MEMBER_ID).cast("string").alias(contract.MEMBER_ID),
                         mapping[F.col(contract.CATEGORY)].alias("_column"), (F.col("_spend") / F.col("_total")).alias("_share"))
    return shares.groupBy(contract.MEMBER_ID).pivot("_column", sorted(set(columns.values()))).agg(F.sum("_share")).fillna(0.0)
