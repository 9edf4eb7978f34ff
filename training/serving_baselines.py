"""The baselines that serve when a task has no champion: rules and BG/NBD fitted per snapshot.

A baseline is a valid champion (DESIGN.md). BG/NBD needs no labels, so its next-purchase and value
outputs are part of every snapshot (``features.lifetime``). The churn and upsell baselines of the
gates need labels: each snapshot as of D fits them on its own latest fully observed window,
features as of D - H and what happened in [D - H, D), all before D, so the snapshot stays
point-in-time correct, and applies them to its members:

- churn: the best of the gate's rules (the RFM rule, recency over the usual gap) and BG/NBD's
  P(no purchase in H) (each a score mapped to a probability by isotonic regression,
  ``training.baselines``) -> ``baseline_churn_probability``;
- upsell with a category column: the most popular categories the member has not bought yet
  (``training.cross_sell.PopularityBaseline``) -> P(adopts any of them) and the top 3 of them;
  without categories: the better of the gate's spend-up rules (RFM total, 90-day spend trend).

The rules are fitted and chosen on at most ``TrainConfig.baseline_members`` members (a seeded
sample; every member is scored), the popular categories' adoption rates too.

"The best" is chosen out of time, as the gate would: each rule is fitted on the window before
(features as of D - 2H, outcomes in [D - 2H, D - H)) and ranked by ROC AUC on the latest one; the
winner is then refitted on the latest window. Its name is kept beside the scores
(``baseline_churn_rule``, ``baseline_upsell_rule``) for ``/score``'s ``model_versions``. Which column serves which output,
and the chosen rule's name, are ``models.baselines`` (shared with serving); this module fits them.

BG/NBD fitted as of D itself (no labels needed) is the last resort, so that no member goes
unscored while it can be fitted: with too little history before D - H for any rule (no member,
or one outcome only), churn is BG/NBD's 1 - P(purchase within H), uncalibrated, named ``bgnbd``.
The same fit gives the H-day expected value (BG/NBD x Gamma-Gamma, as the value gate's baseline)
and the median days to the next purchase (``features.lifetime.median_days_to_purchase``: none
where P(alive) <= 1/2). Without a BG/NBD fit (too few members or no repeat buyer) and without a
fitted rule, the columns stay empty and the service says no baseline serves.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Final

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from features import contract
from features.lifetime import LifetimeModel, fit_lifetime, median_days_to_purchase
from features.offer_lists import NO_OFFERS
from features.sampling import sample_positions
from features.snapshot import Snapshot
from models.baselines import (
    BASELINE_COLUMNS,
    BGNBD,
    CATEGORIES_COLUMN,
    CHURN_COLUMN,
    CHURN_RULE_COLUMN,
    MEDIAN_COLUMN,
    UPSELL_COLUMN,
    UPSELL_RULE_COLUMN,
    VALUE_COLUMN,
)
from models.offers import top_categories
from training.baselines import BASELINES, SPEND_UP_BASELINES, CalibratedScore
from training.config import TrainConfig
from training.cross_sell import PopularityBaseline, frequent_categories, history_members
from training.examples import LABEL_COLUMN, build_category_history, build_examples
from training.upsell import spend_up

_NO_PURCHASE: Final = "_bgnbd_no_purchase_in_horizon"  # BG/NBD's P(no purchase in H), beside a window's features
OFFERS: Final = 3


class BGNBDChurn(CalibratedScore):
    """BG/NBD's P(no purchase in the next H days), fitted as of each window's cut-off (the rows'
    ``_NO_PURCHASE`` column), as a churn rule beside the gate's: the classical peer churn must beat."""

    name = BGNBD

    def _fit_score(self, features: pd.DataFrame) -> None:
        pass

    def _score(self, features: pd.DataFrame) -> np.ndarray:
        return features[_NO_PURCHASE].to_numpy(dtype=float)


CHURN_RULES: Final = (*BASELINES, BGNBDChurn)


def with_serving_baselines(transactions: pd.DataFrame, snapshot: Snapshot, config: TrainConfig,
                           lifetime: LifetimeModel | None = None) -> Snapshot:
    """``snapshot`` with the churn and upsell baseline columns added to its profile (``lifetime``:
    as ``serving_baselines``)."""
    baselines = serving_baselines(transactions, snapshot, config, lifetime)
    profile = snapshot.profile.drop(columns=list(BASELINE_COLUMNS), errors="ignore")
    profile = profile.merge(baselines, on=contract.MEMBER_ID, how="left", validate="one_to_one")
    return Snapshot(frame=snapshot.frame, as_of=snapshot.as_of, fingerprint=snapshot.fingerprint,
                    profile=profile, shares=snapshot.shares)


