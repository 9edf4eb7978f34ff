"""features.engine and features.spark without Spark running: engine choice, Parquet input, time, Java lookup.

The agreement of DuckDB and Spark on real data is in test_spark_parity.py (slow).
"""

from __future__ import annotations

import math
from datetime import date
from pathlib import Path

import ibis
import pandas as pd
import pytest

from features import contract
from features.engine import (
    as_table,
    days_between,
    default_backend,
    exact_mean,
    exact_sample_std,
    exact_sum,
    execute,
    limit_duckdb_memory,
    read_parquet,
    timestamp_literal,
)
from features.labels import build_labels
from features.snapshot import snapshot_expression
from features.spark import ensure_java, find_java_home, session_conf

GOLDEN_TRANSACTIONS = Path(__file__).resolve().parents[1] / "golden" / "transactions_sim20.csv"
AS_OF = date(2023, 6, 1)


def test_read_parquet_names_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="nowhere.parquet"):
        read_parquet(tmp_path / "nowhere.parquet", default_backend())


@pytest.fixture
def golden_parquet(tmp_path: Path) -> tuple[pd.DataFrame, Path]:
    """The 20-member golden transactions as a clean frame and as Parquet."""
    frame = pd.read_csv(GOLDEN_TRANSACTIONS, dtype={c: "string" for c in contract.STRING_COLUMNS}, parse_dates=["ts"])
    frame[contract.TS] = frame[contract.TS].astype("datetime64[us]")
    path = tmp_path / "transactions.parquet"
    frame.to_parquet(path, index=False)
    return frame, path


def test_features_and_labels_from_parquet_equal_those_from_pandas(golden_parquet: tuple[pd.DataFrame, Path]) -> None:
    """DuckDB scanning the file gives what the in-memory frame gives: the Parquet path changes nothing."""
    frame, path = golden_parquet
    backend = default_backend()
    from_file = execute(snapshot_expression(read_parquet(path, backend), AS_OF), backend)
    from_frame = execute(snapshot_expression(as_table(frame), AS_OF))
    by_member = [contract.MEMBER_ID]
    pd.testing.assert_frame_equal(from_file.sort_values(by_member).reset_index(drop=True),
                                  from_frame.sort_values(by_member).reset_index(drop=True))
    assert len(from_file) > 10
    pd.testing.assert_frame_equal(build_labels(read_parquet(path, backend), AS_OF, 60, backend),
                                  build_labels(frame, AS_OF, 60))


def test_days_between_counts_whole_seconds() -> None:
    """0.9 s before midnight of the next day is one whole day: sub-second parts are floored on every engine."""
    stamps = pd.to_datetime(["2024-01-01 00:00:00.900", "2024-01-01 12:00:00.000"], format="ISO8601")
    lines = ibis.memtable(pd.DataFrame({"ts": stamps}))
    days = execute(lines.select(days=days_between(timestamp_literal(date(2024, 1, 2)), lines.ts)))["days"]
    assert days.tolist() == [1.0, 0.5]


def test_java_home_is_a_supported_jdk_with_a_java_binary(tmp_path: Path) -> None:
    for name in ("temurin-25-jdk-amd64", "java-21-openjdk-amd64", "java-17-openjdk-amd64"):
        (tmp_path / name / "bin").mkdir(parents=True)
        (tmp_path / name / "bin" / "java").write_text("")
    (tmp_path / "java-17-broken" / "bin").mkdir(parents=True)  # no java binary inside
    assert find_java_home(tmp_path) == tmp_path / "java-17-openjdk-amd64"
    assert find_java_home(tmp_path / "java-17-broken") is None


def test_without_java_the_error_says_what_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr("features.spark.JVM_ROOT", tmp_path)
    with pytest.raises(RuntimeError, match="Java 17 or 21.*openjdk-17"):
        ensure_java()


def test_spark_runs_in_utc_and_tunes_shuffles_only_locally() -> None:
    local, cluster = session_conf("local[2]"), session_conf("spark://head:7077")
    assert local["spark.sql.session.timeZone"] == cluster["spark.sql.session.timeZone"] == "UTC"
    assert local["spark.sql.shuffle.partitions"] == "4"
    assert "spark.sql.shuffle.partitions" not in cluster


# --- order-independent aggregates ------------------------------------------------------------------


