"""Uplift on Hillstrom's randomised e-mail test: does the uplift model rank who responds *because* of
the e-mail better than the outcome model alone, and than a random order?

For each contrast (any e-mail, men's, women's, each against no e-mail) and outcome (visit, and spend
over the two weeks), ``training.uplift_train.fit_and_judge`` splits the randomised customers 70/30
(stratified by arm and by a positive outcome, seed 7), fits the DR-learner and the outcome model
(P(outcome | e-mailed), or expected spend if e-mailed) on the 70%, and ranks the held-out 30% three
ways: by the uplift model, by the outcome model, and in a seeded random order. On those held-out
customers it reports the Qini coefficient and uplift at 10% and 30% of each ranking with 95%
percentile-bootstrap intervals, and the gate's paired interval of the model's Qini minus the
outcome model's. Nothing is tuned to this file: the learner's defaults are the product's.

Writes bench/hillstrom_uplift.md and .json. Usage (from the repo root):

    .venv/bin/python -m bench.hillstrom_uplift --data ../shared/data [--readme README.md]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
CONTROL_ARM = "No E-Mail"
CONTRASTS = {"any e-mail": ("Mens E-Mail", "Womens E-Mail"), "men's e-mail": ("Mens E-Mail",),
             "women's e-mail": ("Womens E-Mail",)}
OUTCOMES = ("visit", "spend")
RANKINGS = {"model": "uplift model (DR)", "outcome_model": "outcome model alone", "current_score": "random order"}
METRICS = ("qini", "uplift_at_10", "uplift_at_30")
UPLIFT_BEGIN, UPLIFT_END = "<!-- uplift:begin -->", "<!-- uplift:end -->"


def read_hillstrom(data: Path) -> pd.DataFrame:
    """The 64,000 customers as published (``hillstrom/hillstrom.csv.gz``, see its SOURCE.md)."""
    return pd.read_csv(data / "hillstrom" / "hillstrom.csv.gz")


def customer_features(frame: pd.DataFrame) -> pd.DataFrame:
    """What was known before the e-mail, as numbers: recency, past-year spend, what and where they
    bought, one column per zip-code type and channel (``history_segment`` is ``history`` bucketed)."""
    numeric = frame[["recency", "history", "mens", "womens", "newbie"]].astype(float)
    dummies = pd.get_dummies(frame[["zip_code", "channel"]], dtype=float)
    return pd.concat([numeric, dummies], axis=1)


def contrast_rows(frame: pd.DataFrame, arms: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Row mask of the contrast (its e-mail arms and the control) and 0/1 treatment on those rows."""
    keep = frame["segment"].isin((*arms, CONTROL_ARM)).to_numpy()
    return keep, (frame.loc[keep, "segment"] != CONTROL_ARM).to_numpy(int)


def one_result(features: pd.DataFrame, treated: np.ndarray, outcome: np.ndarray, rounds: int,
               seed: int) -> dict[str, Any]:
    """The three rankings' metrics on the held-out rows and the gate's verdict, for one contrast and outcome."""
    from training.uplift_train import OUTCOME_MODEL, fit_and_judge

    random_order = np.random.default_rng(seed).permutation(len(outcome)).astype(float)
    started = time.perf_counter()
    result = fit_and_judge(features, treated, outcome, random_order, rounds=rounds, seed=seed)
    return {"held_out": result.held_out, "rankings": result.rankings, "promoted": result.decision.promote,
            "decision": result.decision.reason,
            "model_minus_outcome_model": {k.removeprefix(f"qini_diff_{OUTCOME_MODEL}").lstrip("_") or "estimate": v
                                          for k, v in result.comparisons.items() if OUTCOME_MODEL in k},
            "seconds": round(time.perf_counter() - started, 1)}


def run(frame: pd.DataFrame, rounds: int, seed: int, contrasts: list[str]) -> dict[str, Any]:
    features = customer_features(frame)
    found: dict[str, Any] = {}
    for name in contrasts:
        keep, treated = contrast_rows(frame, CONTRASTS[name])
        for outcome in OUTCOMES:
            y = frame.loc[keep, outcome].to_numpy(float)
            found[f"{name} / {outcome}"] = one_result(features[keep].reset_index(drop=True), treated, y, rounds, seed)
            print(f"{name} / {outcome}: {found[f'{name} / {outcome}']['seconds']} s", file=sys.stderr)
    return found


def _cell(values: dict[str, float], metric: str, digits: int) -> str:
    return f"{values[metric]:.{digits}f} ({values[metric + '_low']:.{digits}f} to {values[metric + '_high']:.{digits}f})"


def table(results: dict[str, Any], rounds: int) -> str:
    """One row per contrast, outcome and ranking; then the gate's paired intervals."""
    lines = ["| contrast | outcome | held-out | ranking | Qini | uplift at 10% | uplift at 30% |",
             "|---|---|---:|---|---:|---:|---:|"]
    for key, result in results.items():
        contrast, outcome = key.split(" / ")
        digits = 4 if outcome == "visit" else 3
        for ranking, label in RANKINGS.items():
            values = result["rankings"][ranking]
            cells = " | ".join(_cell(values, m, digits) for m in METRICS)
            lines.append(f"| {contrast} | {outcome} | {result['held_out']:,} | {label} | {cells} |")
    lines += ["", "| contrast | outcome | Qini, model - outcome model (95% paired interval) | promoted by the gate |",
              "|---|---|---:|---|"]
    for key, result in results.items():
        diff = result["model_minus_outcome_model"]
        lines.append(f"| {' | '.join(key.split(' / '))} | {diff['estimate']:+.4f} ({diff['low']:+.4f} to "
                     f"{diff['high']:+.4f}) | {'yes' if result['promoted'] else 'no'} |")
    lines += ["", f"Intervals: 95% percentile bootstrap over the held-out customers ({rounds} resamples). "
              "Qini in outcome units per customer (visits, dollars); uplift at k% = e-mailed minus not "
              "e-mailed mean outcome among the top k% of the ranking."]
    return "\n".join(lines) + "\n"


def into_readme(readme: str, tables: str) -> str:
    """``readme`` with the tables between its uplift markers (``bench.real_data_results.into_readme``)."""
    from bench.real_data_results import into_readme as between

    return between(readme, tables, UPLIFT_BEGIN, UPLIFT_END)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "hillstrom_uplift.md")
    parser.add_argument("--readme", type=Path, help="also write the table between this file's uplift markers")
    parser.add_argument("--rounds", type=int, default=500, help="bootstrap resamples")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--contrast", action="append", choices=sorted(CONTRASTS), help="only this one (repeatable)")
    args = parser.parse_args()
    started = time.perf_counter()
    results = run(read_hillstrom(args.data.resolve()), args.rounds, args.seed, args.contrast or list(CONTRASTS))
    tables = table(results, args.rounds)
    args.out.write_text(tables, encoding="utf-8")
    args.out.with_suffix(".json").write_text(json.dumps(
        {"seed": args.seed, "bootstrap_rounds": args.rounds, "results": results,
         "seconds": round(time.perf_counter() - started)}, indent=2) + "\n", encoding="utf-8")
    if args.readme:
        args.readme.write_text(into_readme(args.readme.read_text(encoding="utf-8"), tables), encoding="utf-8")
    print(tables)


if __name__ == "__main__":
    main()
