"""Drift between a reference and the served snapshot: PSI, missing shares and unknown members.

The population stability index compares how a column's values fall into bins in two frames:
``PSI = sum_i (c_i - r_i) * ln(c_i / r_i)`` over bin shares ``r`` (reference) and ``c`` (current).
Numeric bins are cut at the reference's quantiles, so each holds about the same share of the
reference and a shift anywhere in the distribution shows; other columns (text, booleans) use one
bin per reference value plus one for values the reference never had. Missing values are left out
of the PSI and reported on their own (their share per frame), so a column that goes missing is not
mistaken for one whose values moved. An empty bin would make ``ln`` infinite, so every share is
floored at ``SHARE_FLOOR`` before the sum: the PSI stays finite and an emptied bin still counts heavily.

The reference is always a ``features.drift_profile.Profile`` (bins and shares, no rows): a stored
snapshot is profiled on the spot (``compare_frames``), a champion's training data when it was trained
(``features.drift_reference``), so both are measured by the one PSI below.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import pandas as pd

from features.drift_profile import ColumnProfile, Kind, Profile, profile, profile_column
from features.drift_rules import DriftRules, Level

SHARE_FLOOR: Final = 1e-4


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
    judged: bool = True  # False: listed in the rules' ``exempt`` (shown, never a breach)


@dataclass(frozen=True)
class DriftReport:
    """Every compared column, and the share of current members the reference never saw (if compared)."""

    columns: tuple[ColumnDrift, ...]
    unknown_share: float | None
    unknown_level: Level

    def breaches(self) -> list[str]:
        """One plain line per threshold crossed (no member ids), for the log and the monitoring route."""
        judged = [c for c in self.columns if c.judged]
        lines = [f"{c.kind} {c.column}: PSI {c.psi:.3f} ({c.psi_level})" for c in judged
                 if c.psi is not None and c.psi_level != "ok"]
        lines += [f"{c.kind} {c.column}: missing share {c.missing_reference:.3f} -> {c.missing_current:.3f} "
                  f"({c.missing_level})" for c in judged if c.missing_level != "ok"]
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


def column_psi(reference: ColumnProfile, current: pd.Series) -> float | None:
    """PSI of ``current``'s non-missing values against a profiled column; None when either side has none."""
    if not reference.comparable or current.dropna().empty:
        return None
    return psi_from_shares(np.asarray(reference.shares), reference.counts(current))


def psi(reference: pd.Series, current: pd.Series, bins: int = 10) -> float | None:
    """PSI of one column's non-missing values; None when either frame has no value to compare."""
    return column_psi(profile_column(reference, str(reference.name), "feature", bins), current)


def _missing_share(frame: pd.DataFrame, column: str) -> float:
    """A column absent from a frame is missing in every row of it."""
    if column not in frame.columns or frame.empty:
        return 1.0
    return float(frame[column].isna().mean())


def _column_drift(reference: ColumnProfile, current: pd.DataFrame, rules: DriftRules) -> ColumnDrift:
    column = reference.column
    value = column_psi(reference, current[column]) if column in current.columns else None
    missing_cur = _missing_share(current, column)
    return ColumnDrift(column=column, kind=reference.kind, psi=value, missing_reference=reference.missing,
                       missing_current=missing_cur,
                       psi_level=rules.level("psi", value) if value is not None else "ok",
                       missing_level=rules.level("missing_change", abs(missing_cur - reference.missing)),
                       judged=column not in rules.exempt)


def compare(reference: Profile, current: pd.DataFrame, rules: DriftRules, *,
            unknown_share: float | None = None) -> DriftReport:
    """Drift of each profiled column from the ``reference`` profile to the ``current`` frame.

    ``unknown_share`` (the share of current members the reference did not contain) is measured by
    the caller, who knows what "contain" means for its reference (``compare_frames``: the ids;
    ``features.drift_reference``: first purchases after the training data), and judged here.
    """
    columns = tuple(_column_drift(column, current, rules) for column in reference.columns)
    return DriftReport(columns=columns, unknown_share=unknown_share,
                       unknown_level=rules.level("unknown", unknown_share) if unknown_share is not None else "ok")


def compare_frames(reference: pd.DataFrame, current: pd.DataFrame, rules: DriftRules, *, features: Sequence[str],
                   scores: Sequence[str] = (), member_ids: str | None = None) -> DriftReport:
    """``compare`` against the profile of a whole reference frame (``rules.bins`` bins per numeric column).

    ``member_ids`` names a column (or the index, when the name is the index's) holding member ids in
    both frames; the unknown share is then the share of current members absent from the reference.
    """
    reference_profile = profile(reference, features=features, scores=scores, bins=rules.bins)
    unknown = _unknown_share(reference, current, member_ids) if member_ids is not None else None
    return compare(reference_profile, current, rules, unknown_share=unknown)


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
