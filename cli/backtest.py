"""``memberscore backtest``: how the stored scores of past snapshots did, once their horizon has passed."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

import typer

from cli.data import load_for_command
from cli.options import (
    ConfigOption,
    LangOption,
    MappingOption,
    NotReady,
    Progress,
    ProjectOption,
    RejectsOption,
    TransactionsOption,
    command_settings,
    one_line_errors,
)
from features.project import DEFAULT_PROJECT

if TYPE_CHECKING:
    from features.i18n import Translator
    from training.backtest import BacktestRun


@one_line_errors
def backtest(
    transactions: TransactionsOption,
    mapping: MappingOption = None,
    rejects: RejectsOption = None,
    config: ConfigOption = None,
    project: ProjectOption = DEFAULT_PROJECT,
    lang: LangOption = None,
) -> None:
    """Judge every stored snapshot's scores whose horizon the transactions cover against what happened.

    Per date: churn ROC AUC, PR AUC and calibration error, next-purchase concordance, upsell ROC AUC
    and hit rate, value Gini and top-decile capture, for what served and its baseline on the same
    members; one MLflow run per date; the result is stored for ``GET /monitoring``. A date already
    backtested is not logged again. No stored scores at all is an error (exit 2); nothing matured is not.
    """
    from features.i18n import parse_language, translator
    from features.store import project_snapshot_dir
    from training.backtest import run_backtests
    from training.config import read_config

    words = translator(parse_language(lang))
    settings = command_settings()
    train_config = read_config(config)
    frame, _ = load_for_command(transactions, mapping, rejects, Progress(), words)
    run = run_backtests(frame, project, settings, train_config)
    if run.stored == 0:
        raise NotReady(f"no stored scores for project {project} in "
                       f"{project_snapshot_dir(settings.snapshot_dir, project)}: run `memberscore snapshot`, "
                       "`train` or `score` first")
    for line in backtest_lines(run, words):
        typer.echo(line)


def backtest_lines(run: BacktestRun, words: Translator) -> list[str]:
    """What the command prints: each new result and its metrics, then the dates skipped and why."""
    lines: list[str] = []
    for document in run.done:
        said = words.ngettext("backtest of {as_of} (H {horizon} days, {members} member) -> MLflow run {run_id}",
                              "backtest of {as_of} (H {horizon} days, {members} members) -> MLflow run {run_id}",
                              document["members"])
        lines.append(said.format(as_of=document["as_of"], horizon=document["horizon_days"],
                                 members=words.number(document["members"]), run_id=document["mlflow_run_id"]))
        lines.extend("  " + _metric_line(row, words) for row in document["metrics"])
    lines.extend(words.gettext("{as_of}: already backtested, not logged again").format(as_of=day) for day in run.already)
    lines.extend(words.gettext("{as_of}: horizon not passed yet (needs transactions up to {day})").format(
        as_of=day, day=matures - timedelta(days=1)) for day, matures in run.waiting)
    if not run.done and not run.already:
        lines.append(words.gettext("nothing to backtest yet: no stored score date has a horizon the transactions cover"))
    return lines


def _metric_line(row: dict[str, Any], words: Translator) -> str:
    """``churn roc_auc: 0.812 (served by model v3); recency 0.781`` (codes stay: they are looked up)."""
    def shown(value: float | None) -> str:
        return "-" if value is None else words.number(value, 3)

    baselines = "; ".join(f"{name} {shown(value)}" for name, value in row["baselines"].items())
    said = words.gettext("{task} {metric}: {served} (served by {served_by}); baselines: {baselines}")
    return said.format(task=row["task"], metric=row["metric"], served=shown(row["served"]),
                       served_by=row["served_by"], baselines=baselines or "-")
