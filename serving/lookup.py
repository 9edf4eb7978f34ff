"""``/score`` as a lookup: every member's outputs and top reasons, computed once per (models, snapshot).

Exact TreeSHAP costs about a thousand predictions per row, so a ``/score`` that explains on every
call cannot be fast. When a snapshot (or a model) starts serving, each model's contributions are
computed for every member in chunks and only the ``k`` largest per member are kept (feature
position and contribution): members x k x 8 bytes per model instead of a full SHAP matrix. A
request for more than ``k`` reasons is answered by ``serving.scoring.score_members``, which
computes them for the requested rows. Both paths give the same answer (tested member by member).

The chunks are computed in a background thread after the snapshot serves, not before: at millions
of members they take minutes (2.2 M members: ready in 61 s instead of 325 s, bench/HISTORY.md),
and the outputs are ready without them. Until a member's chunk is done, a request computes that
member's reasons itself (one row's TreeSHAP: milliseconds) and keeps them, so the answer never
waits for the fill and never differs from it.

Once a member's reasons are computed, requests touch numpy arrays only (no pandas row selection),
so a single-member lookup costs microseconds and the HTTP stack dominates.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
import pandas as pd
import xgboost as xgb

from features.catalogue import ENGLISH
from features.formats import Voice
from features.value_names import labels_for
from serving.reasons import picked_reasons, top_positions
from serving.schemas import MemberScore, Reason
from serving.scoring import shap_contributions

log = logging.getLogger(__name__)

PRECOMPUTED_REASONS = 5  # per model and member; /score's default is 3
BACKGROUND_THREADS = 1  # XGBoost threads of the background fill: the other cores answer requests
CHUNK_ROWS = 20_000  # members explained per XGBoost call, bounding the transient SHAP matrix


@dataclass(frozen=True)
class TopContributions:
    """One model's ``k`` largest |SHAP| per member, largest first, as in ``serving.reasons.top_reasons``."""

    feature_names: tuple[str, ...]  # the model's features, in its own order
    columns: np.ndarray  # per model feature: its column in MemberLookup.feature_values, -1 if absent (a share: 0)
    positions: np.ndarray  # (members, k) int32: index into feature_names
    contributions: np.ndarray  # (members, k) float32, as XGBoost returns them
    booster: xgb.Booster

    def fill(self, features_by_id: pd.DataFrame, rows: slice | np.ndarray, booster: xgb.Booster | None = None) -> None:
        """Compute and keep the top ``k`` contributions of ``rows`` (a chunk, or a request's members),
        with ``booster`` when given (the same model, e.g. on fewer threads)."""
        chunk, _ = shap_contributions(self.booster if booster is None else booster, features_by_id.iloc[rows])
        order = top_positions(chunk, len(self.feature_names), self.positions.shape[1])
        self.positions[rows] = order
        self.contributions[rows] = np.take_along_axis(chunk, order, axis=1)


@dataclass(frozen=True)
class MemberLookup:
    """Outputs, features and top contributions of every member of a served snapshot, as plain arrays."""

    index: pd.Index  # member ids; row i of every array below is member index[i]
    numbers: Mapping[str, np.ndarray]  # float output columns
    labels: Mapping[str, tuple[np.ndarray, np.ndarray]]  # text output columns: (codes, labels), code -1 = null
    feature_names: tuple[str, ...]
    feature_values: np.ndarray  # (members, features) float64
    top: Mapping[str, TopContributions]
    k: int
    features_by_id: pd.DataFrame  # the models' input rows, for the reasons not computed yet
    filled: np.ndarray  # (members,) bool: this member's top contributions are computed, for every model
    stopped: threading.Event = field(default_factory=threading.Event)

    @property
    def filled_share(self) -> float:
        """The share of members whose reasons are computed (1.0 once the fill ends)."""
        return float(self.filled.mean()) if len(self.filled) else 1.0

    def fill_all(self, chunk_rows: int = CHUNK_ROWS, threads: int | None = None) -> None:
        """Compute every member's reasons not computed yet, chunk by chunk, until done or ``stop``.

        ``threads`` bounds XGBoost's threads (copies of the models): in the service's background
        fill, 1 leaves the other cores to requests. With all of them, the fill of 2.2 M members held
        single-member ``/score`` at p99 160-180 ms and ``/healthz`` at a third of its rate.
        """
        started = time.monotonic()
        boosters = {task: _on_threads(top.booster, threads) for task, top in self.top.items()}
        for start in range(0, len(self.filled), chunk_rows):
            if self.stopped.is_set():
                return
            if not self.filled[start:start + chunk_rows].all():
                self._fill(slice(start, start + chunk_rows), boosters)
        log.info("top reasons of %d members computed in %.1f s", len(self.filled), time.monotonic() - started)

    def stop(self) -> None:
        """End the fill at its next chunk: this lookup no longer serves (a newer snapshot or model does)."""
        self.stopped.set()

    def _fill(self, rows: slice | np.ndarray, boosters: Mapping[str, xgb.Booster] | None = None) -> None:
        for task, top in self.top.items():
            top.fill(self.features_by_id, rows, boosters[task] if boosters else None)
        self.filled[rows] = True

    def scores(self, member_ids: Sequence[str], explain: int, voice: Voice = ENGLISH) -> list[MemberScore]:
        """Scores for the ids in request order, reasons and names in ``voice``; ids not in the snapshot are 'unknown'."""
        if explain > self.k:
            raise ValueError(f"explain: at most {self.k} reasons are precomputed, not {explain}")
        positions = [self._position(member_id) for member_id in member_ids]
        found = np.array([position for position in positions if position >= 0], dtype=np.int64)
        if explain > 0 and not self.filled[found].all():
            self._fill(np.unique(found[~self.filled[found]]))
        reasons = {task: self._reasons(top, found, explain, voice) for task, top in self.top.items()}
        results, k = [], 0
        for member_id, position in zip(member_ids, positions):
            if position < 0:
                results.append(MemberScore(member_id=member_id, status="unknown"))
                continue
            results.append(self._score(member_id, position, {task: per_row[k] for task, per_row in reasons.items()},
                                       voice))
            k += 1
        return results

    def _position(self, member_id: str) -> int:
        """The member's row, -1 if absent: a hash probe (an Index of the request's ids costs ~100 us)."""
        try:
            position = self.index.get_loc(member_id)
        except KeyError:
            return -1
        if not isinstance(position, (int, np.integer)):  # a slice or mask: an id repeated in the snapshot
            raise ValueError("member ids in the snapshot must be unique")
        return int(position)

    def _score(self, member_id: str, position: int, by_model: dict[str, list[Reason]], voice: Voice) -> MemberScore:
        values: dict[str, object] = {name: _number(column[position]) for name, column in self.numbers.items()}
        for name, (codes, labels) in self.labels.items():
            code = codes[position]
            values[name] = None if code < 0 else labels[code]
        return MemberScore(member_id=member_id, status="scored", **values, **labels_for(values, voice.translator),
                           reasons=by_model.get("churn", []), model_reasons=by_model)

    def _reasons(self, top: TopContributions, rows: np.ndarray, explain: int, voice: Voice) -> list[list[Reason]]:
        """The first ``explain`` precomputed reasons of ``rows``, told in words for those rows only."""
        if explain <= 0 or len(rows) == 0:
            return [[] for _ in range(len(rows))]
        values = np.where(top.columns >= 0, self.feature_values[np.ix_(rows, np.maximum(top.columns, 0))], 0.0)
        return picked_reasons(values, top.feature_names, top.positions[rows, :explain],
                              top.contributions[rows, :explain], voice)


