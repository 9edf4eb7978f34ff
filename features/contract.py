"""The transactions data contract (DESIGN.md) and the YAML column mapping onto it."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Final, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from features.validation_errors import first_problem

MEMBER_ID: Final = "member_id"
TS: Final = "ts"
AMOUNT: Final = "amount"
ORDER_ID: Final = "order_id"
CATEGORY: Final = "category"
PRODUCT_ID: Final = "product_id"
QUANTITY: Final = "quantity"
STORE: Final = "store"
CHANNEL: Final = "channel"

REQUIRED_COLUMNS: Final = (MEMBER_ID, TS, AMOUNT)
OPTIONAL_COLUMNS: Final = (ORDER_ID, CATEGORY, PRODUCT_ID, QUANTITY, STORE, CHANNEL)
STRING_COLUMNS: Final = (MEMBER_ID, ORDER_ID, CATEGORY, PRODUCT_ID, STORE, CHANNEL)


class ColumnMapping(BaseModel):
    """Maps source column names onto the contract and says how to read the source.

    Parsed once from YAML at the edge. ``columns`` is ``{contract_name: source_name}``.
    Naive timestamps are read in ``timezone``; aware ones are converted to it, and the
    clean frame keeps naive local time so that an ``as_of`` date means local midnight.

    ``encoding`` is the text encoding of a CSV source (a byte-order mark overrides it).
    ``duplicates``: ``drop`` (default) keeps the first of several exactly identical rows
    and rejects the other copies as ``duplicate row``; ``keep`` keeps them all, for
    sources where identical lines are separate purchases (e.g. CDNOW, which has no order
    id). ``max_abs_amount``: a line whose amount is larger than this in absolute value is
    rejected as ``absurd amount``; raise it for currencies with very small units.

    How the file writes things: ``delimiter`` separates CSV cells (detected among ``,`` ``;``
    tab ``|`` when absent). ``ts_format`` (a strptime format) or ``dayfirst`` says how to read
    dates; without either, one reading is chosen for the whole column from the data or the file
    is refused (``features.timestamps``). ``decimal`` and ``thousands`` are the marks in amounts
    and quantities written as text, e.g. ``decimal: ","`` and ``thousands: "."`` for ``1.234,50``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    columns: dict[str, str] = Field(default_factory=dict)
    timezone: str = "UTC"
    encoding: str = "utf-8"
    duplicates: Literal["drop", "keep"] = "drop"
    max_abs_amount: float = Field(default=1e9, gt=0)
    delimiter: str | None = None
    ts_format: str | None = None
    dayfirst: bool | None = None
    decimal: Literal[".", ","] = "."
    thousands: str | None = None

    @field_validator("columns")
    @classmethod
    def _known_contract_names(cls, columns: dict[str, str]) -> dict[str, str]:
        known = set(REQUIRED_COLUMNS) | set(OPTIONAL_COLUMNS)
        unknown = sorted(set(columns) - known)
        if unknown:
            raise ValueError(f"unknown contract column(s) {unknown}; expected some of {sorted(known)}")
        return columns

    @field_validator("timezone")
    @classmethod
    def _valid_timezone(cls, timezone: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(timezone)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone {timezone!r}") from error
        return timezone

    @field_validator("encoding")
    @classmethod
    def _known_encoding(cls, encoding: str) -> str:
        try:
            # decoding a byte (not b"", which never looks the codec up) also refuses codecs
            # that are not text encodings, such as base64
            b"a".decode(encoding, errors="ignore")
        except LookupError as error:
            raise ValueError(f"unknown text encoding {encoding!r}") from error
        return encoding

    @field_validator("max_abs_amount")
    @classmethod
    def _finite_limit(cls, limit: float) -> float:
        if not math.isfinite(limit):
            raise ValueError("must be a finite number")
        return limit

    @field_validator("delimiter")
    @classmethod
    def _one_separator(cls, delimiter: str | None) -> str | None:
        if delimiter is not None and (len(delimiter) != 1 or delimiter in '"\r\n'):
            raise ValueError(f"expected one character such as ',' ';' '|' or a tab, not {delimiter!r}")
        return delimiter

    @field_validator("ts_format")
    @classmethod
    def _strptime_format(cls, ts_format: str | None) -> str | None:
        if ts_format is not None and "%" not in ts_format:
            raise ValueError(f"expected a strptime format such as '%d/%m/%Y %H:%M', not {ts_format!r}")
        return ts_format

    @field_validator("thousands")
    @classmethod
    def _grouping_mark(cls, thousands: str | None) -> str | None:
        if thousands is not None and (len(thousands) != 1 or thousands.isalnum() or thousands in "+-"):
            raise ValueError(f"expected one mark such as '.' ',' or a space, not {thousands!r}")
        return thousands

    @model_validator(mode="after")
    def _consistent_reading(self) -> ColumnMapping:
        if self.ts_format is not None and self.dayfirst is not None:
            raise ValueError("ts_format and dayfirst: set one, not both (a format already says where the day is)")
        if self.thousands == self.decimal:
            raise ValueError(f"decimal and thousands are both {self.decimal!r}: they must differ")
        return self

    def source_for(self, contract_name: str) -> str:
        """Source column holding ``contract_name`` (the contract name itself when unmapped)."""
        return self.columns.get(contract_name, contract_name)


M = TypeVar("M", bound=ColumnMapping)


def read_mapping(path: str | Path | None, model: type[M] = ColumnMapping) -> M:  # type: ignore[assignment]
    """Parse a mapping YAML file; no path means the source already uses contract names.

    ``model`` is the mapping's class: another table's contract subclasses ColumnMapping (``campaigns.exposures``).
    """
    if path is None:
        return model()
    try:
        with open(path, encoding="utf-8") as handle:
            raw = yaml.safe_load(handle) or {}
    except FileNotFoundError:
        raise ValueError(f"mapping {path}: file not found") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as error:
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ValueError(f"mapping {path}: not a readable YAML file ({reason})") from None
    if not isinstance(raw, dict):
        raise ValueError(f"mapping {path}: expected a YAML mapping with 'columns' and 'timezone'")
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        field, reason = first_problem(error)
        raise ValueError(f"mapping {path}: {field or 'mapping'}: {reason}") from None
