"""KPI alert thresholds as configuration: ``kpi_rules.yaml`` beside this module, or a user's file over it."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any, Final, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from features.kpis import KPI_COLUMNS
from features.validation_errors import first_problem

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
    packaged = resources.files(__package__ or "features").joinpath(DEFAULTS_FILE).read_text(encoding="utf-8")
    raw: Any = yaml.safe_load(packaged)
    where = DEFAULTS_FILE
    if path is not None:
        where = str(path)
        try:
            custom = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        except FileNotFoundError:
            raise ValueError(f"kpi rules {path}: file not found") from None
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
            raise ValueError(f"kpi rules {path}: not a readable YAML file ({str(error).splitlines()[0]})") from None
        if not isinstance(custom, dict):
            raise ValueError(f"kpi rules {path}: expected a YAML mapping with 'min_members' and 'alerts'")
        raw = {**raw, **custom}
    try:
        return KpiRules.model_validate(raw)
    except ValidationError as error:
        field, reason = first_problem(error)
        raise ValueError(f"kpi rules {where}: {field or 'rules'}: {reason}") from None
