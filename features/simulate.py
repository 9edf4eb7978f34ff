"""A seeded buy-till-you-die simulator of transactions with known behaviour.

Each member buys as a Poisson process with rate lambda ~ Gamma(r, alpha) and, after every
purchase, drops out for good with probability p ~ Beta(a, b) (the BG/NBD story, Fader, Hardie &
Lee 2005). Order values are Gamma distributed around a member-level mean; some lines are returns.
The planted truth (``alive_until`` per member) lets tests check that models recover it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd

from features import contract


@dataclass(frozen=True)
class SimulationParams:
    r: float = 0.9
    alpha: float = 20.0          # mean purchase rate r/alpha per day
    a: float = 1.0
    b: float = 6.0               # mean drop-out probability a/(a+b) per purchase
    mean_order_value: float = 40.0
    return_probability: float = 0.03
    categories: tuple[str, ...] = ("grocery", "produce", "dairy", "bakery", "household")


def simulate_transactions(
    n_members: int, start: date, days: int, seed: int, params: SimulationParams = SimulationParams()
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (transactions on the contract, truth per member: rate, dropout p, alive_until)."""
    rng = np.random.default_rng(seed)
    rates = rng.gamma(params.r, 1.0 / params.alpha, n_members)
    dropout = rng.beta(params.a, params.b, n_members)
    spend_means = rng.gamma(4.0, params.mean_order_value / 4.0, n_members)
    first_day = rng.uniform(0, days * 0.5, n_members)
    rows: list[tuple[str, float, float, str, str]] = []
    alive_until = np.empty(n_members)
    for member in range(n_members):
        times = _purchase_times(rng, first_day[member], rates[member], dropout[member], days)
        alive_until[member] = times[-1] if times[-1] < days else days
        for order, when in enumerate(times[times < days]):
            rows.extend(_order_lines(rng, member, order, when, spend_means[member], params))
    frame = pd.DataFrame(rows, columns=[contract.MEMBER_ID, "t", contract.AMOUNT, contract.ORDER_ID, contract.CATEGORY])
    frame.insert(1, contract.TS, pd.Timestamp(start) + pd.to_timedelta(frame.pop("t"), unit="D"))
    frame[contract.TS] = frame[contract.TS].dt.floor("min").astype("datetime64[us]")
    for column in (contract.MEMBER_ID, contract.ORDER_ID, contract.CATEGORY):
        frame[column] = frame[column].astype("string")
    truth = pd.DataFrame({contract.MEMBER_ID: [f"m{i:05d}" for i in range(n_members)], "rate_per_day": rates,
                          "dropout_p": dropout, "alive_until": [start + timedelta(days=float(d)) for d in alive_until]})
    truth[contract.MEMBER_ID] = truth[contract.MEMBER_ID].astype("string")
    return frame.sort_values([contract.MEMBER_ID, contract.TS], kind="stable").reset_index(drop=True), truth


def _purchase_times(rng: np.random.Generator, first: float, rate: float, dropout: float, days: int) -> np.ndarray:
    """First purchase, then exponential gaps until drop-out or the end of data.

    As in BG/NBD, a member can drop out only after a *repeat* purchase (the likelihood's x = 0
    term carries no p), never right after the first one.
    """
    times = [first, first + rng.exponential(1.0 / rate)]
    while times[-1] < days and rng.random() >= dropout:
        times.append(times[-1] + rng.exponential(1.0 / rate))
    return np.asarray(times)


def _order_lines(rng: np.random.Generator, member: int, order: int, when: float, mean_value: float,
                 params: SimulationParams) -> list[tuple[str, float, float, str, str]]:
    member_id, order_id = f"m{member:05d}", f"o{member:05d}-{order:04d}"
    n_lines = 1 + rng.poisson(1.5)
    favourite = member % len(params.categories)
    lines = []
    for _ in range(n_lines):
        category = params.categories[favourite if rng.random() < 0.6 else rng.integers(len(params.categories))]
        amount = round(float(rng.gamma(2.0, mean_value / (2.0 * n_lines))), 2)
        lines.append((member_id, when, amount, order_id, category))
        if rng.random() < params.return_probability:
            lines.append((member_id, when + 0.01, -amount, order_id, category))
    return lines
