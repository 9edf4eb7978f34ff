"""A small programme for the tier tests, with round numbers so every expected card is checked by hand.

Calendar-year periods. vip (entry) < silver (cumulative 1000, one day 500, retain 600) < gold
(3000, 1500, retain 2000) < diamond (6000, no single-day route, retain 4000); AA: two years of
8000 or one of 15000, left below 5000. Bulk buys: 3 or more of one product in one order;
category "gold_bullion" never counts.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from features.tier_programme import TierProgramme, parse_programme

PROGRAMME: dict[str, Any] = {
    "name": "test_store",
    "period": {"months": 12, "first_month": 1},
    "card_term": "next_period",
    "promotion": "jump",
    "downgrade": "one_step",
    "exclusions": {"bulk_quantity": 3, "categories": ["gold_bullion"]},
    "cards": [
        {"code": "vip", "name": "VIP card"},
        {"code": "silver", "name": "Silver card", "cumulative": 1000, "single_day": 500, "retain": 600},
        {"code": "gold", "name": "Gold card", "cumulative": 3000, "single_day": 1500, "retain": 2000},
        {"code": "diamond", "name": "Diamond card", "cumulative": 6000, "retain": 4000},
    ],
    "supreme": {"code": "aa", "name": "Supreme VIP", "consecutive_periods": 2, "each_at_least": 8000,
                "or_one_period_at_least": 15000, "exit_below": 5000},
}


def programme(**changes: Any) -> TierProgramme:
    """The test programme with top-level keys replaced."""
    return parse_programme({**PROGRAMME, **changes})


def history(*lines: tuple[Any, ...], member: str = "m") -> pd.DataFrame:
    """Lines (ts, amount[, quantity[, category[, product_id[, order_id]]]]) of one member as a clean frame."""
    rows = []
    for i, line in enumerate(lines):
        defaults = (1, "fashion", f"p{i}", f"o{i}")
        ts, amount, quantity, category, product, order = (*line, *defaults[len(line) - 2:])
        rows.append({"member_id": member, "ts": pd.Timestamp(ts), "amount": float(amount), "quantity": quantity,
                     "category": category, "product_id": product, "order_id": order})
    return pd.DataFrame(rows).astype({"member_id": "string", "category": "string", "product_id": "string",
                                      "order_id": "string"})
