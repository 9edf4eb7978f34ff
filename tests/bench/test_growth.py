"""bench/growth.py's arithmetic and report on planted measurements (the bench itself is run by hand)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench.growth import growth_exponents, plot, readme_table, render_markdown, xl_figures
from tests.conftest import REPO


def planted() -> dict[str, object]:
    """features linear in lines; train grows as n^1.5 in time and is flat in memory; score only at 1M."""
    def size(lines: int, train_seconds: float) -> dict[str, object]:
        steps = {"load": {"seconds": lines / 4e6, "peak_rss_mb": lines / 5e3, "code": "abc"},
                 "features": {"seconds": lines / 2e6, "peak_rss_mb": lines / 1e4, "sql_seconds": lines / 3e6,
                              "sql_peak_rss_mb": 100.0, "ratio_to_sql": 1.5},
                 "train": {"seconds": train_seconds, "peak_rss_mb": 900.0, "promoted": ["churn"]}}
        return {"lines": lines, "steps": steps}

    results: dict[str, object] = {"sizes": {"1m": size(1_000_000, 100.0), "100m": size(100_000_000, 100_000.0)},
                                  "machine": {"cpu": "planted", "cores": 2, "memory_gb": 24}, "code": "abc"}
    results["sizes"]["1m"]["steps"]["score"] = {"seconds": 10.0, "peak_rss_mb": 500.0, "members": 42_000}  # type: ignore[index]
    results["exponents"] = growth_exponents(results)  # type: ignore[arg-type]
    return results


def test_exponents_are_log_log_slopes_between_measured_sizes() -> None:
    exponents = planted()["exponents"]
    assert exponents["features"]["1M->100M time"] == pytest.approx(1.0)  # type: ignore[index]
    assert exponents["features"]["1M->100M memory"] == pytest.approx(1.0)  # type: ignore[index]
    assert exponents["train"]["1M->100M time"] == pytest.approx(1.5)  # type: ignore[index]
    assert exponents["train"]["1M->100M memory"] == pytest.approx(0.0)  # type: ignore[index]
    assert "score" not in exponents  # type: ignore[operator]  # one size: no slope, nothing projected


def test_the_table_shows_only_what_was_measured(tmp_path: Path) -> None:
    results = planted()
    table = render_markdown(results)  # type: ignore[arg-type]
    assert "| 1,000,000 | 42,000 | score | 10.0 | 500 | 100,000 |  |" in table
    assert "| 100,000,000 |  | features | 50.0 | 10,000 | 2,000,000 | hand-written DuckDB 33.3 s, ratio 1.50 |" in table
    assert table.count("| score |") == 1
    plot(results, tmp_path / "growth.png")  # type: ignore[arg-type]
    assert (tmp_path / "growth.png").stat().st_size > 10_000


def test_the_100m_size_gives_only_its_measured_xl_figures() -> None:
    figures = xl_figures(planted()["sizes"]["100m"])  # type: ignore[index]
    assert figures == {"xl_load_s": 25.0, "xl_load_peak_rss_mb": 20_000.0, "xl_load_code": "abc", "xl_train_s": 100_000.0, "xl_train_peak_rss_mb": 900.0, "xl_features_ratio_to_sql": 1.5,
                       "xl_features_peak_rss_mb": 10_000.0, "xl_features_lines_per_s": pytest.approx(2_000_000.0)}


def test_the_readme_table_is_the_recorded_growth_run() -> None:
    """README's "How big can it go" table is bench/growth.json as readme_table renders it: edited by hand, it would drift."""

    recorded = json.loads((REPO / "bench" / "growth.json").read_text(encoding="utf-8"))
    assert readme_table(recorded) in (REPO / "README.md").read_text(encoding="utf-8")
