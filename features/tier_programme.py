"""A tier programme as a membership manual writes it, parsed once from YAML and validated.

Where ``segment_rules.yaml``'s ``tiers`` ladder is quantiles or amounts of 365-day spend, a
programme has named cards with upgrade thresholds on the spend of one day or of a validity period,
a retention threshold checked when a card expires (保级), lines that never count (bulk buys,
chosen categories), step-by-step or jump promotion, and a supreme status (AA / 至尊VIP) earned
over several periods. ``tier_programme.yaml`` beside this module is the shipped department-store
example; ``features.tier_replay`` applies a programme to transactions.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any, Final, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from features.validation_errors import first_problem

EXAMPLE_FILE: Final = "tier_programme.yaml"
NEW_MEMBER: Final = "new"  # the "from" of a member who joined during a migration period
Money = float


class _Spec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Period(_Spec):
    """Validity periods: ``months`` long, the first starting on the 1st of ``first_month`` (1 = January)."""

    months: int = Field(12, ge=1, le=24)
    first_month: int = Field(1, ge=1, le=12)


class Card(_Spec):
    """One card. ``name`` is the English display name (the msgid of its translation, context "tier").

    The entry card (the first) has no thresholds. Every other card is reached when the period's
    cumulative qualifying spend reaches ``cumulative`` or one day's reaches ``single_day``, and is
    kept at expiry when the last period's spend reaches ``retain``.
    """

    code: str = Field(min_length=1, pattern=r"^[a-z][a-z0-9_]*$")
    name: str = Field(min_length=1)
    cumulative: Money | None = Field(None, gt=0, allow_inf_nan=False)
    single_day: Money | None = Field(None, gt=0, allow_inf_nan=False)
    retain: Money | None = Field(None, gt=0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _retain_below_upgrade(self) -> Card:
        if self.retain is not None and self.cumulative is not None and self.retain > self.cumulative:
            raise ValueError(f"card {self.code!r}: retain {self.retain:g} is above its cumulative threshold "
                             f"{self.cumulative:g} (keeping a card cannot cost more than earning it)")
        return self


class Exclusions(_Spec):
    """Lines that never count towards a card.

    ``bulk_quantity``: a product bought ``bulk_quantity`` or more times in one order (one day when the
    data has no order id) is a bulk buy (代购 / 团购), excluded whole. ``categories``: category values
    (as the data writes them) whose lines are excluded.
    """

    bulk_quantity: int | None = Field(None, ge=2)
    categories: list[str] = Field(default_factory=list)


class Supreme(_Spec):
    """AA / 至尊VIP above the top card, assessed at each period end on that period's spend.

    Entered with ``or_one_period_at_least`` in one period, or ``each_at_least`` in each of
    ``consecutive_periods`` periods in a row; left at a period end whose spend is below ``exit_below``.
    """

    code: str = Field("aa", min_length=1, pattern=r"^[a-z][a-z0-9_]*$")
    name: str = Field("Supreme VIP", min_length=1)
    consecutive_periods: int = Field(2, ge=1, le=10)
    each_at_least: Money = Field(gt=0, allow_inf_nan=False)
    or_one_period_at_least: Money | None = Field(None, gt=0, allow_inf_nan=False)
    exit_below: Money = Field(gt=0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _ordered(self) -> Supreme:
        if self.exit_below > self.each_at_least:
            raise ValueError(f"supreme: exit_below {self.exit_below:g} is above each_at_least {self.each_at_least:g}")
        if self.or_one_period_at_least is not None and self.or_one_period_at_least < self.each_at_least:
            raise ValueError(f"supreme: or_one_period_at_least {self.or_one_period_at_least:g} is below "
                             f"each_at_least {self.each_at_least:g}")
        return self


class TierProgramme(_Spec):
    """Cards lowest first; how cards are earned, held and lost."""

    name: str = Field(min_length=1)
    period: Period = Field(default_factory=Period)
    card_term: Literal["this_period", "next_period"] = "next_period"
    promotion: Literal["jump", "step"] = "jump"
    downgrade: Literal["one_step", "to_retained"] = "one_step"
    exclusions: Exclusions = Field(default_factory=Exclusions)
    cards: list[Card] = Field(min_length=2)
    supreme: Supreme | None = None

    @property
    def codes(self) -> tuple[str, ...]:
        """Every tier code lowest first, the supreme status last when there is one."""
        return (*(card.code for card in self.cards), *((self.supreme.code,) if self.supreme else ()))

    @property
    def names(self) -> dict[str, str]:
        """Tier code -> English display name (the msgid)."""
        named = {card.code: card.name for card in self.cards}
        return named | ({self.supreme.code: self.supreme.name} if self.supreme else {})

    @model_validator(mode="after")
    def _consistent_cards(self) -> TierProgramme:
        entry, upper = self.cards[0], self.cards[1:]
        if (entry.cumulative, entry.single_day, entry.retain) != (None, None, None):
            raise ValueError(f"cards.0 ({entry.code!r}): the entry card every member holds has no thresholds")
        for i, card in enumerate(upper, start=1):
            if card.cumulative is None or card.retain is None:
                raise ValueError(f"cards.{i} ({card.code!r}): needs cumulative and retain")
        for field in ("cumulative", "single_day", "retain"):
            levels = [getattr(card, field) for card in upper if getattr(card, field) is not None]
            if any(low >= high for low, high in zip(levels, levels[1:])):
                raise ValueError(f"cards: {field} thresholds must strictly increase up the ladder, got {levels}")
        if len(set(self.codes)) != len(self.codes):
            raise ValueError(f"cards/supreme: codes must be unique, got {list(self.codes)}")
        if NEW_MEMBER in self.codes:
            raise ValueError(f"cards/supreme: {NEW_MEMBER!r} is reserved (members who joined within a migration period)")
        return self


def read_programme(path: str | Path | None = None) -> TierProgramme:
    """The programme in ``path``; None reads the shipped department-store example.

    A bad file is a ValueError naming the file, the field (``cards.2.retain``) and the reason.
    """
    where = str(path) if path is not None else EXAMPLE_FILE
    try:
        text = (Path(path).read_text(encoding="utf-8") if path is not None
                else resources.files(__package__ or "features").joinpath(EXAMPLE_FILE).read_text(encoding="utf-8"))
        raw: Any = yaml.safe_load(text)
    except FileNotFoundError:
        raise ValueError(f"tier programme {where}: file not found") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        raise ValueError(f"tier programme {where}: not a readable YAML file ({str(error).splitlines()[0]})") from None
    return parse_programme(raw, where)


def parse_programme(raw: Any, where: str = "tier programme") -> TierProgramme:
    """Validate a parsed YAML document; the first error names its field."""
    try:
        return TierProgramme.model_validate(raw)
    except ValidationError as error:
        field, reason = first_problem(error)
        # a check across the programme names its fields in its reason; a field's own error gets the field in front
        raise ValueError(f"tier programme {where}: {field + ': ' if field else ''}{reason}") from None


def tier_labels(programme: TierProgramme, language: str | None = None) -> dict[str, str]:
    """Tier code -> display name in ``language`` (message catalogue, context "tier"); ``new`` included."""
    from features.i18n import translator

    speak = translator(language)
    names = {NEW_MEMBER: "New member", **programme.names}
    return {code: speak.pgettext("tier", name) for code, name in names.items()}
