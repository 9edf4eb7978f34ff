"""Wall time and peak memory of the whole ``memberscore train``, each run in a fresh workspace.

A workspace is an MLflow SQLite store, a BentoML home and a snapshot directory of its own, as in
``bench/real_data_results.py``, so every run is a first run with no prior champion.
"""

from __future__ import annotations

import json
import shutil
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.api_bench import server_env
from bench.measure import REPO, run_command
from bench.real_data_results import DATASETS

SHARED_DATA = REPO.parent / "shared" / "data"
MEMBERSCORE = [sys.executable, "-m", "cli"]  # what the console script runs (pyproject: memberscore = "cli.main:app")


def train_once(transactions: Path, workdir: Path, mapping: Path | None = None, config: Path | None = None) -> dict[str, Any]:
    """One `memberscore train` into ``workdir`` (``config``: its ``--config``): wall seconds, peak RSS, and what it promoted."""
    workdir.mkdir(parents=True, exist_ok=True)
    command = [*MEMBERSCORE, "train", "--transactions", str(transactions), "--report", str(workdir / "report.json"),
               "--rejects", str(workdir / "rejects.csv")]
    if mapping is not None:
        command += ["--mapping", str(mapping)]
    if config is not None:
        command += ["--config", str(config.resolve())]
    _, peak_rss_mb, seconds = run_command(command, server_env(workdir), cwd=workdir)
    report = json.loads((workdir / "report.json").read_text())
    promoted = sorted(task for task, result in report.get("tasks", {}).items() if result.get("promoted"))
    return {"seconds": seconds, "peak_rss_mb": peak_rss_mb, "promoted": promoted,
            "rows_kept": report.get("load", {}).get("rows_kept")}


def train_workspace(transactions: Path, workdir: Path) -> dict[str, Any]:
    """Train once into ``workdir`` (kept: scoring and API benchmarks serve from it); reused when done."""
    done = workdir / "bench_train.json"
    if done.exists():
        return {**json.loads(done.read_text()), "reused": True}
    shutil.rmtree(workdir, ignore_errors=True)
    result = train_once(transactions, workdir)
    done.write_text(json.dumps(result))
    return result


def train_real_datasets(work: Path, runs: int, limit: int) -> dict[str, Any]:
    """Median wall time of ``runs`` trainings on each real dataset present (at most ``limit`` of them)."""
    results: dict[str, Any] = {}
    for name, relative in list(DATASETS.items())[:limit]:
        path = SHARED_DATA / relative
        if not path.exists():
            results[f"real_{name}"] = {"skipped": f"{path} not present"}
            continue
        work.mkdir(parents=True, exist_ok=True)
        trials = []
        for _ in range(runs):
            with tempfile.TemporaryDirectory(prefix=f"bench-{name}-", dir=work) as workdir:
                trials.append(train_once(path, Path(workdir), REPO / "mappings" / f"{name}.yaml"))
            print(f"  training {name}: {trials[-1]['seconds']:.0f} s", file=sys.stderr)
        results[f"real_{name}"] = {
            "seconds": statistics.median(t["seconds"] for t in trials),
            "peak_rss_mb": statistics.median(t["peak_rss_mb"] for t in trials),
            "promoted": trials[-1]["promoted"], "rows_kept": trials[-1]["rows_kept"], "runs": trials,
        }
    return results
