"""BG/NBD and Gamma-Gamma fitted on a seeded member sample: what it saves, and what it changes.

    .venv/bin/python -m bench.lifetime_sample --data var/bench/growth/sim_10m.parquet --fit-members 100000 300000

``features.lifetime.fit_lifetime`` estimates the population's parameters (four for BG/NBD, three
for Gamma-Gamma) from at most ``FIT_MEMBERS`` members and then scores every member. This fits the
same summary (every member's purchases before ``--as-of``) once on every member and once per
``--fit-members`` sample, and reports each fit's seconds and how far the served outputs moved: P(purchase
within 90 days) and the 90-day expected spend, as the largest and the mean absolute difference
over every member. A sample holds when the largest difference in probability is below
``--tolerance`` (0.005).

Writes ``--out`` (bench/lifetime_sample.json; one entry per data file) and its table beside it (.md).
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench.measure import REPO, code_version, machine

HORIZON_DAYS = 90.0


def fitted(transactions: pd.DataFrame, as_of: date, fit_members: int | None) -> tuple[Any, float]:
    """The lifetime model as of ``as_of`` fitted on at most ``fit_members`` members, and its seconds."""
    from features.lifetime import fit_lifetime

    started = time.perf_counter()
    model = fit_lifetime(transactions, as_of, fit_members=fit_members)
    return model, time.perf_counter() - started


def outputs(model: Any) -> dict[str, np.ndarray]:
    return {"p_purchase_90d": model.p_purchase_within(HORIZON_DAYS), "spend_90d": model.expected_spend(HORIZON_DAYS)}


def compare(data: Path, as_of: date, samples: list[int], tolerance: float) -> dict[str, Any]:
    """Every member's fit beside each sample's: seconds, parameters, differences in the served outputs."""
    transactions = pd.read_parquet(data)
    full, full_s = fitted(transactions, as_of, None)
    reference = outputs(full)
    entry: dict[str, Any] = {"data": str(data.relative_to(REPO) if data.is_relative_to(REPO) else data),
                             "lines": len(transactions), "members": len(full.summary), "as_of": as_of.isoformat(),
                             "full_fit_s": round(full_s, 1), "samples": []}
    for size in samples:
        model, seconds = fitted(transactions, as_of, size)
        moved = {name: np.abs(values - reference[name]) for name, values in outputs(model).items()}
        entry["samples"].append({
            "fit_members": size, "fit_s": round(seconds, 1),
            "max_abs_diff_p_purchase_90d": float(np.nanmax(moved["p_purchase_90d"])),
            "mean_abs_diff_p_purchase_90d": float(np.nanmean(moved["p_purchase_90d"])),
            "max_rel_diff_spend_90d": float(np.nanmax(moved["spend_90d"] / np.maximum(reference["spend_90d"], 1e-9))),
            "holds": bool(np.nanmax(moved["p_purchase_90d"]) < tolerance),
            "bgnbd": [model.bgnbd.r_, model.bgnbd.alpha_, model.bgnbd.a_, model.bgnbd.b_],
        })
    entry["bgnbd_full"] = [full.bgnbd.r_, full.bgnbd.alpha_, full.bgnbd.a_, full.bgnbd.b_]
    return entry


def table(entries: list[dict[str, Any]]) -> str:
    rows = ["| data (members) | fit on | seconds | max / mean abs. change, P(purchase in 90 d) | max rel. change, 90-day spend | holds |",
            "|---|---|---:|---|---:|---|"]
    for entry in entries:
        rows.append(f"| {entry['data']} ({entry['members']:,}) | every member | {entry['full_fit_s']} | - | - | - |")
        for sample in entry["samples"]:
            rows.append(f"| | {sample['fit_members']:,} members | {sample['fit_s']} | "
                        f"{sample['max_abs_diff_p_purchase_90d']:.5f} / {sample['mean_abs_diff_p_purchase_90d']:.5f} | "
                        f"{sample['max_rel_diff_spend_90d']:.4f} | {'yes' if sample['holds'] else 'no'} |")
    return "\n".join(rows) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="a transactions parquet in the data contract's columns")
    parser.add_argument("--as-of", type=date.fromisoformat, default=None, help="default: the day after the last line")
    parser.add_argument("--fit-members", type=int, nargs="+", required=True)
    parser.add_argument("--tolerance", type=float, default=0.005)
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "lifetime_sample.json")
    args = parser.parse_args(argv)
    as_of = args.as_of or pd.read_parquet(args.data, columns=["ts"])["ts"].max().date() + timedelta(days=1)
    entry = {**compare(args.data, as_of, args.fit_members, args.tolerance), "machine": machine(), "code": code_version()}
    previous = json.loads(args.out.read_text()) if args.out.exists() else []
    entries = [e for e in previous if e["data"] != entry["data"]] + [entry]
    args.out.write_text(json.dumps(entries, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(table(entries))
    print(table([entry]), end="")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
