"""Backtest metrics, pure: (stored scores joined to what happened) -> one row per task and metric.

What served and every baseline stored beside it are judged on the same members (those with a
value for all of them), with training's own metric functions, so a backtest number means what
the same number meant at the gate: churn ROC AUC, PR AUC and ECE (``evaluate.binary_metrics``);
next-purchase concordance of the median days (``survival.concordance_index``, censored at H);
upsell ROC AUC and hit rate, the share of the top decile by probability that did upsell
(``cross_sell.precision_at_fraction``), and, with categories, the hit rate of the three offered
categories (``cross_sell.hit_rate_at_k``, training's ``hit_rate_at_3``); value normalized Gini and top-decile capture
(``value_metrics``). Outcomes are training's labels (``features.labels``; upsell: a new category
in the horizon when the data has categories, else spend-up, as ``training.upsell`` defines it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from features.offer_lists import decode_offers
from models.baselines import CATEGORIES_COLUMN, CHURN_COLUMN, MEDIAN_COLUMN, UPSELL_COLUMN, VALUE_COLUMN
from training.cross_sell import hit_rate_at_k, precision_at_fraction
from training.evaluate import binary_metrics, metric_direction
from training.survival import concordance_index
from training.value import spend_target
from training.value_metrics import normalized_gini, top_decile_share

OUTCOME = "upsold"  # the upsell outcome column the caller adds beside features.labels' columns
ADOPTED = "new_categories"  # with categories: the categories each member bought new in the horizon (a list)
OFFERS_AT = 3
Metric = Callable[[pd.DataFrame, pd.Series, int], float]  # (joined rows, scores, horizon) -> value


def _churn(name: str) -> Metric:
    return lambda rows, scores, _: binary_metrics(rows["churned"].to_numpy(int), scores.to_numpy(float))[name]


def _upsell(name: str) -> Metric:
    return lambda rows, scores, _: binary_metrics(rows[OUTCOME].to_numpy(int), scores.to_numpy(float))[name]


def _concordance(rows: pd.DataFrame, scores: pd.Series, horizon_days: int) -> float:
    days = rows["days_to_next"].to_numpy(float)
    observed = ~np.isnan(days)
    return concordance_index(np.where(observed, days, float(horizon_days)), observed, scores.to_numpy(float))


def _offer_hits(rows: pd.DataFrame, offers: pd.Series, _: int) -> float:
    """``hit_rate_at_k`` of the offered categories (best first) against the categories adopted, over
    every category offered to anyone; members who adopted none of them do not count (NaN: nobody did)."""
    lists = [decode_offers(cell)[:OFFERS_AT] for cell in offers]
    vocabulary = sorted({name for names in lists for name in names})
    if not vocabulary:
        return float("nan")
    column = {name: j for j, name in enumerate(vocabulary)}
    scores = np.full((len(lists), len(vocabulary)), -np.inf)
    targets = np.zeros((len(lists), len(vocabulary)), dtype=int)
    for i, (names, adopted) in enumerate(zip(lists, rows[ADOPTED])):
        for rank, name in enumerate(names):
            scores[i, column[name]] = float(OFFERS_AT - rank)
        for name in adopted:
            if name in column:
                targets[i, column[name]] = 1
    return hit_rate_at_k(scores, targets, OFFERS_AT)


def _ranked(metric: Callable[[np.ndarray, np.ndarray], float], actual: Callable[[pd.DataFrame], np.ndarray]) -> Metric:
    return lambda rows, scores, _: metric(actual(rows), scores.to_numpy(float))


@dataclass(frozen=True)
class Judged:
    """One task: the stored column that served, its baseline's column, and its metrics by name."""

    task: str
    served: str
    baseline: str
    metrics: Mapping[str, Metric]


JUDGED = (
    Judged("churn", "churn_probability", CHURN_COLUMN,
           {"roc_auc": _churn("roc_auc"), "pr_auc": _churn("pr_auc"), "ece": _churn("ece")}),
    Judged("next_purchase", "next_purchase_median_days", MEDIAN_COLUMN, {"concordance": _concordance}),
    Judged("upsell", "upsell_probability", UPSELL_COLUMN, {
        "roc_auc": _upsell("roc_auc"),
        "hit_rate": _ranked(lambda y, p: precision_at_fraction(y, p, 0.1), lambda rows: rows[OUTCOME].to_numpy(int))}),
    Judged("upsell", "upsell_categories", CATEGORIES_COLUMN, {f"hit_rate_at_{OFFERS_AT}": _offer_hits}),
    Judged("value", "expected_value", VALUE_COLUMN, {
        "normalized_gini": _ranked(normalized_gini, spend_target),
        "top_decile_share": _ranked(lambda y, p: top_decile_share(y, p, 0.1), spend_target)}),
)
NEEDS = {"upsell_probability": OUTCOME, "upsell_categories": ADOPTED}  # outcome columns beyond the labels


def backtest_metrics(joined: pd.DataFrame, horizon_days: int, baselines: Mapping[str, str]) -> list[dict[str, Any]]:
    """Every task's metrics for what served and its baseline, on the members that have both.

    ``joined``: stored scores (``features.score_history``) merged with ``features.labels.build_labels``
    (and ``OUTCOME`` when upsell is judged); ``baselines`` names each task's baseline column. A task
    whose columns are absent, or empty for every member, is left out.
    """
    rows: list[dict[str, Any]] = []
    for judged in JUDGED:
        if judged.served not in joined.columns or NEEDS.get(judged.served, judged.served) not in joined.columns:
            continue
        columns = [c for c in (judged.served, judged.baseline) if c in joined.columns]
        same = joined[joined[columns].notna().all(axis=1)]
        if same.empty:
            continue
        name = baselines.get(judged.task, judged.baseline)
        for metric, compute in judged.metrics.items():
            served = _value(compute, same, same[judged.served], horizon_days)
            baseline = {name: _value(compute, same, same[judged.baseline], horizon_days)} \
                if judged.baseline in same.columns else {}
            rows.append({"task": judged.task, "metric": metric, "direction": metric_direction(metric),
                         "served": served, "served_by": served_by(same, judged.task), "baselines": baseline,
                         "members": len(same)})
    return rows


def _value(compute: Metric, rows: pd.DataFrame, scores: pd.Series, horizon_days: int) -> float | None:
    """The metric, or None where it is undefined (one class only, no spread): JSON has no NaN."""
    value = float(compute(rows, scores, horizon_days))
    return value if np.isfinite(value) else None


def served_by(rows: pd.DataFrame, task: str) -> str:
    """What served ``task`` for most of ``rows``: ``model v3`` or ``baseline recency`` (from ``served_by``)."""
    if "served_by" not in rows.columns:
        return "unknown"
    parts = rows["served_by"].astype(str).str.extract(rf"(?:^|;){task}=([^;]*)")[0].dropna()
    if parts.empty:
        return "unknown"
    kind, _, name = str(parts.mode().iloc[0]).partition(":")
    name = name.split(" (")[0]  # "bgnbd (no median: ...)"
    return f"model v{name}" if kind == "model" else f"{kind} {name}".strip()
