"""``GET /monitoring``: drift of the served snapshot from its champions' training data and from the previous snapshot.

``drift``: each champion task's training profile (``features.drift_reference``: stored by
``memberscore train`` in ``<snapshot_dir>/<project>/reference/``) against the served snapshot's
features and scores: PSI per feature the model reads and per score it serves, missing shares, and
the share of served members new since its training data. A task served by a baseline has no
training data and is left out; a champion without a stored profile is named in ``unavailable``.

The top-level ``reference``, ``columns``, ``unknown_share``, ``unknown_level`` and ``breaches`` keep
the comparison with the newest stored snapshot older than the served one (``features.store``).
A stored snapshot holds features, not scores, so only features are compared there.

The document is computed once per served snapshot and set of models (the first request after a
reload, from /monitoring or /alerts), and its breaches are logged then, once, without member ids.
Thresholds: ``features/drift_rules.yaml`` (``MEMBERSCORE_DRIFT_RULES`` over it).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from fastapi import APIRouter, FastAPI, HTTPException, Request

from features.contract import MEMBER_ID
from features.data_key import DataKey
from features.drift import DriftReport, compare_frames
from features.drift_alerts import drift_alerts as alerts_of
from features.drift_reference import TrainingDrift, training_drift
from features.drift_rules import DriftRules
from features.i18n import Translator, translator
from features.refresh_log import refresh_section
from features.store import previous_snapshot_path, read_snapshot
from serving.artefacts import LoadedSnapshot
from serving.audit import note
from serving.backtest_section import SECTION, backtests_section
from serving.caller import caller_of
from serving.contract import PROTECTED
from serving.language import RequestLanguage
from serving.live import Served
from serving.scope import ScopeUnavailable

router = APIRouter()
log = logging.getLogger(__name__)


class ServesNow(Protocol):
    def current(self) -> Served: ...


@dataclass
class MonitoringService:
    """The project's snapshot directory, what serves, the thresholds, and the last report computed."""

    snapshot_dir: Path
    live: ServesNow
    rules: DriftRules
    data_key: DataKey | None = None
    _cached: tuple[tuple[str, ...], dict[str, Any], TrainingDrift | None] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def report(self, served: Served) -> dict[str, Any]:
        """The drift document of what serves, computed (and logged) once per snapshot and models."""
        return self._entry(served)[1]

    def training_drift(self, served: Served) -> TrainingDrift | None:
        """What ``report`` compared with the champions' training data (None when no champion serves)."""
        return self._entry(served)[2]

    def _entry(self, served: Served) -> tuple[tuple[str, ...], dict[str, Any], TrainingDrift | None]:
        loaded = self._loaded(served)
        as_of = loaded.snapshot.as_of
        previous = previous_snapshot_path(self.snapshot_dir, as_of)
        models = tuple(sorted(f"{task}:{m.mlflow_version}:{m.run_id}" for task, m in served.models.items()))
        key = (as_of.isoformat(), loaded.snapshot.fingerprint, str(previous), *models)
        with self._lock:
            if self._cached is None or self._cached[0] != key:
                drift = self._training(served, loaded)
                document = {**self._build(loaded, previous),
                            "drift": None if drift is None else training_document(drift, self.rules)}
                self._cached = (key, document, drift)
            return self._cached

    @staticmethod
    def _loaded(served: Served) -> LoadedSnapshot:
        if served.snapshot is None:
            raise HTTPException(status_code=503, detail="not ready: " + "; ".join(served.not_ready_reasons()))
        return served.snapshot

    def _training(self, served: Served, loaded: LoadedSnapshot) -> TrainingDrift | None:
        """Each champion against its training profile, breaches logged (None when only baselines serve)."""
        if not served.models:
            return None
        versions = {task: m.mlflow_version for task, m in served.models.items()}
        drift = training_drift(loaded.features_by_id, loaded.scores_by_id, loaded.snapshot.as_of, versions,
                               self.snapshot_dir, self.rules, {task: m.run_id for task, m in served.models.items()})
        as_of = loaded.snapshot.as_of.isoformat()
        for task, why in drift.unavailable.items():
            log.info("drift of snapshot %s from the %s champion's training data: %s", as_of, task, why)
        for line in drift.breaches():
            log.warning("drift of snapshot %s from the champions' training data: %s", as_of, line)
        return drift

    def _build(self, loaded: LoadedSnapshot, previous: Path | None) -> dict[str, Any]:
        """The top-level keys: drift of ``loaded`` from the previous stored snapshot (features only)."""
        document: dict[str, Any] = {"as_of": loaded.snapshot.as_of.isoformat(), "reference": None,
                                    "columns": [], "unknown_share": None, "unknown_level": "ok", "breaches": 0}
        if previous is None:
            log.info("drift: no stored snapshot older than %s to compare with", document["as_of"])
            return document
        stored = read_snapshot(previous, self.data_key)
        reference = stored.frame.set_index(MEMBER_ID)
        current = loaded.features_by_id
        scores = [c for c in loaded.scores_by_id.columns if c in reference.columns]
        joined = current.join(loaded.scores_by_id[scores]) if scores else current
        drift = compare_frames(reference, joined, self.rules, features=list(current.columns), scores=scores,
                               member_ids=MEMBER_ID)
        _log_breaches(drift, document["as_of"], stored.as_of.isoformat())
        return {**document, **_as_document(drift), "reference": {"kind": "previous_snapshot",
                                                                  "as_of": stored.as_of.isoformat()}}

