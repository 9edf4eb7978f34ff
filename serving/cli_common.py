"""What every ``memberscore`` command shares: options, one-line errors, progress, loading, champions."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from features.project import PROJECT_ENV, check_project

F = TypeVar("F", bound=Callable[..., Any])

TransactionsOption = Annotated[Path, typer.Option("--transactions", help="CSV or Parquet transactions")]
MappingOption = Annotated[Path | None, typer.Option("--mapping", help="YAML column mapping onto the contract")]
RejectsOption = Annotated[Path | None, typer.Option("--rejects", help="where rejected rows go (CSV)")]
ConfigOption = Annotated[Path | None, typer.Option(help="TrainConfig YAML (horizon and baselines' settings)")]


def _checked_project(name: str) -> str:
    """A bad --project (or MEMBERSCORE_PROJECT) stops the command with one line and exit 2, before any work."""
    try:
        return check_project(name)
    except ValueError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(code=2) from None


ProjectOption = Annotated[str, typer.Option(
    "--project", envvar=PROJECT_ENV, callback=_checked_project, show_envvar=True,
    help="the retailer or dataset: its own models, experiments and snapshots, never compared with another's")]


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


def load_for_command(transactions: Path, mapping: Path | None, rejects: Path | None, progress: Progress) -> tuple[Any, Any]:
    from features.contract import read_mapping
    from features.load import load_transactions

    progress(f"loading {transactions}")
    frame, report = load_transactions(transactions, read_mapping(mapping), rejects_path=rejects)
    progress(report.summary() + (f"; rejected rows in {report.rejects_path}" if report.rejects_path else ""))
    if frame.empty:
        raise ValueError(f"{transactions}: no usable rows ({report.summary()})")
    return frame, report


def end_of_data(frame: Any) -> date:
    """The day after the last transaction: a snapshot as of it sees every row."""
    from features import contract

    return frame[contract.TS].max().date() + timedelta(days=1)


def parse_date(text: str, option: str = "--as-of") -> date:
    try:
        return datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError:
        raise ValueError(f"{option} {text!r}: expected a date as YYYY-MM-DD") from None


def champion_boosters(project: str) -> dict[str, Any]:
    """Every task's champion booster of ``project`` from the MLflow registry (tasks without one are left out)."""
    from models import catalog
    from models.tasks import TASK_NAMES

    catalog.configure_tracking()
    boosters = {task: catalog.load_booster(task, project=project) for task in TASK_NAMES}
    return {task: booster for task, booster in boosters.items() if booster is not None}
