"""Drift between a reference frame and the served snapshot: PSI, missing shares and unknown members.

The population stability index compares how a column's values fall into bins in two frames:
``PSI = sum_i (c_i - r_i) * ln(c_i / r_i)`` over bin shares ``r`` (reference) and ``c`` (current).
Numeric bins are cut at the reference's quantiles, so each holds about the same share of the
reference and a shift anywhere in the distribution shows; other columns (text, booleans) use one
bin per reference value plus one for values the reference never had. Missing values are left out
of the PSI and reported on their own (their share per frame), so a column that goes missing is not
mistaken for one whose values moved. An empty bin would make ``ln`` infinite, so every share is
floored at ``SHARE_FLOOR`` before the sum: the PSI stays finite and an emptied bin still counts heavily.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

import numpy as np
import pandas as pd

from features.drift_rules import DriftRules, Level

SHARE_FLOOR: Final = 1e-4
OTHER: Final = "__other__"
Kind = Literal["feature", "score"]


@dataclass(frozen=True)
class ColumnDrift:
    """One column's PSI and missing shares in the reference and the current frame, with their levels."""

    column: str
    kind: Kind
    psi: float | None
    missing_reference: float
    missing_current: float
    psi_level: Level
    missing_level: Level


@dataclass(frozen=True)
class DriftReport:
    """Every compared column, and the share of current members the reference never saw (if compared)."""

    columns: tuple[ColumnDrift, ...]
    unknown_share: float | None
    unknown_level: Level

    def breaches(self) -> list[str]:
        """One plain line per threshold crossed (no member ids), for the log and the monitoring route."""
        lines = [f"{c.kind} {c.column}: PSI {c.psi:.3f} ({c.psi_level})" for c in self.columns
                 if c.psi is not None and c.psi_level != "ok"]
        lines += [f"{c.kind} {c.column}: missing share {c.missing_reference:.3f} -> {c.missing_current:.3f} "
                  f"({c.missing_level})" for c in self.columns if c.missing_level != "ok"]
        if self.unknown_share is not None and self.unknown_level != "ok":
            lines.append(f"unknown members: share {self.unknown_share:.3f} ({self.unknown_level})")
        return lines


def _shares(counts: np.ndarray) -> np.ndarray:
    total = counts.sum()
    shares = counts / total if total else np.zeros_like(counts, dtype=float)
    return np.maximum(shares, SHARE_FLOOR)


def psi_from_shares(reference: np.ndarray, current: np.ndarray) -> float:
    """PSI of two vectors of bin counts (or shares) over the same bins, each share floored at SHARE_FLOOR."""
    r, c = _shares(np.asarray(reference, dtype=float)), _shares(np.asarray(current, dtype=float))
    return float(np.sum((c - r) * np.log(c / r)))


def _numeric_counts(reference: pd.Series, current: pd.Series, bins: int) -> tuple[np.ndarray, np.ndarray]:
    """Counts in bins cut at the reference's inner quantiles; ties merge bins rather than leave them empty."""
    edges = np.unique(np.quantile(reference.to_numpy(dtype=float), np.linspace(0, 1, bins + 1)[1:-1]))
    n = len(edges) + 1
    ref_index = np.searchsorted(edges, reference.to_numpy(dtype=float), side="right")
    cur_index = np.searchsorted(edges, current.to_numpy(dtype=float), side="right")
    return np.bincount(ref_index, minlength=n), np.bincount(cur_index, minlength=n)


def _category_counts(reference: pd.Series, current: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Counts per reference value, plus one bin for values only the current frame has."""
    known = list(pd.unique(reference.astype(str)))
    ref = reference.astype(str).value_counts().reindex(known, fill_value=0).to_numpy()
    cur_text = current.astype(str).where(current.astype(str).isin(known), OTHER)
    cur = cur_text.value_counts().reindex([*known, OTHER], fill_value=0).to_numpy()
    return np.append(ref, 0), cur


def psi(reference: pd.Series, current: pd.Series, bins: int = 10) -> float | None:
    """PSI of one column's non-missing values; None when either frame has no value to compare."""
    ref, cur = reference.dropna(), current.dropna()
    if ref.empty or cur.empty:
        return None
    numeric = pd.api.types.is_numeric_dtype(ref) and not pd.api.types.is_bool_dtype(ref)
    ref_counts, cur_counts = _numeric_counts(ref, cur, bins) if numeric else _category_counts(ref, cur)
    return psi_from_shares(ref_counts, cur_counts)


def _missing_share(frame: pd.DataFrame, column: str) -> float:
    """A column absent from a frame is missing in every row of it."""
    if column not in frame.columns or frame.empty:
        return 1.0
    return float(frame[column].isna().mean())


def _column_drift(reference: pd.DataFrame, current: pd.DataFrame, column: str, kind: Kind,
                  rules: DriftRules) -> ColumnDrift:
    both = column in reference.columns and column in current.columns
    value = psi(reference[column], current[column], rules.bins) if both else None
    missing_ref, missing_cur = _missing_share(reference, column), _missing_share(current, column)
    return ColumnDrift(column=column, kind=kind, psi=value, missing_reference=missing_ref,
                       missing_current=missing_cur,
                       psi_level=rules.level("psi", value) if value is not None else "ok",
                       missing_level=rules.level("missing_change", abs(missing_cur - missing_ref)))


def compare(reference: pd.DataFrame, current: pd.DataFrame, rules: DriftRules, *,
            features: Sequence[str], scores: Sequence[str] = (), member_ids: str | None = None) -> DriftReport:
    """Drift of each feature and score column from ``reference`` to ``current``.

    ``member_ids`` names a column (or the index, when the name is the index's) holding member ids in
    both frames; the unknown share is then the share of current members absent from the reference.
    """
    columns = [_column_drift(reference, current, c, "feature", rules) for c in features]
    columns += [_column_drift(reference, current, c, "score", rules) for c in scores]
    unknown = _unknown_share(reference, current, member_ids) if member_ids is not None else None
    return DriftReport(columns=tuple(columns), unknown_share=unknown,
                       unknown_level=rules.level("unknown", unknown) if unknown is not None else "ok")


def _ids(frame: pd.DataFrame, name: str) -> pd.Index:
    if name in frame.columns:
        return pd.Index(frame[name])
    if frame.index.name == name:
        return frame.index
    raise ValueError(f"member_ids: no column or index named {name!r}")


def _unknown_share(reference: pd.DataFrame, current: pd.DataFrame, name: str) -> float:
    ids = _ids(current, name)
    if len(ids) == 0:
        return 0.0
    return float((~ids.isin(_ids(reference, name))).mean())
