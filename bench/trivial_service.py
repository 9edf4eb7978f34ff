"""The yardstick for the HTTP benchmark: one trivial JSON endpoint on the same server stack.

Same as ``serving.service.MemberScoring``: a ``@bentoml.service`` class whose routes are a mounted
FastAPI app, ``/score`` parsing the same pydantic request, the same API-key middleware and request
timeout, served by ``bentoml serve`` with the same defaults (one worker). Only the work is missing:
it echoes how many ids it was sent.

    bentoml serve bench.trivial_service:Trivial --port 3001
"""

from __future__ import annotations

import bentoml
from fastapi import FastAPI

from features.settings import load_settings
from serving.auth import ApiKeyMiddleware
from serving.request_timeout import install as install_request_timeout
from serving.schemas import ScoreRequest

web = FastAPI(title="memberscore-bench-trivial")


@bentoml.service(traffic={"timeout": 60})
@bentoml.asgi_app(web, path="/")
class Trivial:
    """Answers /score with the ids it was sent, without looking anything up."""

    @web.post("/score")
    async def score(self, request: ScoreRequest) -> dict[str, object]:
        return {"received": len(request.member_ids), "first": request.member_ids[0], "explain": request.explain}


install_request_timeout()
Trivial.add_asgi_middleware(ApiKeyMiddleware, settings=load_settings)  # type: ignore[attr-defined]
