"""One training run: rolling cut-offs, every task's model beside its baselines, MLflow runs, champion gates."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import xgboost as xgb

from features import contract
from features.lifetime import fit_lifetime
from features.snapshot import data_fingerprint
from training import registry
from training.config import TrainConfig
from training.cutoffs import CutoffPlan, data_span, plan_cutoffs
from training.examples import build_category_history, build_examples, feature_columns
from training.promotion import Decision, judge, refuse_incomparable
from training.task import Assessment, Task, TaskData

Progress = Callable[[str], None]


@dataclass(frozen=True)
class TrainResult:
    """What one task's run produced: where it is logged, whether it serves, and its numbers."""

    task: str
    run_id: str
    version: str
    decision: Decision
    plan: CutoffPlan
    out_of_time: dict[str, dict[str, float]]
    train_metrics: dict[str, float]
    members: dict[str, int]
    feature_names: list[str]

    def report(self) -> dict[str, Any]:
        """This task's part of the JSON report of ``memberscore train --report``."""
        return {
            "task": self.task,
            "model_name": registry.model_name(self.task),
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


@dataclass
class TrainingRun:
    """Every task trained on one dataset, and the tasks the data does not allow, with why."""

    results: list[TrainResult] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)

    def report(self) -> dict[str, Any]:
        return {"tasks": {r.task: r.report() for r in self.results}, "skipped": self.skipped}


def prepare_data(transactions: pd.DataFrame, config: TrainConfig, progress: Progress = lambda _: None) -> TaskData:
    """Plan cut-offs and build the examples every task shares (features are computed once)."""
    plan = plan_cutoffs(*data_span(transactions[contract.TS]), config.horizon_days, config.n_train_cutoffs,
                        config.cutoff_step_days, config.min_history_days)
    progress(f"building examples for {len(plan.train)} training cut-offs and evaluation at {plan.evaluation}")
    train = build_examples(transactions, plan.train, config.horizon_days)
    evaluation = build_examples(transactions, [plan.evaluation], config.horizon_days)
    history = None
    if contract.CATEGORY in transactions.columns:
        history = build_category_history(transactions, (*plan.train, plan.evaluation), config.horizon_days)
    return TaskData(train=train, evaluation=evaluation, feature_names=feature_columns(train), plan=plan,
                    lifetime_at_evaluation=fit_lifetime(transactions, plan.evaluation), category_history=history)


@dataclass
class _Trained:
    task: Task
    booster: xgb.Booster
    assessment: Assessment
    decision: Decision
    train_metrics: dict[str, float]


def fit_and_judge(task: Task, data: TaskData, config: TrainConfig) -> _Trained:
    """Fit, score beside baselines and the current champion on the same rows, and decide."""
    booster = task.fit(data, config)
    assessment = task.assess(booster, data)
    baselines = {name: metrics for name, metrics in assessment.out_of_time.items() if name != "model"}
    champion = registry.load_booster(task.name)
    missing = [f for f in (champion.feature_names or []) if f not in data.evaluation.columns] if champion else []
    if champion is not None and not missing:
        assessment.out_of_time["champion"] = task.metrics(champion, data.evaluation, data)
    out_of_time = assessment.out_of_time
    decision = judge(out_of_time["model"], baselines, out_of_time.get("champion"), task.promotion_metric)
    if missing:
        decision = refuse_incomparable(registry.alias_version(task.name, registry.CHAMPION) or "?", missing)
    return _Trained(task, booster, assessment, decision, task.metrics(booster, data.train, data))


def log_and_gate(trained: _Trained, data: TaskData, transactions: pd.DataFrame, config: TrainConfig,
                 load_report: dict[str, Any] | None) -> TrainResult:
    """Log the run to the task's experiment, register the model, move the aliases."""
    task, names = trained.task, list(trained.booster.feature_names or [])
    record = registry.RunRecord(
        task=task.name,
        booster=trained.booster,
        input_example=data.evaluation[names].head(5),
        params={**config.xgb_params, **config.model_dump(exclude={"xgb_params"}), "task": task.name,
                "promotion_metric": task.promotion_metric},
        tags=_run_tags(transactions, data.plan, names),
        metrics=_flat_metrics(trained.assessment.out_of_time, trained.train_metrics),
        figures=trained.assessment.figures,
        documents={"cutoffs.json": data.plan.to_dict(), "load_report.json": load_report or {},
                   "decision.json": {"promoted": trained.decision.promote, "reason": trained.decision.reason},
                   **trained.assessment.documents},
    )
    logged = registry.log_run(record)
    registry.set_alias(task.name, registry.CHALLENGER, logged.version)
    if trained.decision.promote:
        registry.set_alias(task.name, registry.CHAMPION, logged.version)
    members = {"train_rows": len(data.train), "evaluation_members": len(data.evaluation),
               "members_total": int(transactions[contract.MEMBER_ID].nunique())}
    return TrainResult(task.name, logged.run_id, logged.version, trained.decision, data.plan,
                       trained.assessment.out_of_time, trained.train_metrics, members, names)


def train_tasks(
    transactions: pd.DataFrame,
    config: TrainConfig,
    tasks: Sequence[Task],
    load_report: dict[str, Any] | None = None,
    progress: Progress = lambda _: None,
    page: Callable[[TrainingRun, dict[str, Any]], str] | None = None,
) -> TrainingRun:
    """Train every task the data allows on shared examples; log each to its own experiment.

    ``page`` renders the evaluation page (HTML) from the run and the figures; it is logged to
    every task's run.
    """
    data = prepare_data(transactions, config, progress)
    run, trained = TrainingRun(), []
    for task in tasks:
        reason = task.unavailable(data)
        if reason:
            run.skipped[task.name] = reason
            progress(f"{task.name}: skipped ({reason})")
            continue
        progress(f"{task.name}: fitting XGBoost on {len(data.train):,} rows, scoring baselines")
        trained.append(fit_and_judge(task, data, config))
    figures = {t.task.name: dict(t.assessment.figures) for t in trained}
    progress("logging the runs to MLflow")
    for item in trained:
        run.results.append(log_and_gate(item, data, transactions, config, load_report))
    if page is not None and run.results:
        html = page(run, figures)
        for result in run.results:
            registry.log_text(result.run_id, html, "evaluation.html")
    return run


def train_churn(
    transactions: pd.DataFrame,
    config: TrainConfig,
    load_report: dict[str, Any] | None = None,
    progress: Progress = lambda _: None,
) -> TrainResult:
    """Train the churn task alone (the foundation's path; ``train_tasks`` trains every task)."""
    from training.churn import Churn

    return train_tasks(transactions, config, [Churn()], load_report, progress).results[0]


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