def _as_document(drift: DriftReport) -> dict[str, Any]:
    rows = [{"column": c.column, "kind": c.kind, "psi": c.psi, "psi_level": c.psi_level,
             "missing_reference": c.missing_reference, "missing_current": c.missing_current,
             "missing_level": c.missing_level, "judged": c.judged} for c in drift.columns]
    return {"columns": rows, "unknown_share": drift.unknown_share, "unknown_level": drift.unknown_level,
            "breaches": len(drift.breaches())}


def training_document(drift: TrainingDrift, rules: DriftRules) -> dict[str, Any]:
    """The ``drift`` section: rows per task and column, the largest unknown share over the tasks, the breaches."""
    rows = [{"task": task, **row} for task, report in drift.reports.items() for row in _as_document(report)["columns"]]
    unknown = {task: report.unknown_share for task, report in drift.reports.items() if report.unknown_share is not None}
    worst = max(unknown.values()) if unknown else None
    return {"reference": {"kind": "champion_training", "tasks": dict(drift.versions),
                          "data_end": {task: end.isoformat() for task, end in drift.data_ends.items()}},
            "columns": rows, "unknown_share": worst,
            "unknown_level": rules.level("unknown", worst) if worst is not None else "ok",
            "unknown_by_task": unknown, "breaches": drift.breaches(), "unavailable": dict(drift.unavailable)}


def _log_breaches(drift: DriftReport, as_of: str, reference: str) -> None:
    for line in drift.breaches():
        log.warning("drift of snapshot %s from %s: %s", as_of, reference, line)


def drift_alerts(request: Request, served: Served, words: Translator) -> list[dict[str, Any]]:
    """The breaches of ``served``'s drift from its champions' training data as alerts (``GET /alerts``);
    none when the monitoring route is not attached or no champion serves."""
    service: MonitoringService | None = getattr(request.app.state, "monitoring", None)
    drift = service.training_drift(served) if service is not None else None
    return [] if drift is None or service is None else alerts_of(drift, service.rules, words)


def attach(app: FastAPI, snapshot_dir: Path, live: ServesNow, rules: DriftRules, data_key: DataKey | None = None) -> None:
    """Give the route its state (called once by the service at start)."""
    app.state.monitoring = MonitoringService(snapshot_dir, live, rules, data_key)


@router.get("/monitoring", dependencies=PROTECTED["dependencies"], responses=PROTECTED["responses"])
def monitoring(request: Request, asked: RequestLanguage) -> dict[str, Any]:
    """Drift of the served snapshot: in ``drift``, from each champion's training data (PSI per feature
    and score, missing shares, the share of members new since training, each with its level: ok,
    warn, alert; null when only baselines serve); at the top level, from the previous stored snapshot.

    ``reference`` is null when no older snapshot is stored (nothing to compare with yet). A
    store-scoped key is refused (403): the drift is over every store's members.

    ``refresh``: the last ``memberscore refresh`` run (outcome, reasons in the asked language, tasks
    retrained) and the last retrain, from the refresh log; null before the first run.
    """
    caller = caller_of(request.scope)
    if caller is not None and caller.stores:
        raise ScopeUnavailable(f"key {caller.name!r} sees only the members of stores {', '.join(caller.stores)}: "
                               "drift over the whole chain is outside its scope")
    service: MonitoringService | None = getattr(request.app.state, "monitoring", None)
    if service is None:
        raise HTTPException(status_code=503, detail="not ready: the monitoring route is not attached")
    document = service.report(service.live.current())
    note(rows=len(document["columns"]) + len((document["drift"] or {}).get("columns", [])))
    # backtests and the refresh section are read at each request: both change without a new snapshot
    return {**document, SECTION: backtests_section(service.snapshot_dir, service.data_key),
            "refresh": refresh_section(service.snapshot_dir, translator(asked.language, "memberscore"))}
