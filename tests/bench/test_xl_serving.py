"""bench/xl_serving.py's table on planted measurements (the bench itself is run by hand)."""

from __future__ import annotations

from bench.xl_serving import render_markdown


def test_the_table_shows_each_measured_step() -> None:
    results = {"snapshot": {"seconds": 1236.4, "peak_rss_mb": 16450.2}, "serve": {"seconds": 325.2, "peak_rss_mb": 3226.0},
               "wrk": {"score_single": {"p50_ms": 8.61, "p99_ms": 27.12, "rps": 752.4}, "healthz": {"rps": 974.0}},
               "lines": 53_000_000, "members": 2_240_000, "trained": "var/bench/growth/workspace_10m", "code": "abc",
               "machine": {"cpu": "planted", "cores": 2}}
    table = render_markdown(results)
    assert table.startswith("# Serving a snapshot of 2,240,000 members")
    assert "snapshot of 53,000,000 lines" in table
    assert "| `memberscore snapshot` | 1,236 s, peak RSS 16,450 MB |" in table
    assert "| `serve`: start until `/readyz` | 325 s, peak RSS 3,226 MB |" in table
    assert "| `/score` (1 member, 3 reasons) under wrk: p50 / p99 | 8.6 ms / 27.1 ms |" in table
    assert "| the same: requests/s / the stack's `/healthz` | 752 / 974 |" in table
