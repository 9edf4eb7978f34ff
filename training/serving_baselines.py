"""The baselines that serve when churn or upsell has no champion: calibrated rules fitted per snapshot.

A baseline is a valid champion (DESIGN.md). BG/NBD needs no labels, so its next-purchase and value
outputs are part of every snapshot (``features.lifetime``). The churn and upsell baselines of the
gates need labels: each snapshot as of D fits them on its own latest fully observed window,
features as of D - H and what happened in [D - H, D), all before D, so the snapshot stays
point-in-time correct, and applies them to its members:

- churn: the RFM rule (R + F + M quintile scores mapped to a probability by isotonic regression,
  ``training.baselines.RFMRule``) -> ``baseline_churn_probability``;
- upsell with a category column: the most popular categories the member has not bought yet
  (``training.cross_sell.PopularityBaseline``) -> P(adopts any of them) and the top 3 of them;
  without categories: the RFM total calibrated on spend-up (``training.baselines.RFMTotal``), as in
  the upsell gate.

With too little history before D - H (no member, or one outcome only) a rule cannot be fitted:
its columns stay empty and the service says no baseline serves.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Final

import numpy as np
import pandas as pd

from features import contract
from features.lifetime import BASELINE_OUTPUTS as BGNBD_OUTPUTS
from features.snapshot import Snapshot
from training.baselines import RFMRule, RFMTotal
from training.config import TrainConfig
from training.cross_sell import PopularityBaseline, frequent_categories, history_members, top_categories
from training.examples import LABEL_COLUMN, build_category_history, build_examples
from training.upsell import spend_up

CHURN_COLUMN: Final = "baseline_churn_probability"
UPSELL_COLUMN: Final = "baseline_upsell_probability"
CATEGORIES_COLUMN: Final = "baseline_upsell_categories"
BASELINE_COLUMNS: Final = (CHURN_COLUMN, UPSELL_COLUMN, CATEGORIES_COLUMN)
OFFERS: Final = 3

# What serves for a task without a champion: output column -> snapshot profile column.
SERVED_BY_BASELINE: Final = {
    "churn": {"churn_probability": CHURN_COLUMN},
    "next_purchase": {c: BGNBD_OUTPUTS[c] for c in ("p_purchase_7d", "p_purchase_30d", "p_purchase_90d")},
    "upsell": {"upsell_probability": UPSELL_COLUMN, "upsell_categories": CATEGORIES_COLUMN},
    "value": {"expected_value": BGNBD_OUTPUTS["expected_value"]},
}


def baseline_name(task: str, has_categories: bool) -> str:
    """The baseline serving for ``task`` (as /score reports it: ``baseline:<name>``)."""
    if task == "churn":
        return "rfm_rule"
    if task == "upsell":
        return "popular_new_categories" if has_categories else "rfm_rule"
    return "bgnbd"


def with_serving_baselines(transactions: pd.DataFrame, snapshot: Snapshot, config: TrainConfig) -> Snapshot:
    """``snapshot`` with the churn and upsell baseline columns added to its profile."""
    baselines = serving_baselines(transactions, snapshot, config)
    profile = snapshot.profile.drop(columns=list(BASELINE_COLUMNS), errors="ignore")
    profile = profile.merge(baselines, on=contract.MEMBER_ID, how="left", validate="one_to_one")
    return Snapshot(frame=snapshot.frame, as_of=snapshot.as_of, fingerprint=snapshot.fingerprint,
                    profile=profile, shares=snapshot.shares)


def serving_baselines(transactions: pd.DataFrame, snapshot: Snapshot, config: TrainConfig) -> pd.DataFrame:
    """member_id and BASELINE_COLUMNS for the snapshot's members, fitted on the window ending at its as-of."""
    members = snapshot.model_inputs()
    out = pd.DataFrame({contract.MEMBER_ID: members[contract.MEMBER_ID],
                        CHURN_COLUMN: np.nan, UPSELL_COLUMN: np.nan, CATEGORIES_COLUMN: ""})
    fit_at = snapshot.as_of - timedelta(days=config.horizon_days)
    history = transactions[transactions[contract.TS] < pd.Timestamp(snapshot.as_of)]
    if members.empty or not (history[contract.TS] < pd.Timestamp(fit_at)).any():
        return out.astype({CATEGORIES_COLUMN: "string"})
    examples = build_examples(history, [fit_at], config.horizon_days)
    out[CHURN_COLUMN] = _calibrated(RFMRule(), examples, examples[LABEL_COLUMN].to_numpy(), members)
    if contract.CATEGORY in history.columns:
        upsell = _popular_new_categories(history, fit_at, snapshot.as_of, config)
        aligned = upsell.reindex(out[contract.MEMBER_ID].astype(str).to_numpy())
        out[UPSELL_COLUMN] = aligned[UPSELL_COLUMN].to_numpy(float)
        out[CATEGORIES_COLUMN] = aligned[CATEGORIES_COLUMN].fillna("").to_numpy(object)
    else:
        out[UPSELL_COLUMN] = _calibrated(RFMTotal(), examples, spend_up(examples, config.spend_up_growth), members)
    return out.astype({CATEGORIES_COLUMN: "string"})


def _calibrated(rule: RFMRule | RFMTotal, examples: pd.DataFrame, labels: np.ndarray,
                members: pd.DataFrame) -> np.ndarray:
    """``rule`` fitted on the window's rows and applied to the snapshot's; NaN when one outcome only."""
    if len(np.unique(labels)) < 2:
        return np.full(len(members), np.nan)
    return rule.fit(examples, labels).predict_proba(members)


def _popular_new_categories(history: pd.DataFrame, fit_at: date, as_of: date, config: TrainConfig) -> pd.DataFrame:
    """P(adopts a new popular category) and the top ``OFFERS`` of them, indexed by member id.

    Popularity (adoption rates) and the vocabulary come from the window before ``as_of``; what a
    member owns is everything they bought before ``as_of``.
    """
    empty = pd.DataFrame({UPSELL_COLUMN: pd.Series(dtype=float), CATEGORIES_COLUMN: pd.Series(dtype=object)})
    window = build_category_history(history, [fit_at], config.horizon_days)
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
