"""Qini coefficient and uplift at k% of a ranking on randomised rows, plain and on bootstrap resamples.

One implementation: every metric is written on row weights (a bootstrap resample is the same rows
with integer weights, as in ``training.resampled_metrics``), and the plain metric is the weighted
one with weights of one. Rows tied on the score form one group that is entered together (pro rata
at a cut), so a constant score ranks like a random order on average and gets a Qini of exactly 0.

Definitions (Radcliffe's Qini curve, incremental outcomes per member of the population):

- Qini curve at the end of each tie group, with ``Y_T``, ``N_T`` (``Y_C``, ``N_C``) the outcome sum and
  count of treated (control) rows ranked so far: ``q = (Y_T - Y_C * N_T / N_C) / N`` (the control
  term is 0 while no control row is ranked yet), drawn against the share of rows ranked ``x``.
- Qini coefficient: the area between that curve (straight between groups) and the random line
  from (0, 0) to (1, q(1)); in outcome units per member, 0 for a random or constant ranking.
- Uplift at k: mean outcome of treated minus mean outcome of control among the top share k.
"""

from __future__ import annotations

import numpy as np

from training.resampled_metrics import RowWeightMetric, _ratio, _rows, _TieGroups


def _validated(outcome: np.ndarray, treated: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, ...]:
    outcome, score = np.asarray(outcome, dtype=float), np.asarray(score, dtype=float)
    treated = np.asarray(treated)
    if not (outcome.ndim == 1 and outcome.shape == treated.shape == score.shape):
        raise ValueError(f"outcome, treated and score must be 1-D of one length; got {outcome.shape}, "
                         f"{treated.shape}, {score.shape}")
    if not np.isin(treated, (0, 1)).all():
        raise ValueError("treated must be 0/1 (or boolean)")
    if not (np.isfinite(outcome).all() and np.isfinite(score).all()):
        raise ValueError("outcome and score must be finite")
    return outcome, treated.astype(bool), score


class _ArmSums:
    """Per tie group (highest score first), per resample: counts and outcome sums of each arm."""

    def __init__(self, outcome: np.ndarray, treated: np.ndarray, score: np.ndarray) -> None:
        self.outcome, self.treated = outcome, treated
        self.groups = _TieGroups(-score)
        self.n = len(score)

    def __call__(self, weights: np.ndarray) -> tuple[np.ndarray, ...]:
        weights = _rows(weights, self.n)
        wt, wc = weights * self.treated, weights * ~self.treated
        g = self.groups.sums
        return g(wt), g(wt * self.outcome), g(wc), g(wc * self.outcome)


def qini_by_weight(outcome: np.ndarray, treated: np.ndarray, score: np.ndarray) -> RowWeightMetric:
    """The Qini coefficient of ranking by ``score`` (higher first), one per resample: NaN when a
    resample lacks an arm."""
    sums = _ArmSums(*_validated(outcome, treated, score))

    def metric(weights: np.ndarray) -> np.ndarray:
        n_t, y_t, n_c, y_c = (np.cumsum(s, axis=1) for s in sums(weights))
        total = n_t[:, -1] + n_c[:, -1]
        control_term = np.nan_to_num(_ratio(y_c * n_t, n_c))  # 0 before the first control row
        q = np.hstack([np.zeros((len(total), 1)), (y_t - control_term) / total[:, None]])
        x = np.hstack([np.zeros((len(total), 1)), (n_t + n_c) / total[:, None]])
        area = (np.diff(x, axis=1) * (q[:, 1:] + q[:, :-1]) / 2).sum(axis=1)
        defined = (n_t[:, -1] > 0) & (n_c[:, -1] > 0)
        return np.where(defined, area - q[:, -1] / 2, np.nan)

    return metric


def uplift_at_by_weight(outcome: np.ndarray, treated: np.ndarray, score: np.ndarray, share: float) -> RowWeightMetric:
    """Uplift among the top ``share`` of rows by ``score``, one per resample (the tie group at the
    cut enters pro rata): NaN when the top share lacks an arm."""
    if not 0 < share <= 1:
        raise ValueError(f"share must be in (0, 1]; got {share}")
    sums = _ArmSums(*_validated(outcome, treated, score))

    def metric(weights: np.ndarray) -> np.ndarray:
        n_t, y_t, n_c, y_c = sums(weights)
        count = n_t + n_c
        before = np.cumsum(count, axis=1) - count
        cut = share * count.sum(axis=1, keepdims=True)
        taken = np.clip(_ratio(cut - before, count), 0, 1)
        taken = np.nan_to_num(taken)  # an empty group (all its rows undrawn) adds nothing
        return (_ratio((taken * y_t).sum(axis=1), (taken * n_t).sum(axis=1))
                - _ratio((taken * y_c).sum(axis=1), (taken * n_c).sum(axis=1)))

    return metric


def qini(outcome: np.ndarray, treated: np.ndarray, score: np.ndarray) -> float:
    """The Qini coefficient of ranking the rows by ``score`` (see the module docstring)."""
    return float(qini_by_weight(outcome, treated, score)(np.ones((1, len(score))))[0])


def uplift_at(outcome: np.ndarray, treated: np.ndarray, score: np.ndarray, share: float) -> float:
    """Treated minus control mean outcome among the top ``share`` of rows by ``score``."""
    return float(uplift_at_by_weight(outcome, treated, score, share)(np.ones((1, len(score))))[0])
