"""``memberscore campaign``: campaigns with a randomised holdout (``create``), stored campaigns
(``list``, ``show``) and campaigns sent by another system (``import``).

The store is a database (``--db``, default ``MEMBERSCORE_CAMPAIGN_DB``, else ``var/campaigns.db``).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer

from cli.campaign_uplift import uplift as uplift_command
from cli.lists import TARGET_OPTIONS, LabelsOption, _member_ids, _with_option_names, champion_boosters, newest_snapshot
from cli.options import (
    LangOption,
    MappingOption,
    Progress,
    ProjectOption,
    RejectsOption,
    TransactionsOption,
    command_data_key,
    command_settings,
    one_line_errors,
)
from features.formats import Voice
from features.i18n import parse_language
from features.project import DEFAULT_PROJECT
from features.sealed import write_private_text
from features.value_names import CAMPAIGN, label

if TYPE_CHECKING:

    from campaigns.record import CampaignRecord
    from models.uplift import UpliftChampion
    from serving.campaign_lists import CampaignRequest

R = TypeVar("R")

DbOption = Annotated[str | None, typer.Option(
    "--db", envvar="MEMBERSCORE_CAMPAIGN_DB", show_envvar=True,
    help="campaign database URL (sqlite:///path or postgresql+psycopg://...); default sqlite:///var/campaigns.db")]
WindowOption = Annotated[int, typer.Option(help="days after the start over which the effect is measured")]
CostOption = Annotated[float, typer.Option(help="cost of contacting one member (0: ROI is not computed)")]
MarginOption = Annotated[float, typer.Option(help="share of spend that is margin, in (0, 1]")]
# request fields as the create command spells them, for one-line errors
CREATE_OPTIONS = {**TARGET_OPTIONS, "name": "--name", "holdout_share": "--holdout-share",
                  "window_days": "--window-days", "cost_per_contact": "--cost-per-contact",
                  "margin_rate": "--margin-rate", "rank": "--rank"}

app = typer.Typer(help="Campaigns with a holdout: create, list, show, import, effect, uplift.", no_args_is_help=True)


def database(db: str | None) -> str:
    """The URL to open: ``--db`` (or its environment variable), else the SQLite file under var/."""
    from campaigns.store import default_url

    return db or default_url()


@app.command()
@one_line_errors
def create(
    campaign: Annotated[str, typer.Option(help="winback, retain_high_value, upsell or next_purchase_reminder")],
    limit: Annotated[int, typer.Option(help="members on the list, both arms, best first")],
    name: Annotated[str, typer.Option(help="the campaign's name, unique in the project")],
    holdout_share: Annotated[float, typer.Option(help="share held out as control, per score decile")] = 0.1,
    window_days: WindowOption = 30,
    cost_per_contact: CostOption = 0.0,
    margin_rate: MarginOption = 1.0,
    rank: Annotated[str, typer.Option(help="score: by the campaign's score, as `targets`; uplift: by expected "
                                      "incremental value from the project's uplift champion (refused without one)")] = "score",
    segment: LabelsOption = None,
    tier: LabelsOption = None,
    abc: LabelsOption = None,
    stage: LabelsOption = None,
    min_value: Annotated[float | None, typer.Option(help="keep members worth at least this")] = None,
    exclude: Annotated[Path | None, typer.Option(help="file of member ids to leave out, one per line")] = None,
    out: Annotated[Path | None, typer.Option(help=".csv: the contact list; .json: the whole answer; "
                                             "none: the answer on stdout")] = None,
    db: DbOption = None,
    project: ProjectOption = DEFAULT_PROJECT,
    lang: LangOption = None,
) -> None:
    """Create a campaign from a target list with a randomised, score-stratified holdout, and store it.

    Prints the campaign id, members per arm and the minimum detectable effect on spend per member;
    the contact list (treatment arm only) goes to --out.
    """
    from campaigns.store import opened
    from serving.campaign_lists import arm_counts, campaign_answer, contact_csv, create_campaign

    if out is not None and out.suffix not in (".csv", ".json"):
        raise ValueError(f"--out {out}: expected a .csv or .json file")
    filters: dict[str, object] = {
        "segments": segment, "tiers": tier, "abc_classes": abc, "lifecycle_stages": stage, "min_value": min_value,
        "exclude_member_ids": _member_ids(exclude) if exclude else []}
    request = _campaign_request({"name": name, "campaign": campaign, "limit": limit, "holdout_share": holdout_share,
                                 "filters": filters, "window_days": window_days,
                                 "cost_per_contact": cost_per_contact, "margin_rate": margin_rate, "rank": rank})
    settings = command_settings()
    models = champion_boosters(project, settings.mlflow_tracking_uri)
    champion = _uplift_champion(project) if request.rank == "uplift" else None
    loaded = newest_snapshot(project, models, settings.snapshot_dir)
    with opened(database(db), command_data_key()) as store:
        record, members = _with_create_options(create_campaign, store, loaded, request, project,
                                               _model_versions(project, models, loaded.baselines), champion)
    answer = campaign_answer(record, arm_counts(members), members)
    if out is None:
        typer.echo(json.dumps(answer, indent=2))
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    voice = Voice(parse_language(lang), settings.currency)
    if out.suffix == ".csv":
        write_private_text(out, contact_csv(members, voice.translator if lang else None), command_data_key())
    else:
        write_private_text(out, json.dumps(answer, indent=2), command_data_key())
    typer.echo(f"{_summary(record, answer['arms'], voice, named=lang is not None)} -> {out}")


def _uplift_champion(project: str) -> UpliftChampion | None:
    """The project's uplift champion from the registry ``champion_boosters`` configured, or None."""
    from models import uplift

    return uplift.champion(project)


