"""The effect of a campaign that had no holdout: a doubly robust estimate that must pass two checks first.

Targeted campaigns pick members who would have bought more anyway, so the naive difference is
mostly selection. With no control arm the effect is identified only if targeting depended on what
was observed at the start. The estimate is the effect on the targeted (ATT: what the campaign
brought those it reached), doubly robust (AIPW with Hajek weights; right if either the propensity
model or the outcome model is), cross-fitted so neither model scores the rows it was fitted on,
on members whose propensity lies in ``TRIM`` (overlap). It is reported only when, after
weighting, every covariate is balanced (|SMD| <= ``MAX_ABS_SMD``) and the same estimate at a
placebo start one window earlier, before anything was sent, has an interval that covers zero. A
placebo effect means targeting followed something unobserved (a trend): then "not identified".
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Final

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import StratifiedKFold

from campaigns.covariates import covariates_as_of, standardised_mean_differences
from campaigns.effect import MIN_PER_ARM, TREATMENT, arm_summary, not_identified, valued
from campaigns.estimate import LEVEL, Interval
from campaigns.outcomes import Window, member_outcomes, spend_between
from features.contract import MEMBER_ID, TS

TRIM: Final = (0.05, 0.95)  # propensities outside: no comparable member in the other group
MAX_ABS_SMD: Final = 0.1
FOLDS: Final = 5


@dataclass(frozen=True)
class DoublyRobust:
    """An ATT with its interval, the propensities, which rows were kept, and the controls' weights."""

    effect: Interval
    propensity: np.ndarray
    kept: np.ndarray
    control_weights: np.ndarray


def model_inputs(covariates: pd.DataFrame) -> np.ndarray:
    """Standardised signed log1p of each covariate, beside the standardised raw values (spend is skewed)."""
    raw = covariates.to_numpy(float)
    both = np.hstack([np.sign(raw) * np.log1p(np.abs(raw)), raw])
    spread = both.std(axis=0)
    return (both - both.mean(axis=0)) / np.where(spread > 0, spread, 1.0)


