"""The observational pieces on hand-built data: covariates as of a date, SMDs, the comparison group, refusals."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pytest

from campaigns.covariates import covariates_as_of, standardised_mean_differences
from campaigns.observational import measure_observational, with_untargeted

START = date(2024, 5, 1)


def _rows(*rows: tuple[str, str, float]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["member_id", "ts", "amount"])
    return frame.assign(ts=pd.to_datetime(frame["ts"]))


def test_covariates_use_only_rows_before_the_start_and_zero_for_no_history() -> None:
    rows = _rows(("a", "2024-04-25", 10.0), ("a", "2024-03-20", 5.0), ("a", "2024-05-01", 999.0),
                 ("b", "2024-02-01", 7.0))
    found = covariates_as_of(pd.Series(["a", "b", "c"]), rows, START, 30)
    assert found.loc[0].to_dict() == {"recency_days": 6.0, "purchases": 2.0, "spend_before": 15.0, "tenure_days": 42.0,
                                      "spend_last_window": 10.0, "spend_window_before": 5.0}
    assert found.loc[1, "spend_last_window"] == 0.0 and found.loc[1, "recency_days"] == 90.0
    assert found.loc[2].to_dict() == {"recency_days": 90.0, "purchases": 0.0, "spend_before": 0.0, "tenure_days": 90.0,
                                      "spend_last_window": 0.0, "spend_window_before": 0.0}


def test_standardised_mean_difference_by_hand_and_with_weights() -> None:
    frame = pd.DataFrame({"x": [1.0, 3.0, 0.0, 2.0]})
    treated = np.array([True, True, False, False])
    pooled = np.sqrt((np.var([1.0, 3.0], ddof=1) + np.var([0.0, 2.0], ddof=1)) / 2)
    assert standardised_mean_differences(frame, treated) == {"x": pytest.approx((2.0 - 1.0) / pooled)}
    assert standardised_mean_differences(frame, treated, np.array([0.0, 1.0])) == {"x": pytest.approx(0.0)}


def test_the_comparison_group_is_everyone_else_who_bought_before_the_start() -> None:
    rows = _rows(("a", "2024-04-01", 1.0), ("b", "2024-04-02", 1.0), ("c", "2024-05-03", 1.0))
    members = with_untargeted(pd.DataFrame({"member_id": ["a"]}), rows, START)
    assert members.to_dict("list") == {"member_id": ["a", "b"], "arm": ["treatment", "control"]}


def test_too_few_members_gives_no_figure() -> None:
    rows = _rows(("a", "2024-04-01", 1.0), ("b", "2024-04-02", 1.0), ("a", "2024-06-15", 3.0))
    members = with_untargeted(pd.DataFrame({"member_id": ["a"]}), rows, START)
    answer = measure_observational(members, rows, START, 60, 1.0, 0.3)
    assert answer["design"] == "observational" and answer["verdict"] == "not identified"
    assert answer["reason"].startswith("too few members: 1 targeted and 1 untargeted; an effect needs at least 30")
    assert answer["reason"].endswith("(the data begin only 30 days before the start)")  # 2024-04-01 to START, < 60
    assert answer["incremental_spend_per_member"] is None
