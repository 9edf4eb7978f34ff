"""``make bench``: every benchmark in order, then bench/RESULTS.md and bench/results.json.

    .venv/bin/python -m bench.run                 # full: 1M and 10M lines, 1M members, 5 runs each
    .venv/bin/python -m bench.run --scale small   # smoke test of every script in a few minutes

Sections (``--sections`` picks some): ``features`` (Ibis on DuckDB vs hand-written DuckDB SQL vs
pandas), ``scoring`` (batch with reasons vs bare XGBoost), ``api`` (HTTP under load vs a trivial
endpoint), ``wrk`` (the same API under wrk, 1 thread x 8 connections, against /healthz and a bare
Starlette app; needs Debian's ``wrk``), ``training`` (``memberscore train`` on the simulated data and on each real dataset).
Simulated data and the trained workspace live under ``--work`` (default var/bench/<scale>) and are
reused when present. A small run writes its results there too, so it never overwrites the
committed full results in bench/.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from datetime import date, timedelta
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from bench.measure import REPO, code_version, machine, repeat_case
from bench.report import headline, render_markdown

START, DAYS = date(2023, 1, 1), 730
AS_OF = START + timedelta(days=DAYS)  # the day after the last simulated line: every row counts
SECTIONS = ("features", "training", "scoring", "api", "wrk")


@dataclass(frozen=True)
class Scale:
    feature_rows: dict[str, int]   # label -> target lines
    score_rows: int
    runs: int
    api_seconds: float
    real_datasets: int             # how many real datasets to train on (0 = none, 99 = all)


SCALES = {
    "full": Scale({"1m": 1_000_000, "10m": 10_000_000}, 1_000_000, 5, 10.0, 99),
    "small": Scale({"1m": 20_000, "10m": 100_000}, 20_000, 2, 2.0, 1),
}


def simulated(work: Path, label: str, rows: int) -> Path:
    """A simulated table of about ``rows`` lines (members sized from a pilot), reused if present.

    Written by a child process: the process that builds 100 M lines keeps ~7 GB after the frames are
    freed (the allocator does not return it), which the benchmarks run next beside it did not have.
    """
    path = work / f"sim_{label}.parquet"
    if not path.exists():
        with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as child:
            child.submit(write_simulated, path, rows).result()
    return path


def write_simulated(path: Path, rows: int) -> None:
    """Simulate about ``rows`` lines (members sized from a pilot) and write them, with their truth, to ``path``."""
    from features.retail_simulation import simulate_retail, write_simulation

    pilot, _ = simulate_retail(2000, START, DAYS, seed=0)
    members = max(50, round(rows * 2000 / len(pilot)))
    transactions, truth = simulate_retail(members, START, DAYS, seed=1)
    write_simulation(transactions, truth, path)


def bench_features(work: Path, scale: Scale) -> dict[str, Any]:
    """Each implementation on each size, ``runs`` fresh processes each, after checking they agree."""
    from bench.features_bench import agreement

    paths = {label: simulated(work, label, rows) for label, rows in scale.feature_rows.items()}
    verdicts = agreement(paths[min(paths, key=lambda k: scale.feature_rows[k])], AS_OF)
    if any(verdicts.values()):
        raise RuntimeError(f"feature implementations disagree with the Ibis result: {verdicts}")
    results: dict[str, Any] = {"agreement": "sql and pandas equal the Ibis features (rtol 1e-9)"}
    for label, path in paths.items():
        lines = pq.read_metadata(path).num_rows
        for impl in ("ibis", "sql", "pandas"):
            case = repeat_case("features_bench", ["--impl", impl, "--parquet", str(path), "--as-of", str(AS_OF)], scale.runs)
            results[f"{label}_{impl}"] = {**case, "lines": lines, "lines_per_s": lines / case["seconds"]}
            print(f"  features {label} {impl}: {case['seconds']:.2f} s, {case['peak_rss_mb']:.0f} MB", file=sys.stderr)
    return results


def bench_training(work: Path, scale: Scale) -> dict[str, Any]:
    """`memberscore train` on the 1M simulated table (its workspace feeds scoring and api), then real data."""
    from bench.training_bench import train_real_datasets, train_workspace

    results = {"simulated_1m": train_workspace(simulated(work, "1m", scale.feature_rows["1m"]), work / "train")}
    results.update(train_real_datasets(work / "real", scale.runs, scale.real_datasets))
    return results


def bench_scoring(work: Path, scale: Scale) -> dict[str, Any]:
    results = {}
    for impl in ("ours", "bare"):
        args = ["--workdir", str(work / "train"), "--rows", str(scale.score_rows), "--impl", impl]
        results[impl] = repeat_case("scoring_bench", args, scale.runs)
        print(f"  scoring {impl}: {results[impl]['rows_per_s']:.0f} rows/s", file=sys.stderr)
    return results


def bench_api(work: Path, scale: Scale) -> dict[str, Any]:
    from bench.api_bench import run_api_bench

    return run_api_bench(work / "train", work / "api", scale.runs, scale.api_seconds, warmup=2.0)


def bench_wrk(work: Path, scale: Scale) -> dict[str, Any]:
    """The API under wrk (Debian's package: ``apt-get install -y wrk``): /score vs /healthz vs bare Starlette."""
    from bench.wrk_bench import run_wrk_bench

    return run_wrk_bench(work / "train", work / "wrk", runs=3, duration=scale.api_seconds)


RUNNERS = {"features": bench_features, "training": bench_training, "scoring": bench_scoring, "api": bench_api,
           "wrk": bench_wrk}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", choices=sorted(SCALES), default="full")
    parser.add_argument("--sections", default=",".join(SECTIONS), help=f"comma-separated subset of {SECTIONS}")
    parser.add_argument("--work", type=Path, default=None, help="data and workspaces (default var/bench/<scale>)")
    parser.add_argument("--out-dir", type=Path, default=None, help="results (default bench/ for full, else --work)")
    parser.add_argument("--real-datasets", type=int, default=None, help="train on at most this many real datasets")
    parser.add_argument("--runs", type=int, default=None, help="runs per case (overrides the scale's)")
    parser.add_argument("--score-rows", type=int, default=None, help="members to batch-score (overrides the scale's)")
    args = parser.parse_args()
    sections = [s for s in args.sections.split(",") if s]
    unknown = sorted(set(sections) - set(SECTIONS))
    if unknown:
        parser.error(f"--sections: unknown {unknown}; choose from {SECTIONS}")
    scale = SCALES[args.scale]
    overrides = {"real_datasets": args.real_datasets, "runs": args.runs, "score_rows": args.score_rows}
    scale = replace(scale, **{k: v for k, v in overrides.items() if v is not None})
    work = (args.work or REPO / "var" / "bench" / args.scale).resolve()
    out_dir = (args.out_dir or (REPO / "bench" if args.scale == "full" else work)).resolve()
    work.mkdir(parents=True, exist_ok=True)
    results_path = out_dir / "results.json"
    previous = json.loads(results_path.read_text()) if results_path.exists() else {}
    results = {**previous, "scale": args.scale, "machine": machine(), "sections": {**previous.get("sections", {})}}
    results.pop("scale_settings", None)  # settings are per section: sections may come from separate runs
    for section in SECTIONS:
        if section in sections:
            started, load_at_start, code = time.perf_counter(), machine()["load_average_at_start"], code_version()
            print(f"{section} ...", file=sys.stderr)
            results["sections"][section] = RUNNERS[section](work, scale)
            results["sections"][section]["section_seconds"] = time.perf_counter() - started
            results["sections"][section]["settings"] = {**scale.__dict__, "load_average_at_start": load_at_start,
                                                        "code": code}
            _write(results, out_dir)
    _write(results, out_dir)
    print(json.dumps(headline(results), indent=2))


def _write(results: dict[str, Any], out_dir: Path) -> None:
    """results.json (headline keys at the top level, details under ``sections``) and RESULTS.md."""
    out_dir.mkdir(parents=True, exist_ok=True)
    results.update(headline(results))
    (out_dir / "results.json").write_text(json.dumps(results, indent=2, default=str))
    (out_dir / "RESULTS.md").write_text(render_markdown(results))


if __name__ == "__main__":
    main()
