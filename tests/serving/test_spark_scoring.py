"""serving.spark_scoring: every member of a stored snapshot scored on Spark equals serving.scoring.

The boosters are real ones of every scored task (churn, next purchase AFT, multi-output upsell with
categories, value), fitted by the tasks themselves on simulated data with few rounds. The snapshot
is written by the snapshot store and read by Spark from Parquet, split over several partitions.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
import xgboost as xgb

from features import contract
from features.snapshot import Snapshot, build_snapshot
from features.store import read_snapshot, write_snapshot
from serving.batch import score_with_reasons
from serving.scoring import OUTPUT_COLUMNS, score_frame
from serving.spark_scoring import STRING_OUTPUTS, output_schema, write_scores
from training.config import TrainConfig
from training.pipeline import prepare_data
from training.tasks import all_tasks

SCORED_TASKS = ("churn", "next_purchase", "upsell", "value")
CONFIG = TrainConfig(horizon_days=60, n_train_cutoffs=1, num_boost_round=8, early_stopping_rounds=0)
AS_OF = date(2024, 5, 1)
EXPLAIN = 2
BLANK_SHARES = 20


def test_output_schema_has_each_models_reasons_only_when_explaining() -> None:
    with_reasons = output_schema(["churn", "upsell"], explain=2)
    assert "`churn_reason_2` string, `churn_reason_2_contribution` double, `upsell_reason_1` string" in with_reasons
    assert "reason" not in output_schema(["churn", "upsell"], explain=0)
    assert with_reasons.startswith("`member_id` string, `churn_probability` double")


@pytest.fixture(scope="module")
def models(synthetic: tuple[pd.DataFrame, pd.DataFrame]) -> dict[str, xgb.Booster]:
    data = prepare_data(synthetic[0], CONFIG)
    return {task.name: task.fit(data, CONFIG) for task in all_tasks() if task.name in SCORED_TASKS}


@pytest.fixture(scope="module")
def stored(synthetic: tuple[pd.DataFrame, pd.DataFrame],
           tmp_path_factory: pytest.TempPathFactory) -> tuple[Snapshot, Path]:
    """A snapshot as the store writes it, and as the service reads it back.

    The first 20 members get no category shares, as members without category spend have: the
    store writes their shares as null, and scoring must read them as 0.
    """
    snapshot = build_snapshot(synthetic[0], AS_OF)
    snapshot = replace(snapshot, shares=snapshot.shares.iloc[BLANK_SHARES:])
    path = write_snapshot(snapshot, tmp_path_factory.mktemp("snapshots"))
    return read_snapshot(path), path


@pytest.fixture(scope="module")
def scored_on_spark(spark: object, models: dict[str, xgb.Booster], stored: tuple[Snapshot, Path],
                    tmp_path_factory: pytest.TempPathFactory) -> pd.DataFrame:
    """The snapshot file scored by Spark in three partitions, written as Parquet part files and read back."""
    snapshot, path = stored
    out = tmp_path_factory.mktemp("scores") / "scores.parquet"
    write_scores(spark, str(path), models, snapshot.as_of, str(out), explain=EXPLAIN, partitions=3)
    assert len(list(out.glob("part-*.parquet"))) > 1  # several partitions, each scored on its own
    return sorted_by_member(pd.read_parquet(out))


def comparable(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Text as nullable strings, numbers as float64: Spark and pandas spell the same values differently."""
    text = {c for c in columns if c in STRING_OUTPUTS or (c.rsplit("_", 1)[-1].isdigit() and "_reason_" in c)}
    return pd.DataFrame({c: frame[c].astype("string") if c in text else frame[c].astype("float64") for c in columns})


def sorted_by_member(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(contract.MEMBER_ID, kind="stable").reset_index(drop=True)


@pytest.mark.slow
def test_spark_scores_equal_score_frame_on_the_same_rows(scored_on_spark: pd.DataFrame, models: dict[str, xgb.Booster],
                                                         stored: tuple[Snapshot, Path]) -> None:
    snapshot, _ = stored
    expected = sorted_by_member(score_frame(models, snapshot.model_inputs(), snapshot.profile, snapshot.as_of))
    assert len(scored_on_spark) == len(snapshot.frame) > 0
    columns = list(OUTPUT_COLUMNS)
    pd.testing.assert_frame_equal(comparable(scored_on_spark, columns), comparable(expected, columns), check_exact=True)
    for column in ("churn_probability", "next_purchase_median_days", "upsell_probability", "expected_value"):
        assert scored_on_spark[column].notna().all(), column
    assert (scored_on_spark["upsell_categories"].str.len() > 0).any()
    assert scored_on_spark["tier"].notna().all()


@pytest.mark.slow
def test_spark_reasons_equal_the_batch_scorers_for_every_model(scored_on_spark: pd.DataFrame,
                                                               models: dict[str, xgb.Booster],
                                                               stored: tuple[Snapshot, Path]) -> None:
    """Same columns in the same order as ``memberscore score``'s batch file, same words, same SHAP values."""
    snapshot, _ = stored
    expected = sorted_by_member(score_with_reasons(models, snapshot.model_inputs(), snapshot.profile, snapshot.as_of,
                                                   explain=EXPLAIN))
    assert list(scored_on_spark.columns) == list(expected.columns)
    reasons = [c for c in expected.columns if "_reason_" in c]
    assert len(reasons) == 2 * EXPLAIN * len(SCORED_TASKS)
    assert scored_on_spark[reasons].notna().all().all()
    pd.testing.assert_frame_equal(comparable(scored_on_spark, reasons), comparable(expected, reasons), check_exact=True)
