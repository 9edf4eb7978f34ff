"""Parquet files under the data key: Parquet modular encryption (pyarrow), footer and every column.

Parquet's envelope encryption makes a random data key per file and column and asks a KMS client to
wrap it with a master key. Our "KMS" is in-process (``DataKeyKms``): it wraps with AES-256-GCM
under a key derived from the configured data key, so no server is needed and the wrapped keys
live inside the file's footer (``internal_key_material``). The footer is encrypted too, so without
the key even the schema, the row count and our metadata are unreadable. A plain file (no key
configured when it was written) still reads as before, with or without a key.
"""

from __future__ import annotations

import base64
import os
import secrets
from datetime import timedelta
from pathlib import Path
from typing import Final

import pyarrow as pa
import pyarrow.parquet as pq
import pyarrow.parquet.encryption as pe
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from features.data_key import DataKey, DataKeyNeeded, WrongDataKey, missing_key_message, wrong_key_message

MASTER_KEY_ID: Final = "memberscore-data-key"
PURPOSE: Final = "parquet-master-key"
ENCRYPTED_FOOTER_MAGIC: Final = b"PARE"  # a plain footer ends in PAR1
NONCE_BYTES: Final = 12


class DataKeyKms(pe.KmsClient):
    """A KMS client holding one master key, derived from the data key: wraps Parquet's own keys."""

    def __init__(self, key: DataKey) -> None:
        super().__init__()
        self._aead = AESGCM(key.derived(PURPOSE))

    def wrap_key(self, key_bytes: bytes, master_key_identifier: str) -> str:
        nonce = secrets.token_bytes(NONCE_BYTES)
        wrapped = self._aead.encrypt(nonce, key_bytes, master_key_identifier.encode())
        return base64.b64encode(nonce + wrapped).decode("ascii")

    def unwrap_key(self, wrapped_key: str, master_key_identifier: str) -> bytes:
        blob = base64.b64decode(wrapped_key)
        try:
            return self._aead.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], master_key_identifier.encode())
        except InvalidTag:
            raise WrongDataKey(wrong_key_message("this Parquet file")) from None


def _factory(key: DataKey) -> pe.CryptoFactory:
    """A factory of its own per key: pyarrow caches KMS clients per factory, and one key must never
    be served from a cache filled under another (a rotation runs both keys in one process)."""
    return pe.CryptoFactory(lambda _config: DataKeyKms(key))


def _config(key: DataKey) -> pe.KmsConnectionConfig:
    return pe.KmsConnectionConfig(kms_instance_id=key.key_id.hex())


def encryption_properties(key: DataKey) -> pe.FileEncryptionProperties:
    """Encrypt the footer and all columns (AES-GCM), wrapped keys kept inside the file."""
    config = pe.EncryptionConfiguration(footer_key=MASTER_KEY_ID, uniform_encryption=True, plaintext_footer=False,
                                        double_wrapping=False, internal_key_material=True,
                                        cache_lifetime=timedelta(minutes=10), data_key_length_bits=256)
    return _factory(key).file_encryption_properties(_config(key), config)


def decryption_properties(key: DataKey) -> pe.FileDecryptionProperties:
    return _factory(key).file_decryption_properties(_config(key), pe.DecryptionConfiguration())


def is_encrypted(path: Path) -> bool:
    """Whether ``path`` is a Parquet file with an encrypted footer (its last four bytes say so)."""
    with path.open("rb") as file:
        file.seek(-4, 2)
        return file.read(4) == ENCRYPTED_FOOTER_MAGIC


def write_parquet(table: pa.Table, path: Path, key: DataKey | None) -> Path:
    """``table`` into ``path``, encrypted when there is a key; atomically (a temporary file, then a rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".partial")  # streamed to disk: a snapshot is not held twice in memory
    try:
        pq.write_table(table, temporary, encryption_properties=encryption_properties(key) if key is not None else None)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def open_parquet(path: Path, key: DataKey | None) -> pq.ParquetFile:
    """The Parquet file at ``path``, ready to read; an encrypted one needs the key that wrote it.

    Fails with one sentence (``DataKeyNeeded``, ``WrongDataKey``) instead of pyarrow's own errors.
    """
    encrypted = is_encrypted(path)
    if encrypted and key is None:
        raise DataKeyNeeded(missing_key_message(str(path)))
    try:
        return pq.ParquetFile(path, decryption_properties=decryption_properties(key) if encrypted and key else None)
    except WrongDataKey:
        raise WrongDataKey(wrong_key_message(str(path))) from None
    except OSError as error:
        if encrypted:
            raise WrongDataKey(wrong_key_message(str(path))) from None
        raise error
