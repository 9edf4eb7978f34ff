"""Commands on the data itself: ``validate`` a file, ``simulate`` one, write a ``snapshot``.

Also what ``train`` and ``score`` share with them: loading transactions for a command and building
the serving snapshot (features as of a date, with the baselines that serve where a task has no
champion).
"""

from __future__ import annotations

import json
import time
from collections.abc import Collection
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cli.options import (
    ConfigOption,
    LangOption,
    MappingOption,
    Progress,
    ProjectOption,
    RejectsOption,
    TransactionsOption,
    command_data_key,
    command_settings,
    one_line_errors,
    parse_date,
)
from features.project import DEFAULT_PROJECT

if TYPE_CHECKING:
    import pandas as pd

    from features.data_key import DataKey
    from features.i18n import Translator
    from features.load_report import LoadReport
    from features.settings import Settings
    from features.snapshot import Snapshot
    from features.tier_programme import TierProgramme
    from training.config import TrainConfig


@one_line_errors
def validate(transactions: TransactionsOption, mapping: MappingOption = None, rejects: RejectsOption = None,
             project: ProjectOption = DEFAULT_PROJECT, lang: LangOption = None) -> None:
    """Load and check a transactions file without training; print the load report as JSON.

    Exit 0 when some rows are usable; exit 2 with one line when none are or the file cannot be read.
    ``--project`` is accepted (and checked) so a script can pass it to every command; nothing is stored.
    The JSON keeps its keys and codes; ``--lang`` is the language of the lines on stderr.
    """
    from features.i18n import translator

    _, load_report = load_for_command(transactions, mapping, rejects, Progress(), translator(lang))
    typer.echo(json.dumps(load_report.to_dict(), indent=2))


@one_line_errors
def simulate(
    members: Annotated[int, typer.Option(help="members to simulate (>= 1)")],
    out: Annotated[Path, typer.Option(help="output file, .csv or .parquet; the planted truth goes beside it")],
    seed: Annotated[int, typer.Option(help="random seed: the same seed writes the same file")] = 0,
    start: Annotated[str, typer.Option(help="first day, YYYY-MM-DD")] = "2023-01-01",
    days: Annotated[int, typer.Option(help="days of history (>= 1)")] = 730,
    campaign: Annotated[str | None, typer.Option(
        help="instead: a campaign with a planted effect, assigned random (a holdout), score (targeted on an "
             "observed value score) or trend (targeted on an unobserved trend); exposures and truth beside --out")] = None,
    lang: LangOption = None,
) -> None:
    """Write synthetic transactions with known behaviour (BG/NBD, Gamma-Gamma, affinities, returns, seasons),
    or with ``--campaign``, around a campaign whose effect is known (``memberscore campaign import``)."""
    from features.i18n import translator
    from features.retail_simulation import simulate_retail, write_simulation

    words = translator(lang)
    if members < 1:
        raise ValueError(f"--members {members}: must be at least 1")
    if days < 1:
        raise ValueError(f"--days {days}: must be at least 1")
    if out.suffix not in (".csv", ".parquet"):
        raise ValueError(f"--out {out}: expected a .csv or .parquet file")
    first_day = parse_date(start, option="--start")
    started = time.perf_counter()
    if campaign is not None:
        _simulate_campaign(members, out, seed, campaign, first_day, days, words)
        return
    transactions, truth = simulate_retail(members, first_day, days, seed)
    truth_file = write_simulation(transactions, truth, out)
    returns = int((transactions["amount"] < 0).sum())
    said = words.ngettext("simulated {members} member, {lines} lines ({returns} returns) from {start} over {days} days "
                          "in {seconds} s -> {out} (truth: {truth})",
                          "simulated {members} members, {lines} lines ({returns} returns) from {start} over {days} days "
                          "in {seconds} s -> {out} (truth: {truth})", members)
    typer.echo(said.format(members=words.number(members), lines=words.number(len(transactions)),
                           returns=words.number(returns), start=first_day, days=days,
                           seconds=words.number(time.perf_counter() - started, 1), out=out, truth=truth_file))


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
    lang: LangOption = None,
) -> None:
    """Write every member's features as of a date into the project's snapshot store (no retraining).

    Tiers keep the downgrade grace: the newest older snapshot in the store gives last period's tiers.
    The churn and upsell baselines (served where a task has no champion) are refitted on the
    snapshot's latest complete H-day window. A running service holds its snapshot against one with
    fewer than half its members (``MEMBERSCORE_MIN_SNAPSHOT_RATIO``) unless ``--allow-shrink``.
    """
    from features.i18n import translator
    from training.config import read_config

    progress, words = Progress(), translator(lang)
    frame, _ = load_for_command(transactions, mapping, rejects, progress, words)
    cutoff = parse_date(as_of) if as_of else end_of_data(frame)
    settings = command_settings()
    train_config = read_config(config)
    built, path = store_snapshot(frame, cutoff, train_config, project, settings, allow_shrink)
    keep_history(built, project, train_config.horizon_days, settings, progress, words)
    from cli.kpis import store_kpis

    store_kpis(frame, cutoff, path.parent, settings, progress)
    held = held_by_a_service(path, settings.min_snapshot_ratio, settings.encryption_key())
    if held:
        typer.echo(held_warning(held, words), err=True)
    said = words.ngettext("snapshot as of {as_of}: {count} member -> {path}",
                          "snapshot as of {as_of}: {count} members -> {path}", len(built.frame))
    typer.echo(said.format(as_of=cutoff, count=words.number(len(built.frame)), path=path)
               + (words.gettext(" (marked as an intended shrink)") if allow_shrink else ""))


