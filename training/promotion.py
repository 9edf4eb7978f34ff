"""The champion gate: a boolean answer and a reason, on metrics measured on the same rows."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Decision:
    promote: bool
    reason: str


def judge(
    challenger: Mapping[str, float],
    baselines: Mapping[str, Mapping[str, float]],
    champion: Mapping[str, float] | None,
    metric: str = "roc_auc",
) -> Decision:
    """Promote only if the challenger beats every baseline and the champion (higher is better)."""
    score = challenger[metric]
    if math.isnan(score):
        return Decision(False, f"not promoted: challenger {metric} is undefined on the evaluation rows")
    for name, metrics in baselines.items():
        if not score > metrics[metric]:
            return Decision(False, f"not promoted: challenger {metric} {score:.4f} <= baseline {name} {metrics[metric]:.4f}")
    if champion is not None and not score > champion[metric]:
        return Decision(False, f"not promoted: challenger {metric} {score:.4f} <= champion {champion[metric]:.4f}")
    beaten = ", ".join(f"{name} {m[metric]:.4f}" for name, m in baselines.items())
    versus = f"; champion {champion[metric]:.4f}" if champion is not None else "; no champion yet"
    return Decision(True, f"promoted: {metric} {score:.4f} beats {beaten}{versus}")


def refuse_incomparable(champion_version: str, missing_features: list[str]) -> Decision:
    """A champion that cannot be scored on the new rows cannot be beaten on them: refuse."""
    return Decision(False, f"not promoted: champion v{champion_version} needs features absent from this data "
                           f"({', '.join(missing_features)}), so the two cannot be compared on the same rows")
