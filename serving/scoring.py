"""Scoring, pure: (booster, snapshot frame, ids) -> scores with reasons, one XGBoost call per batch."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import xgboost as xgb

from features import contract
from serving.reasons import top_reasons
from serving.schemas import MemberScore, Reason


def feature_matrix(booster: xgb.Booster, features: pd.DataFrame) -> xgb.DMatrix:
    """Rows in the booster's own feature order; a missing feature column is an error, not a zero."""
    names = list(booster.feature_names or [])
    missing = [name for name in names if name not in features.columns]
    if missing:
        raise ValueError(f"features missing for the model: {missing}")
    return xgb.DMatrix(features[names].to_numpy(dtype=np.float32), feature_names=names)


def churn_probabilities(booster: xgb.Booster, features: pd.DataFrame) -> np.ndarray:
    return booster.predict(feature_matrix(booster, features)).astype(float)


def score_frame(booster: xgb.Booster, snapshot: pd.DataFrame) -> pd.DataFrame:
    """Every member of a snapshot: ``member_id, churn_probability`` (the batch file of the CLI)."""
    return pd.DataFrame({
        contract.MEMBER_ID: snapshot[contract.MEMBER_ID].to_numpy(),
        "churn_probability": churn_probabilities(booster, snapshot),
    })


def index_by_member(snapshot: pd.DataFrame) -> pd.DataFrame:
    """The snapshot indexed by member id, built once at load so each request is a hash lookup."""
    return snapshot.set_index(snapshot[contract.MEMBER_ID].astype(str)).drop(columns=contract.MEMBER_ID)


def score_members(booster: xgb.Booster, features_by_id: pd.DataFrame, member_ids: Sequence[str], explain: int) -> list[MemberScore]:
    """Scores for the requested ids in request order; ids absent from the snapshot are 'unknown'.

    ``features_by_id`` comes from ``index_by_member``. One predict call (and one ``pred_contribs``
    call when explaining) serves the whole batch.
    """
    positions = features_by_id.index.get_indexer(list(member_ids))
    rows = features_by_id.iloc[positions[positions >= 0]]
    matrix = feature_matrix(booster, rows)
    probabilities = booster.predict(matrix).astype(float)
    reasons = _reasons(booster, matrix, rows, explain)
    scored = iter(zip(probabilities, reasons))
    results = []
    for member_id, position in zip(member_ids, positions):
        if position < 0:
            results.append(MemberScore(member_id=member_id, status="unknown"))
            continue
        probability, member_reasons = next(scored)
        results.append(MemberScore(member_id=member_id, status="scored", churn_probability=probability, reasons=member_reasons))
    return results


def _reasons(booster: xgb.Booster, matrix: xgb.DMatrix, rows: pd.DataFrame, explain: int) -> list[list[Reason]]:
    if explain <= 0 or len(rows) == 0:
        return [[] for _ in range(len(rows))]
    contributions = booster.predict(matrix, pred_contribs=True)
    return top_reasons(contributions, rows[list(booster.feature_names or [])], explain)