def _with_create_options(call: Callable[..., R], *args: Any) -> R:
    """``_with_option_names``, and a campaign field (``rank: ...``) starting a message renamed to its option too."""
    try:
        return _with_option_names(call, *args)
    except ValueError as error:
        field, _, rest = str(error).partition(":")
        if field in CREATE_OPTIONS:
            raise ValueError(f"{CREATE_OPTIONS[field]}:{rest}") from None
        raise


def _campaign_request(values: dict[str, Any]) -> CampaignRequest:
    """The request, with pydantic's first complaint as one ValueError naming the option."""
    from pydantic import ValidationError

    from serving.campaign_lists import CampaignRequest
    from serving.targets import campaign_named

    try:
        campaign_named(values["campaign"])
        return CampaignRequest.model_validate(values)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(map(str, first["loc"]))
        raise ValueError(f"{CREATE_OPTIONS.get(field, field)}: {first['msg']}") from None
    except ValueError as error:
        raise ValueError(f"--campaign{str(error).removeprefix('campaign')}") from None


def _model_versions(project: str, models: dict[str, Any], baselines: Any) -> dict[str, str]:
    """What scored each task: the champion's MLflow version, or ``baseline:<name>`` (as ``/metadata``)."""
    from models import catalog

    versions = {task: f"baseline:{name}" for task, name in dict(baselines).items()}
    versions.update({task: catalog.alias_version(task, catalog.CHAMPION, project=project) or "?" for task in models})
    return versions


def _summary(record: CampaignRecord, arms: dict[str, int], voice: Voice | None = None, named: bool = False) -> str:
    """One line: id, name, arms and, for a holdout, the MDE (in the project's currency) and how it was
    estimated, in ``voice``'s language; ``named``: the campaign type by its name rather than its code."""
    voice = voice or Voice()
    t = voice.translator
    kind = (label(CAMPAIGN, record.type, t) or record.type) if named else record.type
    line = t.gettext("campaign {id} ({type}, {name}, {design}): {treatment} treatment, {control} control").format(
        id=record.id, type=kind, name=repr(record.name), design=record.design,
        treatment=voice.number(arms.get("treatment", 0)), control=voice.number(arms.get("control", 0)))
    power = record.power or {}
    if power.get("spend_per_member") is not None:
        line += t.ngettext(
            "; detectable effect on spend per member over {days} day: {effect} (80% power, two-sided alpha 0.05; "
            "{estimated_from})",
            "; detectable effect on spend per member over {days} days: {effect} (80% power, two-sided alpha 0.05; "
            "{estimated_from})", record.window_days).format(
            days=record.window_days, effect=voice.money(power["spend_per_member"]),
            estimated_from=power["estimated_from"])
    elif power:
        line += t.gettext("; no detectable effect computed: {estimated_from}").format(
            estimated_from=power["estimated_from"])
    return line


@app.command("list")
@one_line_errors
def list_campaigns(db: DbOption = None, project: ProjectOption = DEFAULT_PROJECT, lang: LangOption = None) -> None:
    """One line per campaign of the project, newest first (in --lang, default English)."""
    from campaigns.store import opened

    voice = Voice(parse_language(lang), command_settings().currency)
    with opened(database(db), command_data_key()) as store:
        records = store.list(project)
        lines = [f"{r.created:%Y-%m-%d %H:%M} start {r.start} {r.window_days}d  "
                 f"{_summary(r, store.arm_counts(project, r.id), voice, named=lang is not None)}" for r in records]
    typer.echo("\n".join(lines) if lines else f"no campaign in project {project!r}")


