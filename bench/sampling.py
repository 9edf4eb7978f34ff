"""Member sampling per training cut-off: what it saves, and whether the models' out-of-time metrics hold.

    .venv/bin/python -m bench.sampling --size 10m --max-members 100000
    .venv/bin/python -m bench.sampling --size 10m --max-members 100000 --full-from var/bench/growth/workspace_10m

``memberscore train`` on one simulated size (``bench.run.simulated``) twice, each in a fresh process
and workspace: every member of each training cut-off, then at most ``--max-members`` of them
(``TrainConfig.max_members_per_cutoff``). Both are evaluated on every member of the same
evaluation cut-off, so their out-of-time metrics compare on the same rows. ``--full-from`` reuses
a full run's workspace (e.g. ``bench.growth``'s; its time and memory then come from
bench/growth.json). The verdict is each task's promotion metric: the sample holds when the
difference is within ``--tolerance`` (0.005 by default, the issue's bar).

Writes ``--out`` (bench/sampling.json; one entry per size and sample) and its table beside it (.md).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml

from bench.growth import SIZES
from bench.measure import REPO, code_version, machine
from bench.run import simulated
from bench.training_bench import train_once


def train(data: Path, workdir: Path, max_members: int | None) -> dict[str, Any]:
    """One ``memberscore train`` into a new ``workdir``: wall seconds, peak RSS, and its report."""
    workdir.mkdir(parents=True, exist_ok=False)
    config = None
    if max_members is not None:
        config = workdir / "config.yaml"
        config.write_text(yaml.safe_dump({"max_members_per_cutoff": max_members}))
    result = train_once(data, workdir, config=config)
    return {**result, "code": code_version(), "report": json.loads((workdir / "report.json").read_text())}


def reused(workspace: Path, size: str, growth: Path) -> dict[str, Any]:
    """A full run another bench made: its report, and its time and memory from that bench's record."""
    record = json.loads(growth.read_text())
    train_step = record["sizes"][size]["steps"]["train"]
    return {"seconds": train_step["seconds"], "peak_rss_mb": train_step["peak_rss_mb"], "code": record["code"],
            "reused_from": str(workspace), "report": json.loads((workspace / "report.json").read_text())}


def compare(full: dict[str, Any], sample: dict[str, Any], tolerance: float) -> dict[str, Any]:
    """Per task: the model's out-of-time metrics in both runs, their differences, and the promotion metric's verdict."""
    tasks: dict[str, Any] = {}
    for task, whole in full["report"]["tasks"].items():
        part = sample["report"]["tasks"].get(task)
        if part is None:
            tasks[task] = {"verdict": "absent from the sampled run"}
            continue
        metrics = whole["out_of_time"]["model"]
        differences = {m: part["out_of_time"]["model"][m] - v for m, v in metrics.items() if m in part["out_of_time"]["model"]}
        interval = whole.get("promotion_interval") or part.get("promotion_interval") or {}
        primary = interval.get("metric")
        verdict = "no promotion metric" if primary is None else \
            ("holds" if abs(differences[primary]) <= tolerance else "differs")
        tasks[task] = {"promotion_metric": primary, "full": metrics, "sampled": part["out_of_time"]["model"],
                       "difference": differences, "verdict": verdict,
                       "promoted": {"full": whole["promoted"], "sampled": part["promoted"]},
                       "members": {"full": whole["members"], "sampled": part["members"]}}
    return tasks


def render_markdown(results: dict[str, Any]) -> str:
    lines = ["# Member sampling per training cut-off", "",
             "Produced by `python -m bench.sampling` (bench/sampling.py). Both runs are evaluated on every member "
             "of the same evaluation cut-off; difference = sampled - full.", "",
             "| lines | max members / cut-off | run | seconds | peak RSS MB | task | promotion metric | full | sampled | difference | verdict |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for entry in results["runs"].values():
        for task, t in entry["tasks"].items():
            if "promotion_metric" not in t or t["promotion_metric"] is None:
                lines.append(f"| {entry['lines']:,} | {entry['max_members']:,} | | | | {task} | | | | | {t['verdict']} |")
                continue
            metric = t["promotion_metric"]
            lines.append(
                f"| {entry['lines']:,} | {entry['max_members']:,} | full / sampled | {entry['full']['seconds']:.0f} / "
                f"{entry['sampled']['seconds']:.0f} | {entry['full']['peak_rss_mb']:,.0f} / {entry['sampled']['peak_rss_mb']:,.0f} | "
                f"{task} | {metric} | {t['full'][metric]:.4f} | {t['sampled'][metric]:.4f} | {t['difference'][metric]:+.4f} | {t['verdict']} |")
    lines += ["", f"Tolerance: {results['tolerance']}. Machine: {results['machine'].get('cpu', '')}, "
              f"{results['machine'].get('cores', '')} cores."]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="1m", choices=list(SIZES))
    parser.add_argument("--max-members", type=int, required=True, help="members kept per training cut-off")
    parser.add_argument("--full-from", type=Path, help="a full run's workspace to reuse (its numbers from --growth)")
    parser.add_argument("--growth", type=Path, default=REPO / "bench" / "growth.json")
    parser.add_argument("--tolerance", type=float, default=0.005)
    parser.add_argument("--work", type=Path, default=REPO / "var" / "bench" / "sampling")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "sampling.json")
    args = parser.parse_args()
    work = args.work.resolve() / f"{args.size}_{args.max_members}"
    if work.exists():
        parser.error(f"{work} exists: remove it to measure again")
    data = simulated(args.work.resolve().parent / "growth", args.size, SIZES[args.size])
    full = reused(args.full_from, args.size, args.growth) if args.full_from else train(data, work / "full", None)
    print(f"  full: {full['seconds']:.0f} s, {full['peak_rss_mb']:.0f} MB", file=sys.stderr)
    sampled = train(data, work / "sampled", args.max_members)
    print(f"  sampled: {sampled['seconds']:.0f} s, {sampled['peak_rss_mb']:.0f} MB", file=sys.stderr)
    results = json.loads(args.out.read_text()) if args.out.exists() else {"runs": {}}
    results["runs"][f"{args.size}_{args.max_members}"] = {
        "lines": full["report"].get("data", {}).get("rows"), "max_members": args.max_members,
        "full": {k: v for k, v in full.items() if k != "report"}, "sampled": {k: v for k, v in sampled.items() if k != "report"},
        "tasks": compare(full, sampled, args.tolerance)}
    results.update(tolerance=args.tolerance, machine=machine())
    args.out.write_text(json.dumps(results, indent=2, default=str))
    args.out.with_suffix(".md").write_text(render_markdown(results))
    print(render_markdown(results))


if __name__ == "__main__":
    main()
