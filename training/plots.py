"""Evaluation figures: ROC, cumulative lift, reliability, SHAP summary. Pure: inputs in, Figure out."""

from __future__ import annotations

import io
from collections.abc import Mapping

import matplotlib

matplotlib.use("Agg")  # headless: figures are files logged to MLflow, never windows

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import xgboost as xgb
from matplotlib.figure import Figure
from sklearn.metrics import roc_curve


def png(figure: Figure) -> bytes:
    """The figure as PNG bytes, and closed: rendered once for both the MLflow run and the
    evaluation page (drawing it twice cost about 4 s per training run, the SHAP beeswarm most)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def roc_figure(churned: np.ndarray, scores: Mapping[str, np.ndarray]) -> Figure:
    """ROC curves of the model and baselines on the same out-of-time rows."""
    figure, axes = plt.subplots(figsize=(5, 5))
    for name, probability in scores.items():
        fpr, tpr, _ = roc_curve(churned, probability)
        axes.plot(fpr, tpr, label=name)
    axes.plot([0, 1], [0, 1], linestyle=":", color="grey")
    axes.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC, out of time")
    axes.legend(loc="lower right")
    return figure


def lift_figure(churned: np.ndarray, scores: Mapping[str, np.ndarray], what: str = "churners") -> Figure:
    """Cumulative gain: share of ``what`` (churners, buyers, spend) reached contacting the top x% by score."""
    figure, axes = plt.subplots(figsize=(5, 5))
    share = np.arange(1, len(churned) + 1) / len(churned)
    for name, probability in scores.items():
        ordered = np.asarray(churned)[np.argsort(-probability, kind="stable")]
        axes.plot(share, np.cumsum(ordered) / max(1, ordered.sum()), label=name)
    axes.plot([0, 1], [0, 1], linestyle=":", color="grey")
    axes.set(xlabel="share of members contacted", ylabel=f"share of {what} reached", title="Gain, out of time")
    axes.legend(loc="lower right")
    return figure


def reliability_figure(curves: Mapping[str, pd.DataFrame], title: str) -> Figure:
    """Reliability diagram: one line per scorer (``training.evaluate.reliability_curve``) against the
    diagonal a calibrated score would follow."""
    figure, axes = plt.subplots(figsize=(5, 5))
    for name, curve in curves.items():
        axes.plot(curve["mean_predicted"], curve["observed_rate"], marker="o", label=name)
    axes.plot([0, 1], [0, 1], linestyle=":", color="grey")
    axes.set(xlabel="mean predicted probability", ylabel="observed rate", title=title, xlim=(0, 1), ylim=(0, 1))
    axes.legend(loc="upper left")
    return figure


def shap_summary_figure(booster: xgb.Booster, features: pd.DataFrame, max_rows: int = 2000,
                        output: int | None = None) -> Figure:
    """The shap library's beeswarm summary of exact TreeSHAP values on a sample of rows.

    ``output`` picks one output of a multi-output booster (e.g. upsell's "any new category").
    """
    import shap

    sample = features.sample(n=min(max_rows, len(features)), random_state=0)
    values = shap.TreeExplainer(booster).shap_values(sample)
    if output is not None:
        values = values[output] if isinstance(values, list) else np.asarray(values)[..., output]
    figure = plt.figure(figsize=(7, 6))  # shap draws on the current figure: make it a fresh one
    shap.summary_plot(values, sample, show=False, max_display=15)
    return figure
