"""``memberscore tiers``: a tier programme replayed over the purchase history (``replay``).

The programme is ``--programme``, else ``MEMBERSCORE_TIER_PROGRAMME``, else the shipped
department-store example (``features/tier_programme.yaml``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cli.options import MappingOption, Progress, TransactionsOption, command_settings, one_line_errors

if TYPE_CHECKING:
    import pandas as pd

    from features.i18n import Translator
    from features.tier_programme import TierProgramme
    from features.tier_spend import QualifyingDays

app = typer.Typer(help="Tier programmes: cards, 保级 and AA replayed over the history.", no_args_is_help=True)


@app.command()
@one_line_errors
def replay(
    transactions: TransactionsOption,
    mapping: MappingOption = None,
    programme: Annotated[Path | None, typer.Option(
        help="tier programme YAML (default: MEMBERSCORE_TIER_PROGRAMME, else the shipped example)")] = None,
    freq: Annotated[str, typer.Option(help="month or week: the periods of the migration matrix")] = "month",
    out: Annotated[Path | None, typer.Option(help="write every period's migration to a .csv or .json file")] = None,
    lang: Annotated[str | None, typer.Option(help="language of the summary: en (default) or zh-CN")] = None,
) -> None:
    """Replay the programme month by month (or week by week) and print the tier migration.

    Prints members moving up, down, staying and joining per period, then the last period's
    from -> to matrix. Codes stay codes in the file; the summary names tiers in ``--lang``.
    """
    from cli.data import load_for_command
    from features.i18n import translator
    from features.tier_migration import FREQS, tier_migration
    from features.tier_programme import read_programme
    from features.tier_spend import qualifying_days

    speak = translator(lang)
    if freq not in FREQS:
        raise ValueError(f"--freq {freq!r}: use one of {', '.join(FREQS)}")
    if out is not None and out.suffix not in (".csv", ".json"):
        raise ValueError(f"--out {out}: expected a .csv or .json file")
    chosen = read_programme(programme or command_settings().tier_programme)
    frame, _ = load_for_command(transactions, mapping, None, Progress())
    migration = tier_migration(frame, chosen, freq)  # type: ignore[arg-type]  # checked against FREQS above
    typer.echo(_exclusions_line(qualifying_days(frame, chosen), chosen, speak))
    for line in _summary_lines(migration, chosen, speak):
        typer.echo(line)
    if out is not None:
        _write(migration, chosen, freq, out, speak.language)
        typer.echo(speak.gettext("migration written to {path}").format(path=out))


def _exclusions_line(qualifying: QualifyingDays, programme: TierProgramme, speak: Translator) -> str:
    """The programme's name and what its exclusions removed (or could not apply: no such column)."""
    removed = sum(qualifying.excluded.values())
    text = speak.ngettext("programme {name}: {count} line excluded", "programme {name}: {count} lines excluded",
                          removed).format(name=programme.name, count=speak.number(removed))
    for rule in qualifying.not_applied:
        text += "; " + speak.gettext("exclusion {rule} not applied (the data has no column for it)").format(rule=rule)
    return text


def _summary_lines(migration: pd.DataFrame, programme: TierProgramme, speak: Translator) -> list[str]:
    """One line per period, then the last period's matrix with tier names."""
    from features.tier_migration import migration_matrix, period_summary
    from features.tier_programme import tier_labels

    lines = [speak.gettext("{start} to {end}: {members} members, {up} up, {down} down, {same} same, {new} new").format(
        start=row.period_start, end=row.period_end, **{k: speak.number(getattr(row, k))
                                                       for k in ("members", "up", "down", "same", "new")})
        for row in period_summary(migration, programme).itertuples()]
    if migration.empty:
        return lines
    last = str(migration["period_start"].iloc[-1])
    labels = tier_labels(programme, speak.language)
    matrix = migration_matrix(migration, last, programme).rename(index=labels, columns=labels)
    lines.append(speak.gettext("from (rows) -> to (columns), {start}:").format(start=last))
    lines.append(matrix.rename_axis(index=None, columns=None).to_string())
    return lines


def _write(migration: pd.DataFrame, programme: TierProgramme, freq: str, out: Path, language: str) -> None:
    """CSV: one row per period and (from, to) cell, spreadsheet-safe, codes only. JSON: per period, counts and
    the matrix, with the tier names in ``language``."""
    from features.spreadsheet import write_csv_safely

    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".csv":
        write_csv_safely(migration, out)
        return
    answer = _as_json(migration, programme, freq, language)
    out.write_text(json.dumps(answer, ensure_ascii=False, indent=2), encoding="utf-8")


def _as_json(migration: pd.DataFrame, programme: TierProgramme, freq: str, language: str) -> dict[str, Any]:
    """Codes throughout; ``labels`` names each code in ``language`` (the ``_label`` rule, as a block)."""
    from features.tier_migration import migration_matrix, period_summary
    from features.tier_programme import tier_labels

    periods = []
    for row in period_summary(migration, programme).to_dict(orient="records"):
        matrix = migration_matrix(migration, str(row["period_start"]), programme)
        periods.append({**row, "matrix": {source: {target: int(n) for target, n in cells.items() if n}
                                          for source, cells in matrix.iterrows() if cells.any()}})
    return {"programme": programme.name, "freq": freq, "tiers": list(programme.codes),
            "labels": tier_labels(programme, language), "periods": periods}
