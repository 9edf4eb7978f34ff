"""Growth curve: how each step's wall time and peak memory grow with the number of order lines.

    .venv/bin/python -m bench.growth                                        # 1M and 10M lines, every step
    .venv/bin/python -m bench.growth --sizes 100m --steps features          # add 100M lines, features only
    .venv/bin/python -m bench.growth --sizes 1m --runs 3                    # a size again, median of 3
    .venv/bin/python -m bench.growth --sizes 1m --readme README.md           # and rewrite README's table
    make bench BENCH_SCALE=xl                                               # 100M lines, every step

Sizes are simulated two-year shops (``bench.run.simulated``: members sized from a pilot, reused when
present under ``--work``). Each step runs in a fresh process (``bench.measure.run_command``: wall
seconds and peak RSS of the process):

- ``load``: ``memberscore validate``: reading, typing and checking every line (what every command
  below does first, and the step that bounds the largest file one machine holds);
- ``features``: the product's point-in-time features (Ibis on DuckDB, ``bench.features_bench --impl
  ibis``) beside the hand-written DuckDB query on the same file (``--impl sql``);
- ``train``: ``memberscore train`` into a fresh workspace (MLflow, BentoML home, snapshots);
- ``snapshot``: ``memberscore snapshot`` into that workspace (its champions' scores kept);
- ``score``: ``memberscore score`` of every member to Parquet;
- ``serve``: ``memberscore serve`` on that workspace until ``/readyz`` answers 200 (snapshot and
  models loaded, lookups built), and the largest peak RSS among its processes.

Results accumulate in ``--out`` (default bench/growth.json; a size and step measured again replaces
its entry), with bench/growth.md (the table, and each step's growth exponent between consecutive
sizes: 1.0 is linear) and bench/growth.png (log-log). Nothing here is projected: a size a step was
not run on is absent. The 100M size's figures also go to bench/results.json as ``xl_*`` keys.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from bench.api_bench import server_env
from bench.measure import REPO, code_version, free_port, machine, run_command, stop_process_group, wait_until_answering
from bench.real_data_results import into_readme
from bench.run import AS_OF, simulated
from bench.training_bench import MEMBERSCORE, train_once

SIZES = {"1m": 1_000_000, "10m": 10_000_000, "50m": 50_000_000, "100m": 100_000_000}
STEPS = ("load", "features", "train", "snapshot", "score", "serve")
READY_TIMEOUT_S = 1800.0
README_BEGIN, README_END = "<!-- growth:begin -->", "<!-- growth:end -->"


def measured(command: list[str], env: dict[str, str] | None = None, cwd: Path = REPO) -> dict[str, float]:
    _, peak_rss_mb, seconds = run_command(command, env, cwd=cwd)
    return {"seconds": seconds, "peak_rss_mb": peak_rss_mb}


def step_load(data: Path, workdir: Path) -> dict[str, Any]:
    """``memberscore validate``: read, type and check every line, the first thing every command does."""
    workdir.mkdir(parents=True, exist_ok=True)
    return measured([*MEMBERSCORE, "validate", "--transactions", str(data)], server_env(workdir), cwd=workdir)


def step_features(data: Path, workdir: Path) -> dict[str, Any]:
    """The product's features and the hand-written query, one process each."""
    results = {}
    for impl in ("ibis", "sql"):
        command = [sys.executable, "-m", "bench.features_bench", "--impl", impl, "--parquet", str(data), "--as-of", str(AS_OF)]
        results[impl] = measured(command)
    return {**results["ibis"], "sql_seconds": results["sql"]["seconds"], "sql_peak_rss_mb": results["sql"]["peak_rss_mb"],
            "ratio_to_sql": results["ibis"]["seconds"] / results["sql"]["seconds"]}


def step_train(data: Path, workdir: Path, config: Path | None = None) -> dict[str, Any]:
    """``memberscore train`` from scratch (``config``: its ``--config``, e.g. a member sample per cut-off)."""
    shutil.rmtree(workdir, ignore_errors=True)
    return {**train_once(data, workdir, config=config), "config": str(config) if config else None}


def step_snapshot(data: Path, workdir: Path) -> dict[str, Any]:
    return measured([*MEMBERSCORE, "snapshot", "--transactions", str(data)], server_env(workdir), cwd=workdir)


def step_score(data: Path, workdir: Path) -> dict[str, Any]:
    out = workdir / "scores.parquet"
    result = measured([*MEMBERSCORE, "score", "--transactions", str(data), "--as-of", str(AS_OF), "--out", str(out)],
                      server_env(workdir), cwd=workdir)
    return {**result, "members": pq.read_metadata(out).num_rows}


