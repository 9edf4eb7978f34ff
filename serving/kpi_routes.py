"""HTTP routes of membership KPIs: ``GET /kpis`` (the table per month or week) and ``GET /alerts`` (breaches).

The service holds snapshots, not purchase histories, so it answers from the KPIs that ``memberscore
snapshot`` / ``train`` stored beside the snapshot (``features.kpi_store``): the newest KPI file not
newer than the served snapshot. Alerts are judged at request time with the service's thresholds
(``MEMBERSCORE_KPI_RULES`` over the packaged ``kpi_rules.yaml``), so changing a threshold needs
no new snapshot. Included in the service's app: behind its API-key middleware, in its error shape.
Also serves the page's KPI panel script (``static/kpis.js``, public like the page itself).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Protocol

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.responses import Response

from features.i18n import Translator
from features.kpi_alerts import find_alerts
from features.kpi_periods import parse_freq
from features.kpi_rules import KpiRules
from features.kpi_store import as_records, read_latest_kpis, stored_table
from features.kpis import KPI_COLUMNS
from features.value_names import kpi_name, label
from serving import monitoring_routes
from serving.audit import note
from serving.caller import caller_of
from serving.contract import PROTECTED
from serving.language import RequestLanguage
from serving.live import Served
from serving.scope import scoped_kpis

router = APIRouter()
SCRIPT = Path(__file__).with_name("static") / "kpis.js"
LABELLED_SPLITS = ("tier", "lifecycle_stage")  # coded values with names in the catalogue
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "no KPIs stored with the served snapshot"}}


class ServesNow(Protocol):
    def current(self) -> Served: ...


@dataclass(frozen=True)
class KpiService:
    """What the routes need: the project's snapshot directory, what serves, and the alert thresholds."""

    snapshot_dir: Path
    live: ServesNow
    rules: KpiRules


def attach(app: FastAPI, snapshot_dir: Path, live: ServesNow, rules: KpiRules) -> None:
    """Give the routes their state (called once by the service at start)."""
    app.state.kpis = KpiService(snapshot_dir, live, rules)


@router.get("/kpis", dependencies=PROTECTED["dependencies"], responses={**PROTECTED["responses"], **NOT_FOUND})
def kpis(request: Request, asked: RequestLanguage, freq: str = "month", by: str | None = None) -> dict[str, Any]:
    """Membership KPIs per complete month or week (``freq``), optionally ``by`` tier, store or lifecycle_stage.

    Rates with nothing to divide by are null. ``labels`` names each KPI in the chosen language
    (``lang`` or Accept-Language); with ``by`` tier or lifecycle_stage each row has ``<by>_label``.
    """
    words, (document, table) = Translator(asked.language), _table(request, freq, by)
    rows = as_records(table)
    if by in LABELLED_SPLITS:
        for row in rows:
            row[f"{by}_label"] = label(str(by), row[by], words)
    note(rows=len(rows))
    return {"as_of": document["as_of"], "freq": freq, "by": by, "labels": kpi_labels(words), "rows": rows}


@router.get("/alerts", dependencies=PROTECTED["dependencies"], responses=PROTECTED["responses"])
def alerts(request: Request, asked: RequestLanguage, freq: str = "month", by: str | None = None) -> dict[str, Any]:
    """Breaches of the KPI thresholds, newest first (each with the value, what it is compared with and by how
    much), and in ``drift_alerts`` the served snapshot's drift from its champions' training data.

    ``kpis_stored`` is false when no KPIs are stored with the served snapshot: ``alerts`` is then
    empty and the drift alerts still come. A key scoped to stores sees no drift alerts (they are
    over every store's members).
    """
    words, service = Translator(asked.language), _service(request)
    served, as_of = _served(service)
    stored = read_latest_kpis(service.snapshot_dir, as_of)
    found: list[dict[str, Any]] = []
    if stored is not None:
        table = _table(request, freq, by)[1]
        found = [{"kind": "kpi", **alert} for alert in as_records(find_alerts(table, parse_freq(freq), service.rules))]
        for alert in found:
            alert["kpi_label"] = kpi_labels(words)[alert["kpi"]]
    caller = caller_of(request.scope)
    drift = [] if caller is not None and caller.stores else monitoring_routes.drift_alerts(request, served, words)
    note(rows=len(found) + len(drift))
    return {"as_of": stored["as_of"] if stored is not None else as_of.isoformat(), "freq": freq, "by": by,
            "alerts": found, "kpis_stored": stored is not None, "drift_alerts": drift}


@router.get("/ui/kpis.js", include_in_schema=False)
def script() -> Response:
    """The KPI panel of the marketers' page (no data in it: it calls /kpis and /alerts with the user's key)."""
    return Response(_script_text(), media_type="text/javascript; charset=utf-8")


@functools.cache
def _script_text() -> str:
    return SCRIPT.read_text(encoding="utf-8")


def kpi_labels(words: Translator) -> dict[str, str]:
    """Each KPI's name for people (msgid: the code with spaces; context ``kpi``)."""
    return {code: kpi_name(code, words) for code in KPI_COLUMNS}


def _service(request: Request) -> KpiService:
    service: KpiService | None = getattr(request.app.state, "kpis", None)
    if service is None:
        raise HTTPException(status_code=503, detail="not ready: the KPI routes are not attached")
    return service


def _served(service: KpiService) -> tuple[Served, date]:
    """What serves now and its snapshot's date; 503 without a snapshot."""
    served = service.live.current()
    if served.snapshot is None:
        raise HTTPException(status_code=503, detail="not ready: " + "; ".join(served.not_ready_reasons()))
    return served, served.snapshot.snapshot.as_of


def _table(request: Request, freq: str, by: str | None) -> tuple[dict[str, Any], Any]:
    """The stored document for the served snapshot and its ``freq`` x ``by`` table as the caller may
    see it (422 for a bad choice; 403 for a store-scoped key without ``by=store``)."""
    service = _service(request)
    document = _document(service.snapshot_dir, _served(service)[1])
    try:
        table = stored_table(document, parse_freq(freq), by)
    except ValueError as error:
        raise HTTPException(status_code=422, detail=str(error)) from None
    return document, scoped_kpis(table, by, caller_of(request.scope))


def _document(directory: Path, as_of: date) -> dict[str, Any]:
    document = read_latest_kpis(directory, as_of)
    if document is None:
        raise HTTPException(status_code=404, detail=(
            f"kpis: none stored with the snapshot as of {as_of}: run `memberscore snapshot --transactions T` "
            "(or `memberscore train`), which stores them beside it"))
    return document
