"""Cross-sell, the category part of the upsell model: which category new to a member to offer.

Input is a long category history: per (cutoff, member_id, category) the net ``spend_before`` the
cut-off and whether the member ``bought_in_horizon`` [cutoff, cutoff + H). A member owns a category
when spend_before > 0; every other category is new, and only new ones are ever offered. A "member"
is one (cutoff, member_id) pair. The vocabulary and all rates are fitted on training rows only
(DESIGN.md, point-in-time rules) and applied unchanged to any other rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import numpy as np
import pandas as pd
from scipy import sparse
from scipy.special import comb
from sklearn.base import BaseEstimator
from sklearn.utils.validation import check_is_fitted

from features.categories import share_column
from models.offers import checked_matrices
from training.evaluate import _top_fraction_total

CUTOFF: Final = "cutoff"
MEMBER_ID: Final = "member_id"
CATEGORY: Final = "category"
SPEND_BEFORE: Final = "spend_before"
BOUGHT_IN_HORIZON: Final = "bought_in_horizon"
HISTORY_COLUMNS: Final = (CUTOFF, MEMBER_ID, CATEGORY, SPEND_BEFORE, BOUGHT_IN_HORIZON)
MEMBER_KEY: Final = [CUTOFF, MEMBER_ID]


def history_members(history: pd.DataFrame) -> pd.MultiIndex:
    """Every (cutoff, member_id) in the history, sorted: the row order of the other functions."""
    rows = _clean(history, horizon=False)
    return pd.MultiIndex.from_frame(rows[MEMBER_KEY].drop_duplicates().sort_values(MEMBER_KEY))


def frequent_categories(history: pd.DataFrame, max_categories: int = 20) -> list[str]:
    """The ``max_categories`` categories with the most distinct owning members, ties by name.

    Fit on training rows only. A category nobody owns is left out: its share feature would be
    all zero and no owner could carry a co-purchase signal for it.
    """
    if max_categories < 1:
        raise ValueError(f"max_categories must be >= 1, got {max_categories}")
    rows = _clean(history, horizon=False)
    owners = rows.loc[rows[SPEND_BEFORE] > 0].groupby(CATEGORY)[MEMBER_ID].nunique()
    ranked = owners.reset_index(name="owners").sort_values(["owners", CATEGORY], ascending=[False, True])
    return [str(category) for category in ranked[CATEGORY].head(max_categories)]


def ownership_matrix(history: pd.DataFrame, members: pd.Index, vocabulary: Sequence[str]) -> pd.DataFrame:
    """Share of each member's positive pre-cut-off spend in each vocabulary category.

    The denominator is spend over all categories, not only the vocabulary, so shares sum to less
    than 1 for members who also buy outside it. Net-negative categories (returns) count as 0.
    Columns ``share_<slug>`` in vocabulary order, one per category even where two names share a
    slug ("A|B" and "A,B"), so no category name is refused; members without rows get all-zero shares.
    """
    columns = [share_column(category) for category in vocabulary]
    rows = _clean(history, horizon=False)
    index = _member_index(members)
    spend = rows[SPEND_BEFORE].clip(lower=0)
    total = spend.groupby([rows[CUTOFF], rows[MEMBER_ID]]).sum().reindex(index, fill_value=0.0).to_numpy()
    in_vocabulary = _wide(rows.assign(**{SPEND_BEFORE: spend}), index, vocabulary, SPEND_BEFORE)
    shares = np.divide(in_vocabulary, total[:, None], out=np.zeros_like(in_vocabulary), where=total[:, None] > 0)
    return pd.DataFrame(shares, index=index, columns=columns)


def new_category_targets(history: pd.DataFrame, members: pd.Index, vocabulary: Sequence[str]) -> np.ndarray:
    """0/1 per member and vocabulary category: bought in the horizon and new to the member."""
    rows, index = _clean(history), _member_index(members)
    owned, bought = (_wide(rows, index, vocabulary, column) > 0 for column in (SPEND_BEFORE, BOUGHT_IN_HORIZON))
    return (bought & ~owned).astype(int)


def new_category_any(history: pd.DataFrame, members: pd.Index) -> np.ndarray:
    """0/1 per member: bought any new category in the horizon, inside the vocabulary or not."""
    rows = _clean(history)
    adopted = rows[BOUGHT_IN_HORIZON] & ~(rows[SPEND_BEFORE] > 0)
    flag = adopted.groupby([rows[CUTOFF], rows[MEMBER_ID]]).any()
    return flag.reindex(_member_index(members), fill_value=False).to_numpy(dtype=int)


class _NewCategoryBaseline(BaseEstimator):
    """Base: subclasses define ``fit`` and ``_rates`` (propensity of every vocabulary category)."""

    def score(self, history: pd.DataFrame, members: pd.Index, vocabulary: Sequence[str]) -> np.ndarray:
        """Propensity to adopt each vocabulary category; -inf where owned, so it is never offered."""
        check_is_fitted(self)
        owned = _wide(_clean(history, horizon=False), _member_index(members), vocabulary, SPEND_BEFORE) > 0
        return np.where(owned, -np.inf, self._rates(owned, list(vocabulary)))

    def probability_any_new(self, history: pd.DataFrame, members: pd.Index, vocabulary: Sequence[str]) -> np.ndarray:
        """P(adopts at least one new vocabulary category) = 1 - prod(1 - score), as if independent."""
        scores = self.score(history, members, vocabulary)
        rates = np.clip(np.where(np.isfinite(scores), scores, 0.0), 0.0, 1.0)
        return np.clip(1.0 - np.prod(1.0 - rates, axis=1), 0.0, 1.0)

    def _rates(self, owned: np.ndarray, vocabulary: list[str]) -> np.ndarray:
        raise NotImplementedError


class PopularityBaseline(_NewCategoryBaseline):
    """Every member gets each category's adoption rate: the share of training members for whom
    it was new who bought it in the horizon. Categories unseen in training get rate 0."""

    def fit(self, train_history: pd.DataFrame) -> PopularityBaseline:
        """Count, per category, members for whom it was new and those of them who adopted it."""
        categories, owned, adopted = _adoption_counts(_clean(train_history))
        at_risk = owned.shape[0] - np.asarray(owned.sum(axis=0)).ravel()
        adopters = np.asarray(adopted.sum(axis=0)).ravel()
        rate = np.divide(adopters, at_risk, out=np.zeros(len(at_risk)), where=at_risk > 0)
        self.adoption_rate_ = pd.Series(rate, index=categories, name="adoption_rate")
        return self

    def _rates(self, owned: np.ndarray, vocabulary: list[str]) -> np.ndarray:
        rate = self.adoption_rate_.reindex(vocabulary, fill_value=0.0).to_numpy()
        return np.broadcast_to(rate, owned.shape)


class CoPurchaseBaseline(_NewCategoryBaseline):
    """P(adopt c | owns o), and a member's score for c is the max over the categories o they own.

    Rates are smoothed toward the popularity rate p_c with ``smoothing`` pseudo-members:
    rate(o, c) = (adopters(o, c) + smoothing * p_c) / (at_risk(o, c) + smoothing), where
    at_risk(o, c) counts training members owning o for whom c was new. Rare pairs thus stay near
    p_c, and a pair never seen (or a member owning nothing in the vocabulary) gets p_c exactly.
    """

    def __init__(self, smoothing: float = 5.0) -> None:
        self.smoothing = smoothing

    def fit(self, train_history: pd.DataFrame) -> CoPurchaseBaseline:
        """Count every (owned o, new c) pair with sparse products, so many categories stay cheap."""
        if self.smoothing < 0:
            raise ValueError(f"smoothing must be >= 0, got {self.smoothing}")
        rows = _clean(train_history)
        self.popularity_ = PopularityBaseline().fit(rows)
        categories, owned, adopted = _adoption_counts(rows)
        owners = np.asarray(owned.sum(axis=0)).ravel()
        # Owners of o for whom c is new = owners of o - owners of both.
        at_risk = owners[:, None] - (owned.T @ owned).toarray()
        adopters = (owned.T @ adopted).toarray()
        prior = self.popularity_.adoption_rate_.to_numpy()[None, :]
        denominator = at_risk + self.smoothing
        rate = np.divide(adopters + self.smoothing * prior, denominator,
                         out=np.broadcast_to(prior, at_risk.shape).copy(), where=denominator > 0)
        self.pair_rate_ = pd.DataFrame(rate, index=categories, columns=categories)
        return self

    def _rates(self, owned: np.ndarray, vocabulary: list[str]) -> np.ndarray:
        prior = self.popularity_.adoption_rate_.reindex(vocabulary, fill_value=0.0).to_numpy()
        pair = self.pair_rate_.reindex(index=vocabulary, columns=vocabulary).to_numpy()
        pair = np.where(np.isnan(pair), prior[None, :], pair)
        best = np.full(owned.shape, -np.inf)
        for o in range(len(vocabulary)):  # a loop over k, not members: memory stays n x k
            best = np.where(owned[:, [o]], np.maximum(best, pair[o]), best)
        return np.where(np.isfinite(best), best, prior[None, :])


def hit_rate_at_k(scores: np.ndarray, targets: np.ndarray, k: int = 3) -> float:
    """Share of members who adopted a new category for whom one of the top ``k`` offers was adopted.

    Only members with at least one target count. -inf scores are never offered (a member with
    fewer than ``k`` finite scores gets fewer offers). Scores tied at the k-th place share the
    remaining offers at random, and the expected hit counts, so column order never matters.
    NaN when no member adopted anything.
    """
    scores, targets = checked_matrices(scores, targets)
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    scores, targets = scores[targets.any(axis=1)], targets[targets.any(axis=1)]
    if len(scores) == 0:
        return float("nan")
    offerable = np.isfinite(scores)
    kth = np.sort(scores, axis=1)[:, ::-1][:, min(k, scores.shape[1]) - 1]
    above = (scores > kth[:, None]) & offerable
    tied = (scores == kth[:, None]) & offerable
    n_tied, n_tied_hits = tied.sum(axis=1), (tied & targets).sum(axis=1)
    places = np.minimum(k - above.sum(axis=1), n_tied)  # k beyond the offerable: all tied are offered
    # P(no adopted category among `places` drawn from the tied group) = C(t - h, r) / C(t, r).
    draws = comb(n_tied, places)
    miss_in_ties = np.divide(comb(n_tied - n_tied_hits, places), draws, out=np.ones(len(scores)), where=draws > 0)
    hit = np.where((above & targets).any(axis=1), 1.0, 1.0 - miss_in_ties)
    return float(hit.mean())


def precision_at_fraction(y: np.ndarray, score: np.ndarray, fraction: float = 0.1) -> float:
    """Share of positives among the top ``fraction`` of rows by score (at least one row).

    Scores tied at the boundary share the remaining places pro rata, as in ``evaluate.lift_at``.
    """
    y, score = np.asarray(y, dtype=float), np.asarray(score, dtype=float)
    if y.ndim != 1 or y.shape != score.shape or len(y) == 0:
        raise ValueError(f"y and score must be 1-D of one non-zero length, got {y.shape} and {score.shape}")
    if not np.isin(y, (0.0, 1.0)).all() or not np.isfinite(score).all():
        raise ValueError("y must be 0/1 and score finite")
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction}")
    positives, n_top = _top_fraction_total(y, score, fraction)
    return positives / n_top


def _adoption_counts(rows: pd.DataFrame) -> tuple[pd.Index, sparse.csr_matrix, sparse.csr_matrix]:
    """Categories and sparse member x category indicators: owns it; adopted it (new and bought)."""
    member = rows.groupby(MEMBER_KEY, sort=False).ngroup().to_numpy()
    codes, categories = pd.factorize(rows[CATEGORY], sort=True)
    owned_row = (rows[SPEND_BEFORE] > 0).to_numpy()
    adopted_row = rows[BOUGHT_IN_HORIZON].to_numpy() & ~owned_row
    shape = (int(member.max()) + 1, len(categories))

    def indicator(flags: np.ndarray) -> sparse.csr_matrix:
        return sparse.csr_matrix((np.ones(flags.sum()), (member[flags], codes[flags])), shape=shape)

    return pd.Index(categories, name=CATEGORY), indicator(owned_row), indicator(adopted_row)


def _clean(history: pd.DataFrame, horizon: bool = True) -> pd.DataFrame:
    """Validated rows, duplicates summed; ``horizon=False`` for scoring, when the horizon is ahead."""
    required = list(HISTORY_COLUMNS if horizon else HISTORY_COLUMNS[:4])
    missing = [column for column in required if column not in history.columns]
    if missing:
        raise ValueError(f"category history lacks column(s) {missing}; expected {required}")
    if history.empty:
        raise ValueError("category history is empty")
    keys = [column for column in required if column != SPEND_BEFORE]
    if history[keys].isna().any().any():  # a missing flag would otherwise read as "bought"
        raise ValueError(f"category history has missing values in {keys}")
    rows = history[required].astype({SPEND_BEFORE: float}).fillna({SPEND_BEFORE: 0.0})
    aggregates = {SPEND_BEFORE: "sum"} | ({BOUGHT_IN_HORIZON: "any"} if horizon else {})
    return rows.groupby([CUTOFF, MEMBER_ID, CATEGORY], as_index=False, sort=False).agg(aggregates)


def _member_index(members: pd.Index) -> pd.MultiIndex:
    if isinstance(members, pd.MultiIndex):
        return members.set_names(MEMBER_KEY)
    return pd.MultiIndex.from_tuples(list(members), names=MEMBER_KEY)


def _wide(rows: pd.DataFrame, index: pd.MultiIndex, vocabulary: Sequence[str], column: str) -> np.ndarray:
    """Member x vocabulary matrix of ``column`` (0 where a member has no row for a category)."""
    in_vocabulary = rows.loc[rows[CATEGORY].isin(list(vocabulary))]
    wide = in_vocabulary.set_index([CUTOFF, MEMBER_ID, CATEGORY])[column].astype(float).unstack(CATEGORY)
    return wide.reindex(index=index, columns=list(vocabulary)).fillna(0.0).to_numpy(dtype=float)

