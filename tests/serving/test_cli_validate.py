"""``memberscore validate``: load and check a transactions file without training.

The report goes to stdout as JSON (progress lines go to stderr); exit 0 when some rows are
usable, exit 2 with one ``error:`` line when none are or the file cannot be used.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner, Result

from cli.main import app

runner = CliRunner()
HEADER = "member_id,ts,amount,order_id\n"
ROWS = (
    "007,2024-07-01 10:00,12.50,o1\n"
    "007,2024-07-01 10:00,12.50,o1\n"  # an exact copy: dropped by default
    ",2024-07-02 10:00,3,o2\n"
    "8,2099-01-01,3,o3\n"
    "9,2024-07-03,1e300,o4\n"
    "10,2024-07-03\n"
    "11,2024-07-04,-4,o5\n"
)


@pytest.fixture(autouse=True)
def in_tmp_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Default outputs (var/rejects, an MLflow store if anything made one) land in tmp_path."""
    monkeypatch.chdir(tmp_path)


def validate(*args: str | Path) -> Result:
    return runner.invoke(app, ["validate", *map(str, args)])


def one_error_line(result: Result, *needles: str) -> str:
    assert result.exit_code == 2, (result.exit_code, result.output)
    assert "Traceback" not in result.output
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and result.stderr.rstrip().endswith(errors[0]), result.stderr
    assert result.stdout == ""  # no half report
    for needle in needles:
        assert needle in errors[0], (needle, errors[0])
    return errors[0]


def test_prints_the_load_report_as_json_and_writes_the_rejects(tmp_path: Path) -> None:
    source = tmp_path / "tx.csv"
    source.write_text(HEADER + ROWS)
    result = validate("--transactions", source, "--rejects", tmp_path / "rejects.csv")

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["rows_read"], report["rows_kept"], report["rows_rejected"]) == (7, 2, 5)
    assert report["rejected_by_reason"] == {
        "malformed line": 1,
        "missing member_id": 1,
        "future ts": 1,
        "absurd amount": 1,
        "duplicate row": 1,
    }
    assert report["rejects_path"] == str(tmp_path / "rejects.csv")
    rejects = pd.read_csv(tmp_path / "rejects.csv", dtype=str, keep_default_na=False)
    assert rejects["_row"].tolist() == ["1", "2", "3", "4", "5"]
    assert "kept 2" in result.stderr  # the human summary stays off stdout
    assert sorted(path.name for path in tmp_path.iterdir()) == ["rejects.csv", "tx.csv"]  # nothing trained


def test_the_mapping_decides_about_duplicates(tmp_path: Path) -> None:
    source = tmp_path / "tx.csv"
    source.write_text(HEADER + ROWS)
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text("duplicates: keep\n")
    result = validate("--transactions", source, "--mapping", mapping, "--rejects", tmp_path / "r.csv")

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["rows_kept"] == 3 and "duplicate row" not in report["rejected_by_reason"]


def test_a_file_with_no_usable_rows_exits_2(tmp_path: Path) -> None:
    source = tmp_path / "tx.csv"
    source.write_text(HEADER + ",2024-07-02,3,o2\n")
    one_error_line(validate("--transactions", source, "--rejects", tmp_path / "r.csv"), "no usable rows", "rejected 1")
    assert (tmp_path / "r.csv").exists()  # the reason is on disk even when the load is refused


def test_a_header_only_file_exits_2(tmp_path: Path) -> None:
    source = tmp_path / "tx.csv"
    source.write_text(HEADER)
    one_error_line(validate("--transactions", source), "no usable rows", "read 0 rows")


def test_a_missing_column_is_named(tmp_path: Path) -> None:
    source = tmp_path / "tx.csv"
    source.write_text("member_id,when,amount\n1,2024-07-01,5\n")
    one_error_line(validate("--transactions", source), "'ts'", "not found")


def test_an_unreadable_file_is_named(tmp_path: Path) -> None:
    source = tmp_path / "tx.csv"
    source.write_bytes((HEADER + ROWS).encode("utf-16-le"))  # no byte-order mark
    one_error_line(validate("--transactions", source), str(source), "encoding")
    one_error_line(validate("--transactions", tmp_path / "nowhere.csv"), "nowhere.csv", "not found")


def test_a_bad_mapping_option_is_named(tmp_path: Path) -> None:
    source = tmp_path / "tx.csv"
    source.write_text(HEADER + ROWS)
    mapping = tmp_path / "mapping.yaml"
    mapping.write_text("duplicates: sometimes\n")
    one_error_line(validate("--transactions", source, "--mapping", mapping), "duplicates")


def test_the_report_says_how_the_file_was_read_and_what_to_set(tmp_path: Path) -> None:
    """A European file: ";" detected, day-first inferred, decimal commas rejected with a hint."""
    source = tmp_path / "tx.csv"
    source.write_text("member_id;ts;amount\n007;13/02/2024;12,50\n008;01/03/2024;3\n")
    result = validate("--transactions", source, "--rejects", tmp_path / "r.csv")

    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["delimiter"] == '";" (detected)'
    assert report["ts_reading"] == "day-first (inferred from 13/02/2024)"
    assert report["hints"] == ['amounts like "12,50" look like decimal commas: set decimal: "," in the mapping']
    assert 'set decimal: ","' in result.stderr
    rejects = pd.read_csv(tmp_path / "r.csv", dtype=str, keep_default_na=False)
    assert rejects[["_line", "_raw"]].values.tolist() == [["2", "007;13/02/2024;12,50"]]


def test_dates_written_two_ways_exit_2_naming_the_option(tmp_path: Path) -> None:
    source = tmp_path / "tx.csv"
    source.write_text("member_id,ts,amount\na,13/02/2024,5\nb,02/13/2024,5\n")
    one_error_line(validate("--transactions", source), "'ts'", '"13/02/2024"', '"02/13/2024"', "dayfirst", "ts_format")
