"""serving.batch: chunked batch scoring with reasons equals scoring everything at once.

The boosters are ``tiny_models`` (tests/serving/conftest.py): a few rounds each on the synthetic
snapshot, upsell multi-output; the tests are about chunking and reason columns, not model quality.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb

from features.snapshot import Snapshot
from serving.batch import score_with_reasons, score_with_reasons_chunked
from serving.reasons import top_reasons
from serving.scoring import score_frame, shap_contributions
from tests.serving.conftest import TINY_AS_OF

AS_OF = TINY_AS_OF


def test_chunks_concatenate_to_the_unchunked_result(tiny_models: dict[str, xgb.Booster], tiny_snapshot: Snapshot) -> None:
    """Chunks of 300 rows (not a divisor of the member count) give exactly the one-chunk output."""
    inputs = tiny_snapshot.model_inputs()
    whole = score_with_reasons(tiny_models, inputs, tiny_snapshot.profile, AS_OF, explain=3, chunk_rows=len(inputs))
    chunked = score_with_reasons(tiny_models, inputs, tiny_snapshot.profile, AS_OF, explain=3, chunk_rows=300)
    assert len(inputs) % 300 != 0
    pd.testing.assert_frame_equal(chunked, whole)


def test_scores_match_score_frame_and_reasons_match_top_reasons(tiny_models: dict[str, xgb.Booster],
                                                                 tiny_snapshot: Snapshot) -> None:
    """The score columns are score_frame's; reason k of a task is top_reasons' k-th, text and SHAP value."""
    inputs = tiny_snapshot.model_inputs()
    batch = score_with_reasons(tiny_models, inputs, tiny_snapshot.profile, AS_OF, explain=2, chunk_rows=300)
    expected = score_frame(tiny_models, inputs, tiny_snapshot.profile, AS_OF)
    pd.testing.assert_frame_equal(batch[list(expected.columns)], expected)
    contributions, frame = shap_contributions(tiny_models["value"], inputs)
    reasons = top_reasons(contributions, frame, 2)
    assert list(batch["value_reason_2"]) == [row[1].text for row in reasons]
    np.testing.assert_allclose(batch["value_reason_1_contribution"], [row[0].contribution for row in reasons])
    assert batch["churn_reason_1"].str.len().gt(0).all()


def test_explain_zero_gives_scores_only(tiny_models: dict[str, xgb.Booster], tiny_snapshot: Snapshot) -> None:
    inputs = tiny_snapshot.model_inputs()
    batch = score_with_reasons(tiny_models, inputs, tiny_snapshot.profile, AS_OF, explain=0)
    assert not [c for c in batch.columns if "_reason_" in c]
    assert len(batch) == len(inputs)


def test_chunks_are_streamed_in_input_order(tiny_models: dict[str, xgb.Booster], tiny_snapshot: Snapshot) -> None:
    """A generator: one chunk at a time, each no larger than asked, members in input order."""
    inputs = tiny_snapshot.model_inputs()
    chunks = score_with_reasons_chunked(tiny_models, inputs, tiny_snapshot.profile, AS_OF, explain=1, chunk_rows=250)
    first = next(chunks)
    assert len(first) == 250
    rest = list(chunks)
    assert [len(c) for c in rest][-1] == len(inputs) - 250 * len(rest)
    ids = pd.concat([first, *rest])["member_id"].astype(str).tolist()
    assert ids == inputs["member_id"].astype(str).tolist()


@pytest.mark.parametrize(("kwargs", "needle"), [({"chunk_rows": 0}, "chunk_rows must be >= 1"),
                                                 ({"explain": -1}, "explain must be >= 0")])
def test_bad_arguments_are_named(tiny_models: dict[str, xgb.Booster], tiny_snapshot: Snapshot, kwargs: dict[str, int],
                                 needle: str) -> None:
    with pytest.raises(ValueError, match=needle):
        next(score_with_reasons_chunked(tiny_models, tiny_snapshot.model_inputs(), tiny_snapshot.profile, AS_OF, **kwargs))