@app.command()
@one_line_errors
def show(
    id: Annotated[str, typer.Option("--id", help="the campaign's id (memberscore campaign list)")],
    out: Annotated[Path | None, typer.Option(help=".csv: the contact list (treatment arm)")] = None,
    db: DbOption = None,
    project: ProjectOption = DEFAULT_PROJECT,
    lang: LangOption = None,
) -> None:
    """A campaign's settings, members per arm and MDE as JSON; --out x.csv writes its contact list
    (headers translated with --lang)."""
    from campaigns.record import TREATMENT
    from campaigns.store import CampaignNotFound, opened
    from serving.campaign_lists import campaign_answer, contact_csv

    if out is not None and out.suffix != ".csv":
        raise ValueError(f"--out {out}: expected a .csv file")
    with opened(database(db), command_data_key()) as store:
        try:
            record = store.get(project, id)
            answer = campaign_answer(record, store.arm_counts(project, id), None)
            treated = store.members(project, id, TREATMENT) if out is not None else None
        except CampaignNotFound as error:
            raise ValueError(f"--{error}") from None
    if out is not None and treated is not None:
        voice = Voice(parse_language(lang), command_settings().currency)
        write_private_text(out, contact_csv(treated, voice.translator if lang else None), command_data_key())
        typer.echo(f"{_summary(record, answer['arms'], voice, named=lang is not None)} -> {out}")
        return
    typer.echo(json.dumps(answer, indent=2))


@app.command("import")
@one_line_errors
def import_campaigns(
    exposures: Annotated[Path, typer.Option(help="CSV or Parquet: member, campaign, sent_at, optional arm "
                                            "(treated|control) and cost")],
    name: Annotated[str, typer.Option(help="the campaign's name (several campaigns in the file: '<name>: <campaign>')")],
    mapping: MappingOption = None,
    rejects: RejectsOption = None,
    window_days: WindowOption = 30,
    cost_per_contact: Annotated[float | None, typer.Option(help="cost of one contact (default: the file's mean "
                                                           "cost per treated member, else 0)")] = None,
    margin_rate: MarginOption = 1.0,
    db: DbOption = None,
    project: ProjectOption = DEFAULT_PROJECT,
) -> None:
    """Record campaigns sent by another system, one per distinct campaign in the file.

    With arms the design is randomised, without them observational. Bad rows are counted and written
    to --rejects (default var/rejects/<file>.rejects.csv); the file is never guessed at.
    """
    from campaigns.exposures import ExposureMapping, imported_campaigns, read_exposures
    from campaigns.store import opened
    from features.contract import read_mapping

    if not 0 < margin_rate <= 1:
        raise ValueError(f"--margin-rate: expected a share in (0, 1], got {margin_rate}")
    if window_days < 1 or (cost_per_contact is not None and not cost_per_contact >= 0):
        raise ValueError("--window-days must be at least 1 and --cost-per-contact at least 0")
    read = read_exposures(exposures, read_mapping(mapping, ExposureMapping), rejects_path=rejects,
                          key=command_data_key())
    report = read.report
    typer.echo(f"read {report.rows_read:,} rows: {report.rows_kept:,} kept, {report.rows_rejected:,} rejected"
               + (f" {report.rejected_by_reason} -> {report.rejects_path}" if report.rows_rejected else ""))
    made = imported_campaigns(read, name, project, window_days, cost_per_contact, margin_rate)
    with opened(database(db), command_data_key()) as store:
        store.add_all(made)  # every campaign of the file, or none
        for record, _ in made:
            typer.echo(_summary(record, store.arm_counts(project, record.id)))


@app.command()
@one_line_errors
def effect(
    id: Annotated[str, typer.Option("--id", help="the campaign's id (memberscore campaign list)")],
    transactions: TransactionsOption,
    mapping: MappingOption = None,
    rejects: RejectsOption = None,
    window_days: Annotated[int | None, typer.Option(help="days after the start (default: the campaign's window)")] = None,
    redemptions: Annotated[Path | None, typer.Option(help="CSV or Parquet of coupon redemptions: member_id "
                                                     "(and ts): adds the redemption rate per arm")] = None,
    db: DbOption = None,
    project: ProjectOption = DEFAULT_PROJECT,
) -> None:
    """What the campaign brought, as JSON: randomised (a holdout) or observational (none), with intervals,
    or "not identified" and why. The answer is kept, so GET /campaigns/{id}/effect shows it."""
    from campaigns.exposures import read_redemptions
    from campaigns.measurement import measure_campaign
    from campaigns.store import CampaignNotFound, opened
    from cli.data import load_for_command

    if window_days is not None and window_days < 1:
        raise ValueError(f"--window-days {window_days}: must be at least 1")
    with opened(database(db), command_data_key()) as store:
        try:
            record = store.get(project, id)
        except CampaignNotFound as error:
            raise ValueError(f"--{error}") from None
        frame, _ = load_for_command(transactions, mapping, rejects, Progress())
        redeemed = read_redemptions(redemptions) if redemptions is not None else None
        answer = measure_campaign(record, store.members(project, id), frame, window_days, redeemed)
        store.save_effect(project, id, answer)
    typer.echo(json.dumps(answer, indent=2))


app.command("uplift")(one_line_errors(uplift_command))  # in cli.campaign_uplift: learn who responds from a campaign
