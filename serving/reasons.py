"""From exact TreeSHAP contributions to the top-k reasons of a score, in words.

XGBoost's ``pred_contribs=True`` gives one column per feature plus a last column holding the base
value; per row they sum to the margin (log-odds for churn).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from features.catalogue import BY_NAME, ENGLISH, NOT_KNOWN, TOLD_PLAINLY, formatted
from features.formats import Voice
from features.segments import evidenced
from serving.schemas import Reason


def top_reasons(contributions: np.ndarray, features: pd.DataFrame, k: int,
                voice: Voice = ENGLISH) -> list[list[Reason]]:
    """The ``k`` largest contributions by magnitude for every row, each told in words (``voice``: the
    reader's language and the retailer's currency).

    ``contributions`` has shape (rows, len(features.columns) + 1), bias last.
    """
    if k <= 0:
        return [[] for _ in range(len(features))]
    names = [str(name) for name in features.columns]
    order = top_positions(contributions, len(names), k)
    picked = np.take_along_axis(contributions[:, : len(names)], order, axis=1)
    return picked_reasons(feature_values(features), names, order, picked, voice)


def picked_reasons(values: np.ndarray, names: Sequence[str], order: np.ndarray,
                   contributions: np.ndarray, voice: Voice = ENGLISH) -> list[list[Reason]]:
    """Reasons for picks already made: member i's r-th reason is feature ``names[order[i, r]]``
    (value ``values[i, order[i, r]]``) with SHAP value ``contributions[i, r]``.
    A value not served (a one-time buyer's P(alive)) is null in the reason too (``as_served``)."""
    values = as_served(values, names)
    texts = reason_texts(values, names, order, voice).tolist()
    picked_values = np.take_along_axis(values, order, axis=1).tolist() if order.size else [[] for _ in order]
    return [
        [_reason(names[j], value, contribution, text)
         for j, value, contribution, text in zip(row_order, row_values, row_contributions, row_texts)]
        for row_order, row_values, row_contributions, row_texts
        in zip(order.tolist(), picked_values, contributions.tolist(), texts)
    ]


def reason_texts(values: np.ndarray, names: Sequence[str], order: np.ndarray, voice: Voice = ENGLISH) -> np.ndarray:
    """The words of every pick, shaped like ``order`` (``order[i, r]`` indexes ``names`` and the
    columns of ``values``). Each feature's template renders all the members that picked it at once,
    so a million members cost one ``str.format`` per reason and no Python per value."""
    values = as_served(values, names)
    where = {name: i for i, name in enumerate(names)}
    texts = np.empty(order.shape, dtype=object)
    for position in set(order.flat):
        rows, ranks = np.nonzero(order == position)
        name = names[position]
        columns = {column: values[rows, where[column]] for column in _reads(name) if column in where}
        texts[rows, ranks] = feature_words(name, columns, voice)
    return texts


def feature_values(features: pd.DataFrame) -> np.ndarray:
    """A model frame's values as the float64 matrix ``reason_texts`` reads (NaN where missing)."""
    return features.to_numpy(dtype="float64", na_value=np.nan)


def as_served(values: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """``values`` with the model inputs /score does not serve as estimates made missing, so a reason
    never contradicts the served fields: a one-time buyer's P(alive) is BG/NBD's 1.0 by construction,
    served as null (``features.segments.evidenced``), and told by the feature's ``when_missing`` sentence rather
    than as "100% likely to still be an active customer" beside lifecycle stage "lost".

    The model still read the 1.0, so the SHAP value stays; only the value and its words change.
    Without ``gap_ratio`` among the inputs P(alive) stays as given, as ``evidenced_p_alive`` says.
    """
    where = {name: i for i, name in enumerate(names)}
    if "p_alive" not in where or "gap_ratio" not in where:
        return values
    column = where["p_alive"]
    served = evidenced(values[:, column], values[:, where["gap_ratio"]])
    if np.array_equal(served, values[:, column], equal_nan=True):
        return values  # the usual chunk, or values already served: no copy
    out = values.copy()
    out[:, column] = served
    return out


def feature_words(name: str, columns: Mapping[str, np.ndarray], voice: Voice = ENGLISH) -> np.ndarray:
    """The words for feature ``name`` of many members (catalogue template, or name and value);
    ``columns`` holds the values of the features it reads (``_reads``)."""
    feature = BY_NAME.get(name)
    texts = feature.words(columns, voice) if feature else [_unlisted_in_words(name, value, voice)
                                                           for value in columns[name].tolist()]
    return np.fromiter(texts, dtype=object, count=len(texts))


def top_positions(contributions: np.ndarray, features: int, k: int) -> np.ndarray:
    """Per row, the columns of the ``k`` largest |contribution| among the first ``features`` (stable order)."""
    return np.argsort(-np.abs(contributions[:, :features]), axis=1, kind="stable")[:, :k]


def _reads(name: str) -> tuple[str, ...]:
    feature = BY_NAME.get(name)
    return feature.reads() if feature else (name,)


def _reason(name: str, value: float, contribution: float, text: str) -> Reason:
    return Reason(
        feature=name,
        value=None if value != value else value,  # NaN: missing
        contribution=contribution,
        direction="raises" if contribution > 0 else "lowers",
        text=text,
    )


SHARE_OF_SPEND = "{share} of spend in {category}"


def _unlisted_in_words(name: str, value: object, voice: Voice) -> str:
    """Words for features outside the catalogue: per-category spend shares, else name and value.

    A category's name is the retailer's own data and stays as written.
    """
    t = voice.translator
    if value is None or value != value:
        return t.gettext(NOT_KNOWN).format(description=name)
    if name.startswith("share_"):
        return t.gettext(SHARE_OF_SPEND).format(share=voice.percent(float(value)),  # type: ignore[arg-type]
                                                category=name.removeprefix("share_").replace("_", " "))
    return t.gettext(TOLD_PLAINLY).format(description=name, value=formatted(name, [value], voice)[0])
