"""The ``memberscore`` command: the edge where files, MLflow and the service are wired together.

Commands live beside their kin (``cli_service``: serve, keys, build; ``cli_targets``: targets) and
are registered on ``app`` here; ``cli_common`` holds what they share.
"""

from __future__ import annotations

import json
import time
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from features.project import DEFAULT_PROJECT
from serving.cli_common import (
    ConfigOption,
    MappingOption,
    Progress,
    ProjectOption,
    RejectsOption,
    TransactionsOption,
    champion_boosters,
    end_of_data,
    load_for_command,
    one_line_errors,
    parse_date,
)
from serving.cli_models import register_model_commands
from serving.cli_service import build, create_key, keys, serve
from serving.cli_targets import targets

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Value loyalty members from their purchases.")


@app.command()
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
    wait: Annotated[float, typer.Option(help="seconds to wait for another run on the project to finish (default: refuse)")] = 0.0,
) -> None:
    """Train every model the data allows on rolling cut-offs, log each to MLflow, promote the winners.

    All or nothing: the winners' champion aliases, the snapshot and the BentoML import change
    together at the end; any failure before leaves the previous champions and snapshot serving.
    One run at a time per project (a lock beside its snapshot directory).
    """
    from features.store import default_snapshot_dir, latest_snapshot_path, project_snapshot_dir
    from serving.artefacts import import_champions
    from training import registry
    from training.commit import lock_path, run_lock

    progress = Progress()
    registry.configure_tracking()
    directory = project_snapshot_dir(default_snapshot_dir(), project)
    with run_lock(lock_path(directory), wait):
        champion = registry.alias_version("churn", registry.CHAMPION, project=project)
        if skip_if_champion and champion and latest_snapshot_path(directory):
            import_champions(project=project)
            typer.echo(f"champion {registry.model_name('churn', project=project)} v{champion} exists; training skipped")
            return
        run, built, load_report, pages = _train_uncommitted(transactions, mapping, rejects, config, horizon_days,
                                                            report, project, progress)
        _commit_run(run, built, directory, project, progress)
    if report is not None:
        report.write_text(json.dumps(_report(run, load_report, project), indent=2))
        if pages:
            report.with_suffix(".html").write_text(pages[-1], encoding="utf-8")
    typer.echo(_train_summary(run, built.profile))


class TrainingFailed(ValueError):
    """A run failed before its commit step: nothing it trained serves (one line, exit 2)."""


def _train_uncommitted(transactions: Path, mapping: Path | None, rejects: Path | None, config: Path | None,
                       horizon_days: int | None, report: Path | None, project: str,
                       progress: Progress) -> tuple[Any, Any, Any, list[str]]:
    """Check what can be checked, fit and log every task, build the snapshot: everything but the commit.

    The input contract, the config, the report's directory and the plan are checked before any
    fitting; a failure after them is reported as ``TrainingFailed`` naming what failed.
    """
    from features.store import default_snapshot_dir, previous_tiers, project_snapshot_dir
    from serving.sources import baseline_outputs, require_served
    from training.commit import promoted_tasks
    from training.config import read_config
    from training.pipeline import TaskDatasets, train_tasks
    from training.report_page import render_report_page
    from training.spark_training import tasks_for_engine
    from training.tasks import all_tasks

    train_config = read_config(config, horizon_days=horizon_days)
    frame, load_report = load_for_command(transactions, mapping, rejects, progress)
    if report is not None and not report.parent.is_dir():
        raise ValueError(f"--report {report}: directory {report.parent} does not exist")
    TaskDatasets(frame, train_config, progress).run_plan()  # the user's plan values must fit the span
    pages: list[str] = []

    def page(run: Any, figures: dict[str, Any]) -> str:
        pages.append(render_report_page(_report(run, load_report, project), figures))
        return pages[-1]

    step = "training"
    try:
        run = train_tasks(frame, train_config, tasks_for_engine(all_tasks()), load_report.to_dict(), progress, page,
                          project=project, commit=False)
        step = "building the snapshot"
        as_of = end_of_data(frame)
        directory = project_snapshot_dir(default_snapshot_dir(), project)
        built = _serving_snapshot(frame, as_of, train_config, previous_tiers(directory, as_of))
        require_served(built.profile, as_of, train_config.horizon_days,
                       baseline_outputs(promoted_tasks(run, project=project)))
    except Exception as error:  # noqa: BLE001 - any failure before the commit leaves everything as it was
        raise TrainingFailed(f"{step} failed, nothing committed (the previous champions and snapshot keep serving): "
                             f"{type(error).__name__}: {error}") from error
    return run, built, load_report, pages


