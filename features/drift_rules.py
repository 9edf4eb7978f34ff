"""Drift thresholds as configuration: ``drift_rules.yaml`` beside this module, or a user's file over it."""

from __future__ import annotations

from pathlib import Path
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from features.rules_files import read_rules

DEFAULTS_FILE: Final = "drift_rules.yaml"
Level = Literal["ok", "warn", "alert"]


class DriftRules(BaseModel):
    """Warn and alert thresholds for PSI, the change in missing share and the unknown-member share, and the
    columns exempt from them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    psi_warn: float = Field(gt=0)
    psi_alert: float = Field(gt=0)
    missing_change_warn: float = Field(gt=0, le=1)
    missing_change_alert: float = Field(gt=0, le=1)
    unknown_warn: float = Field(gt=0, le=1)
    unknown_alert: float = Field(gt=0, le=1)
    bins: int = Field(ge=2, le=100)
    exempt: tuple[str, ...] = ()  # columns whose drift is expected: reported with their levels, never a breach

    @model_validator(mode="after")
    def _warn_below_alert(self) -> DriftRules:
        for name in ("psi", "missing_change", "unknown"):
            warn, alert = getattr(self, f"{name}_warn"), getattr(self, f"{name}_alert")
            if warn >= alert:
                raise ValueError(f"{name}_warn ({warn}) must be below {name}_alert ({alert})")
        return self

    def level(self, name: Literal["psi", "missing_change", "unknown"], value: float) -> Level:
        """``alert`` above the alert threshold, ``warn`` above the warn threshold, else ``ok``."""
        if value > getattr(self, f"{name}_alert"):
            return "alert"
        return "warn" if value > getattr(self, f"{name}_warn") else "ok"


def read_drift_rules(path: str | Path | None = None) -> DriftRules:
    """Packaged defaults, with each top-level key of the YAML file at ``path`` (if any) replacing its default.

    A bad file is a ValueError naming the file, the field and the reason.
    """
    return read_rules(DriftRules, DEFAULTS_FILE, "drift rules", path, "a YAML mapping of thresholds")
