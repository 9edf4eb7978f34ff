"""How small an effect a campaign can detect, said before anything is sent.

For a difference in mean spend per member between treatment (n_t) and control (n_c), with the
spend's standard deviation sigma, a two-sided test at level alpha has power 1 - beta for effects of

    MDE = (z_{1-alpha/2} + z_{1-beta}) * sigma * sqrt(1/n_t + 1/n_c)

(normal approximation; e.g. Bloom 1995, "Minimum detectable effects"). sigma is estimated from the
listed members' own net spend in the window of the same length just before the campaign starts
(the snapshot's ``spend_<D>d``, rows with ts < start): the spread of what these members spend in
such a window, before any contact. Lapsed members spend little before a winback, so for them this
is a floor on the spread after contact; an effect measured with pre-period adjustment (CUPED) needs
less. Where the snapshot has no window of exactly D days the nearest longer one is scaled by D/W.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from scipy.stats import norm

ALPHA = 0.05
POWER = 0.8


@dataclass(frozen=True)
class MinimumDetectableEffect:
    """The answer, with how it was estimated; ``spend_per_member`` is None when it cannot be computed."""

    spend_per_member: float | None
    treatment: int
    control: int
    spend_sd: float | None
    alpha: float
    power: float
    estimated_from: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def minimum_detectable_effect(spend_sd: float, treatment: int, control: int,
                              alpha: float = ALPHA, power: float = POWER) -> float:
    """The MDE on mean spend per member (module docstring); needs both arms non-empty."""
    if treatment < 1 or control < 1:
        raise ValueError(f"arms: both need members to detect anything, got {treatment} treatment, {control} control")
    z = norm.ppf(1 - alpha / 2) + norm.ppf(power)
    return float(z * spend_sd * math.sqrt(1 / treatment + 1 / control))


def spend_window(window_days: int, available: tuple[int, ...]) -> tuple[int, float]:
    """The snapshot window W to read spend from for a D-day campaign window, and the factor D/W to scale it by."""
    longer = [days for days in sorted(available) if days >= window_days]
    chosen = longer[0] if longer else max(available)
    return chosen, window_days / chosen


def campaign_mde(past_spend: np.ndarray, treatment: int, control: int, source: str, scale: float = 1.0,
                 alpha: float = ALPHA, power: float = POWER) -> MinimumDetectableEffect:
    """The MDE for a list whose members spent ``past_spend`` (one value each) in the past window."""
    spend = np.asarray(past_spend, dtype=float)
    spend = spend[np.isfinite(spend)]
    how = f"sd of the listed members' {source}" + (f" x {scale:.3g}" if scale != 1.0 else "")
    if len(spend) < 2 or treatment < 1 or control < 1:
        return MinimumDetectableEffect(None, treatment, control, None, alpha, power,
                                       how + ": not computable (needs 2+ members with spend and both arms)")
    sd = float(np.std(spend, ddof=1)) * scale
    return MinimumDetectableEffect(minimum_detectable_effect(sd, treatment, control, alpha, power),
                                   treatment, control, sd, alpha, power, how)
