"""What keeping a snapshot's scores costs: ``serving.kept_scores`` on N simulated members.

Times building and writing the snapshot (features only: the serving baselines' BG/NBD fit, which
``memberscore snapshot`` also does, is left out, so the share printed is an upper bound), then the
step ``snapshot`` and ``train`` now add: scoring with a churn model (the rest served by baselines,
as the service does) and writing the score history. Usage:

    .venv/bin/python bench/history_bench.py [--members 1000000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import xgboost as xgb

from bench.kpi_table import simulated
from features.snapshot import build_snapshot
from features.store import write_snapshot
from serving.kept_scores import keep_scores, served_scores


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    args = parser.parse_args()
    transactions = simulated(args.members)
    started = time.perf_counter()
    snapshot = build_snapshot(transactions, date(2024, 12, 31))
    built = time.perf_counter() - started
    inputs = snapshot.model_inputs()
    names = snapshot.feature_names
    churn = xgb.train({"objective": "binary:logistic", "max_depth": 6, "seed": 0},
                      xgb.DMatrix(inputs[names].to_numpy(np.float32)[:50_000], feature_names=names,
                                  label=(inputs["recency_days"].to_numpy()[:50_000] > 90)), num_boost_round=100)
    with tempfile.TemporaryDirectory() as directory:
        started = time.perf_counter()
        write_snapshot(snapshot, Path(directory))
        written = time.perf_counter() - started
        started = time.perf_counter()
        scores = served_scores({"churn": churn}, {"churn": "1"}, snapshot)
        scored = time.perf_counter() - started
        started = time.perf_counter()
        path = keep_scores(scores, snapshot, Path(directory), {"churn": "1"}, 90, None, 730)
        kept = time.perf_counter() - started
        size = path.stat().st_size
    print(f"{len(snapshot.frame):,} members: snapshot built in {built:.1f} s, written in {written:.1f} s; "
          f"scores kept: scored in {scored:.1f} s (churn model, 100 trees), written in {kept:.1f} s "
          f"({size / 1e6:.0f} MB); +{(scored + kept) / (built + written):.0%} of build + write")


if __name__ == "__main__":
    main()
