"""One training run: rolling cut-offs, every task's model beside its baselines, MLflow runs, champion gates."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd
import xgboost as xgb

from features import contract
from features.drift_reference import TrainingReference, build_reference
from features.drift_rules import read_drift_rules
from features.lifetime import fit_lifetime
from features.snapshot import data_fingerprint
from models import catalog
from models.served_scores import served_scores
from training import registry
from training.commit import commit_champions
from training.config import TrainConfig
from training.cutoffs import CutoffPlan, data_span, plan_cutoffs
from training.examples import CUTOFF_COLUMN, ExamplesBuilder, build_category_history, build_examples, feature_columns
from training.member_sample import training_data
from training.plots import png
from training.promotion import Decision, judge, promotion_interval, refuse_incomparable
from training.span_plan import PLAN_FIELDS, PlanChoice, choose_plan
from training.task import Assessment, Task, TaskData

Progress = Callable[[str], None]
REFERENCE_ARTIFACT = "drift_reference.json"  # also in <snapshot_dir>/<project>/reference/ (features.drift_reference)


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
    project: str
    baselines_unavailable: dict[str, str] = field(default_factory=dict)
    lifetime_fit: dict[str, Any] = field(default_factory=dict)
    calibration: dict[str, Any] | None = None  # training.calibration.calibration_report, for calibrated tasks
    reference: TrainingReference | None = None  # the drift profile of its training data (features.drift_reference)

    def report(self) -> dict[str, Any]:
        """This task's part of the JSON report of ``memberscore train --report``."""
        return {
            "task": self.task,
            "project": self.project,
            "model_name": catalog.model_name(self.task, project=self.project),
            "run_id": self.run_id,
            "model_version": self.version,
            "promoted": self.decision.promote,
            "decision": self.decision.reason,
            "promotion_interval": self.decision.to_dict()["promotion_interval"],
            "baselines_unavailable": self.baselines_unavailable,
            "lifetime_fit": self.lifetime_fit,
            "cutoffs": self.plan.to_dict(),
            "plan": self.plan.choice.to_dict() if self.plan.choice else None,
            "members": self.members,
            "out_of_time": self.out_of_time,
            "train": self.train_metrics,
            "features": self.feature_names,
            **({"calibration": self.calibration} if self.calibration is not None else {}),
        }


@dataclass
class TrainingRun:
    """Every task trained on one dataset, and the tasks the data does not allow, with why.

    ``plan`` is the run's horizon's ``PlanChoice``: what history, cut-offs and step the span
    allowed, or that it allows baselines only (no task trained).
    """

    results: list[TrainResult] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)
    plan: PlanChoice | None = None
    data: dict[str, Any] = field(default_factory=dict)  # describe_data of the transactions trained on

    @property
    def baselines_only(self) -> bool:
        return self.plan is not None and not self.plan.models

    def report(self) -> dict[str, Any]:
        report: dict[str, Any] = {"plan": self.plan.to_dict() if self.plan else None,
                                  "tasks": {r.task: r.report() for r in self.results}, "skipped": self.skipped}
        if self.data:
            report["data"] = dict(self.data)
            report["data_fingerprint"] = self.data["fingerprint"]
        return report


def describe_data(transactions: pd.DataFrame) -> dict[str, Any]:
    """What a run judged: the transactions' fingerprint, rows, members and first and last day."""
    timestamps = transactions[contract.TS]
    return {
        "fingerprint": data_fingerprint(transactions),
        "rows": int(len(transactions)),
        "members": int(transactions[contract.MEMBER_ID].nunique()),
        "first_day": timestamps.min().date().isoformat() if len(transactions) else None,
        "last_day": timestamps.max().date().isoformat() if len(transactions) else None,
    }


def choose_for(transactions: pd.DataFrame, config: TrainConfig, horizon_days: int) -> PlanChoice:
    """The planner's choice for one label horizon over the data's span (``training.span_plan``).

    Only the plan fields the user set (``config.model_fields_set``, e.g. from ``--config``) are
    kept as given; the others adapt to the span. ValueError names the user's values when they do not fit.
    """
    first, end = data_span(transactions[contract.TS])
    return choose_plan((end - first).days, horizon_days, config.min_history_days, config.n_train_cutoffs,
                       config.cutoff_step_days, config.model_fields_set & set(PLAN_FIELDS))


