"""The likelihoods behind ``features.btyd`` and the maximiser that fits them.

Per-member log-likelihoods of BG/NBD (FHL05 eq. 6) and Gamma-Gamma (GG eq. 1a), their exact
derivatives in the parameters, and one maximiser over log-parameters for both. Kept apart from the
estimators so the models' queries read without the fitting machinery.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

import numpy as np
from numpy.typing import NDArray
from scipy.optimize import minimize
from scipy.special import betaln, digamma, expit, gammaln

Vector = NDArray[np.float64]
_LOG_BOUND: Final = 20.0  # parameters are searched in [e^-20, e^20]: keeps exp() finite
# Nelder-Mead's budget after L-BFGS-B stalls. Where the likelihood is a ridge (Gamma-Gamma's q and
# gamma growing together, tests/even_shop.py) it never converges: 20,000 iterations took 12 s per
# fit, several fits per run, before the penalised retry that does converge.
NELDER_MEAD_ITERATIONS: Final = 2_000


def bgnbd_log_likelihood(params: Vector, x: Vector, t_x: Vector, T: Vector) -> Vector:
    """Per-member log L(r, alpha, a, b | x, t_x, T), FHL05 eq. (6), summed in log space.

    The second term (dropout right after the last purchase) exists only for x > 0.
    """
    r, alpha, a, b = params
    common = gammaln(r + x) - gammaln(r) + r * np.log(alpha) - betaln(a, b)
    alive = betaln(a, b + x) - (r + x) * np.log(alpha + T)
    repeat = x > 0
    dropped = np.full_like(x, -np.inf)
    dropped[repeat] = betaln(a + 1, b + x[repeat] - 1) - (r + x[repeat]) * np.log(alpha + t_x[repeat])
    return common + np.logaddexp(alive, dropped)


def bgnbd_gradient(params: Vector, x: Vector, t_x: Vector, T: Vector) -> NDArray[np.float64]:
    """Per-member d log L / d(r, alpha, a, b) of ``bgnbd_log_likelihood``, shape (members, 4).

    log L = common + log(e^alive + e^dropped); each branch's derivative is weighted by its share
    of the sum (the dropped branch has none for x = 0). d betaln(p, q) / dp = psi(p) - psi(p + q).
    """
    r, alpha, a, b = params
    alive = betaln(a, b + x) - (r + x) * np.log(alpha + T)
    repeat = x > 0
    dropped = np.full_like(x, -np.inf)
    dropped[repeat] = betaln(a + 1, b + x[repeat] - 1) - (r + x[repeat]) * np.log(alpha + t_x[repeat])
    dropped_share = expit(dropped - alive)  # 0 where x = 0
    alive_share = 1.0 - dropped_share
    x_dropped = np.where(repeat, x, 1.0)  # keeps psi(b + x - 1) finite where the branch has no weight
    psi_abx = digamma(a + b + x)
    common = np.stack([digamma(r + x) - digamma(r) + np.log(alpha), np.full_like(x, r / alpha),
                       np.full_like(x, digamma(a + b) - digamma(a)), np.full_like(x, digamma(a + b) - digamma(b))], axis=1)
    from_alive = np.stack([-np.log(alpha + T), -(r + x) / (alpha + T), digamma(a) - psi_abx,
                           digamma(b + x) - psi_abx], axis=1)
    from_dropped = np.stack([-np.log(alpha + t_x), -(r + x) / (alpha + t_x), np.full_like(x, digamma(a + 1)) - psi_abx,
                             digamma(b + x_dropped - 1) - psi_abx], axis=1)
    return common + alive_share[:, None] * from_alive + dropped_share[:, None] * from_dropped


def gamma_gamma_log_likelihood(params: Vector, x: Vector, m_x: Vector) -> Vector:
    """Per-member log f(m_x | p, q, gamma; x), GG eq. (1a), for x > 0 and m_x > 0."""
    p, q, v = params
    px = p * x
    return (gammaln(px + q) - gammaln(px) - gammaln(q) + q * np.log(v)
            + (px - 1) * np.log(m_x) + px * np.log(x) - (px + q) * np.log(v + m_x * x))


def gamma_gamma_gradient(params: Vector, x: Vector, m_x: Vector) -> NDArray[np.float64]:
    """Per-member d log f / d(p, q, gamma) of ``gamma_gamma_log_likelihood``, shape (members, 3)."""
    p, q, v = params
    px = p * x
    psi_pxq, spent = digamma(px + q), np.log(v + m_x * x)
    return np.stack([x * (psi_pxq - digamma(px) + np.log(m_x) + np.log(x) - spent),
                     psi_pxq - digamma(q) + np.log(v) - spent,
                     q / v - (px + q) / (v + m_x * x)], axis=1)


def maximise(log_likelihood: Callable[[Vector], Vector], n_params: int,
              penalizer_coef: float = 0.0, weights: Vector | None = None,
              gradient: Callable[[Vector], NDArray[np.float64]] | None = None) -> tuple[tuple[float, ...], float]:
    """Maximise a per-member log-likelihood over log-parameters from log(1) = 0 (deterministic).

    The *mean* negative LL is minimised, so tolerances do not depend on the number of members;
    ``penalizer_coef * sum(params ** 2)`` is added to it (lifetimes' L2 penalty, on the same scale).
    L-BFGS-B usually converges; where it stalls, Nelder-Mead carries on from where it stopped.
    ``gradient`` (per-member d log L / d params, one column per parameter) gives L-BFGS-B exact
    derivatives: without it each step costs n_params + 1 likelihood evaluations of finite
    differences. Returns the parameters and the *total* (unpenalised) LL at the optimum.
    ``weights`` count the members behind each row (the mean and total are theirs).
    """
    if not penalizer_coef >= 0:
        raise ValueError(f"penalizer_coef must be >= 0, not {penalizer_coef}")

    def objective(theta: Vector) -> float:
        params = np.exp(theta)
        penalty = penalizer_coef * float(np.sum(params ** 2)) if penalizer_coef else 0.0  # 0: the plain MLE, bit for bit
        value = -_members_mean(log_likelihood(params), weights) + penalty
        return value if np.isfinite(value) else np.inf

    def objective_and_gradient(theta: Vector) -> tuple[float, Vector]:
        """The objective and its derivative in the log-parameters (d/d theta = params * d/d params)."""
        params = np.exp(theta)
        value = objective(theta)
        per_row = gradient(params) if gradient is not None and np.isfinite(value) else None
        if per_row is None or not np.isfinite(per_row).all():
            return np.inf, np.zeros_like(theta)
        mean = per_row.mean(axis=0) if weights is None else weights @ per_row / np.sum(weights)
        return value, -mean * params + 2 * penalizer_coef * params ** 2

    bounds = [(-_LOG_BOUND, _LOG_BOUND)] * n_params
    if gradient is None:
        result = minimize(objective, np.zeros(n_params), method="L-BFGS-B", bounds=bounds)
    else:
        result = minimize(objective_and_gradient, np.zeros(n_params), method="L-BFGS-B", jac=True, bounds=bounds)
    if not result.success:
        result = minimize(objective, result.x, method="Nelder-Mead", bounds=bounds,
                          options={"xatol": 1e-8, "fatol": 1e-12, "maxiter": NELDER_MEAD_ITERATIONS})
    if not (result.success and np.isfinite(result.fun)):
        raise RuntimeError(f"maximum likelihood did not converge: {result.message}")
    params = np.exp(result.x)
    per_row = log_likelihood(params)
    total = np.sum(per_row) if weights is None else np.dot(weights, per_row)
    return tuple(float(p) for p in params), float(total)


def _members_mean(per_row: Vector, weights: Vector | None) -> float:
    """The mean over members: of the rows, or weighted by the members each row stands for."""
    return float(np.mean(per_row)) if weights is None else float(np.dot(weights, per_row) / np.sum(weights))
