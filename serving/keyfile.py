"""The key file: one JSON object per line per API key, holding its hash and rights, never the key.

A line is ``{"name": ..., "role": ..., "hash": "sha256:<hex>", "stores": [...], "raw_ids": false,
"created": "<UTC ISO>", "expires": "<UTC ISO>" | null, "revoked": "<UTC ISO>" | null}``, as written
by ``memberscore keys create`` / ``revoke``. Revoked keys stay in the file (their names are never
reused, so an audit line's key name means one key). Lines starting with ``#`` are comments.

A line of the first format (``sha256:<hex>`` alone, from before keys had roles) is still read, as
an ``admin`` key named ``legacy-<hash prefix>``, with a warning naming the line: refusing it would
lock every existing deployment out at upgrade, and it had every right already. ``memberscore keys
revoke legacy-<prefix>`` retires it once its users have keys with roles.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, cast

from features.durations import length_or_date
from serving.caller import ROLES, Caller, Role

log = logging.getLogger(__name__)

HASH_PREFIX = "sha256:"
LEGACY_PREFIX = "legacy-"
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
STORE = re.compile(r"[^\x00-\x1f\x7f]{1,100}")


@dataclass(frozen=True)
class KeyRecord:
    """One key's stored form: its hash, name, rights and life (times in UTC)."""

    name: str
    role: Role
    hash: str
    created: datetime
    stores: tuple[str, ...] = ()
    raw_ids: bool = False
    expires: datetime | None = None
    revoked: datetime | None = None
    legacy: bool = False

    def state(self, now: datetime) -> str:
        """``active``, ``expired`` or ``revoked`` at ``now``."""
        if self.revoked is not None and self.revoked <= now:
            return "revoked"
        if self.expires is not None and self.expires <= now:
            return "expired"
        return "active"

    def caller(self) -> Caller:
        return Caller(name=self.name, role=self.role, stores=self.stores, raw_ids=self.raw_ids)

    def line(self) -> str:
        """The record as one key-file line."""
        return json.dumps({"name": self.name, "role": self.role, "hash": self.hash, "stores": list(self.stores),
                           "raw_ids": self.raw_ids, "created": _iso(self.created), "expires": _iso(self.expires),
                           "revoked": _iso(self.revoked)}, ensure_ascii=False)


def check_name(name: str, new: bool = True) -> str:
    """A key name: letters, digits, ``.``, ``_``, ``-`` (at most 64); a new one not starting with
    ``legacy-`` (the names of old-format keys, kept when one is revoked)."""
    if not NAME.fullmatch(name) or (new and name.startswith(LEGACY_PREFIX)):
        raise ValueError(f"--name {name!r}: use 1-64 letters, digits, '.', '_' or '-' (not starting with "
                         f"'{LEGACY_PREFIX}')")
    return name


def check_role(role: str) -> Role:
    if role not in ROLES:
        raise ValueError(f"--role {role!r}: use one of {', '.join(ROLES)}")
    return cast(Role, role)


def check_stores(stores: Iterable[str]) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(stores))
    for store in chosen:
        if not STORE.fullmatch(store):
            raise ValueError(f"--store {store!r}: a store name is 1-100 printable characters")
    return chosen


def expiry(text: str | None, now: datetime) -> datetime | None:
    """``--expires``: ``90d``, ``12h`` from now, or a date ``YYYY-MM-DD`` (its midnight UTC)."""
    if text is None:
        return None
    until = length_or_date(text, "--expires", units="hd")
    if isinstance(until, timedelta):
        return now + until
    if until <= now:
        raise ValueError(f"--expires {text!r}: that date has passed")
    return until


def read_key_file(path: Path) -> tuple[KeyRecord, ...]:
    """Every key of the file; a line that cannot be read is a ValueError naming the file and line."""
    return tuple(record for _, record in _numbered_records(path.read_text(encoding="utf-8").splitlines(), path))


