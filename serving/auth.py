"""API keys: held only as SHA-256 hashes, compared in constant time, checked before any route.

Keys come from ``MEMBERSCORE_API_KEYS`` (comma-separated plain keys, hashed on read) and/or a key
file named by ``MEMBERSCORE_API_KEY_FILE`` (one ``sha256:<hex>`` hash per line, as written by
``memberscore keys create``; ``#`` comments allowed), so a key file on disk never holds a key.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from features.settings import Settings
from serving.caller import SCOPE_KEY, UNAUTHENTICATED, Caller

log = logging.getLogger(__name__)

KEYS_ENV = "MEMBERSCORE_API_KEYS"
KEY_FILE_ENV = "MEMBERSCORE_API_KEY_FILE"
INSECURE_ENV = "MEMBERSCORE_INSECURE_NO_AUTH"
HEADER = "x-api-key"
HASH_PREFIX = "sha256:"
# Probes must answer without a key; the two pages and the OpenAPI document hold no member data
# (the pages call the API with the key the user types in).
PUBLIC_PATHS = frozenset({"/healthz", "/livez", "/readyz", "/readiness", "/docs.json", "/", "/ui", "/ui/kpis.js"})
PUBLIC_PREFIXES = ("/static_content/",)

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


def hash_key(key: str) -> str:
    """The stored form of a key."""
    return HASH_PREFIX + hashlib.sha256(key.encode("utf-8")).hexdigest()


def new_key() -> str:
    """A fresh random key (256 bits, URL-safe)."""
    return "ms_" + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class KeyRing:
    """The hashes of every valid key."""

    hashes: tuple[str, ...]

    def accepts(self, candidate: str | None) -> bool:
        """Whether ``candidate`` is a valid key: every stored hash is compared, in constant time each."""
        if not candidate:
            return False
        offered = hash_key(candidate).encode()
        matched = False
        for stored in self.hashes:
            matched |= hmac.compare_digest(offered, stored.encode())
        return matched


def read_key_file(path: Path) -> tuple[str, ...]:
    """Hashes from a key file; a line that is not ``sha256:<64 hex>`` is an error naming the line."""
    hashes = []
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        digest = line.removeprefix(HASH_PREFIX)
        if not line.startswith(HASH_PREFIX) or len(digest) != 64 or not all(c in "0123456789abcdef" for c in digest):
            raise ValueError(f"{path}:{number}: expected 'sha256:<64 hex digits>' (write keys with `memberscore keys create`)")
        hashes.append(line)
    return tuple(hashes)


def key_ring(settings: Settings) -> KeyRing:
    """Every configured key's hash (empty when none is configured): plain keys and the key file's hashes."""
    hashes = [hash_key(key) for key in settings.plain_api_keys()]
    if settings.api_key_file is not None:
        hashes.extend(read_key_file(settings.api_key_file))
    return KeyRing(tuple(hashes))


def require_keys_or_insecure(ring: KeyRing, insecure: bool) -> None:
    """Refuse to serve without keys unless the operator said ``--insecure-no-auth``, and warn then."""
    if ring.hashes:
        return
    if insecure:
        log.warning("memberscore serves WITHOUT authentication (--insecure-no-auth): local use only")
        return
    raise RuntimeError(f"no API key configured: set {KEYS_ENV} or {KEY_FILE_ENV}, "
                       "or pass --insecure-no-auth for local use")


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


class ApiKeyMiddleware:
    """Pure ASGI middleware: a request to a non-public path needs a valid ``X-API-Key`` header.

    Runs before routing, so no endpoint (BentoML's own or the FastAPI routes) can forget it. A
    missing or wrong key gets the same 401, with nothing about which keys exist.
    """

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]], settings: Callable[[], Settings]) -> None:
        """``settings``: the service's, read once at its start (a callable: BentoML builds this at start-up)."""
        self.app = app
        self.ring = key_ring(settings())
        require_keys_or_insecure(self.ring, settings().insecure_no_auth)
        self.enforced = bool(self.ring.hashes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if not self.enforced:
            scope[SCOPE_KEY] = UNAUTHENTICATED
            await self.app(scope, receive, send)
            return
        offered = next((value.decode("latin-1") for name, value in scope.get("headers", []) if name == HEADER.encode()), None)
        if self.ring.accepts(offered):
            # Every key can do everything until keys carry roles (issue 18): named by its hash's prefix.
            scope[SCOPE_KEY] = Caller(name=hash_key(offered or "")[len(HASH_PREFIX):][:8], role="admin", raw_ids=True)
            await self.app(scope, receive, send)
            return
        if is_public(scope["path"]):  # anonymous: a public path answers what anyone may know (/readyz: ready or not)
            await self.app(scope, receive, send)
            return
        await _unauthorized(send)


async def _unauthorized(send: Send) -> None:
    body = json.dumps({"error": "missing or invalid API key (header X-API-Key)"}).encode()
    await send({"type": "http.response.start", "status": 401,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"www-authenticate", b"ApiKey header=X-API-Key")]})
    await send({"type": "http.response.body", "body": body})
