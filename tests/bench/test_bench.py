"""bench/: the yardsticks compute what the product computes, and the headline figures are the right ratios.

The benchmark compares the product's Ibis features with a hand-written DuckDB query and a pandas
version; those ratios mean something only while all three compute the same numbers, so that is
checked here on a small simulated file (and again by ``make bench`` before timing).
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from datetime import date
from pathlib import Path
from types import ModuleType

import pytest

from features.retail_simulation import simulate_retail

BENCH = Path(__file__).resolve().parents[2] / "bench"


def bench_module(name: str) -> ModuleType:
    """Import bench/<name>.py by path: bench/ is scripts, not an installed package."""
    if f"bench.{name}" in sys.modules:
        return sys.modules[f"bench.{name}"]
    spec = importlib.util.spec_from_file_location(f"bench.{name}", BENCH / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def lines_parquet(tmp_path_factory: pytest.TempPathFactory) -> Path:
    transactions, _ = simulate_retail(300, date(2023, 1, 1), 500, seed=8)
    path = tmp_path_factory.mktemp("bench") / "lines.parquet"
    transactions.to_parquet(path, index=False)
    return path


@pytest.mark.parametrize("as_of", [date(2023, 9, 1), date(2024, 5, 16)])
def test_sql_and_pandas_compute_the_ibis_features(lines_parquet: Path, as_of: date) -> None:
    """Every feature of every member agrees to rtol 1e-9, mid-history and at the end of data."""
    features = bench_module("features_bench")
    assert features.agreement(lines_parquet, as_of) == {"sql": "", "pandas": ""}


def test_a_wrong_feature_is_reported_by_name(lines_parquet: Path) -> None:
    """The agreement check can fail: one column off by 0.1 % is named."""
    features = bench_module("features_bench")
    expected = features.sql_features(lines_parquet, date(2024, 5, 16))
    wrong = expected.assign(spend_90d=expected["spend_90d"] * 1.001 + 0.01)
    assert features._first_difference(expected, wrong, 1e-9) == "spend_90d"
    assert features._first_difference(expected, expected.iloc[1:], 1e-9).startswith("members differ")


def test_headline_ratios_from_hand_made_results() -> None:
    """Ratios are ours over the yardstick; a section that did not run gives None, not a number."""
    report = bench_module("report")
    results = {"sections": {
        "features": {"10m_ibis": {"seconds": 6.0, "peak_rss_mb": 900.0, "lines_per_s": 1.0},
                     "10m_sql": {"seconds": 4.0}, "10m_pandas": {"seconds": 12.0}},
        "scoring": {"ours": {"rows_per_s": 700.0}, "bare": {"rows_per_s": 1000.0}},
        "api": {"score_single": {"rps": 300.0, "p99_ms": 40.0}, "trivial_single": {"rps": 1200.0},
                "score_single_2_clients": {"rps": 150.0, "p50_ms": 9.0, "p99_ms": 21.0}},
    }}
    figures = report.headline(results)
    assert figures["features_10m_ratio_to_duckdb"] == pytest.approx(1.5)
    assert figures["features_10m_ratio_to_pandas"] == pytest.approx(0.5)
    assert figures["features_10m_peak_rss_mb"] == 900.0
    assert figures["scoring_ratio_to_xgboost"] == pytest.approx(0.7)
    assert figures["api_single_rps_ratio"] == pytest.approx(0.25)
    assert figures["api_single_p99_ms"] == 40.0
    assert (figures["api_single_2_clients_p50_ms"], figures["api_single_2_clients_p99_ms"]) == (9.0, 21.0)
    assert figures["features_1m_ratio_to_duckdb"] is None
    markdown = report.render_markdown({**results, "scale": "test"})
    assert "| api_single_rps_ratio | 0.25 | >= 0.5 | **no** |" in markdown
    assert "| scoring_ratio_to_xgboost | 0.70 | >= 0.7 | yes |" in markdown


def test_peak_rss_is_the_child_own(tmp_path: Path) -> None:
    """A child that allocates ~200 MB reports about that, not the parent's size (launcher in between)."""
    measure = bench_module("measure")
    script = "import json; block = bytearray(200 * 1024 * 1024); block[::4096] = b'x' * len(block[::4096]); print(json.dumps({'seconds': 0.0}))"
    small = "print('{\"seconds\": 0.0}')"
    _, big_mb, _ = measure.run_command([sys.executable, "-c", script])
    _, small_mb, _ = measure.run_command([sys.executable, "-c", small])
    assert 200 < big_mb < 300
    assert small_mb < 60
    with pytest.raises(RuntimeError, match="failed"):
        measure.run_command([sys.executable, "-c", "raise SystemExit(3)"])


def test_code_version_names_the_commit_and_flags_changed_code(tmp_path: Path) -> None:
    """Figures are traceable to code: the commit, '+changes' for edited tracked code, but not for
    the results files a benchmark run itself rewrites."""
    measure = bench_module("measure")

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True, text=True).stdout.strip()

    git("init", "-q")
    (tmp_path / "bench").mkdir()
    outputs = ("bench/results.json", "bench/RESULTS.md", "bench/growth.json", "bench/growth.png", "README.md")
    for name in ("code.py", "bench/run.py", *outputs):
        (tmp_path / name).write_text("0\n")
    git("add", ".")
    git("-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-qm", "one")
    commit = git("rev-parse", "--short=12", "HEAD")

    assert measure.code_version(tmp_path) == commit
    for name in outputs:
        (tmp_path / name).write_text("1\n")
    (tmp_path / "untracked.py").write_text("1\n")
    assert measure.code_version(tmp_path) == commit
    (tmp_path / "bench/run.py").write_text("1\n")
    assert measure.code_version(tmp_path) == f"{commit}+changes", "a bench script is code"
    (tmp_path / "bench/run.py").write_text("0\n")
    (tmp_path / "code.py").write_text("1\n")
    assert measure.code_version(tmp_path) == f"{commit}+changes"
    assert measure.code_version(tmp_path / "bench" / "missing") == "unknown"
