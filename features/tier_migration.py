"""Tier migration period by period (月度会员等级迁移): how many members moved from each tier to each.

For consecutive cut-offs a < b (the first day of each month or ISO week), a member's move is their
tier as of a -> their tier as of b (each from rows before it only, ``features.tier_replay``).
Members whose first line falls in [a, b) move from ``new``. Appending later rows never changes a
past period's counts.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Final, Literal

import numpy as np
import pandas as pd

from features import contract
from features.tier_programme import NEW_MEMBER, TierProgramme
from features.tier_replay import replay
from features.tier_spend import qualifying_days

Freq = Literal["month", "week"]
FREQS: Final = ("month", "week")
MIGRATION_COLUMNS: Final = ("period_start", "period_end", "tier_from", "tier_to", "members")


def migration_cutoffs(first_day: date, last_day: date, freq: Freq) -> list[date]:
    """Period starts from the one holding ``first_day`` to the first after ``last_day``."""
    if freq not in FREQS:
        raise ValueError(f"freq: {freq!r} is not supported; use one of {', '.join(FREQS)}")
    if freq == "week":
        start = first_day - timedelta(days=first_day.weekday())
        count = (last_day - start).days // 7 + 2
        return [start + timedelta(weeks=i) for i in range(count)]
    months = (last_day.year - first_day.year) * 12 + last_day.month - first_day.month + 2
    first = first_day.year * 12 + first_day.month - 1
    return [date((first + i) // 12, (first + i) % 12 + 1, 1) for i in range(months)]


def tier_migration(transactions: pd.DataFrame, programme: TierProgramme, freq: Freq = "month") -> pd.DataFrame:
    """``MIGRATION_COLUMNS``, one row per period and non-empty (from, to) cell, in ladder order."""
    if transactions.empty:
        return pd.DataFrame(columns=list(MIGRATION_COLUMNS))
    stamps = transactions[contract.TS]
    cutoffs = migration_cutoffs(stamps.min().date(), stamps.max().date(), freq)
    states = replay(qualifying_days(transactions, programme), programme, cutoffs)
    codes = np.array([NEW_MEMBER, *programme.codes], dtype=object)
    parts = []
    for before, after in zip(states, states[1:]):
        moved = pd.DataFrame({"tier_from": codes[np.where(before.present, before.tier + 1, 0)][after.present],
                              "tier_to": codes[after.tier + 1][after.present]})
        counts = moved.value_counts(sort=False).rename("members").reset_index()
        counts.insert(0, "period_end", after.as_of.isoformat())
        counts.insert(0, "period_start", before.as_of.isoformat())
        parts.append(counts)
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=list(MIGRATION_COLUMNS))
    for column in ("tier_from", "tier_to"):  # ladder order, not alphabetical
        frame[column] = pd.Categorical(frame[column], categories=list(codes), ordered=True)
    frame = frame.sort_values(["period_start", "tier_from", "tier_to"], kind="stable")
    return frame.astype({"tier_from": str, "tier_to": str, "members": "int64"}).reset_index(drop=True)[
        list(MIGRATION_COLUMNS)]


def migration_matrix(migration: pd.DataFrame, period_start: str, programme: TierProgramme) -> pd.DataFrame:
    """One period as a square table: rows from (``new`` first), columns to, zeros where nobody moved."""
    rows = [NEW_MEMBER, *programme.codes]
    cells = migration[migration["period_start"] == period_start]
    table = cells.pivot_table(index="tier_from", columns="tier_to", values="members", aggfunc="sum", fill_value=0)
    return table.reindex(index=rows, columns=list(programme.codes), fill_value=0).astype("int64")


def period_summary(migration: pd.DataFrame, programme: TierProgramme) -> pd.DataFrame:
    """Per period: members at its end, and how many moved up, down, stayed, or joined."""
    rank = {code: i for i, code in enumerate(programme.codes)}
    source = migration["tier_from"].map(rank)
    target = migration["tier_to"].map(rank)
    kind = np.select([source.isna(), target > source, target < source], [NEW_MEMBER, "up", "down"], "same")
    counts = migration.assign(kind=kind).pivot_table(index=["period_start", "period_end"], columns="kind",
                                                     values="members", aggfunc="sum", fill_value=0)
    counts = counts.reindex(columns=["up", "down", "same", NEW_MEMBER], fill_value=0)
    counts.insert(0, "members", counts.sum(axis=1))
    return counts.reset_index().astype({c: "int64" for c in ("members", "up", "down", "same", NEW_MEMBER)})