def cross_fitted(inputs: np.ndarray, treated: np.ndarray, outcome: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Out-of-fold P(targeted | X) and E[outcome | X, not targeted]."""
    propensity, untreated_outcome = np.empty(len(outcome)), np.empty(len(outcome))
    folds = StratifiedKFold(n_splits=FOLDS, shuffle=True, random_state=seed)
    for fit_rows, score_rows in folds.split(inputs, treated):
        classifier = LogisticRegression(C=1.0, max_iter=2000).fit(inputs[fit_rows], treated[fit_rows])
        propensity[score_rows] = classifier.predict_proba(inputs[score_rows])[:, 1]
        controls = fit_rows[~treated[fit_rows]]
        regression = Ridge(alpha=1.0).fit(inputs[controls], outcome[controls])
        untreated_outcome[score_rows] = regression.predict(inputs[score_rows])
    return propensity, untreated_outcome


def doubly_robust_att(outcome: np.ndarray, treated: np.ndarray, covariates: pd.DataFrame, seed: int = 0) -> DoublyRobust:
    """AIPW effect on the targeted, on the rows within ``TRIM``, with an influence-function interval."""
    propensity, predicted = cross_fitted(model_inputs(covariates), treated, outcome, seed)
    kept = (propensity >= TRIM[0]) & (propensity <= TRIM[1])
    t, y, m0, e = treated[kept], outcome[kept], predicted[kept], propensity[kept]
    weights = e[~t] / (1 - e[~t])
    residual = y - m0
    treated_part = residual[t].mean()
    control_part = np.average(residual[~t], weights=weights)
    effect = float(treated_part - control_part)
    influence = np.zeros(len(y))  # each row's pull on the estimate; the models' own error is left out
    influence[t] = (residual[t] - treated_part) / t.mean()
    influence[~t] = -weights * (residual[~t] - control_part) / (weights.sum() / len(y))
    standard_error = float(np.sqrt(np.mean(influence**2) / len(y)))
    quantile = float(stats.norm.ppf(0.5 + LEVEL / 2))
    return DoublyRobust(Interval(effect, effect - quantile * standard_error, effect + quantile * standard_error),
                        propensity, kept, weights)


def with_untargeted(targeted: pd.DataFrame, transactions: pd.DataFrame, start: date) -> pd.DataFrame:
    """The targeted members beside every other member who had bought before ``start`` (the comparison group)."""
    before = transactions[transactions[TS] < pd.Timestamp(start)]
    others = sorted(set(before[MEMBER_ID].astype(str)) - set(targeted[MEMBER_ID].astype(str)))
    untargeted = pd.DataFrame({MEMBER_ID: others, "arm": "control"})
    return pd.concat([targeted.assign(arm=TREATMENT), untargeted], ignore_index=True)


def measure_observational(members: pd.DataFrame, transactions: pd.DataFrame, start: date, window_days: int,
                          cost_per_contact: float, margin_rate: float, seed: int = 0) -> dict[str, Any]:
    """An observational campaign's effect, or "not identified" with the checks that failed (see the module).

    ``members`` holds the targeted (arm ``treatment``) and the untargeted (``control``) members.
    """
    window = Window(start, window_days)
    frame = member_outcomes(members, transactions, window)
    treated = frame["arm"].eq(TREATMENT).to_numpy()
    answer: dict[str, Any] = {"design": "observational", "estimand": "effect on the targeted (ATT), doubly robust",
                              "window": {"start": start.isoformat(), "days": window_days}, "level": LEVEL,
                              **arm_summary(frame, treated)}
    problem = not_identified(treated, window, transactions, groups=("targeted", "untargeted"))
    if problem:
        return {**answer, **_no_figure(problem)}
    covariates = covariates_as_of(frame[MEMBER_ID], transactions, start, window_days)
    main = doubly_robust_att(frame["spend"].to_numpy(float), treated, covariates, seed)
    placebo = _placebo(frame, treated, transactions, window, seed)
    balance = _balance(covariates, treated, main)
    answer.update(_diagnostics(frame, treated, main, placebo, balance))
    reasons = _failed_checks(treated, main, placebo, balance)
    if reasons:
        return {**answer, **_no_figure("; ".join(reasons))}
    values = valued(main.effect, int(treated[main.kept].sum()), cost_per_contact, margin_rate)
    return {**answer, **values, "verdict": "identified",
            "summary": (f"Targeted members spent {main.effect.estimate:,.2f} more each over {window_days} days than "
                        f"comparable untargeted members ({LEVEL:.0%} interval {main.effect.ci_low:,.2f} to "
                        f"{main.effect.ci_high:,.2f}); balance and placebo checks passed.")}


def _placebo(frame: pd.DataFrame, treated: np.ndarray, transactions: pd.DataFrame, window: Window,
             seed: int) -> DoublyRobust:
    """The same estimate one window earlier: the window before the start, covariates as of its start."""
    earlier = window.earlier()
    outcome = spend_between(transactions, frame[MEMBER_ID], earlier.start, earlier.end)
    covariates = covariates_as_of(frame[MEMBER_ID], transactions, earlier.start, window.days)
    return doubly_robust_att(outcome, treated, covariates, seed)


def _balance(covariates: pd.DataFrame, treated: np.ndarray, main: DoublyRobust) -> list[dict[str, Any]]:
    before = standardised_mean_differences(covariates, treated)
    kept = covariates[main.kept]
    after = standardised_mean_differences(kept, treated[main.kept], main.control_weights)
    return [{"covariate": name, "smd_before": round(before[name], 3), "smd_after": round(after[name], 3)}
            for name in covariates.columns]


def _diagnostics(frame: pd.DataFrame, treated: np.ndarray, main: DoublyRobust, placebo: DoublyRobust,
                 balance: list[dict[str, Any]]) -> dict[str, Any]:
    spend = frame["spend"].to_numpy(float)
    return {"trimming": {"rule": f"propensity in [{TRIM[0]}, {TRIM[1]}]", "dropped": int((~main.kept).sum())},
            "balance": balance, "max_abs_smd_after": max(abs(row["smd_after"]) for row in balance),
            "placebo": {"estimate": placebo.effect.as_dict(), "passes": not placebo.effect.excludes_zero},
            "naive_difference_not_an_effect": round(float(spend[treated].mean() - spend[~treated].mean()), 4)}


def _failed_checks(treated: np.ndarray, main: DoublyRobust, placebo: DoublyRobust,
                   balance: list[dict[str, Any]]) -> list[str]:
    reasons = []
    unbalanced = [row["covariate"] for row in balance if abs(row["smd_after"]) > MAX_ABS_SMD]
    if unbalanced:
        reasons.append(f"covariates unbalanced after weighting (|SMD| > {MAX_ABS_SMD}): {', '.join(unbalanced)}")
    if placebo.effect.excludes_zero:
        reasons.append("the placebo (the same estimate one window before the start) is not zero: targeting "
                       "followed something the covariates do not hold")
    if min(treated[main.kept].sum(), (~treated[main.kept]).sum()) < MIN_PER_ARM:
        reasons.append(f"fewer than {MIN_PER_ARM} members per group after trimming to overlap")
    return reasons


def _no_figure(reason: str) -> dict[str, Any]:
    return {"verdict": "not identified", "reason": reason, "incremental_spend_per_member": None,
            "incremental_revenue": None, "incremental_margin": None, "roi": None}
