"""The scores a snapshot is served with, as the score history keeps them (one function for every writer).

``memberscore score``, ``snapshot`` and ``train`` all store the scores of the snapshot they score or
write, and a backtest later judges them against what happened. They must be the scores the
service serves for that snapshot (``serving.live.load_snapshot`` calls the same ``score_frame``), with
``served_by`` per member and, beside them, the snapshot's baseline outputs (``baseline_*``, BG/NBD),
so a backtest can judge what served next to the baselines of that day even where a model served.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pandas as pd
import xgboost as xgb

from features.contract import MEMBER_ID
from features.data_key import DataKey
from features.score_history import prune_scores, write_scores
from features.snapshot import Snapshot
from models.baselines import SERVED_BY_BASELINE, baseline_name
from serving.scoring import OUTPUT_COLUMNS, score_frame
from serving.sources import served_by, task_sources

SERVED_BY = "served_by"


def served_scores(models: Mapping[str, xgb.Booster], versions: Mapping[str, str], snapshot: Snapshot) -> pd.DataFrame:
    """Every member's outputs as the service serves them from ``snapshot`` with ``models``, and ``served_by``.

    ``versions`` names each champion's version (task -> version) for ``served_by``; a task absent
    from ``models`` is served by the snapshot's baseline, as the service does.
    """
    scores = score_frame(models, snapshot.model_inputs(), snapshot.profile, snapshot.as_of)
    sources = task_sources({task: versions.get(task, "?") for task in models}, snapshot.profile)
    return scores.assign(**{SERVED_BY: served_by(scores, sources)})[[*OUTPUT_COLUMNS, SERVED_BY]]


def with_baselines(scores: pd.DataFrame, profile: pd.DataFrame) -> pd.DataFrame:
    """``scores`` plus the snapshot's baseline outputs for the same members (``baseline_*``, BG/NBD)."""
    sources = dict.fromkeys(c for served in SERVED_BY_BASELINE.values() for c in served.values())
    columns = [c for c in sources if c in profile.columns and c not in scores.columns]
    return scores.merge(profile[[MEMBER_ID, *columns]], on=MEMBER_ID, how="left", validate="one_to_one")


def baseline_names(profile: pd.DataFrame) -> dict[str, str]:
    """Each task's baseline as the snapshot chose it (``recency``, ``bgnbd``, ...): the backtest's labels."""
    return {task: baseline_name(task, profile) for task in SERVED_BY_BASELINE}


def keep_scores(scores: pd.DataFrame, snapshot: Snapshot, project_snapshots: Path, versions: Mapping[str, str],
                horizon_days: int, key: DataKey | None, keep_days: int) -> Path:
    """Store ``scores`` (``served_scores`` of ``snapshot``) with its baselines as that date's history,
    then drop dates older than ``keep_days`` (``MEMBERSCORE_SCORE_HISTORY_DAYS``; 0 keeps all)."""
    path = write_scores(with_baselines(scores, snapshot.profile), project_snapshots, snapshot.as_of, versions,
                        horizon_days, key, baselines=baseline_names(snapshot.profile))
    prune_scores(project_snapshots, keep_days)
    return path
