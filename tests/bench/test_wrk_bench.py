"""bench.wrk_bench: reading wrk's report (units, percentiles, refused answers)."""

from __future__ import annotations

import pytest

from bench.wrk_bench import medians, parse_wrk

REPORT = """Running 10s test @ http://127.0.0.1:3000/score
  1 threads and 8 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     9.91ms    5.02ms  61.55ms   90.12%
    Req/Sec   812.40     90.31     1.01k    71.00%
  Latency Distribution
     50%    8.52ms
     75%   10.41ms
     90%   14.20ms
     99%  850.00us
  8091 requests in 10.01s, 12.33MB read
  Non-2xx or 3xx responses: 3
Requests/sec:    808.29
Transfer/sec:      1.23MB
"""


def test_parse_wrk_reads_rate_percentiles_in_ms_and_errors() -> None:
    assert parse_wrk(REPORT) == {"rps": 808.29, "p50_ms": 8.52, "p90_ms": 14.2, "p99_ms": 0.85, "non_2xx": 3.0}


def test_parse_wrk_seconds_and_no_errors() -> None:
    report = REPORT.replace("99%  850.00us", "99%    1.20s").replace("  Non-2xx or 3xx responses: 3\n", "")
    parsed = parse_wrk(report)
    assert parsed["p99_ms"] == pytest.approx(1200.0) and parsed["non_2xx"] == 0.0


def test_medians_of_runs() -> None:
    runs = [{"rps": 1.0, "p99_ms": 9.0}, {"rps": 3.0, "p99_ms": 1.0}, {"rps": 2.0, "p99_ms": 5.0}]
    assert {k: v for k, v in medians(runs).items() if k != "runs"} == {"rps": 2.0, "p99_ms": 5.0}
