"""``memberscore keys create | list | revoke``: API keys with a name, role, store scope and expiry.

The key file (``MEMBERSCORE_API_KEY_FILE`` or ``--file``) holds hashes only; ``create`` prints the
key once. The running service reads the file again within a second of a change: no restart.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cli.options import command_settings, one_line_errors

if TYPE_CHECKING:
    from serving.keyfile import KeyRecord

FileOption = Annotated[Path | None, typer.Option(
    "--file", help="the key file (default: MEMBERSCORE_API_KEY_FILE)")]


def _key_file(file: Path | None) -> Path:
    from features.settings import variable

    chosen = file or command_settings().api_key_file
    if chosen is None:
        raise ValueError(f"--file: not given and {variable('api_key_file')} is not set")
    return chosen


@one_line_errors
def create_key(
    role: Annotated[str, typer.Option(help="crm, marketer, analyst or admin (README, Security)")],
    name: Annotated[str, typer.Option(help="who or what uses the key (unique; shown in logs, never reused)")],
    expires: Annotated[str | None, typer.Option(help="e.g. 90d, 12h or 2027-06-30 (default: never)")] = None,
    store: Annotated[list[str] | None, typer.Option(
        "--store", help="only members whose home store is this one (repeat for several; default: all)")] = None,
    raw_ids: Annotated[bool, typer.Option(
        "--raw-ids", help="a marketer key sees raw member ids (default: pseudonyms)")] = False,
    file: FileOption = None,
) -> None:
    """Create a key, add its hash and rights to the key file and print the key once (stored nowhere)."""
    from serving import auth, keyfile

    path, now = _key_file(file), keyfile.now_utc()
    chosen_role = keyfile.check_role(role)
    key = auth.new_key()
    record = keyfile.KeyRecord(name=keyfile.check_name(name), role=chosen_role, hash=auth.hash_key(key), created=now,
                               stores=keyfile.check_stores(store or ()), raw_ids=raw_ids or chosen_role != "marketer",
                               expires=keyfile.expiry(expires, now))
    keyfile.append_key(path, record)
    typer.echo(key)
    typer.echo(f"key {record.name!r} ({_rights(record)}) added to {path}; the service reads it within a second "
               f"(serve with {auth.KEY_FILE_ENV}={path}). The key is shown only now.", err=True)


@one_line_errors
def list_keys(file: FileOption = None) -> None:
    """Every key's name, role, scope, dates and state (no keys, no hashes)."""
    from serving import keyfile

    path, now = _key_file(file), keyfile.now_utc()
    records = keyfile.read_key_file(path)
    typer.echo(f"{'name':<24} {'role':<9} {'state':<8} {'created':<20} {'expires':<20} rights")
    for record in records:
        created = "(old format)" if record.legacy else _day(record.created)
        typer.echo(f"{record.name:<24} {record.role:<9} {record.state(now):<8} {created:<20} "
                   f"{_day(record.expires) or 'never':<20} {_rights(record)}")


@one_line_errors
def revoke(
    name: Annotated[str, typer.Argument(help="the key's name (`memberscore keys list`)")],
    file: FileOption = None,
) -> None:
    """Revoke a key now: the service refuses it within a second, no restart (the line stays, marked revoked)."""
    from serving import keyfile

    record = keyfile.revoke_key(_key_file(file), name, keyfile.now_utc())
    typer.echo(f"revoked key {record.name!r} ({record.role}) at {_day(record.revoked)}")


def _rights(record: KeyRecord) -> str:
    stores = "stores " + ", ".join(record.stores) if record.stores else "all stores"
    return f"role {record.role}, {stores}, {'raw member ids' if record.raw_ids else 'pseudonymised ids'}"


def _day(when: datetime | None) -> str:
    return when.strftime("%Y-%m-%d %H:%M UTC") if when is not None else ""
