"""The snapshot store: Parquet files under a data directory, one directory per project, newest ``as_of`` wins.

Snapshots are data, not models: they are rewritten daily and the service re-reads the newest.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd
import pyarrow as pa

from features.catalogue import BY_NAME
from features.categories import SHARE_PREFIX
from features.contract import MEMBER_ID
from features.data_key import DataKey
from features.encrypted_parquet import open_parquet, write_parquet
from features.project import check_project
from features.snapshot import Snapshot

METADATA_KEY = b"memberscore"


def project_snapshot_dir(root: Path, project: str) -> Path:
    """A project's own snapshots: ``<root>/<project>``, so no project ever reads another's."""
    return root / check_project(project)


def write_snapshot(snapshot: Snapshot, directory: Path, allow_shrink: bool = False, key: DataKey | None = None) -> Path:
    """Write atomically (temp file, then rename) so a reader never sees half a snapshot; encrypted
    (Parquet modular encryption, ``features.encrypted_parquet``) when there is a data ``key``.

    ``allow_shrink`` marks a snapshot with far fewer members than the one before as intended, so a
    running service takes it instead of holding the old one (``serving.live``).
    """
    directory.mkdir(parents=True, exist_ok=True)
    joined = snapshot.frame
    for part in (snapshot.profile, snapshot.shares):
        joined = joined.merge(part, on=MEMBER_ID, how="left", validate="one_to_one")
    table = pa.Table.from_pandas(joined, preserve_index=False)
    meta = {"as_of": snapshot.as_of.isoformat(), "fingerprint": snapshot.fingerprint, "allow_shrink": allow_shrink}
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), METADATA_KEY: json.dumps(meta).encode()})
    return write_parquet(table, directory / f"snapshot-{snapshot.as_of.isoformat()}.parquet", key)


def latest_snapshot_path(directory: Path) -> Path | None:
    """The snapshot file with the newest ``as_of`` (ISO dates sort as text)."""
    paths = sorted(directory.glob("snapshot-*.parquet"))
    return paths[-1] if paths else None


@dataclass(frozen=True)
class SnapshotFacts:
    """What a stored snapshot says about itself, read from the file's footer alone (no data pages)."""

    path: Path
    as_of: date
    members: int
    allow_shrink: bool


def snapshot_facts(path: Path, key: DataKey | None = None) -> SnapshotFacts:
    """Date, member count and the intended-shrink mark of a stored snapshot (one row per member)."""
    footer = open_parquet(path, key).metadata
    meta = json.loads((footer.metadata or {})[METADATA_KEY])
    return SnapshotFacts(path, date.fromisoformat(meta["as_of"]), footer.num_rows, bool(meta.get("allow_shrink", False)))


def previous_snapshot_path(directory: Path, as_of: date) -> Path | None:
    """The newest stored snapshot strictly older than ``as_of``."""
    older = [p for p in sorted(directory.glob("snapshot-*.parquet")) if p.stem.removeprefix("snapshot-") < as_of.isoformat()]
    return older[-1] if older else None


def read_snapshot(path: Path, key: DataKey | None = None) -> Snapshot:
    """A stored snapshot, split back into model features (catalogue names) and the profile."""
    table = open_parquet(path, key).read()
    meta = json.loads((table.schema.metadata or {})[METADATA_KEY])
    joined = table.to_pandas()
    features = [c for c in joined.columns if c in BY_NAME]
    shares = [c for c in joined.columns if c.startswith(SHARE_PREFIX)]
    profile = [c for c in joined.columns if c != MEMBER_ID and c not in BY_NAME and c not in shares]
    return Snapshot(frame=joined[[MEMBER_ID, *features]], as_of=date.fromisoformat(meta["as_of"]),
                    fingerprint=meta["fingerprint"], profile=joined[[MEMBER_ID, *profile]],
                    shares=joined[[MEMBER_ID, *shares]])


def previous_tiers(directory: Path, as_of: date, key: DataKey | None = None) -> pd.Series | None:
    """Last period's tiers for a snapshot as of ``as_of``: the newest stored snapshot strictly older.

    They feed the tier downgrade grace (``features.segments.assign_tiers``). A stored snapshot of
    the same or a later date is not a previous period (rebuilding a day must not grace itself).
    None when there is no older snapshot, or it predates tiers. Only two columns are read.
    """
    older = previous_snapshot_path(directory, as_of)
    if older is None:
        return None
    stored = open_parquet(older, key)
    if "tier" not in stored.schema_arrow.names:
        return None
    table = stored.read(columns=[MEMBER_ID, "tier"]).to_pandas()
    return pd.Series(table["tier"].astype(object).to_numpy(), index=table[MEMBER_ID].astype(str).to_numpy(), name="tier")
