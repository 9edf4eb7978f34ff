"""Retail membership playbooks as rules: RFM segments, ABC classes, lifecycle stages and tiers.

The rules live in one YAML file parsed once into ``SegmentRules`` (``features.segment_rules``). Everything learned from data (RFM quintile edges, Pareto spend thresholds, the
typical gap, quantile tier thresholds) is fitted on the training window and applied unchanged to
later snapshots, so a member's label never depends on who else is being scored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from features.contract import MEMBER_ID
from features.rfm import RFMScorer
from features.segment_rules import (
    ABC_CLASSES,
    LIFECYCLE_STAGES,
    AbcRules,
    LifecycleRules,
    RfmRules,
    SegmentRules,
    TierRules,
    read_segment_rules,
)

__all__ = ["ABC_CLASSES", "LIFECYCLE_STAGES", "ABCClassifier", "FittedSegments", "LifecycleStager", "RfmRules",
           "SegmentRules", "TierAssigner", "TierRules", "assign_tiers", "evidenced", "evidenced_p_alive", "fit_segments",
           "read_segment_rules", "rfm_segments", "segment_members"]


def _labelled(
    values: np.ndarray, labels: tuple[str, ...], index: pd.Index, name: str, ordered: bool = False
) -> pd.Series:
    """Categorical with every configured label as a category, so segment sizes list empty ones too."""
    return pd.Series(pd.Categorical(values, categories=list(labels), ordered=ordered), index=index, name=name)


def _positions_labelled(
    positions: np.ndarray, labels: tuple[str, ...], index: pd.Index, name: str, ordered: bool = False
) -> pd.Series:
    """``_labelled`` from each value's position in ``labels``: no string is built or hashed (the KPIs
    label every member of every week and month: 5 million members took seconds a period as text)."""
    codes = np.asarray(positions).astype(np.int32)
    return pd.Series(pd.Categorical.from_codes(codes, categories=pd.Index(labels), ordered=ordered), index=index, name=name)


def _values(frame: pd.DataFrame, column: str) -> np.ndarray:
    return frame[column].to_numpy(dtype=float)


def _spend(frame: pd.DataFrame, column: str) -> np.ndarray:
    """Spend with missing as zero: no recorded spend in the window is no spend."""
    return np.nan_to_num(_values(frame, column), nan=0.0)


def rfm_segments(scores: pd.DataFrame, rules: RfmRules) -> pd.Series:
    """Name each member's RFM cell: the first rule whose ranges all hold, else ``catch_all``."""
    names = np.full(len(scores), rules.catch_all, dtype=object)
    unnamed = np.ones(len(scores), dtype=bool)
    for segment in rules.segments:
        hit = unnamed.copy()
        for axis, bounds in (("r", segment.r), ("f", segment.f), ("m", segment.m)):
            if bounds is not None:
                score = scores[f"{axis}_score"].to_numpy()
                hit &= (score >= bounds[0]) & (score <= bounds[1])
        names[hit] = segment.name
        unnamed &= ~hit
    return _labelled(names, rules.labels, scores.index, "rfm_segment")


class ABCClassifier:
    """Pareto classes AA/A/B/C by spend, with the spend thresholds learned on the training window.

    On the fitted frame, class A (AA included: the elite is part of A) is the smallest top set whose
    spend reaches ``a_share`` of total positive spend; the spend of the member who crosses the share
    becomes ``thresholds_["A"]`` (likewise AA and B). Members tied at a threshold all join the higher
    class, so equal spend always means equal class. Zero or negative spend is C: it contributes nothing.
    """

    def __init__(self, rules: AbcRules) -> None:
        self.rules = rules

    def fit(self, frame: pd.DataFrame) -> ABCClassifier:
        spend = np.sort(_spend(frame, self.rules.spend_column))[::-1]
        spend = spend[spend > 0]
        shares = {"AA": self.rules.aa_share, "A": self.rules.a_share, "B": self.rules.b_share}
        if spend.size == 0:  # nobody bought in the window, so nobody can rank above C
            self.thresholds_ = {label: float("inf") for label in shares}
            return self
        cumulative = np.cumsum(spend)
        # relative tolerance: a share reached exactly must not be missed by float rounding
        targets = [share * cumulative[-1] * (1 - 1e-12) for share in shares.values()]
        crossing = np.minimum(np.searchsorted(cumulative, targets, side="left"), spend.size - 1)
        self.thresholds_ = {label: float(spend[i]) for label, i in zip(shares, crossing)}
        return self

    def transform(self, frame: pd.DataFrame) -> pd.Series:
        spend, bars = _spend(frame, self.rules.spend_column), self.thresholds_
        labels = np.select([spend >= bars["AA"], spend >= bars["A"], spend >= bars["B"]], ABC_CLASSES[:3], "C")
        return _labelled(labels, ABC_CLASSES, frame.index, "abc_class")


