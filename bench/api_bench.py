"""The HTTP API under bounded load on loopback, beside a trivial endpoint on the same server stack.

Two real ``bentoml serve`` processes: ``serving.service:MemberScoring`` serving the models and
snapshot of a trained workspace, and ``bench.trivial_service:Trivial``. For each scenario a fresh
``bench.load_client`` process drives one of them for a fixed duration, ``runs`` times. Scenarios:
one member per request (with 3 reasons per model, and without reasons), one caller-supplied
feature row (``/score_features``, SHAP on the fly), and 1,000 members per request.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import psutil

from bench.measure import REPO, free_port, repeat_case, stop_process_group, wait_until_answering
from features.project import DEFAULT_PROJECT
from features.store import latest_snapshot_path, read_snapshot

HOST = "127.0.0.1"
API_KEY = "bench-key-0123456789abcdefgh"  # 24+ characters: shorter keys stop the start
READY_TIMEOUT_S = 600.0  # a chain's multi-million-member snapshot loads for minutes (bench.xl_serving)
BATCH = 1000


@dataclass(frozen=True)
class Scenario:
    name: str
    server: str          # "scoring" or "trivial"
    path: str
    bodies: str          # which body file
    concurrency: int


SCENARIOS = (
    Scenario("trivial_single", "trivial", "/score", "single", 8),
    Scenario("score_single", "scoring", "/score", "single", 8),
    Scenario("score_single_no_reasons", "scoring", "/score", "single_no_reasons", 8),
    Scenario("trivial_single_2_clients", "trivial", "/score", "single", 2),  # below saturation: latency, not queueing
    Scenario("score_single_2_clients", "scoring", "/score", "single", 2),
    Scenario("score_features_single", "scoring", "/score_features", "feature_rows", 8),
    Scenario("trivial_batch_1000", "trivial", "/score", "batch", 2),
    Scenario("score_batch_1000", "scoring", "/score", "batch", 2),
)


def server_env(workdir: Path) -> dict[str, str]:
    """The trained workspace's stores, and the API key the load client sends."""
    return {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{workdir / 'mlflow.db'}",
            "BENTOML_HOME": str(workdir / "bentoml"), "MEMBERSCORE_SNAPSHOT_DIR": str(workdir / "snapshots"),
            "MEMBERSCORE_API_KEYS": API_KEY, "BENTOML_DO_NOT_TRACK": "True"}


def start_server(target: str, env: dict[str, str], log_path: Path) -> tuple[subprocess.Popen[bytes], str]:
    """``bentoml serve target`` on a free loopback port, in its own process group; returns it and its URL."""
    port = free_port(HOST)
    command = [sys.executable, "-m", "bentoml", "serve", target, "--host", HOST, "--port", str(port)]
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    base = f"http://{HOST}:{port}"
    wait_until_answering(process, base, log_path, READY_TIMEOUT_S, poll_s=0.5)
    return process, base


def peak_rss_mb(process: subprocess.Popen[bytes]) -> float:
    """The largest peak RSS (VmHWM) among the server and its worker processes."""
    peaks = []
    for member in [psutil.Process(process.pid), *psutil.Process(process.pid).children(recursive=True)]:
        try:
            status = Path(f"/proc/{member.pid}/status").read_text()
        except FileNotFoundError:
            continue
        peaks += [int(line.split()[1]) / 1024 for line in status.splitlines() if line.startswith("VmHWM:")]
    return max(peaks, default=float("nan"))


def write_bodies(workdir: Path, base: str, out: Path, seed: int = 0) -> dict[str, Path]:
    """Request bodies of every kind from the served snapshot's members (random, fixed by seed)."""
    snapshot = read_snapshot(latest_snapshot_path(workdir / "snapshots" / DEFAULT_PROJECT))  # type: ignore[arg-type]
    rng = np.random.default_rng(seed)
    ids = snapshot.frame["member_id"].astype(str).to_numpy()
    picked = rng.choice(ids, size=min(500, len(ids)), replace=False)
    inputs = snapshot.model_inputs().set_index("member_id")
    features = sorted({name for model in _metadata(base)["models"].values() for name in model["features"]})
    rows = inputs.reindex(picked.tolist(), columns=features)
    bodies = {
        "single": [{"member_ids": [member], "explain": 3} for member in picked],
        "single_no_reasons": [{"member_ids": [member], "explain": 0} for member in picked],
        "batch": [{"member_ids": rng.choice(ids, size=BATCH).tolist(), "explain": 3} for _ in range(5)],
        "feature_rows": [{"rows": [{"member_id": member, "features": _finite(rows.loc[member])}], "explain": 3}
                         for member in picked],
    }
    paths = {}
    for kind, content in bodies.items():
        paths[kind] = out / f"bodies_{kind}.json"
        paths[kind].write_text(json.dumps(content))
    return paths


def _metadata(base: str) -> dict[str, Any]:
    response = httpx.get(f"{base}/metadata", headers={"X-API-Key": API_KEY}, timeout=30)
    response.raise_for_status()
    return response.json()


def _finite(row: Any) -> dict[str, float | None]:
    return {name: (None if value != value else float(value)) for name, value in row.items()}


def run_api_bench(workdir: Path, out: Path, runs: int, duration: float, warmup: float) -> dict[str, Any]:
    """Start both servers, run every scenario ``runs`` times, stop them; medians per scenario."""
    env = server_env(workdir)
    out.mkdir(parents=True, exist_ok=True)
    servers = {}
    try:
        servers["scoring"] = start_server("serving.service:MemberScoring", env, out / "scoring_server.log")
        servers["trivial"] = start_server("bench.trivial_service:Trivial", env, out / "trivial_server.log")
        bodies = write_bodies(workdir, servers["scoring"][1], out)
        results: dict[str, Any] = {}
        for scenario in SCENARIOS:
            base = servers[scenario.server][1]
            args = ["--url", base + scenario.path, "--bodies", str(bodies[scenario.bodies]),
                    "--concurrency", str(scenario.concurrency), "--duration", str(duration),
                    "--warmup", str(warmup), "--api-key", API_KEY]
            results[scenario.name] = {**repeat_case("load_client", args, runs), "concurrency": scenario.concurrency}
            print(f"  api {scenario.name}: {results[scenario.name]['rps']:.1f} rps, "
                  f"p99 {results[scenario.name]['p99_ms']:.1f} ms", file=sys.stderr)
        results["server_peak_rss_mb"] = {name: peak_rss_mb(process) for name, (process, _) in servers.items()}
        return results
    finally:
        for process, _ in servers.values():
            stop_process_group(process)
