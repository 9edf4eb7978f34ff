"""``memberscore promote`` and ``memberscore rollback``: an operator moves the MLflow champion alias.

Thin commands over ``training.champion``; a running service follows the alias at its next poll.
They take the project's training lock, so a move never interleaves with a run's commit step.
"""

from __future__ import annotations

from typing import Annotated

import typer

from cli.options import ProjectOption, WaitOption, command_settings, one_line_errors, project_lock
from features.project import DEFAULT_PROJECT

TaskOption = Annotated[str, typer.Option("--task", help="churn, next_purchase, upsell, value or value_12m")]


def _check_task(task: str) -> str:
    from models.tasks import TASK_NAMES

    if task not in TASK_NAMES:
        raise ValueError(f"--task {task!r}: expected one of {', '.join(TASK_NAMES)}")
    return task


@one_line_errors
def promote(
    task: TaskOption,
    version: Annotated[str, typer.Option("--version", help="the registered model version to serve")],
    project: ProjectOption = DEFAULT_PROJECT,
    force: Annotated[bool, typer.Option("--force", help="promote a version that did not pass its gate")] = False,
    reason: Annotated[str | None, typer.Option(help="why (required with --force; kept as an MLflow tag)")] = None,
    wait: WaitOption = 0.0,
) -> None:
    """Make a registered version the champion of a task: through its gate unless --force --reason TEXT."""
    from models import catalog
    from training.champion import promote_version

    settings = command_settings()
    catalog.configure_tracking(settings.mlflow_tracking_uri)
    with project_lock(settings, project, wait):
        move = promote_version(_check_task(task), version, project=project, force=force, reason=reason)
    typer.echo(move.line())


@one_line_errors
def rollback(task: TaskOption, project: ProjectOption = DEFAULT_PROJECT, wait: WaitOption = 0.0) -> None:
    """Move a task's champion back to the version that was champion before it."""
    from models import catalog
    from training.champion import rollback as roll_back

    settings = command_settings()
    catalog.configure_tracking(settings.mlflow_tracking_uri)
    with project_lock(settings, project, wait):
        move = roll_back(_check_task(task), project=project)
    typer.echo(move.line())
