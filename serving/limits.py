"""Request bodies refused before any route parses them: too large (413), not UTF-8 or nested too deep (400).

FastAPI reads a body whole, without a size cap, and answers a body nested deeper than the JSON
parser's recursion limit with "There was an error parsing the body". This pure-ASGI middleware on
the FastAPI app bounds every body first and answers in the ``serving.errors`` shape
(``{"error": "body: <reason>"}``). The API-key check runs before it, so an anonymous client cannot
make the service buffer anything.

Every body this API takes is JSON, so every body is checked as such. The cap is
``MEMBERSCORE_MAX_BODY_BYTES`` (default 16 MiB: the largest valid request, 100,000 excluded ids in
``/targets``, is a few MB).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import anyio.to_thread
import numpy as np

from features.settings import DEFAULT_MAX_BODY_BYTES, variable

MAX_BODY_ENV = variable("max_body_bytes")

# The deepest valid body is 3 levels ({"filters": {"tiers": [...]}}); 32 leaves room and still
# refuses input meant to exhaust a recursive parser.
MAX_JSON_DEPTH = 32
BODYLESS_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "DELETE", "TRACE"})

_QUOTE = ord('"')
_STEP = np.zeros(256, dtype=np.int64)  # per byte value: +1 opens an array or object, -1 closes one
_STEP[list(b"[{")] = 1
_STEP[list(b"]}")] = -1
_MATTERS = np.zeros(256, dtype=bool)  # the only bytes the depth depends on
_MATTERS[list(b'"[]{}')] = True
_BLOCK = 2**20  # bytes per vectorised step: bounds the scan's memory to a few MB
_CHECK_INLINE_BYTES = 64 * 2**10  # larger bodies are checked in a worker thread, not on the event loop

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
App = Callable[[Scope, Receive, Send], Awaitable[None]]


class BodyTooLarge(Exception):
    """The body is over the cap (declared in Content-Length or counted while streaming)."""


def nesting_depth(body: bytes) -> int:
    """The deepest nesting of arrays and objects outside strings, without parsing: linear and vectorised.

    Escapes are dropped first (``\\\\`` then ``\\"``, left to right as JSON reads them), so every
    remaining quote opens or closes a string and a bracket counts when an even number of quotes
    precede it. Blocks bound the memory. 16 MiB of brackets take about a second on a busy machine,
    so the middleware checks large bodies off the event loop.
    """
    codes = np.frombuffer(body.replace(b"\\\\", b"").replace(b'\\"', b""), dtype=np.uint8)
    codes = codes[_MATTERS[codes]]
    deepest = level = quotes = 0
    for start in range(0, len(codes), _BLOCK):
        block = codes[start:start + _BLOCK]
        quotes_so_far = quotes + np.cumsum(block == _QUOTE)
        levels = level + np.cumsum(np.where(quotes_so_far % 2 == 0, _STEP[block], 0))
        deepest, level, quotes = max(deepest, int(levels.max())), int(levels[-1]), int(quotes_so_far[-1])
    return deepest


def json_body_problem(body: bytes, max_depth: int = MAX_JSON_DEPTH) -> str | None:
    """Why ``body`` cannot be a JSON request of this API, or None (syntax is left to the routes)."""
    try:
        body.decode("utf-8")
    except UnicodeDecodeError as error:
        return f"body: not valid UTF-8 (byte 0x{body[error.start]:02x} at offset {error.start}); JSON must be UTF-8"
    if body.count(b"[") + body.count(b"{") <= max_depth:  # cannot nest deeper: no scan (most requests)
        return None
    depth = nesting_depth(body)
    if depth > max_depth:
        return f"body: JSON nested {depth} levels deep; at most {max_depth} allowed"
    return None


def declared_length(scope: Scope) -> int | None:
    """The Content-Length header as a number (None when absent, e.g. a chunked body)."""
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:  # the server refuses these first; if one gets here, the bytes are counted
                return None
    return None


async def read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole body, or None when the client disconnects first; over ``limit`` raises ``BodyTooLarge``."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def replaying(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the app the already-read body once, then the client's own events."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay


async def refuse(send: Send, status: int, error: str) -> None:
    """A JSON error response in the shape of ``serving.errors``.

    The connection is closed after a 413: the rest of the body is unread, and reading it would
    spend the bandwidth the cap protects.
    """
    body = json.dumps({"error": error}).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    if status == 413:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class RequestLimitsMiddleware:
    """Pure ASGI: buffers each request body up to the cap and checks it before the app sees it."""

    def __init__(self, app: App, max_bytes: int | Callable[[], int] = DEFAULT_MAX_BODY_BYTES,
                 max_depth: int = MAX_JSON_DEPTH) -> None:
        """``max_bytes``: the cap, or a callable giving the service's setting (read once, at start)."""
        self.app = app
        self.max_bytes = max_bytes() if callable(max_bytes) else max_bytes
        self.max_depth = max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in BODYLESS_METHODS:
            await self.app(scope, receive, send)
            return
        too_large = f"body: larger than {self.max_bytes:,} bytes (set {MAX_BODY_ENV} to change the cap)"
        declared = declared_length(scope)
        if declared is not None and declared > self.max_bytes:
            await refuse(send, 413, too_large)
            return
        try:
            body = await read_body(receive, self.max_bytes)
        except BodyTooLarge:
            await refuse(send, 413, too_large)
            return
        if body is None:
            return
        problem = await self._problem(body)
        if problem is not None:
            await refuse(send, 400, problem)
            return
        await self.app(scope, replaying(body, receive), send)

    async def _problem(self, body: bytes) -> str | None:
        if len(body) <= _CHECK_INLINE_BYTES:
            return json_body_problem(body, self.max_depth) if body else None
        return await anyio.to_thread.run_sync(json_body_problem, body, self.max_depth)
