"""A vectorised retail simulator with known behaviour: what `memberscore simulate` writes.

The BG/NBD story of ``features.simulate`` (Fader, Hardie & Lee 2005: purchases at rate
lambda ~ Gamma(r, alpha), drop-out with probability p ~ Beta(a, b) after each repeat purchase)
at the scale of millions of lines, plus Gamma-Gamma order values, per-member category affinities,
member-level returns, and weekday and yearly seasonality. The planted truth per member comes back
beside the lines, so tests and benchmarks can check what a model recovers.

``features.simulate.simulate_transactions`` is the small per-member loop the golden files were
built on; it stays as it is, and this module is separate so that its output can never change.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute

from features import contract
from features.seasonal_clock import SeasonalClock, shop_timestamps
from features.spreadsheet import write_csv_safely

GROCERY_CATEGORIES: tuple[str, ...] = ("grocery", "produce", "dairy", "bakery", "household", "drinks", "frozen", "beauty")
WEEKDAY_INTENSITY: tuple[float, ...] = (0.9, 0.85, 0.9, 1.0, 1.15, 1.35, 0.85)  # Monday .. Sunday


@dataclass(frozen=True)
class RetailParams:
    """The planted behaviour of ``simulate_retail``; every rate is per day.

    BG/NBD (FHL05): lambda ~ Gamma(r, alpha), dropout p ~ Beta(a, b) after each repeat purchase.
    Gamma-Gamma (Fader & Hardie 2013): an order's value ~ Gamma(gg_p, nu), nu ~ Gamma(gg_q, gg_gamma),
    so the population mean order value is gg_p * gg_gamma / (gg_q - 1) (40 by default).
    Seasonality warps time: weekday and yearly intensities are rescaled to average 1 over the
    simulated period, so lambda stays the mean rate per calendar day and BG/NBD fits stay comparable.
    """

    r: float = 0.9
    alpha: float = 20.0
    a: float = 1.0
    b: float = 6.0
    gg_p: float = 6.0
    gg_q: float = 4.0
    gg_gamma: float = 20.0
    lines_per_order: float = 2.5
    categories: tuple[str, ...] = GROCERY_CATEGORIES
    affinity_concentration: float = 2.0  # Dirichlet total: lower means members stick to fewer categories
    return_probability: float = 0.03     # mean share of lines a member returns (Beta across members)
    return_delay_days: float = 7.0       # mean days from purchase to return
    weekday_intensity: tuple[float, ...] = WEEKDAY_INTENSITY
    yearly_amplitude: float = 0.2        # peak-to-mean lift of the yearly cycle
    yearly_peak_day: int = 350           # day of year with the most purchases (mid-December)
    acquisition_share: float = 0.5       # first purchases fall in this leading share of the period

    def problems(self) -> list[str]:
        """Every invalid field, named with the reason (empty when the parameters are usable)."""
        positive = {"r": self.r, "alpha": self.alpha, "a": self.a, "b": self.b, "gg_p": self.gg_p,
                    "gg_gamma": self.gg_gamma, "affinity_concentration": self.affinity_concentration,
                    "return_delay_days": self.return_delay_days}
        found = [f"{name} must be > 0, not {value}" for name, value in positive.items() if not value > 0]
        checks = {
            "gg_q must be > 1 (finite mean order value)": self.gg_q > 1,
            "lines_per_order must be >= 1": self.lines_per_order >= 1,
            "categories must be non-empty and distinct": 0 < len(set(self.categories)) == len(self.categories),
            "return_probability must be in [0, 1)": 0 <= self.return_probability < 1,
            "weekday_intensity must hold 7 values > 0": len(self.weekday_intensity) == 7 and min(self.weekday_intensity) > 0,
            "yearly_amplitude must be in [0, 1)": 0 <= self.yearly_amplitude < 1,
            "acquisition_share must be in (0, 1]": 0 < self.acquisition_share <= 1,
        }
        return found + [reason for reason, ok in checks.items() if not ok]


def simulate_retail(n_members: int, start: date, days: int, seed: int,
                    params: RetailParams = RetailParams()) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Return (order lines on the contract sorted by member and time, planted truth per member).

    Vectorised: one numpy call per step for all members, so 10M lines take seconds, and the
    output depends only on the arguments (same seed, same frame).
    """
    _refuse_bad_simulation(n_members, days, params)
    rng = np.random.default_rng(seed)
    clock = SeasonalClock(start, days, params.weekday_intensity, params.yearly_amplitude, params.yearly_peak_day)
    members = _draw_members(rng, n_members, days, params)
    owner, when, dead_at = _purchase_occasions(rng, members, days)
    orders = pd.DataFrame({"owner": owner, "t": clock.calendar(when)})
    lines = _order_lines(rng, orders, members, params)
    lines = pd.concat([lines, _returns(rng, lines, members, days, params)], ignore_index=True)
    lines = lines.iloc[np.lexsort((lines["t"].to_numpy(), lines["owner"].to_numpy()))]
    members["first"] = clock.calendar(members["first"].to_numpy())
    truth = _truth_frame(members, owner, clock.calendar(dead_at), start, days, params)
    return _contract_frame(lines, start, params, n_members), truth


