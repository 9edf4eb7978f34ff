"""models.tasks names what training trains and serving serves: the two must not drift apart."""

from __future__ import annotations

from models.tasks import TASK_NAMES
from training.tasks import all_tasks


def test_training_trains_exactly_the_named_tasks_in_their_order() -> None:
    assert tuple(task.name for task in all_tasks()) == TASK_NAMES == (
        "churn", "next_purchase", "upsell", "value", "value_12m")
