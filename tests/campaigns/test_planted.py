"""Planted truth (issue 16, item 6): simulated campaigns with a known, segment-dependent effect.

Randomised: the interval covers the planted average effect at its nominal rate. Targeted on what
is observed: the naive comparison is far off and the doubly robust estimate is not. Targeted on an
unobserved trend: the placebo (or the balance check) refuses to give a figure.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from campaigns.effect import measure
from campaigns.observational import measure_observational
from campaigns.simulate import estimator_errors, simulate_campaign
from cli.main import app


def test_a_random_campaign_plants_its_effect_on_half_the_members_and_a_holdout() -> None:
    planted = simulate_campaign(1000, "random", seed=3, holdout_share=0.2, effect=20.0)
    contacted = planted.members["arm"].eq("treatment")
    assert planted.average_effect == 10.0  # the responding segment is the upper half: 20 x 1/2
    assert 0.75 < contacted.mean() < 0.85
    assert planted.transactions["ts"].max() < np.datetime64(planted.start) + np.timedelta64(30, "D")
    with pytest.raises(ValueError, match="assignment"):
        simulate_campaign(10, "guess", seed=0)  # type: ignore[arg-type]


@pytest.mark.slow
def test_randomised_interval_covers_the_planted_effect_at_its_nominal_rate() -> None:
    seeds = range(400)
    covered = 0
    for seed in seeds:
        planted = simulate_campaign(1000, "random", seed, holdout_share=0.2)
        effect = measure(planted.members, planted.transactions, planted.start, planted.window_days, 1.0, 0.3)
        interval = effect["incremental_spend_per_member"]
        covered += interval["ci_low"] <= planted.average_effect <= interval["ci_high"]
    assert 0.93 <= covered / len(seeds) <= 0.97


@pytest.mark.slow
def test_targeting_on_observed_value_biases_the_naive_difference_but_not_the_doubly_robust_estimate() -> None:
    errors = np.array([estimator_errors(simulate_campaign(3000, "score", seed)) for seed in range(20)])
    robust, naive = errors[:, 0], errors[:, 1]
    standard_error = robust.std(ddof=1) / np.sqrt(len(robust))
    assert abs(robust.mean()) < 2.5 * standard_error  # no bias beyond the seeds' noise
    assert naive.mean() > 10 * max(abs(robust.mean()), standard_error)  # selection: far above the planted effect


@pytest.mark.slow
def test_observed_targeting_is_identified_and_an_unobserved_trend_is_not() -> None:
    observed = [measure_observational(p.members, p.transactions, p.start, p.window_days, 1.0, 0.3)
                for p in (simulate_campaign(3000, "score", seed) for seed in range(10))]
    trend = [measure_observational(p.members, p.transactions, p.start, p.window_days, 1.0, 0.3)
             for p in (simulate_campaign(3000, "trend", seed) for seed in range(10))]
    assert sum(answer["verdict"] == "identified" for answer in observed) >= 8
    refused = [answer for answer in trend if answer["verdict"] == "not identified"]
    assert len(refused) >= 9
    assert all(answer["incremental_spend_per_member"] is None and answer["roi"] is None for answer in refused)
    assert sum("placebo" in answer["reason"] for answer in refused) >= 8


def test_memberscore_simulate_writes_a_campaign_with_its_exposures_and_truth(tmp_path: Path) -> None:
    out = tmp_path / "sim.csv"
    result = CliRunner().invoke(app, ["simulate", "--members", "300", "--out", str(out), "--campaign", "random",
                                      "--days", "120", "--seed", "4"])
    assert result.exit_code == 0, result.output
    exposures = pd.read_csv(tmp_path / "sim.exposures.csv")
    truth = json.loads((tmp_path / "sim.truth.json").read_text())
    assert list(exposures.columns) == ["member", "campaign", "sent_at", "arm"] and len(exposures) == 300
    assert set(exposures["arm"]) == {"treated", "control"} and truth["start"] == "2023-04-01"
    assert truth["average_effect"] == simulate_campaign(300, "random", 4, history_windows=3,
                                                        start=date(2023, 4, 1)).average_effect
    refused = CliRunner().invoke(app, ["simulate", "--members", "5", "--out", str(out), "--campaign", "guess"])
    assert refused.exit_code == 2 and "--campaign 'guess'" in refused.output
