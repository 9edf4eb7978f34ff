"""Encryption at rest end to end, through the ``memberscore`` command: lists and scoring read an
encrypted snapshot exactly as a plain one, what a command creates is owner-only (0600 / 0700),
``data-key decrypt`` gives the plain file back, and ``rekey`` rotates snapshots, rejects, exports and
the campaign store's member ids (and can be run again), naming the file a wrong key cannot open."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner, Result

from campaigns.store import opened
from cli.main import app
from features.data_key import DataKey, WrongDataKey, parse_data_key
from features.score_history import read_scores, write_scores
from features.sealed import read_private, write_private
from features.simulate import simulate_transactions
from features.snapshot import Snapshot, build_snapshot
from features.store import read_snapshot, write_snapshot
from serving.live import LiveState, load_snapshot
from tests.campaigns.test_store import members, record
from tests.features.test_data_key import hand_snapshot
from tests.serving.model_versions import tiny_booster

RUNNER = CliRunner()
MODELS = {"churn": tiny_booster(["recency_days"])}


@pytest.fixture(autouse=True)
def restored_umask() -> Iterator[None]:
    """The command sets the process's file-creation mask; other tests get theirs back."""
    before = os.umask(0o022)
    os.umask(before)
    yield
    os.umask(before)


@pytest.fixture(scope="module")
def snapshot() -> Snapshot:
    transactions, _ = simulate_transactions(40, date(2023, 1, 1), 200, seed=11)
    return build_snapshot(transactions, date(2023, 6, 1))


@pytest.fixture
def keys(tmp_path: Path) -> tuple[Path, Path]:
    made = [tmp_path / "keys" / name for name in ("a.key", "b.key")]
    for path in made:
        assert invoke("data-key", "new", str(path)).exit_code == 0
    return made[0], made[1]


def invoke(*args: str) -> Result:
    return RUNNER.invoke(app, list(args))


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def key_of(path: Path) -> DataKey:
    return parse_data_key(path.read_text())


@pytest.mark.slow  # builds a snapshot (about 2 s)
def test_an_encrypted_snapshot_serves_the_same_scores_as_a_plain_one(snapshot: Snapshot, tmp_path: Path) -> None:
    key = parse_data_key("A" * 43 + "=")
    plain = load_snapshot(write_snapshot(snapshot, tmp_path / "plain"), MODELS)
    encrypted = load_snapshot(write_snapshot(snapshot, tmp_path / "encrypted", key=key), MODELS, key=key)
    pd.testing.assert_frame_equal(encrypted.scores_by_id, plain.scores_by_id, check_exact=True)
    assert encrypted.members is not None and plain.members is not None
    some = ["m00003", "m00017", "nobody"]
    assert encrypted.members.scores(some, explain=2) == plain.members.scores(some, explain=2)  # /score's answer


