"""Churn metrics, pure: (labels, probabilities) -> numbers."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score


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
    """ROC AUC, PR AUC, Brier score, top-decile lift, base rate and row count."""
    churned = np.asarray(churned, dtype=int)
    probability = np.asarray(probability, dtype=float)
    both_classes = 0 < churned.sum() < len(churned)
    return {
        "roc_auc": float(roc_auc_score(churned, probability)) if both_classes else float("nan"),
        "pr_auc": float(average_precision_score(churned, probability)) if both_classes else float("nan"),
        "brier": float(brier_score_loss(churned, probability)),
        "lift_top_decile": lift_at(churned, probability, 0.1),
        "base_rate": float(churned.mean()),
        "n": float(len(churned)),
    }