def step_serve(data: Path, workdir: Path) -> dict[str, Any]:
    """Seconds from start to ready, and the largest peak RSS among the server's processes."""
    from bench.api_bench import peak_rss_mb

    port = free_port()
    log_path = workdir / "serve.log"
    with open(log_path, "wb") as log:
        started = time.perf_counter()
        process = subprocess.Popen(
            [*MEMBERSCORE, "serve", "--host", "127.0.0.1", "--port", str(port)], cwd=workdir,
            env=server_env(workdir), stdout=log, stderr=log, start_new_session=True)
    try:
        wait_until_answering(process, f"http://127.0.0.1:{port}", log_path, READY_TIMEOUT_S, poll_s=0.5)
        seconds = time.perf_counter() - started
        return {"seconds": seconds, "peak_rss_mb": peak_rss_mb(process)}
    finally:
        stop_process_group(process)


RUNNERS: dict[str, Callable[[Path, Path], dict[str, Any]]] = {
    "load": step_load, "features": step_features, "train": step_train, "snapshot": step_snapshot, "score": step_score, "serve": step_serve}


def run_size(label: str, steps: list[str], work: Path, runs: int, train_config: Path | None = None) -> dict[str, Any]:
    """Every asked step on one size; numbers are medians of ``runs`` (train retrains from scratch each time)."""
    runners = {**RUNNERS, "train": partial(step_train, config=train_config)}
    data = simulated(work, label, SIZES[label])
    lines = pq.read_metadata(data).num_rows
    measured_steps: dict[str, Any] = {}
    for step in steps:
        if step not in ("load", "features", "train") and not (work / f"workspace_{label}" / "report.json").exists():
            raise RuntimeError(f"{step} on {label} needs a trained workspace: run --steps train on {label} first")
        trials = [runners[step](data, work / f"workspace_{label}") for _ in range(runs)]
        numbers = {key: statistics.median(t[key] for t in trials) for key, value in trials[0].items()
                   if isinstance(value, int | float)}
        measured_steps[step] = {**trials[-1], **numbers, "runs": len(trials), "code": code_version()}
        print(f"  {label} {step}: {numbers['seconds']:.1f} s, {numbers['peak_rss_mb']:.0f} MB", file=sys.stderr)
    return {"lines": lines, "steps": measured_steps}


def xl_figures(size: dict[str, Any]) -> dict[str, Any]:
    """The 100M-line size's figures under bench/results.json's ``xl_`` names (only the steps in ``size``),
    each step with the code it was measured at."""
    steps = size["steps"]
    names = {("load", "seconds"): "xl_load_s", ("load", "peak_rss_mb"): "xl_load_peak_rss_mb",
             ("train", "seconds"): "xl_train_s", ("train", "peak_rss_mb"): "xl_train_peak_rss_mb",
             ("features", "ratio_to_sql"): "xl_features_ratio_to_sql", ("features", "peak_rss_mb"): "xl_features_peak_rss_mb",
             ("snapshot", "seconds"): "xl_snapshot_s", ("score", "seconds"): "xl_score_s",
             ("serve", "seconds"): "xl_snapshot_load_s", ("serve", "peak_rss_mb"): "xl_serve_peak_rss_mb"}
    figures: dict[str, Any] = {name: float(steps[step][key]) for (step, key), name in names.items() if step in steps}
    figures.update({f"xl_{step}_code": measured["code"] for step, measured in steps.items() if "code" in measured})
    if "features" in steps:
        figures["xl_features_lines_per_s"] = size["lines"] / steps["features"]["seconds"]
    return figures


def record_figures(results: Path, figures: dict[str, Any]) -> None:
    """Add ``figures`` to the benchmarks' record (bench/results.json), when there is one, keeping its other keys."""
    if results.exists():
        results.write_text(json.dumps({**json.loads(results.read_text()), **figures}, indent=2, default=str))


def growth_exponents(results: dict[str, Any]) -> dict[str, dict[str, float]]:
    """Per step, log(t2/t1) / log(n2/n1) between consecutive measured sizes (1.0: linear)."""
    exponents: dict[str, dict[str, float]] = {}
    for step in STEPS:
        points = sorted((size["lines"], size["steps"][step]) for size in results["sizes"].values() if step in size["steps"])
        for (n1, a), (n2, b) in zip(points, points[1:], strict=False):
            key = f"{_label(n1)}->{_label(n2)}"
            exponents.setdefault(step, {})[f"{key} time"] = math.log(b["seconds"] / a["seconds"]) / math.log(n2 / n1)
            exponents[step][f"{key} memory"] = math.log(b["peak_rss_mb"] / a["peak_rss_mb"]) / math.log(n2 / n1)
    return exponents


def _label(lines: int) -> str:
    return f"{lines / 1e6:.0f}M" if lines >= 1e6 else f"{lines / 1e3:.0f}k"


