"""serving.lookup and serving.first_output: /score as a lookup gives what explaining on request gives.

Two implementations of the same answer: ``MemberLookup.scores`` (top contributions precomputed for
every member, in chunks, or for the asked rows while the fill has not reached them) and
``scoring.score_members`` (SHAP for the requested rows now). Tiny
boosters on the synthetic snapshot (``tiny_models``), one of them multi-output like the upsell model.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb

from features.snapshot import Snapshot
from serving.first_output import first_output_booster, output_count
from serving.lookup import Fill, member_lookup
from serving.scoring import index_by_member, score_frame, score_members
from tests.serving.conftest import TINY_AS_OF


@pytest.fixture(scope="module")
def frames(tiny_models: dict[str, xgb.Booster], tiny_snapshot: Snapshot) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(scores by id, features by id) as the service holds them."""
    inputs = tiny_snapshot.model_inputs()
    return (index_by_member(score_frame(tiny_models, inputs, tiny_snapshot.profile, TINY_AS_OF)),
            index_by_member(inputs))


def test_first_output_booster_has_output_0s_margin_and_shap(tiny_models: dict[str, xgb.Booster],
                                                            tiny_snapshot: Snapshot) -> None:
    """Sliced booster == the full booster's output 0: margin and every TreeSHAP value, bit for bit."""
    full = tiny_models["upsell"]
    names = list(full.feature_names)
    matrix = xgb.DMatrix(tiny_snapshot.model_inputs()[names].to_numpy(np.float32), feature_names=names)
    sliced = first_output_booster(full)
    assert (output_count(full), output_count(sliced)) == (3, 1)
    np.testing.assert_array_equal(sliced.predict(matrix, output_margin=True), full.predict(matrix, output_margin=True)[:, 0])
    np.testing.assert_array_equal(sliced.predict(matrix, pred_contribs=True), full.predict(matrix, pred_contribs=True)[:, 0, :])
    assert sliced.feature_names == full.feature_names
    assert first_output_booster(full) is sliced, "built once per booster"
    assert first_output_booster(tiny_models["churn"]) is tiny_models["churn"], "a single-output booster is explained as is"


@pytest.mark.parametrize("fill", ["now", "on_request", "background"])
@pytest.mark.parametrize("explain", [0, 1, 3, 5])
def test_lookup_equals_explaining_on_request(tiny_models: dict[str, xgb.Booster], frames: tuple[pd.DataFrame, pd.DataFrame],
                                            explain: int, fill: Fill) -> None:
    """Every member, unknown and repeated ids among them: the same scores and reasons (text, value, SHAP),
    whether the reasons were computed before the request, by it, or by a fill running beside it."""
    scores_by_id, features_by_id = frames
    lookup = member_lookup(tiny_models, scores_by_id, features_by_id, k=5, chunk_rows=97, fill=fill)
    ids = [*scores_by_id.index[::-1], scores_by_id.index[0], "no-such-member", ""]  # one member asked twice
    assert len(scores_by_id) % 97 != 0, "the last chunk must be partial"
    looked_up = lookup.scores(ids, explain)
    computed = score_members(tiny_models, scores_by_id, features_by_id, ids, explain)
    assert looked_up == computed
    assert [r.status for r in looked_up[-2:]] == ["unknown", "unknown"]
    assert all(len(r.model_reasons["upsell"]) == explain for r in looked_up[:-2])


def test_a_request_computes_and_keeps_only_its_members_reasons(
        tiny_models: dict[str, xgb.Booster], frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    """Before the fill, a request with reasons computes its own members' (and keeps them); one without
    reasons computes none; the fill then completes the rest, and a stopped fill computes nothing more."""
    scores_by_id, features_by_id = frames
    lookup = member_lookup(tiny_models, scores_by_id, features_by_id, k=5, chunk_rows=97, fill="on_request")
    lookup.scores(list(scores_by_id.index[[3, 200]]), 0)
    assert not lookup.filled.any(), "explain 0 needs no reasons"
    first = lookup.scores(list(scores_by_id.index[[3, 200]]), 3)
    assert list(np.flatnonzero(lookup.filled)) == [3, 200]
    assert lookup.filled_share == pytest.approx(2 / len(scores_by_id))
    assert lookup.scores(list(scores_by_id.index[[3, 200]]), 3) == first, "kept, and read back the same"
    lookup.stop()
    lookup.fill_all(97)
    assert lookup.filled.sum() == 2, "a stopped fill computes nothing"
    lookup.stopped.clear()
    lookup.fill_all(97)
    assert lookup.filled.all() and lookup.filled_share == 1.0


def test_lookup_keeps_k_reasons_and_refuses_more(tiny_models: dict[str, xgb.Booster],
                                                 frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    """Memory is members x k per model; a request for more than k is an error (the service then computes)."""
    scores_by_id, features_by_id = frames
    lookup = member_lookup(tiny_models, scores_by_id, features_by_id, k=2)
    assert {task: top.positions.shape for task, top in lookup.top.items()} == {
        task: (len(scores_by_id), 2) for task in tiny_models}
    with pytest.raises(ValueError, match="explain: at most 2"):
        lookup.scores([scores_by_id.index[0]], 3)


def test_a_share_the_snapshot_lacks_reads_as_zero(tiny_models: dict[str, xgb.Booster],
                                                  frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    """A model category share absent from the snapshot is 0 in reasons, as ``model_frame`` makes it."""
    scores_by_id, features_by_id = frames
    shares = [c for c in features_by_id.columns if c.startswith("share_")]
    gains = {name: sum(b.get_score(importance_type="total_gain").get(name, 0.0) for b in tiny_models.values())
             for name in shares}
    dropped = max(gains, key=gains.get)
    assert gains[dropped] > 0, "some category share must matter to the models"
    without = features_by_id.drop(columns=[dropped])
    ids = list(scores_by_id.index)
    looked_up = member_lookup(tiny_models, scores_by_id, without, k=5).scores(ids, 5)
    assert looked_up == score_members(tiny_models, scores_by_id, without, ids, 5)
    told = [r for member in looked_up for rs in member.model_reasons.values() for r in rs if r.feature == dropped]
    assert told and all(r.value == 0.0 for r in told), "the absent share is among the reasons, valued 0"


def test_scores_and_features_must_line_up(tiny_models: dict[str, xgb.Booster],
                                          frames: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    scores_by_id, features_by_id = frames
    with pytest.raises(ValueError, match="same members in the same order"):
        member_lookup(tiny_models, scores_by_id, features_by_id.iloc[::-1])
    with pytest.raises(ValueError, match="member ids must be unique"):
        member_lookup(tiny_models, pd.concat([scores_by_id, scores_by_id.head(1)]),
                      pd.concat([features_by_id, features_by_id.head(1)]))
