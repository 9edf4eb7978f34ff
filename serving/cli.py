"""The ``memberscore`` command: the edge where files, MLflow and the service are wired together."""

from __future__ import annotations

import functools
import json
import os
import sys
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True, help="Value loyalty members from their purchases.")
F = TypeVar("F", bound=Callable[..., Any])

TransactionsOption = Annotated[Path, typer.Option("--transactions", help="CSV or Parquet transactions")]
MappingOption = Annotated[Path | None, typer.Option("--mapping", help="YAML column mapping onto the contract")]
RejectsOption = Annotated[Path | None, typer.Option("--rejects", help="where rejected rows go (CSV)")]


class NotReady(Exception):
    """A step the command needs has not happened yet (e.g. no champion model)."""


def one_line_errors(command: F) -> F:
    """Turn expected failures into one line on stderr and exit code 2, never a traceback."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except (ValueError, FileNotFoundError, NotReady) as error:
            typer.echo(f"error: {error}".splitlines()[0], err=True)
            raise typer.Exit(code=2) from None

    return wrapper  # type: ignore[return-value]


class Progress:
    """Prints each long step with the time since the command started."""

    def __init__(self) -> None:
        self.started = time.perf_counter()

    def __call__(self, message: str) -> None:
        typer.echo(f"[{time.perf_counter() - self.started:6.1f}s] {message}", err=True)


def _load(transactions: Path, mapping: Path | None, rejects: Path | None, progress: Progress) -> tuple[Any, Any]:
    from features.contract import read_mapping
    from features.load import load_transactions

    progress(f"loading {transactions}")
    frame, report = load_transactions(transactions, read_mapping(mapping), rejects_path=rejects)
    progress(report.summary() + (f"; rejected rows in {report.rejects_path}" if report.rejects_path else ""))
    if frame.empty:
        raise ValueError(f"{transactions}: no usable rows ({report.summary()})")
    return frame, report


def _end_of_data(frame: Any) -> date:
    """The day after the last transaction: a snapshot as of it sees every row."""
    from features import contract

    return frame[contract.TS].max().date() + timedelta(days=1)


@app.command()
@one_line_errors
def train(
    transactions: TransactionsOption,
    mapping: MappingOption = None,
    horizon_days: Annotated[int | None, typer.Option(help="label horizon H in days (default 90)")] = None,
    config: Annotated[Path | None, typer.Option(help="TrainConfig YAML")] = None,
    report: Annotated[Path | None, typer.Option(help="write the JSON report here (and the HTML page beside it)")] = None,
    rejects: RejectsOption = None,
    skip_if_champion: Annotated[bool, typer.Option(help="do nothing when a churn champion and a snapshot exist")] = False,
) -> None:
    """Train every model the data allows on rolling cut-offs, log each to MLflow, promote the winners."""
    from features.snapshot import build_snapshot
    from features.store import default_snapshot_dir, latest_snapshot_path, write_snapshot
    from serving.artefacts import import_champions
    from training import registry
    from training.config import read_config
    from training.pipeline import train_tasks
    from training.report_page import render_report_page
    from training.tasks import all_tasks

    progress = Progress()
    registry.configure_tracking()
    champion = registry.alias_version("churn", registry.CHAMPION)
    if skip_if_champion and champion and latest_snapshot_path(default_snapshot_dir()):
        import_champions()
        typer.echo(f"champion {registry.model_name('churn')} v{champion} exists; training skipped")
        return
    train_config = read_config(config, horizon_days=horizon_days)
    frame, load_report = _load(transactions, mapping, rejects, progress)
    pages: list[str] = []

    def page(run: Any, figures: dict[str, Any]) -> str:
        pages.append(render_report_page(_report(run, load_report), figures))
        return pages[-1]

    run = train_tasks(frame, train_config, all_tasks(), load_report.to_dict(), progress, page)
    snapshot_path = write_snapshot(build_snapshot(frame, _end_of_data(frame)), default_snapshot_dir())
    progress(f"snapshot written to {snapshot_path}")
    for task, model in import_champions().items():
        progress(f"{task}: champion in the BentoML store as {model.tag}")
    if report is not None:
        report.write_text(json.dumps(_report(run, load_report), indent=2))
        if pages:
            report.with_suffix(".html").write_text(pages[-1], encoding="utf-8")
    typer.echo(_train_summary(run))


def _report(run: Any, load_report: Any) -> dict[str, Any]:
    """The JSON report: every task's out-of-time metrics beside its baselines, and the load report.

    The churn task's fields are also at the top level, as the foundation's report had them.
    """
    tasks = run.report()
    churn = tasks["tasks"].get("churn", {})
    return {**churn, **tasks, "load": load_report.to_dict()}


def _train_summary(run: Any) -> str:
    lines = []
    for result in run.results:
        lines.append(f"{result.task}: run {result.run_id}, v{result.version}, evaluated at {result.plan.evaluation} "
                     f"on {result.members['evaluation_members']:,} members")
        for scorer, metrics in result.out_of_time.items():
            shown = "  ".join(f"{name} {value:.4f}" for name, value in metrics.items() if name not in ("n", "base_rate"))
            lines.append(f"  {scorer:<22} {shown}")
        lines.append(f"  {result.decision.reason}")
    lines.extend(f"{task}: skipped ({why})" for task, why in run.skipped.items())
    return "\n".join(lines)


@app.command()
@one_line_errors
def snapshot(
    transactions: TransactionsOption,
    mapping: MappingOption = None,
    as_of: Annotated[str | None, typer.Option(help="YYYY-MM-DD (default: the day after the last row)")] = None,
    rejects: RejectsOption = None,
) -> None:
    """Write every member's features as of a date into the snapshot store (no retraining)."""
    from features.snapshot import build_snapshot
    from features.store import default_snapshot_dir, write_snapshot

    progress = Progress()
    frame, _ = _load(transactions, mapping, rejects, progress)
    cutoff = _parse_date(as_of) if as_of else _end_of_data(frame)
    built = build_snapshot(frame, cutoff)
    path = write_snapshot(built, default_snapshot_dir())
    typer.echo(f"snapshot as of {cutoff}: {len(built.frame):,} members -> {path}")


