"""features.data_key, features.sealed, features.encrypted_parquet and the data key settings: a file written
with the key cannot be read without it (a clear sentence, never garbage), reads back exactly with it,
and a wrong or damaged key is told apart from a missing one."""

from __future__ import annotations

import re
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.data_key import DataKey, DataKeyNeeded, WrongDataKey, new_data_key_text, parse_data_key
from features.encrypted_parquet import is_encrypted
from features.rekey import rekey_file
from features.sealed import read_private, write_private
from features.settings import SettingsError, load_settings
from features.snapshot import Snapshot
from features.store import previous_tiers, read_snapshot, snapshot_facts, write_snapshot

KEY = parse_data_key("A" * 43 + "=")
OTHER = parse_data_key("B" * 43 + "=")
NEEDED = "is encrypted: a data key is needed to read it (set MEMBERSCORE_DATA_KEY or MEMBERSCORE_DATA_KEY_FILE)"
WRONG = "is encrypted with a different data key than the one configured, or was changed after it was written"


def hand_snapshot(as_of: date = date(2024, 7, 1)) -> Snapshot:
    """Four members with two catalogue features and a tier; ids easy to find in a file's bytes."""
    ids = pd.Series([f"secret-member-{i}" for i in range(4)], dtype="string")
    frame = pd.DataFrame({"member_id": ids, "recency_days": [1.0, 20.0, 300.0, 45.5], "orders_total": [9, 3, 1, 4]})
    profile = pd.DataFrame({"member_id": ids, "tier": pd.Series(["gold", "member", "member", "gold"], dtype="string")})
    return Snapshot(frame=frame, as_of=as_of, fingerprint="0123456789abcdef", profile=profile)


def test_a_key_is_44_characters_of_url_safe_base64_and_never_repeated_in_errors() -> None:
    made = new_data_key_text()
    assert len(made) == 44 and len(parse_data_key(made + "\n").secret) == 32
    with pytest.raises(ValueError, match=r"^12 characters; expected 32 random bytes"):
        parse_data_key("c2hvcnRrZXkx")
    with pytest.raises(ValueError, match=r"^not base64") as raised:
        parse_data_key("my secret passphrase!")
    assert "passphrase" not in str(raised.value) and "secret=" not in repr(KEY)


def test_settings_name_the_variable_and_refuse_a_key_file_others_can_read(tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEMBERSCORE_DATA_KEY", "tooshort")
    with pytest.raises(SettingsError, match=r"^MEMBERSCORE_DATA_KEY: 8 characters; expected 32") as raised:
        load_settings()
    assert "tooshort" not in str(raised.value)
    monkeypatch.delenv("MEMBERSCORE_DATA_KEY")
    key_file = tmp_path / "data.key"
    key_file.write_text("A" * 43 + "=\n")
    key_file.chmod(0o644)
    monkeypatch.setenv("MEMBERSCORE_DATA_KEY_FILE", str(key_file))
    with pytest.raises(SettingsError, match=r"mode 0644 lets other users read the key; run chmod 600 on it"):
        load_settings()
    key_file.chmod(0o600)
    assert load_settings().encryption_key() == KEY
    monkeypatch.setenv("MEMBERSCORE_DATA_KEY", "B" * 43 + "=")
    with pytest.raises(SettingsError, match="set MEMBERSCORE_DATA_KEY or MEMBERSCORE_DATA_KEY_FILE, not both"):
        load_settings()
    monkeypatch.delenv("MEMBERSCORE_DATA_KEY_FILE")
    assert load_settings().encryption_key() == OTHER
    monkeypatch.delenv("MEMBERSCORE_DATA_KEY")
    assert load_settings().encryption_key() is None


def test_a_sealed_file_reads_back_only_with_its_key(tmp_path: Path) -> None:
    plain = b"member_id,amount\r\nsecret-member-1,12.50\r\n"
    path = write_private(tmp_path / "rejects.csv", plain, KEY)
    assert b"secret-member" not in path.read_bytes() and read_private(path, KEY) == plain
    with pytest.raises(DataKeyNeeded, match="^" + re.escape(f"{path} {NEEDED}")):
        read_private(path, None)
    with pytest.raises(WrongDataKey, match=WRONG):
        read_private(path, OTHER)
    damaged = bytearray(path.read_bytes())
    damaged[-1] ^= 1
    path.write_bytes(bytes(damaged))
    with pytest.raises(WrongDataKey, match=WRONG):
        read_private(path, KEY)
    assert read_private(write_private(tmp_path / "plain.csv", plain, None), KEY) == plain  # no key: as before


def test_a_snapshot_written_with_the_key_cannot_be_read_without_it(tmp_path: Path) -> None:
    snapshot = hand_snapshot()
    path = write_snapshot(snapshot, tmp_path, key=KEY)
    raw = path.read_bytes()
    assert is_encrypted(path) and raw.endswith(b"PARE")
    assert b"secret-member" not in raw and b"recency_days" not in raw and b"2024-07-01" not in raw  # footer too
    for read in (read_snapshot, snapshot_facts):
        with pytest.raises(DataKeyNeeded, match="^" + re.escape(f"{path} {NEEDED}")):
            read(path)
        with pytest.raises(WrongDataKey, match=WRONG):
            read(path, OTHER)
    back = read_snapshot(path, KEY)
    pd.testing.assert_frame_equal(back.frame, snapshot.frame, check_exact=True)
    pd.testing.assert_frame_equal(back.profile, snapshot.profile, check_exact=True)
    assert (back.as_of, back.fingerprint) == (snapshot.as_of, snapshot.fingerprint)
    assert snapshot_facts(path, KEY).members == 4
    tiers = previous_tiers(tmp_path, date(2024, 8, 1), KEY)
    assert tiers is not None and tiers.to_dict() == {
        "secret-member-0": "gold", "secret-member-1": "member", "secret-member-2": "member", "secret-member-3": "gold"}


def test_without_a_key_snapshots_stay_plain_parquet(tmp_path: Path) -> None:
    path = write_snapshot(hand_snapshot(), tmp_path)
    assert not is_encrypted(path) and b"secret-member" in path.read_bytes()
    assert np.array_equal(read_snapshot(path, KEY).frame["recency_days"], [1.0, 20.0, 300.0, 45.5])


def test_each_use_gets_its_own_derived_key() -> None:
    assert len({KEY.derived("a"), KEY.derived("b"), OTHER.derived("a")}) == 3
    assert KEY.key_id != OTHER.key_id and len(KEY.key_id) == 8
    assert isinstance(KEY, DataKey)


def test_rekey_encrypts_plain_files_rotates_encrypted_ones_and_may_run_again(tmp_path: Path) -> None:
    snapshot_path = write_snapshot(hand_snapshot(), tmp_path)
    sealed = write_private(tmp_path / "list.csv", b"rank,member_id\r\n1,m7\r\n", None)
    assert [rekey_file(path, None, KEY) for path in (snapshot_path, sealed)] == ["parquet", "file"]
    assert [rekey_file(path, None, KEY) for path in (snapshot_path, sealed)] == [None, None]  # again: no-op
    assert [rekey_file(path, KEY, OTHER) for path in (snapshot_path, sealed)] == ["parquet", "file"]
    assert read_snapshot(snapshot_path, OTHER).fingerprint == "0123456789abcdef"
    assert read_private(sealed, OTHER) == b"rank,member_id\r\n1,m7\r\n"
    third = parse_data_key("C" * 43 + "=")
    with pytest.raises(WrongDataKey, match=WRONG):
        rekey_file(sealed, third, KEY)  # under neither key: the old key's error