def _refuse_bad_simulation(n_members: int, days: int, params: RetailParams) -> None:
    problems = params.problems()
    if n_members < 1:
        problems.insert(0, f"n_members must be >= 1, not {n_members}")
    if days < 1:
        problems.insert(0, f"days must be >= 1, not {days}")
    if problems:
        raise ValueError("; ".join(problems))


def _draw_members(rng: np.random.Generator, n: int, days: int, params: RetailParams) -> pd.DataFrame:
    """The latent traits of every member, drawn from the population distributions."""
    return_p = rng.beta(2 * params.return_probability, 2 * (1 - params.return_probability), n) \
        if params.return_probability > 0 else np.zeros(n)
    popularity = np.full(len(params.categories), params.affinity_concentration / len(params.categories))
    affinity = rng.dirichlet(popularity, n)
    return pd.DataFrame({
        "rate_per_day": rng.gamma(params.r, 1.0 / params.alpha, n),
        "dropout_p": rng.beta(params.a, params.b, n),
        "first": rng.uniform(0.0, days * params.acquisition_share, n),
        "nu": rng.gamma(params.gg_q, 1.0 / params.gg_gamma, n),
        "return_p": return_p,
        **{f"affinity_{i}": affinity[:, i] for i in range(len(params.categories))},
    })


