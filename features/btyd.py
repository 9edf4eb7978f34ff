"""Buy-till-you-die models: BG/NBD for how often a member will buy, Gamma-Gamma for how much.

Both are small, exact maximum-likelihood implementations (numpy + scipy only), fitted on a
training window's RFM summary (``summarise_purchases``) and queried per member. Math uses the
papers' symbols (x, t_x, T, r, alpha, a, b, p, q, gamma) with the equation cited:

- BG/NBD: Fader, Hardie & Lee (2005), "Counting your customers the easy way: An alternative to
  the Pareto/NBD model", Marketing Science 24(2), 275-284 ("FHL05" below).
- P(alive): Fader, Hardie & Lee (2008), "Computing P(alive) using the BG/NBD model" (note 021).
- Gamma-Gamma: Fader, Hardie & Lee (2005), "RFM and CLV: Using iso-value curves", JMR 42(4),
  and Fader & Hardie (2013), "The Gamma-Gamma model of monetary value" (note 025, "GG" below).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Final, Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import minimize
from scipy.special import betaln, expit, gammaln, hyp2f1
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from features import contract

NET: Final = "net"  # a purchase's net amount, as features.purchases names it
_LOG_BOUND: Final = 20.0  # parameters are searched in [e^-20, e^20]: keeps exp() finite
# Nelder-Mead's budget after L-BFGS-B stalls. Where the likelihood is a ridge (Gamma-Gamma's q and
# gamma growing together, tests/even_shop.py) it never converges: 20,000 iterations took 12 s per
# fit, several fits per run, before the penalised retry that does converge.
NELDER_MEAD_ITERATIONS: Final = 2_000

Vector = NDArray[np.float64]


def summarise_purchases(purchases: pd.DataFrame, as_of: date, *, calibration_start: date | None = None,
                        time_unit_days: float = 7.0,
                        observation_end: Literal["as_of", "last_day"] = "as_of") -> pd.DataFrame:
    """The RFM summary the BG/NBD and Gamma-Gamma models are fitted on, one row per member.

    ``purchases`` holds one row per purchase *occasion* (member_id, ts, net): already netted and
    grouped by the caller (``features.purchases.purchases``: an order, or a member-day without
    order ids, with net > 0). Uses rows with ``calibration_start <= ts < as_of``. Columns:
    ``frequency`` x = occasions - 1 (repeat purchases); ``recency`` t_x = last - first occasion;
    ``T`` = end of observation - first occasion (both in units of ``time_unit_days``); and
    ``monetary_value`` = mean net of the *repeat* occasions, 0 when x = 0 (GG, as in lifetimes).

    ``observation_end`` says where T ends:

    - ``"as_of"`` (default, the project convention): at ``as_of`` itself, the exclusive end of
      history. Right for timestamps with a time of day.
    - ``"last_day"``: for day-stamped data, everything is put on the day grid. Timestamps are
      floored to days and T ends at the start of the last observed day, ``as_of - 1 day``, so a
      purchase on that day has t_x = T. This is what Fader & Hardie's spreadsheets and lifetimes'
      ``observation_period_end`` do, and only it reproduces the published CDNOW fit (LL -9582.43;
      ``"as_of"`` gives -9589.89 and a, b about 2-3% off).

    Members whose history starts before ``calibration_start`` are summarised as if it started
    there (left truncation); the models assume they see each member from the first purchase.
    """
    window = _occasions_in_window(purchases, calibration_start, as_of)
    times, end = window[contract.TS], pd.Timestamp(as_of)
    if observation_end == "last_day":
        times, end = times.dt.floor("D"), end - pd.Timedelta(days=1)
    elif observation_end != "as_of":
        raise ValueError(f"observation_end must be 'as_of' or 'last_day', not {observation_end!r}")
    if not time_unit_days > 0:
        raise ValueError(f"time_unit_days must be positive, not {time_unit_days}")
    frame = pd.DataFrame({contract.MEMBER_ID: window[contract.MEMBER_ID], "t": times, NET: window[NET]})
    frame = frame.sort_values([contract.MEMBER_ID, "t", NET], kind="stable")
    by_member = frame.groupby(contract.MEMBER_ID, sort=True)
    first, unit = by_member["t"].min(), pd.Timedelta(days=time_unit_days)
    repeat_net = frame[NET].where(by_member.cumcount() > 0)
    summary = pd.DataFrame({
        "frequency": (by_member.size() - 1).astype("int64"),
        # pandas-stubs type Series[Timedelta] / Timedelta as unsupported; pandas divides exactly in ns
        "recency": ((by_member["t"].max() - first) / unit).astype("float64"),  # type: ignore[operator]
        "T": ((end - first) / unit).astype("float64"),  # type: ignore[operator]
        "monetary_value": repeat_net.groupby(frame[contract.MEMBER_ID]).mean().fillna(0.0).astype("float64"),
    })
    return summary.rename_axis(contract.MEMBER_ID)


def _occasions_in_window(purchases: pd.DataFrame, start: date | None, as_of: date) -> pd.DataFrame:
    """Occasions with ``start <= ts < as_of`` (no lower bound when ``start`` is None)."""
    missing = [c for c in (contract.MEMBER_ID, contract.TS, NET) if c not in purchases.columns]
    if missing:
        raise ValueError(f"purchases lacks column(s) {missing}; expected one row per occasion")
    if start is not None and start >= as_of:
        raise ValueError(f"calibration_start {start} must be before as_of {as_of}")
    kept = purchases[contract.TS] < pd.Timestamp(as_of)
    if start is not None:
        kept &= purchases[contract.TS] >= pd.Timestamp(start)
    return purchases.loc[kept]


class BetaGeoFitter(BaseEstimator):
    """BG/NBD: purchases at rate lambda ~ Gamma(r, alpha) while alive; after each purchase the
    member drops out for good with probability p ~ Beta(a, b) (FHL05 section 3).

    Why this model: it needs only (x, t_x, T) per member, gives P(alive) and expected purchases
    in closed form, and its CDNOW fit is published, so it doubles as a checked baseline.
    Time is in the summary's unit (weeks by default); alpha is in that unit too.
    ``penalizer_coef`` adds ``penalizer_coef * sum(params ** 2)`` to the mean negative
    log-likelihood (L2, as lifetimes' ``penalizer_coef``): 0, the plain MLE, unless a fit fails.
    """

    def __init__(self, penalizer_coef: float = 0.0) -> None:
        self.penalizer_coef = penalizer_coef

    def fit(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike,
            weights: ArrayLike | None = None) -> BetaGeoFitter:
        """Maximum likelihood (FHL05 eq. 6) over log-parameters, from r = alpha = a = b = 1.

        ``weights``: how many members share each row's (x, t_x, T), so distinct histories and their
        counts (aggregated where the data lives, e.g. on Spark executors) give the members' fit.
        """
        x, t_x, T_ = _validated_history(frequency, recency, T)
        params, log_likelihood = _maximise(lambda theta: _bgnbd_log_likelihood(theta, x, t_x, T_), 4,
                                           self.penalizer_coef, _validated_weights(weights, len(x)))
        self.r_, self.alpha_, self.a_, self.b_ = params
        self.log_likelihood_ = log_likelihood
        return self

    def probability_alive(self, frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> Vector:
        """P(alive at T | x, t_x, T) (note 021): 1 for x = 0, since dropout follows a purchase."""
        x, t_x, T_ = _validated_history(frequency, recency, T)
        return _probability_alive(self._params(), x, t_x, T_)

    def conditional_expected_purchases(self, t: float, frequency: ArrayLike, recency: ArrayLike,
                                       T: ArrayLike) -> Vector:
        """E[X(T, T + t] | x, t_x, T]: expected purchases in the next ``t`` units (FHL05 eq. 10)."""
        x, t_x, T_ = _validated_history(frequency, recency, T)
        params = self._params()
        return _purchases_if_alive(params, _validated_horizon(t), x, T_) * _probability_alive(params, x, t_x, T_)

    def expected_purchases(self, t: ArrayLike) -> Vector:
        """E[X(t)]: repeat purchases of a new member in (0, t] (FHL05 eq. 9, with 2F1)."""
        (t_,) = _vectors(t=t)
        _refuse({"t must be >= 0": t_ < 0})
        return _purchases_if_alive(self._params(), t_, np.zeros_like(t_), np.zeros_like(t_))

    def probability_of_purchase_within(self, t: float, frequency: ArrayLike, recency: ArrayLike,
                                       T: ArrayLike) -> Vector:
        """P(X(T, T + t] >= 1 | x, t_x, T).

        Derived, not in the paper: a member dead at T never buys. One alive at T has
        lambda | history ~ Gamma(r + x, alpha + T), and dropout only follows a purchase, so the
        first purchase after T comes at rate lambda regardless of p:
        P = P(alive) * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x)).
        """
        x, t_x, T_ = _validated_history(frequency, recency, T)
        params = self._params()
        r, alpha, t_ = params[0], params[1], _validated_horizon(t)
        no_purchase_if_alive = np.exp((r + x) * (np.log(alpha + T_) - np.log(alpha + T_ + t_)))
        return _probability_alive(params, x, t_x, T_) * (1.0 - no_purchase_if_alive)

    def _params(self) -> tuple[float, float, float, float]:
        check_is_fitted(self, ("r_", "alpha_", "a_", "b_"))
        return self.r_, self.alpha_, self.a_, self.b_


def _bgnbd_log_likelihood(params: Vector, x: Vector, t_x: Vector, T: Vector) -> Vector:
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


def _probability_alive(params: tuple[float, ...], x: Vector, t_x: Vector, T: Vector) -> Vector:
    """1 / (1 + delta_{x>0} a / (b + x - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x)) (note 021)."""
    r, alpha, a, b = params
    repeat, log_odds_dead = x > 0, np.full_like(x, -np.inf)
    xr = x[repeat]
    log_odds_dead[repeat] = (np.log(a) - np.log(b + xr - 1)
                             + (r + xr) * (np.log(alpha + T[repeat]) - np.log(alpha + t_x[repeat])))
    return expit(-log_odds_dead)


def _purchases_if_alive(params: tuple[float, ...], t: Vector | float, x: Vector, T: Vector) -> Vector:
    """The numerator of FHL05 eq. (10); with x = T = 0 it is E[X(t)], eq. (9).

    (a + b + x - 1) / (a - 1) * [1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * 2F1(r + x, b + x;
    a + b + x - 1; z)], z = t / (alpha + T + t). Euler's transformation (Abramowitz & Stegun
    15.3.3) rewrites the bracketed product as (1 - z) ** (a - 1) * 2F1(a + b - 1 - r, a - 1;
    a + b + x - 1; z), which stays finite for heavy buyers where 2F1 itself overflows.
    """
    r, alpha, a, b = params  # undefined at exactly a = 1 (a removable singularity), as in the paper
    c = a + b + x - 1
    z = t / (alpha + T + t)
    bracket = 1.0 - (1.0 - z) ** (a - 1) * hyp2f1(a + b - 1 - r, a - 1, c, z)
    return c / (a - 1) * bracket


class GammaGammaFitter(BaseEstimator):
    """Gamma-Gamma: a member's purchase values are Gamma(p, nu) around a member-level mean, with
    nu ~ Gamma(q, gamma) (GG section 2). The paper's gamma is ``v_`` here, as in lifetimes.

    Why: it shrinks a member's observed mean spend towards the population mean, less so the more
    repeat purchases back it. It assumes spend is independent of purchase frequency: check the
    correlation of ``frequency`` and ``monetary_value`` among repeat buyers before relying on it.
    ``penalizer_coef`` is the L2 penalty of ``BetaGeoFitter``. Spend that varies as much within
    members as between them drives q and gamma to infinity, where the plain fit does not converge.
    """

    def __init__(self, penalizer_coef: float = 0.0) -> None:
        self.penalizer_coef = penalizer_coef

    def fit(self, frequency: ArrayLike, monetary_value: ArrayLike,
            weights: ArrayLike | None = None) -> GammaGammaFitter:
        """Maximum likelihood (GG eq. 1a) on repeat buyers only (x > 0); other rows are ignored.

        ``weights``: how many members share each row's (x, m_x), as ``BetaGeoFitter.fit``.
        """
        x, m_x = _validated_spend(frequency, monetary_value)
        counts = _validated_weights(weights, len(x))
        repeat = x > 0
        if not repeat.any():
            raise ValueError("frequency has no repeat buyers (x > 0) to fit the Gamma-Gamma model on")
        if (m_x[repeat] <= 0).any():
            raise ValueError("monetary_value must be > 0 for every repeat buyer (x > 0)")
        params, log_likelihood = _maximise(
            lambda theta: _gamma_gamma_log_likelihood(theta, x[repeat], m_x[repeat]), 3, self.penalizer_coef,
            None if counts is None else counts[repeat])
        self.p_, self.q_, self.v_ = params  # v_ is the paper's gamma (scale of nu's prior)
        self.log_likelihood_ = log_likelihood
        self.n_repeat_buyers_ = int(repeat.sum() if counts is None else counts[repeat].sum())
        return self

    def conditional_expected_average_profit(self, frequency: ArrayLike, monetary_value: ArrayLike) -> Vector:
        """E[M | x, m_x] (GG eq. 5): weight p x / (p x + q - 1) on m_x, the rest on the
        population mean gamma p / (q - 1). x = 0 members get the population mean."""
        x, m_x = _validated_spend(frequency, monetary_value)
        p, q, v = self._params()
        if q <= 1:
            raise ValueError(f"fitted q = {q:.3g} <= 1: the population mean spend is infinite")
        weight = p * x / (p * x + q - 1)
        return (1 - weight) * v * p / (q - 1) + weight * m_x

    def customer_lifetime_value(self, bgnbd: BetaGeoFitter, frequency: ArrayLike, recency: ArrayLike,
                                T: ArrayLike, monetary_value: ArrayLike, horizon_units: float,
                                discount_rate_per_unit: float = 0.0) -> Vector:
        """Expected spend in (T, T + horizon]: BG/NBD expected purchases times E[M | x, m_x].

        With a discount rate, purchases expected in unit step k are discounted by
        (1 + rate) ** -k (the last, possibly partial, step by the horizon itself).
        """
        if not discount_rate_per_unit >= 0:
            raise ValueError(f"discount_rate_per_unit must be >= 0, not {discount_rate_per_unit}")
        horizon = _validated_horizon(horizon_units, name="horizon_units")
        value = self.conditional_expected_average_profit(frequency, monetary_value)
        ends = np.append(np.arange(1.0, np.ceil(horizon)), horizon) if discount_rate_per_unit else np.array([horizon])
        cumulative = np.array([bgnbd.conditional_expected_purchases(end, frequency, recency, T) for end in ends])
        per_step = np.diff(cumulative, axis=0, prepend=0.0)
        discount = (1.0 + discount_rate_per_unit) ** -ends
        return (discount[:, None] * per_step).sum(axis=0) * value

    def _params(self) -> tuple[float, float, float]:
        check_is_fitted(self, ("p_", "q_", "v_"))
        return self.p_, self.q_, self.v_


def _gamma_gamma_log_likelihood(params: Vector, x: Vector, m_x: Vector) -> Vector:
    """Per-member log f(m_x | p, q, gamma; x), GG eq. (1a), for x > 0 and m_x > 0."""
    p, q, v = params
    px = p * x
    return (gammaln(px + q) - gammaln(px) - gammaln(q) + q * np.log(v)
            + (px - 1) * np.log(m_x) + px * np.log(x) - (px + q) * np.log(v + m_x * x))


def _maximise(log_likelihood: Callable[[Vector], Vector], n_params: int,
              penalizer_coef: float = 0.0, weights: Vector | None = None) -> tuple[tuple[float, ...], float]:
    """Maximise a per-member log-likelihood over log-parameters from log(1) = 0 (deterministic).

    The *mean* negative LL is minimised, so tolerances do not depend on the number of members;
    ``penalizer_coef * sum(params ** 2)`` is added to it (lifetimes' L2 penalty, on the same scale).
    L-BFGS-B (finite-difference gradients) usually converges; where it stalls, Nelder-Mead
    carries on from where it stopped. Returns the parameters and the *total* (unpenalised) LL
    at the optimum. ``weights`` count the members behind each row (the mean and total are theirs).
    """
    if not penalizer_coef >= 0:
        raise ValueError(f"penalizer_coef must be >= 0, not {penalizer_coef}")

    def objective(theta: Vector) -> float:
        params = np.exp(theta)
        penalty = penalizer_coef * float(np.sum(params ** 2)) if penalizer_coef else 0.0  # 0: the plain MLE, bit for bit
        value = -_members_mean(log_likelihood(params), weights) + penalty
        return value if np.isfinite(value) else np.inf

    bounds = [(-_LOG_BOUND, _LOG_BOUND)] * n_params
    result = minimize(objective, np.zeros(n_params), method="L-BFGS-B", bounds=bounds)
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


def _validated_weights(weights: ArrayLike | None, n: int) -> Vector | None:
    """Member counts per row: finite, positive, one per row (None: one member each)."""
    if weights is None:
        return None
    (counts,) = _vectors(weights=weights)
    if len(counts) != n:
        raise ValueError(f"weights must have one value per row ({n}); got {len(counts)}")
    _refuse({"weights must be > 0": counts <= 0})
    return counts


def _vectors(**named: ArrayLike) -> list[Vector]:
    """Finite 1-D float arrays of one length (a scalar is one member), or ValueError naming one."""
    arrays = [np.atleast_1d(np.asarray(values, dtype=np.float64)) for values in named.values()]
    first, length = next(iter(named)), len(arrays[0])
    for name, array in zip(named, arrays):
        if array.ndim != 1 or not np.isfinite(array).all():
            raise ValueError(f"{name} must be one-dimensional and finite")
        if len(array) != length:
            raise ValueError(f"{name} has {len(array)} values but {first} has {length}")
    return arrays


def _refuse(problems: dict[str, NDArray[np.bool_]]) -> None:
    """Raise the first message whose mask flags any row."""
    for message, mask in problems.items():
        if mask.any():
            raise ValueError(message)


def _validated_history(frequency: ArrayLike, recency: ArrayLike, T: ArrayLike) -> list[Vector]:
    """(x, t_x, T), checked: same length, x >= 0, 0 <= t_x <= T, t_x = 0 when x = 0."""
    x, t_x, T_ = _vectors(frequency=frequency, recency=recency, T=T)
    _refuse({"frequency must be >= 0 (it counts repeat purchases)": x < 0,
             "recency must be >= 0": t_x < 0,
             "recency must not exceed T (the last purchase precedes the end of observation)": t_x > T_,
             "recency must be 0 where frequency is 0 (no repeat purchase)": (x == 0) & (t_x != 0)})
    return [x, t_x, T_]


def _validated_spend(frequency: ArrayLike, monetary_value: ArrayLike) -> list[Vector]:
    x, m_x = _vectors(frequency=frequency, monetary_value=monetary_value)
    _refuse({"frequency must be >= 0 (it counts repeat purchases)": x < 0,
             "monetary_value must be >= 0": m_x < 0})
    return [x, m_x]


def _validated_horizon(t: float, name: str = "t") -> float:
    if not (isinstance(t, (int, float, np.integer, np.floating)) and np.isfinite(t) and t >= 0):
        raise ValueError(f"{name} must be a finite number >= 0, not {t!r}")
    return float(t)
