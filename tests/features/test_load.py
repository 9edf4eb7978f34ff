"""features.load: every row read is either kept on the contract or written out with one reason."""

from __future__ import annotations

import csv
import json
import tempfile
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.errors
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from features.contract import AMOUNT, MEMBER_ID, TS, ColumnMapping, read_mapping
from features.load import (
    MISSING_MEMBER_ID,
    NON_NUMERIC_AMOUNT,
    TRANSACTIONS_SCHEMA,
    UNPARSEABLE_TS,
    LoadReport,
    clean_transactions,
    load_transactions,
)

ONLINE_RETAIL = Path("/work/shared/data/online_retail/online_retail.parquet")
ONLINE_RETAIL_MAPPING = Path(__file__).resolve().parents[2] / "mappings" / "online_retail.yaml"
RETAIL_MAPPING = ColumnMapping(
    columns={MEMBER_ID: "CustomerID", TS: "InvoiceDate", AMOUNT: "Total"}, timezone="Europe/London"
)
HEADER = ["CustomerID", "InvoiceDate", "Total", "Note"]
# (CustomerID, InvoiceDate, Total, Note) -> expected reason, None = kept
ROWS: list[tuple[list[str], str | None]] = [
    (["007", "2024-07-01 10:00", "12.50", "leading zeros"], None),
    (["", "2024-07-01 10:00", "1", "empty id"], MISSING_MEMBER_ID),
    (["   ", "2024-07-01 10:00", "1", "blank id"], MISSING_MEMBER_ID),
    (["", "garbage", "abc", "everything wrong: first reason wins"], MISSING_MEMBER_ID),
    (["42", "not a date", "1", "bad date"], UNPARSEABLE_TS),
    (["42", "2024-13-45", "1", "impossible date"], UNPARSEABLE_TS),
    (["42", "now", "1", "clock-relative word"], UNPARSEABLE_TS),
    (["42", "garbage", "abc", "bad date and amount"], UNPARSEABLE_TS),
    (["42", "2024-07-02", "abc", "text amount"], NON_NUMERIC_AMOUNT),
    (["42", "2024-07-02", "", "empty amount"], NON_NUMERIC_AMOUNT),
    (["42", "2024-07-02", "inf", "infinite amount"], NON_NUMERIC_AMOUNT),
    (["42", "2024-07-02", "NaN", "nan amount"], NON_NUMERIC_AMOUNT),
    (["  42 ", "2024-07-03 09:30", "-5.5", "return, padded id"], None),
    (["00123", "2024-07-01T08:00:00", "3", "leading zeros"], None),
]


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def read_rejects(path: str | Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


@pytest.fixture
def retail_csv(tmp_path: Path) -> Path:
    return write_csv(tmp_path / "transactions.csv", HEADER, [cells for cells, _ in ROWS])


def test_counts_by_reason_are_exact(retail_csv: Path, tmp_path: Path) -> None:
    clean, report = load_transactions(retail_csv, RETAIL_MAPPING, rejects_path=tmp_path / "r.csv")

    assert report.rows_read == len(ROWS)
    assert report.rows_kept == 3 == len(clean)
    assert report.rejected_by_reason == {
        MISSING_MEMBER_ID: 3,
        UNPARSEABLE_TS: 4,
        NON_NUMERIC_AMOUNT: 4,
    }
    assert report.rows_rejected == 11
    assert report.source == str(retail_csv)


def test_clean_frame_keeps_ids_as_stripped_strings(retail_csv: Path, tmp_path: Path) -> None:
    clean, _ = load_transactions(retail_csv, RETAIL_MAPPING, rejects_path=tmp_path / "r.csv")

    assert list(clean.columns) == [MEMBER_ID, TS, AMOUNT]
    id_dtype = clean[MEMBER_ID].dtype
    assert isinstance(id_dtype, pd.StringDtype) and id_dtype.na_value is pd.NA  # "string", not str
    assert str(clean[TS].dtype) == "datetime64[us]"
    assert clean[AMOUNT].dtype == "float64"
    assert clean[MEMBER_ID].tolist() == ["00123", "007", "42"]  # sorted as text, zeros kept
    assert clean[AMOUNT].tolist() == [3.0, 12.5, -5.5]  # a return is a valid row
    assert clean.index.tolist() == [0, 1, 2]


def test_rejects_file_holds_rows_as_read_with_position_and_reason(
    retail_csv: Path, tmp_path: Path
) -> None:
    _, report = load_transactions(
        retail_csv, RETAIL_MAPPING, rejects_path=tmp_path / "out" / "r.csv"
    )

    assert report.rejects_path == str(tmp_path / "out" / "r.csv")
    rejects = read_rejects(report.rejects_path)
    expected = [(row, cells, reason) for row, (cells, reason) in enumerate(ROWS) if reason]
    assert list(rejects.columns) == [*HEADER, "_row", "_reason"]
    assert rejects["_row"].astype(int).tolist() == [row for row, _, _ in expected]
    assert rejects["_reason"].tolist() == [reason for _, _, reason in expected]
    assert rejects["InvoiceDate"].tolist() == [cells[1] for _, cells, _ in expected]
    assert rejects["Note"].tolist() == [cells[3] for _, cells, _ in expected]


def test_default_rejects_path_is_under_var_rejects(
    retail_csv: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    _, report = load_transactions(retail_csv, RETAIL_MAPPING)

    assert report.rejects_path == str(Path("var/rejects/transactions.rejects.csv"))
    assert len(read_rejects(tmp_path / report.rejects_path)) == report.rows_rejected


def test_no_rejects_means_no_file(tmp_path: Path) -> None:
    source = write_csv(
        tmp_path / "ok.csv", ["member_id", "ts", "amount"], [["1", "2024-07-01", "1"]]
    )
    _, report = load_transactions(source, rejects_path=tmp_path / "r.csv")

    assert report.rejects_path is None
    assert report.rejected_by_reason == {}
    assert not (tmp_path / "r.csv").exists()


def test_clean_transactions_writes_nothing_without_a_path() -> None:
    raw = pd.DataFrame(
        {"member_id": ["a", None], "ts": ["2024-07-01", "2024-07-01"], "amount": ["1", "2"]}
    )
    clean, report = clean_transactions(raw, ColumnMapping())

    assert report.rows_kept == len(clean) == 1
    assert report.rejected_by_reason == {MISSING_MEMBER_ID: 1}
    assert report.rejects_path is None
    assert report.source == "<frame>"


def test_naive_times_keep_wall_time_and_aware_ones_are_converted(tmp_path: Path) -> None:
    rows = [
        ["a", "2024-07-01 12:00:00"],  # naive: already London time
        ["b", "2024-07-01T12:00:00+00:00"],  # UTC in summer: 13:00 in London
        ["c", "2024-01-15T12:00:00Z"],  # UTC in winter: 12:00 in London
        ["d", "2024-07-01T12:00:00+02:00"],  # another offset in the same column
    ]
    source = write_csv(tmp_path / "tz.csv", ["member_id", "ts"], rows)
    raw = pd.read_csv(source, dtype=str).assign(amount="1")
    clean, report = clean_transactions(raw, ColumnMapping(timezone="Europe/London"))

    assert report.rows_kept == 4
    assert str(clean[TS].dtype) == "datetime64[us]"
    assert clean[TS].tolist() == pd.to_datetime(
        ["2024-07-01 12:00", "2024-07-01 13:00", "2024-01-15 12:00", "2024-07-01 11:00"]
    ).tolist()


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (["2024-07-01T12:00:00+00:00"], "2024-07-01 13:00"),  # uniform zone: fast path
        (pd.to_datetime(["2024-07-01 12:00"]).tz_localize("UTC"), "2024-07-01 13:00"),  # aware
        (pd.to_datetime(["2024-07-01 12:00"]), "2024-07-01 12:00"),  # naive dtype (Parquet)
    ],
)
def test_time_zone_by_input_kind(values, expected: str) -> None:
    raw = pd.DataFrame({"member_id": ["a"], "ts": values, "amount": [1.0]})
    clean, _ = clean_transactions(raw, ColumnMapping(timezone="Europe/London"))

    assert clean[TS].iloc[0] == pd.Timestamp(expected)
    assert clean[TS].dt.tz is None


