"""Files the product writes for people (rejects, lists, score exports, reports), sealed under the data key.

AES-256-GCM from ``cryptography`` rather than Fernet: one authenticated primitive with a 256-bit
key, and the file stays binary (Fernet base64-encodes, a third larger, with AES-128-CBC and an
HMAC). A sealed file is ``MAGIC`` + the key's public id + a 12-byte random nonce + ciphertext and
tag; the magic and key id are authenticated too, so a reader tells "no key", "another key" and
"changed" apart instead of returning garbage. The whole file is sealed in memory in one piece:
these files are lists and reports, not the transaction history. ``memberscore data-key decrypt``
gives the plain file back to someone who holds the key.

Without a key the same functions write plain files, as before; every write is atomic (a temporary
file beside the target, then a rename), so a reader never sees half a file.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from features.data_key import KEY_ID_BYTES, DataKey, DataKeyNeeded, WrongDataKey, missing_key_message, wrong_key_message

MAGIC: Final = b"memberscore-sealed-1\n"
NONCE_BYTES: Final = 12
PURPOSE: Final = "sealed-file"


def seal(plain: bytes, key: DataKey) -> bytes:
    """``plain`` encrypted and authenticated under ``key`` (a fresh nonce each time)."""
    header = MAGIC + key.key_id
    nonce = secrets.token_bytes(NONCE_BYTES)
    return header + nonce + AESGCM(key.derived(PURPOSE)).encrypt(nonce, plain, header)


def is_sealed(blob: bytes) -> bool:
    return blob.startswith(MAGIC)


def unseal(blob: bytes, key: DataKey | None, what: str = "this file") -> bytes:
    """The plain bytes of a sealed ``blob`` (a plain one is returned as it is)."""
    if not is_sealed(blob):
        return blob
    if key is None:
        raise DataKeyNeeded(missing_key_message(what))
    start = len(MAGIC) + KEY_ID_BYTES
    header, nonce, body = blob[:start], blob[start:start + NONCE_BYTES], blob[start + NONCE_BYTES:]
    if header[len(MAGIC):] != key.key_id:
        raise WrongDataKey(wrong_key_message(what))
    try:
        return AESGCM(key.derived(PURPOSE)).decrypt(nonce, body, header)
    except InvalidTag:
        raise WrongDataKey(wrong_key_message(what)) from None


def write_atomically(path: Path, data: bytes) -> Path:
    """``data`` into ``path`` via a temporary file and a rename; the folder is made when missing."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".partial")
    try:
        temporary.write_bytes(data)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def write_private(path: str | Path, data: bytes, key: DataKey | None) -> Path:
    """``data`` into ``path``, sealed when there is a key, plain otherwise; atomically."""
    return write_atomically(Path(path), seal(data, key) if key is not None else data)


def write_private_text(path: str | Path, text: str, key: DataKey | None, encoding: str = "utf-8") -> Path:
    """``write_private`` for text (a CSV or JSON list, an HTML report)."""
    return write_private(path, text.encode(encoding), key)


def read_private(path: str | Path, key: DataKey | None) -> bytes:
    """A file written by ``write_private``, opened; a sealed one needs the key that sealed it."""
    return unseal(Path(path).read_bytes(), key, what=str(path))


def file_is_sealed(path: Path) -> bool:
    """Whether ``path`` starts as a sealed file does (reads only its first bytes)."""
    with path.open("rb") as file:
        return is_sealed(file.read(len(MAGIC)))
