"""Rolling-origin cut-offs: many training snapshots, one out-of-time evaluation window.

The evaluation cut-off is the latest whose horizon the data fully covers. Every training cut-off
T satisfies T + H <= evaluation cut-off, so no training label window overlaps the evaluation one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import pandas as pd

from training.span_plan import PlanChoice


@dataclass(frozen=True)
class CutoffPlan:
    """Training cut-offs (oldest first) and the evaluation cut-off, with the shared horizon."""

    train: tuple[date, ...]
    evaluation: date
    horizon_days: int
    choice: PlanChoice | None = field(default=None, compare=False)  # how the planner chose the spacing, and why

    def to_dict(self) -> dict[str, object]:
        return {
            "train": [d.isoformat() for d in self.train],
            "evaluation": self.evaluation.isoformat(),
            "horizon_days": self.horizon_days,
        }


def data_span(timestamps: pd.Series) -> tuple[date, date]:
    """First day with data and the exclusive end (the day after the last timestamp)."""
    return timestamps.min().date(), timestamps.max().date() + timedelta(days=1)


def plan_cutoffs(
    first_day: date,
    end_exclusive: date,
    horizon_days: int,
    n_train: int,
    step_days: int,
    min_history_days: int,
) -> CutoffPlan:
    """Place the evaluation cut-off at the end of the data and training cut-offs before it.

    Raises ValueError naming the shortfall when the data cannot hold one training window, one
    evaluation window and the minimum history.
    """
    horizon = timedelta(days=horizon_days)
    evaluation = end_exclusive - horizon
    earliest = first_day + timedelta(days=min_history_days)
    latest_train = evaluation - horizon
    train = [latest_train - timedelta(days=step_days * i) for i in range(n_train)]
    train = sorted(t for t in train if t >= earliest)
    if not train:
        needed = min_history_days + 2 * horizon_days
        span = (end_exclusive - first_day).days
        raise ValueError(
            f"transactions span {span} days; a {horizon_days}-day horizon needs at least "
            f"{needed} days ({min_history_days} of history + training and evaluation windows)"
        )
    assert train[-1] + horizon <= evaluation, "training label window overlaps evaluation"
    return CutoffPlan(train=tuple(train), evaluation=evaluation, horizon_days=horizon_days)
