"""Data-key rotation: every file the product wrote, re-encrypted from an old key to a new one.

Each file is read whole under the old key and written under the new one through the same writers
as always (a temporary file, then a rename), so each file is either wholly old or wholly new, never
half. A file written before any key (plain) is encrypted under the new key; with no old key, only
plain files can be read. Which files: ``memberscore rekey`` (``cli.data_key``) finds the snapshots
and rejects, and takes the exports and reports it is given.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final, Literal

import pyarrow as pa

from features.data_key import DataKey, DataKeyNeeded, WrongDataKey
from features.encrypted_parquet import open_parquet, write_parquet
from features.sealed import read_private, write_private

PARQUET_MAGICS: Final = (b"PAR1", b"PARE")  # a Parquet file ends in one of these (plain or encrypted footer)
Kind = Literal["parquet", "file"]


def is_parquet(path: Path) -> bool:
    """Whether ``path`` is a Parquet file, by its last four bytes (the name may say otherwise)."""
    with path.open("rb") as file:
        if file.seek(0, 2) < 8:
            return False
        file.seek(-4, 2)
        return file.read(4) in PARQUET_MAGICS


def rekey_file(path: Path, old: DataKey | None, new: DataKey) -> Kind | None:
    """Re-encrypt one file in place (atomically) from ``old`` (None: it is plain) to ``new``.

    None when the file is under ``new`` already: a rotation stopped half-way is run again as it was.
    """
    try:
        plain = _read(path, old)
    except (WrongDataKey, DataKeyNeeded) as wrong:
        try:
            _read(path, new)
        except WrongDataKey:
            raise wrong from None  # under neither key: the old key's error is the one to show
        return None
    if isinstance(plain, bytes):
        write_private(path, plain, new)
        return "file"
    write_parquet(plain, path, new)
    return "parquet"


def _read(path: Path, key: DataKey | None) -> bytes | pa.Table:
    return open_parquet(path, key).read() if is_parquet(path) else read_private(path, key)


def decrypted(path: Path, key: DataKey | None) -> bytes:
    """The plain content of a file the product wrote: a sealed file's bytes, or an encrypted
    Parquet file as plain Parquet (for ``memberscore data-key decrypt``)."""
    if is_parquet(path):
        import pyarrow.parquet as pq

        sink = pa.BufferOutputStream()
        pq.write_table(open_parquet(path, key).read(), sink)
        return bytes(sink.getvalue().to_pybytes())
    return read_private(path, key)
