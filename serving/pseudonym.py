"""Keyed pseudonyms for the member ids of exported target lists.

A target list leaves the service for a campaign tool, an agency or a spreadsheet. With a key
configured, each member id is replaced by HMAC-SHA256(key, id), truncated to 16 hex characters:

- stable: the same id and key give the same pseudonym in every export, so lists from different
  days join and deduplicate;
- not reversible without the key: a plain hash is not enough, because anyone can hash every
  possible loyalty id (a small space) and look the pseudonyms up;
- unlinkable across keys: a new key per recipient gives unrelated pseudonyms, so two recipients
  cannot join their lists.

Whoever holds the key maps pseudonyms back by computing the pseudonym of every member id. 16 hex
characters are 64 bits: the chance of any two of 50 million members sharing one is about 1e-4.
"""

from __future__ import annotations

import hashlib
import hmac

from pydantic import SecretStr

from features.settings import MIN_PSEUDONYM_KEY_CHARS as MIN_KEY_CHARS
from features.settings import variable
from serving.schemas import TargetsResponse

KEY_ENV = variable("pseudonym_key")
PSEUDONYM_HEX_CHARS = 16


def pseudonym(member_id: str, key: bytes) -> str:
    """The member's pseudonym under ``key``: truncated hex HMAC-SHA256 of the id's UTF-8 bytes."""
    digest = hmac.new(key, member_id.encode("utf-8"), hashlib.sha256).hexdigest()
    return digest[:PSEUDONYM_HEX_CHARS]


def pseudonym_key(secret: SecretStr | None) -> bytes:
    """The ``MEMBERSCORE_PSEUDONYM_KEY`` setting as bytes; a ValueError naming the variable when not set.

    Asking for pseudonyms without a key is an error, never a silent export of raw ids. Its length
    is checked where settings are read (``features.settings``): a short key stops the start.
    """
    if secret is None:
        raise ValueError(f"{KEY_ENV}: not set; pseudonymised ids need a secret key of at least "
                         f"{MIN_KEY_CHARS} characters (e.g. `python -c 'import secrets; print(secrets.token_hex(32))'`)")
    return secret.get_secret_value().encode("utf-8")


def pseudonymised(response: TargetsResponse, key: bytes) -> TargetsResponse:
    """The same list with every member id replaced by its pseudonym (ranks, scores and reasons kept).

    Reasons are rendered from features, never from the id, so they need no change.
    """
    rows = [row.model_copy(update={"member_id": pseudonym(row.member_id, key)}) for row in response.rows]
    return response.model_copy(update={"rows": rows})
