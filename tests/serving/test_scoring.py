"""serving.scoring: batch scoring of snapshot members, in request order, with reasons.

DESIGN.md: unknown ids come back as such, not as errors; one predict call serves a whole batch, so
vectorisation must not change any member's result.
"""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb

from features import contract
from features.project import DEFAULT_PROJECT
from features.store import latest_snapshot_path, read_snapshot
from serving.scoring import OUTPUT_COLUMNS, feature_matrix, index_by_member, score_frame, score_members


@pytest.fixture
def served(use_trained: object) -> tuple[xgb.Booster, pd.DataFrame]:
    """The served churn booster and the newest snapshot frame (member_id + features)."""
    from serving.artefacts import load_model

    snapshot = read_snapshot(latest_snapshot_path(Path(os.environ["MEMBERSCORE_SNAPSHOT_DIR"]) / DEFAULT_PROJECT))
    return load_model("churn", project=DEFAULT_PROJECT).booster, snapshot.model_inputs()


AS_OF = date(2024, 6, 1)


def churn_only(booster: xgb.Booster, frame: pd.DataFrame) -> pd.DataFrame:
    """score_frame with the churn booster alone and no profile."""
    return score_frame({"churn": booster}, frame, frame[[contract.MEMBER_ID]], AS_OF)


def score(booster: xgb.Booster, by_id: pd.DataFrame, ids: list[str], explain: int) -> list:
    """score_members with the churn booster alone: scores from score_frame, reasons from the inputs."""
    frame = by_id.reset_index(names=contract.MEMBER_ID)
    return score_members({"churn": booster}, index_by_member(churn_only(booster, frame)), by_id, ids, explain)


def reference_probabilities(booster: xgb.Booster, frame: pd.DataFrame, ids: list[str]) -> np.ndarray:
    """booster.predict on the same snapshot rows, built independently of serving.scoring, with the
    booster's stored calibration (attribute ``calibration``: a log-odds slope about a pivot) applied by hand."""
    rows = frame.set_index(frame[contract.MEMBER_ID].astype(str)).loc[ids, list(booster.feature_names)]
    matrix = xgb.DMatrix(rows.to_numpy(np.float32), feature_names=list(booster.feature_names))
    stored = json.loads(booster.attr("calibration") or '{"method": "none"}')
    if stored["method"] != "logit_scale":
        return booster.predict(matrix).astype(float)
    margin = booster.predict(matrix, output_margin=True).astype(float)
    return 1.0 / (1.0 + np.exp(-(stored["pivot"] + stored["parameter"] * (margin - stored["pivot"]))))


def test_results_follow_request_order_and_match_booster_predict(served: tuple[xgb.Booster, pd.DataFrame]) -> None:
    """One entry per id in request order; each probability is booster.predict on that member's row, calibrated."""
    booster, frame = served
    assert json.loads(booster.attr("calibration"))["method"] == "logit_scale"  # it came through MLflow and BentoML
    ids = list(frame[contract.MEMBER_ID].astype(str).sample(40, random_state=5))
    results = score(booster, index_by_member(frame), ids, explain=2)
    assert [r.member_id for r in results] == ids
    assert all(r.status == "scored" for r in results)
    np.testing.assert_allclose([r.churn_probability for r in results], reference_probabilities(booster, frame, ids),
                               rtol=0, atol=1e-7)
    assert all(0.0 <= r.churn_probability <= 1.0 for r in results)


def test_unknown_ids_are_listed_with_null_probability(served: tuple[xgb.Booster, pd.DataFrame]) -> None:
    """Ids absent from the snapshot come back in place, status 'unknown', no probability, no reasons."""
    booster, frame = served
    known = list(frame[contract.MEMBER_ID].astype(str).iloc[[3, 10]])
    ids = ["no-such-member", known[0], "", known[1], "M00003"]
    results = score(booster, index_by_member(frame), ids, explain=3)
    assert [r.member_id for r in results] == ids
    assert [r.status for r in results] == ["unknown", "scored", "unknown", "scored", "unknown"]
    for result in (results[0], results[2], results[4]):
        assert result.churn_probability is None and result.reasons == []
    for result in (results[1], results[3]):
        assert result.churn_probability is not None and len(result.reasons) == 3