class LifecycleStager:
    """Stages new / active / sleeping / lost, and the RFM recency score, from one notion of recency.

    Recency is measured in the member's own rhythm: days since the last purchase over their usual
    gap (``gap_ratio``). Members without a usable own gap (one purchase, or all purchases at one
    instant) are measured against ``typical_gap_days_``, the median ``gap_mean_days`` of repeat
    buyers in the training window: "a long time" then means the same for them as for a typical
    repeat buyer.

    BG/NBD's P(alive) is evidence only for members with an own rhythm: the model lets a member drop
    out only right after a repeat purchase, so it gives every one-time buyer P(alive) = 1 by
    construction, whatever their silence (``evidenced_p_alive``). Where there is evidence and it
    disagrees with the rhythm (lost by rhythm but P(alive) >= ``alive_threshold``, or still buying
    by rhythm but P(alive) below it) the member is ``sleeping``: neither view is overruled outright,
    and a member the two views disagree on is worth a nudge, not written off. Newcomers (at most
    ``new_days`` of tenure and ``new_max_orders`` purchases) are ``new`` whatever their rhythm, which
    is too short to judge, unless P(alive) says more likely gone (then ``sleeping``).
    """

    def __init__(self, rules: LifecycleRules, recency_ratio_edges: tuple[float, float] = (0.5, 1.0)) -> None:
        self.rules = rules
        self.recency_ratio_edges = recency_ratio_edges

    def fit(self, frame: pd.DataFrame) -> LifecycleStager:
        gaps = _values(frame, "gap_mean_days")
        gaps = gaps[np.isfinite(gaps) & (gaps > 0)]
        self.typical_gap_days_ = float(np.median(gaps)) if gaps.size else self.rules.fallback_gap_days
        return self

    def rhythm_ratio(self, frame: pd.DataFrame) -> np.ndarray:
        """Days since the last purchase in units of the usual gap (own, else the typical one)."""
        own = _values(frame, "gap_ratio")
        return np.where(np.isfinite(own), own, _values(frame, "recency_days") / self.typical_gap_days_)

    def transform(self, frame: pd.DataFrame) -> pd.Series:
        return _positions_labelled(self._stage_positions(frame), LIFECYCLE_STAGES, frame.index, "lifecycle_stage")

    def recency_scores(self, frame: pd.DataFrame) -> np.ndarray:
        """RFM r_score from the same rhythm as the stage: 1 lost, 2 sleeping, 3-5 still buying.

        Among new and active members, ratio <= edges[0] scores 5, <= edges[1] 4, else 3 (a newcomer
        past their short rhythm too: new is still buying), so an
        RFM segment confined to r 3-5 always holds new or active members, one confined to r 1-2
        sleeping or lost ones, and r 1 exactly the lost.
        """
        position = self._stage_positions(frame)
        ratio = self.rhythm_ratio(frame)
        still = np.select([ratio <= self.recency_ratio_edges[0], ratio <= self.recency_ratio_edges[1]], [5, 4], 3)
        return np.select([position == LOST, position == SLEEPING], [1, 2], still).astype("int64")

    def _stage_positions(self, frame: pd.DataFrame) -> np.ndarray:
        """Index into LIFECYCLE_STAGES per member (the documented precedence, see the class doc)."""
        rules, ratio = self.rules, self.rhythm_ratio(frame)
        alive = evidenced_p_alive(frame)
        model_alive, model_gone = alive >= rules.alive_threshold, alive < rules.alive_threshold  # NaN: neither
        young = (_values(frame, "tenure_days") <= rules.new_days) & (_values(frame, "orders_total") <= rules.new_max_orders)
        is_new = young & ~model_gone  # too early to judge by their rhythm, unless the model says likely gone
        still = (ratio <= rules.active_ratio) & ~model_gone
        lost = (ratio > rules.lost_ratio) & ~model_alive & ~young
        return np.select([is_new, still, lost], [NEW, ACTIVE, LOST], SLEEPING)


NEW, ACTIVE, SLEEPING, LOST = range(len(LIFECYCLE_STAGES))


def evidenced_p_alive(frame: pd.DataFrame) -> np.ndarray:
    """BG/NBD P(alive) where it is an estimate: members with an own rhythm (a finite ``gap_ratio``).

    For a one-time buyer BG/NBD says 1.0 by construction (dropout can only follow a repeat
    purchase), which is an assumption of the model, not news about the member: NaN, "not known".
    No ``p_alive`` column (no BG/NBD fit) gives NaN too.
    """
    if "p_alive" not in frame.columns:
        return np.full(len(frame), np.nan)
    gap_ratio = _values(frame, "gap_ratio") if "gap_ratio" in frame.columns else None
    return evidenced(_values(frame, "p_alive"), gap_ratio)


def evidenced(p_alive: np.ndarray, gap_ratio: np.ndarray | None) -> np.ndarray:
    """``evidenced_p_alive`` on bare float arrays (no frame to build: /score tells one member's
    reasons in microseconds). Without ``gap_ratio`` rows cannot say whether they repeat: P(alive) as given."""
    if gap_ratio is None:
        return p_alive
    return np.where(np.isfinite(gap_ratio), p_alive, np.nan)


