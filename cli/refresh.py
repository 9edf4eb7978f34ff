"""``memberscore refresh``: the daily routine in one command, for cron, a systemd timer or Airflow.

Load and validate; write today's snapshot (its scores kept for later backtests); backtest every
stored date whose horizon has passed; measure the serving snapshot's drift from each champion's
training data; let the rules (``features/refresh_rules.yaml``) decide; retrain through the gate
only the tasks a rule names. Every step's outcome is printed, and the run is appended to the
project's refresh log (``GET /monitoring``'s ``refresh``). The exit code is the scheduler's signal
(``features.refresh_outcome``): 0 ok, 3 retrained, 4 a person should look, 2 bad input.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import typer

from cli.data import end_of_data, held_by_a_service, held_warning, keep_history, load_for_command, store_snapshot
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

if TYPE_CHECKING:
    import pandas as pd

    from features.drift_rules import DriftRules
    from features.load_report import LoadReport
    from features.refresh_decision import DriftLevels, RefreshDecision
    from features.refresh_rules import RefreshRules
    from features.settings import Settings
    from training.config import TrainConfig


@dataclass
class Routine:
    """What one refresh did, as it goes: the lines it prints and what it logs."""

    lines: list[str] = field(default_factory=list)
    retrained: tuple[str, ...] = ()
    skipped: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    failed: bool = False


@one_line_errors
def refresh(
    transactions: TransactionsOption,
    mapping: MappingOption = None,
    rejects: RejectsOption = None,
    config: ConfigOption = None,
    project: ProjectOption = DEFAULT_PROJECT,
    wait: WaitOption = 0.0,
    lang: LangOption = None,
) -> None:
    """The daily routine: snapshot, matured backtests, drift, and a retrain only when a rule says so.

    Exit codes: 0 nothing to do, 3 models were retrained, 4 a person should look (a rule asked for
    an alert, or a retrain failed), 2 bad input (nothing done). The rules are the packaged
    refresh_rules.yaml, or MEMBERSCORE_REFRESH_RULES over them; each run is logged in the project's
    refresh.jsonl and shown by GET /monitoring.
    """
    from features.drift_rules import read_drift_rules
    from features.refresh_rules import read_refresh_rules
    from models import catalog
    from training.config import read_config

    language = parse_language(lang)
    words, progress, settings = translator(language), Progress(), command_settings()
    rules, drift_rules = read_refresh_rules(settings.refresh_rules), read_drift_rules(settings.drift_rules)
    train_config = read_config(config)  # every file is read before the lock and the data: a typo costs nothing
    catalog.configure_tracking(settings.mlflow_tracking_uri)
    with project_lock(settings, project, wait):
        frame, load_report = load_for_command(transactions, mapping, rejects, progress, words)
        code = run_routine(frame, load_report, train_config, project, settings, rules, drift_rules, progress, language)
    if code:
        raise typer.Exit(code)


def run_routine(frame: pd.DataFrame, load_report: LoadReport, train_config: TrainConfig, project: str,
                settings: Settings, rules: RefreshRules, drift_rules: DriftRules, progress: Progress,
                language: Language) -> int:
    """Every step on loaded data (the caller holds the project's lock); prints, logs, returns the exit code."""
    from cli.refresh_champions import champion_facts
    from features.backtest_store import read_backtests
    from features.refresh_decision import decide
    from features.refresh_log import RefreshRun, append_run, read_runs
    from features.refresh_outcome import outcome_of
    from features.store import project_snapshot_dir

    words, routine = translator(language), Routine()
    directory = project_snapshot_dir(settings.snapshot_dir, project)
    _snapshot_step(frame, train_config, project, settings, progress, words, routine)
    _backtest_step(frame, train_config, project, settings, words, routine)
    now = datetime.now(UTC)
    facts = champion_facts(project, now, rules, read_runs(directory))
    routine.lines.extend(facts.lines(words, rules))
    drift = _drift_step(project, settings, drift_rules, routine)
    decision = decide(now, facts.champions, read_backtests(directory, settings.encryption_key()), drift, rules)
    routine.lines.extend(decision.lines(words) or [words.gettext("no rule asks for a retrain or an alert")])
    if decision.retrain:
        _retrain_step(frame, load_report, train_config, project, settings, progress, language, decision, routine)
    outcome = outcome_of(bool(routine.retrained), decision.alert or routine.failed)
    run = RefreshRun(datetime.now(UTC), outcome, decision.reasons, routine.retrained, tuple(routine.notes), routine.skipped)
    path = append_run(directory, run)
    for line in routine.lines:
        typer.echo(line)
    typer.echo(words.gettext("refresh: {outcome} (exit {code}); logged in {path}").format(
        outcome=outcome, code=run.exit_code, path=path))
    return run.exit_code


def _snapshot_step(frame: pd.DataFrame, train_config: TrainConfig, project: str, settings: Settings,
                   progress: Progress, words: Translator, routine: Routine) -> None:
    """Today's snapshot (as ``memberscore snapshot`` writes it), its scores kept, its KPIs stored."""
    from cli.kpis import store_kpis

    as_of = end_of_data(frame)
    built, path = store_snapshot(frame, as_of, train_config, project, settings)
    keep_history(built, project, train_config.horizon_days, settings, progress, words)
    store_kpis(frame, as_of, path.parent, settings, progress)
    if held := held_by_a_service(path, settings.min_snapshot_ratio, settings.encryption_key()):
        routine.notes.append(held_warning(held, words))
        typer.echo(routine.notes[-1], err=True)
    said = words.ngettext("snapshot as of {as_of}: {count} member -> {path}",
                          "snapshot as of {as_of}: {count} members -> {path}", len(built.frame))
    routine.lines.append(said.format(as_of=as_of, count=words.number(len(built.frame)), path=path))


def _backtest_step(frame: pd.DataFrame, train_config: TrainConfig, project: str, settings: Settings,
                   words: Translator, routine: Routine) -> None:
    """Backtest every stored date whose horizon the data now covers (``memberscore backtest``)."""
    from cli.backtest import backtest_lines
    from training.backtest import run_backtests

    routine.lines.extend(backtest_lines(run_backtests(frame, project, settings, train_config), words))


def _drift_step(project: str, settings: Settings, drift_rules: DriftRules, routine: Routine) -> dict[str, DriftLevels]:
    """The newest snapshot, as the service serves it, against each champion's training profile."""
    from cli.lists import champion_boosters, newest_snapshot
    from features.drift_reference import training_drift
    from features.refresh_decision import drift_levels
    from features.store import project_snapshot_dir
    from models import catalog

    models = champion_boosters(project, settings.mlflow_tracking_uri)
    if not models:
        return {}
    loaded = newest_snapshot(project, models, settings.snapshot_dir)
    targets = {task: catalog.alias_target(task, catalog.CHAMPION, project=project) for task in models}
    drift = training_drift(loaded.features_by_id, loaded.scores_by_id, loaded.snapshot.as_of,
                           {task: target.version for task, target in targets.items() if target is not None},
                           project_snapshot_dir(settings.snapshot_dir, project), drift_rules,
                           {task: target.run_id for task, target in targets.items() if target is not None})
    routine.lines.extend(f"drift: {line}" for line in drift.breaches())
    routine.lines.extend(f"drift: {task}: not measured ({why})" for task, why in drift.unavailable.items())
    return {task: drift_levels(report) for task, report in drift.reports.items()}


def _retrain_step(frame: pd.DataFrame, load_report: LoadReport, train_config: TrainConfig, project: str,
                  settings: Settings, progress: Progress, language: Language, decision: RefreshDecision,
                  routine: Routine) -> None:
    """Train challengers for the tasks the rules name and promote those that win their gate; a failure
    is noted (an alert: the retrain the rules asked for did not happen), never a crash."""
    from cli.train import train_and_commit, train_summary

    words = translator(language)
    try:
        done = train_and_commit(frame, load_report, train_config, project, settings, progress, language,
                                only=decision.tasks)
    except ValueError as error:  # TrainingFailed, or a plan the data's span cannot hold
        routine.failed = True
        routine.notes.append(words.gettext("retrain failed: {why}").format(why=str(error).splitlines()[0]))
        routine.lines.append(routine.notes[-1])
        return
    routine.retrained = tuple(result.task for result in done.run.results)
    routine.skipped = dict(done.run.skipped)
    routine.notes.extend(f"{result.task}: {result.decision.reason}" for result in done.run.results)
    routine.lines.append(train_summary(done.run, done.snapshot.profile, words))
