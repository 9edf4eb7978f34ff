"""The service: one FastAPI app answers every route; BentoML runs it (``bentoml serve``, the Bento).

Every route, ``/score`` included, is parsed, validated and answered by FastAPI, so there is one
error shape (``serving.errors``) and one OpenAPI document (``serving.contract``). Every route but
the probes, the page and the document needs an API key (``serving.auth.ApiKeyMiddleware``, checked
before routing); request bodies are bounded before parsing (``serving.limits``). What serves
(models and snapshot) is one ``serving.live.Served`` read per request. Routes are sync: FastAPI
runs them in its thread pool, and ``/score`` sends all but the smallest lookups there, so a heavy
request never holds a light one behind it.
"""

from __future__ import annotations

import functools
import gc
from datetime import date
from typing import Annotated

import bentoml
from fastapi import Depends, FastAPI, Header, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from campaigns.store import open_store, store_url
from features.catalogue import ENGLISH
from features.drift_rules import read_drift_rules
from features.formats import Voice
from features.i18n import Translator
from features.kpi_rules import read_kpi_rules
from features.owner_only import owner_only
from features.segment_rules import read_segment_rules
from features.settings import Settings, keep_quiet, load_settings
from features.store import project_snapshot_dir
from features.tier_programme import read_programme
from models.catalog import reread_telemetry_switch
from serving import campaign_routes, kpi_routes, monitoring_routes, page_scripts
from serving.access_log import escape_access_log
from serving.artefacts import LoadedSnapshot
from serving.audit import AuditMiddleware, note
from serving.auth import ApiKeyMiddleware
from serving.caller import Caller, caller_of
from serving.contract import PROTECTED, PUBLIC, product_openapi
from serving.docs_page import docs_response
from serving.errors import http_error, validation_error
from serving.explain import explain_row, score_feature_rows
from serving.language import ENGLISH_READER, Asked, RequestLanguage
from serving.limits import RequestLimitsMiddleware
from serving.list_cursor import ListChanged
from serving.live import (
    LiveState,
    Served,
)
from serving.marketer_page import page_html
from serving.method_routes import serve_instance_on_the_event_loop
from serving.probes import ProductRoutes, admin_asking, readiness_response
from serving.pseudonym import pseudonym, pseudonymised
from serving.request_timeout import install as install_request_timeout
from serving.schemas import (
    ExplainRequest,
    ExplainResponse,
    MemberScore,
    Metadata,
    ModelInfo,
    Readiness,
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

# BentoML's sampler records every request's spans (three per request) even when none is exported:
# 40% of /healthz's CPU and 30% of /score's, measured in process. No path is traced unless the
# operator names the paths to leave out in BentoML's configuration (README, "Tracing").
UNTRACED = ".*"

web = FastAPI(docs_url=None, redoc_url=None, openapi_url="/docs.json")
# A route called as a method (BentoML's testing pattern) has no HTTP request, so no caller: full rights,
# as with the key check off. Over HTTP FastAPI always passes the request the key check named.
DIRECT = Request({"type": "http", "method": "POST", "path": "/", "headers": []})


def service_settings() -> Settings:
    """The service's settings, read from its environment when it starts (``MemberScoring.__init__``
    and its two middlewares, all built at start-up); a bad value stops the start naming the variable."""
    return load_settings()


@bentoml.service(traffic={"timeout": 60}, tracing={"excluded_urls": UNTRACED})
@bentoml.asgi_app(web, path="/")
class MemberScoring:
    """One project's champion models' scores, with exact SHAP reasons, for the members of its newest snapshot."""

    def __init__(self) -> None:
        owner_only()  # what the service writes (campaigns, KPIs, logs) is its owner's alone
        settings = service_settings()
        keep_quiet(settings)  # also when started by `bentoml serve` directly, not `memberscore serve`
        reread_telemetry_switch()  # mlflow was imported (and its telemetry started) before the switch
        escape_access_log()  # after BentoML configured logging in this worker
        self.project, self.pseudonym_secret = settings.project, settings.pseudonym_key
        self.currency = settings.currency
        self.live = LiveState(project_snapshot_dir(settings.snapshot_dir, self.project), settings.poll_seconds,
                              background=True, project=self.project, min_snapshot_ratio=settings.min_snapshot_ratio,
                              tracking_uri=settings.mlflow_tracking_uri, data_key=settings.encryption_key())
        tier_codes = read_programme(settings.tier_programme).codes if settings.tier_programme else None
        self.labels = configured_labels(read_segment_rules(settings.segment_rules), tier_codes)
        campaign_routes.attach(web, open_store(store_url(settings.campaign_db), settings.encryption_key()), self.live,
                               self.project, pseudonym_secret=self.pseudonym_secret)
        kpi_routes.attach(web, self.live.snapshot_dir, self.live, read_kpi_rules(settings.kpi_rules))
        monitoring_routes.attach(web, self.live.snapshot_dir, self.live, read_drift_rules(settings.drift_rules),
                                 settings.encryption_key())
        settle_heap()

    @web.post("/score", response_model=ScoreResponse, **PROTECTED)
    async def score(self, request: ScoreRequest, incoming: Request = DIRECT, asked: RequestLanguage = ENGLISH_READER) -> Response:
        """Scores and top reasons of up to 10,000 members of the served snapshot, in request order.

        Unknown ids come back with status 'unknown' (so do members outside a store-scoped key's
        stores). Up to 5 reasons per model are precomputed; more are computed on the fly, for at
        most 25,000 ids x explain per request.
        """
        served = _http_ready(self.live.current())
        answer = functools.partial(scored, served, request.member_ids, request.explain, self._voice(asked),
                                   caller_of(incoming.scope))
        if _is_lookup(served, request) and len(request.member_ids) <= INLINE_IDS:
            response = answer()  # a few precomputed rows: microseconds, less than a hop to a thread
        else:
            response = await run_in_threadpool(answer)  # the event loop keeps answering meanwhile
        note(rows=len(response.results))
        return _json(response)

    @web.post("/score_features", **PROTECTED)
    def score_features(self, request: ScoreFeaturesRequest, asked: RequestLanguage = ENGLISH_READER) -> ScoreResponse:
        """Score caller-supplied feature rows (no snapshot lookup): same outputs and reasons as /score."""
        served = _http_ready(self.live.current())
        as_of = request.as_of or _ready_snapshot(served).snapshot.as_of
        try:
            results = score_feature_rows(served.boosters, request.rows, as_of, request.explain, self._voice(asked))
        except ValueError as error:
            raise HTTPException(status_code=422, detail=str(error)) from None
        note(rows=len(results))
        return _score_response(served, results, as_of)

    @web.post("/explain", **PROTECTED)
    def explain(self, request: ExplainRequest, incoming: Request = DIRECT,
                asked: RequestLanguage = ENGLISH_READER) -> ExplainResponse:
        """One member's full SHAP vector per model, with base value, margin and feature values."""
        served = _http_ready(self.live.current())
        loaded = _ready_snapshot(served)
        features = loaded.features_by_id
        seen = visible(loaded, caller_of(incoming.scope), [request.member_id])
        if request.member_id not in features.index or (seen is not None and request.member_id not in seen):
            raise HTTPException(status_code=404, detail=f"member_id {request.member_id!r} is not in the served snapshot")
        row = features.loc[[request.member_id]]
        note(rows=1)  # the member's id is never noted
        return ExplainResponse(member_id=request.member_id, snapshot_as_of=loaded.snapshot.as_of.isoformat(),
                               models=explain_row(served.boosters, row, self._voice(asked)))

    @web.get("/segments", **PROTECTED)
    def segments(self, incoming: Request = DIRECT, asked: RequestLanguage = ENGLISH_READER) -> SegmentsResponse:
        """Members and 12-month value per RFM segment, tier, ABC class and lifecycle stage (of the key's stores)."""
        loaded = scoped(_ready_snapshot(_http_ready(self.live.current())), caller_of(incoming.scope))
        scores = loaded.scores_by_id
        return SegmentsResponse(snapshot_as_of=loaded.snapshot.as_of.isoformat(), members=len(scores),
                                value_column=VALUE_COLUMN, total_value=total_value(scores),
                                dimensions=segment_counts(scores, self.labels, Translator(asked.language)))

    @web.post("/targets", response_model=TargetsResponse, dependencies=PROTECTED["dependencies"],
              responses={**PROTECTED["responses"],
                         200: {"content": {"text/csv": {}},
                               "description": "a JSON page, or the whole list as CSV with ?format=csv"},
                         410: {"description": "the cursor's list is no longer served: start again without a cursor"}})
    def targets(self, request: TargetsRequest, incoming: Request = DIRECT, asked: RequestLanguage = ENGLISH_READER,
                format: str = "json", pseudonymise: bool = False) -> TargetsResponse | StreamingResponse:
        """A ranked target list for a campaign: JSON in pages (``next_cursor``), ``?format=csv`` the whole list streamed.

        ``?pseudonymise=true`` replaces member ids by keyed pseudonyms (``MEMBERSCORE_PSEUDONYM_KEY``); a
        key without raw ids (a marketer's by default) always gets them, a store-scoped key its stores' members.
        Reasons and names follow ``lang`` / Accept-Language; a CSV with an explicit ``lang`` has translated
        headers and names beside the codes (without one it keeps the stable column names).
        A cursor issued for another list (a new snapshot or models since) answers 410.
        """
        if format not in ("json", "csv"):
            raise HTTPException(status_code=422, detail=f"format: expected 'json' or 'csv', got {format!r}")
        served = _http_ready(self.live.current())
        caller = caller_of(incoming.scope)
        key = pseudonyms_for(caller, pseudonymise, self.pseudonym_secret)  # refused before any work
        loaded = scoped(_ready_snapshot(served), caller)
        try:
            if format == "csv":  # refusals come before the stream: once it starts, the status is sent
                rename = functools.partial(pseudonym, key=key) if key is not None else None
                headers = Translator(asked.language) if asked.explicit else None
                export = targets_csv_export(served.boosters, loaded, request, rename,
                                            voice=self._voice(asked), headers=headers)
                note(list_name=export.campaign, rows=export.rows)
                return StreamingResponse(export.chunks, media_type="text/csv; charset=utf-8")
            response = targets_response(served.boosters, loaded, request, self._voice(asked))
            note(list_name=response.campaign, rows=len(response.rows))
            return pseudonymised(response, key) if key is not None else response
        except ListChanged as error:
            raise HTTPException(status_code=410, detail=str(error)) from None
        except ValueError as error:
            raise HTTPException(status_code=422, detail=str(error)) from None

    def _voice(self, asked: Asked) -> Voice:
        """Reasons in the request's language, amounts in the project's currency (MEMBERSCORE_CURRENCY)."""
        return Voice(asked.language, self.currency)

    @web.get("/metadata", **PROTECTED)
    def metadata(self) -> Metadata:
        """Served models (names, versions, training data and cut-offs, metrics) and the snapshot."""
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

    @web.get("/readiness", response_model=Readiness, responses={503: {"model": Readiness}}, **PUBLIC)
    async def readiness(self, detailed: Annotated[bool, Depends(admin_asking)] = True) -> JSONResponse:
        """Whether the service is ready: 200 or 503; with an admin key, why (the reasons, models and snapshot)."""
        return readiness_response(self.live.current(), detailed)

    @web.post("/admin/reload", response_model=Readiness, **PROTECTED)
    def reload(self) -> JSONResponse:
        """Look for a new champion or snapshot now instead of at the next poll."""
        return readiness_response(self.live.reload(), detailed=True)

    @web.get("/ui", response_class=HTMLResponse, include_in_schema=False)
    def page(self, accept_language: Annotated[str | None, Header()] = None) -> HTMLResponse:
        """The marketers' page (static: it calls the API with the key the user enters), in the
        browser's language until the reader picks one; it holds the translations, never member data."""
        return HTMLResponse(page_html(accept_language), headers={"Vary": "Accept-Language"})

    @web.get("/", response_class=HTMLResponse, include_in_schema=False)
    def docs(self) -> HTMLResponse:
        """The API's documentation (Swagger UI on /docs.json), from files served here only."""
        return docs_response()

    @web.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness}}, **PUBLIC)
    async def readyz(self, detailed: Annotated[bool, Depends(admin_asking)] = True) -> JSONResponse:
        """Readiness probe: 200 when ready, else 503; with an admin key the reasons (same body as /readiness)."""
        return readiness_response(self.live.current(), detailed)

    @web.get("/healthz", **PUBLIC)
    @web.get("/livez", **PUBLIC)
    async def healthz(self) -> dict[str, str]:
        """Liveness probe: the process answers (on the event loop: a probe never waits for a thread)."""
        return {"status": "alive"}


