"""The HTTP API under an open-ended load generator: ``wrk`` (Debian's package), 1 thread, 8 connections.

The closed-loop Python client (``bench.load_client``) cannot offer enough load to see the tail; wrk
can. Three targets, each ``runs`` times for ``duration`` seconds, medians reported:

- ``score_single``: ``POST /score`` with one member of the served snapshot and 3 reasons;
- ``healthz``: the same server's trivial endpoint (``GET /healthz``, same stack, no work);
- ``starlette``: a bare Starlette app on uvicorn returning the same JSON bytes as ``score_single``
  (``bench.starlette_reference``), the machine's floor: the ratios against it stay comparable on
  a shared machine.

    apt-get install -y wrk
    python -m bench.wrk_bench --work var/bench/small/train --out var/bench/wrk
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from bench.api_bench import API_KEY, HOST, server_env, start_server
from bench.measure import REPO, free_port, machine, stop_process_group
from features.project import DEFAULT_PROJECT
from features.store import latest_snapshot_path, read_snapshot

THREADS, CONNECTIONS = 1, 8
_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}
_POST = """wrk.method = "POST"
wrk.body = '{body}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-API-Key"] = "{key}"
"""


def wrk_binary() -> str:
    """Path of wrk, or a clear error saying how to get it."""
    found = shutil.which("wrk")
    if found is None:
        raise SystemExit("wrk not found: install Debian's package (`sudo apt-get install -y wrk`)")
    return found


def parse_wrk(output: str) -> dict[str, float]:
    """Requests/s and the p50/p90/p99 latency (ms) of ``wrk --latency`` output; non-2xx answers counted."""
    result = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))}  # type: ignore[union-attr]
    for percent, value, unit in re.findall(r"^\s+(50|90|99)(?:\.000)?%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.MULTILINE):
        result[f"p{percent}_ms"] = float(value) * _UNITS[unit]
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    result["non_2xx"] = float(errors.group(1)) if errors else 0.0
    return result


def run_wrk(url: str, duration: float, script: Path | None) -> dict[str, float]:
    """One wrk run against ``url``."""
    command = [wrk_binary(), f"-t{THREADS}", f"-c{CONNECTIONS}", f"-d{duration:.0f}s", "--latency", "--timeout", "10s"]
    if script is not None:
        command += ["-s", str(script)]
    finished = subprocess.run([*command, url], capture_output=True, text=True, check=True)
    return parse_wrk(finished.stdout)


def medians(runs: list[dict[str, float]]) -> dict[str, Any]:
    """Median of every measure over the runs, and the runs themselves."""
    return {**{key: statistics.median(run[key] for run in runs) for key in runs[0]}, "runs": runs}


def start_reference(body: Path, log_path: Path) -> tuple[subprocess.Popen[bytes], str]:
    """The bare Starlette app on uvicorn (one process, like the service's one worker)."""
    port = free_port(HOST)
    command = [sys.executable, "-m", "uvicorn", "bench.starlette_reference:app", "--host", HOST, "--port", str(port),
               "--log-level", "warning", "--no-access-log"]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, cwd=REPO, env={**os.environ, "MEMBERSCORE_BENCH_BODY": str(body)},
                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://{HOST}:{port}"
    for _ in range(100):
        try:
            httpx.get(base + "/", timeout=1)
            return process, base
        except httpx.TransportError:
            time.sleep(0.1)
    stop_process_group(process)
    raise RuntimeError(f"reference server did not start:\n{log_path.read_text()[-2000:]}")


def run_wrk_bench(workdir: Path, out: Path, runs: int = 3, duration: float = 10.0,
                  after_reasons: bool = False) -> dict[str, Any]:
    """Start the service and the reference, run the three targets ``runs`` times each, interleaved.

    The service computes every member's top reasons in the background once ready (``serving.lookup``),
    so these runs overlap that fill on a large snapshot. ``after_reasons``: then wait until ``/readyz``
    says every member's reasons are computed and run them all again (``after_reasons`` in the result).
    """
    out.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()[0]  # the machine may be shared: say how busy it was
    snapshot = read_snapshot(latest_snapshot_path(workdir / "snapshots" / DEFAULT_PROJECT))  # type: ignore[arg-type]
    member = str(snapshot.frame["member_id"].iloc[0])
    request = json.dumps({"member_ids": [member], "explain": 3})
    script = out / "score_single.lua"
    script.write_text(_POST.format(body=request, key=API_KEY))
    processes = []
    try:
        service, base = start_server("serving.service:MemberScoring", server_env(workdir), out / "service.log")
        processes.append(service)
        answer = httpx.post(base + "/score", content=request, timeout=30,
                            headers={"X-API-Key": API_KEY, "Content-Type": "application/json"})
        answer.raise_for_status()
        (out / "answer.json").write_bytes(answer.content)
        reference, reference_base = start_reference(out / "answer.json", out / "reference.log")
        processes.append(reference)
        targets = {"score_single": (base + "/score", script), "healthz": (base + "/healthz", None),
                   "starlette": (reference_base + "/score", script)}
        for url, lua in targets.values():  # warm-up: first requests compile and fill caches
            run_wrk(url, 2, lua)
        results: dict[str, Any] = _measured(targets, runs, duration)
        if after_reasons:
            waited = _wait_for_reasons(base)
            results["after_reasons"] = {**_measured(targets, runs, duration), "waited_s": waited}
    finally:
        for process in processes:
            stop_process_group(process)
    score, healthz, bare = results["score_single"], results["healthz"], results["starlette"]
    results["ratios"] = {"score_vs_healthz": score["rps"] / healthz["rps"], "score_vs_starlette": score["rps"] / bare["rps"],
                         "score_p99_over_p50": score["p99_ms"] / score["p50_ms"]}
    results["setup"] = {"threads": THREADS, "connections": CONNECTIONS, "duration_s": duration, "runs": runs,
                        "machine": machine(), "load_1min_before": load_before,
                        "load_1min_after": os.getloadavg()[0]}
    return results


def _measured(targets: dict[str, tuple[str, Path | None]], runs: int, duration: float) -> dict[str, Any]:
    """Each target's medians over ``runs`` wrk runs, the targets interleaved."""
    measured: dict[str, list[dict[str, float]]] = {name: [] for name in targets}
    for _ in range(runs):
        for name, (url, lua) in targets.items():
            measured[name].append(run_wrk(url, duration, lua))
            print(f"  wrk {name}: {measured[name][-1]}", file=sys.stderr)
    return {name: medians(values) for name, values in measured.items()}


def _wait_for_reasons(base: str, timeout_s: float = 3600.0) -> float:
    """Seconds until the service's ``/readyz`` (admin) says every member's reasons are computed."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        body = httpx.get(base + "/readyz", headers={"X-API-Key": API_KEY}, timeout=30).json()
        if "reasons_computed" not in body:
            raise RuntimeError(f"/readyz does not say how many reasons are computed: {body}")
        if body["reasons_computed"] is None or body["reasons_computed"] >= 1.0:
            return time.monotonic() - started
        time.sleep(2.0)
    raise RuntimeError(f"the reasons fill did not end within {timeout_s:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True, help="a trained workspace (bench.training_bench)")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=float, default=10.0)
    args = parser.parse_args()
    results = run_wrk_bench(args.work.resolve(), args.out.resolve(), args.runs, args.duration)
    (args.out / "wrk.json").write_text(json.dumps(results, indent=2))
    print(json.dumps({name: {k: v for k, v in value.items() if k != "runs"} for name, value in results.items()
                      if name != "setup"}, indent=2))


if __name__ == "__main__":
    main()
