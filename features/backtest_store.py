"""Backtest results: how a stored snapshot's scores did once their horizon had passed.

One small JSON document per backtested snapshot date, beside the score history
(``<snapshot_dir>/<project>/history/backtest-<as_of>.json``), so the service can show them
(``GET /monitoring``, the page) without MLflow, and a date already judged is not judged again.
Written through ``features.sealed`` like every other private file: a data key encrypts them too.
The documents outlive the score files they judge (retention deletes scores, not results).
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

from features.data_key import DataKey
from features.score_history import history_dir
from features.sealed import read_private, write_private_text

PREFIX = "backtest-"


def backtest_path(project_snapshots: Path, as_of: date) -> Path:
    return history_dir(project_snapshots) / f"{PREFIX}{as_of.isoformat()}.json"


def write_backtest(document: dict[str, Any], project_snapshots: Path, as_of: date, key: DataKey | None = None) -> Path:
    """Store one date's backtest (replacing it: the file is the record that the date was judged)."""
    return write_private_text(backtest_path(project_snapshots, as_of), json.dumps(document, indent=1), key)


def backtested_dates(project_snapshots: Path) -> list[date]:
    """Snapshot dates with a stored backtest, oldest first."""
    paths = sorted(history_dir(project_snapshots).glob(f"{PREFIX}*.json"))
    return [date.fromisoformat(p.stem.removeprefix(PREFIX)) for p in paths]


def read_backtests(project_snapshots: Path, key: DataKey | None = None) -> list[dict[str, Any]]:
    """Every stored backtest document, oldest snapshot date first ([] when none)."""
    return [json.loads(read_private(backtest_path(project_snapshots, day), key).decode("utf-8"))
            for day in backtested_dates(project_snapshots)]
