"""The campaign estimators on planted truth, at a size CI cannot afford (tests/campaigns/test_planted.py is the small run).

Randomised: how often the 95% interval covers the planted average effect. Targeted on an observed
score: the naive difference's and the doubly robust estimate's mean error. Targeted on an unobserved
trend: how often the observational verdict refuses. Each share with its Wilson 95% interval.
Writes bench/results_campaign_coverage.md. Usage (from the repo root):

    .venv/bin/python -m bench.campaign_coverage [--seeds 2000] [--targeted-seeds 200]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from scipy import stats

from campaigns.effect import measure
from campaigns.observational import measure_observational
from campaigns.simulate import estimator_errors, simulate_campaign

REPO = Path(__file__).resolve().parents[1]


def wilson(successes: int, trials: int, level: float = 0.95) -> tuple[float, float]:
    z = float(stats.norm.ppf(0.5 + level / 2))
    share = successes / trials
    centre = (share + z**2 / (2 * trials)) / (1 + z**2 / trials)
    half = z * np.sqrt(share * (1 - share) / trials + z**2 / (4 * trials**2)) / (1 + z**2 / trials)
    return centre - half, centre + half


def randomised_coverage(seeds: int) -> tuple[int, int]:
    covered = 0
    for seed in range(seeds):
        planted = simulate_campaign(1000, "random", seed, holdout_share=0.2)
        found = measure(planted.members, planted.transactions, planted.start, planted.window_days, 1.0, 0.3)
        interval = found["incremental_spend_per_member"]
        covered += interval["ci_low"] <= planted.average_effect <= interval["ci_high"]
    return covered, seeds


def targeted_errors(seeds: int) -> np.ndarray:
    """Per seed: (doubly robust - truth, naive - truth) under targeting on an observed score."""
    return np.array([estimator_errors(simulate_campaign(3000, "score", seed)) for seed in range(seeds)])


def verdicts(assignment: str, seeds: int) -> int:
    """Seeds whose observational verdict is "identified"."""
    identified = 0
    for seed in range(seeds):
        planted = simulate_campaign(3000, assignment, seed)  # type: ignore[arg-type]
        found = measure_observational(planted.members, planted.transactions, planted.start, planted.window_days, 1.0, 0.3)
        identified += found["verdict"] == "identified"
    return identified


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=2000)
    parser.add_argument("--targeted-seeds", type=int, default=200)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results_campaign_coverage.md")
    args = parser.parse_args()
    started = time.perf_counter()
    covered, trials = randomised_coverage(args.seeds)
    errors = targeted_errors(args.targeted_seeds)
    on_score, on_trend = verdicts("score", args.targeted_seeds), verdicts("trend", args.targeted_seeds)
    n = args.targeted_seeds
    mean_error = lambda e: f"{e.mean():+.2f} (se {e.std(ddof=1) / np.sqrt(len(e)):.2f})"  # noqa: E731
    share = lambda k, t: f"{k / t:.1%} (Wilson 95%: {wilson(k, t)[0]:.1%} to {wilson(k, t)[1]:.1%})"  # noqa: E731
    lines = ["# Campaign estimators on planted truth", "",
             f"`python -m bench.campaign_coverage --seeds {args.seeds} --targeted-seeds {n}` "
             f"({time.perf_counter() - started:.0f} s). Simulated shops (campaigns/simulate.py): a +20 effect on the "
             "upper half by pre-start spend, so the planted average effect is 10.", "",
             "| check | result |", "|---|---|",
             f"| randomised, 1,000 members, 20% holdout: 95% interval covers the planted effect | {share(covered, trials)} over {trials} seeds |",
             f"| targeted on an observed score, 3,000 members: mean error of the doubly robust estimate | {mean_error(errors[:, 0])} over {n} seeds |",
             f"| same: mean error of the naive difference | {mean_error(errors[:, 1])} |",
             f"| targeted on an observed score: verdict identified | {share(on_score, n)} |",
             f"| targeted on an unobserved trend: verdict identified (should be rare) | {share(on_trend, n)} |", ""]
    args.out.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
