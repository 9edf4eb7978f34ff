"""Train churn on every real dataset in ../shared/data and tabulate out-of-time metrics.

Each dataset gets its own throw-away MLflow store, BentoML home and snapshot directory, so the
numbers come from a first run with no prior champion. Usage (from the repo root):

    .venv/bin/python bench/real_data_results.py --data ../shared/data --out bench/churn_results.md
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
SCORERS = ("model", "rfm_rule", "recency_over_gap")


def train_report(name: str, transactions: Path, workdir: Path) -> tuple[dict, float]:
    """Run `memberscore train` in an isolated workspace; return its JSON report and wall time."""
    env = {**os.environ, "MLFLOW_TRACKING_URI": f"sqlite:///{workdir / 'mlflow.db'}",
           "BENTOML_HOME": str(workdir / "bentoml"), "MEMBERSCORE_SNAPSHOT_DIR": str(workdir / "snapshots")}
    report = workdir / "report.json"
    command = [str(REPO / ".venv/bin/memberscore"), "train", "--transactions", str(transactions),
               "--mapping", str(REPO / "mappings" / f"{name}.yaml"), "--report", str(report),
               "--rejects", str(workdir / "rejects.csv")]
    started = time.perf_counter()
    subprocess.run(command, cwd=workdir, env=env, check=True, stdout=subprocess.DEVNULL)
    return json.loads(report.read_text()), time.perf_counter() - started


def table(reports: dict[str, tuple[dict, float]]) -> str:
    lines = ["| dataset | members evaluated | churn rate | scorer | ROC AUC | PR AUC | Brier | lift top 10% |",
             "|---|---:|---:|---|---:|---:|---:|---:|"]
    for name, (report, _) in reports.items():
        for scorer in SCORERS:
            m = report["out_of_time"][scorer]
            lines.append(f"| {name} | {int(m['n']):,} | {m['base_rate']:.3f} | {scorer} | {m['roc_auc']:.4f} | "
                         f"{m['pr_auc']:.4f} | {m['brier']:.4f} | {m['lift_top_decile']:.3f} |")
    lines.append("")
    for name, (report, seconds) in reports.items():
        cut = report["cutoffs"]
        lines.append(f"- {name}: training cut-offs {', '.join(cut['train'])}; evaluation {cut['evaluation']} "
                     f"(H = {cut['horizon_days']} days); {report['decision']}; wall time {seconds:.0f} s")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "churn_results.md")
    args = parser.parse_args()
    reports = {}
    for name, relative in DATASETS.items():
        with tempfile.TemporaryDirectory(prefix=f"memberscore-{name}-") as workdir:
            reports[name] = train_report(name, args.data / relative, Path(workdir))
            print(f"{name}: {reports[name][0]['decision']}", file=sys.stderr)
    args.out.write_text(table(reports))
    print(table(reports))


if __name__ == "__main__":
    main()
