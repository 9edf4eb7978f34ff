"""campaigns.member_ids in the store: with a data key the database holds no member id in the clear (a
different stored id per campaign), reads give the plain ids back in the plain order, a missing or
other key is one sentence, and a rotation re-encrypts every row, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from campaigns.member_ids import MAX_ID_BYTES, PREFIX, MemberIdCipher
from campaigns.store import opened
from features.data_key import DataKeyNeeded, WrongDataKey, parse_data_key
from tests.campaigns.test_store import members, record, url  # noqa: F401  (url: the fixture of both backends)
from tests.campaigns.test_store_lists import BODY, client_for

KEY = parse_data_key("A" * 43 + "=")
OTHER = parse_data_key("B" * 43 + "=")
IDS = ["007", "b", "c", "d"]


def stored_ids(database: str, campaign_id: str) -> list[str]:
    engine = sa.create_engine(database)
    with engine.connect() as connection:
        found = connection.execute(sa.text("SELECT member_id FROM campaign_members WHERE campaign_id = :c ORDER BY member_id"),
                                   {"c": campaign_id}).scalars().all()
    engine.dispose()
    return list(found)


def test_member_ids_are_encrypted_in_the_database_and_read_back_in_order(url: str) -> None:  # noqa: F811
    with opened(url, KEY) as store:
        store.add(record(), members())
        store.add(record(name="again", campaign_id="cmp_2"), members())
        back = store.members("shop", "cmp_1")
        assert store.arm_counts("shop", "cmp_1") == {"treatment": 3, "control": 1}
        assert list(store.members("shop", "cmp_1", "control")["member_id"]) == ["b"]
    first, second = stored_ids(url, "cmp_1"), stored_ids(url, "cmp_2")
    assert all(stored.startswith(PREFIX) for stored in first) and not set(IDS) & set(first)
    assert not set(first) & set(second)  # the same members, unlinkable across campaigns without the key
    assert list(back["member_id"]) == IDS and list(back["score"]) == [9.0, 5.0, 5.0, 1.0]  # score, then id
    with opened(url) as store, pytest.raises(DataKeyNeeded, match="^a member id in the campaign store is encrypted: "
                                                                   "a data key is needed"):
        store.members("shop", "cmp_1")
    with opened(url, OTHER) as store, pytest.raises(WrongDataKey, match="different data key"):
        store.members("shop", "cmp_1")


def test_a_rotation_re_encrypts_every_row_and_encrypts_plain_ones(url: str) -> None:  # noqa: F811
    with opened(url) as store:
        store.add(record(), members())  # written before any key
    with opened(url, None) as store:
        assert store.rekey(MemberIdCipher(KEY)) == 4
        assert store.rekey(MemberIdCipher(KEY)) == 0  # run again: nothing left to do
    with opened(url, KEY) as store:
        before = store.members("shop", "cmp_1")
        assert store.rekey(MemberIdCipher(OTHER)) == 4
    with opened(url, OTHER) as store:
        pd.testing.assert_frame_equal(store.members("shop", "cmp_1"), before)
    with opened(url, KEY) as store, pytest.raises(WrongDataKey):
        store.members("shop", "cmp_1")


def test_an_id_too_long_to_store_encrypted_is_refused_naming_the_field() -> None:
    cipher = MemberIdCipher(KEY)
    assert len(cipher.hide("cmp_1", "x" * MAX_ID_BYTES)) <= 200
    with pytest.raises(ValueError, match=f"^members.member_id: {MAX_ID_BYTES + 1} bytes; an encrypted id holds at most"):
        cipher.hide("cmp_1", "x" * (MAX_ID_BYTES + 1))


def test_the_campaign_routes_work_on_an_encrypted_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """POST /campaigns stores encrypted ids; the contact list read back through the API has the plain ids."""
    database = f"sqlite:///{tmp_path / 'campaigns.db'}"
    with opened(database, KEY) as store:
        client = client_for(store, "shop", monkeypatch)
        created = client.post("/campaigns", json=BODY)
        assert created.status_code == 200, created.text
        campaign_id = created.json()["campaign"]["id"]
        listed = client.get(f"/campaigns/{campaign_id}", params={"format": "csv"})
        assert listed.status_code == 200
        contacts = {row["member_id"] for row in csv.DictReader(io.StringIO(listed.text.lstrip("\ufeff")))}
        treated = set(store.members("shop", campaign_id, "treatment")["member_id"])
    assert len(contacts) == 90 and contacts == treated and contacts <= {f"m{i:03d}" for i in range(100)}
    assert not contacts & set(stored_ids(database, campaign_id))


def test_a_service_without_the_data_key_answers_503_naming_it_and_stores_nothing_in_the_clear(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Started without MEMBERSCORE_DATA_KEY (or with another key) on an encrypted store: the contact
    list and a new campaign are a 503 in the error shape naming the setting, not a generic 500; no
    member id is written in the clear beside the encrypted ones; what needs no member id still answers."""
    database = f"sqlite:///{tmp_path / 'campaigns.db'}"
    with opened(database, KEY) as store:
        store.add(record(), members())
    needed = ("not ready: a member id in the campaign store is encrypted: a data key is needed to read it "
              "(set MEMBERSCORE_DATA_KEY or MEMBERSCORE_DATA_KEY_FILE)")
    with opened(database) as store:
        client = client_for(store, "shop", monkeypatch)
        contacts = client.get("/campaigns/cmp_1", params={"format": "csv"})
        assert (contacts.status_code, contacts.json()) == (503, {"error": needed})
        created = client.post("/campaigns", json=BODY)
        assert (created.status_code, created.json()) == (503, {"error": (
            "not ready: the campaign store is encrypted: a data key is needed to read it (set MEMBERSCORE_DATA_KEY "
            "or MEMBERSCORE_DATA_KEY_FILE), and new member ids would be stored in the clear beside the encrypted ones")})
        assert [r["campaign"]["id"] for r in client.get("/campaigns").json()["records"]] == ["cmp_1"]
        assert client.get("/campaigns/cmp_1").status_code == 200
    assert all(stored.startswith(PREFIX) for stored in stored_ids(database, "cmp_1"))
    with opened(database, OTHER) as store:
        wrong = client_for(store, "shop", monkeypatch).get("/campaigns/cmp_1", params={"format": "csv"})
        assert wrong.status_code == 503 and "different data key" in wrong.json()["error"]
