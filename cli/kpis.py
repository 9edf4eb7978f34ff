"""``memberscore kpis``: membership KPIs per month or week, and the alerts their thresholds raise.

Also what ``snapshot`` and ``train`` call to store the KPIs beside the snapshot for the service.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cli.options import (
    LangOption,
    MappingOption,
    Progress,
    RejectsOption,
    TransactionsOption,
    command_settings,
    one_line_errors,
)

if TYPE_CHECKING:
    import pandas as pd

    from features.i18n import Translator
    from features.settings import Settings

SHOWN_PERIODS = 6
SHOWN_KPIS = ("active_members", "new_members", "repurchase_rate", "churn_rate", "average_order_value")


@one_line_errors
def kpis(
    transactions: TransactionsOption,
    mapping: MappingOption = None,
    freq: Annotated[str, typer.Option(help="period: month (calendar months) or week (Monday to Sunday)")] = "month",
    by: Annotated[str | None, typer.Option(help="split by tier, store (home store) or lifecycle_stage, "
                                                "as members were at each period's start")] = None,
    out: Annotated[Path | None, typer.Option(help="write the table (or, with --alerts, the alerts) to .csv or .json")] = None,
    alerts: Annotated[bool, typer.Option("--alerts", help="list the breaches of the KPI thresholds instead")] = False,
    rules: Annotated[Path | None, typer.Option(help="KPI thresholds YAML over the packaged kpi_rules.yaml "
                                                    "(default: MEMBERSCORE_KPI_RULES)")] = None,
    rejects: RejectsOption = None,
    lang: LangOption = None,
) -> None:
    """Active and new members, repurchase rate and spend share, churn rate, average order value, frequency,
    category penetration and tier migration, per complete month or week (each from rows before its end).

    Prints the last periods; ``--out`` writes every period. ``--alerts`` checks them against the
    thresholds (churn up more than 2 points on last year, ...) and lists the breaches, newest first.
    Summaries and KPI names are in --lang (default English).
    """
    from cli.data import load_for_command
    from features.i18n import translator
    from features.kpis import parse_by, parse_freq

    words = translator(lang)
    settings = command_settings()
    chosen_freq = parse_freq(freq)
    if out is not None and out.suffix not in (".csv", ".json"):
        raise ValueError(f"--out {out}: expected a .csv or .json file")
    threshold_rules = _kpi_rules(rules, settings) if alerts else None  # a bad rules file fails before loading
    progress = Progress()
    frame, _ = load_for_command(transactions, mapping, rejects, progress)
    split = parse_by(by, frame.columns)
    table = _table(frame, chosen_freq, split, settings, progress)
    if threshold_rules is not None:
        from features.kpi_alerts import find_alerts

        found = find_alerts(table, chosen_freq, threshold_rules)
        _write(found, out, {"freq": chosen_freq, "by": split})
        typer.echo(alert_summary(found, len(table), words))
        return
    _write(table, out, {"freq": chosen_freq, "by": split})
    typer.echo(table_summary(table, chosen_freq, split, out, words))


def _kpi_rules(path: Path | None, settings: Settings) -> Any:
    from features.kpi_rules import read_kpi_rules

    return read_kpi_rules(path or settings.kpi_rules)


def _table(frame: pd.DataFrame, freq: Any, by: Any, settings: Settings, progress: Progress) -> pd.DataFrame:
    from features.kpis import kpi_table
    from features.segment_rules import read_segment_rules

    progress(f"KPIs per {freq}" + (f" by {by}" if by else ""))
    table = kpi_table(frame, freq, by, read_segment_rules(settings.segment_rules))
    if table.empty:
        raise ValueError(f"no complete {freq} in the data (it ends {frame['ts'].max():%Y-%m-%d}): nothing to report")
    return table


def _write(table: pd.DataFrame, out: Path | None, header: dict[str, Any]) -> None:
    """CSV through the spreadsheet-safe writer (UTF-8 with BOM opens in Excel), or JSON records."""
    if out is None:
        return
    from features.kpi_store import as_records

    if out.suffix == ".csv":
        from features.spreadsheet import write_csv_safely

        write_csv_safely(table, out, index=False, encoding="utf-8-sig")
    else:
        out.write_text(json.dumps({**header, "rows": as_records(table)}, ensure_ascii=False, indent=1), encoding="utf-8")


def table_summary(table: pd.DataFrame, freq: str, by: str | None, out: Path | None, words: Translator) -> str:
    """The last periods' headline KPIs (all groups with ``by``), and where the full table went."""
    starts = sorted(set(table["period_start"]))
    shown = table[table["period_start"].isin(starts[-SHOWN_PERIODS:])]
    keys = ["period_start", *([by] if by else [])]
    lines = [words.ngettext("{count} complete month", "{count} complete months", len(starts)).format(count=len(starts))
             if freq == "month" else
             words.ngettext("{count} complete week", "{count} complete weeks", len(starts)).format(count=len(starts))]
    lines.append("  ".join(f"{c:>20}" for c in [*keys, *SHOWN_KPIS]))
    for row in shown[[*keys, *SHOWN_KPIS]].itertuples(index=False):
        lines.append("  ".join(f"{_cell(v):>20}" for v in row))
    if out is not None:
        lines.append(words.gettext("every period written to {path}").format(path=out))
    return "\n".join(lines)


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "-" if value != value else f"{value:,.3f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def alert_summary(alerts: pd.DataFrame, rows: int, words: Translator) -> str:
    """One line per breach, newest first, or that none was found."""
    if alerts.empty:
        return words.gettext("no alert: every KPI is within its thresholds ({count} rows checked)").format(count=rows)
    lines = [words.ngettext("{count} alert", "{count} alerts", len(alerts)).format(count=len(alerts))]
    for alert in alerts.to_dict("records"):
        lines.append(describe_alert({str(key): value for key, value in alert.items()}, words))
    return "\n".join(lines)


def describe_alert(alert: dict[str, Any], words: Translator) -> str:
    """``2024-03-01 all: churn rate 12.1% against 10.0% in 2023-03-01 (+2.1 points, threshold 2)``."""
    from features.value_names import kpi_name

    points = alert["unit"] == "points"
    value, reference = ((words.percent(alert[k]) if points else words.number(alert[k], 2)) for k in ("value", "reference"))
    change = (words.gettext("{change} points") if points else words.gettext("{change}%")).format(
        change=f"{alert['change']:+.1f}")
    return words.gettext("{period} {group}: {kpi} {value} against {reference} in {reference_period} "
                         "({change}, threshold {threshold})").format(
        period=alert["period_start"], group=alert["group"], kpi=kpi_name(alert["kpi"], words),
        value=value, reference=reference, reference_period=alert["reference_start"], change=change,
        threshold=f"{alert['threshold']:g}")


def store_kpis(frame: pd.DataFrame, as_of: date, directory: Path, settings: Settings, progress: Progress) -> None:
    """Compute the KPIs as of ``as_of`` and write them beside the snapshot; a failure warns, never undoes it.

    Skipped with ``MEMBERSCORE_KPIS_WITH_SNAPSHOT=false`` (the test suite's default: seconds per snapshot).
    """
    from features.kpi_store import build_kpi_document, write_kpis
    from features.segment_rules import read_segment_rules

    if not settings.kpis_with_snapshot:
        return
    try:
        path = write_kpis(build_kpi_document(frame, as_of, read_segment_rules(settings.segment_rules)), directory)
    except (ValueError, OSError) as error:
        typer.echo(f"warning: KPIs not stored with the snapshot: {error}".splitlines()[0], err=True)
        return
    progress(f"KPIs stored beside the snapshot: {path}")
