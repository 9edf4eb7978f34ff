"""The effect of a randomised treatment on a member-level outcome, adjusted for a pre-period covariate.

Lin's (2013) regression adjustment: ``y ~ 1 + t + (x - mean x) + t (x - mean x)``. The coefficient of
``t`` is the average effect; centring makes it so, and the interaction keeps the adjustment from
ever costing precision in large samples, whatever the arms' sizes. This is CUPED with a slope per
arm. Standard errors are HC2 (leverage-corrected sandwich): with no covariate they equal Neyman's
``sqrt(s1^2/n1 + s0^2/n0)`` exactly, the textbook variance of a difference in means under
randomisation. Intervals use Student's t with the residual degrees of freedom.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

LEVEL = 0.95


@dataclass(frozen=True)
class Interval:
    """A point estimate with its two-sided interval at ``LEVEL``."""

    estimate: float
    ci_low: float
    ci_high: float

    def scaled(self, factor: float, shift: float = 0.0) -> Interval:
        """``factor * value + shift`` of the estimate and both ends (a linear map keeps the interval exact)."""
        ends = sorted((factor * self.ci_low + shift, factor * self.ci_high + shift))
        return Interval(factor * self.estimate + shift, ends[0], ends[1])

    @property
    def excludes_zero(self) -> bool:
        return self.ci_low > 0 or self.ci_high < 0

    def as_dict(self, digits: int = 4) -> dict[str, float]:
        return {"estimate": round(self.estimate, digits), "ci_low": round(self.ci_low, digits),
                "ci_high": round(self.ci_high, digits)}


def design_matrix(treated: np.ndarray, covariate: np.ndarray | None) -> np.ndarray:
    """Columns ``1, t`` and, for an informative covariate, ``x - mean x`` and ``t (x - mean x)``."""
    t = treated.astype("float64")
    columns = [np.ones_like(t), t]
    if covariate is not None and np.ptp(covariate) > 0:
        centred = covariate.astype("float64") - covariate.mean()
        columns += [centred, t * centred]
    return np.column_stack(columns)


def hc2_covariance(design: np.ndarray, residuals: np.ndarray) -> np.ndarray:
    """The HC2 sandwich: each squared residual divided by ``1 - leverage``."""
    bread = np.linalg.inv(design.T @ design)
    leverage = np.einsum("ij,jk,ik->i", design, bread, design)
    weights = residuals**2 / np.clip(1.0 - leverage, 1e-12, None)
    meat = (design * weights[:, None]).T @ design
    return bread @ meat @ bread


def treatment_effect(outcome: np.ndarray, treated: np.ndarray, covariate: np.ndarray | None = None) -> Interval:
    """The average effect of ``treated`` on ``outcome`` with its interval (see the module).

    Needs at least two members per arm (a variance per arm); callers refuse smaller samples first.
    """
    treated = np.asarray(treated, dtype=bool)
    if min(treated.sum(), (~treated).sum()) < 2:
        raise ValueError("an effect needs at least two members in each arm")
    design = design_matrix(treated, covariate)
    coefficients, *_ = np.linalg.lstsq(design, outcome.astype("float64"), rcond=None)
    residuals = outcome - design @ coefficients
    standard_error = float(np.sqrt(hc2_covariance(design, residuals)[1, 1]))
    quantile = float(stats.t.ppf(0.5 + LEVEL / 2, df=max(len(outcome) - design.shape[1], 1)))
    effect = float(coefficients[1])
    return Interval(effect, effect - quantile * standard_error, effect + quantile * standard_error)
