"""``memberscore targets``: a campaign's ranked target list as CSV or JSON."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer

from features.project import DEFAULT_PROJECT
from serving.cli_common import NotReady, ProjectOption, champion_boosters, one_line_errors

LabelsOption = Annotated[list[str] | None, typer.Option(help="keep only these (repeat the option for several)")]
# request fields as the targets command spells them, for one-line errors
TARGET_OPTIONS = {"campaign": "--campaign", "limit": "--limit", "explain": "--explain",
                  "filters.segments": "--segment", "filters.tiers": "--tier", "filters.abc_classes": "--abc",
                  "filters.lifecycle_stages": "--stage", "filters.min_value": "--min-value",
                  "filters.exclude_member_ids": "--exclude"}


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
) -> None:
    """Write a campaign's ranked target list from the project's champions and newest snapshot."""
    from features.store import default_snapshot_dir, latest_snapshot_path, project_snapshot_dir
    from serving.live import load_snapshot
    from serving.pseudonym import pseudonym_key, pseudonymised
    from serving.targets import targets_response

    if out.suffix not in (".csv", ".json"):
        raise ValueError(f"--out {out}: expected a .csv or .json file")
    key = pseudonym_key() if pseudonymise else None  # before any work: no key, no list
    filters = {"segments": segment, "tiers": tier, "abc_classes": abc, "lifecycle_stages": stage, "min_value": min_value,
               "exclude_member_ids": _member_ids(exclude) if exclude else []}
    request = _with_option_names(_targets_request, {"campaign": campaign, "limit": limit, "filters": filters,
                                                    "explain": explain})
    models = champion_boosters(project)
    directory = project_snapshot_dir(default_snapshot_dir(), project)
    path = latest_snapshot_path(directory)
    if path is None:
        raise NotReady(f"no feature snapshot in {directory}: run `memberscore train --project {project}` "
                       "or `memberscore snapshot`")
    loaded = load_snapshot(path, models, lookup=False)
    if out.suffix == ".csv":
        _write_csv(models, loaded, request, key, out)
        return
    response = _with_option_names(targets_response, models, loaded, request)
    response = pseudonymised(response, key) if key is not None else response
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(response.model_dump_json(indent=2), encoding="utf-8")
    typer.echo(f"{response.campaign}: {len(response.rows):,} of {response.eligible:,} eligible members "
               f"(snapshot as of {response.snapshot_as_of}) -> {out}")


def _write_csv(models: Any, loaded: Any, request: Any, key: bytes | None, out: Path) -> None:
    """Stream the whole list (or its best ``--limit`` rows) into ``out``, chunk by chunk.

    Written beside ``out`` and renamed at the end, so a failure never leaves a half list under its name.
    """
    import functools

    from serving.pseudonym import pseudonym
    from serving.targets import targets_csv_export

    rename = functools.partial(pseudonym, key=key) if key is not None else None
    export = _with_option_names(targets_csv_export, models, loaded, request, rename)
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".partial")
    try:
        with partial.open("w", encoding="utf-8", newline="") as file:
            file.writelines(export.chunks)
        partial.replace(out)
    finally:
        partial.unlink(missing_ok=True)
    typer.echo(f"{export.campaign}: {export.rows:,} of {export.eligible:,} eligible members "
               f"(snapshot as of {export.snapshot_as_of}) -> {out}")


def _member_ids(path: Path) -> list[str]:
    """One id per line; blank lines and surrounding spaces are ignored."""
    if not path.is_file():
        raise FileNotFoundError(f"--exclude {path}: no such file")
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _targets_request(fields: dict[str, Any]) -> Any:
    """The request (known campaign first), with pydantic's first complaint as one ValueError naming the field."""
    from pydantic import ValidationError

    from serving.schemas import TargetsRequest
    from serving.targets import campaign_named

    campaign_named(fields["campaign"])
    try:
        return TargetsRequest.model_validate(fields)
    except ValidationError as error:
        first = error.errors()[0]
        raise ValueError(f"{'.'.join(map(str, first['loc']))}: {first['msg']}") from None


def _with_option_names(call: Callable[..., Any], *args: Any) -> Any:
    """``call(*args)``, with a request field that starts an error message renamed to its option."""
    try:
        return call(*args)
    except ValueError as error:
        field, _, rest = str(error).partition(":")
        if field in TARGET_OPTIONS:
            raise ValueError(f"{TARGET_OPTIONS[field]}:{rest}") from None
        raise
