"""A reference frame reduced to what drift needs: per column its bins, their shares and its missing share.

A profile is what ``features.drift.compare`` measures a current frame against, whether the
reference is a whole stored snapshot (profiled on the spot) or a champion's training data
(profiled when the model was trained and kept as a small JSON document, ``features.drift_reference``).
It holds no member ids and no row: numeric columns keep the reference's inner quantile edges
(``bins`` of them at most; ties merge bins rather than leave them empty) and the share of the
non-missing values in each bin; other columns (text, booleans) keep the share of each of their
``MAX_VALUES`` most frequent values and one bin (``OTHER``) for every other value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

import numpy as np
import pandas as pd

OTHER: Final = "__other__"
MAX_VALUES: Final = 50
Kind = Literal["feature", "score"]


@dataclass(frozen=True)
class ColumnProfile:
    """One reference column: ``shares`` of its non-missing values per bin, and its missing share.

    Numeric: ``edges`` cut ``len(edges) + 1`` bins (a value equal to an edge falls in the bin above).
    Other: one bin per value in ``values``, then ``OTHER``. No bins (``shares`` empty) when the
    reference has no value at all in the column (absent, or every row missing).
    """

    column: str
    kind: Kind
    missing: float
    shares: tuple[float, ...] = ()
    edges: tuple[float, ...] | None = None
    values: tuple[str, ...] | None = None

    @property
    def comparable(self) -> bool:
        return bool(self.shares)

    def counts(self, current: pd.Series) -> np.ndarray:
        """How many of ``current``'s non-missing values fall in each of this profile's bins."""
        present = current.dropna()
        if self.edges is not None:
            index = np.searchsorted(np.asarray(self.edges, dtype=float), present.to_numpy(dtype=float), side="right")
            return np.bincount(index, minlength=len(self.edges) + 1)
        known = list(self.values or ())
        text = present.astype(str)
        return text.where(text.isin(known), OTHER).value_counts().reindex([*known, OTHER], fill_value=0).to_numpy()

    def to_dict(self) -> dict[str, Any]:
        document: dict[str, Any] = {"column": self.column, "kind": self.kind, "missing": self.missing,
                                    "shares": list(self.shares)}
        if self.edges is not None:
            document["edges"] = list(self.edges)
        if self.values is not None:
            document["values"] = list(self.values)
        return document

    @classmethod
    def from_dict(cls, document: Mapping[str, Any]) -> ColumnProfile:
        edges, values = document.get("edges"), document.get("values")
        return cls(column=str(document["column"]), kind=document["kind"], missing=float(document["missing"]),
                   shares=tuple(float(s) for s in document["shares"]),
                   edges=None if edges is None else tuple(float(e) for e in edges),
                   values=None if values is None else tuple(str(v) for v in values))


@dataclass(frozen=True)
class Profile:
    """Every profiled column of one reference frame, and how many rows it had."""

    rows: int
    columns: tuple[ColumnProfile, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "columns": [c.to_dict() for c in self.columns]}

    @classmethod
    def from_dict(cls, document: Mapping[str, Any]) -> Profile:
        return cls(rows=int(document["rows"]), columns=tuple(ColumnProfile.from_dict(c) for c in document["columns"]))


def is_numeric(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)


def profile_column(values: pd.Series | None, column: str, kind: Kind, bins: int) -> ColumnProfile:
    """The bins and shares of one reference column (``None``: the reference has no such column)."""
    if values is None or values.empty:
        return ColumnProfile(column=column, kind=kind, missing=1.0)
    missing = float(values.isna().mean())
    present = values.dropna()
    if present.empty:
        return ColumnProfile(column=column, kind=kind, missing=missing)
    if is_numeric(present):
        numbers = present.to_numpy(dtype=float)
        edges = tuple(float(e) for e in np.unique(np.quantile(numbers, np.linspace(0, 1, bins + 1)[1:-1])))
        counts = np.bincount(np.searchsorted(np.asarray(edges), numbers, side="right"), minlength=len(edges) + 1)
        return ColumnProfile(column, kind, missing, _as_shares(counts), edges=edges)
    frequent = present.astype(str).value_counts(sort=True)
    kept = tuple(str(v) for v in frequent.index[:MAX_VALUES])
    counts = np.append(frequent.to_numpy()[:MAX_VALUES], frequent.to_numpy()[MAX_VALUES:].sum())
    return ColumnProfile(column, kind, missing, _as_shares(counts), values=kept)


def _as_shares(counts: np.ndarray) -> tuple[float, ...]:
    return tuple(float(c) for c in counts / counts.sum())


def profile(frame: pd.DataFrame, *, features: Sequence[str], scores: Sequence[str] = (), bins: int = 10) -> Profile:
    """The profile of ``frame``'s ``features`` and ``scores`` columns (a listed column it lacks is all missing)."""
    columns = [profile_column(frame[c] if c in frame.columns else None, c, "feature", bins) for c in features]
    columns += [profile_column(frame[c] if c in frame.columns else None, c, "score", bins) for c in scores]
    return Profile(rows=len(frame), columns=tuple(columns))
