"""A campaign with a known effect, planted in simulated purchases: the truth the estimators are checked against.

Each member buys at their own rate (Poisson per window) with their own basket size (gamma), over
``history_windows`` windows before the start and the campaign's window. A latent trend multiplies
the rate window by window (1 for most members; rising for some). The campaign adds one purchase of
``effect`` to each contacted member of the responding segment (members whose pre-start spend is
above the median) during the window: the effect is heterogeneous, zero for the others.

Assignment:
- ``random``: a holdout of ``holdout_share``, independent of everything (a randomised campaign);
- ``score``: contacted with a probability rising with a value score from the snapshot one window
  before the start (spend up to then): the list was drawn from last month's scores, as lists often
  are. Targeting on what is observed: a doubly robust estimate can undo it, and the placebo passes;
- ``trend``: contacted when the latent trend is rising (targeting on what is not observed: nothing
  can undo it, and the placebo must say so).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Final, Literal

import numpy as np
import pandas as pd

from features.contract import AMOUNT, MEMBER_ID, TS

Assignment = Literal["random", "score", "trend"]
ASSIGNMENTS: Final = ("random", "score", "trend")


@dataclass(frozen=True)
class PlantedCampaign:
    """Simulated purchases, the campaign's members with their arm, and the effects that were planted."""

    transactions: pd.DataFrame
    members: pd.DataFrame
    assignment: Assignment
    start: date
    window_days: int
    average_effect: float  # over every member (what a randomised design estimates)
    effect_on_contacted: float  # over the contacted members (what an observational design estimates)


def simulate_campaign(members: int, assignment: Assignment, seed: int, *, effect: float = 20.0,
                      holdout_share: float = 0.5, window_days: int = 30, history_windows: int = 6,
                      start: date = date(2024, 7, 1)) -> PlantedCampaign:
    """Purchases of ``members`` members around a campaign starting on ``start`` (see the module)."""
    if assignment not in ASSIGNMENTS:
        raise ValueError(f"assignment: expected one of {ASSIGNMENTS}, got {assignment!r}")
    rng = np.random.default_rng(seed)
    rate = rng.gamma(1.5, 0.6, members)  # purchases per window
    basket = rng.gamma(3.0, 12.0, members)  # mean spend per purchase
    rising = rng.random(members) < 0.3
    trend = np.where(rising, 1.25, 1.0)
    windows = history_windows + 1  # the last one is the campaign's
    growth = trend[:, None] ** np.arange(windows)[None, :]
    counts = rng.poisson(rate[:, None] * growth)
    pre_spend = _window_spend(counts, basket, rng)
    contacted = _contacted(assignment, rng, members, holdout_share, pre_spend[:, :-2].sum(axis=1), rising)
    responds = pre_spend[:, :-1].sum(axis=1) > np.median(pre_spend[:, :-1].sum(axis=1))
    planted = np.where(responds, effect, 0.0)
    transactions = _rows(counts, basket, contacted & responds, effect, rng, start, window_days)
    ids = pd.Series([f"s{seed}-{i:06d}" for i in range(members)])
    frame = pd.DataFrame({MEMBER_ID: ids, "arm": np.where(contacted, "treatment", "control"),
                          "lifecycle_stage": np.where(responds, "active", "sleeping"),
                          "tier": np.where(basket > np.median(basket), "gold", "silver"), "is_new": False})
    transactions[MEMBER_ID] = ids.to_numpy()[transactions.pop("row")]
    return PlantedCampaign(transactions, frame, assignment, start, window_days, float(planted.mean()),
                           float(planted[contacted].mean()) if contacted.any() else 0.0)


