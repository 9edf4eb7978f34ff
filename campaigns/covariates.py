"""What was known about each member when a campaign started: the covariates of an observational estimate.

Purchase behaviour from the rows before ``as_of`` only (point in time): how recently, how often,
how much, for how long, and the spend of the last two windows of the campaign's length (the
trend a targeting rule most often follows). A member with no purchase before ``as_of`` has zero
spend and counts, and recency and tenure as long as the data go back.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd

from campaigns.outcomes import spend_between
from features.contract import AMOUNT, MEMBER_ID, TS

COVARIATES = ("recency_days", "purchases", "spend_before", "tenure_days", "spend_last_window", "spend_window_before")


def covariates_as_of(member_ids: pd.Series, transactions: pd.DataFrame, as_of: date, window_days: int) -> pd.DataFrame:
    """One row per member (in ``member_ids``' order) with ``COVARIATES``, from rows with ``ts < as_of``."""
    history = transactions[transactions[TS] < pd.Timestamp(as_of)]
    ids = member_ids.astype(str)
    grouped = history.groupby(history[MEMBER_ID].astype(str))
    first, last = grouped[TS].min().reindex(ids), grouped[TS].max().reindex(ids)
    start_of_data = history[TS].min() if not history.empty else pd.Timestamp(as_of)
    days_since = lambda stamps: ((pd.Timestamp(as_of) - stamps.fillna(start_of_data)).dt.days).to_numpy(float)  # noqa: E731
    window = timedelta(days=window_days)
    return pd.DataFrame({
        "recency_days": days_since(last),
        "purchases": grouped.size().reindex(ids).fillna(0).to_numpy(float),
        "spend_before": grouped[AMOUNT].sum().reindex(ids).fillna(0.0).to_numpy(float),
        "tenure_days": days_since(first),
        "spend_last_window": spend_between(transactions, member_ids, as_of - window, as_of),
        "spend_window_before": spend_between(transactions, member_ids, as_of - 2 * window, as_of - window),
    }, index=member_ids.index)


def standardised_mean_differences(frame: pd.DataFrame, treated: np.ndarray,
                                  control_weights: np.ndarray | None = None) -> dict[str, float]:
    """Per covariate, (mean of the treated - weighted mean of the controls) / pooled standard deviation.

    The pooled deviation is the unweighted one before weighting, so the two tables compare on one
    scale; |SMD| under 0.1 is the usual bar for "balanced".
    """
    weights = np.ones((~treated).sum()) if control_weights is None else control_weights
    differences = {}
    for name in frame.columns:
        values = frame[name].to_numpy(float)
        pooled = np.sqrt((values[treated].var(ddof=1) + values[~treated].var(ddof=1)) / 2)
        gap = values[treated].mean() - np.average(values[~treated], weights=weights)
        differences[name] = float(gap / pooled) if pooled > 0 else 0.0
    return differences
