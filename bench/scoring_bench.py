"""Batch scoring with reasons of N members, against bare XGBoost on the same matrix.

- ``ours``: ``serving.batch.score_with_reasons_chunked``: every champion's outputs (probabilities,
  timing, upsell offers, value) and the top-3 reasons of every model, streamed in chunks;
- ``bare``: per champion booster, ``predict`` and ``predict(pred_contribs=True)`` on the whole
  float32 matrix at once: the floor any scoring-with-reasons code pays. The contributions are of
  what ours explains: for the multi-output upsell booster, output 0 (``first_output_booster``;
  SHAP of every output would cost K + 1 times as much and is not what either side needs).

Members come from the snapshot of a trained workspace, tiled with new ids up to N rows (scoring
cost depends on the values, not on who the members are). One case per process:

    python -m bench.scoring_bench --workdir var/bench/work/train --rows 1000000 --impl ours
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import xgboost as xgb

from features import contract
from features.project import DEFAULT_PROJECT
from features.snapshot import Snapshot
from features.store import latest_snapshot_path, read_snapshot
from models import catalog
from models.matrix import model_frame
from models.tasks import TASK_NAMES
from serving.batch import DEFAULT_CHUNK_ROWS, score_with_reasons_chunked
from serving.first_output import first_output_booster


def champion_boosters(workdir: Path) -> dict[str, xgb.Booster]:
    """Every task's champion from the workspace's MLflow registry."""
    catalog.configure_tracking(f"sqlite:///{workdir / 'mlflow.db'}")
    boosters = {task: catalog.load_booster(task, project=DEFAULT_PROJECT) for task in TASK_NAMES}
    return {task: booster for task, booster in boosters.items() if booster is not None}


def tiled(snapshot: Snapshot, rows: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The snapshot's model inputs and profile repeated to ``rows`` rows, each copy with new ids."""
    inputs, profile = snapshot.model_inputs(), snapshot.profile
    take = np.arange(rows) % len(inputs)
    copy = (np.arange(rows) // len(inputs)).astype(str)
    ids = pd.Series(inputs[contract.MEMBER_ID].astype(str).to_numpy()[take], dtype="string") + "-" + copy
    big_inputs = inputs.iloc[take].reset_index(drop=True).assign(**{contract.MEMBER_ID: ids})
    big_profile = profile.set_index(contract.MEMBER_ID).loc[inputs[contract.MEMBER_ID]].iloc[take].reset_index(drop=True)
    return big_inputs, big_profile.assign(**{contract.MEMBER_ID: ids})


def ours(models: dict[str, xgb.Booster], inputs: pd.DataFrame, profile: pd.DataFrame, snapshot: Snapshot,
         chunk_rows: int) -> int:
    """Rows scored with reasons; each chunk is dropped once counted, as a writer would stream it out."""
    scored = 0
    for chunk in score_with_reasons_chunked(models, inputs, profile, snapshot.as_of, 3, chunk_rows):
        scored += len(chunk)
    return scored


def bare(matrices: dict[str, np.ndarray], models: dict[str, xgb.Booster]) -> int:
    """predict + pred_contribs (of the explained output) per booster on its whole matrix."""
    for task, booster in models.items():
        matrix = xgb.DMatrix(matrices[task], feature_names=list(booster.feature_names or []))
        booster.predict(matrix)
        first_output_booster(booster).predict(matrix, pred_contribs=True)
    return len(next(iter(matrices.values())))


def main() -> None:
    parser = argparse.ArgumentParser(description="Time batch scoring with reasons in this process.")
    parser.add_argument("--workdir", type=Path, required=True)
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--impl", choices=("ours", "bare"), required=True)
    parser.add_argument("--chunk-rows", type=int, default=DEFAULT_CHUNK_ROWS)
    args = parser.parse_args()
    models = champion_boosters(args.workdir)
    snapshot = read_snapshot(latest_snapshot_path(args.workdir / "snapshots" / DEFAULT_PROJECT))  # type: ignore[arg-type]
    inputs, profile = tiled(snapshot, args.rows)
    matrices = {task: model_frame(inputs, list(b.feature_names or [])).to_numpy(np.float32)
                for task, b in models.items()} if args.impl == "bare" else {}
    started = time.perf_counter()
    rows = ours(models, inputs, profile, snapshot, args.chunk_rows) if args.impl == "ours" else bare(matrices, models)
    seconds = time.perf_counter() - started
    print(json.dumps({"seconds": seconds, "rows": rows, "rows_per_s": rows / seconds, "models": len(models)}))


if __name__ == "__main__":
    main()
