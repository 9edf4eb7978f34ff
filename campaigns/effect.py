"""Did a randomised campaign pay? Incremental spend per member, revenue, margin and ROI, with intervals.

The control arm is what the contacted members would have bought anyway (natural growth included),
so the difference, adjusted for each member's spend in the window before (``campaigns.estimate``),
is what the campaign brought. ROI = (incremental margin - cost) / cost, a linear map of the effect,
so its interval is the effect's interval mapped. Every figure comes with its interval, and none at
all when the design cannot carry one: too few members in an arm, or a window not over yet.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any, Final

import numpy as np
import pandas as pd

from campaigns.estimate import LEVEL, Interval, treatment_effect
from campaigns.outcomes import Window, member_outcomes
from campaigns.record import TREATMENT
from features.contract import MEMBER_ID, TS

MIN_PER_ARM: Final = 30  # below this in either arm, no effect is reported (its interval would mislead)
BREAKDOWNS: Final = {"lifecycle_stage": "lifecycle_stage", "tier": "tier", "new_vs_existing": "is_new"}


def measure(members: pd.DataFrame, transactions: pd.DataFrame, start: date, window_days: int,
            cost_per_contact: float, margin_rate: float, redemptions: pd.DataFrame | None = None) -> dict[str, Any]:
    """The randomised campaign's effect as JSON-ready values; ``verdict`` says whether it is identified."""
    window = Window(start, window_days)
    frame = member_outcomes(members, transactions, window)
    treated = frame["arm"].eq(TREATMENT).to_numpy()
    answer: dict[str, Any] = {"design": "randomised", "window": {"start": start.isoformat(), "days": window_days},
                              "level": LEVEL, **arm_summary(frame, treated)}
    if redemptions is not None:
        answer["redemption_rate"] = redemption_rates(frame, treated, redemptions, window)
    reason = not_identified(treated, window, transactions)
    if reason:
        return {**answer, "verdict": "not identified", "reason": reason, "incremental_spend_per_member": None,
                "incremental_revenue": None, "incremental_margin": None, "roi": None, "breakdown": {}}
    per_member = treatment_effect(frame["spend"].to_numpy(float), treated, frame["pre_spend"].to_numpy(float))
    values = valued(per_member, int(treated.sum()), cost_per_contact, margin_rate)
    return {**answer, **values, "breakdown": breakdown(frame, treated, cost_per_contact, margin_rate),
            "verdict": "identified", "summary": summary(values, window_days)}


def arm_summary(frame: pd.DataFrame, treated: np.ndarray) -> dict[str, Any]:
    """Members, buyers and spend in the window per arm (what was observed, before any model)."""
    arms = {}
    for name, mask in (("treatment", treated), ("control", ~treated)):
        spend = frame.loc[mask, "spend"]
        arms[name] = {"members": int(mask.sum()), "buyers": int(frame.loc[mask, "bought"].sum()),
                      "spend": round(float(spend.sum()), 2),
                      "spend_per_member": round(float(spend.mean()), 4) if mask.any() else None}
    return {"members": {arm: v["members"] for arm, v in arms.items()}, "arms": arms}


def not_identified(treated: np.ndarray, window: Window, transactions: pd.DataFrame,
                   groups: tuple[str, str] = ("treated", "in the holdout")) -> str | None:
    """Why no effect can be reported, or None; ``groups`` names the two arms in the sentence."""
    smallest = int(min(treated.sum(), (~treated).sum()))
    if smallest < MIN_PER_ARM:
        return (f"too few members: {int(treated.sum())} {groups[0]} and {int((~treated).sum())} {groups[1]}; "
                f"an effect needs at least {MIN_PER_ARM} in each arm{_short_history(window, transactions)}")
    if not window.is_over(transactions):
        last = transactions[TS].max()
        seen = "no transactions" if pd.isna(last) else f"the data end on {pd.Timestamp(last).date()}"
        return f"window not over: it runs to {window.end.isoformat()} (exclusive) and {seen}"
    return None


def _short_history(window: Window, transactions: pd.DataFrame) -> str:
    """A hint when the data begin less than one window before the start (few members can be compared)."""
    first = transactions[TS].min()
    if pd.isna(first):
        return ""
    days = (pd.Timestamp(window.start) - pd.Timestamp(first)).days
    if days >= window.days:
        return ""
    if days <= 0:
        return " (no transactions before the start: members are compared only by what they bought before it)"
    return f" (the data begin only {days} days before the start)"