def _commit_run(run: Any, built: Any, directory: Path, project: str, progress: Progress) -> None:
    """The commit step: cache the winners in the BentoML store, then move every winner's champion alias
    and write the snapshot as one (the aliases go back should the write fail)."""
    from features.store import write_snapshot
    from serving.artefacts import import_version
    from training.commit import commit_champions

    written: list[Path] = []
    try:
        for result in run.results:
            if result.decision.promote:
                model = import_version(result.task, result.version, project=project)
                progress(f"{result.task}: v{result.version} in the BentoML store as {model.tag}")
        commit_champions(run, project=project, then=lambda: written.append(write_snapshot(built, directory)))
    except Exception as error:  # noqa: BLE001 - say in one line what failed; the aliases are already restored
        raise TrainingFailed(f"commit failed, nothing committed (the previous champions and snapshot keep serving): "
                             f"{type(error).__name__}: {error}") from error
    progress(f"champions moved; snapshot written to {written[0]}")
    if held := _held_by_a_service(written[0]):
        typer.echo(f"warning: a running service will keep its snapshot: {held}", err=True)


def _report(run: Any, load_report: Any, project: str) -> dict[str, Any]:
    """The JSON report: the project, what was judged (data: file, rows, members, days, fingerprint),
    every task's out-of-time metrics beside its baselines, and the load report.

    The churn task's fields are also at the top level, as the foundation's report had them.
    """
    tasks = run.report()
    churn = tasks["tasks"].get("churn", {})
    data = {"transactions": Path(load_report.source).name, **tasks.get("data", {})}
    return {**churn, "project": project, **tasks, "data": data, "load": load_report.to_dict()}


def _train_summary(run: Any, profile: Any) -> str:
    """Each task's metrics and decision, after what the plan chose and why (and, with baselines
    only, what serves)."""
    from training.serving_baselines import baseline_name

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


@app.command()
@one_line_errors
def snapshot(
    transactions: TransactionsOption,
    mapping: MappingOption = None,
    as_of: Annotated[str | None, typer.Option(help="YYYY-MM-DD (default: the day after the last row)")] = None,
    rejects: RejectsOption = None,
    config: ConfigOption = None,
    project: ProjectOption = DEFAULT_PROJECT,
    allow_shrink: Annotated[bool, typer.Option("--allow-shrink", help="mark a snapshot with far fewer members than "
                                               "the one served as intended, so a running service takes it")] = False,
) -> None:
    """Write every member's features as of a date into the project's snapshot store (no retraining).

    Tiers keep the downgrade grace: the newest older snapshot in the store gives last period's tiers.
    The churn and upsell baselines (served where a task has no champion) are refitted on the
    snapshot's latest complete H-day window. A running service holds its snapshot against one with
    fewer than half its members (``MEMBERSCORE_MIN_SNAPSHOT_RATIO``) unless ``--allow-shrink``.
    """
    from training.config import read_config

    progress = Progress()
    frame, _ = load_for_command(transactions, mapping, rejects, progress)
    cutoff = parse_date(as_of) if as_of else end_of_data(frame)
    built, path = _store_snapshot(frame, cutoff, read_config(config), project, allow_shrink)
    held = _held_by_a_service(path)
    if held:
        typer.echo(f"warning: a running service will keep its snapshot: {held}", err=True)
    typer.echo(f"snapshot as of {cutoff}: {len(built.frame):,} members -> {path}"
               + (" (marked as an intended shrink)" if allow_shrink else ""))


def _held_by_a_service(path: Path) -> str | None:
    """Why a service would hold this snapshot back (far fewer members than the one before it), or None.

    Said when the snapshot is written, so a partial file is noticed before anyone asks the service.
    """
    import os

    from features.store import previous_snapshot_path, snapshot_facts
    from serving.live import DEFAULT_MIN_SNAPSHOT_RATIO, MIN_SNAPSHOT_RATIO_ENV, parse_min_snapshot_ratio, shrink_problem

    facts = snapshot_facts(path)
    older = previous_snapshot_path(path.parent, facts.as_of)
    if older is None:
        return None
    ratio = parse_min_snapshot_ratio(os.environ.get(MIN_SNAPSHOT_RATIO_ENV, str(DEFAULT_MIN_SNAPSHOT_RATIO)))
    return shrink_problem(facts, older, snapshot_facts(older).members, ratio)


def _store_snapshot(frame: Any, as_of: date, config: Any, project: str, allow_shrink: bool = False,
                    champions: Any = None) -> tuple[Any, Path]:
    """Build the serving snapshot as of ``as_of``, with its baselines, and write it to the project's store.

    The newest stored snapshot older than ``as_of`` supplies last period's tiers, so a member
    keeps a higher tier while their spend stays within the grace (segment_rules.yaml, tiers).
    With ``champions`` (the tasks that have one), a snapshot that could not serve churn, next
    purchase or value (no champion, no baseline, no BG/NBD) is refused before it is written.
    """
    from features.store import default_snapshot_dir, previous_tiers, project_snapshot_dir, write_snapshot
    from serving.sources import baseline_outputs, require_served

    directory = project_snapshot_dir(default_snapshot_dir(), project)
    built = _serving_snapshot(frame, as_of, config, previous_tiers(directory, as_of))
    if champions is not None:
        require_served(built.profile, as_of, config.horizon_days, baseline_outputs(champions))
    return built, write_snapshot(built, directory, allow_shrink)


