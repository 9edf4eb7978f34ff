"""training.backtest_metrics on hand-built frames: same members, undefined metrics, what served."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from training.backtest_metrics import backtest_metrics, served_by


def joined() -> pd.DataFrame:
    """Five members: the model ranks the churners perfectly, the rule backwards; member e has no rule value."""
    return pd.DataFrame({
        "member_id": list("abcde"),
        "churned": [1, 0, 1, 0, 1],
        "churn_probability": [0.9, 0.1, 0.8, 0.3, 0.0],
        "baseline_churn_probability": [0.1, 0.9, 0.2, 0.7, np.nan],
        "expected_value": [np.nan] * 5,  # no value for anyone: the task is left out
        "served_by": ["churn=model:3;value=none"] * 4 + ["churn=baseline:recency;value=none"],
    })


def test_served_and_baseline_are_judged_on_the_members_both_score() -> None:
    rows = {(r["task"], r["metric"]): r for r in backtest_metrics(joined(), 90, {"churn": "recency"})}
    assert set(rows) == {("churn", "roc_auc"), ("churn", "pr_auc"), ("churn", "ece")}  # value: nothing to judge
    auc = rows[("churn", "roc_auc")]
    assert (auc["served"], auc["baselines"], auc["members"]) == (1.0, {"recency": 0.0}, 4)  # e left out
    assert auc["served_by"] == "model v3" and auc["direction"] == "higher"
    assert rows[("churn", "ece")]["direction"] == "lower"
    assert rows[("churn", "pr_auc")]["served"] == pytest.approx(1.0)


def test_an_undefined_metric_is_none_not_nan() -> None:
    one_class = joined().assign(churned=0)
    rows = {(r["task"], r["metric"]): r for r in backtest_metrics(one_class, 90, {})}
    assert rows[("churn", "roc_auc")]["served"] is None
    assert rows[("churn", "roc_auc")]["baselines"] == {"baseline_churn_probability": None}  # unnamed: its column


def test_what_served_is_read_from_served_by() -> None:
    frame = pd.DataFrame({"served_by": ["next_purchase=baseline:bgnbd (no median: P(alive) <= 0.5);churn=none"] * 2})
    assert served_by(frame, "next_purchase") == "baseline bgnbd"
    assert served_by(frame, "churn") == "none"
    assert served_by(frame, "value") == "unknown"
