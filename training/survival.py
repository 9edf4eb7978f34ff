"""Next-purchase survival model, pure: AFT label bounds, C-index, metrics.

The next-purchase task is an XGBoost ``survival:aft`` booster on days from the cut-off to a
member's next purchase, right-censored at the end of the observation window. Its AFT
probabilities and median (``log T = margin + sigma * Z``) are ``models.timing``, shared with serving.
"""

from __future__ import annotations

import numpy as np

from training.evaluate import binary_metrics, reliability_curve  # noqa: F401 - reliability_curve: its old home
from training.plots import reliability_figure  # noqa: F401 - its old home

HORIZON_DAYS = 30.0  # the reminder horizon behind the *_30d metrics


def _days(name: str, values: np.ndarray | float, n: int | None = None, allow_nan: bool = False) -> np.ndarray:
    """``values`` as a 1-D float array of length ``n``, refusing negative, infinite or unexpected NaN days."""
    days = np.asarray(values, dtype=float)
    if n is not None and days.ndim == 0:
        days = np.full(n, float(days))
    if days.ndim != 1 or (n is not None and len(days) != n):
        raise ValueError(f"{name} must be one value per row ({n} rows); got shape {days.shape}")
    if not allow_nan and np.isnan(days).any():
        raise ValueError(f"{name} has NaN; censored rows carry their censoring time here")
    if (days[~np.isnan(days)] < 0).any() or np.isinf(days).any():
        raise ValueError(f"{name} must be finite and non-negative days")
    return days


def aft_bounds(days_to_next: np.ndarray, censor_days: np.ndarray | float,
               floor_days: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """XGBoost AFT label bounds: ``[days, days]`` when a purchase was seen, ``[censor, +inf)`` when not.

    A row with NaN ``days_to_next`` saw no purchase in its window, so all we know is that the next
    purchase comes after ``censor_days``. AFT works on ``log T``, so a same-day purchase (0 days)
    would be ``-inf``: observed times are floored at ``floor_days`` (half a day by default, i.e.
    "sooner than a day"), which moves no purchase across a whole-day boundary.
    """
    days = _days("days_to_next", days_to_next, allow_nan=True)
    censor = _days("censor_days", censor_days, n=len(days))
    if floor_days <= 0:
        raise ValueError(f"floor_days must be > 0 (AFT takes log of the time); got {floor_days}")
    if (censor <= 0).any():
        raise ValueError("censor_days must be > 0: a row needs an observation window")
    observed = ~np.isnan(days)
    if (days[observed] > censor[observed]).any():
        raise ValueError("days_to_next exceeds censor_days: a purchase was seen after the window closed")
    lower = np.where(observed, np.maximum(days, floor_days), censor)
    upper = np.where(observed, lower, np.inf)
    return lower, upper


def _counts_above(key: np.ndarray, score: np.ndarray, query: np.ndarray) -> tuple[float, float, float]:
    """Over rows ``i`` in ``query``, totals of ``#{j: key_j > key_i}`` and of those with higher / equal score.

    Splits ``key`` bit by bit: a pair with ``key_j > key_i`` is counted once, at the highest bit
    where the two keys differ (j has 1, i has 0, same prefix). Each bit level is one sort plus
    searchsorted, so the whole count is O(n log^2 n) in numpy with no Python loop over rows.
    """
    width = int(score.max()) + 1
    pairs = higher = tied = 0.0
    for level in range(int(key.max()).bit_length()):
        upper = ((key >> level) & 1) == 1
        table = np.sort((key[upper] >> (level + 1)) * width + score[upper])
        rows = query[((key[query] >> level) & 1) == 0]
        base = (key[rows] >> (level + 1)) * width
        start, end = np.searchsorted(table, base, "left"), np.searchsorted(table, base + width - 1, "right")
        at_or_below = np.searchsorted(table, base + score[rows], "right")
        below = np.searchsorted(table, base + score[rows], "left")
        pairs += float((end - start).sum())
        higher += float((end - at_or_below).sum())
        tied += float((at_or_below - below).sum())
    return pairs, higher, tied


def concordance_index(days_to_next: np.ndarray, observed: np.ndarray, predicted_days: np.ndarray) -> float:
    """Harrell's C: among comparable pairs, the share where the later purchase had the longer prediction.

    ``days_to_next`` holds the event time for observed rows and the censoring time otherwise.
    A pair is comparable when the earlier time is an observed purchase; at equal times an observed
    row is compared with a censored one (the censored member was still waiting) but two observed
    rows are not (lifelines' convention). Ties in ``predicted_days`` count 0.5. NaN when no pair is
    comparable.
    """
    days = _days("days_to_next", days_to_next)
    observed = np.asarray(observed)
    if observed.shape != days.shape or observed.dtype != bool:
        raise ValueError(f"observed must be a boolean array of {len(days)} rows; got {observed.dtype} {observed.shape}")
    predicted = np.asarray(predicted_days, dtype=float)
    if predicted.shape != days.shape or not np.isfinite(predicted).all():
        raise ValueError(f"predicted_days must be {len(days)} finite values; got shape {predicted.shape}")
    if len(days) == 0:
        return float("nan")
    # key_j > key_i  <=>  j outlasts observed row i: a later time, or the same time but censored
    key = 2 * np.unique(days, return_inverse=True)[1].astype(np.int64) + (~observed)
    score = np.unique(predicted, return_inverse=True)[1].astype(np.int64)
    pairs, higher, tied = _counts_above(key, score, np.flatnonzero(observed))
    return (higher + 0.5 * tied) / pairs if pairs else float("nan")


def survival_metrics(days_to_next: np.ndarray, censor_days: np.ndarray | float,
                     predicted_days: np.ndarray, p_within_30: np.ndarray) -> dict[str, float]:
    """C-index of the predicted days, and ROC AUC, Brier score, ECE and base rate of P(purchase within 30 days).

    The 30-day event is only known for rows observed at least 30 days, so any shorter window is
    refused rather than silently counted as "no purchase". AUC is NaN when only one class occurs.
    """
    days = _days("days_to_next", days_to_next, allow_nan=True)
    censor = _days("censor_days", censor_days, n=len(days))
    aft_bounds(days, censor)  # the same consistency checks as training labels
    if (censor < HORIZON_DAYS).any():
        raise ValueError(f"censor_days must be >= {HORIZON_DAYS:g} for every row: a shorter window "
                         f"cannot tell whether a purchase came within {HORIZON_DAYS:g} days")
    probability = np.asarray(p_within_30, dtype=float)
    if probability.shape != days.shape:
        raise ValueError(f"p_within_30 must have {len(days)} rows; got shape {probability.shape}")
    observed = ~np.isnan(days)
    within = observed & (np.nan_to_num(days, nan=np.inf) <= HORIZON_DAYS)
    binary = binary_metrics(within.astype(int), probability)
    return {
        "concordance": concordance_index(np.where(observed, days, censor), observed, predicted_days),
        "roc_auc_30d": binary["roc_auc"],
        "brier_30d": binary["brier"],
        "ece_30d": binary["ece"],
        "base_rate_30d": binary["base_rate"],
        "n": float(len(days)),
    }
