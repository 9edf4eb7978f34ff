"""One churn training run: rolling cut-offs, model beside baselines, MLflow run, champion gate."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from features import contract
from training import registry
from training.baselines import BASELINES
from training.config import TrainConfig
from training.cutoffs import CutoffPlan, data_span, plan_cutoffs
from training.evaluate import binary_metrics
from training.examples import CUTOFF_COLUMN, LABEL_COLUMN, build_examples
from training.fit import fit_booster, predict_proba
from training.plots import lift_figure, roc_figure, shap_summary_figure
from training.promotion import Decision, judge, refuse_incomparable
from features.snapshot import data_fingerprint

TASK = "churn"
Progress = Callable[[str], None]


@dataclass(frozen=True)
class TrainResult:
    """What a run produced: where it is logged, whether it serves, and its numbers."""

    run_id: str
    version: str
    decision: Decision
    plan: CutoffPlan
    out_of_time: dict[str, dict[str, float]]
    train_metrics: dict[str, float]
    members: dict[str, int]
    feature_names: list[str]

    def report(self) -> dict[str, Any]:
        """The JSON report of ``memberscore train --report``."""
        return {
            "task": TASK,
            "run_id": self.run_id,
            "model_version": self.version,
            "promoted": self.decision.promote,
            "decision": self.decision.reason,
            "cutoffs": self.plan.to_dict(),
            "members": self.members,
            "out_of_time": self.out_of_time,
            "train": self.train_metrics,
            "features": self.feature_names,
        }


def train_churn(
    transactions: pd.DataFrame,
    config: TrainConfig,
    load_report: dict[str, Any] | None = None,
    progress: Progress = lambda message: None,
) -> TrainResult:
    """Train, evaluate out of time beside baselines and the champion, log, and gate promotion."""
    plan = plan_cutoffs(*data_span(transactions[contract.TS]), config.horizon_days, config.n_train_cutoffs,
                        config.cutoff_step_days, config.min_history_days)
    progress(f"building examples for {len(plan.train)} training cut-offs and evaluation at {plan.evaluation}")
    train = build_examples(transactions, plan.train, config.horizon_days)
    evaluation = build_examples(transactions, [plan.evaluation], config.horizon_days)
    names = [c for c in train.columns if c not in (contract.MEMBER_ID, CUTOFF_COLUMN, LABEL_COLUMN)]
    y_train, y_eval = train[LABEL_COLUMN].to_numpy(), evaluation[LABEL_COLUMN].to_numpy()
    progress(f"fitting XGBoost on {len(train):,} rows and {len(BASELINES)} baselines")
    booster = fit_booster(train, y_train, names, config)
    scores = {"model": predict_proba(booster, evaluation)}
    scores.update({b.name: b().fit(train, y_train).predict_proba(evaluation) for b in BASELINES})
    champion = registry.load_booster(TASK)
    missing = [f for f in (champion.feature_names or []) if f not in evaluation.columns] if champion else []
    if champion is not None and not missing:
        scores["champion"] = predict_proba(champion, evaluation)
    out_of_time = {name: binary_metrics(y_eval, p) for name, p in scores.items()}
    baselines = {b.name: out_of_time[b.name] for b in BASELINES}
    decision = judge(out_of_time["model"], baselines, out_of_time.get("champion"), config.promotion_metric)
    if missing:
        decision = refuse_incomparable(registry.alias_version(TASK, registry.CHAMPION) or "?", missing)
    train_metrics = binary_metrics(y_train, predict_proba(booster, train))
    progress("logging the run to MLflow")
    record = registry.RunRecord(
        task=TASK,
        booster=booster,
        input_example=evaluation[names].head(5),
        params={**config.xgb_params, **config.model_dump(exclude={"xgb_params"})},
        tags=_run_tags(transactions, plan, names),
        metrics=_flat_metrics(out_of_time, train_metrics),
        figures=_figures(y_eval, scores, booster, evaluation[names]),
        documents={"cutoffs.json": plan.to_dict(), "load_report.json": load_report or {}},
    )
    logged = registry.log_run(record)
    registry.set_alias(TASK, registry.CHALLENGER, logged.version)
    if decision.promote:
        registry.set_alias(TASK, registry.CHAMPION, logged.version)
    members = {"train_rows": len(train), "evaluation_members": len(evaluation),
               "members_total": int(transactions[contract.MEMBER_ID].nunique())}
    return TrainResult(logged.run_id, logged.version, decision, plan, out_of_time, train_metrics, members, names)


def _run_tags(transactions: pd.DataFrame, plan: CutoffPlan, names: list[str]) -> dict[str, str]:
    return {
        "data_fingerprint": data_fingerprint(transactions),
        "cutoffs": ",".join(d.isoformat() for d in plan.train),
        "evaluation_cutoff": plan.evaluation.isoformat(),
        "horizon_days": str(plan.horizon_days),
        "feature_list": ",".join(names),
    }


def _flat_metrics(out_of_time: dict[str, dict[str, float]], train: dict[str, float]) -> dict[str, float]:
    flat = {f"oot_{scorer}_{metric}": value for scorer, metrics in out_of_time.items() for metric, value in metrics.items()}
    flat.update({f"train_model_{metric}": value for metric, value in train.items()})
    return flat


def _figures(y_eval: np.ndarray, scores: dict[str, np.ndarray], booster: Any, features: pd.DataFrame) -> dict[str, Any]:
    return {
        "roc.png": roc_figure(y_eval, scores),
        "lift.png": lift_figure(y_eval, scores),
        "shap_summary.png": shap_summary_figure(booster, features),
    }
