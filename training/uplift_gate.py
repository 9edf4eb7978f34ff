"""The uplift gate: an uplift model serves only if it ranks responders better than what we have.

On held-out randomised rows, its Qini coefficient must beat every baseline ranking (the outcome
model alone, the campaign's current score) with the 95% paired-bootstrap interval of the
difference above 0, and a current champion by point estimate. Uplift at 10% and 30% is reported
beside, each ranking's metrics with their own bootstrap intervals.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from training.bootstrap import paired_bootstrap
from training.promotion import Decision, PromotionInterval
from training.resampled_metrics import RowWeightMetric
from training.uplift_metrics import qini_by_weight, uplift_at_by_weight

SHARES = {"uplift_at_10": 0.1, "uplift_at_30": 0.3}
GATE_METRIC = "qini"


def _zero(weights: np.ndarray) -> np.ndarray:
    return np.zeros(len(np.atleast_2d(weights)))


def _with_interval(name: str, metric: RowWeightMetric, n: int, rounds: int, seed: int) -> dict[str, float]:
    """The metric on the rows and its percentile bootstrap interval (the paired bootstrap against 0)."""
    interval = paired_bootstrap(metric, _zero, n, rounds, seed)
    return {name: float(metric(np.ones((1, n)))[0]), f"{name}_low": interval.low, f"{name}_high": interval.high}


def ranking_metrics(outcome: np.ndarray, treated: np.ndarray, score: np.ndarray,
                    rounds: int = 500, seed: int = 7) -> dict[str, float]:
    """Qini and uplift at 10% / 30% of one ranking, each with its 95% bootstrap interval."""
    n = len(score)
    found = _with_interval(GATE_METRIC, qini_by_weight(outcome, treated, score), n, rounds, seed)
    for name, share in SHARES.items():
        found |= _with_interval(name, uplift_at_by_weight(outcome, treated, score, share), n, rounds, seed)
    return found


def qini_interval(outcome: np.ndarray, treated: np.ndarray, model: np.ndarray, baseline: np.ndarray,
                  baseline_name: str, rounds: int = 500, seed: int = 7) -> PromotionInterval:
    """Model minus baseline Qini on the same resampled rows."""
    model_metric = qini_by_weight(outcome, treated, model)
    baseline_metric = qini_by_weight(outcome, treated, baseline)
    interval = paired_bootstrap(model_metric, baseline_metric, len(model), rounds, seed)
    ones = np.ones((1, len(model)))
    return PromotionInterval(baseline_name, GATE_METRIC, float(model_metric(ones)[0]),
                             float(baseline_metric(ones)[0]), interval.low, interval.high, interval.rounds)


def judge_uplift(outcome: np.ndarray, treated: np.ndarray, model: np.ndarray,
                 baselines: Mapping[str, np.ndarray], champion: np.ndarray | None = None,
                 rounds: int = 500, seed: int = 7) -> tuple[Decision, list[PromotionInterval]]:
    """Promote only if the model's Qini beats every baseline beyond noise and the champion by point
    estimate. The decision carries the tightest interval (lowest lower bound); all are returned."""
    if not baselines:
        raise ValueError("the uplift gate needs at least one baseline ranking (the outcome model alone)")
    intervals = [qini_interval(outcome, treated, model, score, name, rounds, seed) for name, score in baselines.items()]
    tightest = min(intervals, key=lambda i: i.low if np.isfinite(i.low) else -np.inf)
    failed = [f"{i.describe()}: the lower bound is not above 0" for i in intervals if not i.low > 0]
    if champion is not None:
        model_q, champion_q = intervals[0].model, float(qini_by_weight(outcome, treated, champion)(
            np.ones((1, len(champion))))[0])
        if not model_q > champion_q:
            failed.append(f"challenger qini {model_q:.4f} <= champion {champion_q:.4f}")
    if failed:
        return Decision(False, "not promoted: " + "; ".join(failed), tightest), intervals
    beaten = "; ".join(i.describe() for i in intervals)
    return Decision(True, f"promoted: every interval lies above 0 ({beaten})", tightest), intervals


def comparison_metrics(intervals: list[PromotionInterval]) -> dict[str, float]:
    """The gate's comparisons as flat MLflow metrics, e.g. ``qini_diff_outcome_model_low``."""
    found: dict[str, float] = {}
    for i in intervals:
        found |= {f"qini_diff_{i.baseline}": i.difference, f"qini_diff_{i.baseline}_low": i.low,
                  f"qini_diff_{i.baseline}_high": i.high}
    return found
