"""Batch scoring of every member on Spark: the champion boosters applied per partition, with reasons.

Each partition goes through ``serving.batch.score_with_reasons_chunked`` (``scoring.score_frame``
plus the top-k TreeSHAP reasons), the code behind ``memberscore score``, so a member's scores and
reasons do not depend on the engine that produced them, and the output has the same columns.
Boosters travel to the executors once, as raw model bytes in a broadcast variable.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import date
from typing import TYPE_CHECKING, Final

import pandas as pd
import xgboost as xgb

from features import contract
from features.categories import SHARE_PREFIX
from features.snapshot import SEGMENT_COLUMNS
from models.baselines import SERVED_BY_BASELINE
from serving.batch import score_with_reasons_chunked
from serving.scoring import OUTPUT_COLUMNS

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

# What score_frame takes from a snapshot's profile: CLV, segments, and the baselines' outputs
PROFILE_COLUMNS: Final = ("clv_12m", *SEGMENT_COLUMNS,
                          *dict.fromkeys(c for served in SERVED_BY_BASELINE.values() for c in served.values()))
STRING_OUTPUTS: Final = frozenset({contract.MEMBER_ID, "next_purchase_date", "upsell_categories", *SEGMENT_COLUMNS})
CHUNK_ROWS: Final = 10_000  # rows explained at once inside a partition: bounds each SHAP matrix


def reason_columns(task: str, explain: int) -> list[tuple[str, str]]:
    """(name, Spark type) of ``task``'s reason columns, as ``serving.batch`` names them."""
    columns = []
    for i in range(1, explain + 1):
        columns += [(f"{task}_reason_{i}", "string"), (f"{task}_reason_{i}_contribution", "double")]
    return columns


def output_schema(tasks: list[str], explain: int) -> str:
    """The Spark DDL schema of the scored rows: score_frame's columns, then each model's reasons."""
    fields = [(c, "string" if c in STRING_OUTPUTS else "double") for c in OUTPUT_COLUMNS]
    fields += [field for task in tasks for field in reason_columns(task, explain)]
    return ", ".join(f"`{name}` {kind}" for name, kind in fields)


def score_on_spark(snapshot: DataFrame, models: Mapping[str, xgb.Booster], as_of: date, explain: int = 3) -> DataFrame:
    """Every row of ``snapshot`` scored by ``models``, with the top ``explain`` reasons per model.

    ``snapshot`` holds what a stored snapshot holds (``features.store.write_snapshot``): member id,
    features, category shares and the profile, e.g. ``spark.read.parquet(path)``. Lazy: nothing
    runs until the result is written or collected.
    """
    if explain < 0:
        raise ValueError(f"explain must be 0 or more reasons per score, not {explain}")
    raw_models = {task: bytes(booster.save_raw("ubj")) for task, booster in models.items()}
    payload = snapshot.sparkSession.sparkContext.broadcast(raw_models)

    def score_partition(batches: Iterable[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        boosters = {task: _booster(raw) for task, raw in payload.value.items()}
        for batch in batches:
            yield from score_batch(boosters, batch, as_of, explain)

    return _with_zero_shares(snapshot).mapInPandas(score_partition, schema=output_schema(list(models), explain))


def write_scores(session: SparkSession, snapshot_path: str, models: Mapping[str, xgb.Booster], as_of: date,
                 out_path: str, explain: int = 3, partitions: int | None = None) -> None:
    """Score a stored snapshot (Parquet, as ``memberscore snapshot`` writes it) and write Parquet part files.

    Paths are as the cluster sees them (a shared file system or an object store); ``as_of`` is the
    snapshot's date (its file name, ``snapshot-<as_of>.parquet``). ``partitions`` spreads the rows
    over that many tasks: one snapshot file of one row group is otherwise read by a single task.
    """
    rows = session.read.parquet(snapshot_path)
    if partitions is not None:
        rows = rows.repartition(partitions)
    score_on_spark(rows, models, as_of, explain).write.mode("overwrite").parquet(out_path)


def score_batch(models: Mapping[str, xgb.Booster], batch: pd.DataFrame, as_of: date,
                explain: int) -> Iterator[pd.DataFrame]:
    """One Arrow batch of a partition, scored and explained chunk by chunk as ``memberscore score`` does."""
    batch = batch.reset_index(drop=True)
    profile = batch[[contract.MEMBER_ID, *[c for c in PROFILE_COLUMNS if c in batch.columns]]]
    for chunk in score_with_reasons_chunked(models, batch, profile, as_of, explain, CHUNK_ROWS):
        yield chunk.reset_index(drop=True)


def _with_zero_shares(snapshot: DataFrame) -> DataFrame:
    """A member without spend in a category has share 0, as in ``Snapshot.model_inputs`` (stored as null)."""
    shares = [c for c in snapshot.columns if c.startswith(SHARE_PREFIX)]
    return snapshot.fillna(0.0, subset=shares) if shares else snapshot


def _booster(raw: bytes) -> xgb.Booster:
    booster = xgb.Booster()
    booster.load_model(bytearray(raw))
    return booster