def plan_for(transactions: pd.DataFrame, config: TrainConfig, horizon_days: int) -> CutoffPlan:
    """Rolling cut-offs for one label horizon over the data's span, with the choice behind them.

    ValueError when the span holds no model (the choice's reason: baselines only) or the user's
    own values do not fit.
    """
    choice = choose_for(transactions, config, horizon_days)
    if not choice.models:
        raise ValueError(choice.why)
    plan = plan_cutoffs(*data_span(transactions[contract.TS]), horizon_days, choice.n_train_cutoffs,
                        choice.step_days, choice.min_history_days)
    return replace(plan, choice=choice)


def effective_config(config: TrainConfig, plan: CutoffPlan) -> TrainConfig:
    """``config`` with the plan's history, cut-offs and step: what the run used, logged and reproducible."""
    if plan.choice is None:
        return config
    return config.model_copy(update={"min_history_days": plan.choice.min_history_days,
                                     "n_train_cutoffs": plan.choice.n_train_cutoffs,
                                     "cutoff_step_days": plan.choice.step_days})


def prepare_data(transactions: pd.DataFrame, config: TrainConfig, progress: Progress = lambda _: None,
                 plan: CutoffPlan | None = None, build_train: ExamplesBuilder = build_examples) -> TaskData:
    """Build the examples every task of one horizon shares (features are computed once).

    ``plan`` defaults to the run's horizon. ``build_train`` builds the training cut-offs' examples
    (on Spark executors with the Spark engine: ``training.spark_examples``), from each cut-off's
    sample of members when ``config.max_members_per_cutoff`` is set (``training.member_sample``).
    The BG/NBD model at the evaluation cut-off is fitted once, for the evaluation snapshot and the baselines alike. The category history feeds only
    upsell, which learns the run's horizon, so other horizons skip it.
    """
    plan = plan or plan_for(transactions, config, config.horizon_days)
    horizon = plan.horizon_days
    progress(f"building {horizon}-day examples for {len(plan.train)} training cut-offs and evaluation at {plan.evaluation}")
    with_history = contract.CATEGORY in transactions.columns and horizon == config.horizon_days
    train, train_history = training_data(transactions, plan, config, build_train, with_history)
    lifetime = fit_lifetime(transactions, plan.evaluation)
    evaluation = build_examples(transactions, [plan.evaluation], horizon, {plan.evaluation: lifetime})
    history = None
    if train_history is not None:
        history = pd.concat([train_history, build_category_history(transactions, [plan.evaluation], horizon)],
                            ignore_index=True)
    return TaskData(train=train, evaluation=evaluation, feature_names=feature_columns(train), plan=plan,
                    lifetime_at_evaluation=lifetime, category_history=history)


class TaskDatasets:
    """TaskData per label horizon, built on first use and shared by every task of that horizon.

    The run's horizon must fit the data: its shortfall stops the run. A task asking for its own
    horizon (the 12-month value) gets the planner's reason instead when the data cannot hold its
    training windows and a fully observed evaluation window, and its examples are only built
    when they can.
    """

    def __init__(self, transactions: pd.DataFrame, config: TrainConfig, progress: Progress,
                 build_train: ExamplesBuilder = build_examples) -> None:
        self.transactions, self.config, self.progress, self.build_train = transactions, config, progress, build_train
        self._by_horizon: dict[int, TaskData | str] = {}

    def for_task(self, task: Task) -> TaskData | str:
        """The task's data, or why its horizon cannot be evaluated out of time on these transactions."""
        horizon = task.horizon_days(self.config)
        if horizon not in self._by_horizon:
            self._by_horizon[horizon] = self._prepare(horizon)
        return self._by_horizon[horizon]

    def run_plan(self) -> PlanChoice:
        """The run's horizon's choice (ValueError when the user's own values do not fit the span)."""
        return choose_for(self.transactions, self.config, self.config.horizon_days)

    def _prepare(self, horizon: int) -> TaskData | str:
        try:
            plan = plan_for(self.transactions, self.config, horizon)
        except ValueError as shortfall:
            return f"too little data for out-of-time evaluation: {shortfall}"
        return prepare_data(self.transactions, self.config, self.progress, plan, self.build_train)


@dataclass
class _Trained:
    task: Task
    data: TaskData
    config: TrainConfig  # the run's, with the task's horizon
    booster: xgb.Booster
    assessment: Assessment
    decision: Decision
    train_metrics: dict[str, float]
    project: str


def task_config(task: Task, config: TrainConfig) -> TrainConfig:
    """The run's config with the task's horizon, so round selection and the logged params use it."""
    horizon = task.horizon_days(config)
    return config if horizon == config.horizon_days else config.model_copy(update={"horizon_days": horizon})


