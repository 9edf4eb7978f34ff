"""The snapshot store: Parquet files under a data directory, newest ``as_of`` wins.

Snapshots are data, not models: they are rewritten daily and the service re-reads the newest.
"""

from __future__ import annotations

import json
import os
from datetime import date
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from features.snapshot import Snapshot

METADATA_KEY = b"memberscore"


def default_snapshot_dir() -> Path:
    """``MEMBERSCORE_SNAPSHOT_DIR`` or ``var/snapshots`` under the working directory."""
    return Path(os.environ.get("MEMBERSCORE_SNAPSHOT_DIR", "var/snapshots"))


def write_snapshot(snapshot: Snapshot, directory: Path) -> Path:
    """Write atomically (temp file, then rename) so a reader never sees half a snapshot."""
    directory.mkdir(parents=True, exist_ok=True)
    table = pa.Table.from_pandas(snapshot.frame, preserve_index=False)
    meta = {"as_of": snapshot.as_of.isoformat(), "fingerprint": snapshot.fingerprint}
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), METADATA_KEY: json.dumps(meta).encode()})
    path = directory / f"snapshot-{snapshot.as_of.isoformat()}.parquet"
    temporary = path.with_suffix(".parquet.tmp")
    pq.write_table(table, temporary)
    os.replace(temporary, path)
    return path


def latest_snapshot_path(directory: Path) -> Path | None:
    """The snapshot file with the newest ``as_of`` (ISO dates sort as text)."""
    paths = sorted(directory.glob("snapshot-*.parquet"))
    return paths[-1] if paths else None


def read_snapshot(path: Path) -> Snapshot:
    table = pq.read_table(path)
    meta = json.loads((table.schema.metadata or {})[METADATA_KEY])
    frame = table.to_pandas()
    return Snapshot(frame=frame, as_of=date.fromisoformat(meta["as_of"]), fingerprint=meta["fingerprint"])
