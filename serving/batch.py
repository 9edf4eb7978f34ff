"""Batch scoring with reasons, in chunks: every member of a snapshot, every model, top-k reasons each.

Exact TreeSHAP costs about a thousand predictions per row and its matrix is (rows x features) per
model, so a whole snapshot's SHAP matrices at once would not fit in memory at scale. Scoring is
streamed: each chunk is scored (``scoring.score_frame``) and explained (``scoring.shap_contributions``
+ ``reasons.top_reasons``) and handed on before the next chunk is touched.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import date

import numpy as np
import pandas as pd
import xgboost as xgb

from features import contract
from features.catalogue import ENGLISH
from features.formats import Voice
from serving.reasons import feature_values, reason_texts, top_positions
from serving.scoring import score_frame, shap_contributions

DEFAULT_CHUNK_ROWS = 20_000


def score_with_reasons_chunked(models: Mapping[str, xgb.Booster], inputs: pd.DataFrame, profile: pd.DataFrame,
                               as_of: date, explain: int = 3,
                               chunk_rows: int = DEFAULT_CHUNK_ROWS, voice: Voice = ENGLISH) -> Iterator[pd.DataFrame]:
    """``score_frame`` of each chunk of ``inputs`` plus ``<task>_reason_<i>`` (words) and
    ``<task>_reason_<i>_contribution`` (SHAP, in the model's margin) for i = 1..explain.

    ``inputs`` are a snapshot's model inputs (``Snapshot.model_inputs()``), ``profile`` its profile;
    chunks come in input order, so concatenating them gives the unchunked result. Reasons are told
    in ``voice`` (language and currency).
    """
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be >= 1, not {chunk_rows}")
    if explain < 0:
        raise ValueError(f"explain must be >= 0, not {explain}")
    profile_by_id = profile.set_index(contract.MEMBER_ID)
    for start in range(0, len(inputs), chunk_rows):
        chunk = inputs.iloc[start:start + chunk_rows]
        chunk_profile = profile_by_id.reindex(chunk[contract.MEMBER_ID]).reset_index()
        scored = score_frame(models, chunk, chunk_profile, as_of)
        yield pd.concat([scored.set_index(chunk.index), *(_reason_columns(task, booster, chunk, explain, voice)
                                                          for task, booster in models.items())], axis=1)


def _reason_columns(task: str, booster: xgb.Booster, rows: pd.DataFrame, explain: int,
                    voice: Voice = ENGLISH) -> pd.DataFrame:
    """The top-``explain`` reasons of one model for ``rows``, as flat columns (empty when explain is 0).

    The same reasons as ``reasons.top_reasons`` (same order, words and SHAP values), built as
    columns rather than one object per reason: a million members make millions of reasons.
    """
    if explain == 0:
        return pd.DataFrame(index=rows.index)
    contributions, frame = shap_contributions(booster, rows)
    names = list(frame.columns)
    order = top_positions(contributions, len(names), explain)
    texts = reason_texts(feature_values(frame), names, order, voice)
    picked = np.take_along_axis(contributions, order, axis=1).astype("float64")
    columns: dict[str, object] = {}
    for i in range(order.shape[1]):
        columns[f"{task}_reason_{i + 1}"] = texts[:, i]
        columns[f"{task}_reason_{i + 1}_contribution"] = picked[:, i]
    for i in range(len(names), explain):  # fewer features than reasons asked for
        columns[f"{task}_reason_{i + 1}"] = [None] * len(frame)
        columns[f"{task}_reason_{i + 1}_contribution"] = np.full(len(frame), np.nan)
    return pd.DataFrame(columns, index=rows.index)


def score_with_reasons(models: Mapping[str, xgb.Booster], inputs: pd.DataFrame, profile: pd.DataFrame,
                       as_of: date, explain: int = 3, chunk_rows: int = DEFAULT_CHUNK_ROWS,
                       voice: Voice = ENGLISH) -> pd.DataFrame:
    """All chunks of ``score_with_reasons_chunked`` in one frame (for outputs that fit in memory)."""
    chunks = list(score_with_reasons_chunked(models, inputs, profile, as_of, explain, chunk_rows, voice))
    return pd.concat(chunks).reset_index(drop=True) if chunks else pd.DataFrame()
