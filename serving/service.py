"""The BentoML service: wiring only. Logic lives in scoring, explain, targets and segment_summary.

Every route but the probes needs an API key (``serving.auth.ApiKeyMiddleware``, checked before
routing). What serves (models and snapshot) is one ``serving.live.Served`` read per request.
"""

from __future__ import annotations

import functools
import os
from datetime import date
from pathlib import Path

import bentoml
from fastapi import FastAPI, HTTPException
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from features.project import DEFAULT_PROJECT, PROJECT_ENV, check_project
from features.segment_rules import read_segment_rules
from features.store import default_snapshot_dir, project_snapshot_dir
from serving.auth import ApiKeyMiddleware
from serving.errors import http_error, quiet_refused_requests, validation_error
from serving.explain import explain_row, score_feature_rows
from serving.limits import RequestLimitsMiddleware
from serving.live import (
    DEFAULT_MIN_SNAPSHOT_RATIO,
    MIN_SNAPSHOT_RATIO_ENV,
    LiveState,
    Served,
    parse_min_snapshot_ratio,
)
from serving.probes import ReadinessProbeMiddleware
from serving.list_cursor import ListChanged
from serving.pseudonym import pseudonym, pseudonym_key, pseudonymised
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
from serving.scoring import score_members
from serving.segment_summary import VALUE_COLUMN, configured_labels, segment_counts, total_value
from serving.targets import CAMPAIGNS, targets_csv_export, targets_response

web = FastAPI(title="memberscore")
PAGE = Path(__file__).with_name("static") / "marketer.html"


