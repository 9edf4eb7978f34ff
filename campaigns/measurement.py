"""Measure a stored campaign: the randomised estimate when it has a holdout, the observational one when not."""

from __future__ import annotations

from typing import Any

import pandas as pd

from campaigns.effect import TREATMENT, measure
from campaigns.observational import measure_observational, with_untargeted
from campaigns.record import RANDOMISED, CampaignRecord


def measure_campaign(record: CampaignRecord, members: pd.DataFrame, transactions: pd.DataFrame,
                     window_days: int | None = None, redemptions: pd.DataFrame | None = None) -> dict[str, Any]:
    """The campaign's effect over ``window_days`` (default: its own window) as JSON-ready values.

    An observational campaign's contacted members are compared with every other member who had
    bought before its start (``with_untargeted``).
    """
    days = window_days or record.window_days
    head = {"campaign_id": record.id, "name": record.name, "type": record.type}
    if record.design == RANDOMISED:
        answer = measure(members, transactions, record.start, days, record.cost_per_contact, record.margin_rate,
                         redemptions)
    else:
        targeted = members[members["arm"] == TREATMENT][["member_id"]]
        answer = measure_observational(with_untargeted(targeted, transactions, record.start), transactions,
                                       record.start, days, record.cost_per_contact, record.margin_rate)
    return {**head, **answer}