def fit_and_judge(task: Task, data: TaskData, config: TrainConfig, project: str) -> _Trained:
    """Fit, score beside baselines and the current champion on the same rows, and decide.

    The best baseline is judged with a paired bootstrap of the metric difference over the
    evaluation members (``config.bootstrap_rounds``, seeded by ``config.seed``). The champion is
    the project's own: a model trained on another project's data is never compared.
    """
    config = effective_config(task_config(task, config), data.plan)
    booster = task.fit(data, config)
    assessment = task.assess(booster, data)
    baselines = {name: metrics for name, metrics in assessment.out_of_time.items() if name != "model"}
    interval = None
    if baselines:
        if assessment.gate_metric is None:
            raise TypeError(f"task {task.name} scores baselines but gives the gate no per-row metric")
        interval = promotion_interval(assessment.out_of_time, assessment.predictions, assessment.gate_metric,
                                      task.promotion_metric, config.bootstrap_rounds, config.seed, config.bootstrap_rows)
    champion = catalog.load_booster(task.name, project=project)
    missing = [f for f in (champion.feature_names or []) if f not in data.evaluation.columns] if champion else []
    if champion is not None and not missing:
        assessment.out_of_time["champion"] = task.metrics(champion, data.evaluation, data)
    out_of_time = assessment.out_of_time
    decision = judge(out_of_time["model"], baselines, out_of_time.get("champion"), task.promotion_metric, interval)
    if missing:
        decision = refuse_incomparable(catalog.alias_version(task.name, catalog.CHAMPION, project=project) or "?",
                                       missing, interval)
    return _Trained(task, data, config, booster, assessment, decision, task.metrics(booster, data.train, data), project)


def log_and_gate(trained: _Trained, transactions: pd.DataFrame, load_report: dict[str, Any] | None,
                 fingerprint: str | None, figures: dict[str, bytes]) -> TrainResult:
    """Log the run to the task's experiment, register the model and point ``challenger`` at it.

    ``figures``: the assessment's figures, rendered once (``training.plots.png``) for the run and the page.

    ``champion`` is not moved here: ``commit_champions`` moves every winner's at the end of the run,
    so a failure in between leaves every previous champion serving.
    """
    fingerprint = fingerprint or data_fingerprint(transactions)
    task, data, config, names = trained.task, trained.data, trained.config, list(trained.booster.feature_names or [])
    calibration = trained.assessment.documents.get("calibration.json")
    record = registry.RunRecord(
        task=task.name,
        project=trained.project,
        booster=trained.booster,
        input_example=data.evaluation[names].head(5),
        params={**config.xgb_params, **config.model_dump(exclude={"xgb_params"}), "task": task.name,
                "promotion_metric": task.promotion_metric},
        tags=_run_tags(fingerprint, data.plan, names),
        metrics={**_flat_metrics(trained.assessment.out_of_time, trained.train_metrics, calibration),
                 **trained.decision.metrics()},
        figures=figures,
        documents={"cutoffs.json": data.plan.to_dict(),
                   "plan.json": data.plan.choice.to_dict() if data.plan.choice else {}, "load_report.json": load_report or {},
                   "train_config.json": config.model_dump(mode="json"),  # read_config() takes it back, seed included
                   "decision.json": {**trained.decision.to_dict(), "lifetime_fit": lifetime_fit(data),
                                     "baselines_unavailable": trained.assessment.baselines_unavailable},
                   **trained.assessment.documents},
    )
    logged = registry.log_run(record)
    reference = training_reference(trained, transactions, logged)
    registry.log_document(logged.run_id, reference.to_dict(), REFERENCE_ARTIFACT)
    registry.set_alias(task.name, catalog.CHALLENGER, logged.version, project=trained.project)
    members = {"train_rows": len(data.train), "evaluation_members": len(data.evaluation),
               "members_total": int(transactions[contract.MEMBER_ID].nunique())}
    return TrainResult(task.name, logged.run_id, logged.version, trained.decision, data.plan,
                       trained.assessment.out_of_time, trained.train_metrics, members, names, trained.project,
                       dict(trained.assessment.baselines_unavailable), lifetime_fit(data), calibration, reference)


def training_reference(trained: _Trained, transactions: pd.DataFrame, logged: registry.LoggedModel) -> TrainingReference:
    """The drift profile of a registered version: the features it reads over its newest training
    cut-off's rows, the scores it serves over its out-of-time rows, and the end of the transactions it
    saw (the day after the last), binned as the packaged drift rules bin.

    One cut-off, not all of them stacked: a snapshot is one cross-section of the members, and the
    stacked rows mix in older cut-offs with shorter histories, so features that grow with time
    (tenure, counts over a year) would drift against them even when nothing changed."""
    names, data = list(trained.booster.feature_names or []), trained.data
    data_end = (transactions[contract.TS].max().normalize() + pd.Timedelta(days=1)).date()
    newest = data.train[data.train[CUTOFF_COLUMN] == data.train[CUTOFF_COLUMN].max()]
    return build_reference(trained.task.name, logged.version, logged.run_id, data_end, training_rows=newest,
                           feature_names=names, evaluation_scores=served_scores(trained.task.name, trained.booster,
                                                                                 data.evaluation),
                           bins=read_drift_rules().bins)


