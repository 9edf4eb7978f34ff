"""The probes (``/healthz``, ``/livez``, ``/readyz``) and the API docs page at ``/``: the product's
answers rather than BentoML's, and what an anonymous caller may learn from them.

Probes need no key (an orchestrator has none), so without one ``/readyz`` says only whether the
service is ready: the reasons name files, folders and exception text, which tell an attacker
where the data is and what broke. An ``admin`` key gets the reasons, the models and the snapshot.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import Request
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from serving.caller import caller_of
from serving.schemas import Readiness

if TYPE_CHECKING:  # the service module imports the probes; what serves is the worker's (serving.answers)
    from serving.live import Served


class ProductRoutes:
    """Pure ASGI: hands the probe paths and ``/`` to the FastAPI app.

    BentoML routes its own ``/healthz``, ``/livez`` and ``/readyz`` before any mounted app, and its
    ``/readyz`` only knows "ready or not"; the product's say why, to an admin. BentoML's docs page at
    ``/`` (which loads a third-party tag manager) comes after the mounted app today; ``/`` is routed
    here too so that it never answers, whatever order a BentoML release adds its routes in.
    """

    PATHS = frozenset({"/healthz", "/livez", "/readyz", "/"})

    def __init__(self, app: ASGIApp, probes: ASGIApp) -> None:
        self.app, self.probes = app, probes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        target = self.probes if scope["type"] == "http" and scope["path"] in self.PATHS else self.app
        await target(scope, receive, send)


async def admin_asking(request: Request) -> bool:
    """Whether the request carries a valid ``admin`` key (the key check attaches the caller on the
    probe paths too when a key is offered; a wrong key there is simply anonymous)."""
    caller = caller_of(request.scope)
    return caller is not None and caller.role == "admin"


def readiness_response(served: Served, detailed: bool) -> JSONResponse:
    """200 when ready, else 503; the body is ``{"ready": ...}`` alone unless ``detailed`` (an admin)."""
    status = 200 if served.ready else 503
    if not detailed:
        return JSONResponse({"ready": served.ready}, status_code=status)
    body = Readiness(project=served.project, ready=served.ready,
                     reasons=served.not_ready_reasons(),  # when ready: what was refused
                     models={task: m.name for task, m in served.models.items()},
                     snapshot_as_of=served.snapshot and served.snapshot.snapshot.as_of.isoformat(),
                     reasons_computed=reasons_computed(served))
    return JSONResponse(body.model_dump(), status_code=status)


def reasons_computed(served: Served) -> float | None:
    """The share of the snapshot's members whose top reasons are computed (``serving.lookup``)."""
    members = served.snapshot.members if served.snapshot is not None else None
    return None if members is None else round(members.filled_share, 4)
