"""Membership KPIs month by month on a real dataset, with the alerts of the packaged thresholds.

Computes what ``memberscore kpis --freq month`` computes (features.kpis) on The Complete Journey
(grocery baskets with departments and stores; ../shared/data/complete_journey) and writes the table
to bench/results_kpis.md and, with ``--readme``, between README.md's ``kpis`` markers. ``--members N``
also times the same computation on N simulated members (two years of purchases). Usage:

    .venv/bin/python bench/kpi_table.py --readme README.md [--members 1000000]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

from features.contract import read_mapping
from features.kpi_alerts import find_alerts
from features.kpi_rules import read_kpi_rules
from features.kpis import kpi_table
from features.load import load_transactions

REPO = Path(__file__).resolve().parents[1]
BEGIN, END = "<!-- kpis:begin -->", "<!-- kpis:end -->"
SHOWN = (("active_members", "active", "{:,}"), ("new_members", "new", "{:,}"), ("repurchase_rate", "回购率", "{:.1%}"),
         ("repurchase_spend_share", "回购金额占比", "{:.1%}"), ("churn_rate", "流失率", "{:.1%}"),
         ("average_order_value", "客单价", "{:.2f}"), ("purchase_frequency", "frequency", "{:.2f}"),
         ("categories_per_member", "categories", "{:.2f}"), ("multi_category_share", "3+ categories", "{:.1%}"),
         ("tier_up_share", "tier up", "{:.1%}"), ("tier_down_share", "tier down", "{:.1%}"))


def markdown(kpis: pd.DataFrame, alerts: pd.DataFrame, seconds: float, source: str) -> str:
    """The table, one row per month, and the alerts found (the same month last year is outside one year of data)."""
    lines = [f"Monthly KPIs of {source} (`memberscore kpis --freq month`; {seconds:.1f} s on the shared 2-core machine):",
             "", "| month | " + " | ".join(label for _, label, _ in SHOWN) + " |",
             "|---|" + "---:|" * len(SHOWN)]
    for row in kpis.to_dict("records"):
        cells = ["–" if pd.isna(row[c]) else form.format(row[c]) for c, _, form in SHOWN]
        lines.append(f"| {row['period_start']:%Y-%m} | " + " | ".join(cells) + " |")
    lines.append("")
    if alerts.empty:
        lines.append("Alerts (packaged `kpi_rules.yaml`): none.")
    else:
        lines.append("Alerts (packaged `kpi_rules.yaml`):")
        lines += [f"- {a['period_start']:%Y-%m} {a['kpi']}: {a['value']:.4g} against {a['reference']:.4g} in "
                  f"{a['reference_start']:%Y-%m} ({a['change']:+.1f} {a['unit']}, threshold {a['threshold']:g})"
                  for a in alerts.to_dict("records")]
    return "\n".join(lines) + "\n"


def simulated(members: int, seed: int = 0) -> pd.DataFrame:
    """Two years of purchases, four per member on average, in eight categories (timing only)."""
    rng = np.random.default_rng(seed)
    n = 4 * members
    return pd.DataFrame({
        "member_id": pd.Series(rng.integers(0, members, n).astype(str), dtype="string"),
        "ts": (pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 730 * 86400, n), unit="s")).astype("datetime64[us]"),
        "amount": rng.gamma(2.0, 50.0, n).round(2),
        "category": pd.Series(rng.choice(list("abcdefgh"), n), dtype="string"),
    })


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results_kpis.md")
    parser.add_argument("--readme", type=Path, help="also write the table between this file's kpis markers")
    parser.add_argument("--members", type=int, help="also time the KPIs on this many simulated members")
    args = parser.parse_args()
    transactions, _ = load_transactions(args.data / "complete_journey" / "transactions.parquet",
                                        read_mapping(REPO / "mappings" / "complete_journey.yaml"))
    started = time.perf_counter()
    kpis = kpi_table(transactions, "month")
    seconds = time.perf_counter() - started
    text = markdown(kpis, find_alerts(kpis, "month", read_kpi_rules()), seconds,
                    f"The Complete Journey ({transactions['member_id'].nunique():,} households, {len(transactions):,} lines)")
    if args.members:
        started = time.perf_counter()
        timed = kpi_table(simulated(args.members), "month")
        text += (f"\nAt scale: {args.members:,} simulated members, {4 * args.members:,} lines, {len(timed)} months: "
                 f"{time.perf_counter() - started:.0f} s on the same shared machine.\n")
    args.out.write_text(text, encoding="utf-8")
    if args.readme:
        readme = args.readme.read_text(encoding="utf-8")
        start, end = readme.index(BEGIN) + len(BEGIN), readme.index(END)
        args.readme.write_text(f"{readme[:start]}\n{text}{readme[end:]}", encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
