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
    order = np.argsort(-np.abs(per_feature), axis=1, kind="stable")[:, :k]
    rows = features.to_dict(orient="records")
    return [
        [reason(names[j], float(per_feature[i, j]), rows[i]) for j in order[i]]
        for i in range(len(rows))
    ]


def reason(name: str, contribution: float, row: dict[str, float]) -> Reason:
    """One feature's contribution told in words; ``row`` holds the member's values of the model's features."""
    feature = BY_NAME.get(name)
    value = row.get(name)
    text = feature.in_words(row) if feature else _unlisted_in_words(name, value)
    return Reason(
        feature=name,
        value=None if value is None or value != value else float(value),
        contribution=contribution,
        direction="raises" if contribution > 0 else "lowers",
        text=text,
    )


def _unlisted_in_words(name: str, value: float | None) -> str:
    """Words for features outside the catalogue: per-category spend shares, else name and value."""
    if name.startswith("share_") and value is not None:
        return f"{value:.0%} of spend in {name.removeprefix('share_').replace('_', ' ')}"
    return f"{name}: {value}"