def _window_spend(counts: np.ndarray, basket: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Expected-size spend per member and window (for assignment only; rows are drawn in ``_rows``)."""
    return counts * basket[:, None] * rng.uniform(0.95, 1.05, counts.shape)


def _contacted(assignment: Assignment, rng: np.random.Generator, members: int, holdout_share: float,
               value_score: np.ndarray, rising: np.ndarray) -> np.ndarray:
    if assignment == "random":
        return rng.random(members) >= holdout_share
    if assignment == "score":
        score = np.log1p(value_score)
        probability = 1 / (1 + np.exp(-(score - np.median(score))))
        return rng.random(members) < probability
    return rng.random(members) < np.where(rising, 0.7, 0.2)


def _rows(counts: np.ndarray, basket: np.ndarray, lifted: np.ndarray, effect: float, rng: np.random.Generator,
          start: date, window_days: int) -> pd.DataFrame:
    """One row per purchase on a random day of its window, plus the planted purchase of each lifted member."""
    member, window = np.nonzero(counts)
    repeat = counts[member, window]
    member, window = np.repeat(member, repeat), np.repeat(window, repeat)
    first_day = pd.Timestamp(start - timedelta(days=window_days * (counts.shape[1] - 1)))
    day = window * window_days + rng.integers(0, window_days, len(member))
    amount = np.round(rng.gamma(4.0, basket[member] / 4.0), 2)
    extra = np.flatnonzero(lifted)
    extra_day = (counts.shape[1] - 1) * window_days + rng.integers(0, window_days, len(extra))
    rows = pd.DataFrame({"row": np.r_[member, extra], TS: first_day + pd.to_timedelta(np.r_[day, extra_day], unit="D"),
                         AMOUNT: np.r_[amount, np.full(len(extra), effect)]})
    return rows.sort_values(TS, kind="stable").reset_index(drop=True)


def exposures(planted: PlantedCampaign, campaign: str = "simulated") -> pd.DataFrame:
    """The exposures file another system would hand over (``memberscore campaign import``): every member
    with an arm for a randomised campaign; only the contacted, without arms, for a targeted one."""
    members = planted.members
    randomised = planted.assignment == "random"
    rows = members if randomised else members[members["arm"] == "treatment"]
    frame = pd.DataFrame({"member": rows[MEMBER_ID].to_numpy(), "campaign": campaign,
                          "sent_at": pd.Timestamp(planted.start).isoformat()})
    if randomised:
        frame["arm"] = np.where(rows["arm"].to_numpy() == "treatment", "treated", "control")
    return frame


def write_planted(planted: PlantedCampaign, out: Path) -> tuple[Path, Path]:
    """Transactions at ``out`` (.csv or .parquet), the exposures and the planted truth beside it."""
    out.parent.mkdir(parents=True, exist_ok=True)
    transactions = planted.transactions[[MEMBER_ID, TS, AMOUNT]]
    transactions.to_csv(out, index=False) if out.suffix == ".csv" else transactions.to_parquet(out, index=False)
    exposures_path = out.with_name(f"{out.stem}.exposures.csv")
    exposures(planted).to_csv(exposures_path, index=False)
    truth_path = out.with_name(f"{out.stem}.truth.json")
    truth_path.write_text(json.dumps({"assignment": planted.assignment, "start": planted.start.isoformat(),
                                      "window_days": planted.window_days, "average_effect": planted.average_effect,
                                      "effect_on_contacted": planted.effect_on_contacted}, indent=2))
    return exposures_path, truth_path


def estimator_errors(planted: PlantedCampaign) -> tuple[float, float]:
    """How far the doubly robust estimate and the naive difference land from the planted effect on the
    contacted (what the planted-truth tests and ``bench/campaign_coverage.py`` both measure)."""
    from campaigns.covariates import covariates_as_of
    from campaigns.observational import doubly_robust_att
    from campaigns.outcomes import Window, member_outcomes

    frame = member_outcomes(planted.members, planted.transactions, Window(planted.start, planted.window_days))
    treated = frame["arm"].eq("treatment").to_numpy()
    covariates = covariates_as_of(frame[MEMBER_ID], planted.transactions, planted.start, planted.window_days)
    estimate = doubly_robust_att(frame["spend"].to_numpy(float), treated, covariates).effect.estimate
    naive = frame.loc[treated, "spend"].mean() - frame.loc[~treated, "spend"].mean()
    return estimate - planted.effect_on_contacted, float(naive) - planted.effect_on_contacted
