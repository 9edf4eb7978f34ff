"""Where Ibis feature expressions run: DuckDB by default; any Ibis backend (e.g. PySpark) by choice.

Feature code builds backend-neutral Ibis expressions over a ``lines`` table; this module turns a
pandas frame into such a table and executes an expression into pandas, the interchange format at
the model boundary.
"""

from __future__ import annotations

from datetime import date, datetime, time

import ibis
import pandas as pd
from ibis.backends import BaseBackend
from ibis.expr.types import Table, TimestampScalar


def default_backend() -> BaseBackend:
    """An in-process DuckDB connection, the embedded default engine."""
    return ibis.duckdb.connect()


def as_table(frame: pd.DataFrame) -> Table:
    """Expose a clean transactions frame to Ibis without copying it into a database."""
    return ibis.memtable(frame)


def execute(expr: Table, backend: BaseBackend | None = None) -> pd.DataFrame:
    """Run ``expr`` on ``backend`` (DuckDB when None) and return a pandas frame."""
    return (backend or default_backend()).execute(expr)


def at_midnight(day: date) -> datetime:
    """The instant a date starts: cut-offs are dates, history ends just before their midnight."""
    return datetime.combine(day, time.min)


def timestamp_literal(day: date) -> TimestampScalar:
    """A timestamp literal for the start of ``day``, usable on every backend."""
    return ibis.timestamp(at_midnight(day))


def days_between(later: ibis.Value, earlier: ibis.Value) -> ibis.Value:
    """Fractional days from ``earlier`` to ``later`` (epoch arithmetic is portable across engines)."""
    return (later.epoch_seconds() - earlier.epoch_seconds()) / 86400.0
