"""How much history, how many training cut-offs and how far apart: chosen from the data's span and H.

The defaults (``TrainConfig``: 60 days of history, up to 6 cut-offs 28 days apart) serve data of a
year or more unchanged. A shorter span shrinks them in a fixed order, each step only as far as the
span needs, so a short file trains instead of being refused:

``room`` = span - 2H is what the two label windows leave (the evaluation window ends at the data's
end; the latest training window ends where it starts). A plan needs ``room`` >= history + (n - 1) x step.

0. **Defaults**, as many of their cut-offs as fit, when they hold at least ``MIN_CUTOFFS``.
1. **History** shrinks (not below ``HISTORY_FLOOR_DAYS``) to keep ``MIN_CUTOFFS`` at the default step.
2. **Step** shrinks in whole weeks (not below ``STEP_FLOOR_DAYS``), history at its floor.
3. **One cut-off**, history at its floor.
4. Below 2H + ``HISTORY_FLOOR_DAYS`` days no model can be judged out of time: **baselines only**
   (BG/NBD and the rules a snapshot fits for itself, ``training.serving_baselines``).

A value the user set (in ``--config``) never moves; only defaults adapt. If the user's own values
do not fit a span that adapted values would, the error names them.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Final

HISTORY_FLOOR_DAYS: Final = 14  # two weeks: every weekday seen twice before the first cut-off
STEP_FLOOR_DAYS: Final = 7  # whole weeks keep the cut-offs on one weekday
MIN_CUTOFFS: Final = 2  # an adapted plan keeps two training cut-offs while the span holds them
PLAN_FIELDS: Final = ("min_history_days", "n_train_cutoffs", "cutoff_step_days")


@dataclass(frozen=True)
class PlanChoice:
    """The planner's parameters for one horizon, whether models can train at all, and why."""

    span_days: int
    horizon_days: int
    min_history_days: int
    n_train_cutoffs: int  # the cut-offs that fit (0 when baselines only)
    step_days: int
    adapted: bool
    why: str

    @property
    def models(self) -> bool:
        return self.n_train_cutoffs > 0

    def to_dict(self) -> dict[str, Any]:
        return {"span_days": self.span_days, "horizon_days": self.horizon_days,
                "history_days": self.min_history_days, "n_train_cutoffs": self.n_train_cutoffs,
                "step_days": self.step_days, "models": self.models, "adapted": self.adapted, "why": self.why}


def models_minimum_days(horizon_days: int) -> int:
    """The shortest span on which a model trains: two H-day label windows and two weeks of history."""
    return 2 * horizon_days + HISTORY_FLOOR_DAYS


def fitting_cutoffs(room: int, history: int, n_train: int, step: int) -> int:
    """How many of ``n_train`` cut-offs ``step`` apart fit in ``room`` after ``history`` days (as plan_cutoffs places them)."""
    return 0 if room < history else min(n_train, 1 + (room - history) // step)


def choose_plan(span_days: int, horizon_days: int, history: int, n_train: int, step: int,
                fixed: Collection[str] = ()) -> PlanChoice:
    """The plan for ``span_days`` of data and an H-day horizon (module docstring: the order).

    ``history``, ``n_train`` and ``step`` are the config's values; ``fixed`` names those of
    ``PLAN_FIELDS`` the user set, which are kept as given. Raises ValueError naming the user's
    values when they do not fit a span that adapted values would.
    """
    room = span_days - 2 * horizon_days
    choice = _adapted(room, history, n_train, step, fixed)
    if choice is None and span_days >= models_minimum_days(horizon_days):
        named = ", ".join(f"{name} {value}" for name, value in zip(PLAN_FIELDS, (history, n_train, step)) if name in fixed)
        raise ValueError(f"transactions span {span_days} days; a {horizon_days}-day horizon with {named} (set in "
                         f"--config) needs at least {history + 2 * horizon_days} days: remove them to let the plan adapt")
    if choice is None:
        why = (f"span {span_days} days < {models_minimum_days(horizon_days)} (two {horizon_days}-day label windows + "
               f"{HISTORY_FLOOR_DAYS} days of history): no model can be judged out of time; baselines only")
        return PlanChoice(span_days, horizon_days, history, 0, step, True, why)
    h, n, s, stage = choice
    return PlanChoice(span_days, horizon_days, h, n, s, stage != "defaults",
                      _why(span_days, horizon_days, (history, n_train, step), (h, n, s), stage))


def _adapted(room: int, history: int, n_train: int, step: int,
             fixed: Collection[str]) -> tuple[int, int, int, str] | None:
    """(history, cut-offs, step, stage) of the first stage that fits ``room``; None when none does."""
    target = min(n_train, MIN_CUTOFFS)
    if fitting_cutoffs(room, history, n_train, step) >= target or set(PLAN_FIELDS) <= set(fixed):
        n = fitting_cutoffs(room, history, n_train, step)
        return (history, n, step, "defaults") if n else None
    floor = history if "min_history_days" in fixed else min(history, HISTORY_FLOOR_DAYS)
    shorter = room - (target - 1) * step
    if "min_history_days" not in fixed and shorter >= floor:
        return shorter, target, step, "history"
    if "cutoff_step_days" not in fixed and target > 1:
        weekly = STEP_FLOOR_DAYS * ((room - floor) // (STEP_FLOOR_DAYS * (target - 1)))
        if STEP_FLOOR_DAYS <= weekly < step:
            return floor, fitting_cutoffs(room, floor, target, weekly), weekly, "step"
    return (floor, 1, step, "one cut-off") if room >= floor else None


def _why(span: int, horizon: int, defaults: tuple[int, int, int], chosen: tuple[int, int, int], stage: str) -> str:
    h, n, s = chosen
    plan = (f"{n} training cut-offs {s} days apart" if n > 1 else "1 training cut-off") + f" after at least {h} days of history"
    if stage == "defaults":
        return f"defaults: span {span} days holds {plan} and two {horizon}-day label windows"
    h0, n0, s0 = defaults
    needed = h0 + (min(n0, MIN_CUTOFFS) - 1) * s0 + 2 * horizon
    shrunk = {"history": "history shortened", "step": "history at its floor, step shortened to whole weeks",
              "one cut-off": "history at its floor, one cut-off"}[stage]
    return (f"span {span} days < {needed} the defaults need ({h0} days of history + {min(n0, MIN_CUTOFFS)} cut-offs "
            f"{s0} days apart + two {horizon}-day windows); {shrunk}: {plan}")
