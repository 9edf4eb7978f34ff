"""training.promotion.judge: the champion gate's truth table.

Pinned: promote only when the challenger's metric is strictly greater than every baseline's and
the champion's (when there is one); a tie refuses; an undefined (NaN) challenger refuses; the
reason names the metric and the comparison that decided.
"""

from __future__ import annotations

import math

import pytest

from training.promotion import Decision, judge

BASELINES = {"rfm_rule": {"roc_auc": 0.70, "pr_auc": 0.60}, "recency_over_gap": {"roc_auc": 0.75, "pr_auc": 0.65}}


def auc(value: float, pr: float = 0.5) -> dict[str, float]:
    return {"roc_auc": value, "pr_auc": pr}


# (challenger, baselines, champion, metric) -> (promote, words the reason must contain, words it must not)
TRUTH_TABLE = [
    pytest.param(auc(0.80), BASELINES, None, "roc_auc",
                 True, ["promoted", "roc_auc", "0.8000", "rfm_rule 0.7000", "recency_over_gap 0.7500", "no champion"],
                 ["not promoted"], id="beats-baselines-no-champion"),
    pytest.param(auc(0.80), BASELINES, auc(0.79), "roc_auc",
                 True, ["promoted", "roc_auc", "champion 0.7900"], ["not promoted", "no champion"],
                 id="beats-baselines-and-champion"),
    pytest.param(auc(0.75), BASELINES, None, "roc_auc",
                 False, ["not promoted", "recency_over_gap", "0.7500 <= baseline recency_over_gap 0.7500"], [],
                 id="ties-a-baseline"),
    pytest.param(auc(0.72), BASELINES, None, "roc_auc",
                 False, ["not promoted", "baseline recency_over_gap 0.7500"], [],
                 id="loses-to-the-second-baseline"),
    pytest.param(auc(0.65), BASELINES, auc(0.60), "roc_auc",
                 False, ["not promoted", "baseline rfm_rule 0.7000"], [],
                 id="loses-to-a-baseline-despite-beating-champion"),
    pytest.param(auc(0.80), BASELINES, auc(0.80), "roc_auc",
                 False, ["not promoted", "champion", "0.8000 <= champion 0.8000"], [],
                 id="ties-the-champion"),
    pytest.param(auc(0.80), BASELINES, auc(0.85), "roc_auc",
                 False, ["not promoted", "champion", "0.8000 <= champion 0.8500"], [],
                 id="loses-to-the-champion"),
    pytest.param(auc(math.nan), BASELINES, None, "roc_auc",
                 False, ["not promoted", "roc_auc", "undefined"], [], id="nan-challenger"),
    pytest.param(auc(math.nan), BASELINES, auc(0.9), "roc_auc",
                 False, ["not promoted", "undefined"], [], id="nan-challenger-with-champion"),
    pytest.param(auc(0.60, pr=0.70), BASELINES, auc(0.90, pr=0.69), "pr_auc",
                 True, ["promoted", "pr_auc", "0.7000"], ["not promoted"], id="judged-on-the-configured-metric"),
    pytest.param(auc(0.90, pr=0.62), BASELINES, None, "pr_auc",
                 False, ["not promoted", "pr_auc", "baseline recency_over_gap 0.6500"], [],
                 id="configured-metric-loses"),
    pytest.param(auc(0.51), {}, None, "roc_auc",
                 True, ["promoted", "no champion"], ["not promoted"], id="no-baselines-no-champion"),
]


@pytest.mark.parametrize(
    ("challenger", "baselines", "champion", "metric", "promote", "says", "never_says"), TRUTH_TABLE
)
def test_judge_truth_table(
    challenger: dict[str, float],
    baselines: dict[str, dict[str, float]],
    champion: dict[str, float] | None,
    metric: str,
    promote: bool,
    says: list[str],
    never_says: list[str],
) -> None:
    """judge() answers promote/refuse as the table says, with a reason naming what decided."""
    decision = judge(challenger, baselines, champion, metric)
    assert isinstance(decision, Decision)
    assert decision.promote is promote
    for words in says:
        assert words in decision.reason, (words, decision.reason)
    for words in never_says:
        assert words not in decision.reason, (words, decision.reason)
    assert decision.reason.startswith("promoted" if promote else "not promoted")
