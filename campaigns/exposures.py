"""Campaigns sent by another system: read an exposures file (who got which campaign when) onto records.

The file has one row per member and campaign: ``member``, ``campaign``, ``sent_at`` and optionally
``arm`` (``treated`` or ``control``) and ``cost`` (what contacting that member cost). It is read
as transactions are (``features.load``): CSV or Parquet, the mapping's column names, delimiter,
encoding and date reading (never guessed silently: an unclear day/month order is refused), and
every row is kept or rejected with one reason, the first that applies:

``malformed line``, ``undecodable text``, ``missing member``, ``missing campaign``,
``unparseable sent_at``, ``future sent_at`` (after the load time plus a day), ``unknown arm``
(not treated or control, when the file has arms), ``bad cost`` (not a number, or negative; a blank
cost is unknown, e.g. for a control member),
``repeated member`` (the member already has a row for this campaign: the first is kept).

Rejected rows are written with their line and text (``features.rejects.write_rejects``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import numpy as np
import pandas as pd
from pydantic import field_validator

from campaigns.record import CONTROL, IMPORTED, OBSERVATIONAL, RANDOMISED, TREATMENT, CampaignRecord
from campaigns.store import new_campaign_id
from features.amounts import read_numbers
from features.contract import ColumnMapping
from features.csv_source import MALFORMED_LINE, UNDECODABLE_TEXT
from features.data_key import DataKey
from features.load import DEFAULT_REJECTS_DIR, read_table
from features.load_report import LoadReport
from features.rejects import latest_ts, write_rejects
from features.timestamps import as_local_naive, read_timestamps

MEMBER, CAMPAIGN, SENT_AT, ARM, COST = "member", "campaign", "sent_at", "arm", "cost"
REQUIRED: Final = (MEMBER, CAMPAIGN, SENT_AT)
OPTIONAL: Final = (ARM, COST)
ARM_VALUES: Final = {"treated": TREATMENT, "control": CONTROL}
REASONS: Final = (MALFORMED_LINE, UNDECODABLE_TEXT, "missing member", "missing campaign", "unparseable sent_at",
                  "future sent_at", "unknown arm", "bad cost", "repeated member")


class ExposureMapping(ColumnMapping):
    """``ColumnMapping`` for exposures files: ``columns`` maps member, campaign, sent_at, arm and cost."""

    @field_validator("columns")
    @classmethod
    def _known_contract_names(cls, columns: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(columns) - {*REQUIRED, *OPTIONAL})
        if unknown:
            raise ValueError(f"unknown exposure column(s) {unknown}; expected some of {[*REQUIRED, *OPTIONAL]}")
        return columns


@dataclass(frozen=True)
class Exposures:
    """Kept rows (member_id, campaign, sent_at, arm or NA, cost or NaN when blank), whether the file had arms, the report."""

    frame: pd.DataFrame
    has_arms: bool
    report: LoadReport


def read_exposures(path: str | Path, mapping: ExposureMapping | None = None, *, rejects_path: str | Path | None = None,
                   loaded_at: datetime | None = None, key: DataKey | None = None) -> Exposures:
    """Read and check an exposures file (module docstring); ValueError when the file as a whole is unusable."""
    path, mapping = Path(path), mapping or ExposureMapping()
    raw, table = read_table(path, mapping)
    raw = raw.reset_index(drop=True)
    sources = _sources(raw, mapping, str(path))
    typed, reading = _typed(raw, sources, mapping, str(path))
    unreadable = table.unreadable if table is not None else None
    reasons = _reasons(raw, typed, unreadable, latest_ts(loaded_at, mapping), ARM in sources, COST in sources)
    rejected = reasons.notna()
    target = rejects_path if rejects_path is not None else DEFAULT_REJECTS_DIR / f"{path.stem}.rejects.csv"
    written = write_rejects(raw, reasons, unreadable, target, table, key) if rejected.any() else None
    counts = reasons.value_counts()
    report = LoadReport(source=str(path), rows_read=len(raw), rows_kept=int((~rejected).sum()),
                        rejected_by_reason={r: int(counts[r]) for r in REASONS if r in counts.index},
                        rejects_path=written, delimiter=table.delimiter.describe() if table is not None else None,
                        ts_reading=reading)
    return Exposures(typed.loc[~rejected].drop(columns="cost_bad").reset_index(drop=True), ARM in sources, report)


def _sources(raw: pd.DataFrame, mapping: ColumnMapping, source: str) -> dict[str, str]:
    """Exposure name -> file column: required ones must exist, optional ones are used when present."""
    found = {}
    for name in (*REQUIRED, *OPTIONAL):
        column = mapping.source_for(name)
        if column in raw.columns:
            found[name] = column
        elif name in REQUIRED or name in mapping.columns:
            raise ValueError(f"{source}: column {column!r} (mapped to {name}) not found; columns are {list(raw.columns)}")
    return found


def _text(values: pd.Series) -> pd.Series:
    text = values.astype("string").str.strip()
    return text.mask(text == "")


def _typed(raw: pd.DataFrame, sources: dict[str, str], mapping: ColumnMapping,
           source: str) -> tuple[pd.DataFrame, str]:
    """member_id, campaign, sent_at (naive local), arm (treatment/control, NA when unknown), cost (NaN when unread)."""
    sent = raw[sources[SENT_AT]]
    if pd.api.types.is_datetime64_any_dtype(sent):
        stamps, reading = as_local_naive(sent, mapping.timezone), "as stored (typed timestamps)"
    else:
        read = read_timestamps(_text(sent), mapping, sources[SENT_AT], source)
        stamps, reading = read.stamps, read.reading
    frame = pd.DataFrame({"member_id": _text(raw[sources[MEMBER]]), "campaign": _text(raw[sources[CAMPAIGN]]),
                          "sent_at": stamps}, index=raw.index)
    arms = _text(raw[sources[ARM]]).str.lower() if ARM in sources else pd.Series(pd.NA, index=raw.index, dtype="string")
    frame["arm"] = arms.map(ARM_VALUES, na_action="ignore").astype("string")
    frame["cost"] = _costs(raw[sources[COST]], mapping) if COST in sources else np.nan
    # a blank cost is unknown (a control member cost nothing to send); text that is no cost >= 0 is bad
    given = _text(raw[sources[COST]].astype("string")).notna() if COST in sources else False
    frame["cost_bad"] = given & ~(frame["cost"] >= 0)
    return frame, reading


def _costs(values: pd.Series, mapping: ColumnMapping) -> pd.Series:
    """Floats (NaN when not a finite number), text read with the mapping's decimal and thousands marks."""
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        numbers = values.astype("float64")
        return numbers.where(np.isfinite(numbers))
    return read_numbers(_text(values), mapping.decimal, mapping.thousands)


