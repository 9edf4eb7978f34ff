"""``memberscore audit``: who did what through the API, read from the service's audit log and its rotated files."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import typer

from cli.options import LangOption, command_settings, one_line_errors
from features.durations import length_or_date
from serving.access_log import escape_text

COLUMNS = ("time", "key", "role", "method", "route", "status", "campaign_id", "list", "rows", "ms")


def parse_since(text: str, now: datetime) -> datetime:
    """The earliest time ``--since`` asks for: an age (``30m``, ``12h``, ``7d``, ``2w``) or a UTC date (YYYY-MM-DD)."""
    since = length_or_date(text, "--since")
    return now - since if isinstance(since, timedelta) else since


def entry_time(entry: dict[str, Any]) -> datetime:
    """When an entry was written; an entry without a readable UTC time is an error, not skipped."""
    try:
        return datetime.fromisoformat(str(entry["time"]))
    except (KeyError, ValueError):
        raise ValueError(f"audit entry without a valid time: {json.dumps(entry, ensure_ascii=True)[:200]}") from None


def chosen(entries: Iterable[dict[str, Any]], since: datetime, key: str | None,
           route: str | None) -> Iterator[dict[str, Any]]:
    """The entries at or after ``since``, of the key named ``key`` and the route template ``route`` when given."""
    for entry in entries:
        if entry_time(entry) >= since and key in (None, entry.get("key")) and route in (None, entry.get("route")):
            yield entry


def row_text(entry: dict[str, Any]) -> str:
    """One entry as a tab-separated row of COLUMNS (empty where null); a value's non-printable characters (a
    key's name, say) are escaped as the access log escapes them, so nothing read from the log can move the
    terminal's cursor, reorder its text or add a row."""
    return "\t".join("" if entry.get(column) is None else escape_text(str(entry[column])) for column in COLUMNS)




@one_line_errors
def audit(
    since: Annotated[str, typer.Option(help="how far back: an age (30m, 12h, 7d, 2w) or a UTC date (YYYY-MM-DD)")] = "7d",
    key: Annotated[str | None, typer.Option(help="only this key's requests (its name)")] = None,
    route: Annotated[str | None, typer.Option(help="only this route, as its template, e.g. /campaigns/{campaign_id}")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print the entries as stored: one JSON object per line")] = False,
    lang: LangOption = None,
) -> None:
    """The service's requests since --since, oldest first, from MEMBERSCORE_AUDIT_LOG and its rotated files.

    Each row: time (UTC), key name, role, method, route template, status, campaign id, list, rows
    returned and milliseconds; then how many requests. No member id is ever in the log.
    """
    from features.i18n import translator
    from serving.audit_file import log_files, read_entries

    earliest = parse_since(since, datetime.now(UTC))
    path = command_settings().audit_log
    if not log_files(path):
        raise FileNotFoundError(f"no audit log at {path} (MEMBERSCORE_AUDIT_LOG): the service writes it once a key is used")
    found = list(chosen(read_entries(path), earliest, key, route))
    if as_json:
        for entry in found:
            typer.echo(json.dumps(entry, ensure_ascii=True, separators=(",", ":")))
        return
    typer.echo("\t".join(COLUMNS))
    for entry in found:
        typer.echo(row_text(entry))
    words = translator(lang)
    typer.echo(words.ngettext("{count} request since {since}", "{count} requests since {since}", len(found)).format(
        count=len(found), since=earliest.isoformat(timespec="seconds")), err=True)
