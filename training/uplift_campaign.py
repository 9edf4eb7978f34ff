"""The uplift model of a project, learnt from one of its own randomised campaigns.

A campaign with a holdout is the randomised data an uplift model needs: its members' arms, what
they bought in its window, and what was known about them when it started. The features are the
product's own snapshot as of the campaign's start (rows with ``ts < start`` only), so the model
reads exactly the columns a later snapshot serves and can rank a later campaign's list
(``serving.campaign_lists``, ``"rank": "uplift"``). The outcome is spend in ``[start, start + D)``
(or whether the member bought), from ``campaigns.outcomes``, the same numbers the effect reports.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from campaigns.outcomes import Window, member_outcomes
from campaigns.record import CONTROL, RANDOMISED, TREATMENT, CampaignRecord
from features import contract
from features.snapshot import build_snapshot
from training.uplift_train import UpliftResult, train_uplift

Outcome = Literal["spend", "bought"]
MIN_PER_ARM = 30  # as campaigns.effect: fewer and nothing is identified, let alone who responds


@dataclass(frozen=True)
class CampaignExamples:
    """One row per member of the campaign: snapshot features as of its start, arm, outcome, its list score."""

    features: pd.DataFrame  # indexed by member id
    treated: np.ndarray
    outcome: np.ndarray
    current_score: np.ndarray | None  # the score its list was ranked by (None: imported without one)
    outcome_name: str


def check_trainable(record: CampaignRecord, members: pd.DataFrame, transactions: pd.DataFrame) -> None:
    """A randomised campaign, both arms with at least ``MIN_PER_ARM`` members, its window over: else a
    ValueError naming why (an uplift model learnt from targeted contacts would learn the targeting)."""
    if record.design != RANDOMISED:
        raise ValueError(f"id: campaign {record.id!r} is {record.design}; an uplift model needs a randomised one "
                         "(a holdout)")
    arms = members["arm"].value_counts()
    if min(arms.get(TREATMENT, 0), arms.get(CONTROL, 0)) < MIN_PER_ARM:
        raise ValueError(f"id: campaign {record.id!r} has {arms.get(TREATMENT, 0)} treatment and "
                         f"{arms.get(CONTROL, 0)} control members; at least {MIN_PER_ARM} per arm are needed")
    window = Window(record.start, record.window_days)
    if not window.is_over(transactions):
        raise ValueError(f"transactions: they end before the campaign's window does ({window.end}); "
                         "its outcome is not known yet")


def campaign_examples(record: CampaignRecord, members: pd.DataFrame, transactions: pd.DataFrame,
                      outcome: Outcome = "spend") -> CampaignExamples:
    """The campaign's members as uplift training rows (see the module); point in time at ``record.start``."""
    check_trainable(record, members, transactions)
    window = Window(record.start, record.window_days)
    outcomes = member_outcomes(members, transactions, window)
    inputs = build_snapshot(transactions, record.start).model_inputs()
    by_id = inputs.set_index(inputs[contract.MEMBER_ID].astype(str)).drop(columns=contract.MEMBER_ID)
    ids = outcomes[contract.MEMBER_ID].astype(str)
    features = by_id.reindex(ids)  # a member with no purchase before the start: missing, as XGBoost reads it
    score = outcomes["score"].to_numpy(float) if "score" in outcomes else np.full(len(ids), np.nan)
    return CampaignExamples(
        features=features, treated=outcomes["arm"].eq(TREATMENT).to_numpy(int),
        outcome=outcomes[outcome].to_numpy(float),
        current_score=None if np.isnan(score).any() else score,
        outcome_name=f"{outcome}_{record.window_days}d")


def train_from_campaign(record: CampaignRecord, members: pd.DataFrame, transactions: pd.DataFrame, *,
                        outcome: Outcome = "spend", test_share: float = 0.3, rounds: int = 500,
                        seed: int = 7) -> UpliftResult:
    """``campaign_examples``, then ``train_uplift`` for the campaign's project: logged and registered as
    task ``uplift``, champion only if it beats the outcome model and the list's own score on held-out members."""
    examples = campaign_examples(record, members, transactions, outcome)
    return train_uplift(examples.features.reset_index(drop=True), examples.treated, examples.outcome,
                        examples.current_score, project=record.project, outcome_name=examples.outcome_name,
                        test_share=test_share, rounds=rounds, seed=seed, tags={"campaign_id": record.id})
