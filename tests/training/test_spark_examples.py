"""training.spark_examples: the examples built on Spark executors are the driver's ``build_examples``.

Two implementations agree on the simulated members (orders, returns, categories) at two
cut-offs: the same rows and columns; counts, labels and dates exactly; features and shares to
1e-9 relative (sums added in another order); the BG/NBD + Gamma-Gamma features to 1e-3 relative
(the fit from aggregates stops elsewhere on the likelihood's flat ridge: tests/features/test_spark_lifetime.py).
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from features import contract
from features.lifetime import LIFETIME_FEATURES
from training.examples import CUTOFF_COLUMN, build_examples

CUTOFFS = (date(2023, 11, 1), date(2024, 1, 1))
HORIZON_DAYS = 60


@pytest.mark.slow
def test_examples_built_on_spark_are_the_drivers(spark: object, synthetic: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    """The route ``memberscore train`` takes with the Spark engine: the driver's transactions shipped once."""
    from training.spark_examples import train_examples_on_spark

    got = train_examples_on_spark(spark, synthetic[0], CUTOFFS, HORIZON_DAYS)  # type: ignore[arg-type]
    want = build_examples(synthetic[0], CUTOFFS, HORIZON_DAYS)
    assert list(got.columns) == list(want.columns)  # the booster's feature order too
    assert got.dtypes.to_dict() == want.dtypes.to_dict()
    keys = [CUTOFF_COLUMN, contract.MEMBER_ID]
    got, want = (f.sort_values(keys).reset_index(drop=True) for f in (got, want))
    pd.testing.assert_frame_equal(got[keys], want[keys])
    assert any(c.startswith("share_") for c in want.columns) and len(want) > 1000
    for column in want.columns.drop(keys):
        tolerance = 1e-3 if column in LIFETIME_FEATURES else 1e-9
        np.testing.assert_allclose(got[column].to_numpy(float), want[column].to_numpy(float), rtol=tolerance,
                                   atol=1e-12, err_msg=column)
