"""API keys: held only as SHA-256 hashes, compared in constant time, checked before any route,
with the key's role checked there too (``serving.roles``), so no endpoint can forget either.

Keys come from a key file named by ``MEMBERSCORE_API_KEY_FILE`` (``serving.keyfile``: a name, role,
store scope, expiry and revocation per key, as written by ``memberscore keys``) and/or
``MEMBERSCORE_API_KEYS`` (comma-separated plain keys, hashed on read, each at least 24 characters:
role ``admin``, for a single operator). The file is read again when it changes (checked at most
once a second), so ``keys create`` and ``keys revoke`` take effect without a restart. A bearer
token of the company's identity provider (``serving.bearer``, when configured) is an alternative
to a key, with the same role checks.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import secrets
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from features.settings import Settings
from serving.bearer import BearerCheck, bearer_check
from serving.caller import SCOPE_KEY, UNAUTHENTICATED, Caller
from serving.keyfile import HASH_PREFIX, KeyRecord, read_key_file
from serving.roles import allowed, forbidden_text

log = logging.getLogger(__name__)

KEYS_ENV = "MEMBERSCORE_API_KEYS"
KEY_FILE_ENV = "MEMBERSCORE_API_KEY_FILE"
INSECURE_ENV = "MEMBERSCORE_INSECURE_NO_AUTH"
HEADER = "x-api-key"
AUTHORIZATION = b"authorization"
RECHECK_SECONDS = 1.0
# Probes must answer without a key; the two pages and the OpenAPI document hold no member data
# (the pages call the API with the key the user types in).
PUBLIC_PATHS = frozenset({"/healthz", "/livez", "/readyz", "/readiness", "/docs.json", "/", "/ui", "/ui/kpis.js", "/ui/health.js"})
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


def plain_key_record(key: str) -> KeyRecord:
    """A ``MEMBERSCORE_API_KEYS`` key: role admin, named ``env-<hash prefix>`` (never by the key)."""
    digest = hash_key(key)
    return KeyRecord(name="env-" + digest[len(HASH_PREFIX):][:8], role="admin", hash=digest,
                     created=datetime.fromtimestamp(0, UTC), raw_ids=True)


@dataclass(frozen=True)
class KeyRing:
    """Every configured key (revoked and expired ones too: they are refused, not unknown)."""

    records: tuple[KeyRecord, ...]

    @property
    def hashes(self) -> tuple[str, ...]:
        return tuple(record.hash for record in self.records)

    def match(self, candidate: str | None) -> KeyRecord | None:
        """The record of ``candidate``: every stored hash is compared, in constant time each."""
        if not candidate:
            return None
        offered = hash_key(candidate).encode()
        found = None
        for record in self.records:
            if hmac.compare_digest(offered, record.hash.encode()):
                found = record
        return found

    def caller(self, candidate: str | None, now: datetime) -> Caller | None:
        """Who ``candidate`` is, if it is a key that is neither expired nor revoked at ``now``."""
        record = self.match(candidate)
        if record is None:
            return None
        state = record.state(now)
        if state != "active":
            log.warning("refused key %r: %s", record.name, state)
            return None
        return record.caller()


def key_ring(settings: Settings) -> KeyRing:
    """Every configured key (empty when none is configured): plain keys and the key file's."""
    records = [plain_key_record(key) for key in settings.plain_api_keys()]
    if settings.api_key_file is not None:
        records.extend(read_key_file(settings.api_key_file))
    return KeyRing(tuple(records))


