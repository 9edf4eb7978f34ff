"""``memberscore train``: fit every model the data allows, promote the winners, write the snapshot."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cli.data import end_of_data, held_by_a_service, held_warning, keep_history, load_for_command, serving_snapshot
from cli.kpis import store_kpis
from cli.options import (
    ConfigOption,
    LangOption,
    MappingOption,
    Progress,
    ProjectOption,
    RejectsOption,
    TransactionsOption,
    WaitOption,
    command_settings,
    one_line_errors,
    project_lock,
)
from features.i18n import Language, Translator, parse_language, translator
from features.project import DEFAULT_PROJECT
from features.sealed import write_private_text

if TYPE_CHECKING:
    import pandas as pd

    from features.load_report import LoadReport
    from features.settings import Settings
    from features.snapshot import Snapshot
    from training.config import TrainConfig
    from training.pipeline import TrainingRun


@one_line_errors
def train(
    transactions: TransactionsOption,
    mapping: MappingOption = None,
    horizon_days: Annotated[int | None, typer.Option(help="label horizon H in days (default 90)")] = None,
    config: ConfigOption = None,
    report: Annotated[Path | None, typer.Option(help="write the JSON report here (and the HTML page beside it)")] = None,
    rejects: RejectsOption = None,
    skip_if_champion: Annotated[bool, typer.Option(help="do nothing when a churn champion and a snapshot exist")] = False,
    project: ProjectOption = DEFAULT_PROJECT,
    wait: WaitOption = 0.0,
    lang: LangOption = None,
) -> None:
    """Train every model the data allows on rolling cut-offs, log each to MLflow, promote the winners.

    All or nothing: the winners' champion aliases, the snapshot and the BentoML import change
    together at the end; any failure before leaves the previous champions and snapshot serving.
    One run at a time per project (a lock beside its snapshot directory). ``--lang`` is the language
    of the summary and of the HTML report beside ``--report``.
    """
    from features.store import latest_snapshot_path, project_snapshot_dir
    from models import catalog
    from serving.artefacts import import_champions
    from training.config import read_config

    language = parse_language(lang)  # refused before any work (LangOption): a typo must not cost a training run
    words = translator(language)
    progress = Progress()
    settings = command_settings()
    catalog.configure_tracking(settings.mlflow_tracking_uri)
    directory = project_snapshot_dir(settings.snapshot_dir, project)
    with project_lock(settings, project, wait):
        champion = catalog.alias_version("churn", catalog.CHAMPION, project=project)
        if skip_if_champion and champion and latest_snapshot_path(directory):
            import_champions(project=project)
            typer.echo(words.gettext("champion {model} v{version} exists; training skipped").format(
                model=catalog.model_name("churn", project=project), version=champion))
            return
        train_config = read_config(config, horizon_days=horizon_days)
        frame, load_report = load_for_command(transactions, mapping, rejects, progress, words)
        if report is not None and not report.parent.is_dir():
            raise ValueError(f"--report {report}: directory {report.parent} does not exist")
        uncommitted = train_and_commit(frame, load_report, train_config, project, settings, progress, language)
    if report is not None:
        key = settings.encryption_key()
        write_private_text(report, json.dumps(run_report(uncommitted.run, uncommitted.load_report, project), indent=2), key)
        if uncommitted.pages:
            write_private_text(report.with_suffix(".html"), uncommitted.pages[-1], key)
    typer.echo(train_summary(uncommitted.run, uncommitted.snapshot.profile, words))


class TrainingFailed(ValueError):
    """A run failed before or during its commit step: nothing it trained serves (one line, exit 2)."""


@dataclass(frozen=True)
class Uncommitted:
    """A finished run whose champions, snapshot and store import are not yet committed."""

    run: TrainingRun
    snapshot: Snapshot
    load_report: LoadReport
    pages: list[str]
    frame: pd.DataFrame  # the transactions, for the KPIs stored beside the snapshot
    horizon_days: int  # H of the run: what the kept scores' probabilities speak of


def train_and_commit(frame: pd.DataFrame, load_report: LoadReport, train_config: TrainConfig, project: str,
                     settings: Settings, progress: Progress, lang: Language = "en",
                     only: Collection[str] | None = None) -> Uncommitted:
    """A whole training run on loaded data: fit, commit (champions and snapshot as one), then keep the
    served scores and the KPIs. ``only`` limits the tasks fitted (``memberscore refresh`` retrains what
    its rules name); the other champions keep serving. The caller holds the project's lock."""
    from features.store import project_snapshot_dir

    directory = project_snapshot_dir(settings.snapshot_dir, project)
    words = translator(lang)
    uncommitted = _train_uncommitted(frame, load_report, train_config, project, directory, settings, progress, lang, only)
    _commit_run(uncommitted.run, uncommitted.snapshot, directory, project, settings, progress, words)
    keep_history(uncommitted.snapshot, project, uncommitted.horizon_days, settings, progress, words)
    store_kpis(uncommitted.frame, uncommitted.snapshot.as_of, directory, settings, progress)
    return uncommitted


