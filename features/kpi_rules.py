"""KPI alert thresholds as configuration: ``kpi_rules.yaml`` beside this module, or a user's file over it."""

from __future__ import annotations

from pathlib import Path
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from features.kpis import KPI_COLUMNS
from features.rules_files import read_rules

DEFAULTS_FILE: Final = "kpi_rules.yaml"
SHARE_KPIS: Final = ("repurchase_rate", "repurchase_spend_share", "churn_rate", "multi_category_share",
                     "tier_up_share", "tier_down_share")
Compare = Literal["previous", "last_year"]


class AlertRule(BaseModel):
    """Fire when ``kpi`` moved in ``direction`` by more than ``points`` (shares) or ``percent`` (relative)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kpi: str
    compare: Compare
    direction: Literal["up", "down"]
    points: float | None = Field(None, ge=0)
    percent: float | None = Field(None, ge=0)

    @model_validator(mode="after")
    def _one_threshold(self) -> AlertRule:
        if self.kpi not in KPI_COLUMNS:
            raise ValueError(f"kpi {self.kpi!r} is not a KPI; use one of {', '.join(KPI_COLUMNS)}")
        if (self.points is None) == (self.percent is None):
            raise ValueError(f"{self.kpi}: give exactly one of points or percent")
        if self.points is not None and self.kpi not in SHARE_KPIS:
            raise ValueError(f"{self.kpi}: points are for shares and rates ({', '.join(SHARE_KPIS)}); use percent")
        return self

    @property
    def unit(self) -> Literal["points", "percent"]:
        return "points" if self.points is not None else "percent"

    @property
    def threshold(self) -> float:
        return float(self.points if self.points is not None else self.percent or 0.0)


class KpiRules(BaseModel):
    """The alert rules and the smallest membership a rate is judged on."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    min_members: int = Field(ge=0)
    alerts: list[AlertRule]


def read_kpi_rules(path: str | Path | None = None) -> KpiRules:
    """Packaged defaults, with each top-level key of the YAML file at ``path`` (if any) replacing its default.

    A bad file is a ValueError naming the file, the field and the reason.
    """
    return read_rules(KpiRules, DEFAULTS_FILE, "kpi rules", path, "a YAML mapping with 'min_members' and 'alerts'")
