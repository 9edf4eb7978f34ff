"""training.promotion: the champion gate's truth table and the interval it judges.

Pinned: promote only when the paired-bootstrap interval of the challenger minus its *best*
baseline has a lower bound strictly above 0 and the challenger's metric is strictly greater than
the champion's (when there is one); an interval touching or below 0 refuses, whatever the point
estimate; a tie with the champion refuses; an undefined (NaN) challenger refuses; the reason
names the metric, the difference with its interval, and every comparison that failed. The gate
refuses to judge without the interval against the best baseline.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from features.sampling import sample_positions
from training.bootstrap import paired_bootstrap
from training.promotion import Decision, PromotionInterval, best_baseline, judge, promotion_interval
from training.resampled_metrics import GateMetric, roc_auc_by_weight

BASELINES = {"rfm_rule": {"roc_auc": 0.70, "pr_auc": 0.60}, "recency_over_gap": {"roc_auc": 0.75, "pr_auc": 0.65}}


def auc(value: float, pr: float = 0.5) -> dict[str, float]:
    return {"roc_auc": value, "pr_auc": pr}


def ci(challenger: float, low: float, high: float, baseline: str = "recency_over_gap", metric: str = "roc_auc",
       baselines: dict[str, dict[str, float]] = BASELINES) -> PromotionInterval:
    return PromotionInterval(baseline, metric, challenger, baselines[baseline][metric], low, high, 1000)


# (challenger, baselines, champion, metric, interval) -> (promote, words the reason must contain, words it must not)
TRUTH_TABLE = [
    pytest.param(auc(0.80), BASELINES, None, "roc_auc", ci(0.80, 0.01, 0.09),
                 True, ["promoted", "roc_auc 0.8000 - recency_over_gap 0.7500 = 0.0500 (95% CI 0.0100 to 0.0900) "
                        "lies above 0", "rfm_rule 0.7000", "no champion"],
                 ["not promoted"], id="beyond-noise-no-champion"),
    pytest.param(auc(0.80), BASELINES, auc(0.79), "roc_auc", ci(0.80, 0.01, 0.09),
                 True, ["promoted", "roc_auc", "champion 0.7900"], ["not promoted", "no champion"],
                 id="beyond-noise-and-beats-champion"),
    pytest.param(auc(0.80), BASELINES, None, "roc_auc", ci(0.80, -0.01, 0.11),
                 False, ["not promoted", "0.0500 (95% CI -0.0100 to 0.1100)", "not above 0", "noise"], [],
                 id="point-win-within-noise"),
    pytest.param(auc(0.75), BASELINES, None, "roc_auc", ci(0.75, 0.0, 0.0),
                 False, ["not promoted", "roc_auc 0.7500 - recency_over_gap 0.7500 = 0.0000 (95% CI 0.0000 to 0.0000)"],
                 [], id="identical-to-the-best-baseline"),
    pytest.param(auc(0.72), BASELINES, None, "roc_auc", ci(0.72, -0.06, -0.01),
                 False, ["not promoted", "roc_auc 0.7200 - recency_over_gap 0.7500 = -0.0300 (95% CI -0.0600 to -0.0100)"],
                 [], id="loses-to-the-best-baseline"),
    pytest.param(auc(0.65), BASELINES, auc(0.60), "roc_auc", ci(0.65, -0.14, -0.06),
                 False, ["not promoted", "recency_over_gap 0.7500"], [], id="loses-to-a-baseline-despite-beating-champion"),
    pytest.param(auc(0.80), BASELINES, auc(0.85), "roc_auc", ci(0.80, -0.01, 0.11),
                 False, ["not promoted: roc_auc 0.8000 - recency_over_gap", "not beyond noise; challenger roc_auc "
                         "0.8000 <= champion 0.8500"], [], id="within-noise-and-loses-to-the-champion"),
    pytest.param(auc(0.80), BASELINES, auc(0.80), "roc_auc", ci(0.80, 0.01, 0.09),
                 False, ["not promoted", "champion", "0.8000 <= champion 0.8000"], [], id="ties-the-champion"),
    pytest.param(auc(0.80), BASELINES, auc(0.85), "roc_auc", ci(0.80, 0.01, 0.09),
                 False, ["not promoted", "champion", "0.8000 <= champion 0.8500"], [], id="loses-to-the-champion"),
    pytest.param(auc(math.nan), BASELINES, None, "roc_auc", None,
                 False, ["not promoted", "roc_auc", "undefined"], [], id="nan-challenger"),
    pytest.param(auc(math.nan), BASELINES, auc(0.9), "roc_auc", None,
                 False, ["not promoted", "undefined"], [], id="nan-challenger-with-champion"),
    pytest.param(auc(0.80), BASELINES, None, "roc_auc", ci(0.80, math.nan, math.nan),
                 False, ["not promoted", "CI nan to nan"], [], id="no-defined-resample"),
    pytest.param(auc(0.60, pr=0.70), BASELINES, auc(0.90, pr=0.69), "pr_auc", ci(0.70, 0.02, 0.08, metric="pr_auc"),
                 True, ["promoted", "pr_auc 0.7000 - recency_over_gap 0.6500"], ["not promoted"],
                 id="judged-on-the-configured-metric"),
    pytest.param(auc(0.90, pr=0.62), BASELINES, None, "pr_auc", ci(0.62, -0.05, -0.01, metric="pr_auc"),
                 False, ["not promoted", "pr_auc", "recency_over_gap 0.6500"], [], id="configured-metric-loses"),
    pytest.param(auc(0.51), {}, None, "roc_auc", None,
                 True, ["promoted", "no baselines", "no champion"], ["not promoted"], id="no-baselines-no-champion"),
    pytest.param(auc(0.80), {"a": auc(math.nan)}, None, "roc_auc", None,
                 False, ["not promoted", "no baseline's roc_auc is defined"], [], id="no-defined-baseline"),
]


@pytest.mark.parametrize(
    ("challenger", "baselines", "champion", "metric", "interval", "promote", "says", "never_says"), TRUTH_TABLE
)
def test_judge_truth_table(
    challenger: dict[str, float],
    baselines: dict[str, dict[str, float]],
    champion: dict[str, float] | None,
    metric: str,
    interval: PromotionInterval | None,
    promote: bool,
    says: list[str],
    never_says: list[str],
) -> None:
    """judge() answers promote/refuse as the table says, with a reason naming what decided."""
    decision = judge(challenger, baselines, champion, metric, interval)
    assert isinstance(decision, Decision)
    assert decision.promote is promote
    for words in says:
        assert words in decision.reason, (words, decision.reason)
    for words in never_says:
        assert words not in decision.reason, (words, decision.reason)
    assert decision.reason.startswith("promoted" if promote else "not promoted")
    assert decision.interval == interval


@pytest.mark.parametrize("interval", [None, ci(0.8, 0.01, 0.09, baseline="rfm_rule"), ci(0.8, 0.01, 0.09, metric="pr_auc")],
                         ids=["missing", "not-the-best-baseline", "another-metric"])
def test_judge_needs_the_interval_against_the_best_baseline(interval: PromotionInterval | None) -> None:
    with pytest.raises(ValueError, match=r"best baseline \(recency_over_gap, roc_auc\)"):
        judge(auc(0.8), BASELINES, None, "roc_auc", interval)


def test_best_baseline_skips_undefined_and_keeps_the_first_of_a_tie() -> None:
    assert best_baseline(BASELINES, "roc_auc") == "recency_over_gap"
    assert best_baseline({"a": auc(0.7), "b": auc(0.7), "c": auc(math.nan)}, "roc_auc") == "a"
    assert best_baseline({"c": auc(math.nan)}, "roc_auc") is None


def test_promotion_interval_resamples_the_model_against_the_best_baseline() -> None:
    """Tiny assessment: the model ranks perfectly, the best baseline is a coin, a weaker one reverses.
    The interval is against the best baseline; its difference is the out-of-time one; decision
    metrics and document carry it."""
    rng = np.random.default_rng(0)
    labels = (rng.random(120) < 0.4).astype(int)
    predictions = {"model": labels + 0.1 * rng.random(120), "coin": rng.random(120), "reversed": -labels + 0.0}
    out_of_time = {name: {"roc_auc": float(roc_auc_by_weight(labels, p)(np.ones((1, 120)))[0])}
                   for name, p in predictions.items()}
    interval = promotion_interval(out_of_time, predictions, GateMetric(roc_auc_by_weight, (labels,)), "roc_auc", 200, 7)
    assert interval is not None and interval.baseline == "coin" and interval.rounds == 200
    assert interval.difference == out_of_time["model"]["roc_auc"] - out_of_time["coin"]["roc_auc"]
    assert 0 < interval.low < interval.difference < interval.high
    assert promotion_interval(out_of_time, predictions, GateMetric(roc_auc_by_weight, (labels,)), "roc_auc", 200, 7) == interval
    baselines = {k: v for k, v in out_of_time.items() if k != "model"}
    decision = judge(out_of_time["model"], baselines, None, "roc_auc", interval)
    assert decision.promote is True
    assert decision.metrics() == {"oot_gate_diff": interval.difference, "oot_gate_diff_low": interval.low,
                                  "oot_gate_diff_high": interval.high, "oot_gate_rounds": 200.0}
    assert decision.to_dict()["promotion_interval"] == {
        "baseline": "coin", "metric": "roc_auc", "model": out_of_time["model"]["roc_auc"],
        "baseline_value": out_of_time["coin"]["roc_auc"], "low": interval.low, "high": interval.high,
        "rounds": 200, "level": 0.95, "sample_rows": None, "difference": interval.difference}


def test_a_sampled_interval_resamples_only_the_drawn_rows_and_says_so() -> None:
    """With max_rows the rounds draw from a seeded sample of the rows: the interval is the one the
    sampled rows alone give (same seed), the point difference stays every row's, and it is named."""
    rng = np.random.default_rng(4)
    labels = (rng.random(3_000) < 0.4).astype(int)
    predictions = {"model": labels + rng.random(3_000), "coin": rng.random(3_000)}
    out_of_time = {name: {"roc_auc": float(roc_auc_by_weight(labels, p)(np.ones((1, 3_000)))[0])}
                   for name, p in predictions.items()}
    gate = GateMetric(roc_auc_by_weight, (labels,))
    sampled = promotion_interval(out_of_time, predictions, gate, "roc_auc", 150, 7, max_rows=500)
    rows = sample_positions(3_000, 500, 7)
    assert rows is not None
    alone = paired_bootstrap(roc_auc_by_weight(labels[rows], predictions["model"][rows]),
                             roc_auc_by_weight(labels[rows], predictions["coin"][rows]), 500, 150, 7)
    assert sampled is not None and (sampled.low, sampled.high, sampled.rounds) == (alone.low, alone.high, alone.rounds)
    assert sampled.sample_rows == 500 and "on a sample of 500 rows" in sampled.describe()
    assert sampled.difference == out_of_time["model"]["roc_auc"] - out_of_time["coin"]["roc_auc"]
    every = promotion_interval(out_of_time, predictions, gate, "roc_auc", 150, 7)
    assert every is not None and every.sample_rows is None and "sample" not in every.describe()
    assert promotion_interval(out_of_time, predictions, gate, "roc_auc", 150, 7, max_rows=3_000) == every
    assert sampled.high - sampled.low > every.high - every.low  # fewer rows: a wider interval


def test_a_model_identical_to_its_best_baseline_is_not_promoted() -> None:
    labels = np.array([0, 1, 0, 1, 1, 0, 0, 1])
    scores = np.array([0.1, 0.9, 0.3, 0.2, 0.8, 0.4, 0.6, 0.7])
    predictions = {"model": scores, "same": scores.copy()}
    out_of_time = {"model": {"roc_auc": 0.75}, "same": {"roc_auc": 0.75}}
    interval = promotion_interval(out_of_time, predictions, GateMetric(roc_auc_by_weight, (labels,)), "roc_auc", 100, 1)
    assert interval is not None and (interval.low, interval.high) == (0.0, 0.0)
    assert judge(out_of_time["model"], {"same": out_of_time["same"]}, None, "roc_auc", interval).promote is False
    assert promotion_interval({"model": {"roc_auc": 0.7}}, {"model": scores}, GateMetric(roc_auc_by_weight, (labels,)),
                              "roc_auc", 100, 1) is None
