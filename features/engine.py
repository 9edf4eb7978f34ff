"""Where Ibis feature expressions run: DuckDB by default; any Ibis backend (e.g. PySpark) by choice.

Feature code builds backend-neutral Ibis expressions over a ``lines`` table; this module turns a
pandas frame into such a table and executes an expression into pandas, the interchange format at
the model boundary.
"""

from __future__ import annotations

import os
from datetime import date, datetime, time
from pathlib import Path
from typing import Final, Literal, get_args

import ibis
import pandas as pd
from ibis.backends import BaseBackend
from ibis.expr.types import Table, TimestampScalar


def default_backend() -> BaseBackend:
    """An in-process DuckDB connection, the embedded default engine."""
    return ibis.duckdb.connect()


Engine = Literal["duckdb", "spark"]
ENGINE_VARIABLE: Final = "MEMBERSCORE_ENGINE"  # duckdb (default) or spark
SPARK_MASTER_VARIABLE: Final = "MEMBERSCORE_SPARK_MASTER"  # e.g. local[4], spark://host:7077, yarn
SECONDS_PER_DAY: Final = 86400.0


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


def configured_engine() -> Engine:
    """The engine named by ``MEMBERSCORE_ENGINE`` (DuckDB when unset)."""
    name = os.environ.get(ENGINE_VARIABLE, "duckdb").strip().lower() or "duckdb"
    if name not in get_args(Engine):
        raise ValueError(f"{ENGINE_VARIABLE}={name!r}: expected one of {list(get_args(Engine))}")
    return name  # type: ignore[return-value]  # checked against the Literal just above


def configured_backend() -> BaseBackend:
    """A backend for the configured engine: in-process DuckDB, or Spark at ``MEMBERSCORE_SPARK_MASTER``.

    Spark is imported only when chosen: it is an optional dependency (``memberscore[spark]``).
    """
    if configured_engine() == "duckdb":
        return default_backend()
    from features.spark import configured_session, spark_backend

    return spark_backend(configured_session())


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
    seconds = later.epoch_seconds().floor() - earlier.epoch_seconds().floor()
    return seconds.cast("float64") / SECONDS_PER_DAY
