"""Scoring, pure: (champion boosters, snapshot rows, ids) -> every output with reasons.

One XGBoost call per model per batch (and one ``pred_contribs`` call per model when explaining).
A task without a champion is served by its baseline's snapshot columns (``score_frame``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

import numpy as np
import pandas as pd
import xgboost as xgb

from features import contract
from features.catalogue import ENGLISH
from features.categories import share_column
from features.formats import Voice
from features.offer_lists import NO_OFFERS
from features.segments import evidenced_p_alive
from features.snapshot import SEGMENT_COLUMNS
from features.tier_outputs import TIER_COLUMNS
from features.value_names import labels_for
from models.baselines import SERVED_BY_BASELINE
from models.matrix import model_frame, predict_proba, to_matrix
from models.offers import any_new_probability, booster_categories, top_categories
from models.timing import predict_timing
from serving.first_output import first_output_booster
from serving.reasons import top_reasons
from serving.schemas import MemberScore, Reason

PROGRAMME_COLUMNS = tuple(c for c in TIER_COLUMNS if c != "tier")
OUTPUT_COLUMNS = (
    contract.MEMBER_ID, "churn_probability",
    "next_purchase_median_days", "next_purchase_date", "p_purchase_7d", "p_purchase_30d", "p_purchase_90d",
    "upsell_probability", "upsell_categories",
    "expected_value", "clv_12m", "p_alive",
    *SEGMENT_COLUMNS,
    *PROGRAMME_COLUMNS,  # empty unless the snapshot was built with a tier programme
)
TOP_CATEGORIES = 3


def feature_matrix(booster: xgb.Booster, features: pd.DataFrame) -> xgb.DMatrix:
    """Rows in the booster's own feature order (``models.matrix.to_matrix``: a missing feature is
    an error, a missing category share is 0)."""
    return to_matrix(features, list(booster.feature_names or []))


def model_outputs(models: Mapping[str, xgb.Booster], features: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """Every model output column for the rows of ``features`` (NaN / empty where a model is absent).

    ``clv_12m`` is here only when a ``value_12m`` champion serves (XGBoost Tweedie on 365-day
    spend); without one it is absent and ``score_frame`` keeps the snapshot profile's BG/NBD +
    Gamma-Gamma 12-month CLV.
    """
    out = pd.DataFrame(index=features.index)
    out["churn_probability"] = predict_proba(models["churn"], features) if "churn" in models else np.nan
    out = out.join(_timing(models.get("next_purchase"), features, as_of))
    out = out.join(_upsell(models.get("upsell"), features))
    out["expected_value"] = predict_proba(models["value"], features) if "value" in models else np.nan
    if "value_12m" in models:
        out["clv_12m"] = predict_proba(models["value_12m"], features)
    return out


def _timing(booster: xgb.Booster | None, features: pd.DataFrame, as_of: date) -> pd.DataFrame:
    columns = ["next_purchase_median_days", "next_purchase_date", "p_purchase_7d", "p_purchase_30d", "p_purchase_90d"]
    if booster is None:
        return pd.DataFrame({c: np.nan for c in columns}, index=features.index).astype({"next_purchase_date": "string"})
    timing = predict_timing(booster, features)
    return pd.DataFrame({
        "next_purchase_median_days": timing["median_days"],
        "next_purchase_date": purchase_dates(timing["median_days"], as_of),
        "p_purchase_7d": timing["p_within_7d"],
        "p_purchase_30d": timing["p_within_30d"],
        "p_purchase_90d": timing["p_within_90d"],
    }, index=features.index)


def purchase_dates(median_days: pd.Series, as_of: date) -> pd.Series:
    """``as_of`` + the median days, rounded and capped at ten years (ISO text; empty without a median)."""
    days = pd.to_numeric(median_days, errors="coerce").clip(upper=3650).round()
    dates = (pd.Timestamp(as_of) + pd.to_timedelta(days, unit="D")).dt.date.astype("string")
    return dates.where(days.notna())


def _upsell(booster: xgb.Booster | None, features: pd.DataFrame) -> pd.DataFrame:
    """P(upsell) and, for a new-category booster, the top categories the member does not own yet."""
    if booster is None:
        return pd.DataFrame({"upsell_probability": np.nan, "upsell_categories": NO_OFFERS}, index=features.index)
    predicted = booster.predict(feature_matrix(booster, features))
    probability, categories = any_new_probability(predicted), booster_categories(booster)
    if predicted.ndim == 1 or not categories:
        return pd.DataFrame({"upsell_probability": probability, "upsell_categories": NO_OFFERS}, index=features.index)
    owned = np.column_stack([features[c].to_numpy(float) > 0 if c in features.columns else np.zeros(len(features), bool)
                             for c in map(share_column, categories)])
    offers = top_categories(predicted[:, 1:], categories, owned, TOP_CATEGORIES)
    return pd.DataFrame({"upsell_probability": probability, "upsell_categories": offers}, index=features.index)


def score_frame(models: Mapping[str, xgb.Booster], inputs: pd.DataFrame, profile: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """Every member of a snapshot with every output column (the batch file of ``memberscore score``).

    A model output wins over a profile column of the same name: ``clv_12m`` is the 12-month
    value model's when it serves, else the profile's BG/NBD + Gamma-Gamma CLV. A baseline is a
    valid champion: a task without a champion is served by its baseline's profile columns
    (``models.baselines.SERVED_BY_BASELINE``: the snapshot's BG/NBD P(purchase within
    7/30/90 days), median days to the next purchase and H-day spend, its chosen churn rule (BG/NBD
    as the last resort), its popular-new-categories or RFM-rule upsell); outputs whose baseline
    the snapshot lacks stay empty (``serving.sources`` says so per member).
    """
    outputs = model_outputs(models, inputs, as_of)
    frame = pd.concat([inputs[[contract.MEMBER_ID]], outputs], axis=1)
    frame["p_alive"] = evidenced_p_alive(inputs)  # null for one-time buyers: BG/NBD's 1.0 is no estimate
    shadowed = outputs.columns.intersection(profile.columns)  # clv_12m when value_12m serves
    frame = frame.merge(profile.drop(columns=shadowed), on=contract.MEMBER_ID, how="left")
    for task, served in SERVED_BY_BASELINE.items():
        if task not in models:  # the model lost its gate (or never ran): its baseline serves, if the snapshot has it
            for column, source in served.items():
                if source in frame.columns:
                    frame[column] = frame[source]
            if task == "next_purchase":
                frame["next_purchase_date"] = purchase_dates(frame["next_purchase_median_days"], as_of)
    for column in OUTPUT_COLUMNS:
        if column not in frame.columns:
            frame[column] = np.nan
    return frame[list(OUTPUT_COLUMNS)]


def index_by_member(snapshot: pd.DataFrame) -> pd.DataFrame:
    """A frame indexed by member id, built once at load so each request is a hash lookup."""
    return snapshot.set_index(snapshot[contract.MEMBER_ID].astype(str)).drop(columns=contract.MEMBER_ID)


def score_members(models: Mapping[str, xgb.Booster], scored_by_id: pd.DataFrame, features_by_id: pd.DataFrame,
                  member_ids: Sequence[str], explain: int, voice: Voice = ENGLISH) -> list[MemberScore]:
    """Scores for the requested ids in request order; ids absent from the snapshot are 'unknown'.

    ``scored_by_id`` holds every output per member (``score_frame`` indexed by id) and
    ``features_by_id`` the model inputs; reasons are computed for the requested rows only.
    """
    positions = scored_by_id.index.get_indexer(pd.Index(list(member_ids)))
    found = positions[positions >= 0]
    rows = features_by_id.iloc[found]
    reasons = {task: _reasons(booster, rows, explain, voice) for task, booster in models.items()}
    records = scored_by_id.iloc[found].to_dict(orient="records")
    results, k = [], 0
    for member_id, position in zip(member_ids, positions):
        if position < 0:
            results.append(MemberScore(member_id=member_id, status="unknown"))
            continue
        values = {str(key): (None if _missing(value) else value) for key, value in records[k].items()}
        by_model = {task: per_row[k] for task, per_row in reasons.items()}
        results.append(MemberScore(member_id=member_id, status="scored", **values, **labels_for(values, voice.translator),
                                   reasons=by_model.get("churn", []), model_reasons=by_model))
        k += 1
    return results


def _missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NA


def _reasons(booster: xgb.Booster, rows: pd.DataFrame, explain: int, voice: Voice) -> list[list[Reason]]:
    if explain <= 0 or len(rows) == 0:
        return [[] for _ in range(len(rows))]
    contributions, frame = shap_contributions(booster, rows)
    return top_reasons(contributions, frame, explain, voice)


def shap_contributions(booster: xgb.Booster, rows: pd.DataFrame) -> tuple[np.ndarray, pd.DataFrame]:
    """Exact TreeSHAP per row (bias last) and the model-ordered feature frame it refers to."""
    frame = model_frame(rows, list(booster.feature_names or []))
    explained = first_output_booster(booster)  # multi-output upsell: output 0, "any new category"
    return explained.predict(feature_matrix(explained, frame), pred_contribs=True), frame