def assign_tiers(
    frame: pd.DataFrame,
    rules: TierRules,
    previous: pd.Series | None = None,
    *,
    thresholds: Mapping[str, float] | None = None,
) -> pd.Series:
    """Tier per member: the highest rung whose threshold <= qualifying spend, with downgrade grace.

    A snapshot has no tier history, so tiers are a pure function of spend plus, optionally,
    ``previous`` (last period's tier, indexed by member id; missing = no history). A member whose
    previous tier is above what spend earns keeps it while spend >= ``retain_share`` x its threshold,
    else drops straight to the earned tier. ``thresholds`` (tier -> amount) default to the ladder's
    amounts; a quantile ladder needs fitted ones (``TierAssigner``).
    """
    if thresholds is None:
        if rules.uses_quantiles:
            raise ValueError("quantile tier ladder: fit a TierAssigner on the training window for thresholds")
        thresholds = rules.amounts()
    bars = np.array([thresholds[rung.name] for rung in rules.ladder], dtype=float)
    spend = _spend(frame, rules.qualifying_column)
    rank = np.where(spend > 0, np.searchsorted(bars, spend, side="right"), 0)  # no spend, no tier
    if previous is not None:
        ids = frame[MEMBER_ID].to_numpy()
        aligned = previous if previous.index.equals(pd.Index(ids)) else previous.reindex(ids)  # the KPIs' periods: aligned
        held = _previous_ranks(aligned, rules.labels)
        bar_held = np.concatenate([[0.0], bars])[held]
        rank = np.where((held > rank) & (spend >= rules.retain_share * bar_held), held, rank)
    # ordered base -> top, so campaigns can select ``tier >= "platinum"``
    return _positions_labelled(rank, rules.labels, frame.index, "tier", ordered=True)


def _previous_ranks(previous: pd.Series, labels: tuple[str, ...]) -> np.ndarray:
    """Ladder positions of last period's tiers; no history counts as the base tier."""
    # hashed in C, not mapped per value in Python: the KPIs call this for every period of a million
    # members, and there last period's tiers are already this ladder's Categorical: its codes are the ranks
    if isinstance(previous.dtype, pd.CategoricalDtype) and tuple(previous.cat.categories) == tuple(labels):
        ranks = previous.cat.codes.to_numpy()
    else:
        ranks = pd.Categorical(previous.astype(object), categories=list(labels)).codes
    off_ladder = (ranks < 0) & previous.notna().to_numpy()
    if off_ladder.any():
        unknown = sorted(set(previous[off_ladder].astype(str)))
        raise ValueError(f"previous tiers {unknown} are not on the ladder {list(labels)}")
    return np.where(ranks < 0, 0, ranks).astype(int)


class TierAssigner:
    """Learns tier thresholds: quantiles of positive qualifying spend, or the ladder's fixed amounts.

    Quantiles skip members with no spend in the window; a base of lapsed members would otherwise
    pull the silver threshold down to zero.
    """

    def __init__(self, rules: TierRules) -> None:
        self.rules = rules

    def fit(self, frame: pd.DataFrame) -> TierAssigner:
        if not self.rules.uses_quantiles:
            self.thresholds_ = self.rules.amounts()
            return self
        spend = _spend(frame, self.rules.qualifying_column)
        spend = spend[spend > 0]
        self.thresholds_ = {
            rung.name: float(np.quantile(spend, rung.quantile or 0.0)) if spend.size else float("inf")
            for rung in self.rules.ladder
        }
        return self

    def transform(self, frame: pd.DataFrame, previous: pd.Series | None = None) -> pd.Series:
        return assign_tiers(frame, self.rules, previous, thresholds=self.thresholds_)


@dataclass(frozen=True)
class FittedSegments:
    """Every segmenter fitted on one training window, ready for any later snapshot."""

    rules: SegmentRules
    rfm: RFMScorer
    abc: ABCClassifier
    lifecycle: LifecycleStager
    tiers: TierAssigner


def fit_segments(train_frame: pd.DataFrame, rules: SegmentRules) -> FittedSegments:
    """Fit RFM edges, Pareto thresholds, the typical gap and tier thresholds on the training window only."""
    return FittedSegments(
        rules,
        RFMScorer().fit(train_frame),
        ABCClassifier(rules.abc).fit(train_frame),
        LifecycleStager(rules.lifecycle, rules.rfm.recency_ratio_edges).fit(train_frame),
        TierAssigner(rules.tiers).fit(train_frame),
    )


def segment_members(
    frame: pd.DataFrame, fitted: FittedSegments, previous_tiers: pd.Series | None = None
) -> pd.DataFrame:
    """Columns rfm_segment, abc_class, lifecycle_stage, tier, with ``frame``'s index.

    The RFM r_score is the lifecycle rhythm's (``LifecycleStager.recency_scores``), not a quintile
    of days, so segment and stage tell one story. ``previous_tiers`` (last period's tier by member
    id) turns on the tier downgrade grace.
    """
    scores = fitted.rfm.transform(frame).assign(r_score=fitted.lifecycle.recency_scores(frame))
    return pd.concat(
        [
            rfm_segments(scores, fitted.rules.rfm),
            fitted.abc.transform(frame),
            fitted.lifecycle.transform(frame),
            fitted.tiers.transform(frame, previous_tiers),
        ],
        axis=1,
    )
