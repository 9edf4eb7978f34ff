"""The task objects a run trains, in the order of ``models.tasks.TASK_NAMES``."""

from __future__ import annotations

from training.churn import Churn
from training.next_purchase import NextPurchase
from training.task import Task
from training.upsell import Upsell
from training.value import Value, Value12m


def all_tasks() -> list[Task]:
    """Fresh task objects (a task may adapt to the data it is given, e.g. upsell without categories)."""
    return [Churn(), NextPurchase(), Upsell(), Value(), Value12m()]