def keep_history(built: Snapshot, project: str, horizon_days: int, settings: Settings, progress: Progress,
                 words: Translator) -> None:
    """Keep the scores the project's champions serve from the snapshot just written (``cli.lists.keep_served_scores``).

    The snapshot is written and serves whatever happens here, so a failure is a warning on stderr
    (the date simply has no backtest), not a failed command.
    """
    from cli.lists import keep_served_scores

    try:
        path = keep_served_scores(built, project, horizon_days, settings)
    except Exception as error:
        typer.echo(words.gettext("warning: the scores of {as_of} were not kept for backtests: {why}").format(
            as_of=built.as_of, why=f"{type(error).__name__}: {error}".splitlines()[0]), err=True)
        return
    progress(f"scores kept for backtests: {path}")


def held_warning(why: str, words: Translator) -> str:
    """The stderr line saying a running service will not take the snapshot just written, and why."""
    return words.gettext("warning: a running service will keep its snapshot: {why}").format(why=why)


def _simulate_campaign(members: int, out: Path, seed: int, assignment: str, first_day: date, days: int,
                       words: Translator) -> None:
    """``simulate --campaign``: history from ``first_day``, the campaign's 30-day window last."""
    from campaigns.simulate import ASSIGNMENTS, simulate_campaign, write_planted

    if assignment not in ASSIGNMENTS:
        raise ValueError(f"--campaign {assignment!r}: expected one of {', '.join(ASSIGNMENTS)}")
    windows = days // 30 - 1
    if windows < 2:
        raise ValueError(f"--days {days}: a campaign needs at least 90 days (two windows of history and its own)")
    planted = simulate_campaign(members, assignment, seed, history_windows=windows,  # type: ignore[arg-type]
                                start=first_day + timedelta(days=30 * windows))
    exposures_path, truth_path = write_planted(planted, out)
    said = words.ngettext("simulated a {assignment} campaign for {members} member starting {start}: {lines} lines -> "
                          "{out}; exposures {exposures}; truth {truth} (average effect {average}, on the contacted "
                          "{contacted})",
                          "simulated a {assignment} campaign for {members} members starting {start}: {lines} lines -> "
                          "{out}; exposures {exposures}; truth {truth} (average effect {average}, on the contacted "
                          "{contacted})", members)
    typer.echo(said.format(assignment=assignment, members=words.number(members), start=planted.start,
                           lines=words.number(len(planted.transactions)), out=out, exposures=exposures_path,
                           truth=truth_path, average=f"{planted.average_effect:.2f}",
                           contacted=f"{planted.effect_on_contacted:.2f}"))


def load_for_command(transactions: Path, mapping: Path | None, rejects: Path | None,
                     progress: Progress, words: Translator | None = None) -> tuple[pd.DataFrame, LoadReport]:
    """The usable rows of ``transactions`` and the load report; no usable row is an error.
    With a data key configured the rejects file is encrypted (it holds raw ids and amounts).
    ``words``: the language of the two progress lines (default English; the report's notes stay English)."""
    from features.contract import read_mapping
    from features.i18n import translator
    from features.load import load_transactions

    words = words or translator()
    progress(words.gettext("loading {path}").format(path=transactions))
    frame, report = load_transactions(transactions, read_mapping(mapping), rejects_path=rejects, key=command_data_key())
    progress(_loaded(report, words) + (words.gettext("; rejected rows in {path}").format(path=report.rejects_path)
                                       if report.rejects_path else ""))
    if frame.empty:
        raise ValueError(f"{transactions}: no usable rows ({report.summary()})")
    return frame, report


def _loaded(report: LoadReport, words: Translator) -> str:
    """The load report's summary line, in English exactly as ``LoadReport.summary`` says it."""
    if words.language == "en":
        return report.summary()
    line = words.gettext("read {read} rows, kept {kept}, rejected {rejected}").format(
        read=words.number(report.rows_read), kept=words.number(report.rows_kept),
        rejected=words.number(report.rows_rejected))
    if report.rejected_by_reason:
        line += " (" + ", ".join(f"{why}: {words.number(count)}" for why, count in report.rejected_by_reason.items()) + ")"
    rest = report.summary().split("; ", 1)[1:]  # how the file was read and hints: not translated
    return "; ".join([line, *rest])