def render_markdown(results: dict[str, Any]) -> str:
    rows = ["| lines | members (score) | step | seconds | peak RSS MB | lines/s | note |", "|---|---|---|---|---|---|---|"]
    for size in sorted(results["sizes"].values(), key=lambda s: s["lines"]):
        members = size["steps"].get("score", {}).get("members", "")
        for step, m in size["steps"].items():
            note = f"hand-written DuckDB {m['sql_seconds']:.1f} s, ratio {m['ratio_to_sql']:.2f}" if step == "features" else \
                ("promoted: " + ", ".join(m["promoted"]) if step == "train" else "")
            rows.append(f"| {size['lines']:,} | {members and f'{members:,}'} | {step} | {m['seconds']:.1f} | "
                        f"{m['peak_rss_mb']:,.0f} | {size['lines'] / m['seconds']:,.0f} | {note} |")
    exponents = ["", "Growth exponents (log-log slope between consecutive sizes; 1.0 is linear):", ""]
    exponents += [f"- {step}: " + ", ".join(f"{k} {v:.2f}" for k, v in e.items()) for step, e in results["exponents"].items()]
    head = [f"# Growth curve ({results['machine'].get('cpu', '')}, {results['machine'].get('cores', '')} cores, {results['machine'].get('memory_gb', '')} GB)", "",
            f"Produced by `python -m bench.growth` (bench/growth.py) at code {results['code']}; "
            "one fresh process per step; see growth.png.", ""]
    return "\n".join([*head, *rows, *exponents]) + "\n"


def readme_table(results: dict[str, Any]) -> str:
    """The README's "How big can it go" table: each size's steps as "seconds, peak GB"; "not run" where a step was not."""
    def cell(step: dict[str, Any] | None) -> str:
        if step is None:
            return "not run"
        seconds = f"{step['seconds']:.1f}" if step["seconds"] < 100 else f"{step['seconds']:,.0f}"
        return f"{seconds} s, {step['peak_rss_mb'] / 1024:.1f} GiB"

    rows = ["| order lines (members) | load (`validate`) | features (`snapshot_expression`) | `train` | `snapshot` | `score` (every member) "
            "| `serve` until `/readyz` |", "|---|---:|---:|---:|---:|---:|---:|"]
    for size in sorted(results["sizes"].values(), key=lambda s: s["lines"]):
        members = size["steps"].get("score", {}).get("members")
        label = f"{size['lines'] / 1e6:.3g} M" + (f" ({members:,})" if members else "")
        rows.append(f"| {label} | " + " | ".join(cell(size["steps"].get(step)) for step in STEPS) + " |")
    return "\n".join(rows) + "\n"


def plot(results: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (time_axis, memory_axis) = plt.subplots(1, 2, figsize=(11, 4.2))
    for step in STEPS:
        points = sorted((s["lines"], s["steps"][step]) for s in results["sizes"].values() if step in s["steps"])
        if points:
            time_axis.plot([n for n, _ in points], [m["seconds"] for _, m in points], "o-", label=step)
            memory_axis.plot([n for n, _ in points], [m["peak_rss_mb"] for _, m in points], "o-", label=step)
    for axis, ylabel in ((time_axis, "wall seconds"), (memory_axis, "peak RSS (MB)")):
        axis.set_xscale("log")
        axis.set_yscale("log")
        axis.set_xlabel("order lines")
        axis.set_ylabel(ylabel)
        axis.grid(True, which="both", alpha=0.3)
    time_axis.legend()
    figure.suptitle("memberscore: time and memory by data size (log-log)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1m,10m", help=f"comma-separated subset of {list(SIZES)}")
    parser.add_argument("--steps", default=",".join(STEPS), help=f"comma-separated subset of {STEPS}")
    parser.add_argument("--runs", type=int, default=1, help="runs per step (median)")
    parser.add_argument("--work", type=Path, default=REPO / "var" / "bench" / "growth")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "growth.json")
    parser.add_argument("--train-config", type=Path, help="train's --config (e.g. bench/xl_train.yaml: a member sample per cut-off)")
    parser.add_argument("--readme", type=Path, help="rewrite the table between this file's growth markers")
    parser.add_argument("--results", type=Path, default=REPO / "bench" / "results.json",
                        help="where the 100M size's figures go, as xl_* keys")
    args = parser.parse_args()
    sizes, steps = [s for s in args.sizes.split(",") if s], [s for s in args.steps.split(",") if s]
    if unknown := sorted(set(sizes) - set(SIZES)) + sorted(set(steps) - set(STEPS)):
        parser.error(f"unknown sizes or steps: {unknown}")
    args.work.mkdir(parents=True, exist_ok=True)
    results = json.loads(args.out.read_text()) if args.out.exists() else {"sizes": {}}
    for label in sizes:
        previous = results["sizes"].get(label, {"steps": {}})
        measured_size = run_size(label, [s for s in STEPS if s in steps], args.work.resolve(), args.runs, args.train_config)
        results["sizes"][label] = {**measured_size, "steps": {**previous["steps"], **measured_size["steps"]}}
        results.update(machine=machine(), code=code_version())
        results["exponents"] = growth_exponents(results)
        args.out.write_text(json.dumps(results, indent=2, default=str))
        args.out.with_suffix(".md").write_text(render_markdown(results))
        plot(results, args.out.with_suffix(".png"))
        if label == "100m":
            record_figures(args.results, xl_figures(measured_size))  # this run's steps only
    if args.readme:
        args.readme.write_text(into_readme(args.readme.read_text(encoding="utf-8"), readme_table(results), README_BEGIN, README_END),
                               encoding="utf-8")
    print(json.dumps(results["exponents"], indent=2))


if __name__ == "__main__":
    main()