def settle_heap() -> None:
    """Move everything alive after start-up out of the garbage collector's sight (``gc.freeze``).

    The process holds millions of long-lived objects (MLflow, BentoML, pandas, the served models'
    lookups); every full collection walked them all, stopping every request for 0.3-0.8 s, which
    was the p99 of /score and of /healthz under load. Requests only make short-lived objects; a
    frozen object is still freed when its last reference goes (a replaced snapshot).
    """
    gc.collect()
    gc.freeze()


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


install_request_timeout()  # before BentoML builds the app: its own timeout keeps every request alive 60 s
web.add_exception_handler(RequestValidationError, validation_error)  # type: ignore[arg-type]
web.add_exception_handler(StarletteHTTPException, http_error)  # type: ignore[arg-type]
web.add_middleware(RequestLimitsMiddleware, max_bytes=lambda: service_settings().max_body_bytes)
web.include_router(campaign_routes.router)  # /campaigns: created and stored campaigns with a holdout
web.include_router(kpi_routes.router)  # /kpis, /alerts: membership KPIs stored beside the snapshot
web.include_router(monitoring_routes.router)  # /monitoring: drift from the previous stored snapshot
web.include_router(page_scripts.router)  # /ui/health.js: the page's model-health panel
web.openapi = lambda: product_openapi(web)  # type: ignore[method-assign]


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


serve_instance_on_the_event_loop(MemberScoring.inner)  # type: ignore[attr-defined]  # set by @bentoml.service
MemberScoring.add_asgi_middleware(AuditMiddleware, settings=service_settings)  # type: ignore[attr-defined]  # set by @bentoml.service  # outermost (the first added): it sees the key check's refusals too
MemberScoring.add_asgi_middleware(ApiKeyMiddleware, settings=service_settings)  # type: ignore[attr-defined]  # nothing is read or routed for an anonymous caller
MemberScoring.add_asgi_middleware(ProductRoutes, probes=web)  # type: ignore[attr-defined]
