"""The model tasks memberscore trains and serves, in the order a run trains them."""

from __future__ import annotations

from typing import Final

TASK_NAMES: Final = ("churn", "next_purchase", "upsell", "value", "value_12m")
