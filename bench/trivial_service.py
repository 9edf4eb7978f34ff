"""The yardstick for the HTTP benchmark: one trivial JSON endpoint on the same server stack.

Same as ``serving.service.MemberScoring``: a ``@bentoml.service`` class mounted on FastAPI, a
``@bentoml.api`` route with the same pydantic input spec, the same API-key middleware, served by
``bentoml serve`` with the same defaults (one worker). Only the work is missing: it echoes how
many ids it was sent.

    bentoml serve bench.trivial_service:Trivial --port 3001
"""

from __future__ import annotations

import bentoml
from fastapi import FastAPI

from serving.auth import ApiKeyMiddleware
from serving.schemas import ScoreRequest

web = FastAPI(title="memberscore-bench-trivial")


@bentoml.service(traffic={"timeout": 60})
@bentoml.asgi_app(web, path="/")
class Trivial:
    """Answers /score with the ids it was sent, without looking anything up."""

    @bentoml.api(route="/score", input_spec=ScoreRequest)
    def score(self, member_ids: list[str], explain: int = 3) -> dict[str, object]:
        return {"received": len(member_ids), "first": member_ids[0], "explain": explain}


Trivial.add_asgi_middleware(ApiKeyMiddleware)
