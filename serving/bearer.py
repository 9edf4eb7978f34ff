"""Bearer tokens from the company's identity provider: a signed JWT whose claim names the role.

Configured by ``MEMBERSCORE_JWT_ISSUER``, ``MEMBERSCORE_JWT_AUDIENCE`` and ``MEMBERSCORE_JWT_JWKS_FILE``
(the provider's public keys as a JWKS document, read at start); all three or none. A request with
``Authorization: Bearer <token>`` is let in when the token is signed by one of those keys with an
asymmetric algorithm (never ``none`` or a shared secret: a public key must not verify an HMAC),
names the issuer and audience, has not expired, and its role claim (``MEMBERSCORE_JWT_ROLE_CLAIM``,
default ``memberscore_role``) is a memberscore role. The caller is named ``jwt:<sub>``; an optional
``memberscore_stores`` claim (a list) scopes it like ``keys create --store``. Any failure is the
same 401 as a wrong key; the reason goes to the log, the token never does.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import jwt

from features.settings import Settings, variable
from serving.caller import ROLES, Caller, Role

log = logging.getLogger(__name__)

ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")
STORES_CLAIM = "memberscore_stores"
LEEWAY_SECONDS = 30
UNSAFE = re.compile(r"[^A-Za-z0-9._@:-]")


@dataclass(frozen=True)
class BearerCheck:
    """The identity provider's keys, issuer, audience and role claim."""

    keys: jwt.PyJWKSet
    issuer: str
    audience: str
    role_claim: str

    def caller(self, token: str) -> Caller | None:
        """Who the token says is calling, if it verifies; None (a 401) otherwise."""
        try:
            claims = self._claims(token)
            role = claims.get(self.role_claim)
            if role not in ROLES:
                raise jwt.InvalidTokenError(f"claim {self.role_claim!r} is not one of {', '.join(ROLES)}")
            stores = claims.get(STORES_CLAIM) or []
            if not isinstance(stores, list) or not all(isinstance(s, str) for s in stores):
                raise jwt.InvalidTokenError(f"claim {STORES_CLAIM!r} is not a list of store names")
        except (jwt.PyJWTError, ValueError, KeyError) as error:
            log.warning("refused bearer token: %s", UNSAFE.sub("?", str(error))[:200])
            return None
        name = "jwt:" + UNSAFE.sub("_", str(claims["sub"]))[:64]
        return Caller(name=name, role=cast(Role, role), stores=tuple(stores), raw_ids=role != "marketer")

    def _claims(self, token: str) -> dict[str, Any]:
        header = jwt.get_unverified_header(token)
        if header.get("alg") not in ALGORITHMS:
            raise jwt.InvalidAlgorithmError(f"algorithm {header.get('alg')!r} is not accepted")
        kid = header.get("kid")
        candidates = [key for key in self.keys.keys if kid is None or key.key_id == kid]
        if len(candidates) != 1:
            raise jwt.InvalidKeyError(f"no single key of the JWKS matches kid {kid!r}")
        return jwt.decode(token, candidates[0].key, algorithms=[header["alg"]], audience=self.audience,
                          issuer=self.issuer, leeway=LEEWAY_SECONDS,
                          options={"require": ["exp", "iss", "aud", "sub"]})


def bearer_check(settings: Settings) -> BearerCheck | None:
    """The configured check (None when no JWT setting is given); half a configuration stops the start."""
    given = {"jwt_issuer": settings.jwt_issuer, "jwt_audience": settings.jwt_audience,
             "jwt_jwks_file": settings.jwt_jwks_file}
    if not any(given.values()):
        return None
    missing = [variable(field) for field, value in given.items() if not value]
    if missing:
        raise ValueError(f"{', '.join(missing)}: not set; bearer tokens need the issuer, audience and JWKS file")
    path = cast(Path, settings.jwt_jwks_file)
    try:
        keys = jwt.PyJWKSet.from_json(path.read_text(encoding="utf-8"))
    except (OSError, jwt.PyJWTError, ValueError) as error:
        raise ValueError(f"{variable('jwt_jwks_file')} {str(path)!r}: not a usable JWKS document ({error})") from None
    return BearerCheck(keys, cast(str, settings.jwt_issuer), cast(str, settings.jwt_audience), settings.jwt_role_claim)
