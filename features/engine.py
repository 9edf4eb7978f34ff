"""Where Ibis feature expressions run: DuckDB by default; any Ibis backend (e.g. PySpark) by choice.

Feature code builds backend-neutral Ibis expressions over a ``lines`` table; this module turns a
pandas frame into such a table and executes an expression into pandas, the interchange format at
the model boundary.
"""

from __future__ import annotations

from datetime import date, datetime, time
from pathlib import Path
from typing import Final, Literal

import ibis
import ibis.expr.datatypes as dt
import pandas as pd
from ibis.backends import BaseBackend
from ibis.expr.builders import LegacyWindowBuilder
from ibis.expr.types import Table, TimestampScalar

# DuckDB optimizers every connection of the product leaves out (``default_backend``).
DISABLED_OPTIMIZERS: Final = ("partitioned_execution",)


_memory_limit: list[str] = []  # this process's DuckDB memory limit, when its edge set one (limit_duckdb_memory)


def limit_duckdb_memory(limit: str | None) -> None:
    """Cap the memory of every DuckDB connection this process opens from now on (None: DuckDB's default).

    Set once by each edge (the ``memberscore`` command, the service's start) from
    ``MEMBERSCORE_DUCKDB_MEMORY_LIMIT``. DuckDB's default, 80% of the machine, does not count the
    pandas frame beside it: at 106 M lines the snapshot's query held 10.2 GB over the 8 GB frame by
    default and 4.0 GB with a 4GB limit, spilling the rest, in 1.8x the time (bench/HISTORY.md).
    """
    _memory_limit[:] = [limit] if limit else []


def default_backend() -> BaseBackend:
    """An in-process DuckDB connection, the embedded default engine.

    Without DuckDB's ``partitioned_execution`` optimizer: on a file sorted by member (as exports
    often are) it split the feature query into ranges of member ids and scanned the whole category
    branch once per range, 1.86 G rows read for a 106 M-line file, 1.9x the hand-written query's
    time (bench/HISTORY.md, issue 20, session 35). With the memory limit ``limit_duckdb_memory`` set.
    """
    limit = {"memory_limit": _memory_limit[0]} if _memory_limit else {}
    return ibis.duckdb.connect(disabled_optimizers=",".join(DISABLED_OPTIMIZERS), **limit)


Engine = Literal["duckdb", "spark"]
SECONDS_PER_DAY: Final = 86400.0
AMOUNT_DECIMALS: Final = 6  # amounts are added in fixed point at this precision: no currency has more
_WHOLE: Final = dt.Decimal(precision=38, scale=0)


def as_table(frame: pd.DataFrame | Table) -> Table:
    """Expose a clean transactions frame to Ibis without copying it into a database.

    A table that is already an Ibis expression (e.g. ``read_parquet``) passes through unchanged,
    so every feature builder accepts either.
    """
    if isinstance(frame, Table):
        return frame
    return ibis.memtable(frame)


def read_parquet(path: str | Path, backend: BaseBackend) -> Table:
    """Clean transactions in Parquet (data-contract columns) as a table of ``backend``.

    The engine scans the file itself, so nothing is loaded into pandas: DuckDB reads it in
    process, Spark from wherever its executors see the path (a shared or object store on a cluster).
    """
    if not Path(path).exists() and "://" not in str(path):
        raise FileNotFoundError(f"transactions Parquet {path} does not exist")
    return backend.read_parquet(str(path))


def execute(expr: Table, backend: BaseBackend | None = None) -> pd.DataFrame:
    """Run ``expr`` on ``backend`` (DuckDB when None) and return a pandas frame.

    The result comes back as Arrow and pyarrow makes the frame: same dtypes as Ibis's
    ``execute``, whose column-by-column pandas conversion cost a third of the 10M-line feature
    build (bench/RESULTS.md, features section).
    """
    return (backend or default_backend()).to_pyarrow(expr).to_pandas()


def at_midnight(day: date) -> datetime:
    """The instant a date starts: cut-offs are dates, history ends just before their midnight."""
    return datetime.combine(day, time.min)


def timestamp_literal(day: date) -> TimestampScalar:
    """A timestamp literal for the start of ``day``, usable on every backend."""
    return ibis.timestamp(at_midnight(day))


def days_between(later: ibis.Value, earlier: ibis.Value) -> ibis.Value:
    """Fractional days from ``earlier`` to ``later`` (epoch arithmetic is portable across engines).

    Time is counted in whole seconds: Spark's epoch has no sub-second part while DuckDB's has,
    so the fraction is floored on both. The seconds are cast to double before dividing because
    Spark reads the literal ``86400.0`` as a decimal and would round the quotient to 7 decimals.
    """
    return seconds_between(later, earlier).cast("float64") / SECONDS_PER_DAY


def seconds_between(later: ibis.Value, earlier: ibis.Value) -> ibis.IntegerValue:
    """Whole seconds from ``earlier`` to ``later`` (floored on both sides, as ``days_between``)."""
    return later.epoch_seconds().floor() - earlier.epoch_seconds().floor()


# Order-independent aggregates. A float SUM, AVG or STDDEV on a parallel engine adds rows in the
# order its threads happen to finish, so the same data gives results that differ in the last bits
# from run to run (and between engines). A tree split can turn on such a bit and the trained model
# changes: Online Retail's value model was promoted in one run and not in the next. Sums in fixed
# point or whole numbers are exact, so every run and thread count agrees to the bit, and so do DuckDB
# and Spark on every sum (category entropy still differs by ~1e-15: their ``ln`` is not the same).


def exact_sum(values: ibis.NumericValue, decimals: int = AMOUNT_DECIMALS,
              over: LegacyWindowBuilder | None = None) -> ibis.FloatingValue:
    """Sum in fixed point (each value rounded to ``decimals`` places first), as float64.

    ``over``: a window, for a running or per-partition total instead of a group's.
    """
    total = values.cast(dt.Decimal(precision=38, scale=decimals)).sum()
    return (total if over is None else total.over(over)).cast("float64")


def exact_mean(amounts: ibis.NumericValue) -> ibis.FloatingValue:
    """Mean of amounts (or whole numbers) from their exact sum; NULL when there are none."""
    return exact_sum(amounts) / amounts.count().cast("float64")


def exact_sample_std(whole: ibis.IntegerValue) -> ibis.FloatingValue:
    """Sample standard deviation of whole numbers (e.g. seconds); NULL for fewer than two.

    From exact moments, ``n * sum(x^2) - sum(x)^2`` in 38-digit integers, then one float
    division: no cancellation and no dependence on the order rows are added in.
    """
    x, n = whole.cast(_WHOLE), whole.count()
    spread = n.cast(_WHOLE) * (x * x).sum() - x.sum() * x.sum()
    variance = spread.cast("float64") / (n * (n - 1)).cast("float64")
    return ibis.ifelse(n > 1, variance.sqrt(), ibis.null("float64"))
