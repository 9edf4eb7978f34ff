"""``GET /monitoring``: drift of the served snapshot from the project's previous stored snapshot.

The reference is the newest stored snapshot older than the served one (``features.store``): the
simplest honest reference the service has. It is NOT the champion's training data, which the
service does not keep; a drift from training needs the training frame stored with the model
(not done yet). Scores are compared only where both frames carry them: a stored snapshot holds
features, not scores, so until score history is stored only features are compared.

The report is computed once per served snapshot (the first request after a reload), and its
breaches are logged then, once, without member ids. Thresholds: ``features/drift_rules.yaml``.
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
from features.drift import DriftReport, compare
from features.drift_rules import DriftRules
from features.i18n import translator
from features.refresh_log import refresh_section
from features.store import previous_snapshot_path, read_snapshot
from serving.artefacts import LoadedSnapshot
from serving.audit import note
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
    _cached: tuple[tuple[str, ...], dict[str, Any]] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def report(self, loaded: LoadedSnapshot) -> dict[str, Any]:
        """The drift document of ``loaded`` against the previous stored snapshot, computed (and logged) once."""
        as_of = loaded.snapshot.as_of
        previous = previous_snapshot_path(self.snapshot_dir, as_of)
        key = (as_of.isoformat(), loaded.snapshot.fingerprint, str(previous))
        with self._lock:
            if self._cached is None or self._cached[0] != key:
                self._cached = (key, self._build(loaded, previous))
            return self._cached[1]

    def _build(self, loaded: LoadedSnapshot, previous: Path | None) -> dict[str, Any]:
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
        drift = compare(reference, joined, self.rules, features=list(current.columns), scores=scores,
                        member_ids=MEMBER_ID)
        _log_breaches(drift, document["as_of"], stored.as_of.isoformat())
        return {**document, **_as_document(drift), "reference": {"kind": "previous_snapshot",
                                                                  "as_of": stored.as_of.isoformat()}}


def _as_document(drift: DriftReport) -> dict[str, Any]:
    rows = [{"column": c.column, "kind": c.kind, "psi": c.psi, "psi_level": c.psi_level,
             "missing_reference": c.missing_reference, "missing_current": c.missing_current,
             "missing_level": c.missing_level} for c in drift.columns]
    return {"columns": rows, "unknown_share": drift.unknown_share, "unknown_level": drift.unknown_level,
            "breaches": len(drift.breaches())}


def _log_breaches(drift: DriftReport, as_of: str, reference: str) -> None:
    for line in drift.breaches():
        log.warning("drift of snapshot %s from %s: %s", as_of, reference, line)


def attach(app: FastAPI, snapshot_dir: Path, live: ServesNow, rules: DriftRules, data_key: DataKey | None = None) -> None:
    """Give the route its state (called once by the service at start)."""
    app.state.monitoring = MonitoringService(snapshot_dir, live, rules, data_key)


@router.get("/monitoring", dependencies=PROTECTED["dependencies"], responses=PROTECTED["responses"])
def monitoring(request: Request, asked: RequestLanguage) -> dict[str, Any]:
    """Drift of the served snapshot from the previous stored one: PSI and missing shares per column,
    the share of members the previous snapshot did not have, each with its level (ok, warn, alert).

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
    served = service.live.current()
    if served.snapshot is None:
        raise HTTPException(status_code=503, detail="not ready: " + "; ".join(served.not_ready_reasons()))
    document = service.report(served.snapshot)
    note(rows=len(document["columns"]))
    # the refresh section (features.refresh_log): read at each request, since a run logs without a new snapshot
    return {**document, "refresh": refresh_section(service.snapshot_dir, translator(asked.language, "memberscore"))}
