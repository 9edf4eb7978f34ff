"""Score history: the scores each snapshot was served with, kept beside the snapshots for backtests.

One Parquet file per snapshot date, ``<snapshot_dir>/<project>/history/scores-<as_of>.parquet``:
every member's outputs and ``served_by`` (which model version or baseline served each output),
with the snapshot date and the champions' versions in the file's metadata. A backtest needs what
was really served, not a re-score with today's models, so the scores are kept as they were written.
Written through ``features.encrypted_parquet`` like snapshots: a data key encrypts them too.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pyarrow as pa

from features.data_key import DataKey
from features.encrypted_parquet import open_parquet, write_parquet

HISTORY_DIR = "history"
METADATA_KEY = b"memberscore_scores"
PREFIX = "scores-"


@dataclass(frozen=True)
class StoredScores:
    """One snapshot date's scores as stored: the frame, its date, the model versions that served and
    the horizon H (days) the probabilities speak of (a backtest waits until as_of + H has passed)."""

    scores: pd.DataFrame
    as_of: date
    model_versions: dict[str, str]
    horizon_days: int
    baselines: dict[str, str] = field(default_factory=dict)  # task -> the baseline the snapshot chose


def history_dir(project_snapshots: Path) -> Path:
    """A project's score history, inside its own snapshot directory (so projects never mix)."""
    return project_snapshots / HISTORY_DIR


def history_path(project_snapshots: Path, as_of: date) -> Path:
    return history_dir(project_snapshots) / f"{PREFIX}{as_of.isoformat()}.parquet"


def write_scores(scores: pd.DataFrame, project_snapshots: Path, as_of: date, model_versions: Mapping[str, str],
                 horizon_days: int, key: DataKey | None = None, baselines: Mapping[str, str] | None = None) -> Path:
    """Store ``scores`` for ``as_of`` (replacing that date's file: a rescore of a day is the day's scores).

    ``baselines`` names the baseline behind each task's ``baseline_*`` column (e.g. churn -> recency).
    """
    table = pa.Table.from_pandas(scores, preserve_index=False)
    if horizon_days < 1:
        raise ValueError(f"horizon_days must be >= 1, not {horizon_days}")
    meta = {"as_of": as_of.isoformat(), "model_versions": dict(model_versions), "horizon_days": horizon_days,
            "baselines": dict(baselines or {})}
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), METADATA_KEY: json.dumps(meta).encode()})
    return write_parquet(table, history_path(project_snapshots, as_of), key)


def read_scores(path: Path, key: DataKey | None = None) -> StoredScores:
    """A stored score file back as it was written (columns, dtypes, rows in order)."""
    table = open_parquet(path, key).read()
    meta = json.loads((table.schema.metadata or {})[METADATA_KEY])
    return StoredScores(table.to_pandas(), date.fromisoformat(meta["as_of"]), dict(meta["model_versions"]),
                        int(meta["horizon_days"]), dict(meta.get("baselines", {})))


def score_facts(path: Path, key: DataKey | None = None) -> StoredScores:
    """A stored file's date, model versions, horizon and baselines, from its metadata only (no rows read):
    what a backtest needs to know whether the file's horizon has passed."""
    meta = json.loads((open_parquet(path, key).schema_arrow.metadata or {})[METADATA_KEY])
    return StoredScores(pd.DataFrame(), date.fromisoformat(meta["as_of"]), dict(meta["model_versions"]),
                        int(meta["horizon_days"]), dict(meta.get("baselines", {})))


def stored_dates(project_snapshots: Path) -> list[date]:
    """Dates with stored scores, oldest first (ISO dates sort as text)."""
    paths = sorted(history_dir(project_snapshots).glob(f"{PREFIX}*.parquet"))
    return [date.fromisoformat(p.stem.removeprefix(PREFIX)) for p in paths]


def prune_scores(project_snapshots: Path, keep_days: int) -> list[date]:
    """Delete score files more than ``keep_days`` older than the newest one; returns the dates deleted.

    Age counts from the newest stored date, not the clock, so a paused deployment keeps its last
    window instead of losing everything on restart. ``keep_days`` 0 keeps everything.
    """
    if keep_days < 0:
        raise ValueError(f"keep_days must be >= 0, not {keep_days}")
    dates = stored_dates(project_snapshots)
    if keep_days == 0 or not dates:
        return []
    oldest_kept = dates[-1] - timedelta(days=keep_days)
    dropped = [d for d in dates if d < oldest_kept]
    for d in dropped:
        history_path(project_snapshots, d).unlink(missing_ok=True)
    return dropped