def _reasons(raw: pd.DataFrame, typed: pd.DataFrame, unreadable: pd.DataFrame | None, latest: pd.Timestamp,
             has_arms: bool, has_costs: bool) -> pd.Series:
    """The first failing reason per row (NA: kept); with an arm (cost) column, every row needs a valid one."""
    read_as = pd.Series(pd.NA, index=raw.index, dtype="string")
    if unreadable is not None and not unreadable.empty:
        read_as.loc[unreadable.index] = unreadable["reason"]
    arm_bad = typed["arm"].isna() & has_arms
    cost_bad = typed["cost_bad"] & has_costs
    checks = [read_as == MALFORMED_LINE, read_as == UNDECODABLE_TEXT, typed["member_id"].isna(), typed["campaign"].isna(),
              typed["sent_at"].isna(), typed["sent_at"] > latest, arm_bad, cost_bad]
    flags = [pd.Series(check, index=raw.index).fillna(False).to_numpy(bool) for check in checks]
    earlier = np.select(flags, list(REASONS[:-1]), default=np.array(None, dtype=object))
    kept = pd.isna(earlier)
    repeated = np.zeros(len(raw), dtype=bool)
    repeated[kept] = typed.loc[kept, ["campaign", "member_id"]].duplicated(keep="first").to_numpy(bool)
    return pd.Series(np.where(repeated, REASONS[-1], earlier), index=raw.index, dtype="string")