@app.command()
@one_line_errors
def score(
    transactions: TransactionsOption,
    as_of: Annotated[str, typer.Option(help="YYYY-MM-DD: only rows before this date are used")],
    out: Annotated[Path, typer.Option(help="output file, .csv or .parquet")],
    mapping: MappingOption = None,
    rejects: RejectsOption = None,
) -> None:
    """Score every member with a purchase before --as-of with every champion model."""
    from features.snapshot import build_snapshot
    from serving.scoring import score_frame
    from training import registry
    from training.tasks import TASK_NAMES

    if out.suffix not in (".csv", ".parquet"):
        raise ValueError(f"--out {out}: expected a .csv or .parquet file")
    cutoff = _parse_date(as_of)
    progress = Progress()
    registry.configure_tracking()
    models = {task: registry.load_booster(task) for task in TASK_NAMES}
    models = {task: booster for task, booster in models.items() if booster is not None}
    if "churn" not in models:
        raise NotReady(f"no champion for {registry.model_name('churn')}: run `memberscore train` first")
    frame, _ = _load(transactions, mapping, rejects, progress)
    built = build_snapshot(frame, cutoff)
    scores = score_frame(models, built.model_inputs(), built.profile, cutoff)
    out.parent.mkdir(parents=True, exist_ok=True)
    scores.to_csv(out, index=False) if out.suffix == ".csv" else scores.to_parquet(out, index=False)
    typer.echo(f"scored {len(scores):,} members as of {cutoff} with {', '.join(sorted(models))} "
               f"(mean churn probability {scores['churn_probability'].mean():.3f}) -> {out}")


def _parse_date(text: str) -> date:
    try:
        return datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError:
        raise ValueError(f"--as-of {text!r}: expected a date as YYYY-MM-DD") from None


@app.command()
@one_line_errors
def serve(
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 3000,
) -> None:
    """Serve the champion model and the newest snapshot over HTTP (BentoML)."""
    from serving.artefacts import import_champions
    from training import registry

    registry.configure_tracking()
    if "churn" not in import_champions():
        raise NotReady(f"no champion for {registry.model_name('churn')}: run `memberscore train` first")
    typer.echo(f"serving on http://{host}:{port} (POST /score, GET /metadata, GET /healthz)", err=True)
    command = [sys.executable, "-m", "bentoml", "serve", "serving.service:MemberScoring", "--host", host, "--port", str(port)]
    os.execv(sys.executable, command)


if __name__ == "__main__":
    app()
