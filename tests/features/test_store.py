"""features.store and data_fingerprint: snapshots survive a Parquet round trip unchanged, the newest
``as_of`` is the one served, writes leave no temporary file, and the fingerprint tracks content.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from features.contract import AMOUNT, MEMBER_ID, TS
from features.settings import load_settings
from features.simulate import simulate_transactions
from features.snapshot import Snapshot, build_snapshot, data_fingerprint
from features.store import latest_snapshot_path, read_snapshot, write_snapshot


@pytest.fixture(scope="module")
def transactions() -> pd.DataFrame:
    frame, _ = simulate_transactions(20, date(2023, 1, 1), 200, seed=11)
    return frame


@pytest.fixture(scope="module")
def snapshot(transactions: pd.DataFrame) -> Snapshot:
    return build_snapshot(transactions, date(2023, 6, 1))


def test_round_trip_keeps_frame_as_of_and_fingerprint(snapshot: Snapshot, tmp_path: Path) -> None:
    path = write_snapshot(snapshot, tmp_path / "snapshots")
    back = read_snapshot(path)

    assert path == tmp_path / "snapshots" / "snapshot-2023-06-01.parquet"
    pd.testing.assert_frame_equal(back.frame, snapshot.frame, check_exact=True)
    assert back.as_of == snapshot.as_of == date(2023, 6, 1)
    assert back.fingerprint == snapshot.fingerprint
    assert len(back.fingerprint) == 16


def test_write_leaves_no_temporary_file(snapshot: Snapshot, tmp_path: Path) -> None:
    write_snapshot(snapshot, tmp_path)
    write_snapshot(snapshot, tmp_path)  # overwriting the same as_of, too

    assert sorted(p.name for p in tmp_path.iterdir()) == ["snapshot-2023-06-01.parquet"]


def test_latest_snapshot_is_the_newest_as_of_whatever_the_write_order(
    snapshot: Snapshot, tmp_path: Path
) -> None:
    for as_of in [date(2023, 12, 31), date(2024, 2, 1), date(2023, 6, 1), date(2024, 1, 15)]:
        write_snapshot(replace(snapshot, as_of=as_of), tmp_path)
    (tmp_path / "snapshot-2099-01-01.parquet.tmp").write_bytes(b"half written")

    latest = latest_snapshot_path(tmp_path)

    assert latest == tmp_path / "snapshot-2024-02-01.parquet"
    assert read_snapshot(latest).as_of == date(2024, 2, 1)


def test_no_snapshot_means_none(tmp_path: Path) -> None:
    assert latest_snapshot_path(tmp_path) is None
    assert latest_snapshot_path(tmp_path / "missing") is None


def test_snapshot_dir_comes_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEMBERSCORE_SNAPSHOT_DIR", str(tmp_path))
    assert load_settings().snapshot_dir == tmp_path
    monkeypatch.delenv("MEMBERSCORE_SNAPSHOT_DIR")
    assert load_settings().snapshot_dir == Path("var/snapshots")


def test_fingerprint_ignores_row_and_column_order(transactions: pd.DataFrame) -> None:
    shuffled = transactions.sample(frac=1.0, random_state=0).reset_index(drop=True)
    reordered = shuffled[list(reversed(shuffled.columns))]

    assert not shuffled[MEMBER_ID].equals(transactions[MEMBER_ID])
    assert data_fingerprint(reordered) == data_fingerprint(transactions)


def test_fingerprint_changes_when_one_amount_changes(transactions: pd.DataFrame) -> None:
    changed = transactions.copy()
    changed.loc[7, AMOUNT] += 0.01

    assert data_fingerprint(changed) != data_fingerprint(transactions)


def test_fingerprint_changes_when_a_row_is_dropped_or_repeated(transactions: pd.DataFrame) -> None:
    fingerprint = data_fingerprint(transactions)

    assert data_fingerprint(transactions.drop(index=3)) != fingerprint
    assert data_fingerprint(pd.concat([transactions, transactions.iloc[[3]]])) != fingerprint


def test_snapshot_fingerprint_covers_exactly_the_history(
    transactions: pd.DataFrame, snapshot: Snapshot
) -> None:
    """The snapshot records the fingerprint of the rows it may use, those with ts < as_of."""
    history = transactions[transactions[TS] < pd.Timestamp(snapshot.as_of)]

    assert len(history) < len(transactions)
    assert snapshot.fingerprint == data_fingerprint(history)
    assert snapshot.fingerprint != data_fingerprint(transactions)


def test_fingerprint_is_the_same_hashed_in_chunks_or_at_once(transactions: pd.DataFrame) -> None:
    """Chunks bound its memory at 100 M lines; they must not change what it records."""
    whole = data_fingerprint(transactions, chunk_rows=len(transactions) + 1)
    cut = pd.Timestamp(transactions[TS].median())
    before = data_fingerprint(transactions, before=cut, chunk_rows=len(transactions) + 1)
    assert before != whole
    for rows in (1, 7, len(transactions) // 3):
        assert data_fingerprint(transactions, chunk_rows=rows) == whole
        assert data_fingerprint(transactions, before=cut, chunk_rows=rows) == before
    assert data_fingerprint(transactions.iloc[:0], chunk_rows=5) == data_fingerprint(transactions.iloc[:0])


def test_fingerprint_before_leaves_out_a_line_at_that_very_instant(transactions: pd.DataFrame) -> None:
    rows = transactions.head(5).copy()
    cut = pd.Timestamp(rows[TS].iloc[:4].max()) + pd.Timedelta(days=1)
    rows.loc[rows.index[4], TS] = cut  # at the cut: after it, as a snapshot as of that day reads it
    assert data_fingerprint(rows, before=cut, chunk_rows=2) == data_fingerprint(rows.iloc[:4])
    assert data_fingerprint(rows, before=cut + pd.Timedelta(seconds=1)) == data_fingerprint(rows)


def test_each_project_has_its_own_directory_and_a_bad_name_none(tmp_path: Path) -> None:
    from features.store import project_snapshot_dir

    assert project_snapshot_dir(tmp_path, "shop-a") == tmp_path / "shop-a"
    assert project_snapshot_dir(tmp_path, "default") == tmp_path / "default"
    for bad in ("..", "../x", "Shop", "a/b", ""):
        with pytest.raises(ValueError, match="--project"):
            project_snapshot_dir(tmp_path, bad)


def test_facts_come_from_the_footer_with_the_shrink_mark(snapshot: Snapshot, tmp_path: Path) -> None:
    """Members, date and the intended-shrink mark round-trip; a snapshot written before the mark existed has none."""
    import json

    import pyarrow.parquet as pq

    from features.store import METADATA_KEY, previous_snapshot_path, snapshot_facts

    plain = write_snapshot(snapshot, tmp_path)
    marked = write_snapshot(replace(snapshot, as_of=date(2023, 7, 1)), tmp_path, allow_shrink=True)
    assert snapshot_facts(plain) == type(snapshot_facts(plain))(plain, date(2023, 6, 1), len(snapshot.frame), False)
    assert snapshot_facts(marked).allow_shrink is True
    assert read_snapshot(marked).frame.equals(read_snapshot(plain).frame)
    assert previous_snapshot_path(tmp_path, date(2023, 7, 1)) == plain
    assert previous_snapshot_path(tmp_path, date(2023, 6, 1)) is None

    table = pq.read_table(plain)
    meta = json.loads(table.schema.metadata[METADATA_KEY])
    del meta["allow_shrink"]
    old = tmp_path / "old" / "snapshot-2023-06-01.parquet"
    old.parent.mkdir()
    pq.write_table(table.replace_schema_metadata({**table.schema.metadata, METADATA_KEY: json.dumps(meta).encode()}), old)
    assert snapshot_facts(old).allow_shrink is False