Fill = Literal["background", "now", "on_request"]


def member_lookup(models: Mapping[str, xgb.Booster], scores_by_id: pd.DataFrame, features_by_id: pd.DataFrame,
                  k: int = PRECOMPUTED_REASONS, chunk_rows: int = CHUNK_ROWS, fill: Fill = "background") -> MemberLookup:
    """The lookup of every member of ``scores_by_id`` (``score_frame`` by id) with ``features_by_id`` beside it.

    ``fill``: compute every member's reasons in a daemon thread (the service), before returning
    (``now``), or only as requests ask for them (``on_request``).
    """
    if not scores_by_id.index.equals(features_by_id.index):
        raise ValueError("scores and features must list the same members in the same order")
    if not scores_by_id.index.is_unique:
        raise ValueError("member ids must be unique in a snapshot")
    numbers: dict[str, np.ndarray] = {}
    labels: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for key, column in scores_by_id.items():
        name = str(key)
        if pd.api.types.is_numeric_dtype(column):
            numbers[name] = column.to_numpy(dtype="float64", na_value=np.nan)
        else:
            codes, uniques = pd.factorize(column.astype(object), use_na_sentinel=True)
            labels[name] = (codes, np.asarray([str(u) for u in uniques], dtype=object))
    names = tuple(str(c) for c in features_by_id.columns)
    top = {task: unfilled_contributions(booster, len(features_by_id), names, k) for task, booster in models.items()}
    lookup = MemberLookup(scores_by_id.index, numbers, labels, names,
                          features_by_id.to_numpy(dtype="float64", na_value=np.nan), top, k,
                          features_by_id, np.zeros(len(features_by_id), dtype=bool))
    if fill == "now":
        lookup.fill_all(chunk_rows)
    elif fill == "background":
        threading.Thread(target=lookup.fill_all, args=(chunk_rows, BACKGROUND_THREADS), name="memberscore-reasons",
                         daemon=True).start()
    return lookup


def _on_threads(booster: xgb.Booster, threads: int | None) -> xgb.Booster:
    """``booster`` itself, or a copy predicting on ``threads`` threads (a copy: requests share the original)."""
    if threads is None:
        return booster
    copy = booster.copy()
    copy.set_param({"nthread": threads})
    return copy


def unfilled_contributions(booster: xgb.Booster, members: int, snapshot_columns: tuple[str, ...],
                           k: int) -> TopContributions:
    """Room for the ``k`` largest |SHAP| per member of one model (order as ``top_reasons``: stable), none computed."""
    feature_names = tuple(booster.feature_names or [])
    where = {name: i for i, name in enumerate(snapshot_columns)}
    columns = np.array([where.get(name, -1) for name in feature_names], dtype=np.int64)
    kept = min(k, len(feature_names))
    return TopContributions(feature_names, columns, np.empty((members, kept), dtype=np.int32),
                            np.empty((members, kept), dtype=np.float32), booster)


def _number(value: float) -> float | None:
    return None if value != value else float(value)
