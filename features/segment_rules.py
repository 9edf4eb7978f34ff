"""The membership playbook rules as configuration: parsed once from YAML, validated, immutable.

``segment_rules.yaml`` beside this module holds the packaged defaults; a user's file is merged
over them key by key. ``features.segments`` applies the rules to members.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Final

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from features.catalogue import BY_NAME

DEFAULTS_FILE: Final = "segment_rules.yaml"
ABC_CLASSES: Final = ("AA", "A", "B", "C")
LIFECYCLE_STAGES: Final = ("new", "active", "sleeping", "lost")


def _catalogue_feature(name: str) -> str:
    if name not in BY_NAME:
        raise ValueError(f"{name!r} is not a catalogue feature")
    return name


def _ascending(bounds: tuple[int, int]) -> tuple[int, int]:
    if bounds[0] > bounds[1]:
        raise ValueError(f"score range {list(bounds)} has lo > hi")
    return bounds


FeatureName = Annotated[str, AfterValidator(_catalogue_feature)]
Score = Annotated[int, Field(ge=1, le=5)]
ScoreRange = Annotated[tuple[Score, Score], AfterValidator(_ascending)]
Share = Annotated[float, Field(gt=0, le=1)]


class _Rules(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RfmSegment(_Rules):
    """A named block of the RFM grid: inclusive score ranges; ``m`` unbounded when omitted."""

    name: str = Field(min_length=1)
    r: ScoreRange
    f: ScoreRange
    m: ScoreRange | None = None


class RfmRules(_Rules):
    """Ordered segment rules (first match wins), the name of members no rule matches, and where
    r_score 5 and 4 end among still-buying members, in multiples of the usual gap."""

    segments: list[RfmSegment]
    catch_all: str = Field(min_length=1)
    recency_ratio_edges: tuple[Annotated[float, Field(gt=0)], Annotated[float, Field(gt=0)]] = (0.5, 1.0)

    @property
    def labels(self) -> tuple[str, ...]:
        return (*(segment.name for segment in self.segments), self.catch_all)

    @model_validator(mode="after")
    def _unique_names(self) -> RfmRules:
        if len(set(self.labels)) != len(self.labels):
            raise ValueError(f"segments/catch_all: names must be unique, got {list(self.labels)}")
        if self.recency_ratio_edges[0] >= self.recency_ratio_edges[1]:
            raise ValueError(f"recency_ratio_edges: need r5 edge < r4 edge, got {list(self.recency_ratio_edges)}")
        return self


class AbcRules(_Rules):
    """Pareto shares of total positive spend that close the AA, A and B classes."""

    spend_column: FeatureName
    aa_share: Share
    a_share: Share
    b_share: Share

    @model_validator(mode="after")
    def _shares_increase(self) -> AbcRules:
        if not self.aa_share < self.a_share < self.b_share:
            raise ValueError(f"need aa_share {self.aa_share} < a_share {self.a_share} < b_share {self.b_share}")
        return self


class LifecycleRules(_Rules):
    """Stage cut points, in days and in multiples of the member's usual gap."""

    new_days: float = Field(ge=0)
    new_max_orders: int = Field(ge=1)
    active_ratio: float = Field(gt=0)
    lost_ratio: float = Field(gt=0)
    fallback_gap_days: float = Field(gt=0)
    alive_threshold: float = Field(0.5, gt=0, lt=1)

    @model_validator(mode="after")
    def _ratios_increase(self) -> LifecycleRules:
        if self.active_ratio >= self.lost_ratio:
            raise ValueError(f"need active_ratio {self.active_ratio} < lost_ratio {self.lost_ratio}")
        return self


class TierRung(_Rules):
    """One tier above the base, reached at a quantile of training spend or at a fixed amount."""

    name: str = Field(min_length=1)
    quantile: float | None = Field(None, gt=0, lt=1)
    amount: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _one_kind(self) -> TierRung:
        if (self.quantile is None) == (self.amount is None):
            raise ValueError(f"tier {self.name!r}: give exactly one of quantile or amount")
        return self


class TierRules(_Rules):
    """The tier ladder (lowest first, above ``base``) and the downgrade grace ``retain_share``."""

    qualifying_column: FeatureName
    base: str = Field(min_length=1)
    ladder: list[TierRung] = Field(min_length=1)
    retain_share: Share

    @property
    def labels(self) -> tuple[str, ...]:
        return (self.base, *(rung.name for rung in self.ladder))

    @property
    def uses_quantiles(self) -> bool:
        return self.ladder[0].quantile is not None

    def amounts(self) -> dict[str, float]:
        return {rung.name: float(rung.amount or 0.0) for rung in self.ladder}

    @model_validator(mode="after")
    def _ladder_is_consistent(self) -> TierRules:
        if len({rung.quantile is None for rung in self.ladder}) > 1:
            raise ValueError("ladder: use quantiles for every tier or amounts for every tier, not both")
        levels = [float(rung.quantile or rung.amount or 0.0) for rung in self.ladder]  # one is set, and > 0
        if any(low >= high for low, high in zip(levels, levels[1:])):
            raise ValueError(f"ladder: thresholds must strictly increase up the ladder, got {levels}")
        if len(set(self.labels)) != len(self.labels):
            raise ValueError(f"ladder/base: tier names must be unique, got {list(self.labels)}")
        return self


class SegmentRules(_Rules):
    """Every membership rule, one section per playbook."""

    rfm: RfmRules
    abc: AbcRules
    lifecycle: LifecycleRules
    tiers: TierRules

    @model_validator(mode="after")
    def _recency_bands_fit_the_stages(self) -> SegmentRules:
        """r_score 4 must end inside "still buying", or r 3 would be empty and r 4 hold the lapsed."""
        if self.rfm.recency_ratio_edges[1] >= self.lifecycle.active_ratio:
            raise ValueError(f"rfm.recency_ratio_edges {list(self.rfm.recency_ratio_edges)}: the r4 edge must be "
                             f"below lifecycle.active_ratio {self.lifecycle.active_ratio}")
        return self


def read_segment_rules(path: str | Path | None = None) -> SegmentRules:
    """Packaged defaults, with the YAML file at ``path`` (if any) merged over them.

    Mappings merge key by key so a file can change one number; lists and scalars replace whole.
    """
    packaged = resources.files(__package__ or "features").joinpath(DEFAULTS_FILE).read_text(encoding="utf-8")
    raw: Any = yaml.safe_load(packaged)
    if path is not None:
        custom = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
        raw = _merged(raw, custom) if isinstance(custom, dict) else custom  # not a mapping: pydantic says so
    return SegmentRules.model_validate(raw)


def _merged(defaults: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    merged = dict(defaults)
    for key, value in overrides.items():
        base = merged.get(key)
        merged[key] = _merged(base, value) if isinstance(base, dict) and isinstance(value, dict) else value
    return merged
