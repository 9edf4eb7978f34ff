"""features.retail_simulation.simulate_retail and `memberscore simulate`: the planted behaviour comes back out.

Known-truth tests in the PyMC-Marketing style: fit the project's own BG/NBD and Gamma-Gamma on a
simulated sample and compare with the parameters that generated it.

Tolerances were set from the spread of the estimates over seeds 0-4 at 3,000 members and 730
days (measured when writing this test): r and alpha vary by about 2-3 % between seeds, a by about
6 %, b by about 8 %, Gamma-Gamma's p by about 7 % and its implied mean order value by about 2 %.
Each tolerance is roughly four of those standard deviations, so a correct simulator passes for
any seed while a wrong process (e.g. dropout before the first repeat purchase, or alpha per week)
misses by far more.
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from cli.main import app
from features.btyd import BetaGeoFitter, GammaGammaFitter, summarise_purchases
from features.contract import AMOUNT, CATEGORY, MEMBER_ID, ORDER_ID, TS
from features.lifetime import occasions
from features.load import load_transactions
from features.retail_simulation import RetailParams, simulate_retail, truth_path

START = date(2023, 1, 1)
DAYS = 730
END = date(2024, 12, 31)  # START + DAYS: every simulated line is before it
STEADY = RetailParams(weekday_intensity=(1.0,) * 7, yearly_amplitude=0.0, return_probability=0.0)
runner = CliRunner()


@pytest.fixture(scope="module")
def steady() -> tuple[pd.DataFrame, pd.DataFrame]:
    """3,000 members of a pure BG/NBD + Gamma-Gamma process: no seasons, no returns."""
    return simulate_retail(3000, START, DAYS, seed=11, params=STEADY)


@pytest.fixture(scope="module")
def default() -> tuple[pd.DataFrame, pd.DataFrame]:
    """2,000 members with every default behaviour (seasons, returns, affinities)."""
    return simulate_retail(2000, START, DAYS, seed=5)


def test_bgnbd_recovers_planted_parameters(steady: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    """features.btyd fitted on the simulated history finds r, alpha, a, b (alpha in days)."""
    transactions, _ = steady
    summary = summarise_purchases(occasions(transactions, END), END, time_unit_days=1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        fitted = BetaGeoFitter().fit(summary["frequency"], summary["recency"], summary["T"])
    assert fitted.r_ == pytest.approx(STEADY.r, rel=0.10)
    assert fitted.alpha_ == pytest.approx(STEADY.alpha, rel=0.10)
    assert fitted.a_ == pytest.approx(STEADY.a, rel=0.25)
    assert fitted.b_ == pytest.approx(STEADY.b, rel=0.30)


def test_gamma_gamma_recovers_order_values(steady: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    """Gamma-Gamma on repeat buyers finds p and the population mean order value p * gamma / (q - 1)."""
    transactions, _ = steady
    summary = summarise_purchases(occasions(transactions, END), END, time_unit_days=1.0)
    repeat = summary[summary["frequency"] > 0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        fitted = GammaGammaFitter().fit(repeat["frequency"], repeat["monetary_value"])
    planted_mean = STEADY.gg_p * STEADY.gg_gamma / (STEADY.gg_q - 1)
    assert fitted.p_ == pytest.approx(STEADY.gg_p, rel=0.30)
    assert fitted.p_ * fitted.v_ / (fitted.q_ - 1) == pytest.approx(planted_mean, rel=0.08)


def test_truth_matches_the_lines(steady: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    """Planted purchase counts and first purchases are what the lines show; nobody buys after dropping out."""
    transactions, truth = steady
    by_member = transactions.groupby(MEMBER_ID, observed=True)
    truth = truth.set_index(MEMBER_ID)
    assert (by_member[ORDER_ID].nunique() == truth["purchases"]).all()
    assert (by_member[TS].min() == truth["first_purchase"]).all()
    last = by_member[TS].max()
    dead = ~truth["alive_at_end"]
    assert (last[dead] == truth.loc[dead, "alive_until"]).all()
    assert 0.3 < dead.mean() < 0.9  # both kinds of member exist over two years


def test_category_shares_follow_planted_affinity(default: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    """Members' category shares of lines track their planted affinities; shuffled affinities do not."""
    transactions, truth = default
    bought = transactions[transactions[AMOUNT] > 0]
    counts = pd.crosstab(bought[MEMBER_ID], bought[CATEGORY])
    busy = counts[counts.sum(axis=1) >= 30]
    shares = busy.div(busy.sum(axis=1), axis=0)
    planted = truth.set_index(MEMBER_ID).loc[shares.index, [f"affinity_{c}" for c in shares.columns]].to_numpy()
    assert len(busy) > 100
    assert np.corrcoef(shares.to_numpy().ravel(), planted.ravel())[0, 1] > 0.9
    shuffled = np.random.default_rng(0).permutation(planted)
    assert np.corrcoef(shares.to_numpy().ravel(), shuffled.ravel())[0, 1] < 0.3