def valued(per_member: Interval, treated_members: int, cost_per_contact: float, margin_rate: float) -> dict[str, Any]:
    """Per member, in total, in margin and as ROI: each a linear map of the one estimated effect."""
    if not 0 < margin_rate <= 1:
        raise ValueError(f"margin_rate: expected a share in (0, 1], got {margin_rate}")
    if cost_per_contact < 0:
        raise ValueError(f"cost_per_contact: expected 0 or more, got {cost_per_contact}")
    revenue = per_member.scaled(treated_members)
    margin = revenue.scaled(margin_rate)
    cost = cost_per_contact * treated_members
    roi = margin.scaled(1 / cost, shift=-1.0).as_dict() if cost > 0 else None
    return {"incremental_spend_per_member": per_member.as_dict(), "incremental_revenue": revenue.as_dict(2),
            "incremental_margin": margin.as_dict(2), "cost": round(cost, 2), "roi": roi,
            **({} if cost > 0 else {"roi_reason": "no cost per contact given"})}


def breakdown(frame: pd.DataFrame, treated: np.ndarray, cost_per_contact: float,
              margin_rate: float) -> dict[str, dict[str, Any]]:
    """The same estimate within each lifecycle stage, tier, and new versus existing members."""
    cells: dict[str, dict[str, Any]] = {}
    for name, column in BREAKDOWNS.items():
        if column not in frame.columns or frame[column].isna().all():
            continue
        labels = _labels(frame[column], column)
        cells[name] = {str(label): _cell(frame[mask], treated[mask], cost_per_contact, margin_rate)
                       for label, mask in ((label, (labels == label).to_numpy()) for label in sorted(labels.unique()))}
    return cells


def _labels(values: pd.Series, column: str) -> pd.Series:
    if column == "is_new":
        return values.map({True: "new", False: "existing"}).astype(object).fillna("unknown")
    return values.astype(object).fillna("unknown").astype(str)


def _cell(rows: pd.DataFrame, treated: np.ndarray, cost_per_contact: float, margin_rate: float) -> dict[str, Any]:
    counts = {"treatment": int(treated.sum()), "control": int((~treated).sum())}
    if min(counts.values()) < MIN_PER_ARM:
        return {"members": counts, "verdict": "not identified",
                "reason": f"too few members: an effect needs at least {MIN_PER_ARM} in each arm"}
    effect = treatment_effect(rows["spend"].to_numpy(float), treated, rows["pre_spend"].to_numpy(float))
    return {"members": counts, "verdict": "identified", **valued(effect, counts["treatment"], cost_per_contact,
                                                                margin_rate)}


def redemption_rates(frame: pd.DataFrame, treated: np.ndarray, redemptions: pd.DataFrame,
                     window: Window) -> dict[str, float | None]:
    """Share of each arm's members who redeemed (in the window when redemptions carry a ``ts``)."""
    rows = redemptions
    if TS in rows.columns:
        rows = rows[(rows[TS] >= pd.Timestamp(window.start)) & (rows[TS] < pd.Timestamp(window.end))]
    redeemed = frame[MEMBER_ID].astype(str).isin(set(rows[MEMBER_ID].astype(str))).to_numpy()
    return {arm: (round(float(redeemed[mask].mean()), 4) if mask.any() else None)
            for arm, mask in (("treatment", treated), ("control", ~treated))}


def summary(values: Mapping[str, Any], window_days: int) -> str:
    """One plain sentence for a membership manager."""
    effect = values["incremental_spend_per_member"]
    level = f"{LEVEL:.0%} interval"
    said = (f"each contacted member spent {effect['estimate']:,.2f} more than the holdout over {window_days} days "
            f"({level} {effect['ci_low']:,.2f} to {effect['ci_high']:,.2f})")
    if effect["ci_low"] <= 0 <= effect["ci_high"]:
        said = f"no difference from the holdout can be told apart from zero: {said}"
    roi = values["roi"]
    if roi is not None:
        said += f"; ROI {roi['estimate']:.0%} ({roi['ci_low']:.0%} to {roi['ci_high']:.0%})"
    return said[0].upper() + said[1:] + "."