def _numbered_records(lines: list[str], path: Path) -> Iterable[tuple[int, KeyRecord]]:
    names: set[str] = set()
    for number, raw in enumerate(lines, start=1):
        record = parse_line(raw, f"{path}:{number}")
        if record is None:
            continue
        if record.name in names:
            raise ValueError(f"{path}:{number}: key name {record.name!r} appears twice")
        names.add(record.name)
        yield number - 1, record


def parse_line(raw: str, where: str) -> KeyRecord | None:
    """One line's key (None for a blank or comment line); a ValueError starting with ``where``."""
    line = raw.strip()
    if not line or line.startswith("#"):
        return None
    if line.startswith(HASH_PREFIX):
        digest = check_hash(line.split("#", 1)[0].strip(), where)
        log.warning("%s: a key without a name or role (old format): served as role admin; give its users keys "
                    "with roles (`memberscore keys create`), then `memberscore keys revoke %s%s`",
                    where, LEGACY_PREFIX, digest[len(HASH_PREFIX):][:8])
        return KeyRecord(name=LEGACY_PREFIX + digest[len(HASH_PREFIX):][:8], role="admin", hash=digest,
                         created=datetime.fromtimestamp(0, UTC), raw_ids=True, legacy=True)
    try:
        fields = json.loads(line)
        if not isinstance(fields, dict):
            raise ValueError("not a JSON object")
        return _record(fields, where)
    except (ValueError, TypeError, KeyError) as error:
        raise ValueError(f"{where}: not a key line ({str(error).splitlines()[0]}); "
                         "write keys with `memberscore keys create`") from None


def _record(fields: dict[str, Any], where: str) -> KeyRecord:
    stores = fields.get("stores") or []
    if not isinstance(stores, list) or not all(isinstance(s, str) for s in stores):
        raise ValueError("stores: expected a list of store names")
    return KeyRecord(name=check_name(str(fields["name"]), new=False), role=check_role(str(fields["role"])),
                     hash=check_hash(str(fields["hash"]), where), created=_time(fields["created"]),
                     stores=check_stores(stores), raw_ids=fields.get("raw_ids") is True,
                     expires=_maybe_time(fields.get("expires")), revoked=_maybe_time(fields.get("revoked")))


def check_hash(text: str, where: str) -> str:
    digest = text.removeprefix(HASH_PREFIX)
    if not text.startswith(HASH_PREFIX) or len(digest) != 64 or not all(c in "0123456789abcdef" for c in digest):
        raise ValueError(f"{where}: expected 'sha256:<64 hex digits>' (write keys with `memberscore keys create`)")
    return text


def _maybe_time(value: object) -> datetime | None:
    return None if value is None else _time(value)


def _time(value: object) -> datetime:
    when = datetime.fromisoformat(str(value))
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _iso(when: datetime | None) -> str | None:
    return when.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z") if when else None


def append_key(path: Path, record: KeyRecord) -> None:
    """Add ``record`` to the file (created owner-only), refusing a name already there."""
    lines = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
    existing = [r.name for _, r in _numbered_records(lines, path)]  # refuse to add to a file the service cannot read
    if record.name in existing:
        raise ValueError(f"--name {record.name!r}: a key of that name exists (names are never reused; "
                         "pick another, e.g. with a date)")
    _replace_file(path, [*lines, record.line()])


def revoke_key(path: Path, name: str, now: datetime) -> KeyRecord:
    """Mark the key ``name`` revoked as of ``now`` (the line rewritten; other lines as they were)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    for index, record in _numbered_records(lines, path):
        if record.name == name:
            if record.revoked is not None:
                raise ValueError(f"{name!r}: already revoked at {_iso(record.revoked)}")
            revoked = replace(record, revoked=now)
            lines[index] = revoked.line()
            _replace_file(path, lines)
            return revoked
    raise ValueError(f"{name!r}: no key of that name in {path} (see `memberscore keys list`)")


def _replace_file(path: Path, lines: list[str]) -> None:
    """Write the whole file to a temporary owner-only file, then rename it over the old one: the
    service (which re-reads on change) never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write("\n".join(lines) + "\n")
        os.chmod(temporary, 0o600)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def now_utc() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)
