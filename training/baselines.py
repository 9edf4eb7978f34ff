"""Honest baselines for churn, with the same interface as the model: fit on training rows, predict P.

Each rule baseline turns a hand-made risk score into a probability with an isotonic map fitted on
the training rows only, so Brier scores compare like with like. BG/NBD, the classical peer, is a
probability model already: its P(no purchase in H) is used as is (``bgnbd_no_purchase``).
"""

from __future__ import annotations

from typing import Self

import numpy as np
import pandas as pd
from sklearn.isotonic import IsotonicRegression

from features.lifetime import LifetimeModel
from features.rfm import RFMScorer

BGNBD = "bgnbd"  # the name of BG/NBD's scorer in every task's gate


class CalibratedScore:
    """Base: subclasses define ``_fit_score`` and ``_score`` (higher = more likely to churn)."""

    name = "baseline"
    increasing: bool | str = True  # the score's direction; "auto" lets the training rows decide

    def fit(self, features: pd.DataFrame, churned: np.ndarray) -> Self:
        self._fit_score(features)
        self.calibrator_ = IsotonicRegression(increasing=self.increasing, out_of_bounds="clip", y_min=0.0, y_max=1.0)
        self.calibrator_.fit(self._score(features), churned)
        return self

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.calibrator_.predict(self._score(features)), dtype=float)

    def _fit_score(self, features: pd.DataFrame) -> None:
        raise NotImplementedError

    def _score(self, features: pd.DataFrame) -> np.ndarray:
        raise NotImplementedError


class RFMRule(CalibratedScore):
    """Classic RFM: the lower R + F + M (quintile scores 1-5), the higher the churn risk."""

    name = "rfm_rule"

    def _fit_score(self, features: pd.DataFrame) -> None:
        self.scorer_ = RFMScorer().fit(features)

    def _score(self, features: pd.DataFrame) -> np.ndarray:
        return -self.scorer_.transform(features).sum(axis=1).to_numpy(dtype=float)


class RFMTotal(CalibratedScore):
    """R + F + M with its direction taken from the training rows: the RFM rule for a target that
    good customers may be more or less likely to hit, such as spend-up (upsell without categories)."""

    name = "rfm_rule"
    increasing = "auto"

    def _fit_score(self, features: pd.DataFrame) -> None:
        self.scorer_ = RFMScorer().fit(features)

    def _score(self, features: pd.DataFrame) -> np.ndarray:
        return self.scorer_.transform(features).sum(axis=1).to_numpy(dtype=float)


class SpendTrend(CalibratedScore):
    """The 90-day spend trend, direction from the training rows: a spend-up rule (upsell without categories)."""

    name = "spend_trend"
    increasing = "auto"

    def _fit_score(self, features: pd.DataFrame) -> None:
        pass

    def _score(self, features: pd.DataFrame) -> np.ndarray:
        return features["spend_trend_90d"].fillna(0.0).to_numpy(dtype=float)


class RecencyOverGap(CalibratedScore):
    """Days since the last purchase over the member's usual gap between purchases.

    One-time buyers have no gap of their own; they get the median gap of repeat buyers in the
    training rows.
    """

    name = "recency_over_gap"

    def _fit_score(self, features: pd.DataFrame) -> None:
        gaps = features["gap_mean_days"].dropna()
        self.typical_gap_ = float(gaps.median()) if len(gaps) else 1.0

    def _score(self, features: pd.DataFrame) -> np.ndarray:
        return self.ratio(features)

    def ratio(self, features: pd.DataFrame) -> np.ndarray:
        """The raw rule: recency over the member's usual gap (the fitted typical gap for one-time buyers)."""
        gap = features["gap_mean_days"].fillna(self.typical_gap_).clip(lower=1.0)
        return (features["recency_days"] / gap).to_numpy(dtype=float)


def bgnbd_no_purchase(lifetime: LifetimeModel, member_ids: pd.Series, horizon_days: float) -> np.ndarray:
    """BG/NBD's P(no purchase in the next ``horizon_days``) = 1 - P(purchase within them), per member.

    ``lifetime`` is fitted on the history before the evaluation cut-off (as next purchase's BG/NBD
    baseline). A member it has no history for (no purchase with positive net before the cut-off)
    gets the median probability.
    """
    within = pd.Series(lifetime.p_purchase_within(float(horizon_days)), index=lifetime.summary.index.astype(str))
    within = within.reindex(member_ids.astype(str))
    return 1.0 - within.fillna(within.median()).to_numpy(dtype=float)


BASELINES = (RFMRule, RecencyOverGap)  # churn's rules; churn's gate adds BG/NBD (bgnbd_no_purchase) when it is fitted
SPEND_UP_BASELINES = (RFMTotal, SpendTrend)  # upsell's without a category column
