"""RFM scores 1-5 by quintiles of recency, frequency and monetary value.

Quintile edges are fitted on one frame (a training window) and applied to others, so a score
never depends on the rows it scores.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd

RFM_COLUMNS: Final = {"r_score": "recency_days", "f_score": "orders_total", "m_score": "spend_total"}
QUANTILES: Final = (0.2, 0.4, 0.6, 0.8)


class RFMScorer:
    """Scikit-learn style: ``fit`` learns quintile edges, ``transform`` gives 1-5 scores.

    Higher is better on every axis: a recent purchase gives r_score 5.
    """

    def fit(self, features: pd.DataFrame) -> RFMScorer:
        self.edges_ = {
            score: np.quantile(features[column].to_numpy(dtype=float), QUANTILES)
            for score, column in RFM_COLUMNS.items()
        }
        return self

    def transform(self, features: pd.DataFrame) -> pd.DataFrame:
        scores = {}
        for score, column in RFM_COLUMNS.items():
            # number of edges strictly below the value: x <= q20 is the bottom quintile, so the many
            # tied one-time buyers share f_score 1 instead of being lifted into the middle
            rank = np.searchsorted(self.edges_[score], features[column].to_numpy(dtype=float), side="left")
            scores[score] = (5 - rank) if score == "r_score" else (1 + rank)
        return pd.DataFrame(scores, index=features.index).astype("int64")
