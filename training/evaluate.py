"""Churn metrics, pure: (labels, probabilities) -> numbers."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score


def lift_at(churned: np.ndarray, probability: np.ndarray, fraction: float = 0.1) -> float:
    """Churn rate among the top ``fraction`` by probability over the overall churn rate.

    Ties at the boundary are broken by a stable sort on the negated score.
    """
    n_top = max(1, int(round(fraction * len(churned))))
    top = np.argsort(-probability, kind="stable")[:n_top]
    base_rate = float(np.mean(churned))
    return float(np.mean(churned[top]) / base_rate) if base_rate > 0 else float("nan")


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
