"""KPI tables as JSON records, and stored beside a project's snapshots for the service.

The service holds snapshots, not purchase histories, so ``memberscore snapshot`` and ``memberscore
train`` compute the KPIs from the transactions they read and write ``kpis-<as_of>.json`` next to
``snapshot-<as_of>.parquet``; ``GET /kpis`` and ``GET /alerts`` answer from the newest one.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from typing import Any, Final

import pandas as pd

from features import contract
from features.kpi_periods import FREQS, Freq
from features.kpis import By, kpi_tables
from features.segment_rules import SegmentRules

ALL: Final = "all"  # the key of the table without a split


def as_records(table: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as JSON-ready dicts: dates as ISO text, NaN (nothing to divide by) as None, counts as int."""
    records = []
    for row in table.to_dict("records"):
        records.append({str(key): _plain(value) for key, value in row.items()})
    return records


def _plain(value: Any) -> Any:
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and math.isnan(value):
        return None
    return value.item() if hasattr(value, "item") else value


def stored_splits(columns: pd.Index) -> tuple[By | None, ...]:
    """The splits stored with a snapshot: none, tier and lifecycle stage, and store when the data has one."""
    return (None, "tier", "lifecycle_stage", *(("store",) if contract.STORE in columns else ()))


def build_kpi_document(transactions: pd.DataFrame, as_of: date, rules: SegmentRules) -> dict[str, Any]:
    """Every stored table (``FREQS`` x ``stored_splits``), from rows before ``as_of`` only."""
    history = transactions[transactions[contract.TS] < pd.Timestamp(as_of)]
    splits = stored_splits(history.columns)
    tables: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for freq in FREQS:
        built = kpi_tables(history, freq, splits, rules)
        tables[freq] = {by or ALL: as_records(table) for by, table in built.items()}
    return {"as_of": as_of.isoformat(), "tables": tables}


def write_kpis(document: Mapping[str, Any], directory: Path) -> Path:
    """Write atomically beside the snapshot of the same ``as_of`` (temp file, then rename)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"kpis-{document['as_of']}.json"
    temporary = path.with_suffix(".json.tmp")
    temporary.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    os.replace(temporary, path)
    return path


def read_latest_kpis(directory: Path, as_of: date | None = None) -> dict[str, Any] | None:
    """The newest stored KPI document, not newer than ``as_of`` when given (the served snapshot's date)."""
    paths = sorted(directory.glob("kpis-*.json"))
    if as_of is not None:
        paths = [p for p in paths if p.stem.removeprefix("kpis-") <= as_of.isoformat()]
    if not paths:
        return None
    document: dict[str, Any] = json.loads(paths[-1].read_text(encoding="utf-8"))
    return document


def stored_table(document: Mapping[str, Any], freq: Freq, by: str | None) -> pd.DataFrame:
    """One stored table back as a frame (dates as ``date``), or a ValueError naming what is missing."""
    tables = document["tables"].get(freq, {})
    key = by or ALL
    if key not in tables:
        raise ValueError(f"by: {by!r} is not stored with this snapshot; stored: "
                         f"{', '.join(k for k in tables if k != ALL) or 'none'}")
    frame = pd.DataFrame(tables[key])
    for column in ("period_start", "period_end"):
        if column in frame.columns:
            frame[column] = pd.to_datetime(frame[column]).dt.date
    return frame.astype({c: float for c in frame.columns if frame[c].dtype == object and c not in
                         ("period_start", "period_end", by)})