def _purchase_occasions(rng: np.random.Generator, members: pd.DataFrame, days: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(owner, operational time) of every purchase, sorted, and each member's drop-out time (NaN if alive).

    Exact BG/NBD without per-member loops: K ~ Poisson(lambda (D - first)) events would happen
    while alive; the member drops out after J ~ Geometric(p) repeat purchases. With J <= K the
    J-th of K uniform events is at (D - first) x Beta(J, K - J + 1), and the J - 1 before it
    are uniform below it; otherwise all K events happen and the member is alive at the end.
    """
    first, length = members["first"].to_numpy(), days - members["first"].to_numpy()
    events = rng.poisson(members["rate_per_day"].to_numpy() * length)
    lifetime_repeats = rng.geometric(members["dropout_p"].to_numpy())
    dead = lifetime_repeats <= events
    span = length.copy()
    span[dead] = length[dead] * rng.beta(lifetime_repeats[dead], events[dead] - lifetime_repeats[dead] + 1)
    free = np.where(dead, lifetime_repeats - 1, events)
    free_owner = np.repeat(np.arange(len(members)), free)
    fraction = np.sort(free_owner + rng.random(len(free_owner))) - free_owner  # sorted within each member
    dead_owner = np.flatnonzero(dead)
    owner = np.concatenate([np.arange(len(members)), free_owner, dead_owner])
    when = np.concatenate([first, first[free_owner] + span[free_owner] * fraction, first[dead] + span[dead]])
    order = np.lexsort((when, owner))
    return owner[order], when[order], np.where(dead, first + span, np.nan)


def _order_lines(rng: np.random.Generator, orders: pd.DataFrame, members: pd.DataFrame,
                 params: RetailParams) -> pd.DataFrame:
    """Order values ~ Gamma(p, nu) split into 1 + Poisson lines; line categories ~ member affinity."""
    owner = orders["owner"].to_numpy()
    value = rng.gamma(params.gg_p, 1.0 / members["nu"].to_numpy()[owner])
    n_lines = 1 + rng.poisson(params.lines_per_order - 1, len(orders))
    order_of_line = np.repeat(np.arange(len(orders)), n_lines)
    weight = rng.exponential(1.0, len(order_of_line))
    share = weight / np.bincount(order_of_line, weight)[order_of_line]
    line_owner = owner[order_of_line]
    lines = pd.DataFrame({
        "owner": line_owner,
        "t": orders["t"].to_numpy()[order_of_line],
        "amount": np.maximum(np.round(value[order_of_line] * share, 2), 0.01),
        "order": order_of_line,
        "category": _draw_categories(rng, line_owner, members, len(params.categories)),
    })
    return _without_identical_lines(lines)


def _without_identical_lines(lines: pd.DataFrame) -> pd.DataFrame:
    """Nudge a line identical to an earlier one in its order by a cent, until none is left.

    The loader drops rows identical in every column as duplicates (``features.load``), so an
    identical pair would make the loaded data disagree with the planted truth.
    """
    while (repeated := _repeat_number(lines)).any():
        lines["amount"] = np.round(lines["amount"].to_numpy() + 0.01 * repeated, 2)
    return lines


def _repeat_number(lines: pd.DataFrame) -> np.ndarray:
    """For each line, how many earlier lines share its (order, category, amount): a numpy cumcount.

    The three are packed into one int64 (order < 2^31, category < 2^8, cents < 2^24).
    """
    cents = np.round(lines["amount"].to_numpy() * 100).astype(np.int64)
    key = (lines["order"].to_numpy().astype(np.int64) << 32) | (lines["category"].to_numpy().astype(np.int64) << 24) | cents
    order = np.argsort(key, kind="stable")
    ordered = key[order]
    run_start = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    run_of = np.cumsum(np.r_[True, ordered[1:] != ordered[:-1]]) - 1
    repeated = np.empty(len(key), dtype=np.int64)
    repeated[order] = np.arange(len(key)) - run_start[run_of]
    return repeated


def _draw_categories(rng: np.random.Generator, line_owner: np.ndarray, members: pd.DataFrame, n_categories: int) -> np.ndarray:
    """One category index per line from its member's affinity (inverse CDF, one pass per category)."""
    u = rng.random(len(line_owner))
    category = np.zeros(len(line_owner), dtype=np.int16)
    cumulative = np.zeros(len(members))
    for i in range(n_categories - 1):
        cumulative += members[f"affinity_{i}"].to_numpy()
        category += u >= cumulative[line_owner]
    return category


def _returns(rng: np.random.Generator, lines: pd.DataFrame, members: pd.DataFrame, days: int,
             params: RetailParams) -> pd.DataFrame:
    """A negative copy of each returned line, some days later; returns after the period are unseen."""
    returned = rng.random(len(lines)) < members["return_p"].to_numpy()[lines["owner"].to_numpy()]
    copies = lines[returned].copy()
    copies["t"] += rng.exponential(params.return_delay_days, len(copies))
    copies["amount"] = -copies["amount"]
    return copies[copies["t"] < days]


def _truth_frame(members: pd.DataFrame, owner: np.ndarray, dead_at: np.ndarray, start: date, days: int,
                 params: RetailParams) -> pd.DataFrame:
    """What was planted per member, for tests and benchmarks to check recovery against."""
    truth = pd.DataFrame({
        contract.MEMBER_ID: _member_ids(len(members)),
        "rate_per_day": members["rate_per_day"],
        "dropout_p": members["dropout_p"],
        "first_purchase": shop_timestamps(members["first"].to_numpy(), start),
        "alive_at_end": np.isnan(dead_at),
        "alive_until": np.where(np.isnan(dead_at), (pd.Timestamp(start) + pd.Timedelta(days=days)).to_datetime64(),
                                shop_timestamps(np.nan_to_num(dead_at), start)).astype("datetime64[us]"),
        "purchases": np.bincount(owner, minlength=len(members)),
        "mean_order_value": params.gg_p / members["nu"],
        "return_p": members["return_p"],
    })
    for i, name in enumerate(params.categories):
        truth[f"affinity_{name}"] = members[f"affinity_{i}"]
    return truth


def _member_ids(n: int) -> pd.Series:
    """m00000, m00001, ...: zero-padded so text order is member order."""
    width = max(5, len(str(n - 1)))
    return pd.Series(np.char.add("m", np.char.zfill(np.arange(n).astype(str), width)), dtype="string")


def _contract_frame(lines: pd.DataFrame, start: date, params: RetailParams, n_members: int) -> pd.DataFrame:
    """Lines on the data contract; calendar days become timestamps within opening hours, to the minute.

    Text columns are built as Arrow dictionaries and decoded once: Python strings per row would
    dominate the run time at 10M lines.
    """
    def text(codes: np.ndarray, values: list[str] | pa.Array) -> pa.Array:
        return pa.DictionaryArray.from_arrays(pa.array(codes), pa.array(values)).cast(pa.string())

    table = pa.table({
        contract.MEMBER_ID: text(lines["owner"].to_numpy(), pa.array(_member_ids(n_members))),
        contract.TS: shop_timestamps(lines["t"].to_numpy(), start),
        contract.AMOUNT: lines["amount"].to_numpy(),
        contract.ORDER_ID: pa.compute.binary_join_element_wise("o", pa.array(lines["order"].to_numpy()).cast(pa.string()), ""),
        contract.CATEGORY: text(lines["category"].to_numpy(), list(params.categories)),
    })
    return table.to_pandas(types_mapper={pa.string(): pd.StringDtype("pyarrow")}.get)


def truth_path(path: Path) -> Path:
    """Where the planted truth of a simulated table goes: beside it, as <stem>.truth.parquet."""
    return path.with_name(f"{path.stem}.truth.parquet")


def write_simulation(transactions: pd.DataFrame, truth: pd.DataFrame, path: Path) -> Path:
    """Write the lines (CSV or Parquet by suffix) and the truth beside them; return the truth's path."""
    if path.suffix not in (".csv", ".parquet"):
        raise ValueError(f"out {path}: expected a .csv or .parquet file, not {path.suffix or 'no suffix'!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".csv":
        write_csv_safely(transactions, path, lineterminator="\n")  # an input file: the bytes it always had
    else:
        transactions.to_parquet(path, index=False)
    truth.to_parquet(truth_path(path), index=False)
    return truth_path(path)
