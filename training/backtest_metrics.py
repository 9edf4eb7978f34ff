"""Backtest metrics, pure: (stored scores joined to what happened) -> one row per task and metric.

What served and every baseline stored beside it are judged on the same members (those with a
value for all of them), with training's own metric functions, so a backtest number means what
the same number meant at the gate: churn ROC AUC, PR AUC and ECE (``evaluate.binary_metrics``);
next-purchase concordance of the median days (``survival.concordance_index``, censored at H);
upsell ROC AUC and hit rate, the share of the top decile by probability that did upsell
(``cross_sell.precision_at_fraction``); value normalized Gini and top-decile capture
(``value_metrics``). Outcomes are training's labels (``features.labels``; upsell: a new category
in the horizon when the data has categories, else spend-up, as ``training.upsell`` defines it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from models.baselines import CHURN_COLUMN, MEDIAN_COLUMN, UPSELL_COLUMN, VALUE_COLUMN
from training.cross_sell import precision_at_fraction
from training.evaluate import binary_metrics, metric_direction
from training.survival import concordance_index
from training.value import spend_target
from training.value_metrics import normalized_gini, top_decile_share

OUTCOME = "upsold"  # the upsell outcome column the caller adds beside features.labels' columns
Metric = Callable[[pd.DataFrame, np.ndarray, int], float]  # (joined rows, scores, horizon) -> value


def _churn(name: str) -> Metric:
    return lambda rows, scores, _: binary_metrics(rows["churned"].to_numpy(int), scores)[name]


def _concordance(rows: pd.DataFrame, scores: np.ndarray, horizon_days: int) -> float:
    days = rows["days_to_next"].to_numpy(float)
    observed = ~np.isnan(days)
    return concordance_index(np.where(observed, days, float(horizon_days)), observed, scores)


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
        "roc_auc": lambda rows, scores, _: binary_metrics(rows[OUTCOME].to_numpy(int), scores)["roc_auc"],
        "hit_rate": lambda rows, scores, _: precision_at_fraction(rows[OUTCOME].to_numpy(int), scores, 0.1)}),
    Judged("value", "expected_value", VALUE_COLUMN, {
        "normalized_gini": lambda rows, scores, _: normalized_gini(spend_target(rows), scores),
        "top_decile_share": lambda rows, scores, _: top_decile_share(spend_target(rows), scores, 0.1)}),
)


def backtest_metrics(joined: pd.DataFrame, horizon_days: int, baselines: Mapping[str, str]) -> list[dict[str, Any]]:
    """Every task's metrics for what served and its baseline, on the members that have both.

    ``joined``: stored scores (``features.score_history``) merged with ``features.labels.build_labels``
    (and ``OUTCOME`` when upsell is judged); ``baselines`` names each task's baseline column. A task
    whose columns are absent, or empty for every member, is left out.
    """
    rows: list[dict[str, Any]] = []
    for judged in JUDGED:
        if judged.served not in joined.columns or (judged.task == "upsell" and OUTCOME not in joined.columns):
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
    value = float(compute(rows, scores.to_numpy(float), horizon_days))
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
