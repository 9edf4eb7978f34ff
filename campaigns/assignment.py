"""Who is held out: a deterministic, stratified random split of a campaign's list into treatment and control.

Each member's place in the draw is ``HMAC-SHA256(key=campaign id, message=member id)``: the same
campaign and member always land in the same arm (the split can be redone and audited from the
record), a new campaign draws anew, and nobody can steer a member into an arm before the
campaign's random id exists. The list is cut into score deciles (decile 1 = the best-scored
tenth) and within each decile exactly ``round(share x n)`` members (halves rounded up) with the
lowest hashes form the control arm, so both arms have the same score mix by construction.
"""

from __future__ import annotations

import hashlib
import hmac
import math

import numpy as np
import pandas as pd

from campaigns.record import CONTROL, TREATMENT

DECILES = 10


def member_hash(campaign_id: str, member_id: str) -> str:
    """The member's place in the campaign's draw (hex HMAC-SHA256 keyed by the campaign id)."""
    return hmac.new(campaign_id.encode("utf-8"), member_id.encode("utf-8"), hashlib.sha256).hexdigest()


def score_deciles(scores: pd.Series) -> pd.Series:
    """1..10 by position in the list ordered best first (ties by the order given): decile sizes differ by at most one."""
    order = np.argsort(-scores.to_numpy(float), kind="stable")
    position = np.empty(len(scores), dtype=np.int64)
    position[order] = np.arange(len(scores))
    return pd.Series(1 + (position * DECILES) // max(len(scores), 1), index=scores.index, dtype="int64")


def controls_in(size: int, share: float) -> int:
    """round(share x size), a half rounded up (Python's round would round half to even)."""
    return math.floor(share * size + 0.5)


def assign_arms(campaign_id: str, member_ids: pd.Series, deciles: pd.Series, share: float) -> pd.Series:
    """``treatment`` or ``control`` per member: per decile the ``controls_in`` lowest hashes are control."""
    if not 0 < share < 1:
        raise ValueError(f"holdout_share: expected a share between 0 and 1 (exclusive), got {share}")
    if member_ids.duplicated().any():
        raise ValueError("member_id: a member is listed twice")
    hashes = pd.Series([member_hash(campaign_id, str(m)) for m in member_ids], index=member_ids.index)
    arms = pd.Series(TREATMENT, index=member_ids.index, dtype=object)
    for _, group in hashes.groupby(deciles, sort=True):
        drawn = group.sort_values(kind="stable").index[: controls_in(len(group), share)]
        arms.loc[drawn] = CONTROL
    return arms
