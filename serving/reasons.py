"""From exact TreeSHAP contributions to the top-k reasons of a score, in words.

XGBoost's ``pred_contribs=True`` gives one column per feature plus a last column holding the base
value; per row they sum to the margin (log-odds for churn).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.catalogue import BY_NAME
from serving.schemas import Reason


def top_reasons(contributions: np.ndarray, features: pd.DataFrame, k: int) -> list[list[Reason]]:
    """The ``k`` largest contributions by magnitude for every row, each told in words.

    ``contributions`` has shape (rows, len(features.columns) + 1), bias last.
    """
    if k <= 0:
        return [[] for _ in range(len(features))]
    names = list(features.columns)
    per_feature = contributions[:, : len(names)]
    order = top_positions(contributions, len(names), k)
    rows = features.to_dict(orient="records")
    return [
        [reason(names[j], float(per_feature[i, j]), rows[i]) for j in order[i]]
        for i in range(len(rows))
    ]


def reason(name: str, contribution: float, row: dict[str, float]) -> Reason:
    """One feature's contribution told in words; ``row`` holds the member's values of the model's features."""
    value = row.get(name)
    text = reason_text(name, row)
    return Reason(
        feature=name,
        value=None if value is None or value != value else float(value),
        contribution=contribution,
        direction="raises" if contribution > 0 else "lowers",
        text=text,
    )


def reason_text(name: str, row: dict[str, float]) -> str:
    """The words for feature ``name`` of one member (catalogue template, or name and value)."""
    feature = BY_NAME.get(name)
    return feature.in_words(row) if feature else _unlisted_in_words(name, row.get(name))


def top_positions(contributions: np.ndarray, features: int, k: int) -> np.ndarray:
    """Per row, the columns of the ``k`` largest |contribution| among the first ``features`` (stable order)."""
    return np.argsort(-np.abs(contributions[:, :features]), axis=1, kind="stable")[:, :k]


def _unlisted_in_words(name: str, value: float | None) -> str:
    """Words for features outside the catalogue: per-category spend shares, else name and value."""
    if name.startswith("share_") and value is not None:
        return f"{value:.0%} of spend in {name.removeprefix('share_').replace('_', ' ')}"
    return f"{name}: {value}"
