"""The campaign store: campaigns and their members in a SQL database (SQLite file or PostgreSQL).

``open_store(url)`` migrates the database to the newest schema first (alembic ``upgrade head``,
the scripts ship in ``campaigns/migrations``), so a fresh file or an older schema just works. Every
read and write names a project and touches only that project's rows: one database may hold
several projects, and a project never sees another's campaigns (an id of another project is
"not found", as an unknown one is).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import pandas as pd
import sqlalchemy as sa

from campaigns.member_ids import PREFIX, MemberIdCipher
from campaigns.record import ARMS, MEMBER_COLUMNS, MEMBER_DTYPES, CampaignRecord
from campaigns.schema import campaign_effects, campaign_members, campaigns
from features.data_key import DataKey, DataKeyNeeded, WrongDataKey, missing_key_message

MIGRATIONS: Final = Path(__file__).with_name("migrations")
DEFAULT_DB_PATH: Final = Path("var/campaigns.db")
ID_PREFIX: Final = "cmp_"
RECORD_COLUMNS: Final = tuple(CampaignRecord.__dataclass_fields__)


class CampaignNotFound(LookupError):
    """No campaign with this id in this project."""


def default_url(path: Path = DEFAULT_DB_PATH) -> str:
    """The SQLite file under ``var/`` used when no database URL is set."""
    return f"sqlite:///{path}"


def new_campaign_id() -> str:
    """A fresh random id (also the key of the holdout's hash, so arms cannot be known before it exists)."""
    return ID_PREFIX + secrets.token_hex(12)


def upgrade(engine: sa.Engine, revision: str = "head") -> None:
    """Migrate the database to ``revision`` (alembic, on one connection and transaction)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as connection:
        if sqlite:  # SQLite alters a table by copying and dropping it: with foreign keys on, the drop
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")  # would delete every member row (CASCADE)
            connection.commit()
        with connection.begin():
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
        if sqlite:
            connection.exec_driver_sql("PRAGMA foreign_keys=ON")
            connection.commit()


def open_store(url: str, key: DataKey | None = None) -> CampaignStore:
    """The store at ``url`` (a SQLAlchemy URL), its schema migrated to the newest revision.

    A SQLite file's directory is created; a bad URL is a ValueError naming it (without its password).
    With a data ``key``, member ids are written encrypted (``campaigns.member_ids``).
    """
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError:
        raise ValueError(f"campaign database: not a database URL (expected sqlite:///path or "
                         f"postgresql+psycopg://user@host/db), got {url[:40]!r}") from None
    if parsed.get_backend_name() == "sqlite" and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)  # type: ignore[arg-type]
    engine = sa.create_engine(parsed)
    if parsed.get_backend_name() == "sqlite":
        sa.event.listen(engine, "connect", _sqlite_foreign_keys)
    try:
        _upgrade_once_more_if_raced(engine)
    except sa.exc.OperationalError as error:
        raise ValueError(f"campaign database {parsed.render_as_string(hide_password=True)}: cannot open "
                         f"({str(error.orig).splitlines()[0]})") from None
    return CampaignStore(engine, MemberIdCipher(key))


def _upgrade_once_more_if_raced(engine: sa.Engine) -> None:
    """``upgrade``; when it fails, once more after a moment: two processes (the service and a command)
    opening a fresh database together both try to create the tables, and the loser then finds them made."""
    try:
        upgrade(engine)
    except sa.exc.DBAPIError:
        time.sleep(0.5)
        upgrade(engine)


def _sqlite_foreign_keys(connection: Any, _: Any) -> None:
    """SQLite checks foreign keys only when asked, per connection."""
    cursor = connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


class CampaignStore:
    """Reads and writes campaigns of one database; every method names the project."""

    def __init__(self, engine: sa.Engine, ids: MemberIdCipher | None = None) -> None:
        self.engine = engine
        self.ids = ids if ids is not None else MemberIdCipher(None)

    def close(self) -> None:
        self.engine.dispose()

    def add(self, record: CampaignRecord, members: pd.DataFrame) -> None:
        """Store a campaign and its members in one transaction (all or nothing).

        ``members`` holds ``MEMBER_COLUMNS`` (strata may be missing) and optionally ``sent_at`` and
        ``cost``. A name already used in the project is a ValueError: a campaign is recorded once.
        """
        self.add_all([(record, members)])

    def add_all(self, made: list[tuple[CampaignRecord, pd.DataFrame]]) -> None:
        """``add`` for several campaigns in one transaction: all are stored, or none."""
        self._refuse_clear_ids_beside_encrypted()
        for record, members in made:
            _check_members(members)
            taken = self._named(record.project, record.name)
            if taken is not None:
                raise ValueError(f"name: project {record.project!r} already has a campaign named {record.name!r}")
        try:
            with self.engine.begin() as connection:
                for record, members in made:
                    row = {name: getattr(record, name) for name in RECORD_COLUMNS}
                    row["created"] = record.created.astimezone(UTC).replace(tzinfo=None)
                    connection.execute(campaigns.insert(), row)
                    rows = _member_rows(record.id, members, self.ids)
                    if rows:
                        connection.execute(campaign_members.insert(), rows)
        except sa.exc.IntegrityError as error:
            names = ", ".join(repr(record.name) for record, _ in made)
            raise ValueError(f"campaign {names}: refused by the database ({str(error.orig).splitlines()[0]})") from None

    def _refuse_clear_ids_beside_encrypted(self) -> None:
        """No key, and encrypted ids stored: adding would write ids in the clear beside them (DataKeyNeeded)."""
        if self.ids.encrypts:
            return
        query = sa.select(campaign_members.c.member_id).where(campaign_members.c.member_id.startswith(PREFIX)).limit(1)
        with self.engine.connect() as connection:
            if connection.execute(query).first() is not None:
                raise DataKeyNeeded(missing_key_message("the campaign store") + ", and new member ids would be "
                                    "stored in the clear beside the encrypted ones")

    def get(self, project: str, campaign_id: str) -> CampaignRecord:
        """The campaign ``campaign_id`` of ``project``; CampaignNotFound otherwise."""
        query = sa.select(campaigns).where(campaigns.c.project == project, campaigns.c.id == campaign_id)
        with self.engine.connect() as connection:
            row = connection.execute(query).mappings().first()
        if row is None:
            raise CampaignNotFound(f"id: no campaign {campaign_id!r} in project {project!r}")
        return _record(row)

    def list(self, project: str) -> list[CampaignRecord]:
        """Every campaign of ``project``, newest first."""
        query = sa.select(campaigns).where(campaigns.c.project == project).order_by(
            campaigns.c.created.desc(), campaigns.c.id)
        with self.engine.connect() as connection:
            return [_record(row) for row in connection.execute(query).mappings()]

    def arm_counts(self, project: str, campaign_id: str) -> dict[str, int]:
        """Members per arm (both arms always present)."""
        self.get(project, campaign_id)
        query = (sa.select(campaign_members.c.arm, sa.func.count()).where(campaign_members.c.campaign_id == campaign_id)
                 .group_by(campaign_members.c.arm))
        with self.engine.connect() as connection:
            counted: dict[str, int] = {str(arm): int(n) for arm, n in connection.execute(query).tuples().all()}
        return {arm: int(counted.get(arm, 0)) for arm in ARMS}

    def members(self, project: str, campaign_id: str, arm: str | None = None) -> pd.DataFrame:
        """The campaign's members as the measurement interface's frame (``MEMBER_COLUMNS``, dtypes of
        ``MEMBER_DTYPES``), best score first then by member id; one arm only when ``arm`` is given."""
        self.get(project, campaign_id)
        table = campaign_members.c
        query = sa.select(*(getattr(table, name) for name in MEMBER_COLUMNS)).where(table.campaign_id == campaign_id)
        if arm is not None:
            query = query.where(table.arm == arm)
        with self.engine.connect() as connection:
            rows = connection.execute(query.order_by(table.score.desc(), table.member_id)).all()
        frame = pd.DataFrame([tuple(row) for row in rows], columns=list(MEMBER_COLUMNS))
        frame["member_id"] = [self.ids.reveal(campaign_id, str(member)) for member in frame["member_id"]]
        if self.ids.encrypts:  # stored ids sorted as ciphertext: the plain order again (best score first, then id)
            frame = frame.sort_values(["score", "member_id"], ascending=[False, True], na_position="last",
                                      kind="stable", ignore_index=True)
        return frame.astype(MEMBER_DTYPES)

    def rekey(self, new: MemberIdCipher) -> int:
        """Re-encrypt every stored member id under ``new`` (plain ones too), in one transaction; returns rows changed.

        A row already under ``new`` is left as it is, so a rotation stopped after the store can run again.
        """
        table = campaign_members.c
        changed = 0
        with self.engine.begin() as connection:
            for campaign_id, stored in connection.execute(sa.select(table.campaign_id, table.member_id)).tuples().all():
                again = new.hide(campaign_id, _revealed(campaign_id, stored, self.ids, new))
                if again != stored:
                    connection.execute(sa.update(campaign_members).where(table.campaign_id == campaign_id,
                                                                         table.member_id == stored)
                                       .values(member_id=again))
                    changed += 1
        self.ids = new
        return changed

    def save_effect(self, project: str, campaign_id: str, answer: dict[str, Any]) -> datetime:
        """Keep a measurement (``campaign effect``) so the service can show the latest; returns when (UTC)."""
        self.get(project, campaign_id)
        measured = datetime.now(UTC).replace(tzinfo=None)
        with self.engine.begin() as connection:
            connection.execute(sa.insert(campaign_effects).values(campaign_id=campaign_id, measured=measured,
                                                                  answer=answer))
        return measured.replace(tzinfo=UTC)

    def latest_effect(self, project: str, campaign_id: str) -> dict[str, Any] | None:
        """The newest measurement with ``measured`` (ISO, UTC), or None when it was never measured."""
        self.get(project, campaign_id)
        query = (sa.select(campaign_effects.c.measured, campaign_effects.c.answer)
                 .where(campaign_effects.c.campaign_id == campaign_id)
                 .order_by(campaign_effects.c.measured.desc()).limit(1))
        with self.engine.connect() as connection:
            row = connection.execute(query).first()
        if row is None:
            return None
        return {"measured": row.measured.replace(tzinfo=UTC).isoformat(), **row.answer}

    def _named(self, project: str, name: str) -> str | None:
        query = sa.select(campaigns.c.id).where(campaigns.c.project == project, campaigns.c.name == name)
        with self.engine.connect() as connection:
            return connection.execute(query).scalar_one_or_none()


@contextmanager
def opened(url: str, key: DataKey | None = None) -> Iterator[CampaignStore]:
    """``open_store`` for one command: the engine's connections are closed at the end."""
    store = open_store(url, key)
    try:
        yield store
    finally:
        store.close()


def _check_members(members: pd.DataFrame) -> None:
    missing = [name for name in MEMBER_COLUMNS if name not in members.columns]
    if missing:
        raise ValueError(f"members: missing column(s) {missing}")
    if members["member_id"].duplicated().any():
        raise ValueError("members: a member is listed twice (one row per member per campaign)")
    bad = set(members["arm"].unique()) - set(ARMS)
    if bad:
        raise ValueError(f"members.arm: expected treatment or control, got {sorted(map(str, bad))}")


def _member_rows(campaign_id: str, members: pd.DataFrame, ids: MemberIdCipher) -> list[dict[str, Any]]:
    """Plain Python values per row (None for missing), as the database drivers want them; ids as stored."""
    columns = [*MEMBER_COLUMNS, *(name for name in ("sent_at", "cost") if name in members.columns)]
    frame = members[columns].astype(object)
    frame = frame.where(frame.notna(), None)
    rows: list[dict[str, Any]] = [{str(k): v for k, v in row.items()} for row in frame.to_dict(orient="records")]
    for row in rows:
        row["campaign_id"] = campaign_id
        row["member_id"] = ids.hide(campaign_id, str(row["member_id"]))
        for name, cast in (("score", float), ("score_decile", int), ("is_new", bool), ("cost", float)):
            if row.get(name) is not None:
                row[name] = cast(row[name])
        if row.get("sent_at") is not None:
            row["sent_at"] = pd.Timestamp(row["sent_at"]).to_pydatetime()
    return rows


def _revealed(campaign_id: str, stored: str, old: MemberIdCipher, new: MemberIdCipher) -> str:
    """The plain id of a stored one under ``old``, or under ``new`` when a rotation already reached it."""
    try:
        return old.reveal(campaign_id, stored)
    except (WrongDataKey, DataKeyNeeded) as wrong:
        try:
            return new.reveal(campaign_id, stored)
        except WrongDataKey:
            raise wrong from None


def _record(row: sa.RowMapping) -> CampaignRecord:
    values = {name: row[name] for name in RECORD_COLUMNS}
    values["created"] = row["created"].replace(tzinfo=UTC)
    return CampaignRecord(**values)


def store_url(configured: str | None) -> str:
    """The configured URL (``MEMBERSCORE_CAMPAIGN_DB``, read at the edge), else ``default_url()``."""
    return configured or default_url()
