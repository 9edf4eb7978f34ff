"""The data key: one secret that makes member data at rest unreadable to anyone without it.

A data key is 32 random bytes written as URL-safe base64 (44 characters; ``new_data_key_text``
makes one). It is never used directly: each use gets its own key derived with HKDF-SHA256 (files,
Parquet snapshots, the campaign store's member ids), so a weakness in one use cannot expose
another, and a short public ``key_id`` (also derived) says which key wrote a file without saying
anything about the key. ``MEMBERSCORE_DATA_KEY`` or ``MEMBERSCORE_DATA_KEY_FILE`` set it
(``features.settings``); README.md, "What is encrypted and what is not", says where it is used.
"""

from __future__ import annotations

import base64
import binascii
import secrets
from dataclasses import dataclass, field
from typing import Final

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

KEY_BYTES: Final = 32
KEY_TEXT_CHARS: Final = 44  # base64 of 32 bytes, with one '=' of padding
KEY_ID_BYTES: Final = 8
FORMAT_HINT: Final = ("expected 32 random bytes as URL-safe base64 (44 characters); "
                      "make one with `memberscore data-key new FILE`")


class DataKeyNeeded(ValueError):
    """An encrypted file or row was met without a data key configured."""


class WrongDataKey(ValueError):
    """An encrypted file or row was written with another data key (or was changed since)."""


@dataclass(frozen=True)
class DataKey:
    """The decoded key; ``repr`` never shows it (tracebacks and logs print objects)."""

    secret: bytes = field(repr=False)

    def derived(self, purpose: str, length: int = KEY_BYTES) -> bytes:
        """A key for one ``purpose`` only (HKDF-SHA256 with the purpose as its info)."""
        return HKDF(algorithm=hashes.SHA256(), length=length, salt=None,
                    info=f"memberscore/{purpose}".encode()).derive(self.secret)

    @property
    def key_id(self) -> bytes:
        """A short public name of this key, stored beside what it encrypts (names, never reveals, it)."""
        return self.derived("key-id", KEY_ID_BYTES)


def parse_data_key(text: str) -> DataKey:
    """The key written as ``text`` (spaces and a final newline around it are ignored); ValueError otherwise.

    The message never repeats the text: it may be a real key with a typo in it.
    """
    cleaned = text.strip()
    try:
        secret = base64.urlsafe_b64decode(cleaned.encode("ascii"))
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise ValueError(f"not base64; {FORMAT_HINT}") from None
    if len(cleaned) != KEY_TEXT_CHARS or len(secret) != KEY_BYTES:
        raise ValueError(f"{len(cleaned)} characters; {FORMAT_HINT}")
    return DataKey(secret)


def new_data_key_text() -> str:
    """A fresh random data key as text (the format ``parse_data_key`` reads)."""
    return base64.urlsafe_b64encode(secrets.token_bytes(KEY_BYTES)).decode("ascii")


def missing_key_message(what: str) -> str:
    """The one sentence every reader of encrypted data says when no key is configured."""
    return (f"{what} is encrypted: a data key is needed to read it "
            "(set MEMBERSCORE_DATA_KEY or MEMBERSCORE_DATA_KEY_FILE)")


def wrong_key_message(what: str) -> str:
    """The sentence for data encrypted with another key (or tampered with)."""
    return (f"{what} is encrypted with a different data key than the one configured, or was changed "
            "after it was written")