def _serving_snapshot(frame: Any, as_of: date, config: Any, tiers: Any = None) -> Any:
    """The snapshot as of ``as_of`` with the churn and upsell baselines it serves when a task has no champion."""
    from features.snapshot import build_snapshot
    from training.serving_baselines import with_serving_baselines

    return with_serving_baselines(frame, build_snapshot(frame, as_of, previous_tiers=tiers), config)


@app.command()
@one_line_errors
def score(
    transactions: TransactionsOption,
    as_of: Annotated[str, typer.Option(help="YYYY-MM-DD: only rows before this date are used")],
    out: Annotated[Path, typer.Option(help="output file, .csv or .parquet")],
    mapping: MappingOption = None,
    rejects: RejectsOption = None,
    config: ConfigOption = None,
    horizon_days: Annotated[int | None, typer.Option(help="H of the baselines fitted here (default: the config's, else 90)")] = None,
    project: ProjectOption = DEFAULT_PROJECT,
) -> None:
    """Score every member with a purchase before --as-of with every champion model of the project.

    A task without a champion is scored by its baseline (BG/NBD for timing and value; the best of
    the RFM rule, recency over gap and BG/NBD for churn; popular new categories or the RFM rule for
    upsell), as the service does; BG/NBD is the last resort. The ``served_by`` column says which.
    Fails with one line when not even BG/NBD can be fitted and no champion serves.
    """
    from features.spreadsheet import write_csv_safely
    from serving.scoring import OUTPUT_COLUMNS, score_frame
    from serving.sources import require_served, served_by, summary, task_sources
    from training import registry
    from training.config import read_config

    if out.suffix not in (".csv", ".parquet"):
        raise ValueError(f"--out {out}: expected a .csv or .parquet file")
    cutoff = parse_date(as_of)
    progress = Progress()
    models = champion_boosters(project)
    versions = {task: registry.alias_version(task, registry.CHAMPION, project=project) or "?" for task in models}
    frame, _ = load_for_command(transactions, mapping, rejects, progress)
    train_config = read_config(config, horizon_days=horizon_days)
    built = _serving_snapshot(frame, cutoff, train_config)
    scores = score_frame(models, built.model_inputs(), built.profile, cutoff)
    require_served(scores, cutoff, train_config.horizon_days)
    sources = task_sources(versions, built.profile)
    scores = scores.assign(served_by=served_by(scores, sources))[[*OUTPUT_COLUMNS, "served_by"]]
    out.parent.mkdir(parents=True, exist_ok=True)
    write_csv_safely(scores, out) if out.suffix == ".csv" else scores.to_parquet(out, index=False)
    typer.echo(f"scored {len(scores):,} members as of {cutoff}: {summary(sources, scores)} -> {out}")


@app.command()
@one_line_errors
def simulate(
    members: Annotated[int, typer.Option(help="members to simulate (>= 1)")],
    out: Annotated[Path, typer.Option(help="output file, .csv or .parquet; the planted truth goes beside it")],
    seed: Annotated[int, typer.Option(help="random seed: the same seed writes the same file")] = 0,
    start: Annotated[str, typer.Option(help="first day, YYYY-MM-DD")] = "2023-01-01",
    days: Annotated[int, typer.Option(help="days of history (>= 1)")] = 730,
) -> None:
    """Write synthetic transactions with known behaviour (BG/NBD, Gamma-Gamma, affinities, returns, seasons)."""
    from features.retail_simulation import simulate_retail, write_simulation

    if members < 1:
        raise ValueError(f"--members {members}: must be at least 1")
    if days < 1:
        raise ValueError(f"--days {days}: must be at least 1")
    if out.suffix not in (".csv", ".parquet"):
        raise ValueError(f"--out {out}: expected a .csv or .parquet file")
    first_day = parse_date(start, option="--start")
    started = time.perf_counter()
    transactions, truth = simulate_retail(members, first_day, days, seed)
    truth_file = write_simulation(transactions, truth, out)
    returns = int((transactions["amount"] < 0).sum())
    typer.echo(f"simulated {members:,} members, {len(transactions):,} lines ({returns:,} returns) from {first_day} "
               f"over {days} days in {time.perf_counter() - started:.1f} s -> {out} (truth: {truth_file})")


@app.command()
@one_line_errors
def validate(transactions: TransactionsOption, mapping: MappingOption = None, rejects: RejectsOption = None,
             project: ProjectOption = DEFAULT_PROJECT) -> None:
    """Load and check a transactions file without training; print the load report as JSON.

    Exit 0 when some rows are usable; exit 2 with one line when none are or the file cannot be read.
    ``--project`` is accepted (and checked) so a script can pass it to every command; nothing is stored.
    """
    _, load_report = load_for_command(transactions, mapping, rejects, Progress())
    typer.echo(json.dumps(load_report.to_dict(), indent=2))


app.command()(serve)
app.command()(build)
app.command()(targets)
app.add_typer(keys, name="keys")
keys.command("create")(create_key)
register_model_commands(app)


if __name__ == "__main__":
    app()
