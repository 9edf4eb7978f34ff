"""When the daily refresh retrains or alerts, as configuration: ``refresh_rules.yaml`` beside this
module, or a user's file over it (``MEMBERSCORE_REFRESH_RULES``)."""

from __future__ import annotations

from pathlib import Path
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from features.drift_rules import Level
from features.rules_files import read_rules

DEFAULTS_FILE: Final = "refresh_rules.yaml"
Action = Literal["retrain", "alert"]


class _Rule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    action: Action


class AgeRule(_Rule):
    """Fire when a champion was trained more than ``max_days`` days ago."""

    max_days: int = Field(ge=1)


class MarginRule(_Rule):
    """Fire when a backtest's served metric is worse than a reference by more than ``margin``."""

    margin: float = Field(ge=0)


class DriftRule(_Rule):
    """Fire when at least ``count`` columns of ``kind`` drifted to ``level`` or worse."""

    kind: Literal["score", "feature"]
    level: Literal["warn", "alert"]
    count: int = Field(ge=1)


class RefreshRules(BaseModel):
    """Every rule of the refresh; a rule set to null is off."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    champion_age: AgeRule | None
    no_champion: _Rule | None
    backtest_below_baseline: MarginRule | None
    backtest_below_training: MarginRule | None
    drift: list[DriftRule]


LEVEL_ORDER: Final[dict[Level, int]] = {"ok": 0, "warn": 1, "alert": 2}


def read_refresh_rules(path: str | Path | None = None) -> RefreshRules:
    """Packaged defaults, with each top-level key of the YAML file at ``path`` (if any) replacing its default.

    A bad file is a ValueError naming the file, the field and the reason.
    """
    return read_rules(RefreshRules, DEFAULTS_FILE, "refresh rules", path, "a YAML mapping of rules")
