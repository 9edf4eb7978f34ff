"""What every ``memberscore`` command shares: its options, one-line errors and progress lines."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, ParamSpec, TypeVar

import typer

from features.project import PROJECT_ENV, check_project

if TYPE_CHECKING:
    from features.data_key import DataKey
    from features.settings import Settings

P = ParamSpec("P")
R = TypeVar("R")

TransactionsOption = Annotated[Path, typer.Option("--transactions", help="CSV or Parquet transactions")]
MappingOption = Annotated[Path | None, typer.Option("--mapping", help="YAML column mapping onto the contract")]
RejectsOption = Annotated[Path | None, typer.Option("--rejects", help="where rejected rows go (CSV)")]
ConfigOption = Annotated[Path | None, typer.Option(help="TrainConfig YAML (horizon and baselines' settings)")]
WaitOption = Annotated[float, typer.Option(
    help="seconds to wait for another run on the project to finish (default: refuse)")]


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


def _checked_language(value: str | None) -> str | None:
    """A --lang memberscore does not speak stops the command with one line and exit 2, before any work."""
    from features.i18n import LanguageError, parse_language

    if value is None:
        return None
    try:
        return parse_language(value)
    except LanguageError as error:
        typer.echo(f"error: --{error}", err=True)
        raise typer.Exit(code=2) from None


LangOption = Annotated[str | None, typer.Option(
    "--lang", callback=_checked_language,
    help="en or zh-CN: summaries, names and reasons in that language, and list headers translated "
         "(without it: English, and the stable column names a CRM import matches on)")]


def command_settings() -> Settings:
    """The command's settings, read from the environment once at its start (README, "Settings").

    A bad value is a ``SettingsError``, a ValueError: one line naming the variable, exit 2.
    """
    from features.settings import load_settings

    return load_settings()


def project_lock(settings: Settings, project: str, wait: float) -> AbstractContextManager[None]:
    """The project's run lock (one training run or alias move at a time), waiting up to ``wait``
    seconds and saying so on stderr, naming the holder, when it does."""
    from features.store import project_snapshot_dir
    from training.commit import lock_path, run_lock

    return run_lock(lock_path(project_snapshot_dir(settings.snapshot_dir, project)), wait,
                    on_wait=lambda line: typer.echo(line, err=True))


def command_data_key() -> DataKey | None:
    """The data key (``MEMBERSCORE_DATA_KEY`` or its file), or None: what the command writes stays plain."""
    return command_settings().encryption_key()


class NotReady(Exception):
    """A step the command needs has not happened yet (e.g. no champion model)."""


def one_line_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Turn expected failures into one line on stderr and exit code 2, never a traceback."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except (ValueError, FileNotFoundError, NotReady) as error:
            typer.echo(f"error: {error}".splitlines()[0], err=True)
            raise typer.Exit(code=2) from None

    return wrapper


class Progress:
    """Prints each long step with the time since the command started."""

    def __init__(self) -> None:
        self.started = time.perf_counter()

    def __call__(self, message: str) -> None:
        typer.echo(f"[{time.perf_counter() - self.started:6.1f}s] {message}", err=True)


def parse_date(text: str, option: str = "--as-of") -> date:
    try:
        return datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError:
        raise ValueError(f"{option} {text!r}: expected a date as YYYY-MM-DD") from None
