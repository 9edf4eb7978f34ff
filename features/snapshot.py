"""Point-in-time feature snapshots: every member's features as of a cut-off date."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd
from ibis.backends import BaseBackend
from ibis.expr.types import Table

from features import contract
from features.behaviour import purchase_history, spend_and_returns, trailing_activity
from features.catalogue import feature_names
from features.categories import category_breadth
from features.engine import as_table, execute
from features.purchases import lines_in_window


@dataclass(frozen=True)
class Snapshot:
    """Features of every member with a purchase before ``as_of``, one row each, sorted by id."""

    frame: pd.DataFrame
    as_of: date
    fingerprint: str

    @property
    def feature_names(self) -> list[str]:
        return [c for c in self.frame.columns if c != contract.MEMBER_ID]


def snapshot_expression(lines: Table, as_of: date) -> Table:
    """The Ibis expression of the snapshot: engine-neutral, runs on DuckDB or Spark.

    Uses rows with ts < as_of only.
    """
    history = lines_in_window(lines, None, as_of)
    members = purchase_history(history, as_of)
    parts = [spend_and_returns(history), trailing_activity(history, as_of)]
    has_category = contract.CATEGORY in lines.columns
    if has_category:
        parts.append(category_breadth(history))
    for part in parts:
        members = members.left_join(part, contract.MEMBER_ID).drop(f"{contract.MEMBER_ID}_right")
    return members.select(contract.MEMBER_ID, *feature_names(has_category))


def build_snapshot(
    transactions: pd.DataFrame, as_of: date, backend: BaseBackend | None = None
) -> Snapshot:
    """Compute the snapshot as of ``as_of`` from clean transactions (see ``features.load``)."""
    expression = snapshot_expression(as_table(transactions), as_of)
    frame = execute(expression, backend)
    frame = frame.sort_values(contract.MEMBER_ID, kind="stable").reset_index(drop=True)
    frame = _with_model_dtypes(frame)
    history = transactions[transactions[contract.TS] < pd.Timestamp(as_of)]
    return Snapshot(frame=frame, as_of=as_of, fingerprint=data_fingerprint(history))


def _with_model_dtypes(frame: pd.DataFrame) -> pd.DataFrame:
    """Member id as string, every feature as float64 (missing = NaN, which XGBoost understands)."""
    features = frame.drop(columns=contract.MEMBER_ID).astype("float64")
    features.insert(0, contract.MEMBER_ID, frame[contract.MEMBER_ID].astype("string"))
    return features


def data_fingerprint(transactions: pd.DataFrame) -> str:
    """A content hash of the transactions (order-insensitive), for reproducibility records."""
    known = (*contract.REQUIRED_COLUMNS, *contract.OPTIONAL_COLUMNS)
    columns = sorted(c for c in transactions.columns if c in known)
    row_hashes = np.sort(pd.util.hash_pandas_object(transactions[columns], index=False).to_numpy())
    return hashlib.sha256(row_hashes.tobytes()).hexdigest()[:16]
