"""``memberscore train``: fit every model the data allows, promote the winners, write the snapshot."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cli.data import end_of_data, held_by_a_service, load_for_command, store_snapshot
from cli.options import (
    ConfigOption,
    MappingOption,
    Progress,
    ProjectOption,
    RejectsOption,
    TransactionsOption,
    one_line_errors,
)
from features.project import DEFAULT_PROJECT

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

    from features.load_report import LoadReport
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
) -> None:
    """Train every model the data allows on rolling cut-offs, log each to MLflow, promote the winners."""
    from features.store import default_snapshot_dir, latest_snapshot_path, project_snapshot_dir
    from models import catalog
    from models.tasks import TASK_NAMES
    from serving.artefacts import import_champions
    from training.config import read_config
    from training.pipeline import train_tasks
    from training.report_page import render_report_page
    from training.spark_training import tasks_for_engine
    from training.tasks import all_tasks

    progress = Progress()
    catalog.configure_tracking()
    champion = catalog.alias_version("churn", catalog.CHAMPION, project=project)
    if skip_if_champion and champion and latest_snapshot_path(project_snapshot_dir(default_snapshot_dir(), project)):
        import_champions(project=project)
        typer.echo(f"champion {catalog.model_name('churn', project=project)} v{champion} exists; training skipped")
        return
    train_config = read_config(config, horizon_days=horizon_days)
    frame, load_report = load_for_command(transactions, mapping, rejects, progress)
    pages: list[str] = []

    def page(run: TrainingRun, figures: Mapping[str, Mapping[str, Figure]]) -> str:
        pages.append(render_report_page(run_report(run, load_report, project), figures))
        return pages[-1]

    run = train_tasks(frame, train_config, tasks_for_engine(all_tasks()), load_report.to_dict(), progress, page,
                      project=project)
    champions = {task for task in TASK_NAMES if catalog.alias_version(task, catalog.CHAMPION, project=project)}
    built, snapshot_path = store_snapshot(frame, end_of_data(frame), train_config, project, champions=champions)
    progress(f"snapshot written to {snapshot_path}")
    if held := held_by_a_service(snapshot_path):
        typer.echo(f"warning: a running service will keep its snapshot: {held}", err=True)
    for task, model in import_champions(project=project).items():
        progress(f"{task}: champion in the BentoML store as {model.tag}")
    if report is not None:
        report.write_text(json.dumps(run_report(run, load_report, project), indent=2))
        if pages:
            report.with_suffix(".html").write_text(pages[-1], encoding="utf-8")
    typer.echo(train_summary(run, built.profile))


def run_report(run: TrainingRun, load_report: LoadReport, project: str) -> dict[str, object]:
    """The JSON report: the project, what was judged (data: file, rows, members, days, fingerprint),
    every task's out-of-time metrics beside its baselines, and the load report.

    The churn task's fields are also at the top level, as the foundation's report had them.
    """
    tasks = run.report()
    churn = tasks["tasks"].get("churn", {})
    data = {"transactions": Path(load_report.source).name, **tasks.get("data", {})}
    return {**churn, "project": project, **tasks, "data": data, "load": load_report.to_dict()}


def train_summary(run: TrainingRun, profile: pd.DataFrame) -> str:
    """Each task's metrics and decision, after what the plan chose and why (and, with baselines
    only, what serves)."""
    from models.baselines import baseline_name

    plan = run.plan
    lines = [f"plan: {plan.why}"] if plan is not None else []
    if run.baselines_only:
        served = ", ".join(f"{task}=baseline:{baseline_name(task, profile)}" for task in ("churn", "next_purchase", "value"))
        lines.append(f"baselines only: no model trained; the snapshot serves {served}")
    for result in run.results:
        lines.append(f"{result.task}: run {result.run_id}, v{result.version}, evaluated at {result.plan.evaluation} "
                     f"on {result.members['evaluation_members']:,} members")
        for scorer, metrics in result.out_of_time.items():
            shown = "  ".join(f"{name} {value:.4f}" for name, value in metrics.items() if name not in ("n", "base_rate"))
            lines.append(f"  {scorer:<22} {shown}")
        lines.extend(f"  {scorer:<22} left out: {why}" for scorer, why in result.baselines_unavailable.items())
        lines.append(f"  {result.decision.reason}")
    lines.extend(f"{task}: skipped ({why})" for task, why in run.skipped.items() if not run.baselines_only)
    return "\n".join(lines)