@pytest.fixture(scope="module")
def many_lines(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """~600k simulated lines with returns and categories: several Parquet row groups, so DuckDB
    splits each member's rows across threads."""
    from features.retail_simulation import simulate_retail

    transactions, _ = simulate_retail(25_000, date(2023, 1, 1), 730, seed=3)
    path = tmp_path_factory.mktemp("many") / "lines.parquet"
    transactions.to_parquet(path, index=False, row_group_size=50_000)
    return path


def _features_and_labels(path: Path, threads: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    backend = ibis.duckdb.connect(threads=threads)
    lines = read_parquet(path, backend)
    features = execute(snapshot_expression(lines, date(2024, 10, 1)), backend)
    labels = build_labels(lines, date(2024, 10, 1), 90, backend)
    return (features.sort_values(contract.MEMBER_ID, ignore_index=True), labels)


@pytest.mark.slow
def test_features_and_labels_are_the_same_bits_on_one_thread_and_on_four(many_lines: Path) -> None:
    """A float SUM/AVG/STDDEV adds rows in the order threads finish, which moves the last bits (and
    then tree splits); the product's sums are exact, so thread count cannot show in any value."""
    one_features, one_labels = _features_and_labels(many_lines, threads=1)
    for _ in range(3):
        four_features, four_labels = _features_and_labels(many_lines, threads=4)
        pd.testing.assert_frame_equal(four_features, one_features, check_exact=True)
        pd.testing.assert_frame_equal(four_labels, one_labels, check_exact=True)


def test_exact_aggregates_on_hand_made_values() -> None:
    """0.1 + 0.2 - 0.3 is 0 (a float sum gives 5.6e-17); the std of seconds comes from whole moments."""
    table = ibis.memtable(pd.DataFrame({"g": ["a"] * 4 + ["b"] * 1 + ["c"] * 3,
                                        "amount": [0.1, 0.2, -0.3, 0.0, 2.5, 1.0, 1.0, 1.0],
                                        "seconds": [10, 20, 30, 40, 7, 86400, 86400, 86400]}))
    result = execute(table.group_by("g").aggregate(
        total=exact_sum(table.amount), mean=exact_mean(table.amount), std=exact_sample_std(table.seconds),
        cents=exact_sum(table.amount / 100), tenths=exact_sum(table.amount / 100, decimals=1),
    )).set_index("g").sort_index()

    assert result["total"].tolist() == [0.0, 2.5, 3.0]
    assert result["mean"].tolist() == [0.0, 2.5, 1.0]
    assert result.loc["a", "std"] == pytest.approx((500 / 3) ** 0.5, rel=1e-15)  # 10, 20, 30, 40
    assert math.isnan(result.loc["b", "std"])  # one value: no sample std, as STDDEV_SAMP
    assert result.loc["c", "std"] == 0.0  # equal values: exactly 0, no cancellation residue
    assert result.loc["c", "cents"] == 0.03  # 3 x 0.01 at the default 6 places
    assert result["tenths"].tolist() == [0.0, 0.0, 0.0]  # each value rounded to 1 place before adding


@pytest.mark.slow
def test_the_products_duckdb_leaves_out_partitioned_execution_and_no_value_changes(many_lines: Path) -> None:
    """On a file sorted by member DuckDB's partitioned execution scanned the whole category branch
    once per range of members (1.86 G rows read for 106 M lines: bench/HISTORY.md, session 35); the
    product's connection turns it off, and the features are the same bits with every optimizer on."""
    product = default_backend()
    assert product.raw_sql("SELECT current_setting('disabled_optimizers')").fetchone() == ("partitioned_execution",)
    results = []
    for backend in (product, ibis.duckdb.connect()):
        features = execute(snapshot_expression(read_parquet(many_lines, backend), date(2024, 10, 1)), backend)
        results.append(features.sort_values(contract.MEMBER_ID, ignore_index=True))
    pd.testing.assert_frame_equal(results[0], results[1], check_exact=True)


def test_the_duckdb_memory_limit_applies_to_every_connection_opened_after_it_is_set() -> None:
    """DuckDB's default limit is 80% of the machine; the set limit is what a new connection reports."""
    def limit() -> str:
        return str(default_backend().raw_sql("SELECT current_setting('memory_limit')").fetchone()[0])

    default = limit()
    try:
        limit_duckdb_memory("300MB")
        assert limit() in ("286.1 MiB", "300.0 MB")
        limit_duckdb_memory(None)
        assert limit() == default
    finally:
        limit_duckdb_memory(None)