def _train_uncommitted(frame: pd.DataFrame, load_report: LoadReport, train_config: TrainConfig, project: str,
                       directory: Path, settings: Settings, progress: Progress, lang: Language = "en",
                       only: Collection[str] | None = None) -> Uncommitted:
    """Check what can be checked, fit and log every task (or those in ``only``), build the snapshot:
    everything but the commit.

    The plan is checked before any fitting; a failure after it is reported as ``TrainingFailed``
    naming what failed.
    """
    from features.store import previous_tiers
    from serving.sources import baseline_outputs, require_served
    from training.commit import promoted_tasks
    from training.pipeline import TaskDatasets, train_tasks
    from training.report_page import render_report_page
    from training.spark_training import examples_for_engine, tasks_for_engine
    from training.tasks import all_tasks

    TaskDatasets(frame, train_config, progress).run_plan()  # the user's plan values must fit the span
    tasks = [task for task in all_tasks() if only is None or task.name in only]
    pages: list[str] = []

    def page(run: TrainingRun, figures: Mapping[str, Mapping[str, bytes]]) -> str:
        pages.append(render_report_page(run_report(run, load_report, project), figures, lang=lang))
        return pages[-1]

    step = "training"
    try:
        run = train_tasks(frame, train_config, tasks_for_engine(tasks, settings.engine, settings.spark_master), load_report.to_dict(), progress, page,
                          project=project, commit=False,
                          build_train=examples_for_engine(settings.engine, settings.spark_master))
        step = "building the snapshot"
        as_of = end_of_data(frame)
        built = serving_snapshot(frame, as_of, train_config, settings.segment_rules,
                                 previous_tiers(directory, as_of, settings.encryption_key()), settings.tier_programme)
        require_served(built.profile, as_of, train_config.horizon_days,
                       baseline_outputs(promoted_tasks(run, project=project)))
    except Exception as error:
        raise TrainingFailed(f"{step} failed, nothing committed (the previous champions and snapshot keep serving): "
                             f"{type(error).__name__}: {error}") from error
    return Uncommitted(run, built, load_report, pages, frame, train_config.horizon_days)


def _commit_run(run: TrainingRun, built: Snapshot, directory: Path, project: str, settings: Settings,
                progress: Progress, words: Translator | None = None) -> None:
    """The commit step: store every version's drift reference and cache the winners in the BentoML store,
    then move every winner's champion alias and write the snapshot as one (the aliases go back should
    the write fail)."""
    from features import store
    from features.drift_reference import write_reference
    from serving.artefacts import import_version
    from training.commit import commit_champions

    written: list[Path] = []
    try:
        for result in run.results:  # every registered version, so a later `promote` of one finds its profile
            if result.reference is not None:
                write_reference(result.reference, directory)
        for result in run.results:
            if result.decision.promote:
                model = import_version(result.task, result.version, project=project)
                progress(f"{result.task}: v{result.version} in the BentoML store as {model.tag}")
        key = settings.encryption_key()
        commit_champions(run, project=project,
                         then=lambda: written.append(store.write_snapshot(built, directory, key=key)))
    except Exception as error:
        raise TrainingFailed(f"commit failed, nothing committed (the previous champions and snapshot keep serving): "
                             f"{type(error).__name__}: {error}") from error
    progress(f"champions moved; snapshot written to {written[0]}")
    if held := held_by_a_service(written[0], settings.min_snapshot_ratio, settings.encryption_key()):
        typer.echo(held_warning(held, words or translator()), err=True)


def run_report(run: TrainingRun, load_report: LoadReport, project: str) -> dict[str, object]:
    """The JSON report: the project, what was judged (data: file, rows, members, days, fingerprint),
    every task's out-of-time metrics beside its baselines, and the load report.

    The churn task's fields are also at the top level, as the foundation's report had them.
    """
    tasks = run.report()
    churn = tasks["tasks"].get("churn", {})
    data = {"transactions": Path(load_report.source).name, **tasks.get("data", {})}
    return {**churn, "project": project, **tasks, "data": data, "load": load_report.to_dict()}


def train_summary(run: TrainingRun, profile: pd.DataFrame, words: Translator | None = None) -> str:
    """Each task's metrics and decision, after what the plan chose and why (and, with baselines
    only, what serves), in ``words``' language (default English).

    Tasks are named by their codes in English (scripts read them) and by their names otherwise;
    metric codes, and the planner's and the promotion gate's computed reasons, stay as they are.
    """
    from models.baselines import baseline_name

    words = words or translator()
    plan = run.plan
    lines = [words.gettext("plan: {why}").format(why=plan.why)] if plan is not None else []
    if run.baselines_only:
        served = ", ".join(f"{task}=baseline:{baseline_name(task, profile)}" for task in ("churn", "next_purchase", "value"))
        lines.append(words.gettext("baselines only: no model trained; the snapshot serves {served}").format(served=served))
    for result in run.results:
        evaluated = words.ngettext("{task}: run {run_id}, v{version}, evaluated at {evaluation} on {count} member",
                                   "{task}: run {run_id}, v{version}, evaluated at {evaluation} on {count} members",
                                   result.members["evaluation_members"])
        lines.append(evaluated.format(task=_task(result.task, words), run_id=result.run_id, version=result.version,
                                      evaluation=result.plan.evaluation,
                                      count=words.number(result.members["evaluation_members"])))
        for scorer, metrics in result.out_of_time.items():
            shown = "  ".join(f"{name} {value:.4f}" for name, value in metrics.items() if name not in ("n", "base_rate"))
            lines.append(f"  {scorer:<22} {shown}")
        left_out = words.gettext("left out: {why}")
        lines.extend(f"  {scorer:<22} {left_out.format(why=why)}" for scorer, why in result.baselines_unavailable.items())
        lines.append(f"  {result.decision.reason}")
    if not run.baselines_only:
        lines.extend(words.gettext("{task}: skipped ({why})").format(task=_task(task, words), why=why)
                     for task, why in run.skipped.items())
    return "\n".join(lines)


def _task(code: str, words: Translator) -> str:
    """A task as the summary names it: its code in English, its name (context ``task``) in another language."""
    from features.value_names import english_name

    return code if words.language == "en" else words.pgettext("task", english_name(code))
