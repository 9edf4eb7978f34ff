"""What memberscore says about The Complete Journey's targeted campaigns (no holdout: observational).

For each campaign: its recipients against every other household that had bought before it
started, over the campaign's own dates, with ``campaigns.observational.measure_observational``.
Writes bench/results_complete_journey_campaigns.md. Usage (from the repo root):

    .venv/bin/python -m bench.complete_journey_campaigns --data ../shared/data
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import pandas as pd

from campaigns.observational import measure_observational, with_untargeted

REPO = Path(__file__).resolve().parents[1]
COST_PER_CONTACT = 0.0  # unknown for these campaigns: no ROI, the effect on spend only
MARGIN_RATE = 0.3


def load(data: Path) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    folder = data / "complete_journey"
    lines = pd.read_parquet(folder / "transactions.parquet", columns=["customer_id", "ts", "amount"])
    transactions = lines.rename(columns={"customer_id": "member_id"})
    return transactions, pd.read_parquet(folder / "campaign_descriptions.parquet"), pd.read_parquet(
        folder / "campaigns.parquet").rename(columns={"customer_id": "member_id"})


def one_campaign(description: pd.Series, recipients: pd.DataFrame, transactions: pd.DataFrame) -> dict[str, Any]:
    start = description["start_date"].date()
    days = int((description["end_date"] - description["start_date"]).days) + 1
    members = with_untargeted(recipients[["member_id"]].drop_duplicates(), transactions, start)
    answer = measure_observational(members, transactions, start, days, COST_PER_CONTACT, MARGIN_RATE)
    return {"campaign": description["campaign_id"], "type": description["campaign_type"], "start": start.isoformat(),
            "days": days, **answer}


def row(result: dict[str, Any]) -> str:
    members = result["members"]
    figure = result["incremental_spend_per_member"]
    said = (f"{figure['estimate']:+.2f} ({figure['ci_low']:+.2f} to {figure['ci_high']:+.2f})" if figure
            else f"not identified: {result['reason']}")
    placebo = result.get("placebo", {}).get("estimate")
    placebo_text = f"{placebo['estimate']:+.2f} ({placebo['ci_low']:+.2f} to {placebo['ci_high']:+.2f})" if placebo else "-"
    naive = result.get("naive_difference_not_an_effect")
    return (f"| {result['campaign']} | {result['type']} | {result['start']} | {result['days']} | {members['treatment']:,} | "
            f"{members['control']:,} | {'-' if naive is None else f'{naive:+.2f}'} | {placebo_text} | "
            f"{result.get('max_abs_smd_after', '-')} | {said} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results_complete_journey_campaigns.md")
    args = parser.parse_args()
    started = time.perf_counter()
    transactions, descriptions, receipts = load(args.data)
    results = [one_campaign(d, receipts[receipts["campaign_id"] == d["campaign_id"]], transactions)
               for _, d in descriptions.sort_values("start_date").iterrows()]
    identified = sum(r["verdict"] == "identified" for r in results)
    lines = ["# The Complete Journey: what its targeted campaigns brought (observational)", "",
             "`python -m bench.complete_journey_campaigns` "
             f"({time.perf_counter() - started:.0f} s). Recipients against every other household that bought before "
             "the start, over the campaign's own dates; spend per household in dollars. Naive: the plain difference "
             "(selection included, not an effect). Placebo: the same doubly robust estimate one window earlier, "
             "before anything was sent; its interval must cover zero. Max |SMD|: the worst covariate after weighting "
             f"(must be <= 0.1). {identified} of {len(results)} campaigns identified.", "",
             "| campaign | type | start | days | targeted | others | naive | placebo | max abs SMD | effect per targeted household |",
             "|---|---|---|---|---|---|---|---|---|---|", *[row(r) for r in results], ""]
    args.out.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