def imported_campaigns(exposures: Exposures, name: str, project: str, window_days: int,
                       cost_per_contact: float | None, margin_rate: float,
                       created: datetime | None = None) -> list[tuple[CampaignRecord, pd.DataFrame]]:
    """One record and members frame per distinct campaign of the file, in the order of first appearance.

    The start is the day of the campaign's first send. The design is randomised when the file gives
    arms and the campaign has both, observational otherwise (every member then counts as treated).
    The cost per contact is ``cost_per_contact`` when given, else the treated rows' mean ``cost``,
    else 0. Several campaigns in one file are named ``"<name>: <campaign>"``.
    """
    frame = exposures.frame
    values = list(dict.fromkeys(frame["campaign"].tolist()))
    if not values:
        raise ValueError(f"--exposures {exposures.report.source}: no row kept, nothing to import")
    made = created or datetime.now(UTC)
    return [_one(frame[frame["campaign"] == value], value, name if len(values) == 1 else f"{name}: {value}",
                 exposures.has_arms, project, window_days, cost_per_contact, margin_rate, made) for value in values]


def _one(rows: pd.DataFrame, value: str, name: str, has_arms: bool, project: str, window_days: int,
         cost_per_contact: float | None, margin_rate: float, created: datetime) -> tuple[CampaignRecord, pd.DataFrame]:
    arms = rows["arm"].astype(object) if has_arms else pd.Series(TREATMENT, index=rows.index, dtype=object)
    treated, held = int((arms == TREATMENT).sum()), int((arms == CONTROL).sum())
    if treated == 0:
        raise ValueError(f"campaign {value!r}: no treated member in the file (arm 'treated'); nothing was sent")
    design = RANDOMISED if held > 0 else OBSERVATIONAL
    costs = rows.loc[arms == TREATMENT, "cost"].dropna()
    cost = cost_per_contact if cost_per_contact is not None else (float(costs.mean()) if len(costs) else 0.0)
    record = CampaignRecord(
        id=new_campaign_id(), project=project, name=name, type=IMPORTED, created=created,
        start=rows["sent_at"].min().date(), window_days=window_days, cost_per_contact=cost, margin_rate=margin_rate,
        design=design, holdout_share=held / len(rows) if design == RANDOMISED else None, external_id=value,
        settings={"members": len(rows), "sent_from": str(rows["sent_at"].min()), "sent_to": str(rows["sent_at"].max())})
    members = pd.DataFrame({"member_id": rows["member_id"].astype(str).to_numpy(object), "arm": arms.to_numpy(object),
                            "score": np.nan, "score_decile": pd.NA, "lifecycle_stage": None, "tier": None,
                            "is_new": pd.NA, "sent_at": rows["sent_at"].to_numpy(), "cost": rows["cost"].to_numpy(float)})
    return record, members


def read_redemptions(path: str | Path, mapping: ColumnMapping | None = None) -> pd.DataFrame:
    """``member_id`` (and ``ts`` when the file has it) of each coupon redemption, read as transactions are.

    CSV or Parquet, delimiter and day/month order never guessed silently (``features.load``). Any
    other column is ignored. A row without a member or with an unreadable ``ts`` would silently
    lower a redemption rate, so the file is refused with their count instead.
    """
    path, mapping = Path(path), mapping or ColumnMapping()
    raw, _ = read_table(path, mapping)
    member = mapping.source_for("member_id")
    if member not in raw.columns:
        raise ValueError(f"{path}: needs a {member} column (found {', '.join(map(str, raw.columns))})")
    frame = pd.DataFrame({"member_id": _text(raw[member])})
    ts = mapping.source_for("ts")
    if ts in raw.columns:
        stamps = raw[ts]
        is_typed = pd.api.types.is_datetime64_any_dtype(stamps)
        frame["ts"] = (as_local_naive(stamps, mapping.timezone) if is_typed
                       else read_timestamps(_text(stamps), mapping, ts, str(path)).stamps)
    unusable = frame["member_id"].isna() | (frame["ts"].isna() if "ts" in frame.columns else False)
    if unusable.any():
        raise ValueError(f"{path}: {int(unusable.sum())} of {len(frame)} rows have no {member}"
                         + (f" or no readable {ts}" if "ts" in frame.columns else ""))
    return frame
