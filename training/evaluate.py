"""Evaluation metrics, pure: (labels, probabilities) -> numbers; and which way each metric is better.

Expected calibration error (ECE) uses 10 equal-mass (quantile) bins of the predicted probability,
the bins of the reliability plot: every bin holds about n/10 members, so no term rests on a handful
of rows, as equal-width bins do where predictions crowd one end (churn near 0.9, 30-day purchase
near 0.05). Tied predictions never straddle a bin edge (bins whose edges coincide are merged), so
ECE does not depend on row order.
"""

from __future__ import annotations

import re
from typing import Literal

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

ECE_BINS = 10
Direction = Literal["higher", "lower"]
# Which way each metric is better; the report page marks best cells by it. A metric named
# "<name>_<k>d" (brier_30d, ece_30d) or "<name>_at_<k>" (hit_rate_at_3) takes <name>'s direction.
# Metrics absent here describe the rows (n, base_rate, mean_actual) and are never ranked.
METRIC_DIRECTIONS: dict[str, Direction] = {
    "roc_auc": "higher", "pr_auc": "higher", "concordance": "higher", "normalized_gini": "higher",
    "lift_top_decile": "higher", "precision_top_decile": "higher", "hit_rate": "higher",
    "spearman": "higher", "top_decile_share": "higher",
    "brier": "lower", "mae": "lower", "ece": "lower",
}
_SUFFIX = re.compile(r"(_\d+d|_at_\d+)$")


def metric_direction(metric: str) -> Direction | None:
    """``higher`` or ``lower`` is better for ``metric``; None for a descriptive or unknown column."""
    return METRIC_DIRECTIONS.get(metric) or METRIC_DIRECTIONS.get(_SUFFIX.sub("", metric))


def reliability_curve(observed_event: np.ndarray, probability: np.ndarray, bins: int = ECE_BINS) -> pd.DataFrame:
    """Mean predicted probability beside the observed event rate in quantile bins of the prediction.

    Quantile bins hold about the same number of members each, so no point rests on a handful of
    rows; bins whose edges coincide (tied probabilities) are merged. Columns: ``mean_predicted``,
    ``observed_rate``, ``count``.
    """
    probability = np.asarray(probability, dtype=float)
    event = np.asarray(observed_event, dtype=float)
    if event.shape != probability.shape or probability.ndim != 1:
        raise ValueError("observed_event and probability must be 1-D and the same length; "
                         f"got {event.shape}, {probability.shape}")
    if bins < 1:
        raise ValueError(f"bins must be >= 1; got {bins}")
    frame = pd.DataFrame({"mean_predicted": probability, "observed_rate": event})
    if len(np.unique(probability)) > 1:
        frame["bin"] = pd.qcut(probability, bins, labels=False, duplicates="drop")
    else:
        frame["bin"] = 0
    curve = frame.groupby("bin").agg(mean_predicted=("mean_predicted", "mean"),
                                     observed_rate=("observed_rate", "mean"),
                                     count=("observed_rate", "size"))
    return curve.reset_index(drop=True)


def expected_calibration_error(observed_event: np.ndarray, probability: np.ndarray, bins: int = ECE_BINS) -> float:
    """Sum over the reliability curve's bins of (share of rows) x |mean predicted - observed rate|.

    0 for a score whose every bin's mean prediction equals its event rate; NaN on no rows.
    """
    if len(np.asarray(probability)) == 0:
        return float("nan")
    curve = reliability_curve(observed_event, probability, bins)
    gaps = (curve["mean_predicted"] - curve["observed_rate"]).abs()
    return float((curve["count"] * gaps).sum() / curve["count"].sum())


def _top_fraction_total(values: np.ndarray, scores: np.ndarray, fraction: float) -> tuple[float, int]:
    """Expected sum of ``values`` over the top ``fraction`` of rows by ``scores``, and that row count.

    The top is round(fraction * n) rows, at least one. Scores tied at the boundary share the
    remaining places pro rata (each place counts their mean value), so a coarse score such as an
    RFM rule is neither helped nor hurt by row order. Shared by every "top x%" metric.
    """
    values = np.asarray(values, dtype=float)
    scores = np.asarray(scores, dtype=float)
    n_top = max(1, int(round(fraction * len(values))))
    threshold = np.sort(scores)[::-1][n_top - 1]
    above, tied = scores > threshold, scores == threshold
    return float(values[above].sum() + (n_top - above.sum()) * values[tied].mean()), n_top


def lift_at(churned: np.ndarray, probability: np.ndarray, fraction: float = 0.1) -> float:
    """Churn rate among the top ``fraction`` by probability over the overall churn rate.

    Scores tied at the boundary share the remaining places pro rata (their mean churn rate
    counts), so a coarse score such as an RFM rule is neither helped nor hurt by row order.
    """
    churned = np.asarray(churned, dtype=float)
    expected_churners, n_top = _top_fraction_total(churned, probability, fraction)
    base_rate = churned.mean()
    return float(expected_churners / n_top / base_rate) if base_rate > 0 else float("nan")


def binary_metrics(churned: np.ndarray, probability: np.ndarray) -> dict[str, float]:
    """ROC AUC, PR AUC, Brier score, top-decile lift, expected calibration error, base rate and row count."""
    churned = np.asarray(churned, dtype=int)
    probability = np.asarray(probability, dtype=float)
    both_classes = 0 < churned.sum() < len(churned)
    return {
        "roc_auc": float(roc_auc_score(churned, probability)) if both_classes else float("nan"),
        "pr_auc": float(average_precision_score(churned, probability)) if both_classes else float("nan"),
        "brier": float(brier_score_loss(churned, probability)),
        "lift_top_decile": lift_at(churned, probability, 0.1),
        "ece": expected_calibration_error(churned, probability),
        "base_rate": float(churned.mean()),
        "n": float(len(churned)),
    }
