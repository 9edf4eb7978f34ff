"""The transactions data contract (DESIGN.md) and the YAML column mapping onto it."""

from __future__ import annotations

from pathlib import Path
from typing import Final

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

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
    """Maps source column names onto the contract; parsed once from YAML at the edge.

    ``columns`` is ``{contract_name: source_name}``. Naive timestamps are read in
    ``timezone``; aware ones are converted to it, and the clean frame keeps naive
    local time so that an ``as_of`` date means local midnight.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    columns: dict[str, str] = Field(default_factory=dict)
    timezone: str = "UTC"

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

    def source_for(self, contract_name: str) -> str:
        """Source column holding ``contract_name`` (the contract name itself when unmapped)."""
        return self.columns.get(contract_name, contract_name)


def read_mapping(path: str | Path | None) -> ColumnMapping:
    """Parse a mapping YAML file; no path means the source already uses contract names."""
    if path is None:
        return ColumnMapping()
    with open(path, encoding="utf-8") as handle:
        raw = yaml.safe_load(handle) or {}
    if not isinstance(raw, dict):
        raise ValueError(f"mapping {path}: expected a YAML mapping with 'columns' and 'timezone'")
    try:
        return ColumnMapping.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(part) for part in first["loc"]) or "mapping"
        raise ValueError(f"mapping {path}: {field}: {first['msg']}") from None
