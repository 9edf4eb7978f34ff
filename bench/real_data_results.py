"""Train every model on every real dataset in ../shared/data and tabulate out-of-time metrics.

Each dataset gets its own throw-away MLflow store, BentoML home and snapshot directory, so the
numbers come from a first run with no prior champion. Usage (from the repo root):

    .venv/bin/python bench/real_data_results.py --data ../shared/data --out bench/results_real_data.md

``--dataset NAME`` (repeatable) runs only those datasets (the tables then hold only them).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATASETS = {
    "cdnow": "cdnow/cdnow_master.parquet",
    "online_retail": "online_retail/online_retail.parquet",
    "complete_journey": "complete_journey/transactions.parquet",
}


def train_report(name: str, transactions: Path, workdir: Path) -> tuple[dict, float]:
    """Run `memberscore train` in an isolated workspace; return its JSON report and wall time."""
    path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))  # this checkout's code
    env = {**os.environ, "PYTHONPATH": path, "MLFLOW_TRACKING_URI": f"sqlite:///{workdir / 'mlflow.db'}",
           "BENTOML_HOME": str(workdir / "bentoml"), "MEMBERSCORE_SNAPSHOT_DIR": str(workdir / "snapshots")}
    report = workdir / "report.json"
    command = [sys.executable, "-m", "cli", "train", "--transactions", str(transactions),
               "--mapping", str(REPO / "mappings" / f"{name}.yaml"), "--report", str(report),
               "--rejects", str(workdir / "rejects.csv")]
    started = time.perf_counter()
    subprocess.run(command, cwd=workdir, env=env, check=True, stdout=subprocess.DEVNULL)
    return json.loads(report.read_text()), time.perf_counter() - started


# per task: the metrics shown, promotion metric first
COLUMNS = {
    "churn": ("roc_auc", "pr_auc", "brier", "ece", "lift_top_decile"),
    "next_purchase": ("concordance", "roc_auc_30d", "brier_30d", "ece_30d"),
    "upsell": ("roc_auc", "precision_top_decile", "brier", "hit_rate_at_3"),
    "value": ("normalized_gini", "spearman", "top_decile_share", "mae"),
}


def table(reports: dict[str, tuple[dict, float]]) -> str:
    """One table per task: every scorer on every dataset, on the same out-of-time rows."""
    lines = []
    for task, metrics in COLUMNS.items():
        lines += [f"### {task}", "", "| dataset | members | scorer | " + " | ".join(metrics) + " | promoted |",
                  "|---|---:|---|" + "---:|" * len(metrics) + "---|"]
        for name, (report, _) in reports.items():
            result = report["tasks"].get(task)
            if result is None:
                lines.append(f"| {name} | | skipped: {report['skipped'].get(task, '?')} |" + " |" * (len(metrics) + 1))
                continue
            for scorer, values in result["out_of_time"].items():
                shown = " | ".join(f"{values[m]:.4f}" if m in values else "" for m in metrics)
                promoted = ("yes" if result["promoted"] else "no") if scorer == "model" else ""
                lines.append(f"| {name} | {int(values['n']):,} | {scorer} | {shown} | {promoted} |")
        lines.append("")
    lines += intervals(reports)
    for name, (report, seconds) in reports.items():
        cut = report["cutoffs"]
        lines.append(f"- {name}: training cut-offs {', '.join(cut['train'])}; evaluation {cut['evaluation']} "
                     f"(H = {cut['horizon_days']} days); wall time {seconds:.0f} s")
        if report.get("plan"):
            lines.append(f"  - plan: {report['plan']['why']}")
        lines += [f"  - {task}: {result['decision']}" for task, result in report["tasks"].items()]
    return "\n".join(lines) + "\n"


def intervals(reports: dict[str, tuple[dict, float]]) -> list[str]:
    """The gate of every task: model minus its best baseline on the gate metric, with the paired
    bootstrap's 95% interval (promoted only when the lower bound is above 0)."""
    lines = ["### promotion intervals", "",
             "| dataset | task | metric | best baseline | model - baseline | 95% interval | promoted |",
             "|---|---|---|---|---:|---|---|"]
    for name, (report, _) in reports.items():
        for task, result in report["tasks"].items():
            interval = result.get("promotion_interval")
            if not interval:
                continue
            lines.append(f"| {name} | {task} | {interval['metric']} | {interval['baseline']} | "
                         f"{interval['difference']:+.4f} | {interval['low']:+.4f} to {interval['high']:+.4f} | "
                         f"{'yes' if result['promoted'] else 'no'} |")
    return [*lines, ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results_real_data.md")
    parser.add_argument("--readme", type=Path, help="also write the tables between this file's results markers")
    parser.add_argument("--dataset", action="append", choices=sorted(DATASETS), help="only this dataset (repeatable)")
    args = parser.parse_args()
    reports = {}
    for name, relative in DATASETS.items():
        if args.dataset and name not in args.dataset:
            continue
        with tempfile.TemporaryDirectory(prefix=f"memberscore-{name}-") as workdir:
            reports[name] = train_report(name, args.data.resolve() / relative, Path(workdir))  # it runs in workdir
            print(f"{name}: done in {reports[name][1]:.0f} s", file=sys.stderr)
    args.out.write_text(table(reports))
    if args.readme:
        args.readme.write_text(into_readme(args.readme.read_text(encoding="utf-8"), table(reports)), encoding="utf-8")
    print(table(reports))


RESULTS_BEGIN, RESULTS_END = "<!-- results:begin -->", "<!-- results:end -->"


def into_readme(readme: str, tables: str, begin: str = RESULTS_BEGIN, end_marker: str = RESULTS_END) -> str:
    """``readme`` with the tables (one heading level down) between its results markers (or the given ones)."""
    start, end = readme.index(begin) + len(begin), readme.index(end_marker)
    return f"{readme[:start]}\n{tables.replace('### ', '#### ')}{readme[end:]}"


if __name__ == "__main__":
    main()
