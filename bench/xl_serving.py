"""Serving a chain's snapshot of millions of members: its load time, memory and /score latency under wrk.

    .venv/bin/python -m bench.xl_serving --trained var/bench/growth/workspace_10m --size 100m

The service's cost grows with the snapshot it holds (members x features), not with the data its
champions were trained on. So this copies a trained workspace (``--trained``, e.g. ``bench.growth``'s
10M-line one: same simulated population, same features), writes ``memberscore snapshot`` of the
``--size`` file into the copy with those champions (time and peak RSS), serves it until
``/readyz`` answers (seconds from start, largest peak RSS of the server's processes), and loads
single-member ``/score`` with 3 reasons under wrk (``bench.wrk_bench``: 1 thread x 8 connections,
``--runs`` x ``--duration`` s, beside the stack's ``/healthz`` and a bare Starlette app).

Writes ``--out`` (bench/xl_serving.json) and its table (.md), and the ``xl_snapshot_load_s``,
``xl_serve_peak_rss_mb`` and ``xl_api_single_p99_ms`` figures into bench/results.json, with the
snapshot's members and lines they were measured on (``xl_serving_members``, ``xl_serving_lines``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from bench.growth import SIZES, record_figures, step_serve, step_snapshot
from bench.measure import REPO, code_version, machine
from bench.run import simulated
from bench.wrk_bench import run_wrk_bench
from features.project import DEFAULT_PROJECT
from features.store import latest_snapshot_path


def measure(trained: Path, data: Path, work: Path, runs: int, duration: float,
            written: dict[str, Any] | None = None) -> dict[str, Any]:
    """Snapshot, serve until ready, then wrk: each step's numbers. ``written``: the snapshot step's
    numbers from an earlier run whose workspace ``work`` still holds, so only serving is measured again."""
    if written is None:
        if work.exists():
            shutil.rmtree(work)
        shutil.copytree(trained, work)
        written = step_snapshot(data, work)
    snapshot = written
    print(f"  snapshot: {snapshot['seconds']:.0f} s, {snapshot['peak_rss_mb']:.0f} MB", file=sys.stderr)
    serve = step_serve(data, work)
    print(f"  serve until ready: {serve['seconds']:.0f} s, {serve['peak_rss_mb']:.0f} MB", file=sys.stderr)
    wrk = run_wrk_bench(work, work / "wrk", runs, duration, after_reasons=True)
    return {"snapshot": snapshot, "serve": serve, "wrk": wrk, "members": snapshot_members(work)}


def snapshot_members(work: Path) -> int:
    """Members in the workspace's newest snapshot: what the service loaded."""
    path = latest_snapshot_path(work / "snapshots" / DEFAULT_PROJECT)
    if path is None:
        raise RuntimeError(f"no snapshot under {work / 'snapshots'}")
    return pq.read_metadata(path).num_rows


def render_markdown(results: dict[str, Any]) -> str:
    snapshot, serve, wrk = results["snapshot"], results["serve"], results["wrk"]
    score, healthz = wrk["score_single"], wrk["healthz"]
    return "\n".join([
        f"# Serving a snapshot of {results['members']:,} members", "",
        f"Produced by `python -m bench.xl_serving` (bench/xl_serving.py) at code {results['code']} on "
        f"{results['machine'].get('cpu', '')}, {results['machine'].get('cores', '')} cores; champions from "
        f"`{results['trained']}`, snapshot of {results['lines']:,} lines.", "",
        "| step | measured |", "|---|---:|",
        f"| `memberscore snapshot` | {snapshot['seconds']:,.0f} s, peak RSS {snapshot['peak_rss_mb']:,.0f} MB |",
        f"| `serve`: start until `/readyz` | {serve['seconds']:,.0f} s, peak RSS {serve['peak_rss_mb']:,.0f} MB |",
        f"| `/score` (1 member, 3 reasons) under wrk: p50 / p99 | {score['p50_ms']:.1f} ms / {score['p99_ms']:.1f} ms |",
        f"| the same: requests/s / the stack's `/healthz` | {score['rps']:,.0f} / {healthz['rps']:,.0f} |",
        *_after_reasons_rows(wrk), "",
    ])


def _after_reasons_rows(wrk: dict[str, Any]) -> list[str]:
    """The wrk rows again once every member's reasons are computed (the runs above overlap that fill)."""
    after = wrk.get("after_reasons")
    if after is None:
        return []
    score, healthz = after["score_single"], after["healthz"]
    return [f"| reasons fill: ended after the runs above plus | {after['waited_s']:,.0f} s |",
            f"| after it, `/score` p50 / p99 | {score['p50_ms']:.1f} ms / {score['p99_ms']:.1f} ms |",
            f"| after it, requests/s / `/healthz` | {score['rps']:,.0f} / {healthz['rps']:,.0f} |"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trained", type=Path, required=True, help="a trained workspace (bench.growth's)")
    parser.add_argument("--size", default="100m", choices=list(SIZES))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--work", type=Path, default=REPO / "var" / "bench" / "xl_serving")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "xl_serving.json")
    parser.add_argument("--results", type=Path, default=REPO / "bench" / "results.json")
    parser.add_argument("--serve-only", action="store_true",
                        help="serve --work's snapshot again, keeping --out's snapshot numbers (same --size)")
    args = parser.parse_args()
    data = simulated(REPO / "var" / "bench" / "growth", args.size, SIZES[args.size])
    previous = json.loads(args.out.read_text()) if args.serve_only else None
    written = previous["snapshot"] if previous else None
    measured = measure(args.trained.resolve(), data, args.work.resolve(), args.runs, args.duration, written)
    results = {**measured, "snapshot_code": previous.get("snapshot_code", previous["code"]) if previous else code_version(), "lines": pq.read_metadata(data).num_rows, "trained": str(args.trained),
               "code": code_version(), "machine": machine()}
    args.out.write_text(json.dumps(results, indent=2, default=str))
    args.out.with_suffix(".md").write_text(render_markdown(results))
    record_figures(args.results, xl_serving_figures(results))
    print(render_markdown(results))


def xl_serving_figures(results: dict[str, Any]) -> dict[str, Any]:
    """bench/results.json's figures: writing the snapshot, then serving it: ``/score``'s p99 while the
    reasons fill runs (the first minutes after ready) and, when measured, after it."""
    after = results["wrk"].get("after_reasons")
    return {"xl_snapshot_s": results["snapshot"]["seconds"], "xl_snapshot_peak_rss_mb": results["snapshot"]["peak_rss_mb"],
            "xl_snapshot_load_s": results["serve"]["seconds"], "xl_serve_peak_rss_mb": results["serve"]["peak_rss_mb"],
            "xl_api_single_p99_ms": results["wrk"]["score_single"]["p99_ms"],
            **({"xl_api_single_p99_after_reasons_ms": after["score_single"]["p99_ms"],
                "xl_reasons_fill_after_runs_s": after["waited_s"]} if after else {}),
            "xl_serving_code": results["code"], "xl_serving_members": results["members"],
            "xl_serving_lines": results["lines"]}


if __name__ == "__main__":
    main()