def end_of_data(frame: pd.DataFrame) -> date:
    """The day after the last transaction: a snapshot as of it sees every row."""
    from features import contract

    last_day: date = frame[contract.TS].max().date()
    return last_day + timedelta(days=1)


def held_by_a_service(path: Path, min_snapshot_ratio: float, key: DataKey | None = None) -> str | None:
    """Why a service would hold this snapshot back (far fewer members than the one before it), or None.

    Said when the snapshot is written, so a partial file is noticed before anyone asks the service.
    """
    from features.store import previous_snapshot_path, snapshot_facts
    from serving.live import shrink_problem

    facts = snapshot_facts(path, key)
    older = previous_snapshot_path(path.parent, facts.as_of)
    if older is None:
        return None
    return shrink_problem(facts, older, snapshot_facts(older, key).members, min_snapshot_ratio)


def store_snapshot(frame: pd.DataFrame, as_of: date, config: TrainConfig, project: str, settings: Settings,
                   allow_shrink: bool = False, champions: Collection[str] | None = None) -> tuple[Snapshot, Path]:
    """Build the serving snapshot as of ``as_of``, with its baselines, and write it to the project's store.

    The newest stored snapshot older than ``as_of`` supplies last period's tiers, so a member
    keeps a higher tier while their spend stays within the grace (segment_rules.yaml, tiers).
    With ``champions`` (the tasks that have one), a snapshot that could not serve churn, next
    purchase or value (no champion, no baseline, no BG/NBD) is refused before it is written.
    """
    from features.store import previous_tiers, project_snapshot_dir, write_snapshot
    from serving.sources import baseline_outputs, require_served

    directory, key = project_snapshot_dir(settings.snapshot_dir, project), settings.encryption_key()
    built = serving_snapshot(frame, as_of, config, settings.segment_rules, previous_tiers(directory, as_of, key),
                             settings.tier_programme)
    if champions is not None:
        require_served(built.profile, as_of, config.horizon_days, baseline_outputs(champions))
    return built, write_snapshot(built, directory, allow_shrink, key)


def serving_snapshot(frame: pd.DataFrame, as_of: date, config: TrainConfig, segment_rules: Path | None,
                     tiers: pd.Series | None = None, tier_programme: Path | None = None) -> Snapshot:
    """The snapshot as of ``as_of`` with the churn and upsell baselines it serves when a task has no champion.

    Its segments follow ``segment_rules`` (``MEMBERSCORE_SEGMENT_RULES``), the file the service's
    /segments labels come from, so both name the same segments. With ``tier_programme``
    (``MEMBERSCORE_TIER_PROGRAMME``) its tiers are the programme's, replayed over the history
    (``features.tier_outputs``), instead of quantile tiers with grace.
    """
    from features.lifetime import fit_lifetime
    from features.segment_rules import read_segment_rules
    from features.snapshot import build_snapshot
    from features.tier_programme import read_programme
    from training.serving_baselines import with_serving_baselines

    programme = read_programme(tier_programme) if tier_programme is not None else None  # a bad file stops us first
    rules = read_segment_rules(segment_rules)
    grace = grace_tiers(tiers, rules.tiers.labels, programme is not None)
    lifetime = fit_lifetime(frame, as_of)  # one fit for the snapshot's features and its baselines
    snapshot = build_snapshot(frame, as_of, rules=rules, previous_tiers=grace, lifetime=lifetime)
    built = with_serving_baselines(frame, snapshot, config, lifetime)
    return built if programme is None else _with_programme_tiers(built, frame, programme, config.horizon_days)


def grace_tiers(tiers: pd.Series | None, ladder: tuple[str, ...], programme: bool) -> pd.Series | None:
    """Last period's tiers for the quantile ladder's grace, or None when they cannot be that.

    A programme replays the whole history, so it takes no grace from the store; and tiers stored
    under another ladder (a programme since switched off, or other rules) are no history of this one.
    """
    if programme or tiers is None or not tiers.dropna().isin(ladder).all():
        return None
    return tiers


def _with_programme_tiers(built: Snapshot, frame: pd.DataFrame, programme: TierProgramme, horizon_days: int) -> Snapshot:
    """The programme's tier columns; a member's pace towards keeping their card is the value baseline's
    expected spend over the horizon (BG/NBD x Gamma-Gamma, in the snapshot), per day, where it has one."""
    from features import contract
    from features.tier_outputs import with_programme_tiers
    from models.baselines import VALUE_COLUMN

    profile = built.profile.set_index(built.profile[contract.MEMBER_ID].astype(str))
    daily = profile[VALUE_COLUMN].astype("float64") / horizon_days if VALUE_COLUMN in profile else None
    return with_programme_tiers(built, frame, programme, daily, expected_source=VALUE_COLUMN)
