"""BentoML's request timeout, with its timer cancelled when the request ends.

BentoML 1.4's ``TimeoutMiddleware`` arms ``loop.call_later(timeout, ...)`` for every request and
never cancels it, so each request's timer handle (with its contextvars, OpenTelemetry span and
future) stays alive for the whole timeout: at 800 requests/s and 60 s, about half a million objects
that every full garbage collection walked, 0.2-0.4 s each, which made the p99 of every route. The
timeout is a service setting (``traffic.timeout``, which must be positive), so the middleware is
replaced by this one, which behaves the same and cancels its timer.
"""

from __future__ import annotations

import asyncio
from typing import Any

from bentoml._internal.server.http import traffic
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send


class CancellingTimeoutMiddleware:
    """Answers 504 when a request has not started its answer within ``timeout`` seconds."""

    def __init__(self, app: ASGIApp, timeout: float) -> None:
        self.app, self.timeout = app, timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        started: asyncio.Future[None] = loop.create_future()
        timer = loop.call_later(self.timeout, _time_out, started)

        async def send_and_mark(message: Any) -> None:
            if not started.done():
                started.set_result(None)
            await send(message)

        task = asyncio.ensure_future(self.app(scope, receive, send_and_mark))
        try:
            await started
        except TimeoutError:
            if task.cancel():
                answer = JSONResponse({"error": f"not able to process the request in {self.timeout:g} seconds"},
                                      status_code=504)
                await answer(scope, receive, send)
            return
        finally:
            timer.cancel()
        await task


def _time_out(started: asyncio.Future[None]) -> None:
    if not started.done():
        started.set_exception(TimeoutError())


def install() -> None:
    """Make BentoML build this middleware where it built its own (it imports the name when it builds the app)."""
    traffic.TimeoutMiddleware = CancellingTimeoutMiddleware  # type: ignore[misc, assignment]
