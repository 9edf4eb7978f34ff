"""training.spark_examples: the examples built on Spark executors are the driver's ``build_examples``.

Two implementations agree on the simulated members (orders, returns, categories) at two
cut-offs: the same rows and columns; counts, labels and dates exactly; features and shares to
1e-9 relative (sums added in another order); the BG/NBD + Gamma-Gamma features to 1e-3 relative
(the fit from aggregates stops elsewhere on the likelihood's flat ridge: tests/features/test_spark_lifetime.py).
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features import contract
from features.lifetime import LIFETIME_FEATURES
from training.examples import CUTOFF_COLUMN, build_examples

CUTOFFS = (date(2023, 11, 1), date(2024, 1, 1))
HORIZON_DAYS = 60


@pytest.fixture(scope="module")
def lines_parquet(synthetic: tuple[pd.DataFrame, pd.DataFrame], tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("spark_examples") / "lines.parquet"
    synthetic[0].to_parquet(path, index=False)
    return path


@pytest.mark.slow
def test_examples_built_on_spark_are_the_drivers(spark: object, synthetic: tuple[pd.DataFrame, pd.DataFrame],
                                                lines_parquet: Path) -> None:
    from features.engine import read_parquet
    from features.spark import spark_backend
    from training.spark_examples import examples_on_spark

    backend = spark_backend(spark)  # type: ignore[arg-type]
    got = examples_on_spark(backend, read_parquet(lines_parquet, backend), CUTOFFS, HORIZON_DAYS).toPandas()
    want = build_examples(synthetic[0], CUTOFFS, HORIZON_DAYS)
    assert sorted(got.columns) == sorted(want.columns)
    keys = [CUTOFF_COLUMN, contract.MEMBER_ID]
    got = got.sort_values(keys).reset_index(drop=True)[list(want.columns)]
    want = want.sort_values(keys).reset_index(drop=True)
    assert got[contract.MEMBER_ID].astype(str).tolist() == want[contract.MEMBER_ID].astype(str).tolist()
    assert (pd.to_datetime(got[CUTOFF_COLUMN]) == want[CUTOFF_COLUMN]).all()
    for column in want.columns.drop(keys):
        tolerance = 1e-3 if column in LIFETIME_FEATURES else 1e-9
        np.testing.assert_allclose(got[column].to_numpy(float), want[column].to_numpy(float), rtol=tolerance,
                                   atol=1e-12, err_msg=column)
