"""Decoding an upsell booster: P(buys into a new category) and which new categories to offer.

A new-category booster has one output per tree: "any new category" (output 0) and, per frequent
category, "adopts this one" (outputs 1..K), with the category names stored on the booster. A
spend-up booster (data without categories) has the one output and no categories.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import xgboost as xgb

from features.offer_lists import encode_ranked

CATEGORIES_ATTR = "upsell_categories"  # JSON list of the category names of outputs 1..K
TARGET_ATTR = "upsell_target"  # "new_category" or "spend_up"


def booster_categories(booster: xgb.Booster) -> list[str]:
    """The categories a new-category booster ranks (empty for a spend-up booster)."""
    categories: list[str] = json.loads(booster.attr(CATEGORIES_ATTR) or "[]")
    return categories


def any_new_probability(predicted: np.ndarray) -> np.ndarray:
    """P(upsell): output 0 of a new-category booster, the only output of a spend-up one."""
    return (predicted[:, 0] if predicted.ndim == 2 else predicted).astype(float)


def top_categories(scores: np.ndarray, vocabulary: Sequence[str], owned_mask: np.ndarray, k: int = 3) -> list[str]:
    """Per member, up to ``k`` new categories by score, best first, as one JSON array ("[]" when none).

    Owned categories and -inf scores are never listed; ties go to the earlier vocabulary entry. A
    JSON array (``features.offer_lists``), not a separator, so any category name works.
    """
    scores, owned_mask = checked_matrices(scores, owned_mask)
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    if scores.shape[1] != len(vocabulary):
        raise ValueError(f"vocabulary must name every score column: {len(vocabulary)} names, {scores.shape[1]} columns")
    offerable = np.where(owned_mask, -np.inf, scores)
    order = np.argsort(-offerable, axis=1, kind="stable")[:, :k]
    listed = np.isfinite(np.take_along_axis(offerable, order, axis=1))  # a prefix of each row: -inf sorts last
    return encode_ranked(vocabulary, order, listed)


def checked_matrices(scores: np.ndarray, other: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``scores`` as floats and ``other`` as booleans, both n x k of one shape, scores without NaN."""
    scores, other = np.asarray(scores, dtype=float), np.asarray(other).astype(bool)
    if scores.ndim != 2 or scores.shape != other.shape:
        raise ValueError(f"expected two n x k arrays of one shape, got {scores.shape} and {other.shape}")
    if np.isnan(scores).any():
        raise ValueError("scores contain NaN; use -inf for categories that must never be offered")
    return scores, other
