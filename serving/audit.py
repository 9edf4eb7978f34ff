"""The audit log: one JSON line per request a key made, saying who did what, never about which member.

Pure ASGI middleware outside the key check (``serving.auth``): a request with a caller
(``serving.caller.caller_of``) was let in by a key, or refused with 403 for its role; one the check
refused with 401 (no valid key) is logged with key and role null. After the answer it writes: the time
(UTC), the key's name and role, the method, the route's template (``/campaigns/{campaign_id}``,
never the raw path, which may hold anything), the status, the campaign id and list where the route
named one, the rows it returned, and the duration. Member ids, amounts, query strings, bodies and
keys are never written. A request no route matched (a 404, or a body refused before routing) has
route null.

Routes say what they touched with ``note`` (a campaign id, a list, a row count): it fills this
request's entry, which the middleware keeps in the ASGI scope (``AUDIT_KEY``) and in a context
variable, so a route needs no ``Request`` parameter to reach it and calling a route as a plain
method (tests) notes nothing. The lines go to ``serving.audit_file`` off the event loop.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, MutableMapping
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Final

from starlette.routing import Mount

from features.settings import Settings
from serving.audit_file import AuditWriter, RotatingLines
from serving.auth import is_public
from serving.caller import Caller, caller_of

AUDIT_KEY: Final = "memberscore.audit"
REFUSALS: Final = (401, 403)  # answered by the key check before any route
MAX_NOTED_CHARS: Final = 64  # ids and list names are short; a longer value is cut, never a long line

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]

_entry: ContextVar[dict[str, Any] | None] = ContextVar("memberscore_audit_entry", default=None)


def note(*, campaign_id: str | None = None, list_name: str | None = None, rows: int | None = None) -> None:
    """What the current request touched, for its audit line: a stored campaign's id, the list (campaign
    type) it asked for, the member or table rows it returned. Outside a request it does nothing.

    Never pass a member id: this goes to a file read by whoever audits the service.
    """
    entry = _entry.get()
    if entry is None:
        return
    if campaign_id is not None:
        entry["campaign_id"] = campaign_id[:MAX_NOTED_CHARS]
    if list_name is not None:
        entry["list"] = list_name[:MAX_NOTED_CHARS]
    if rows is not None:
        entry["rows"] = rows


def route_template(scope: Scope) -> str | None:
    """The matched route's path template (``/campaigns/{campaign_id}``); None when no route matched."""
    route = scope.get("route")
    if route is None or isinstance(route, Mount):  # BentoML's mount of the app: the app's router matched nothing
        return None
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    return str(template) if template else None


def audit_line(at: datetime, caller: Caller | None, method: str, route: str | None, status: int | None,
               noted: dict[str, Any], seconds: float) -> str:
    """One entry as one line: every field always present (null when none: no key and role for a
    request the key check refused as unknown), non-ASCII and control characters escaped by JSON, so
    no value (a key's name, a forged path) can start another line."""
    entry = {"time": at.isoformat(timespec="milliseconds"), "key": caller.name if caller else None,
             "role": caller.role if caller else None,
             "method": method[:16], "route": route, "status": status, "campaign_id": noted.get("campaign_id"),
             "list": noted.get("list"), "rows": noted.get("rows"), "ms": round(seconds * 1000, 1)}
    return json.dumps(entry, ensure_ascii=True, separators=(",", ":"))


class AuditMiddleware:
    """Writes an audit line for every HTTP request that has a caller, once its answer is sent (or failed)."""

    def __init__(self, app: App, settings: Callable[[], Settings]) -> None:
        """``settings``: the service's, read once at its start (the file is opened, and made 0600, then)."""
        chosen = settings()
        self.app = app
        self.writer = AuditWriter(RotatingLines(chosen.audit_log, chosen.audit_log_max_bytes, chosen.audit_log_backups))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        at, started = datetime.now(UTC), time.perf_counter()
        noted: dict[str, Any] = {}
        scope[AUDIT_KEY] = noted
        token = _entry.set(noted)
        status: int | None = None

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        except Exception:
            status = status or 500  # the server answers 500 for what escaped the app
            raise
        finally:  # a cancelled request (timeout, client gone) is logged too, with the status it got, if any
            _entry.reset(token)
            caller = caller_of(scope)
            # a key on a public path (an admin reading /readyz's reasons) is no data access: no line;
            # a refusal (401: no valid key, 403: a role not allowed the route) is logged, never routed
            logged = caller is not None or status in REFUSALS
            if logged and not is_public(str(scope.get("path", ""))):
                self.writer.put(audit_line(at, caller, str(scope.get("method", "")), route_template(scope), status,
                                           noted, time.perf_counter() - started))
