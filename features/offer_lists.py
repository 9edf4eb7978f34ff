"""Category offers as lists: one JSON array of names per member, best first.

A category name is the retailer's text and may hold any character (``|``, ``,``, quotes, a
newline, Chinese). So offers are never joined by a separator that a name could contain: in a frame,
a snapshot or a CSV cell they are one JSON array (``["Dairy | Eggs", "饮料"]``, ``[]`` when none),
which the csv writer quotes and escapes like any other text; an API answer carries the list itself.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Final

import numpy as np

NO_OFFERS: Final = "[]"
LEGACY_SEPARATOR: Final = "|"  # snapshots written before offers were lists joined names by '|'


def encode_offers(names: Sequence[str]) -> str:
    """``names`` as one compact JSON array (as ``encode_ranked`` writes it; UTF-8 kept readable)."""
    return json.dumps([str(name) for name in names], ensure_ascii=False, separators=(",", ":"))


def decode_offers(text: object) -> list[str]:
    """The names of one encoded cell, in order; a missing or empty cell is no offer.

    A cell that is not a JSON array is read as the old '|'-joined text, so a snapshot written
    before this format still serves.
    """
    if isinstance(text, list | tuple | np.ndarray):
        return [str(name) for name in text]
    if text is None or (isinstance(text, float) and np.isnan(text)) or str(text) in ("", "<NA>"):
        return []
    text = str(text)
    if text.startswith("["):
        decoded = json.loads(text)
        if isinstance(decoded, list):
            return [str(name) for name in decoded]
    return text.split(LEGACY_SEPARATOR)


def encode_ranked(vocabulary: Sequence[str], order: np.ndarray, listed: np.ndarray) -> list[str]:
    """Per row, the JSON array of ``vocabulary[order[row, j]]`` for the ``listed`` ranks (a prefix
    of each row).

    Each name is JSON-encoded once and the arrays are built by rank (k string joins over all rows,
    not one ``json.dumps`` per member): a million members cost a few passes.
    """
    encoded = np.array([json.dumps(str(name), ensure_ascii=False) for name in vocabulary], dtype=object)
    names = encoded[np.asarray(order, dtype=np.intp)]
    joined = np.full(len(names), "", dtype=object)
    for rank in range(names.shape[1]):
        separator = "," if rank else ""
        joined = np.where(listed[:, rank], joined + separator + names[:, rank], joined)
    return [f"[{cell}]" for cell in joined.tolist()]
