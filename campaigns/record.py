"""A campaign as the store keeps it, and the shape of its members: the interface of the campaigns layer.

The members frame (``MEMBER_COLUMNS``) is what measurement reads (``campaigns.effect``): one row per
member with the arm and the strata known when the campaign was created. Imported campaigns know no
strata (null score, decile, stage, tier and is_new) unless the file brought them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Final

TREATMENT: Final = "treatment"
CONTROL: Final = "control"
ARMS: Final = (TREATMENT, CONTROL)
RANDOMISED: Final = "randomised"
OBSERVATIONAL: Final = "observational"
DESIGNS: Final = (RANDOMISED, OBSERVATIONAL)
IMPORTED: Final = "imported"  # the type of a campaign sent by another system
# columns and dtypes of a campaign's members frame (nullable dtypes: imported campaigns may lack strata)
MEMBER_DTYPES: Final = {"member_id": "object", "arm": "object", "score": "float64", "score_decile": "Int64",
                        "lifecycle_stage": "object", "tier": "object", "is_new": "boolean"}
MEMBER_COLUMNS: Final = tuple(MEMBER_DTYPES)


@dataclass(frozen=True)
class CampaignRecord:
    """One campaign: what it was, when contacts went out, how it is valued, and how it was designed.

    ``start`` is the day contacts go out, the as-of date of the snapshot its list came from;
    its effect is measured over ``[start, start + window_days)``. ``settings`` holds what made the
    list (campaign rule, limit, filters); ``power`` the minimum detectable effect computed before sending.
    """

    id: str
    project: str
    name: str
    type: str
    created: datetime  # UTC
    start: date
    window_days: int
    cost_per_contact: float
    margin_rate: float
    design: str = RANDOMISED  # or OBSERVATIONAL
    holdout_share: float | None = None
    snapshot_as_of: date | None = None
    model_versions: dict[str, str] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    power: dict[str, Any] | None = None
    external_id: str | None = None  # the campaign's name in the system that sent it (imported)

    def summary(self) -> dict[str, Any]:
        """The record as JSON-ready values (dates as ISO text)."""
        values = {name: getattr(self, name) for name in self.__dataclass_fields__}
        values["created"] = self.created.isoformat()
        values["start"] = self.start.isoformat()
        values["snapshot_as_of"] = self.snapshot_as_of.isoformat() if self.snapshot_as_of else None
        return values
