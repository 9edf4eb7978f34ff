"""Opaque cursors for paging a target list: where the next page starts, tied to the list it came from.

A page of a list is only meaningful against the very list the previous page came from. A new
snapshot or champion reorders members, and an offset into the new order would silently skip some
and repeat others. So a cursor carries the identity of the list it was issued for (a digest of
the snapshot, the campaign and every listed member id with its score, in order) beside the
offset of the next page, and a cursor whose list is no longer the served one is refused
(``ListChanged``; HTTP 410 Gone, as Kubernetes answers a ``continue`` token of an old
resourceVersion) instead of being applied to a different order. The digest also covers the
request: changing filters between pages is a different list.

The cursor holds no member id (pseudonymised lists leak nothing through it) and needs no server
state, so any worker serving the same snapshot and models continues any page. It is not signed:
editing it can only move the offset within the same list, which any client may do by paging.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json

import pandas as pd

from features import contract

CURSOR_VERSION = 1
NOT_OURS = "cursor: not a cursor this service issued; send the previous page's next_cursor unchanged"


class ListChanged(ValueError):
    """The cursor was issued for a list that is no longer the served one (new snapshot, models or request)."""


def list_identity(ranked: pd.DataFrame, campaign: str, snapshot_as_of: str, fingerprint: str) -> str:
    """A digest of the whole ranked list: snapshot, campaign, and each member id and score in order.

    ``hash_pandas_object`` uses a fixed key, so every worker and every restart gives the same digest.
    """
    digest = hashlib.blake2b(digest_size=12)
    digest.update(json.dumps([campaign, snapshot_as_of, fingerprint, len(ranked)]).encode("utf-8"))
    rows = ranked[[contract.MEMBER_ID, "score"]]
    digest.update(pd.util.hash_pandas_object(rows, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def encode_cursor(identity: str, start: int, snapshot_as_of: str) -> str:
    """The opaque token for the page starting at row ``start`` (0-based) of the list ``identity``."""
    payload = json.dumps({"v": CURSOR_VERSION, "list": identity, "start": start, "as_of": snapshot_as_of},
                         separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode("utf-8")).decode("ascii").rstrip("=")


def cursor_start(cursor: str | None, identity: str, eligible: int, snapshot_as_of: str) -> int:
    """Where the page of ``cursor`` starts in the list ``identity``: 0 without a cursor.

    A malformed cursor is a ValueError naming the field; one issued for another list is ``ListChanged``.
    """
    if cursor is None:
        return 0
    issued_for, start, issued_as_of = _decoded(cursor)
    if issued_for != identity:
        raise ListChanged(f"cursor: the list changed since this cursor was issued (snapshot as of {issued_as_of}, "
                          f"now {snapshot_as_of}; or other models or filters); start again without a cursor")
    if not 0 < start < eligible:
        raise ValueError(NOT_OURS)
    return start


def _decoded(cursor: str) -> tuple[str, int, str]:
    """(list identity, start, snapshot as of) of a cursor; any other shape is a ValueError naming ``cursor``."""
    try:
        payload = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError):  # bad base64, bad UTF-8 or bad JSON
        raise ValueError(NOT_OURS) from None
    fields = {"v": int, "list": str, "start": int, "as_of": str}
    if (not isinstance(payload, dict) or set(payload) != set(fields) or payload["v"] != CURSOR_VERSION
            or not all(isinstance(payload[name], kind) and not isinstance(payload[name], bool)
                       for name, kind in fields.items())):
        raise ValueError(NOT_OURS)
    return payload["list"], payload["start"], payload["as_of"]
