"""BG/NBD + Gamma-Gamma fitted as of a cut-off: lifetime features, baselines and 12-month CLV.

The models are fitted on the purchases before the cut-off only (the training window of that
snapshot), so their outputs are point-in-time features like any other. Where a window cannot
support a fit (too few members, no repeat buyers), or a fit does not converge even with a small L2
penalty, the outputs are missing, not invented: XGBoost takes NaN features, and the baselines
that need the model drop out of the gate.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final, Generic, TypeVar

import numpy as np
import pandas as pd

from features import contract
from features.btyd import BetaGeoFitter, GammaGammaFitter, summarise_purchases
from features.engine import as_table, execute
from features.purchases import lines_in_window, purchases
from features.sampling import sample_positions

UNIT_DAYS: Final = 7.0  # weeks, as in the BG/NBD paper: keeps alpha in a well-scaled range
MIN_MEMBERS: Final = 20  # below this a population-level fit says nothing
LIFETIME_FEATURES: Final = ("p_alive", "bgnbd_purchases_90d", "gg_order_value")
# L2 penalizers tried in turn until a fit converges: the plain MLE first, always (lifetimes' penalizer_coef)
PENALIZERS: Final = (0.0, 0.001, 0.01, 0.1)
FIT_NAMES: Final = {"bgnbd": "BG/NBD", "gamma_gamma": "Gamma-Gamma"}
MEMBERS: Final = "members"  # in aggregated fit inputs: how many members share a row
HISTORY: Final = ("frequency", "recency", "T")  # what BG/NBD's likelihood reads of a member
SPEND: Final = ("frequency", "monetary_value")  # what Gamma-Gamma's reads
# The population's parameters (BG/NBD four, Gamma-Gamma three) are fitted on at most this many
# members, a seeded sample; every member is then scored. At 448,000 members a 100,000 sample moved
# no member's P(purchase in 90 days) by more than 0.0017, nor a 90-day expected spend by more than
# 2.2% (bench/lifetime_sample.md); at a chain's 5 M members each fit took minutes.
FIT_MEMBERS: Final = 1_000_000

logger = logging.getLogger(__name__)
Fitted = TypeVar("Fitted", BetaGeoFitter, GammaGammaFitter)


@dataclass(frozen=True)
class LifetimeModel:
    """BG/NBD and Gamma-Gamma for the members of one window, each None where it could not be fitted.

    ``penalizers`` records the L2 penalizer each fitted model converged with (0.0: the plain
    MLE); ``unavailable`` says why a model is missing. Without BG/NBD its outputs are NaN.
    """

    summary: pd.DataFrame  # index member_id; frequency, recency, T (weeks), monetary_value
    bgnbd: BetaGeoFitter | None
    gamma_gamma: GammaGammaFitter | None
    penalizers: Mapping[str, float] = field(default_factory=dict)
    unavailable: Mapping[str, str] = field(default_factory=dict)

    def _history(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        s = self.summary
        return s["frequency"].to_numpy(float), s["recency"].to_numpy(float), s["T"].to_numpy(float)

    def _missing(self) -> np.ndarray:
        return np.full(len(self.summary), np.nan)

    def p_alive(self) -> np.ndarray:
        return self._missing() if self.bgnbd is None else self.bgnbd.probability_alive(*self._history())

    def expected_purchases(self, days: float) -> np.ndarray:
        """Expected purchases in the next ``days`` given each member's history (FHL05 eq. 10)."""
        if self.bgnbd is None:
            return self._missing()
        return self.bgnbd.conditional_expected_purchases(days / UNIT_DAYS, *self._history())

    def p_purchase_within(self, days: float) -> np.ndarray:
        if self.bgnbd is None:
            return self._missing()
        return self.bgnbd.probability_of_purchase_within(days / UNIT_DAYS, *self._history())

    def order_value(self) -> np.ndarray:
        """Gamma-Gamma expected spend per purchase; the member's own mean when GG is unavailable."""
        frequency = self.summary["frequency"].to_numpy(float)
        if self.gamma_gamma is None:
            return self.summary["mean_net"].to_numpy(float)
        return self.gamma_gamma.conditional_expected_average_profit(frequency, self.summary["monetary_value"])

    def expected_spend(self, days: float) -> np.ndarray:
        """BG/NBD expected purchases times Gamma-Gamma spend per purchase (undiscounted)."""
        return self.expected_purchases(days) * self.order_value()