def test_only_unknown_ids_score_without_error(served: tuple[xgb.Booster, pd.DataFrame]) -> None:
    """A batch with no known member is answered (all 'unknown'), not an error from an empty matrix."""
    booster, frame = served
    results = score(booster, index_by_member(frame), ["x", "y"], explain=3)
    assert [(r.member_id, r.status, r.churn_probability) for r in results] == [("x", "unknown", None), ("y", "unknown", None)]


def test_duplicate_ids_each_get_an_identical_entry(served: tuple[xgb.Booster, pd.DataFrame]) -> None:
    """A repeated id is answered every time it is asked, with the same scores and reasons."""
    booster, frame = served
    a, b = frame[contract.MEMBER_ID].astype(str).iloc[[1, 2]]
    ids = [a, b, a, "ghost", a, "ghost"]
    results = score(booster, index_by_member(frame), ids, explain=3)
    assert [r.member_id for r in results] == ids
    assert results[0] == results[2] == results[4]
    assert results[3] == results[5] and results[3].status == "unknown"
    assert results[0].churn_probability != results[1].churn_probability


def test_explain_zero_gives_no_reasons(served: tuple[xgb.Booster, pd.DataFrame]) -> None:
    """explain=0 scores the members but attaches no reasons."""
    booster, frame = served
    ids = list(frame[contract.MEMBER_ID].astype(str).head(10))
    results = score(booster, index_by_member(frame), ids, explain=0)
    assert all(r.status == "scored" and r.churn_probability is not None and r.reasons == [] for r in results)


@pytest.mark.parametrize("k", [1, 2, 4])
def test_explain_k_gives_k_reasons_naming_their_own_shap_column(served: tuple[xgb.Booster, pd.DataFrame], k: int) -> None:
    """explain=k gives exactly k reasons, each with the pred_contribs value of the feature it names."""
    booster, frame = served
    names = list(booster.feature_names)
    ids = list(frame[contract.MEMBER_ID].astype(str).iloc[::97])
    results = score(booster, index_by_member(frame), ids, explain=k)
    rows = frame.set_index(frame[contract.MEMBER_ID].astype(str)).loc[ids, names]
    contributions = booster.predict(xgb.DMatrix(rows.to_numpy(np.float32), feature_names=names), pred_contribs=True)
    for i, result in enumerate(results):
        assert len(result.reasons) == k
        for reason in result.reasons:
            assert reason.contribution == pytest.approx(float(contributions[i, names.index(reason.feature)]), abs=1e-7)


def test_batch_of_500_gives_the_same_result_as_one_by_one(served: tuple[xgb.Booster, pd.DataFrame]) -> None:
    """Scoring an id alone or inside a 500-id batch gives the same probability and the same reasons."""
    booster, frame = served
    by_id = index_by_member(frame)
    ids = list(frame[contract.MEMBER_ID].astype(str).head(500))
    assert len(ids) == 500
    batch = score(booster, by_id, ids, explain=3)
    for position in (0, 1, 137, 250, 499):
        (alone,) = score(booster, by_id, [ids[position]], explain=3)
        assert alone.churn_probability == pytest.approx(batch[position].churn_probability, abs=1e-7)
        assert [(r.feature, r.text, r.direction) for r in alone.reasons] == \
               [(r.feature, r.text, r.direction) for r in batch[position].reasons]
        for mine, theirs in zip(alone.reasons, batch[position].reasons):
            assert mine.contribution == pytest.approx(theirs.contribution, abs=1e-6)


def test_feature_column_order_does_not_matter(served: tuple[xgb.Booster, pd.DataFrame]) -> None:
    """Snapshot columns are matched to the booster by name, so shuffling them changes nothing."""
    booster, frame = served
    shuffled = frame[[contract.MEMBER_ID, *reversed([c for c in frame.columns if c != contract.MEMBER_ID])]]
    np.testing.assert_array_equal(churn_only(booster, shuffled)["churn_probability"],
                                  churn_only(booster, frame)["churn_probability"])