def test_sort_is_by_member_then_time_and_stable() -> None:
    raw = pd.DataFrame(
        {
            "member_id": ["b", "a", "b", "a", "a"],
            "ts": ["2024-07-02", "2024-07-03", "2024-07-01", "2024-07-01", "2024-07-01"],
            "amount": ["1", "2", "3", "4", "5"],
        }
    )
    clean, _ = clean_transactions(raw, ColumnMapping())

    assert clean[AMOUNT].tolist() == [4.0, 5.0, 2.0, 3.0, 1.0]


def test_optional_columns_come_from_mapping_or_contract_name(tmp_path: Path) -> None:
    rows = [["1", "2024-07-01", "9.5", "2", "o-1", "web", "ignored"]]
    header = ["cust", "ts", "amount", "qty", "order_id", "channel", "country"]
    source = write_csv(tmp_path / "opt.csv", header, rows)
    mapping = ColumnMapping(columns={MEMBER_ID: "cust", "quantity": "qty"})
    clean, _ = load_transactions(source, mapping, rejects_path=tmp_path / "r.csv")

    assert list(clean.columns) == [MEMBER_ID, TS, AMOUNT, "order_id", "quantity", "channel"]
    assert clean["quantity"].dtype == "float64"
    assert clean["order_id"].dtype == "string"
    TRANSACTIONS_SCHEMA.validate(clean)