def serving_baselines(transactions: pd.DataFrame, snapshot: Snapshot, config: TrainConfig,
                      lifetime: LifetimeModel | None = None) -> pd.DataFrame:
    """member_id and BASELINE_COLUMNS for the snapshot's members, fitted on the window ending at its as-of.

    ``lifetime``, when given, is the BG/NBD + Gamma-Gamma fit as of the snapshot's as-of that built
    it (``build_snapshot(..., lifetime=)``): used rather than fitted again. At 5 M members each fit
    took minutes.
    """
    members = snapshot.model_inputs()
    out = pd.DataFrame({contract.MEMBER_ID: members[contract.MEMBER_ID], CHURN_COLUMN: np.nan, UPSELL_COLUMN: np.nan,
                        CATEGORIES_COLUMN: NO_OFFERS, CHURN_RULE_COLUMN: "", UPSELL_RULE_COLUMN: "",
                        MEDIAN_COLUMN: np.nan, VALUE_COLUMN: np.nan})
    text = {c: "string" for c in (CATEGORIES_COLUMN, CHURN_RULE_COLUMN, UPSELL_RULE_COLUMN)}
    horizon = timedelta(days=config.horizon_days)
    before = transactions[contract.TS] < pd.Timestamp(snapshot.as_of)
    history = transactions if before.all() else transactions[before]  # no copy of every line when all are before
    if members.empty:
        return out.astype(text)
    lifetime = lifetime or fit_lifetime(history, snapshot.as_of)
    members = _with_no_purchase(members, lifetime, config.horizon_days)
    if lifetime is not None:
        _bgnbd_outputs(out, lifetime, config.horizon_days)
    if not (history[contract.TS] < pd.Timestamp(snapshot.as_of - horizon)).any():
        return out.astype(text)
    sampled = _sampled_history(history, members[contract.MEMBER_ID], config)
    windows = _windows(sampled, snapshot.as_of, config)
    rules = CHURN_RULES if lifetime is not None and all(w[_NO_PURCHASE].notna().all() for w in windows) else BASELINES
    churn = _best_rule(rules, windows, lambda rows: rows[LABEL_COLUMN].to_numpy())
    if churn is not None:
        out[CHURN_RULE_COLUMN], out[CHURN_COLUMN] = churn.name, churn.predict_proba(members)
    if contract.CATEGORY in history.columns:
        upsell = _popular_new_categories(history, sampled, snapshot.as_of - horizon, snapshot.as_of, config)
        aligned = upsell.reindex(out[contract.MEMBER_ID].astype(str).to_numpy())
        out[UPSELL_COLUMN] = aligned[UPSELL_COLUMN].to_numpy(float)
        out[CATEGORIES_COLUMN] = aligned[CATEGORIES_COLUMN].fillna(NO_OFFERS).to_numpy(object)
        out[UPSELL_RULE_COLUMN] = "popular_new_categories" if len(upsell) else ""
    else:
        spend_up_rule = _best_rule(SPEND_UP_BASELINES, windows, lambda rows: spend_up(rows, config.spend_up_growth))
        if spend_up_rule is not None:
            out[UPSELL_RULE_COLUMN], out[UPSELL_COLUMN] = spend_up_rule.name, spend_up_rule.predict_proba(members)
    return out.astype(text)


def _bgnbd_outputs(out: pd.DataFrame, lifetime: LifetimeModel, horizon_days: int) -> None:
    """Fill ``out`` (row-aligned with the members) with BG/NBD's H-day value, median days and,
    as the last resort until a rule replaces it, churn = 1 - P(purchase within H)."""
    ids = out[contract.MEMBER_ID].astype(str).to_numpy()
    by_member = pd.DataFrame({
        CHURN_COLUMN: 1.0 - lifetime.p_purchase_within(float(horizon_days)),
        MEDIAN_COLUMN: median_days_to_purchase(lifetime),
        VALUE_COLUMN: lifetime.expected_spend(float(horizon_days)),
    }, index=lifetime.summary.index.astype(str)).reindex(ids)
    for column in by_member.columns:
        out[column] = by_member[column].to_numpy(float)
    out[CHURN_RULE_COLUMN] = np.where(out[CHURN_COLUMN].notna(), BGNBD, "")


