"""serving.request_timeout: BentoML's request timeout, with its timer gone when the request ends."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from bentoml._internal.server.http import traffic

from serving.request_timeout import CancellingTimeoutMiddleware, install


async def _call(app: Any, timeout: float) -> tuple[list[dict[str, Any]], int]:
    """The messages sent for one request, and the timers still scheduled on the loop after it."""
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    await CancellingTimeoutMiddleware(app, timeout)({"type": "http"}, receive, send)
    loop = asyncio.get_running_loop()
    return sent, sum(not handle.cancelled() for handle in loop._scheduled)  # type: ignore[attr-defined]


async def _quick(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok"})


async def _slow(scope: Any, receive: Any, send: Any) -> None:
    await asyncio.sleep(5)


def test_a_finished_request_leaves_no_timer_behind() -> None:
    sent, live_timers = asyncio.run(_call(_quick, 60.0))
    assert [m.get("status") for m in sent] == [200, None] and live_timers == 0


def test_a_request_over_the_timeout_is_answered_504() -> None:
    sent, _ = asyncio.run(_call(_slow, 0.05))
    assert sent[0]["status"] == 504
    assert json.loads(sent[1]["body"]) == {"error": "not able to process the request in 0.05 seconds"}


def test_installed_where_bentoml_builds_its_middleware() -> None:
    original = traffic.TimeoutMiddleware
    try:
        install()
        assert traffic.TimeoutMiddleware is CancellingTimeoutMiddleware
    finally:
        traffic.TimeoutMiddleware = original  # type: ignore[misc]