def train_tasks(
    transactions: pd.DataFrame,
    config: TrainConfig,
    tasks: Sequence[Task],
    load_report: dict[str, Any] | None = None,
    progress: Progress = lambda _: None,
    page: Callable[[TrainingRun, dict[str, dict[str, bytes]]], str] | None = None,
    *,
    project: str,
    commit: bool = True,
    build_train: ExamplesBuilder = build_examples,
) -> TrainingRun:
    """Train every task the data allows on shared examples; log each to its project's experiment.

    Tasks of one horizon share one set of examples (``TaskDatasets``). ``page`` renders the
    evaluation page (HTML) from the run and the figures; it is logged to every task's run.
    With ``commit`` the winners become champions at the end (``commit_champions``); without it
    the caller commits them together with what else must change at once (``memberscore train``:
    the snapshot and the BentoML cache). ``build_train`` builds the training cut-offs' examples.
    """
    datasets = TaskDatasets(transactions, config, progress, build_train)
    plan = datasets.run_plan()
    run, trained = TrainingRun(plan=plan, data=describe_data(transactions)), []
    progress(f"plan: {plan.why}")
    for task in tasks:
        data = datasets.for_task(task) if not run.baselines_only else f"baselines only: {plan.why}"
        reason = data if isinstance(data, str) else task.unavailable(data)
        if reason:
            run.skipped[task.name] = reason
            progress(f"{task.name}: skipped ({reason})")
            continue
        assert isinstance(data, TaskData)
        progress(f"{task.name}: fitting XGBoost on {len(data.train):,} rows, scoring baselines")
        trained.append(fit_and_judge(task, data, config, project))
    figures = {t.task.name: {name: png(figure) for name, figure in t.assessment.figures.items()} for t in trained}
    progress("logging the runs to MLflow")
    for item in trained:
        run.results.append(log_and_gate(item, transactions, load_report, run.data["fingerprint"], figures[item.task.name]))
    if page is not None and run.results:
        html = page(run, figures)
        for result in run.results:
            registry.log_text(result.run_id, html, "evaluation.html")
    if commit:
        commit_champions(run, project=project)
    return run


def _run_tags(fingerprint: str, plan: CutoffPlan, names: list[str]) -> dict[str, str]:
    return {
        "data_fingerprint": fingerprint,
        "cutoffs": ",".join(d.isoformat() for d in plan.train),
        "evaluation_cutoff": plan.evaluation.isoformat(),
        "horizon_days": str(plan.horizon_days),
        "feature_list": ",".join(names),
        **({"plan_adapted": str(plan.choice.adapted).lower(), "plan_why": plan.choice.why} if plan.choice else {}),
    }


def lifetime_fit(data: TaskData) -> dict[str, Any]:
    """How BG/NBD and Gamma-Gamma were fitted at the evaluation cut-off: the L2 penalizer each
    converged with (0: the plain MLE) and why any is missing."""
    lifetime = data.lifetime_at_evaluation
    if lifetime is None:
        return {"penalizers": {}, "unavailable": {"bgnbd": data.bgnbd_missing()}}
    return {"penalizers": dict(lifetime.penalizers), "unavailable": dict(lifetime.unavailable)}


def _flat_metrics(out_of_time: dict[str, dict[str, float]], train: dict[str, float],
                  calibration: dict[str, Any] | None = None) -> dict[str, float]:
    """``oot_<scorer>_<metric>``, ``train_model_<metric>``, and ``oot_model_<metric>_uncalibrated``
    (the model before its calibration, e.g. ``oot_model_ece_uncalibrated``)."""
    flat = {f"oot_{scorer}_{metric}": value for scorer, metrics in out_of_time.items() for metric, value in metrics.items()}
    flat.update({f"train_model_{metric}": value for metric, value in train.items()})
    if calibration is not None:
        flat.update({f"oot_model_{metric}_uncalibrated": value for metric, value in calibration["before"].items()})
        flat.update({f"oot_model_{metric}": value for metric, value in calibration["after"].items()
                     if f"oot_model_{metric}" not in flat})  # e.g. ece_7d, ece_90d of next purchase
    return flat
