"""What serves a task that has no champion: the baseline columns of the snapshot's profile.

A baseline is a valid champion (DESIGN.md). Each snapshot carries its baselines' outputs
(``training.serving_baselines`` fits them); this module says which profile column serves which
output, and which rule the snapshot chose, so training, batch scoring and the service agree.
"""

from __future__ import annotations

from typing import Final

import pandas as pd

from features.lifetime import BASELINE_OUTPUTS as BGNBD_OUTPUTS

CHURN_COLUMN: Final = "baseline_churn_probability"
UPSELL_COLUMN: Final = "baseline_upsell_probability"
CATEGORIES_COLUMN: Final = "baseline_upsell_categories"
CHURN_RULE_COLUMN: Final = "baseline_churn_rule"
UPSELL_RULE_COLUMN: Final = "baseline_upsell_rule"
MEDIAN_COLUMN: Final = "baseline_next_purchase_median_days"
VALUE_COLUMN: Final = "baseline_expected_value"
BASELINE_COLUMNS: Final = (CHURN_COLUMN, UPSELL_COLUMN, CATEGORIES_COLUMN, CHURN_RULE_COLUMN, UPSELL_RULE_COLUMN,
                           MEDIAN_COLUMN, VALUE_COLUMN)
BGNBD: Final = "bgnbd"
RULE_COLUMNS: Final = {"churn": CHURN_RULE_COLUMN, "upsell": UPSELL_RULE_COLUMN}

# What serves for a task without a champion: output column -> snapshot profile column.
SERVED_BY_BASELINE: Final = {
    "churn": {"churn_probability": CHURN_COLUMN},
    "next_purchase": {**{c: BGNBD_OUTPUTS[c] for c in ("p_purchase_7d", "p_purchase_30d", "p_purchase_90d")},
                      "next_purchase_median_days": MEDIAN_COLUMN},
    "upsell": {"upsell_probability": UPSELL_COLUMN, "upsell_categories": CATEGORIES_COLUMN},
    "value": {"expected_value": VALUE_COLUMN},
}


def baseline_name(task: str, profile: pd.DataFrame) -> str:
    """The baseline serving ``task`` (``/score`` reports ``baseline:<name>``): the rule the snapshot chose."""
    column = RULE_COLUMNS.get(task)
    if column is None:
        return BGNBD
    names = profile[column].dropna().astype(str) if column in profile.columns else pd.Series(dtype=str)
    names = names[names != ""]
    return str(names.iloc[0]) if len(names) else "rule"