@pytest.mark.slow
def test_a_list_from_an_encrypted_snapshot_is_encrypted_owner_only_and_decrypts_to_the_plain_list(
        snapshot: Snapshot, keys: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("cli.lists.champion_boosters", lambda project, tracking_uri: MODELS)
    monkeypatch.setenv("MEMBERSCORE_SNAPSHOT_DIR", str(tmp_path / "snapshots"))
    write_snapshot(snapshot, tmp_path / "snapshots" / "default")
    plain = invoke("targets", "--campaign", "winback", "--out", str(tmp_path / "plain.csv"))
    assert plain.exit_code == 0, plain.output
    write_snapshot(snapshot, tmp_path / "snapshots" / "default", key=key_of(keys[0]))
    out = tmp_path / "exports" / "list.csv"
    refused = invoke("targets", "--campaign", "winback", "--out", str(out))  # no key configured: one line, exit 2
    assert refused.exit_code == 2 and "snapshot-2023-06-01.parquet is encrypted: a data key is needed" in refused.output
    monkeypatch.setenv("MEMBERSCORE_DATA_KEY_FILE", str(keys[0]))
    made = invoke("targets", "--campaign", "winback", "--out", str(out))
    assert made.exit_code == 0, made.output
    assert b"m000" not in out.read_bytes() and mode(out) == 0o600 and mode(out.parent) == 0o700
    assert mode(keys[0]) == 0o600 and mode(keys[0].parent) == 0o700
    shown = invoke("data-key", "decrypt", str(out))
    assert shown.exit_code == 0 and shown.stdout_bytes == (tmp_path / "plain.csv").read_bytes()
    monkeypatch.delenv("MEMBERSCORE_DATA_KEY_FILE")
    refused = invoke("data-key", "decrypt", str(out))
    assert refused.exit_code == 2 and not out.with_name("list.csv.partial").exists()
    assert refused.output == f"error: {out} is encrypted: a data key is needed to read it (set MEMBERSCORE_DATA_KEY " \
                             "or MEMBERSCORE_DATA_KEY_FILE)\n"


def test_rekey_rotates_every_file_and_the_campaign_store_and_may_run_again(
        keys: tuple[Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    old, new, snapshot = *keys, hand_snapshot()
    monkeypatch.setenv("MEMBERSCORE_SNAPSHOT_DIR", str(tmp_path / "snapshots"))
    db = f"sqlite:///{tmp_path / 'var' / 'campaigns.db'}"
    monkeypatch.setenv("MEMBERSCORE_CAMPAIGN_DB", db)
    path = write_snapshot(snapshot, tmp_path / "snapshots" / "shop", key=key_of(old))
    scored = pd.DataFrame({"member_id": ["m1"], "churn_probability": [0.25]})
    history = write_scores(scored, tmp_path / "snapshots" / "shop", snapshot.as_of, {"churn": "2"}, 90, key_of(old))
    rejects = write_private(tmp_path / "rejects" / "tx.rejects.csv", b"member_id,_reason\r\nm1,future ts\r\n", key_of(old))
    export = write_private(tmp_path / "list.csv", b"rank,member_id\r\n1,m7\r\n", key_of(old))
    with opened(db, key_of(old)) as store:
        store.add(record(), members())
    # SQLite's own file and folder, made after a command (``data-key new``) set this process's mask
    assert mode(tmp_path / "var" / "campaigns.db") == 0o600 and mode(tmp_path / "var") == 0o700
    args = ["rekey", "--old-key-file", str(old), "--new-key-file", str(new), "--rejects-dir", str(tmp_path / "rejects"),
            str(export)]
    rotated = invoke(*args)
    assert rotated.exit_code == 0, rotated.output
    assert rotated.output.startswith("re-encrypted 4 of 4 files (the others were under the new key already) and "
                                     "4 campaign member ids under data key ")
    pd.testing.assert_frame_equal(read_snapshot(path, key_of(new)).frame, snapshot.frame, check_exact=True)
    pd.testing.assert_frame_equal(read_scores(history, key_of(new)).scores, scored)
    assert read_private(rejects, key_of(new)).endswith(b"m1,future ts\r\n")
    assert read_private(export, key_of(new)) == b"rank,member_id\r\n1,m7\r\n"
    assert mode(path) == mode(rejects) == mode(export) == 0o600
    with pytest.raises(WrongDataKey):
        read_snapshot(path, key_of(old))
    with opened(db, key_of(new)) as store:
        assert list(store.members("shop", "cmp_1")["member_id"]) == ["007", "b", "c", "d"]
    assert invoke(*args).output.startswith("re-encrypted 0 of 4 files")  # a second run changes nothing
    shown = invoke("campaign", "show", "--id", "cmp_1", "--project", "shop", "--out", str(tmp_path / "c.csv"))
    assert shown.exit_code == 2 and "a member id in the campaign store is encrypted: a data key is needed" in shown.output
    third = tmp_path / "keys" / "c.key"
    assert invoke("data-key", "new", str(third)).exit_code == 0
    wrong = invoke("rekey", "--old-key-file", str(third), "--new-key-file", str(old), str(export))
    assert wrong.exit_code == 2
    assert "is encrypted with a different data key than the one configured" in wrong.output
    assert "(0 files re-encrypted before it; run again when fixed)" in wrong.output


@pytest.mark.slow
def test_the_service_state_serves_an_encrypted_snapshot_only_with_the_key(
        snapshot: Snapshot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """``LiveState`` (what the service answers from) reads the snapshot with its key; without it the
    service is not ready, and says a data key is needed. No model serves (no registry is asked)."""
    monkeypatch.setattr("serving.live.stored_tag", lambda task, *, project: None)
    key = parse_data_key("A" * 43 + "=")
    write_snapshot(snapshot, tmp_path / "shop", key=key)

    def state(data_key: DataKey | None) -> LiveState:
        return LiveState(tmp_path / "shop", poll_seconds=0.0, load=lambda task: None, project="crypto-test",  # type: ignore[arg-type,return-value]
                         data_key=data_key)

    served = state(key).current()
    assert served.snapshot is not None and len(served.snapshot.features_by_id) == 40
    blind = state(None).current()
    assert blind.snapshot is None
    assert any("is encrypted: a data key is needed" in reason for reason in blind.not_ready_reasons())
