"""Train, judge and register the uplift model of a project from one randomised campaign.

A seeded split stratified by arm and outcome holds out randomised members; on them the DR-learner's
ranking is judged against the outcome model alone (P(outcome | treated) or expected spend if
treated: who would buy when contacted, not who buys *because* of it) and the campaign's current
score (``training.uplift_gate``). The run is logged and registered as task ``uplift`` like every
other task (``training.registry``); ``champion`` moves only when the gate passed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from models import catalog
from training import registry
from training.promotion import Decision
from training.uplift import DRLearner, OutcomeLearner, check_randomised, predict
from training.uplift_gate import comparison_metrics, judge_uplift, ranking_metrics

TASK = "uplift"
OUTCOME_MODEL = "outcome_model"
CURRENT_SCORE = "current_score"


@dataclass(frozen=True)
class Split:
    """Row positions of the training and the held-out randomised rows."""

    train: np.ndarray
    test: np.ndarray


def split_randomised(treated: np.ndarray, outcome: np.ndarray, test_share: float, seed: int) -> Split:
    """A seeded split stratified by arm and by whether the outcome is positive, so both halves keep
    the experiment's arm shares and response rates."""
    treated, outcome = check_randomised(treated, outcome)
    strata = treated * 2 + (outcome > 0)
    train, test = train_test_split(np.arange(len(outcome)), test_size=test_share, random_state=seed, stratify=strata)
    return Split(np.sort(train), np.sort(test))


@dataclass
class UpliftResult:
    """What one uplift training run found: each ranking's metrics on the held-out rows, the gate's decision."""

    decision: Decision
    rankings: dict[str, dict[str, float]]
    comparisons: dict[str, float]
    model: DRLearner
    outcome_model: Any
    version: str | None = None
    run_id: str | None = None
    held_out: int = 0


def fit_and_judge(features: pd.DataFrame, treated: np.ndarray, outcome: np.ndarray,
                  current_score: np.ndarray | None, *, learner: OutcomeLearner | None = None,
                  test_share: float = 0.3, rounds: int = 500, seed: int = 7,
                  champion_score: np.ndarray | None = None) -> UpliftResult:
    """Fit on the training rows, rank the held-out rows three ways, and apply the gate (pure: no MLflow).

    ``current_score`` is the campaign's score per row (None when the campaign had none; the gate
    then has the outcome model alone to beat). ``champion_score`` ranks all rows by the current
    uplift champion, when there is one.
    """
    treated, outcome = check_randomised(treated, outcome)
    learner = learner or OutcomeLearner(seed=seed)
    split = split_randomised(treated, outcome, test_share, seed)
    train, test = features.iloc[split.train], features.iloc[split.test]
    model = DRLearner(learner).fit(train, treated[split.train], outcome[split.train])
    arm = treated[split.train] == 1
    outcome_model = learner.fit(train[arm], outcome[split.train][arm])
    scores = {"model": model.uplift(test), OUTCOME_MODEL: predict(outcome_model, test)}
    if current_score is not None:
        scores[CURRENT_SCORE] = np.asarray(current_score, dtype=float)[split.test]
    y, t = outcome[split.test], treated[split.test]
    rankings = {name: ranking_metrics(y, t, score, rounds, seed) for name, score in scores.items()}
    champion = None if champion_score is None else np.asarray(champion_score, dtype=float)[split.test]
    baselines = {name: score for name, score in scores.items() if name != "model"}
    decision, intervals = judge_uplift(y, t, scores["model"], baselines, champion, rounds, seed)
    return UpliftResult(decision, rankings, comparison_metrics(intervals), model, outcome_model,
                        held_out=len(split.test))


def _champion_score(features: pd.DataFrame, project: str) -> np.ndarray | None:
    """The current champion's uplift on every row, or None (no champion, or it reads other features)."""
    booster = catalog.load_booster(TASK, project=project)
    if booster is None or not set(booster.feature_names or []) <= set(features.columns):
        return None
    return predict(booster, features)


def train_uplift(features: pd.DataFrame, treated: np.ndarray, outcome: np.ndarray,
                 current_score: np.ndarray | None, *, project: str, outcome_name: str = "outcome",
                 learner: OutcomeLearner | None = None, test_share: float = 0.3, rounds: int = 500,
                 seed: int = 7, tags: dict[str, str] | None = None) -> UpliftResult:
    """``fit_and_judge``, then log the run, register the DR booster as ``<project>.memberscore-uplift``
    and point ``champion`` at it if (and only if) the gate passed."""
    learner = learner or OutcomeLearner(seed=seed)
    result = fit_and_judge(features, treated, outcome, current_score, learner=learner, test_share=test_share,
                           rounds=rounds, seed=seed, champion_score=_champion_score(features, project))
    assert result.model.final_ is not None
    metrics = {f"{name}_{key}": value for name, found in result.rankings.items() for key, value in found.items()}
    record = registry.RunRecord(
        task=TASK, project=project, booster=result.model.final_, input_example=features.head(5),
        params={**learner.params, "rounds": learner.rounds, "seed": seed, "learner": "dr", "outcome": outcome_name,
                "test_share": test_share, "bootstrap_rounds": rounds, "promotion_metric": "qini"},
        tags={**(tags or {}), "outcome": outcome_name},
        metrics={**metrics, **result.comparisons, "held_out_rows": float(result.held_out)},
        documents={"decision.json": result.decision.to_dict(), "rankings.json": result.rankings},
    )
    logged = registry.log_run(record)
    registry.set_alias(TASK, catalog.CHALLENGER, logged.version, project=project)
    if result.decision.promote:
        registry.move_champion(TASK, logged.version, project=project)
    result.version, result.run_id = logged.version, logged.run_id
    return result
