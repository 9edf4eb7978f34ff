"""The floor of the HTTP benchmark: a bare Starlette app on uvicorn answering one fixed JSON body.

No BentoML, no middleware, no validation: it returns the bytes in ``MEMBERSCORE_BENCH_BODY`` (a
real single-member ``/score`` answer, written by ``bench.wrk_bench``) for every path and method.

    MEMBERSCORE_BENCH_BODY=answer.json python -m uvicorn bench.starlette_reference:app --port 3002
"""

from __future__ import annotations

import os
from pathlib import Path

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


def make_app() -> Starlette:
    """An app whose every POST and GET answers the same bytes (read once, at start-up)."""
    body = Path(os.environ["MEMBERSCORE_BENCH_BODY"]).read_bytes()

    async def answer(_: Request) -> Response:
        return Response(body, media_type="application/json")

    return Starlette(routes=[Route("/{path:path}", answer, methods=["GET", "POST"])])


def __getattr__(name: str) -> Starlette:
    """``app`` is built on first access (uvicorn's import), not at import time."""
    if name == "app":
        return make_app()
    raise AttributeError(name)
