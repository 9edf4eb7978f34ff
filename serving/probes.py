"""``GET /readyz`` that says why: BentoML's own probe only knows "ready or not", so it is routed
to the service's ``/readiness`` route (503 with the reasons when not ready). ``/healthz`` and
``/livez`` stay BentoML's: alive means the process answers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
App = Callable[[Scope, Any, Any], Awaitable[None]]

PROBE_PATH, DETAILED_PATH = "/readyz", "/readiness"


class ReadinessProbeMiddleware:
    """Pure ASGI: rewrites the path of ``GET /readyz`` to ``/readiness`` before routing."""

    def __init__(self, app: App) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == PROBE_PATH:
            scope = {**scope, "path": DETAILED_PATH, "raw_path": DETAILED_PATH.encode()}
        await self.app(scope, receive, send)