def test_missing_mapped_column_is_named(retail_csv: Path) -> None:
    mapping = ColumnMapping(columns={MEMBER_ID: "CustID", TS: "InvoiceDate", AMOUNT: "Total"})
    message = r"transactions\.csv: column 'CustID' \(mapped to member_id\) not found"
    with pytest.raises(ValueError, match=message):
        load_transactions(retail_csv, mapping)


def test_missing_optional_mapped_column_is_an_error(retail_csv: Path) -> None:
    mapping = ColumnMapping(columns={**RETAIL_MAPPING.columns, "category": "Dept"})
    with pytest.raises(ValueError, match="'Dept' \\(mapped to category\\)"):
        load_transactions(retail_csv, mapping)


@pytest.mark.parametrize("name", ["transactions.xlsx", "transactions"])
def test_unknown_extension_is_refused(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_text("member_id,ts,amount\n")
    with pytest.raises(ValueError, match="unknown file type"):
        load_transactions(tmp_path / name)


def test_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="nowhere.parquet: file not found"):
        load_transactions(tmp_path / "nowhere.parquet")


def test_report_serialises_and_summarises() -> None:
    reasons = {MISSING_MEMBER_ID: 135_080, UNPARSEABLE_TS: 2}
    report = LoadReport("x.csv", 541_909, 406_827, reasons, "r.csv")

    assert json.loads(json.dumps(report.to_dict()))["rows_rejected"] == 135_082
    assert report.summary() == (
        "read 541,909 rows, kept 406,827, rejected 135,082 "
        "(missing member_id: 135,080, unparseable ts: 2)"
    )
    assert LoadReport("x", 1, 1, {}, None).summary() == "read 1 rows, kept 1, rejected 0"


def test_schema_refuses_what_cleaning_must_remove() -> None:
    good = pd.DataFrame(
        {
            MEMBER_ID: pd.array(["a"], dtype="string"),
            TS: pd.Series(pd.to_datetime(["2024-07-01"])).astype("datetime64[us]"),
            AMOUNT: [1.0],
        }
    )
    TRANSACTIONS_SCHEMA.validate(good)
    bad_frames = (
        good.assign(amount=[np.inf]),
        good.assign(member_id=pd.array([None], dtype="string")),
        good.assign(ts=good[TS].astype("datetime64[ns]")),
        good.assign(extra=[1]),
    )
    for bad in bad_frames:
        with pytest.raises((pandera.errors.SchemaError, pandera.errors.SchemaErrors)):
            TRANSACTIONS_SCHEMA.validate(bad)


# -- property: nothing is lost, whatever the input --------------------------------------------

GOOD_ID = st.from_regex(r"[ ]?[A-Za-z0-9]{1,5}[ ]?", fullmatch=True)
BAD_ID = st.sampled_from([None, "", " ", "\t"])
GOOD_TS = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1)).map(str)
BAD_TS = st.sampled_from([None, "", "garbage", "2024-13-45", "now", "12:00", "may"])
GOOD_AMOUNT = st.floats(allow_nan=False, allow_infinity=False).map(repr)
BAD_AMOUNT = st.sampled_from([None, "", "abc", "nan", "inf", "-inf", "1,5"])


