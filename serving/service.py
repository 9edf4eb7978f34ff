"""The service: one FastAPI app answers every route; BentoML runs it (``bentoml serve``, the Bento).

Every route, ``/score`` included, is parsed, validated and answered by FastAPI, so there is one
error shape (``serving.errors``) and one OpenAPI document (``serving.contract``). Every route but
the probes, the page and the document needs an API key (``serving.auth.ApiKeyMiddleware``, checked
before routing); request bodies are bounded before parsing (``serving.limits``). What serves
(models and snapshot) is one ``serving.live.Served`` read per request. Routes are sync: FastAPI
runs them in its thread pool, and ``/score`` sends all but the smallest lookups there, so a heavy
request never holds a light one behind it.

This module is the routes' shape only. BentoML's supervisor imports it to read the service's
configuration before it starts a worker, so it imports nothing that scores: the answers, the models,
MLflow, DuckDB and the campaign store are ``serving.answers``, imported by the worker when it starts
(BentoML's own advice: heavy imports in ``__init__``). Importing them here took the supervisor 5.7 s
before every start; now 1.0 s (AMD EPYC), and a small store's server answers /readyz in ~7 s, not ~9 s.
"""

from __future__ import annotations

import gc
from typing import TYPE_CHECKING, Annotated

import bentoml
from fastapi import Depends, FastAPI, Header, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from features.owner_only import owner_only
from features.settings import Settings, keep_quiet, load_settings
from serving import page_scripts
from serving.access_log import escape_access_log
from serving.audit import AuditMiddleware
from serving.auth import ApiKeyMiddleware
from serving.caller import caller_of
from serving.contract import PROTECTED, PUBLIC, product_openapi
from serving.docs_page import docs_response
from serving.errors import http_error, validation_error
from serving.language import ENGLISH_READER, RequestLanguage
from serving.limits import RequestLimitsMiddleware
from serving.marketer_page import page_html
from serving.method_routes import serve_instance_on_the_event_loop
from serving.probes import ProductRoutes, admin_asking
from serving.request_timeout import install as install_request_timeout
from serving.schemas import (
    ExplainRequest,
    ExplainResponse,
    Metadata,
    Readiness,
    ScoreFeaturesRequest,
    ScoreRequest,
    ScoreResponse,
    SegmentsResponse,
    TargetsRequest,
    TargetsResponse,
)

if TYPE_CHECKING:
    from serving.answers import Answers

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
        escape_access_log()  # after BentoML configured logging in this worker
        from serving.answers import start  # the scoring half: in the worker only (module docstring)

        self.answers: Answers = start(settings, web)
        settle_heap()

    @web.post("/score", response_model=ScoreResponse, **PROTECTED)
    async def score(self, request: ScoreRequest, incoming: Request = DIRECT, asked: RequestLanguage = ENGLISH_READER) -> Response:
        """Scores and top reasons of up to 10,000 members of the served snapshot, in request order.

        Unknown ids come back with status 'unknown' (so do members outside a store-scoped key's
        stores). Up to 5 reasons per model are precomputed; more are computed on the fly, for at
        most 25,000 ids x explain per request.
        """
        return await self.answers.score(request, caller_of(incoming.scope), asked)

    @web.post("/score_features", **PROTECTED)
    def score_features(self, request: ScoreFeaturesRequest, asked: RequestLanguage = ENGLISH_READER) -> ScoreResponse:
        """Score caller-supplied feature rows (no snapshot lookup): same outputs and reasons as /score."""
        return self.answers.score_features(request, asked)

    @web.post("/explain", **PROTECTED)
    def explain(self, request: ExplainRequest, incoming: Request = DIRECT,
                asked: RequestLanguage = ENGLISH_READER) -> ExplainResponse:
        """One member's full SHAP vector per model, with base value, margin and feature values."""
        return self.answers.explain(request, caller_of(incoming.scope), asked)

    @web.get("/segments", **PROTECTED)
    def segments(self, incoming: Request = DIRECT, asked: RequestLanguage = ENGLISH_READER) -> SegmentsResponse:
        """Members and 12-month value per RFM segment, tier, ABC class and lifecycle stage (of the key's stores)."""
        return self.answers.segments(caller_of(incoming.scope), asked)

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
        return self.answers.targets(request, caller_of(incoming.scope), asked, format, pseudonymise)

    @web.get("/metadata", **PROTECTED)
    def metadata(self) -> Metadata:
        """Served models (names, versions, training data and cut-offs, metrics) and the snapshot."""
        return self.answers.metadata()

    @web.get("/readiness", response_model=Readiness, responses={503: {"model": Readiness}}, **PUBLIC)
    async def readiness(self, detailed: Annotated[bool, Depends(admin_asking)] = True) -> JSONResponse:
        """Whether the service is ready: 200 or 503; with an admin key, why (the reasons, models and snapshot)."""
        return self.answers.readiness(detailed)

    @web.post("/admin/reload", response_model=Readiness, **PROTECTED)
    def reload(self) -> JSONResponse:
        """Look for a new champion or snapshot now instead of at the next poll."""
        return self.answers.reload()

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
        return self.answers.readiness(detailed)

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


install_request_timeout()  # before BentoML builds the app: its own timeout keeps every request alive 60 s
web.add_exception_handler(RequestValidationError, validation_error)  # type: ignore[arg-type]
web.add_exception_handler(StarletteHTTPException, http_error)  # type: ignore[arg-type]
web.add_middleware(RequestLimitsMiddleware, max_bytes=lambda: service_settings().max_body_bytes)
web.include_router(page_scripts.router)  # /ui/health.js: the page's model-health panel
web.openapi = lambda: product_openapi(web)  # type: ignore[method-assign]


serve_instance_on_the_event_loop(MemberScoring.inner)  # type: ignore[attr-defined]  # set by @bentoml.service
MemberScoring.add_asgi_middleware(AuditMiddleware, settings=service_settings)  # type: ignore[attr-defined]  # set by @bentoml.service  # outermost (the first added): it sees the key check's refusals too
MemberScoring.add_asgi_middleware(ApiKeyMiddleware, settings=service_settings)  # type: ignore[attr-defined]  # nothing is read or routed for an anonymous caller
MemberScoring.add_asgi_middleware(ProductRoutes, probes=web)  # type: ignore[attr-defined]