class KeySource:
    """The key ring, read again when the key file changes (its mtime, size or inode; looked at
    most once per ``RECHECK_SECONDS``). A file that cannot be read then keeps the keys read last,
    with an error in the log each time it is looked at: a half-edited file must not open or lock
    the service (``memberscore keys`` replaces the file in one rename, so it never shows half)."""

    def __init__(self, settings: Settings, clock: Callable[[], float] = time.monotonic) -> None:
        self.settings, self.clock = settings, clock
        self.file = settings.api_key_file
        self.seen = self._stamp()
        self.current = key_ring(settings)
        self.checked = clock()

    def _stamp(self) -> tuple[int, int, int] | None:
        if self.file is None:
            return None
        try:
            info = os.stat(self.file)
        except OSError:
            return None
        return info.st_mtime_ns, info.st_size, info.st_ino

    def ring(self) -> KeyRing:
        if self.file is None or self.clock() - self.checked < RECHECK_SECONDS:
            return self.current
        self.checked = self.clock()
        stamp = self._stamp()
        if stamp != self.seen:
            try:
                self.current = key_ring(self.settings)
                self.seen = stamp
                log.info("key file %s read again: %d key(s)", self.file, len(self.current.records))
            except (OSError, ValueError) as error:
                log.error("key file changed but cannot be read (%s): still serving the keys read before", error)
        return self.current


def require_keys_or_insecure(ring: KeyRing, insecure: bool, bearer: BearerCheck | None = None) -> None:
    """Refuse to serve without keys (or bearer tokens) unless the operator said ``--insecure-no-auth``, and warn then."""
    if ring.records or bearer is not None:
        return
    if insecure:
        log.warning("memberscore serves WITHOUT authentication (--insecure-no-auth): local use only")
        return
    raise RuntimeError(f"no API key configured: set {KEY_FILE_ENV} (`memberscore keys create`) or {KEYS_ENV}, "
                       "or pass --insecure-no-auth for local use")


def is_public(path: str) -> bool:
    return path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES)


class ApiKeyMiddleware:
    """Pure ASGI middleware: a request to a non-public path needs a valid ``X-API-Key`` header,
    of a role allowed the route (``serving.roles``).

    Runs before routing, so no endpoint (BentoML's own or the FastAPI routes) can forget it. A
    missing, wrong, expired or revoked key gets the same 401, with nothing about which keys exist;
    a valid key of a role not allowed the route gets a 403 naming its role.
    """

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]], settings: Callable[[], Settings],
                 clock: Callable[[], datetime] | None = None) -> None:
        """``settings``: the service's, read once at its start (a callable: BentoML builds this at start-up)."""
        self.app = app
        loaded = settings()
        self.keys = KeySource(loaded)
        self.bearer = bearer_check(loaded)
        require_keys_or_insecure(self.keys.current, loaded.insecure_no_auth, self.bearer)
        self.enforced = bool(self.keys.current.records) or self.bearer is not None
        self.now = clock or (lambda: datetime.now(UTC))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if is_public(scope["path"]):  # never refused; named when a valid key comes along (/readyz details for admin)
            caller = self._caller(scope.get("headers", [])) if self.enforced else UNAUTHENTICATED
            if caller is not None:
                scope[SCOPE_KEY] = caller
            await self.app(scope, receive, send)
            return
        if not self.enforced:
            scope[SCOPE_KEY] = UNAUTHENTICATED
            await self.app(scope, receive, send)
            return
        caller = self._caller(scope.get("headers", []))
        if caller is None:
            await _refuse(send, 401, "missing or invalid API key (header X-API-Key)",
                          [(b"www-authenticate", b"ApiKey header=X-API-Key")])
            return
        scope[SCOPE_KEY] = caller  # also on a 403: the audit log names who was refused
        if not allowed(caller.role, scope.get("method", "GET"), scope["path"]):
            await _refuse(send, 403, forbidden_text(caller.role), [])
            return
        await self.app(scope, receive, send)


    def _caller(self, headers: list[tuple[bytes, bytes]]) -> Caller | None:
        """Who the key (or, when configured, the bearer token) says is calling; None: a 401."""
        offered = next((value.decode("latin-1") for name, value in headers if name == HEADER.encode()), None)
        token = next((value.decode("latin-1") for name, value in headers if name == AUTHORIZATION), "")
        if self.bearer is not None and offered is None and token[:7].lower() == "bearer ":
            return self.bearer.caller(token[7:].strip())
        return self.keys.ring().caller(offered, self.now())


async def _refuse(send: Send, status: int, error: str, headers: list[tuple[bytes, bytes]]) -> None:
    body = json.dumps({"error": error}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            *headers]})
    await send({"type": "http.response.body", "body": body})

