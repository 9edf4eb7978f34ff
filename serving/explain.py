"""Scores and explanations computed on request: caller-supplied feature rows and full SHAP vectors.

``/score`` is a lookup into scores precomputed when the snapshot loads; these two paths run the
models now, so they are bounded (``MAX_FEATURE_ROWS``) and cost one XGBoost call per model.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

import numpy as np
import pandas as pd
import xgboost as xgb

from features import contract
from features.catalogue import BY_NAME, ENGLISH
from features.categories import SHARE_PREFIX
from features.formats import Voice
from features.segments import evidenced_p_alive
from serving.reasons import feature_values, reason_texts
from serving.schemas import FeatureRow, MemberScore, ModelExplanation
from serving.scoring import (
    OUTPUT_COLUMNS,
    feature_matrix,
    index_by_member,
    model_outputs,
    score_members,
    shap_contributions,
)

MARGIN_MEANING = {
    "churn": "log-odds of no purchase in the next H days, before calibration (the probability served is calibrated)",
    "next_purchase": "log of the AFT time to next purchase (days); probabilities use the calibrated sigma",
    "upsell": "log-odds of buying into a new category (or spend-up) in the next H days",
    "value": "log of expected spend in the next H days (Tweedie)",
}


def required_features(models: Mapping[str, xgb.Booster]) -> list[str]:
    """Every feature any served model reads, except category shares (absent share = no spend there)."""
    names = {n for booster in models.values() for n in booster.feature_names or []}
    return sorted(n for n in names if not n.startswith(SHARE_PREFIX))


def feature_rows_frame(rows: Sequence[FeatureRow], models: Mapping[str, xgb.Booster]) -> pd.DataFrame:
    """Validated rows as a frame with member ids: unknown or missing names are errors naming them."""
    required = set(required_features(models))
    for i, row in enumerate(rows):
        unknown = sorted(n for n in row.features if n not in BY_NAME and not n.startswith(SHARE_PREFIX))
        if unknown:
            raise ValueError(f"rows[{i}].features: unknown feature(s) {unknown[:5]}")
        missing = sorted(required - set(row.features))
        if missing:
            raise ValueError(f"rows[{i}].features: missing {missing[:5]} (send null for an unknown value)")
    frame = pd.DataFrame([{n: np.nan if v is None else v for n, v in row.features.items()} for row in rows],
                         dtype="float64")
    ids = [row.member_id if row.member_id is not None else f"row-{i}" for i, row in enumerate(rows)]
    frame.insert(0, contract.MEMBER_ID, pd.Series(ids, index=frame.index, dtype="string"))
    return frame


def score_feature_rows(models: Mapping[str, xgb.Booster], rows: Sequence[FeatureRow], as_of: date,
                       explain: int, voice: Voice = ENGLISH) -> list[MemberScore]:
    """The outputs of ``/score`` for rows given as features; segments and CLV need a snapshot, so stay null."""
    frame = feature_rows_frame(rows, models)
    outputs = model_outputs(models, frame, as_of)
    scored = pd.concat([frame[[contract.MEMBER_ID]], outputs], axis=1)
    scored["p_alive"] = evidenced_p_alive(frame)  # as /score: null for one-time buyers
    scored = scored.reindex(columns=list(OUTPUT_COLUMNS))
    positions = [str(i) for i in range(len(frame))]
    by_position = scored.assign(**{contract.MEMBER_ID: positions})
    features = frame.assign(**{contract.MEMBER_ID: positions})
    results = score_members(models, index_by_member(by_position), index_by_member(features), positions, explain, voice)
    return [result.model_copy(update={"member_id": member_id})
            for result, member_id in zip(results, frame[contract.MEMBER_ID])]


def explain_row(models: Mapping[str, xgb.Booster], row: pd.DataFrame,
                voice: Voice = ENGLISH) -> dict[str, ModelExplanation]:
    """Every model's full TreeSHAP vector for one row (a one-row frame of model inputs), each
    feature's value told in words and the margin's meaning in ``voice``'s language."""
    return {task: _explain(task, booster, row, voice) for task, booster in models.items()}


def _explain(task: str, booster: xgb.Booster, row: pd.DataFrame, voice: Voice) -> ModelExplanation:
    contributions, frame = shap_contributions(booster, row)
    margin = np.asarray(booster.predict(feature_matrix(booster, frame), output_margin=True))
    margin = margin[:, 0] if margin.ndim == 2 else margin  # multi-output upsell: output 0, as explained
    return ModelExplanation(
        base_value=float(contributions[0, -1]),
        margin=float(margin[0]),
        contributions={name: float(c) for name, c in zip(frame.columns, contributions[0, :-1])},
        feature_values={str(name): None if v != v else float(v) for name, v in frame.iloc[0].items()},
        output=voice.translator.gettext(MARGIN_MEANING.get(task, "the model's margin")),
        texts=_feature_texts(frame, voice),
    )


def _feature_texts(frame: pd.DataFrame, voice: Voice) -> dict[str, str]:
    """Each feature of a one-row model frame in words (the catalogue sentence, as in reasons)."""
    values = feature_values(frame)
    names = [str(name) for name in frame.columns]
    texts = reason_texts(values, names, np.arange(len(names))[None, :], voice)
    return dict(zip(names, texts[0].tolist()))