def tagged(good: st.SearchStrategy, bad: st.SearchStrategy) -> st.SearchStrategy:
    return st.one_of(good.map(lambda v: (v, True)), bad.map(lambda v: (v, False)))


ROW = st.tuples(tagged(GOOD_ID, BAD_ID), tagged(GOOD_TS, BAD_TS), tagged(GOOD_AMOUNT, BAD_AMOUNT))
ANY_TEXT = st.one_of(st.none(), st.text(max_size=12))


def expected_reason(row: tuple[tuple[str | None, bool], ...]) -> str | None:
    for (_, ok), reason in zip(row, (MISSING_MEMBER_ID, UNPARSEABLE_TS, NON_NUMERIC_AMOUNT)):
        if not ok:
            return reason
    return None


def clean_with_rejects(raw: pd.DataFrame) -> tuple[pd.DataFrame, LoadReport, pd.DataFrame]:
    with tempfile.TemporaryDirectory() as directory:
        rejects_path = Path(directory) / "r.csv"
        clean, report = clean_transactions(raw, ColumnMapping(), rejects_path=rejects_path)
        if report.rejects_path is None:
            return clean, report, pd.DataFrame({"_row": [], "_reason": []}, dtype=str)
        return clean, report, read_rejects(report.rejects_path)


@settings(max_examples=25, deadline=None)
@given(st.lists(ROW, max_size=15))
def test_every_row_is_kept_or_rejected_once_with_its_first_reason(rows) -> None:
    values = [[value for value, _ in row] for row in rows]
    raw = pd.DataFrame(values, columns=["member_id", "ts", "amount"], dtype=object)
    clean, report, rejects = clean_with_rejects(raw)

    reasons = [expected_reason(row) for row in rows]
    assert report.rows_read == len(rows)
    assert report.rows_read == report.rows_kept + sum(report.rejected_by_reason.values())
    assert rejects["_row"].astype(int).tolist() == [i for i, r in enumerate(reasons) if r]
    assert rejects["_reason"].tolist() == [r for r in reasons if r]
    kept_ids = sorted(row[0][0].strip() for row, r in zip(rows, reasons) if r is None)
    assert sorted(clean[MEMBER_ID].tolist()) == kept_ids


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(ANY_TEXT, ANY_TEXT, ANY_TEXT), max_size=15))
@example(rows=[(None, None, "\r"), ("a\nb", "2024-07-01", "x,y")])  # cells that break naive CSV
def test_random_text_never_loses_a_row(rows) -> None:
    raw = pd.DataFrame(rows, columns=["member_id", "ts", "amount"], dtype=object)
    clean, report, rejects = clean_with_rejects(raw)

    assert report.rows_read == report.rows_kept + sum(report.rejected_by_reason.values())
    assert len(clean) == report.rows_kept
    positions = rejects["_row"].astype(int).tolist()
    assert len(positions) == len(set(positions)) == report.rows_rejected


# -- real data: the published counts of UCI Online Retail --------------------------------------


@pytest.mark.skipif(not ONLINE_RETAIL.exists(), reason="shared Online Retail data not present")
def test_online_retail_matches_published_counts(tmp_path: Path) -> None:
    clean, report = load_transactions(
        ONLINE_RETAIL, read_mapping(ONLINE_RETAIL_MAPPING), rejects_path=tmp_path / "or.rejects.csv"
    )

    assert report.rows_read == 541_909
    assert report.rejected_by_reason == {MISSING_MEMBER_ID: 135_080}
    assert report.rows_kept == 406_829
    assert clean[MEMBER_ID].nunique() == 4_372
    rejects = pd.read_csv(report.rejects_path, usecols=["amount", "_row"])
    assert rejects["_row"].is_unique and len(rejects) == 135_080
    # kept + rejected lines add up to the published sum(Quantity * UnitPrice)
    assert clean[AMOUNT].sum() + rejects["amount"].sum() == pytest.approx(9_747_747.93, abs=0.01)