@bentoml.service(traffic={"timeout": 60})
@bentoml.asgi_app(web, path="/")
class MemberScoring:
    """One project's champion models' scores, with exact SHAP reasons, for the members of its newest snapshot."""

    def __init__(self) -> None:
        quiet_refused_requests()
        poll_seconds = float(os.environ.get("MEMBERSCORE_POLL_SECONDS", "5"))
        self.project = check_project(os.environ.get(PROJECT_ENV, DEFAULT_PROJECT), source=PROJECT_ENV)
        min_ratio = parse_min_snapshot_ratio(os.environ.get(MIN_SNAPSHOT_RATIO_ENV, str(DEFAULT_MIN_SNAPSHOT_RATIO)))
        self.live = LiveState(project_snapshot_dir(default_snapshot_dir(), self.project), poll_seconds, background=True,
                              project=self.project, min_snapshot_ratio=min_ratio)
        self.labels = configured_labels(read_segment_rules(os.environ.get("MEMBERSCORE_SEGMENT_RULES")))

    @bentoml.api(route="/score", input_spec=ScoreRequest)
    def score(self, member_ids: list[str], explain: int = 3) -> ScoreResponse:
        served = self.live.current()
        if not served.ready:
            # BentoML turns any 5xx exception into a generic "unexpected error"; a response keeps the reasons
            return _not_ready_response(served)  # type: ignore[return-value]
        loaded = served.snapshot
        if loaded.members is not None and explain <= loaded.members.k:
            results = loaded.members.scores(member_ids, explain)
        else:  # more reasons than were precomputed: explain the requested rows now
            results = score_members(served.boosters, loaded.scores_by_id, loaded.features_by_id, member_ids, explain)
        return _score_response(served, results, loaded.snapshot.as_of)

    @web.post("/score_features")
    def score_features(self, request: ScoreFeaturesRequest) -> ScoreResponse:
        """Score caller-supplied feature rows (no snapshot lookup): same outputs and reasons as /score."""
        served = _http_ready(self.live.current())
        as_of = request.as_of or served.snapshot.snapshot.as_of
        try:
            results = score_feature_rows(served.boosters, request.rows, as_of, request.explain)
        except ValueError as error:
            raise HTTPException(status_code=422, detail=str(error)) from None
        return _score_response(served, results, as_of)

    @web.post("/explain")
    def explain(self, request: ExplainRequest) -> ExplainResponse:
        """One member's full SHAP vector per model, with base value, margin and feature values."""
        served = _http_ready(self.live.current())
        features = served.snapshot.features_by_id
        if request.member_id not in features.index:
            raise HTTPException(status_code=404, detail=f"member_id {request.member_id!r} is not in the served snapshot")
        row = features.loc[[request.member_id]]
        return ExplainResponse(member_id=request.member_id, snapshot_as_of=served.snapshot.snapshot.as_of.isoformat(),
                               models=explain_row(served.boosters, row))

    @web.get("/segments")
    def segments(self) -> SegmentsResponse:
        """Members and 12-month value per RFM segment, tier, ABC class and lifecycle stage."""
        loaded = _http_ready(self.live.current()).snapshot
        scores = loaded.scores_by_id
        return SegmentsResponse(snapshot_as_of=loaded.snapshot.as_of.isoformat(), members=len(scores),
                                value_column=VALUE_COLUMN, total_value=total_value(scores),
                                dimensions=segment_counts(scores, self.labels))

    @web.get("/campaigns")
    def campaigns(self) -> dict[str, list[dict[str, str]]]:
        """The campaigns /targets knows, with what each selects and ranks by."""
        return {"campaigns": [{"name": c.name, "description": c.description} for c in CAMPAIGNS.values()]}

    @web.post("/targets", response_model=TargetsResponse,
              responses={200: {"content": {"text/csv": {}}, "description": "a JSON page, or the whole list as CSV "
                               "with ?format=csv"}, 410: {"description": "the cursor's list is no longer served"}})
    def targets(self, request: TargetsRequest, format: str = "json",
                pseudonymise: bool = False) -> TargetsResponse | StreamingResponse:
        """A ranked target list for a campaign: JSON in pages (``next_cursor``), ``?format=csv`` the whole list streamed.

        ``?pseudonymise=true`` replaces member ids by keyed pseudonyms (``MEMBERSCORE_PSEUDONYM_KEY``).
        A cursor issued for another list (a new snapshot or models since) answers 410.
        """
        if format not in ("json", "csv"):
            raise HTTPException(status_code=422, detail=f"format: expected 'json' or 'csv', got {format!r}")
        served = _http_ready(self.live.current())
        try:
            key = pseudonym_key() if pseudonymise else None  # no key: 422 before any work
            if format == "csv":  # refusals come before the stream: once it starts, the status is sent
                rename = functools.partial(pseudonym, key=key) if key is not None else None
                export = targets_csv_export(served.boosters, served.snapshot, request, rename)
                return StreamingResponse(export.chunks, media_type="text/csv")
            response = targets_response(served.boosters, served.snapshot, request)
            return pseudonymised(response, key) if key is not None else response
        except ListChanged as error:
            raise HTTPException(status_code=410, detail=str(error)) from None
        except ValueError as error:
            raise HTTPException(status_code=422, detail=str(error)) from None

    @web.get("/metadata")
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

    @web.get("/readiness", response_model=Readiness, responses={503: {"model": Readiness}})
    def readiness(self) -> JSONResponse:
        """Why the service is (not) ready: 200 or 503 with the reasons. GET /readyz answers from here."""
        return _readiness(self.live.current())

    @web.post("/admin/reload", response_model=Readiness, responses={503: {"model": Readiness}})
    def reload(self) -> JSONResponse:
        """Look for a new champion or snapshot now instead of at the next poll."""
        return _readiness(self.live.reload())

    @web.get("/ui", response_class=HTMLResponse, include_in_schema=False)
    def page(self) -> HTMLResponse:
        """The marketers' page (static: it calls the API with the key the user enters)."""
        return HTMLResponse(PAGE.read_text(encoding="utf-8"))


web.add_exception_handler(RequestValidationError, validation_error)
web.add_exception_handler(StarletteHTTPException, http_error)
MemberScoring.add_asgi_middleware(ReadinessProbeMiddleware)
MemberScoring.add_asgi_middleware(ApiKeyMiddleware)
MemberScoring.add_asgi_middleware(RequestLimitsMiddleware)  # inside the key check: anonymous bodies are never read


def _score_response(served: Served, results: list[MemberScore], as_of: date) -> ScoreResponse:
    versions = served.versions()
    return ScoreResponse(results=results, snapshot_as_of=as_of.isoformat(), model_version=versions["churn"],
                         model_versions=versions)


def _not_ready_text(served: Served) -> str:
    return "not ready: " + "; ".join(served.not_ready_reasons())


def _not_ready_response(served: Served) -> JSONResponse:
    return JSONResponse({"error": _not_ready_text(served)}, status_code=503)


def _http_ready(served: Served) -> Served:
    if not served.ready:
        raise HTTPException(status_code=503, detail=_not_ready_text(served))
    return served


def _readiness(served: Served) -> JSONResponse:
    body = Readiness(project=served.project, ready=served.ready,
                     reasons=served.not_ready_reasons(),  # when ready: what was refused
                     models={task: m.name for task, m in served.models.items()},
                     snapshot_as_of=served.snapshot and served.snapshot.snapshot.as_of.isoformat())
    return JSONResponse(body.model_dump(), status_code=200 if served.ready else 503)
