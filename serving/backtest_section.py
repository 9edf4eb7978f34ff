"""The ``backtests`` section of ``GET /monitoring``: how past snapshots' scores did, oldest first.

Read from the project's stored backtest results (``features.backtest_store``, written by
``memberscore backtest`` and ``refresh``): the service never computes a backtest itself (it has no
transactions after the snapshot, and imports nothing from training). A handful of small files, read
per request, so a backtest written while the service runs shows at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from features.backtest_store import read_backtests
from features.data_key import DataKey

SECTION = "backtests"


def backtests_section(project_snapshots: Path, key: DataKey | None = None) -> list[dict[str, Any]]:
    """Every stored backtest of the project, oldest snapshot date first ([] before the first)."""
    return read_backtests(project_snapshots, key)