def test_weekday_seasonality_shows_in_purchases(default: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    """Each weekday's share of orders is its planted intensity's share (within 1 point)."""
    transactions, _ = default
    orders = transactions.groupby(ORDER_ID, observed=True)[TS].min()
    observed = orders.dt.dayofweek.value_counts(normalize=True).sort_index().to_numpy()
    weights = pd.Series(RetailParams().weekday_intensity)
    days = pd.date_range(START, periods=DAYS, freq="D").dayofweek
    expected = weights[days].groupby(days).sum().to_numpy() / weights[days].sum()
    np.testing.assert_allclose(observed, expected, atol=0.01)
    assert observed[5] > observed[1] * 1.3  # Saturday clearly busier than Tuesday


def test_yearly_seasonality_moves_orders_to_december() -> None:
    """Same seed with and without the yearly cycle: the seasons only move orders along the calendar."""
    flat = replace(RetailParams(), yearly_amplitude=0.0)
    seasonal = replace(RetailParams(), yearly_amplitude=0.3)
    month_share = {}
    for name, params in (("flat", flat), ("seasonal", seasonal)):
        transactions, _ = simulate_retail(1500, START, DAYS, seed=2, params=params)
        assert len(transactions[transactions[AMOUNT] > 0]) > 0
        months = transactions.groupby(ORDER_ID, observed=True)[TS].min().dt.month
        month_share[name] = months.value_counts(normalize=True)
    lift = month_share["seasonal"] / month_share["flat"]
    assert lift[12] > 1.15 and lift[6] < 0.85


def test_returns_follow_their_purchase(default: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    """A return is a negative copy of a bought line in the same order, never before it; the share is planted."""
    transactions, truth = default
    returns = transactions[transactions[AMOUNT] < 0]
    bought = transactions[transactions[AMOUNT] > 0]
    matched = returns.merge(bought, left_on=[ORDER_ID, CATEGORY], right_on=[ORDER_ID, CATEGORY], suffixes=("", "_sale"))
    matched = matched[matched[AMOUNT] == -matched[f"{AMOUNT}_sale"]]
    assert set(returns.index) <= set(returns.index[returns[ORDER_ID].isin(matched[ORDER_ID])])
    assert (matched.groupby([ORDER_ID, AMOUNT])[f"{TS}_sale"].min() <= matched.groupby([ORDER_ID, AMOUNT])[TS].min()).all()
    share = len(returns) / len(bought)
    assert 0.5 * RetailParams().return_probability < share < 1.5 * RetailParams().return_probability
    never = set(truth.loc[truth["return_p"] == 0, MEMBER_ID])
    assert not never & set(returns[MEMBER_ID])


def test_bad_parameters_are_named() -> None:
    """Every invalid parameter is refused with its name and the reason, all at once."""
    with pytest.raises(ValueError, match=r"r must be > 0.*return_probability must be in \[0, 1\)"):
        simulate_retail(10, START, DAYS, seed=0, params=replace(RetailParams(), r=0.0, return_probability=1.0))
    with pytest.raises(ValueError, match="n_members must be >= 1"):
        simulate_retail(0, START, DAYS, seed=0)
    with pytest.raises(ValueError, match="weekday_intensity must hold 7 values"):
        simulate_retail(10, START, DAYS, seed=0, params=replace(RetailParams(), weekday_intensity=(1.0,)))


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_cli_same_seed_writes_identical_files(tmp_path: Path) -> None:
    """`memberscore simulate` twice with one seed: byte-identical table and truth; another seed differs."""
    paths = {name: tmp_path / f"{name}.parquet" for name in ("first", "again", "other")}
    for name, seed in (("first", "9"), ("again", "9"), ("other", "10")):
        result = runner.invoke(app, ["simulate", "--members", "300", "--out", str(paths[name]), "--seed", seed])
        assert result.exit_code == 0, result.output
        assert truth_path(paths[name]).exists()
    assert _sha(paths["first"]) == _sha(paths["again"])
    assert _sha(truth_path(paths["first"])) == _sha(truth_path(paths["again"]))
    assert _sha(paths["first"]) != _sha(paths["other"])


def test_cli_csv_loads_cleanly_on_the_contract(tmp_path: Path) -> None:
    """The CSV the CLI writes loads through features.load with no rejected row and the same lines."""
    out = tmp_path / "sim.csv"
    result = runner.invoke(app, ["simulate", "--members", "200", "--out", str(out), "--seed", "3",
                                 "--start", "2024-03-01", "--days", "120"])
    assert result.exit_code == 0, result.output
    loaded, report = load_transactions(out, rejects_path=tmp_path / "rejects.csv")
    expected, truth = simulate_retail(200, date(2024, 3, 1), 120, seed=3)
    assert report.rows_rejected == 0 and report.rows_kept == len(expected)
    pd.testing.assert_series_equal(loaded[AMOUNT], expected[AMOUNT])
    assert loaded[TS].min() >= pd.Timestamp("2024-03-01") and loaded[TS].max() < pd.Timestamp("2024-06-29")
    assert len(pd.read_parquet(truth_path(out))) == len(truth) == 200


@pytest.mark.parametrize(("args", "file_name", "needle"), [
    (["--members", "0"], "sim.parquet", "--members 0: must be at least 1"),
    (["--members", "5", "--days", "0"], "sim.parquet", "--days 0: must be at least 1"),
    (["--members", "5", "--start", "2023-02-30"], "sim.parquet", "--start '2023-02-30': expected a date"),
    (["--members", "5"], "sim.txt", "expected a .csv or .parquet file"),
])
def test_cli_refuses_bad_options(tmp_path: Path, args: list[str], file_name: str, needle: str) -> None:
    """Bad options exit 2 with one error line naming the option; nothing is written."""
    out = tmp_path / file_name
    result = runner.invoke(app, ["simulate", *args, "--out", str(out)])
    assert result.exit_code == 2
    assert needle in result.output
    assert "Traceback" not in result.output
    assert not out.exists() and not truth_path(out).exists()