def occasions(transactions: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """Purchase occasions (member_id, ts, net) before ``as_of``."""
    table = purchases(lines_in_window(as_table(transactions), None, as_of))
    return execute(table.select(contract.MEMBER_ID, contract.TS, "net"))


@dataclass(frozen=True)
class PenalizedFit(Generic[Fitted]):
    """One model's fit: the model and the L2 penalizer it converged with, or why there is none."""

    model: Fitted | None
    penalizer: float | None = None
    reason: str | None = None


def fit_lifetime(transactions: pd.DataFrame, as_of: date, fit_members: int | None = FIT_MEMBERS) -> LifetimeModel | None:
    """Fit BG/NBD + Gamma-Gamma on the purchases before ``as_of``; None when the window cannot
    support a fit at all. A model that does not converge, even penalised, is left out (None).

    The parameters come from at most ``fit_members`` members (``fitting_sample``; None: all), the
    model scores every member.
    """
    history = occasions(transactions, as_of)
    if history.empty:
        return None
    summary = summarise_purchases(history, as_of, time_unit_days=UNIT_DAYS)
    summary["mean_net"] = history.groupby(contract.MEMBER_ID)["net"].mean().reindex(summary.index)
    if len(summary) < MIN_MEMBERS or not (summary["frequency"] > 0).any():
        return None
    fitting = fitting_sample(summary, fit_members)
    fits = fit_models(distinct_rows(fitting, HISTORY), distinct_rows(fitting, SPEND))
    return LifetimeModel(summary, fits["bgnbd"].model, fits["gamma_gamma"].model,  # type: ignore[arg-type]
                         penalizers={k: f.penalizer for k, f in fits.items() if f.penalizer is not None},
                         unavailable={k: f.reason for k, f in fits.items() if f.reason is not None})


def fitting_sample(summary: pd.DataFrame, limit: int | None, seed: int = 0) -> pd.DataFrame:
    """At most ``limit`` rows of ``summary`` (one per member), drawn without replacement and kept in
    order; the same data always gives the same draw. Every row when there are fewer, or no limit."""
    positions = sample_positions(len(summary), limit, seed)
    return summary if positions is None else summary.iloc[positions]


def distinct_rows(summary: pd.DataFrame, columns: tuple[str, ...]) -> pd.DataFrame:
    """The distinct values of ``columns`` in ``summary`` and how many members share each (``MEMBERS``).

    Why: the likelihood is a sum over members, so each distinct history weighted by its count is
    the same fit, computed once per history. Members who never bought again share (0, 0, T) with
    everyone who started the same day: on CDNOW 23,502 members are 9,893 histories, and a fit
    takes half the time.
    """
    return summary.groupby(list(columns), sort=True).size().rename(MEMBERS).reset_index()


def fit_models(histories: pd.DataFrame, spend: pd.DataFrame) -> dict[str, PenalizedFit[Any]]:
    """BG/NBD on ``histories`` (frequency, recency, T) and Gamma-Gamma on ``spend`` (frequency, monetary_value).

    One row per member, or, with a ``members`` column, per distinct row and how many members share
    it (``features.spark_lifetime`` aggregates them on Spark executors): the same likelihood.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # the optimiser probes extreme parameters
        return {"bgnbd": fit_penalized("bgnbd", lambda c: BetaGeoFitter(c).fit(
                    histories["frequency"], histories["recency"], histories["T"], _members(histories))),
                "gamma_gamma": _fit_gamma_gamma(spend)}


def _members(frame: pd.DataFrame) -> pd.Series | None:
    return frame[MEMBERS] if MEMBERS in frame.columns else None


def fit_penalized(name: str, fit: Callable[[float], Fitted], coefs: tuple[float, ...] = PENALIZERS) -> PenalizedFit[Fitted]:
    """``fit(coef)`` for each L2 penalizer in turn until one converges; no model (and a warning) if none does.

    lifetimes users meet non-convergence often (e.g. spend that varies as much within members as
    between them sends Gamma-Gamma's q to infinity); a small penalty keeps the parameters finite.
    Only non-convergence (RuntimeError) is retried: a ValueError is bad input and propagates.
    """
    label = FIT_NAMES.get(name, name)
    for coef in coefs:
        try:
            fitted = fit(coef)
        except RuntimeError:
            continue
        if coef:
            logger.warning("%s converged only with L2 penalizer %g", label, coef)
        return PenalizedFit(fitted, coef)
    retried = ", ".join(f"{c:g}" for c in coefs if c)
    reason = f"{label} did not converge" + (f" (retried with penalizer {retried})" if retried else "")
    logger.warning("%s: left out; its features are missing and its baselines drop out of the gate", reason)
    return PenalizedFit(None, reason=reason)


def _fit_gamma_gamma(summary: pd.DataFrame) -> PenalizedFit[GammaGammaFitter]:
    """Gamma-Gamma needs repeat buyers with positive spend and a finite population mean (q > 1)."""
    repeat = summary[(summary["frequency"] > 0) & (summary["monetary_value"] > 0)]
    weights = _members(repeat)
    buyers = len(repeat) if weights is None else int(weights.sum())
    if buyers < MIN_MEMBERS:
        return PenalizedFit(None, reason=f"Gamma-Gamma needs {MIN_MEMBERS} repeat buyers; {buyers} here")
    fitted = fit_penalized("gamma_gamma", lambda c: GammaGammaFitter(c).fit(repeat["frequency"], repeat["monetary_value"],
                                                                            weights))
    if fitted.model is not None and not fitted.model.q_ > 1:
        return PenalizedFit(None, reason=f"Gamma-Gamma fitted q = {fitted.model.q_:.3g} <= 1 (infinite mean spend)")
    return fitted


# What BG/NBD (+ Gamma-Gamma) predicts of the served outputs: when the next-purchase or value model
# loses its gate, this baseline serves for it (training.serving_baselines). Output -> profile column.
BASELINE_OUTPUTS: Final = {
    "p_purchase_7d": "bgnbd_p_purchase_7d",
    "p_purchase_30d": "bgnbd_p_purchase_30d",
    "p_purchase_90d": "bgnbd_p_purchase_90d",
    "expected_value": "bgnbd_gg_spend_90d",
}
PROFILE_COLUMNS: Final = ("clv_12m", *BASELINE_OUTPUTS.values())


def lifetime_features(transactions: pd.DataFrame, as_of: date, model: LifetimeModel | None = None) -> pd.DataFrame:
    """member_id plus LIFETIME_FEATURES and the PROFILE_COLUMNS as of ``as_of`` (NaN when no fit).

    ``model``, when given, is one already fitted as of ``as_of``: it is used rather than refitted.
    """
    model = model or fit_lifetime(transactions, as_of)
    if model is None:
        return pd.DataFrame(columns=[contract.MEMBER_ID, *LIFETIME_FEATURES, *PROFILE_COLUMNS])
    return pd.DataFrame({
        contract.MEMBER_ID: model.summary.index.astype("string"),
        "p_alive": model.p_alive(),
        "bgnbd_purchases_90d": model.expected_purchases(90.0),
        "gg_order_value": model.order_value(),
        "clv_12m": model.expected_spend(365.0),
        "bgnbd_p_purchase_7d": model.p_purchase_within(7.0),
        "bgnbd_p_purchase_30d": model.p_purchase_within(30.0),
        "bgnbd_p_purchase_90d": model.p_purchase_within(90.0),
        "bgnbd_gg_spend_90d": model.expected_spend(90.0),
    })


def median_days_to_purchase(model: LifetimeModel) -> np.ndarray:
    """Days until P(purchase within t) reaches 1/2, per member; NaN where P(alive) <= 1/2.

    Why NaN: dropout only follows a purchase, so P(purchase within t) rises to P(alive) as t grows;
    a member more likely gone than not has no median time to a next purchase (not a large one).
    Solves ``LifetimeModel.p_purchase_within`` (``BetaGeoFitter.probability_of_purchase_within``),
    P(alive) * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x)) = 1/2, in closed form:
    t = (alpha + T) * ((1 - 1 / (2 P(alive))) ** (-1 / (r + x)) - 1), in the summary's units.
    """
    if model.bgnbd is None:  # no BG/NBD fit: no timing either (the served columns say why)
        return np.full(len(model.summary), np.nan)
    alive = model.p_alive()
    x, T = model.summary["frequency"].to_numpy(float), model.summary["T"].to_numpy(float)
    r, alpha = model.bgnbd.r_, model.bgnbd.alpha_
    has_median = alive > 0.5
    remaining = np.where(has_median, 1.0 - 0.5 / np.where(has_median, alive, 1.0), 0.5)
    units = (alpha + T) * (remaining ** (-1.0 / (r + x)) - 1.0)
    return np.where(has_median, units * UNIT_DAYS, np.nan)
