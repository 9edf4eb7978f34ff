"""``memberscore data-key`` (new, decrypt) and ``memberscore rekey``: the data key's life.

README.md, "Security", says what the data key encrypts and how to rotate it.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cli.options import command_settings, one_line_errors

if TYPE_CHECKING:
    from features.data_key import DataKey

app = typer.Typer(help="The data key that encrypts member data at rest: make one, read an encrypted file.",
                  no_args_is_help=True)

KeyFileOption = Annotated[Path, typer.Option(help="file holding a data key (`memberscore data-key new FILE`)")]


@app.command("new")
@one_line_errors
def new_key(path: Annotated[Path, typer.Argument(help="where to write the key (must not exist)")]) -> None:
    """Write a fresh random data key to PATH, readable by its owner only; print nothing secret."""
    import os

    from features.data_key import new_data_key_text, parse_data_key

    path.parent.mkdir(parents=True, exist_ok=True)
    try:  # O_EXCL: never overwrite a key (the data it encrypted would be lost with it)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ValueError(f"{path}: exists; a data key is never overwritten") from None
    with os.fdopen(descriptor, "w", encoding="ascii") as file:
        file.write(new_data_key_text() + "\n")
    key_id = parse_data_key(path.read_text(encoding="ascii")).key_id.hex()
    typer.echo(f"data key {key_id} -> {path} (mode 0600); set MEMBERSCORE_DATA_KEY_FILE={path} and keep a copy "
               "somewhere safe: without it the data it encrypts cannot be read")


@app.command("decrypt")
@one_line_errors
def decrypt(
    path: Annotated[Path, typer.Argument(help="a file memberscore wrote: a list, rejects, report or snapshot")],
    out: Annotated[Path | None, typer.Option(help="write the plain file here (mode 0600); default stdout")] = None,
) -> None:
    """Print (or write) the plain content of an encrypted file, with the configured data key."""
    from features.rekey import decrypted
    from features.sealed import write_private

    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    plain = decrypted(path, command_settings().encryption_key())
    if out is None:
        sys.stdout.buffer.write(plain)
        sys.stdout.buffer.flush()
    else:
        write_private(out, plain, None)


@one_line_errors
def rekey(
    new_key_file: Annotated[Path, typer.Option("--new-key-file", help="the new data key's file")],
    old_key_file: Annotated[Path | None, typer.Option(
        "--old-key-file", help="the current data key's file (leave out when the data was never encrypted)")] = None,
    files: Annotated[list[Path] | None, typer.Argument(
        help="exports and reports written with --out (lists, contact lists, train reports)")] = None,
    db: Annotated[str | None, typer.Option(help="campaign store URL (default MEMBERSCORE_CAMPAIGN_DB, "
                                                "else sqlite:///var/campaigns.db)")] = None,
    rejects_dir: Annotated[Path, typer.Option(help="folder of rejects files")] = Path("var/rejects"),
) -> None:
    """Re-encrypt snapshots and score history (every project), rejects, the given FILES and the campaign store's member ids
    from the old data key to the new one; each file atomically, the store in one transaction.

    Run it with the service stopped, then point MEMBERSCORE_DATA_KEY_FILE at the new key and start it.
    A run stopped half-way can be run again as it was: files already under the new key are left as they are.
    """
    from campaigns.member_ids import MemberIdCipher
    from campaigns.store import opened, store_url

    settings = command_settings()
    old, new = _key_from(old_key_file, "--old-key-file"), _key_from(new_key_file, "--new-key-file")
    if new is None or (old is not None and old.key_id == new.key_id):
        raise ValueError("--new-key-file: the same key as --old-key-file")
    targets = [*sorted(settings.snapshot_dir.glob("*/snapshot-*.parquet")),
               *sorted(settings.snapshot_dir.glob("*/history/scores-*.parquet")),
               *sorted(settings.snapshot_dir.glob("*/history/backtest-*.json")), *sorted(rejects_dir.glob("*.csv")),
               *(files or [])]
    done = _rekey_files(targets, old, new)
    with opened(store_url(db or settings.campaign_db), old) as store:
        ids = store.rekey(MemberIdCipher(new))
    typer.echo(f"re-encrypted {done} of {len(targets)} files (the others were under the new key already) and "
               f"{ids:,} campaign member ids under data key {new.key_id.hex()}; now set "
               f"MEMBERSCORE_DATA_KEY_FILE={new_key_file} and restart the service")


def _key_from(path: Path | None, option: str) -> DataKey | None:
    """The key in ``path``, checked like MEMBERSCORE_DATA_KEY_FILE (owner-only, right format)."""
    from features.data_key import parse_data_key
    from features.settings import data_key_file_text

    if path is None:
        return None
    try:
        return parse_data_key(data_key_file_text(path))
    except ValueError as error:
        raise ValueError(f"{option} {path}: {error}") from None


def _rekey_files(paths: list[Path], old: DataKey | None, new: DataKey) -> int:
    """Each file re-encrypted in turn; the first that fails stops the run, naming it."""
    from features.rekey import rekey_file

    done = 0
    for path in paths:
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such file ({done} files re-encrypted before it)")
        try:
            done += rekey_file(path, old, new) is not None
        except ValueError as error:
            raise ValueError(f"{error} ({done} files re-encrypted before it; run again when fixed)") from None
    return done