def _with_no_purchase(rows: pd.DataFrame, lifetime: LifetimeModel | None, horizon_days: int) -> pd.DataFrame:
    """``rows`` with BG/NBD's P(no purchase in H) per member (NaN without a fit or for a member it lacks)."""
    if lifetime is None:
        return rows.assign(**{_NO_PURCHASE: np.nan})
    p = pd.Series(1.0 - lifetime.p_purchase_within(float(horizon_days)), index=lifetime.summary.index.astype(str))
    return rows.assign(**{_NO_PURCHASE: p.reindex(rows[contract.MEMBER_ID].astype(str).to_numpy()).to_numpy()})


def _sampled_history(history: pd.DataFrame, members: pd.Series, config: TrainConfig) -> pd.DataFrame:
    """The lines of at most ``config.baseline_members`` members, a sample seeded by ``config.seed``.

    The rules are one score each, calibrated by isotonic regression: a few hundred thousand
    members pin them down. Their windows over every member of a chain (5 M members, 100 M lines)
    needed more memory than the machine had, for the same rules.
    """
    positions = sample_positions(len(members), config.baseline_members, config.seed)
    if positions is None:
        return history
    return history[history[contract.MEMBER_ID].isin(members.to_numpy()[positions])]


def _windows(history: pd.DataFrame, as_of: date, config: TrainConfig) -> list[pd.DataFrame]:
    """Labelled examples of the complete windows before ``as_of``: the one before the latest (when
    there is history before it) and the latest, each with BG/NBD's P(no purchase in H) as of its
    cut-off (its fit serves the window's lifetime features too)."""
    horizon = timedelta(days=config.horizon_days)
    cutoffs = [as_of - 2 * horizon, as_of - horizon]
    if not (history[contract.TS] < pd.Timestamp(cutoffs[0])).any():
        cutoffs = cutoffs[1:]
    windows = []
    for cutoff in cutoffs:
        lifetime = fit_lifetime(history, cutoff)
        rows = build_examples(history, [cutoff], config.horizon_days, {cutoff: lifetime})
        windows.append(_with_no_purchase(rows, lifetime, config.horizon_days))
    return windows


def _best_rule(rules: tuple[type[CalibratedScore], ...], windows: list[pd.DataFrame],
               label: Callable[[pd.DataFrame], np.ndarray]) -> CalibratedScore | None:
    """The rule with the best out-of-time ROC AUC (earlier window -> latest; the first on ties or
    when that cannot be judged), refitted on the latest window; None when it has one outcome only."""
    latest, y_latest = windows[-1], label(windows[-1])
    if len(np.unique(y_latest)) < 2:
        return None
    chosen = rules[0]
    if len(windows) == 2 and len(np.unique(label(windows[0]))) == 2:
        earlier, y_earlier = windows[0], label(windows[0])
        scores = [roc_auc_score(y_latest, rule().fit(earlier, y_earlier).predict_proba(latest)) for rule in rules]
        chosen = rules[int(np.argmax(scores))]
    return chosen().fit(latest, y_latest)


def _popular_new_categories(history: pd.DataFrame, sampled: pd.DataFrame, fit_at: date, as_of: date,
                            config: TrainConfig) -> pd.DataFrame:
    """P(adopts a new popular category) and the top ``OFFERS`` of them, indexed by member id.

    Popularity (adoption rates) and the vocabulary come from the window before ``as_of``, on the
    ``sampled`` members' lines (``_sampled_history``: over every line of a 4.5 M-member chain the
    two category histories took 161 s); what a member owns is everything they bought before ``as_of``.
    """
    empty = pd.DataFrame({UPSELL_COLUMN: pd.Series(dtype=float), CATEGORIES_COLUMN: pd.Series(dtype=object)})
    window = build_category_history(sampled, [fit_at], config.horizon_days)
    now = build_category_history(history, [as_of], config.horizon_days)  # the horizon is ahead: nothing bought
    if window.empty or now.empty:
        return empty
    vocabulary = frequent_categories(window, config.max_categories)
    popularity = PopularityBaseline().fit(window)
    keys = history_members(now)
    scores = popularity.score(now, keys, vocabulary)
    return pd.DataFrame({
        UPSELL_COLUMN: popularity.probability_any_new(now, keys, vocabulary),
        CATEGORIES_COLUMN: top_categories(scores, vocabulary, ~np.isfinite(scores), OFFERS),
    }, index=keys.get_level_values(1).astype(str))
