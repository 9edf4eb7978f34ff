"""One feature definition, two engines: DuckDB and Spark agree on the snapshot features and labels.

Both engines scan the same Parquet file of clean transactions (``features.engine.read_parquet``)
and run the same Ibis expressions. Real data: 500 members of the CDNOW sample the repo ships
(day-precision dates, no categories); simulated data adds orders, returns and categories with
minute-precision times. Counts and day differences must be equal; sums and means to 1e-9 relative.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from ibis.backends import BaseBackend

from features import contract
from features.engine import default_backend, execute, read_parquet
from features.labels import build_labels
from features.load import load_transactions
from features.snapshot import snapshot_expression

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
CDNOW = REPO / "data" / "cdnow" / "cdnow_master.parquet"
CDNOW_MAPPING = REPO / "mappings" / "cdnow.yaml"
SAMPLE_MEMBERS = 500
HORIZON_DAYS = 90
DAY_COLUMNS = ("recency_days", "tenure_days", "gap_last_days", "days_to_next")  # differences of timestamps
SUM_RTOL = 1e-9


@pytest.fixture(scope="module")
def engines(spark: object) -> dict[str, BaseBackend]:
    """In-process DuckDB and the module's local Spark (two cores)."""
    from features.spark import spark_backend

    return {"duckdb": default_backend(), "spark": spark_backend(spark)}


@pytest.fixture(scope="module")
def cdnow_sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """500 randomly drawn CDNOW members, cleaned onto the contract, as Parquet."""
    folder = tmp_path_factory.mktemp("cdnow")
    transactions, _ = load_transactions(CDNOW, CDNOW_MAPPING, rejects_path=folder / "rejects.csv")
    members = transactions[contract.MEMBER_ID].drop_duplicates().sample(SAMPLE_MEMBERS, random_state=11)
    path = folder / "cdnow_sample.parquet"
    transactions[transactions[contract.MEMBER_ID].isin(members)].to_parquet(path, index=False)
    return path


@pytest.fixture(scope="module")
def synthetic_parquet(synthetic: tuple[pd.DataFrame, pd.DataFrame], tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("synthetic") / "transactions.parquet"
    synthetic[0].to_parquet(path, index=False)
    return path


def features_on(backend: BaseBackend, path: Path, as_of: date) -> pd.DataFrame:
    """The snapshot expression's features, computed by ``backend`` straight from the Parquet file."""
    frame = execute(snapshot_expression(read_parquet(path, backend), as_of), backend)
    return frame.sort_values(contract.MEMBER_ID, kind="stable").reset_index(drop=True)


def labels_on(backend: BaseBackend, path: Path, as_of: date) -> pd.DataFrame:
    return build_labels(read_parquet(path, backend), as_of, HORIZON_DAYS, backend)


def members_with_a_purchase(transactions: pd.DataFrame, as_of: date) -> int:
    """Members whose net spend on some day before ``as_of`` is positive (no order ids: a purchase is a member-day)."""
    history = transactions[transactions[contract.TS] < pd.Timestamp(as_of)]
    net = history.groupby([history[contract.MEMBER_ID], history[contract.TS].dt.normalize()])[contract.AMOUNT].sum()
    return int(net[net > 0].index.get_level_values(0).nunique())


def assert_engines_agree(duckdb: pd.DataFrame, spark: pd.DataFrame) -> None:
    """Same members and columns; integer counts and day differences equal; other numbers to 1e-9 relative."""
    assert list(spark.columns) == list(duckdb.columns)
    assert spark[contract.MEMBER_ID].astype(str).tolist() == duckdb[contract.MEMBER_ID].astype(str).tolist()
    for column in duckdb.columns.drop(contract.MEMBER_ID):
        left, right = duckdb[column].to_numpy(float), spark[column].to_numpy(float)
        if pd.api.types.is_integer_dtype(duckdb[column]) or column in DAY_COLUMNS:
            assert pd.api.types.is_integer_dtype(spark[column]) == pd.api.types.is_integer_dtype(duckdb[column]), column
            np.testing.assert_array_equal(right, left, err_msg=column)
        else:
            np.testing.assert_allclose(right, left, rtol=SUM_RTOL, atol=0, err_msg=column)


def test_engines_agree_on_cdnow_features_and_labels(engines: dict[str, BaseBackend], cdnow_sample: Path) -> None:
    """Real data: one row per sampled member with a purchase (a member-day of positive net) before the cut-off."""
    as_of = date(1997, 10, 1)
    duckdb, spark = (features_on(engines[name], cdnow_sample, as_of) for name in ("duckdb", "spark"))
    assert len(duckdb) == members_with_a_purchase(pd.read_parquet(cdnow_sample), as_of)
    assert_engines_agree(duckdb, spark)
    labels = {name: labels_on(backend, cdnow_sample, as_of) for name, backend in engines.items()}
    assert set(labels["duckdb"]["churned"]) == {0, 1}
    assert_engines_agree(labels["duckdb"], labels["spark"])


def test_engines_agree_on_simulated_orders_returns_and_categories(engines: dict[str, BaseBackend],
                                                                  synthetic_parquet: Path) -> None:
    """Simulated data covers what CDNOW lacks: order ids, returns, categories, sub-day times."""
    as_of = date(2024, 1, 1)
    duckdb, spark = (features_on(engines[name], synthetic_parquet, as_of) for name in ("duckdb", "spark"))
    assert {"categories_distinct", "category_entropy", "top_category_share"} <= set(duckdb.columns)
    assert (duckdb["returns_share"] > 0).any() and (duckdb["categories_distinct"] > 1).any()
    assert_engines_agree(duckdb, spark)
    labels = {name: labels_on(backend, synthetic_parquet, as_of) for name, backend in engines.items()}
    assert labels["duckdb"]["days_to_next"].notna().any()
    assert_engines_agree(labels["duckdb"], labels["spark"])
