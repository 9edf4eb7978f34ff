"""Lists of members: ``score`` (every member, every output) and ``targets`` (a campaign's ranked list)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, ParamSpec, TypeVar

import typer

from cli.data import load_for_command, serving_snapshot
from cli.options import (
    ConfigOption,
    LangOption,
    MappingOption,
    NotReady,
    Progress,
    ProjectOption,
    RejectsOption,
    TransactionsOption,
    command_data_key,
    command_settings,
    one_line_errors,
    parse_date,
)
from features.formats import Voice
from features.i18n import Translator, parse_language
from features.project import DEFAULT_PROJECT
from features.sealed import write_private_text
from features.validation_errors import first_problem
from features.value_names import CAMPAIGN, label

if TYPE_CHECKING:

    import pandas as pd
    import xgboost as xgb

    from features.data_key import DataKey
    from features.settings import Settings
    from features.snapshot import Snapshot
    from serving.artefacts import LoadedSnapshot
    from serving.schemas import TargetsRequest
    from serving.targets import CsvExport

P = ParamSpec("P")
R = TypeVar("R")

LabelsOption = Annotated[list[str] | None, typer.Option(help="keep only these (repeat the option for several)")]
# request fields as the targets command spells them, for one-line errors
TARGET_OPTIONS = {"campaign": "--campaign", "limit": "--limit", "explain": "--explain",
                  "filters.segments": "--segment", "filters.tiers": "--tier", "filters.abc_classes": "--abc",
                  "filters.lifecycle_stages": "--stage", "filters.min_value": "--min-value",
                  "filters.exclude_member_ids": "--exclude"}


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
    lang: LangOption = None,
) -> None:
    """Score every member with a purchase before --as-of with every champion model of the project.

    A task without a champion is scored by its baseline (BG/NBD for timing and value; the best of
    the RFM rule, recency over gap and BG/NBD for churn; popular new categories or the RFM rule for
    upsell), as the service does; BG/NBD is the last resort. The ``served_by`` column says which.
    Fails with one line when not even BG/NBD can be fitted and no champion serves. A .csv is UTF-8
    with a byte-order mark; with --lang its headers are translated and names follow the codes.
    """
    import pyarrow as pa

    from features.encrypted_parquet import write_parquet
    from features.list_headers import for_readers
    from features.spreadsheet import write_list_csv
    from serving.kept_scores import served_scores
    from serving.sources import require_served, summary, task_sources
    from training.config import read_config

    if out.suffix not in (".csv", ".parquet"):
        raise ValueError(f"--out {out}: expected a .csv or .parquet file")
    cutoff = parse_date(as_of)
    progress = Progress()
    settings = command_settings()
    models = champion_boosters(project, settings.mlflow_tracking_uri)
    versions = champion_versions(project, models)
    frame, _ = load_for_command(transactions, mapping, rejects, progress)
    train_config = read_config(config, horizon_days=horizon_days)
    built = serving_snapshot(frame, cutoff, train_config, settings.segment_rules, tier_programme=settings.tier_programme)
    scores = served_scores(models, versions, built)
    require_served(scores, cutoff, train_config.horizon_days)
    sources = task_sources(versions, built.profile)
    keep_served_scores(built, project, train_config.horizon_days, settings, models, scores)
    voice = Voice(parse_language(lang), settings.currency)
    if out.suffix == ".csv":
        write_list_csv(for_readers(scores, voice.translator if lang else None), out, settings.encryption_key())
    else:  # for machines: stable column names and codes
        write_parquet(pa.Table.from_pandas(scores, preserve_index=False), out, settings.encryption_key())
    said = voice.translator.ngettext("scored {count} member as of {as_of}: {summary} -> {out}",
                                     "scored {count} members as of {as_of}: {summary} -> {out}", len(scores))
    typer.echo(said.format(count=voice.number(len(scores)), as_of=cutoff, summary=summary(sources, scores, voice),
                           out=out))


def keep_served_scores(snapshot: Snapshot, project: str, horizon_days: int, settings: Settings,
                       models: Mapping[str, xgb.Booster] | None = None,
                       scores: pd.DataFrame | None = None) -> Path:
    """Keep what the project's champions serve from ``snapshot`` in its score history (for backtests),
    then apply the retention: the step ``score``, ``snapshot`` and ``train`` share.

    ``models`` default to the champions now in the registry (after ``train``'s commit, the new ones);
    ``scores``, when the caller already has them, are ``serving.kept_scores.served_scores`` of ``snapshot``.
    """
    from features.store import project_snapshot_dir
    from serving.kept_scores import keep_scores, served_scores

    models = champion_boosters(project, settings.mlflow_tracking_uri) if models is None else models
    versions = champion_versions(project, models)
    scores = served_scores(models, versions, snapshot) if scores is None else scores
    return keep_scores(scores, snapshot, project_snapshot_dir(settings.snapshot_dir, project), versions, horizon_days,
                       settings.encryption_key(), settings.score_history_days)


def champion_versions(project: str, models: Mapping[str, object]) -> dict[str, str]:
    """The registry version of each champion in ``models`` (``?`` should its alias have gone meanwhile)."""
    from models import catalog

    return {task: catalog.alias_version(task, catalog.CHAMPION, project=project) or "?" for task in models}


@one_line_errors
def targets(
    campaign: Annotated[str, typer.Option(help="winback, retain_high_value, upsell or next_purchase_reminder")],
    out: Annotated[Path, typer.Option(help="output file, .csv or .json")],
    limit: Annotated[int | None, typer.Option(help="rows to write, best first; .csv: default the whole eligible list, "
                                              ".json: 1 to 10,000, default 100")] = None,
    segment: LabelsOption = None,
    tier: LabelsOption = None,
    abc: LabelsOption = None,
    stage: LabelsOption = None,
    min_value: Annotated[float | None, typer.Option(help="keep members worth at least this")] = None,
    exclude: Annotated[Path | None, typer.Option(help="file of member ids to leave out, one per line")] = None,
    explain: Annotated[int, typer.Option(help="reasons per row from the campaign's model (0 to 10)")] = 3,
    pseudonymise: Annotated[bool, typer.Option("--pseudonymise", help="write keyed pseudonyms (HMAC-SHA256 with "
                                               "MEMBERSCORE_PSEUDONYM_KEY) instead of member ids")] = False,
    project: ProjectOption = DEFAULT_PROJECT,
    lang: LangOption = None,
) -> None:
    """Write a campaign's ranked target list from the project's champions and newest snapshot.

    Reasons and names are in --lang (default English), amounts in MEMBERSCORE_CURRENCY; a .csv is
    UTF-8 with a byte-order mark, its headers translated only with --lang.
    """
    from serving.pseudonym import pseudonym_key, pseudonymised
    from serving.targets import targets_response

    if out.suffix not in (".csv", ".json"):
        raise ValueError(f"--out {out}: expected a .csv or .json file")
    settings = command_settings()
    key = pseudonym_key(settings.pseudonym_key) if pseudonymise else None  # before any work: no key, no list
    filters: dict[str, object] = {
        "segments": segment, "tiers": tier, "abc_classes": abc, "lifecycle_stages": stage, "min_value": min_value,
        "exclude_member_ids": _member_ids(exclude) if exclude else []}
    request = _with_option_names(_targets_request, campaign, limit, filters, explain)
    models = champion_boosters(project, settings.mlflow_tracking_uri)
    loaded = newest_snapshot(project, models, settings.snapshot_dir)
    voice = Voice(parse_language(lang), settings.currency)
    if out.suffix == ".csv":
        export = _write_csv(models, loaded, request, key, out, voice, voice.translator if lang else None,
                            settings.encryption_key())
        typer.echo(list_summary(voice, _shown(export.campaign, voice, lang), export.rows, export.eligible,
                                export.snapshot_as_of, out))
        return
    response = _with_option_names(targets_response, models, loaded, request, voice)
    response = pseudonymised(response, key) if key is not None else response
    write_private_text(out, response.model_dump_json(indent=2), settings.encryption_key())
    typer.echo(list_summary(voice, _shown(response.campaign, voice, lang), len(response.rows), response.eligible,
                            response.snapshot_as_of, out))


def _shown(campaign: str, voice: Voice, lang: str | None) -> str:
    """The campaign as the summary names it: its code by default (scripts read it), its name with --lang."""
    return label(CAMPAIGN, campaign, voice.translator) or campaign if lang else campaign


def list_summary(voice: Voice, campaign: str, rows: int, eligible: int, as_of: str, out: Path) -> str:
    """The line a written list ends with, in the reader's language."""
    said = voice.translator.ngettext("{campaign}: {rows} of {eligible} eligible member (snapshot as of {as_of}) -> {out}",
                                     "{campaign}: {rows} of {eligible} eligible members (snapshot as of {as_of}) -> {out}",
                                     eligible)
    return said.format(campaign=campaign, rows=voice.number(rows),
                       eligible=voice.number(eligible), as_of=as_of, out=out)


def champion_boosters(project: str, tracking_uri: str | None) -> dict[str, xgb.Booster]:
    """Every task's champion booster of ``project`` from the MLflow registry (tasks without one are left out)."""
    from models import catalog
    from models.tasks import TASK_NAMES

    catalog.configure_tracking(tracking_uri)
    boosters = {task: catalog.load_booster(task, project=project) for task in TASK_NAMES}
    return {task: booster for task, booster in boosters.items() if booster is not None}


def newest_snapshot(project: str, models: Mapping[str, xgb.Booster], snapshot_dir: Path) -> LoadedSnapshot:
    """The project's newest snapshot with every output the service would serve (NotReady without one);
    an encrypted one is read with the configured data key."""
    from features.store import latest_snapshot_path, project_snapshot_dir
    from serving.live import load_snapshot

    directory = project_snapshot_dir(snapshot_dir, project)
    path = latest_snapshot_path(directory)
    if path is None:
        raise NotReady(f"no feature snapshot in {directory}: run `memberscore train --project {project}` "
                       "or `memberscore snapshot`")
    return load_snapshot(path, models, lookup=False, key=command_data_key())


def _write_csv(models: Mapping[str, xgb.Booster], loaded: LoadedSnapshot, request: TargetsRequest, key: bytes | None,
               out: Path, voice: Voice, headers: Translator | None, data_key: DataKey | None = None) -> CsvExport:
    """Stream the whole list (or its best ``--limit`` rows) into ``out``, chunk by chunk.

    Written beside ``out`` and renamed at the end, so a failure never leaves a half list under its name.
    With a data key the list is encrypted, which needs it whole in memory (``features.sealed``).
    """
    import functools

    from serving.pseudonym import pseudonym
    from serving.targets import targets_csv_export

    rename: Callable[[str], str] | None = functools.partial(pseudonym, key=key) if key is not None else None
    export = _with_option_names(targets_csv_export, models, loaded, request, rename, voice=voice, headers=headers)
    if data_key is not None:
        write_private_text(out, "".join(export.chunks), data_key)
        return export
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    try:
        with partial.open("w", encoding="utf-8", newline="") as file:
            file.writelines(export.chunks)
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)
    return export


def _member_ids(path: Path) -> list[str]:
    """One id per line; blank lines and surrounding spaces are ignored."""
    if not path.is_file():
        raise FileNotFoundError(f"--exclude {path}: no such file")
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _targets_request(campaign: str, limit: int | None, filters: dict[str, object], explain: int) -> TargetsRequest:
    """The request (known campaign first), with pydantic's first complaint as one ValueError naming the field."""
    from pydantic import ValidationError

    from serving.schemas import TargetsRequest
    from serving.targets import campaign_named

    campaign_named(campaign)
    try:
        return TargetsRequest.model_validate({"campaign": campaign, "limit": limit, "filters": filters,
                                              "explain": explain})
    except ValidationError as error:
        field, reason = first_problem(error)
        raise ValueError(f"{field}: {reason}") from None


def _with_option_names(call: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """``call(*args)``, with a request field that starts an error message renamed to its option."""
    try:
        return call(*args, **kwargs)
    except ValueError as error:
        field, _, rest = str(error).partition(":")
        if field in TARGET_OPTIONS:
            raise ValueError(f"{TARGET_OPTIONS[field]}:{rest}") from None
        raise
