"""What the service's own routes answer, and the worker's start-up: the heavy half of the service.

``serving.service`` defines the routes (paths, parameters, the OpenAPI shape) and imports only what
that needs, because BentoML's supervisor imports it just to read the service's configuration before
it starts a worker. Everything that scores (the models, the snapshot, MLflow, DuckDB, the campaign
store) is imported here, by the worker alone, when ``MemberScoring.__init__`` calls ``start``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import date

from fastapi import FastAPI, HTTPException
from fastapi.responses import JSONResponse, Response, StreamingResponse
from pydantic import SecretStr
from starlette.concurrency import run_in_threadpool

from campaigns.store import open_store, store_url
from features.catalogue import ENGLISH
from features.drift_rules import read_drift_rules
from features.engine import limit_duckdb_memory
from features.formats import Voice
from features.i18n import Translator
from features.kpi_rules import read_kpi_rules
from features.segment_rules import read_segment_rules
from features.settings import Settings
from features.store import project_snapshot_dir
from features.tier_programme import read_programme
from models.catalog import reread_telemetry_switch
from serving import campaign_routes, kpi_routes, monitoring_routes
from serving.artefacts import LoadedSnapshot
from serving.audit import note
from serving.caller import Caller
from serving.explain import explain_row, score_feature_rows
from serving.language import Asked
from serving.list_cursor import ListChanged
from serving.live import LiveState, Served
from serving.probes import readiness_response
from serving.pseudonym import pseudonym, pseudonymised
from serving.schemas import (
    ExplainRequest,
    ExplainResponse,
    MemberScore,
    Metadata,
    ModelInfo,
    ScoreFeaturesRequest,
    ScoreRequest,
    ScoreResponse,
    SegmentsResponse,
    TargetsRequest,
    TargetsResponse,
)
from serving.scope import pseudonyms_for, scoped, visible
from serving.scoring import score_members
from serving.segment_summary import VALUE_COLUMN, configured_labels, segment_counts, total_value
from serving.targets import targets_csv_export, targets_response

# Reasons beyond the precomputed ones are TreeSHAP on the fly (~1,000 predictions per row and
# model): ids x explain above this is refused (10,000 ids x 25 reasons took 16 s and 184 MB).
MAX_ON_THE_FLY_REASONS = 25_000
# /score looks up this many ids on the event loop (tens of microseconds); more, or reasons computed
# on the fly, run in FastAPI's thread pool so that no request waits behind another's work.
INLINE_IDS = 8
ROUTERS = (campaign_routes.router, kpi_routes.router, monitoring_routes.router)


@dataclass
class Answers:
    """One project's served state and the answers of the service's own routes over it."""

    live: LiveState
    labels: dict[str, tuple[str, ...]]
    project: str
    pseudonym_secret: SecretStr | None = None
    currency: str | None = None

    async def score(self, request: ScoreRequest, caller: Caller | None, asked: Asked) -> Response:
        served = _http_ready(self.live.current())
        answer = functools.partial(scored, served, request.member_ids, request.explain, self.voice(asked), caller)
        if _is_lookup(served, request) and len(request.member_ids) <= INLINE_IDS:
            response = answer()  # a few precomputed rows: microseconds, less than a hop to a thread
        else:
            response = await run_in_threadpool(answer)  # the event loop keeps answering meanwhile
        note(rows=len(response.results))
        return _json(response)

    def score_features(self, request: ScoreFeaturesRequest, asked: Asked) -> ScoreResponse:
        served = _http_ready(self.live.current())
        as_of = request.as_of or _ready_snapshot(served).snapshot.as_of
        try:
            results = score_feature_rows(served.boosters, request.rows, as_of, request.explain, self.voice(asked))
        except ValueError as error:
            raise HTTPException(status_code=422, detail=str(error)) from None
        note(rows=len(results))
        return _score_response(served, results, as_of)

    def explain(self, request: ExplainRequest, caller: Caller | None, asked: Asked) -> ExplainResponse:
        served = _http_ready(self.live.current())
        loaded = _ready_snapshot(served)
        features = loaded.features_by_id
        seen = visible(loaded, caller, [request.member_id])
        if request.member_id not in features.index or (seen is not None and request.member_id not in seen):
            raise HTTPException(status_code=404, detail=f"member_id {request.member_id!r} is not in the served snapshot")
        row = features.loc[[request.member_id]]
        note(rows=1)  # the member's id is never noted
        return ExplainResponse(member_id=request.member_id, snapshot_as_of=loaded.snapshot.as_of.isoformat(),
                               models=explain_row(served.boosters, row, self.voice(asked)))

    def segments(self, caller: Caller | None, asked: Asked) -> SegmentsResponse:
        loaded = scoped(_ready_snapshot(_http_ready(self.live.current())), caller)
        scores = loaded.scores_by_id
        return SegmentsResponse(snapshot_as_of=loaded.snapshot.as_of.isoformat(), members=len(scores),
                                value_column=VALUE_COLUMN, total_value=total_value(scores),
                                dimensions=segment_counts(scores, self.labels, Translator(asked.language)))

    def targets(self, request: TargetsRequest, caller: Caller | None, asked: Asked, format: str,
                pseudonymise: bool) -> TargetsResponse | StreamingResponse:
        if format not in ("json", "csv"):
            raise HTTPException(status_code=422, detail=f"format: expected 'json' or 'csv', got {format!r}")
        served = _http_ready(self.live.current())
        key = pseudonyms_for(caller, pseudonymise, self.pseudonym_secret)  # refused before any work
        loaded = scoped(_ready_snapshot(served), caller)
        try:
            if format == "csv":  # refusals come before the stream: once it starts, the status is sent
                rename = functools.partial(pseudonym, key=key) if key is not None else None
                headers = Translator(asked.language) if asked.explicit else None
                export = targets_csv_export(served.boosters, loaded, request, rename,
                                            voice=self.voice(asked), headers=headers)
                note(list_name=export.campaign, rows=export.rows)
                return StreamingResponse(export.chunks, media_type="text/csv; charset=utf-8")
            response = targets_response(served.boosters, loaded, request, self.voice(asked))
            note(list_name=response.campaign, rows=len(response.rows))
            return pseudonymised(response, key) if key is not None else response
        except ListChanged as error:
            raise HTTPException(status_code=410, detail=str(error)) from None
        except ValueError as error:
            raise HTTPException(status_code=422, detail=str(error)) from None

    def metadata(self) -> Metadata:
        served = self.live.current()
        models = {task: ModelInfo(model_name=m.name, model_version=m.mlflow_version, mlflow_run_id=m.run_id,
                                  metrics=m.metrics, features=list(m.booster.feature_names or []), training=m.training,
                                  promotion_metric=m.training.get("promotion_metric"))
                  for task, m in served.models.items()}
        churn = models.get("churn")
        loaded = served.snapshot
        return Metadata(
            project=served.project, model_name=churn and churn.model_name, model_version=churn and churn.model_version,
            mlflow_run_id=churn and churn.mlflow_run_id, metrics=churn.metrics if churn else {}, models=models,
            snapshot_as_of=loaded and loaded.snapshot.as_of.isoformat(),
            snapshot_members=len(loaded.features_by_id) if loaded else 0,
            data_fingerprint=loaded and loaded.snapshot.fingerprint, ready=served.ready,
        )

    def readiness(self, detailed: bool) -> JSONResponse:
        return readiness_response(self.live.current(), detailed)

    def reload(self) -> JSONResponse:
        return readiness_response(self.live.reload(), detailed=True)

    def voice(self, asked: Asked) -> Voice:
        """Reasons in the request's language, amounts in the project's currency (MEMBERSCORE_CURRENCY)."""
        return Voice(asked.language, self.currency)


def start(settings: Settings, web: FastAPI) -> Answers:
    """The worker's start-up: what serves (polled in the background), the segment labels, and the
    campaign, KPI and monitoring routes with their state."""
    reread_telemetry_switch()  # mlflow may have been imported (and its telemetry started) before the switch
    limit_duckdb_memory(settings.duckdb_memory_limit)
    project = settings.project
    live = LiveState(project_snapshot_dir(settings.snapshot_dir, project), settings.poll_seconds,
                     background=True, project=project, min_snapshot_ratio=settings.min_snapshot_ratio,
                     tracking_uri=settings.mlflow_tracking_uri, data_key=settings.encryption_key())
    tier_codes = read_programme(settings.tier_programme).codes if settings.tier_programme else None
    include_routers(web)
    campaign_routes.attach(web, open_store(store_url(settings.campaign_db), settings.encryption_key()), live,
                           project, pseudonym_secret=settings.pseudonym_key)
    kpi_routes.attach(web, live.snapshot_dir, live, read_kpi_rules(settings.kpi_rules))
    monitoring_routes.attach(web, live.snapshot_dir, live, read_drift_rules(settings.drift_rules),
                             settings.encryption_key())
    return Answers(live, configured_labels(read_segment_rules(settings.segment_rules), tier_codes), project,
                   settings.pseudonym_key, settings.currency)


def include_routers(web: FastAPI) -> None:
    """Add the campaign (/campaigns), KPI (/kpis, /alerts) and monitoring (/monitoring) routes to
    ``web`` once per process, however many services a process starts (tests start several)."""
    if getattr(web.state, "product_routers", False):
        return
    for router in ROUTERS:
        web.include_router(router)
    web.state.product_routers = True
    web.openapi_schema = None  # a document built before (serving.contract keeps one) lacked these routes


def _is_lookup(served: Served, request: ScoreRequest) -> bool:
    members = served.snapshot.members if served.snapshot is not None else None
    return members is not None and request.explain <= members.k


def scored(served: Served, member_ids: list[str], explain: int, voice: Voice = ENGLISH,
           caller: Caller | None = None) -> ScoreResponse:
    """The answer to /score: each distinct id computed once, the answer in request order (repeats included).

    Reasons beyond the precomputed ones are bounded (``MAX_ON_THE_FLY_REASONS``): a 422 states the limit.
    Ids outside a store-scoped caller's stores are answered as unknown, exactly like absent ones.
    """
    loaded = served.snapshot
    assert loaded is not None  # ready
    asked = list(dict.fromkeys(member_ids))
    seen = visible(loaded, caller, asked)
    distinct = asked if seen is None else [member_id for member_id in asked if member_id in seen]
    if loaded.members is not None and explain <= loaded.members.k:
        results = loaded.members.scores(distinct, explain, voice)
    else:  # more reasons than were precomputed: explain the requested rows now, within the bound
        precomputed = loaded.members.k if loaded.members is not None else 0
        if len(distinct) * explain > MAX_ON_THE_FLY_REASONS:
            raise HTTPException(status_code=422, detail=(
                f"explain: more than {precomputed} reasons are computed on the fly, for at most "
                f"{MAX_ON_THE_FLY_REASONS:,} distinct ids x explain per request; got {len(distinct):,} x {explain} "
                f"= {len(distinct) * explain:,} (ask for explain <= {precomputed} or send fewer ids)"))
        results = score_members(served.boosters, loaded.scores_by_id, loaded.features_by_id, distinct, explain, voice)
    by_id = dict(zip(distinct, results))
    for member_id in asked:
        by_id.setdefault(member_id, MemberScore(member_id=member_id, status="unknown"))
    return _score_response(served, [by_id[member_id] for member_id in member_ids], loaded.snapshot.as_of)


def _json(body: ScoreResponse) -> Response:
    """Serialised by pydantic in the route's worker thread (FastAPI would validate the answer again)."""
    return Response(body.model_dump_json(), media_type="application/json")


def _score_response(served: Served, results: list[MemberScore], as_of: date) -> ScoreResponse:
    versions = served.versions()
    return ScoreResponse(results=results, snapshot_as_of=as_of.isoformat(), model_version=versions["churn"],
                         model_versions=versions)


def _not_ready_text(served: Served) -> str:
    return "not ready: " + "; ".join(served.not_ready_reasons())


def _http_ready(served: Served) -> Served:
    if not served.ready:
        raise HTTPException(status_code=503, detail=_not_ready_text(served))
    return served


def _ready_snapshot(served: Served) -> LoadedSnapshot:
    """The snapshot of a ready service (ready implies one; 503, as for not ready, if it is gone)."""
    if served.snapshot is None:
        raise HTTPException(status_code=503, detail=_not_ready_text(served))
    return served.snapshot
