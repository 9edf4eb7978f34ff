"""campaigns.store: campaigns and members round-trip, projects never mix, the database's constraints
hold, and an older schema is migrated, on SQLite and on a real PostgreSQL server (``postgres_url``)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from campaigns.record import MEMBER_DTYPES, CampaignRecord
from campaigns.schema import VERSION_TABLE
from campaigns.store import CampaignNotFound, CampaignStore, open_store, upgrade

BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)]


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, or a new database on the session's PostgreSQL server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'nested' / 'campaigns.db'}"
        return
    server = sa.make_url(request.getfixturevalue("postgres_url"))
    name = "t_" + secrets.token_hex(6)
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f"CREATE DATABASE {name}"))
    yield server.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(sa.text(f"DROP DATABASE {name} WITH (FORCE)"))
    admin.dispose()


@pytest.fixture
def store(url: str) -> Iterator[CampaignStore]:
    opened = open_store(url)
    yield opened
    opened.close()


def record(project: str = "shop", name: str = "spring winback", campaign_id: str = "cmp_1", **changes: object) -> CampaignRecord:
    values: dict[str, object] = dict(
        id=campaign_id, project=project, name=name, type="winback", created=datetime(2024, 6, 1, 9, 30, tzinfo=UTC),
        start=date(2024, 6, 1), window_days=30, cost_per_contact=0.5, margin_rate=0.4, holdout_share=0.1,
        snapshot_as_of=date(2024, 6, 1), model_versions={"churn": "3"}, settings={"limit": 4},
        power={"spend_per_member": 12.5})
    return CampaignRecord(**{**values, **changes})  # type: ignore[arg-type]


def members() -> pd.DataFrame:
    return pd.DataFrame({
        "member_id": ["007", "b", "c", "d"], "arm": ["treatment", "control", "treatment", "treatment"],
        "score": [9.0, 5.0, 5.0, 1.0], "score_decile": [1, 3, 5, 8], "lifecycle_stage": ["lost", "sleeping", "lost", None],
        "tier": ["gold", "member", "member", "member"], "is_new": [False, True, False, False],
    })


def test_a_campaign_and_its_members_come_back_as_stored(store: CampaignStore) -> None:
    stored = record()
    store.add(stored, members())
    assert store.get("shop", "cmp_1") == stored
    assert store.list("shop") == [stored]
    assert store.arm_counts("shop", "cmp_1") == {"treatment": 3, "control": 1}
    back = store.members("shop", "cmp_1")
    expected = members().astype(MEMBER_DTYPES)  # best score first, ties by member id
    pd.testing.assert_frame_equal(back, expected)
    assert list(store.members("shop", "cmp_1", "control")["member_id"]) == ["b"]
    assert back["member_id"].iloc[0] == "007"  # ids are text: the leading zeros stay


def test_a_project_never_sees_another_projects_campaigns(store: CampaignStore) -> None:
    store.add(record(project="shop"), members())
    store.add(record(project="other", campaign_id="cmp_2"), members())  # the same name in another project is fine
    assert [r.id for r in store.list("shop")] == ["cmp_1"]
    assert [r.id for r in store.list("other")] == ["cmp_2"]
    for call in (store.get, store.members, store.arm_counts):
        with pytest.raises(CampaignNotFound, match="no campaign 'cmp_2' in project 'shop'"):
            call("shop", "cmp_2")  # type: ignore[operator]


def test_a_name_is_used_once_per_project_and_a_refused_campaign_leaves_nothing(store: CampaignStore) -> None:
    store.add(record(), members())
    with pytest.raises(ValueError, match="already has a campaign named 'spring winback'"):
        store.add(record(campaign_id="cmp_9"), members())
    with pytest.raises(ValueError, match="members.arm"):
        store.add(record(name="other", campaign_id="cmp_8"), members().assign(arm="treated"))
    with pytest.raises(ValueError, match="margin_rate|refused by the database"):
        store.add(record(name="third", campaign_id="cmp_7", margin_rate=1.5), members())
    assert [r.id for r in store.list("shop")] == ["cmp_1"]


@pytest.mark.parametrize(("statement", "why"), [
    ("INSERT INTO campaign_members (campaign_id, member_id, arm) VALUES ('cmp_1', 'x', 'treated')", "arm"),
    ("INSERT INTO campaign_members (campaign_id, member_id, arm) VALUES ('cmp_1', 'b', 'control')", "one row per member"),
    ("INSERT INTO campaign_members (campaign_id, member_id, arm) VALUES ('nope', 'x', 'control')", "foreign key"),
    ("INSERT INTO campaign_members (campaign_id, member_id, arm, score_decile) VALUES ('cmp_1', 'y', 'control', 11)",
     "decile"),
])
def test_the_database_itself_refuses_dishonest_rows(store: CampaignStore, statement: str, why: str) -> None:
    store.add(record(), members())
    with pytest.raises(sa.exc.IntegrityError), store.engine.begin() as connection:
        connection.execute(sa.text(statement))


def test_a_database_at_the_first_revision_is_migrated_to_the_newest(url: str) -> None:
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        Path(str(parsed.database)).parent.mkdir(parents=True)
    engine = sa.create_engine(parsed)
    upgrade(engine, "0001")
    with engine.begin() as connection:
        connection.execute(sa.text(
            "INSERT INTO campaigns (id, project, name, type, created, start, window_days, model_versions, "
            "cost_per_contact, margin_rate, holdout_share, settings) VALUES ('old', 'shop', 'before', 'winback', "
            "'2024-01-02 03:04:05', '2024-01-02', 30, '{}', 1.0, 0.5, 0.2, '{}')"))
        connection.execute(sa.text("INSERT INTO campaign_members (campaign_id, member_id, arm) VALUES ('old', 'm', 'control')"))
        columns = {c["name"] for c in sa.inspect(connection).get_columns("campaigns")}
    assert "design" not in columns
    engine.dispose()
    store = open_store(url)
    old = store.get("shop", "old")
    assert (old.design, old.external_id, old.window_days, old.holdout_share) == ("randomised", None, 30, 0.2)
    assert old.created == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert store.arm_counts("shop", "old") == {"treatment": 0, "control": 1}
    with store.engine.connect() as connection:
        assert connection.execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE}")).scalar_one() == "0003"
        assert {"sent_at", "cost"} <= {c["name"] for c in sa.inspect(connection).get_columns("campaign_members")}
    assert store.latest_effect("shop", "old") is None  # 0003's table is there, empty
    store.save_effect("shop", "old", {"verdict": "not identified"})
    assert store.latest_effect("shop", "old")["verdict"] == "not identified"  # type: ignore[index]
    store.close()


def test_opening_twice_is_harmless_and_a_bad_url_is_named(url: str) -> None:
    open_store(url).close()
    reopened = open_store(url)  # already at head: nothing to do
    assert reopened.list("shop") == []
    reopened.close()
    with pytest.raises(ValueError, match="not a database URL"):
        open_store("not a url")
