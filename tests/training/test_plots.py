"""training.plots: each evaluation figure is its own Figure, drawn only with its own content.

Pinned: roc_figure and lift_figure each return a new one-axes figure; shap_summary_figure draws
the SHAP beeswarm on a figure of its own, leaving any figure that was current untouched (the
pipeline builds ROC, then lift, then SHAP, and logs all three afterwards).
"""

from __future__ import annotations

from collections.abc import Iterator

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import xgboost as xgb

from training.plots import lift_figure, roc_figure, shap_summary_figure


@pytest.fixture
def fitted() -> Iterator[tuple[xgb.Booster, pd.DataFrame, np.ndarray]]:
    rng = np.random.default_rng(0)
    features = pd.DataFrame(rng.normal(size=(300, 3)), columns=["recency_days", "orders_total", "spend_total"])
    churned = (features["recency_days"] + rng.normal(size=300) > 0).astype(int).to_numpy()
    booster = xgb.train({"objective": "binary:logistic", "max_depth": 2, "nthread": 1},
                        xgb.DMatrix(features, label=churned), num_boost_round=10)
    yield booster, features, churned
    plt.close("all")


def test_roc_and_lift_are_separate_single_axes_figures(fitted: tuple[xgb.Booster, pd.DataFrame, np.ndarray]) -> None:
    """Each curve figure is new, with one axes, one line per scorer plus the diagonal."""
    booster, features, churned = fitted
    scores = {"model": booster.predict(xgb.DMatrix(features)), "random": np.linspace(0, 1, len(churned))}
    roc, lift = roc_figure(churned, scores), lift_figure(churned, scores)
    assert roc is not lift
    for figure in (roc, lift):
        assert len(figure.axes) == 1
        assert len(figure.axes[0].lines) == len(scores) + 1
    assert [t.get_text() for t in lift.axes[0].get_legend().get_texts()] == ["model", "random"]


def test_shap_summary_does_not_draw_on_the_current_figure(fitted: tuple[xgb.Booster, pd.DataFrame, np.ndarray]) -> None:
    """The SHAP summary is a new figure; the lift figure made before it keeps its single axes."""
    booster, features, churned = fitted
    lift = lift_figure(churned, {"model": booster.predict(xgb.DMatrix(features))})
    shap_figure = shap_summary_figure(booster, features)
    assert shap_figure is not lift
    assert len(lift.axes) == 1
    assert lift.axes[0].get_title() == "Gain, out of time"