def test_feature_matrix_names_a_missing_feature(served: tuple[xgb.Booster, pd.DataFrame]) -> None:
    """A snapshot lacking a model feature is a ValueError naming it, never silently zero-filled."""
    booster, frame = served
    with pytest.raises(ValueError, match="gap_ratio"):
        feature_matrix(booster, frame.drop(columns="gap_ratio"))


def test_score_frame_has_one_row_per_snapshot_member(served: tuple[xgb.Booster, pd.DataFrame]) -> None:
    """score_frame: member_id, churn_probability for every snapshot member, equal to booster.predict."""
    booster, frame = served
    scores = churn_only(booster, frame)
    assert list(scores.columns) == list(OUTPUT_COLUMNS)
    assert scores["expected_value"].isna().all() and (scores["upsell_categories"] == "[]").all()  # no such models (issue 15: "[]", was "")
    assert len(scores) == len(frame) == frame[contract.MEMBER_ID].nunique()
    assert list(scores[contract.MEMBER_ID].astype(str)) == list(frame[contract.MEMBER_ID].astype(str))
    assert scores["churn_probability"].between(0, 1).all()
    np.testing.assert_allclose(scores["churn_probability"],
                               reference_probabilities(booster, frame, list(frame[contract.MEMBER_ID].astype(str))),
                               rtol=0, atol=1e-7)


def test_without_a_champion_the_bgnbd_baseline_serves_next_purchase_and_value(
        use_trained: object, synthetic: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    """A baseline is a valid champion: with churn alone, P(purchase within 7/30/90 days), the median
    days and the H-day value (H = 60 here, the snapshot's: issue 14, not a fixed 90) are BG/NBD
    (+ Gamma-Gamma) fitted as of the snapshot date; no median where P(alive) <= 1/2."""
    from features.lifetime import fit_lifetime, median_days_to_purchase
    from serving.artefacts import load_model

    snapshot = read_snapshot(latest_snapshot_path(Path(os.environ["MEMBERSCORE_SNAPSHOT_DIR"]) / DEFAULT_PROJECT))
    scores = score_frame({"churn": load_model("churn", project=DEFAULT_PROJECT).booster}, snapshot.model_inputs(), snapshot.profile,
                         snapshot.as_of).set_index(contract.MEMBER_ID)
    lifetime = fit_lifetime(synthetic[0], snapshot.as_of)
    ids = lifetime.summary.index.astype(str)
    for days in (7, 30, 90):
        np.testing.assert_allclose(scores.loc[ids, f"p_purchase_{days}d"], lifetime.p_purchase_within(float(days)),
                                   rtol=1e-9)
    np.testing.assert_allclose(scores.loc[ids, "expected_value"], lifetime.expected_spend(60.0), rtol=1e-9)
    np.testing.assert_allclose(scores.loc[ids, "next_purchase_median_days"], median_days_to_purchase(lifetime), rtol=1e-9)
    assert scores["next_purchase_median_days"].notna().any() and scores["next_purchase_date"].notna().any()
    assert (scores["p_purchase_7d"] <= scores["p_purchase_30d"]).all()


def test_a_served_model_replaces_its_baseline(served: tuple[xgb.Booster, pd.DataFrame]) -> None:
    """With a value model serving, expected_value is its prediction, not the profile's baseline."""
    booster, frame = served
    value = xgb.train({"objective": "reg:tweedie", "max_depth": 2, "nthread": 1},
                      xgb.DMatrix(frame[list(booster.feature_names)].to_numpy(np.float32),
                                  label=frame["spend_total"].clip(lower=0).to_numpy(),
                                  feature_names=list(booster.feature_names)), 5)
    profile = frame[[contract.MEMBER_ID]].assign(baseline_expected_value=-1.0)
    with_value = score_frame({"churn": booster, "value": value}, frame, profile, AS_OF)
    without = score_frame({"churn": booster}, frame, profile, AS_OF)
    assert (without["expected_value"] == -1.0).all()
    np.testing.assert_allclose(with_value["expected_value"], value.predict(feature_matrix(value, frame)), rtol=1e-6)
