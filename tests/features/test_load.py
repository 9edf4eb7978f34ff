"""features.load: every row read is either kept on the contract or written out with one reason."""

from __future__ import annotations

import csv
import json
import re
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
    ABSURD_AMOUNT,
    DUPLICATE_ROW,
    FUTURE_TS,
    MISSING_MEMBER_ID,
    NON_NUMERIC_AMOUNT,
    TRANSACTIONS_SCHEMA,
    UNPARSEABLE_TS,
    LoadReport,
    clean_transactions,
    load_transactions,
)
from tests.conftest import examples

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
    assert list(rejects.columns) == [*HEADER, "_line", "_row", "_reason", "_raw"]
    assert rejects["_line"].astype(int).tolist() == [row + 2 for row, _, _ in expected]  # header is line 1
    assert rejects["_row"].astype(int).tolist() == [row for row, _, _ in expected]
    lines = retail_csv.read_text().splitlines()
    assert rejects["_raw"].tolist() == [lines[row + 1] for row, _, _ in expected]  # every reject, as in the file
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


# -- duplicates, future times, absurd amounts: named reasons, never silent ------------------------

LOAD_TIME = datetime(2024, 7, 10, 12, 0)


def contract_frame(rows: list[tuple[object, ...]], columns: tuple[str, ...] = ("member_id", "ts", "amount")) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=list(columns), dtype=object)


@pytest.mark.parametrize(
    ("duplicates", "kept", "rejected"),
    [("drop", ["a", "a", "b"], {DUPLICATE_ROW: 2}), ("keep", ["a", "a", "a", "a", "b"], {})],
)
def test_exact_duplicates_are_dropped_once_unless_kept(
    duplicates: str, kept: list[str], rejected: dict[str, int], tmp_path: Path
) -> None:
    """Three identical lines keep one; a line differing only in a column we ignore is not a copy."""
    header = ["member_id", "ts", "amount", "note"]
    line = ["a", "2024-07-01 10:00", "5", "x"]
    rows = [line, ["b", "2024-07-01 10:00", "5", "x"], line, [*line[:3], "y"], line]
    source = write_csv(tmp_path / "dups.csv", header, rows)
    mapping = ColumnMapping(duplicates=duplicates)
    clean, report = load_transactions(source, mapping, rejects_path=tmp_path / "r.csv")

    assert clean[MEMBER_ID].tolist() == kept
    assert report.rejected_by_reason == rejected
    if rejected:
        rejects = read_rejects(report.rejects_path)
        assert rejects["_row"].tolist() == ["2", "4"]  # the later copies, not the first
        assert rejects["note"].tolist() == ["x", "x"]


def test_a_duplicate_of_a_rejected_row_keeps_the_first_reason() -> None:
    raw = contract_frame([(None, "2024-07-01", "1"), (None, "2024-07-01", "1"), ("a", "2024-07-01", "1")])
    _, report = clean_transactions(raw, ColumnMapping(), loaded_at=LOAD_TIME)

    assert report.rejected_by_reason == {MISSING_MEMBER_ID: 2}


def test_future_times_are_judged_against_the_load_time_with_a_day_of_slack() -> None:
    raw = contract_frame(
        [
            ("kept", "2024-07-11 11:59:59", "1"),  # 23:59:59 after the load time
            ("kept", "2024-07-11T10:00:00Z", "1"),  # 11:00 in London: still inside the slack
            ("late", "2024-07-11 12:00:01", "1"),
            ("late", "2024-07-11T12:00:00+00:00", "1"),  # 13:00 in London
            ("late", "9999-12-31", "1"),
        ]
    )
    mapping = ColumnMapping(timezone="Europe/London")
    clean, report = clean_transactions(raw, mapping, loaded_at=LOAD_TIME)

    assert clean[MEMBER_ID].tolist() == ["kept", "kept"]
    assert report.rejected_by_reason == {FUTURE_TS: 3}
    # an aware load time is converted to the mapping's zone first: 11:00 UTC is 12:00 in London
    aware = pd.Timestamp("2024-07-10 11:00", tz="UTC").to_pydatetime()
    assert clean_transactions(raw, mapping, loaded_at=aware)[1].rejected_by_reason == {FUTURE_TS: 3}


def test_without_a_load_time_the_clock_decides_what_is_future() -> None:
    now = pd.Timestamp.now(tz="UTC").tz_localize(None)
    stamps = [str(now - pd.Timedelta(days=3)), str(now + pd.Timedelta(days=3))]
    raw = contract_frame([("past", stamps[0], "1"), ("future", stamps[1], "1")])
    clean, report = clean_transactions(raw, ColumnMapping())

    assert clean[MEMBER_ID].tolist() == ["past"]
    assert report.rejected_by_reason == {FUTURE_TS: 1}


@pytest.mark.parametrize(
    ("amount", "reason"),
    [
        ("1e9", None),  # the limit itself is a (large) line total
        ("-1e9", None),
        ("1000000000.01", ABSURD_AMOUNT),
        ("1e300", ABSURD_AMOUNT),
        ("-123456789012345678901234567890", ABSURD_AMOUNT),
        ("1e309", NON_NUMERIC_AMOUNT),  # beyond float range: infinite, like "inf"
        ("nan", NON_NUMERIC_AMOUNT),
    ],
)
def test_absurd_amounts_have_their_own_reason(amount: str, reason: str | None) -> None:
    _, report = clean_transactions(contract_frame([("a", "2024-07-01", amount)]), ColumnMapping(), loaded_at=LOAD_TIME)

    assert report.rejected_by_reason == ({reason: 1} if reason else {})


def test_the_amount_limit_comes_from_the_mapping() -> None:
    raw = contract_frame([("a", "2024-07-01", "2e9"), ("b", "2024-07-01", "2e12")])
    clean, report = clean_transactions(raw, ColumnMapping(max_abs_amount=1e12), loaded_at=LOAD_TIME)

    assert clean[AMOUNT].tolist() == [2e9]
    assert report.rejected_by_reason == {ABSURD_AMOUNT: 1}


def test_parquet_numbers_and_times_get_the_same_reasons(tmp_path: Path) -> None:
    """Typed columns skip the text parsing but not the rules: inf, NaN, 1e300, a future time."""
    frame = pd.DataFrame(
        {
            "member_id": ["007", "b", "c", "d", "e", "007"],
            "ts": pd.to_datetime(["2024-07-01", "2024-07-01", "2024-07-01", "2024-07-01", "2030-01-01", "2024-07-01"]),
            "amount": [1.5, np.inf, np.nan, 1e300, 2.0, 1.5],
        }
    )
    frame.to_parquet(tmp_path / "tx.parquet")
    clean, report = load_transactions(
        tmp_path / "tx.parquet", rejects_path=tmp_path / "r.csv", loaded_at=LOAD_TIME
    )

    assert clean[MEMBER_ID].tolist() == ["007"]
    assert report.rejected_by_reason == {
        FUTURE_TS: 1, NON_NUMERIC_AMOUNT: 2, ABSURD_AMOUNT: 1, DUPLICATE_ROW: 1
    }
    assert read_rejects(report.rejects_path)["_reason"].tolist() == [
        NON_NUMERIC_AMOUNT, NON_NUMERIC_AMOUNT, ABSURD_AMOUNT, FUTURE_TS, DUPLICATE_ROW
    ]


def test_a_corrupt_parquet_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "bad.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(ValueError, match=r"bad\.parquet: unreadable"):
        load_transactions(tmp_path / "bad.parquet")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("duplicates: maybe\n", "duplicates"),
        ("encoding: klingon\n", "unknown text encoding 'klingon'"),
        ("encoding: base64\n", "unknown text encoding 'base64'"),
        ("max_abs_amount: 0\n", "max_abs_amount: Input should be greater than 0"),
        ("max_abs_amount: .inf\n", "max_abs_amount"),
        ("columns: {member_id: [unclosed\n", "not a readable YAML file"),
    ],
)
def test_bad_mapping_options_are_named(text: str, message: str, tmp_path: Path) -> None:
    (tmp_path / "m.yaml").write_text(text)
    with pytest.raises(ValueError, match=re.escape(message)):
        read_mapping(tmp_path / "m.yaml")


def test_a_missing_mapping_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"mapping .*nowhere\.yaml: file not found"):
        read_mapping(tmp_path / "nowhere.yaml")


def test_load_options_default_to_drop_duplicates_utf8_and_a_billion() -> None:
    mapping = read_mapping(None)

    assert (mapping.duplicates, mapping.encoding, mapping.max_abs_amount) == ("drop", "utf-8", 1e9)


# -- property: nothing is lost, whatever the input --------------------------------------------

LOADED_AT = datetime(2026, 1, 1)  # a fixed load time: "future ts" is judged against it
GOOD_ID = st.from_regex(r"[ ]?[A-Za-z0-9]{1,5}[ ]?", fullmatch=True)
BAD_ID = st.sampled_from([None, "", " ", "\t"]).map(lambda v: (v, MISSING_MEMBER_ID))
GOOD_TS = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2025, 12, 31)).map(str)
BAD_TS = st.one_of(
    st.sampled_from([None, "", "garbage", "2024-13-45", "now", "12:00", "may"]).map(
        lambda v: (v, UNPARSEABLE_TS)
    ),
    st.datetimes(min_value=datetime(2026, 1, 2, 0, 0, 1), max_value=datetime(2100, 1, 1)).map(
        lambda v: (str(v), FUTURE_TS)
    ),
)
GOOD_AMOUNT = st.floats(min_value=-1e9, max_value=1e9).map(repr)
BAD_AMOUNT = st.one_of(
    st.sampled_from([None, "", "abc", "nan", "inf", "-inf", "1,5"]).map(
        lambda v: (v, NON_NUMERIC_AMOUNT)
    ),
    st.floats(min_value=1e9, exclude_min=True, allow_infinity=False).map(
        lambda v: (repr(v), ABSURD_AMOUNT)
    ),
    st.integers(min_value=10**10, max_value=10**300)
    .flatmap(lambda v: st.sampled_from([str(v), f"-{v}"]))
    .map(lambda v: (v, ABSURD_AMOUNT)),
)


def tagged(good: st.SearchStrategy, bad: st.SearchStrategy) -> st.SearchStrategy:
    """(value, reason) pairs: reason None for a good value."""
    return st.one_of(good.map(lambda v: (v, None)), bad)


ROW = st.tuples(tagged(GOOD_ID, BAD_ID), tagged(GOOD_TS, BAD_TS), tagged(GOOD_AMOUNT, BAD_AMOUNT))
ANY_TEXT = st.one_of(st.none(), st.text(max_size=12))


def expected_reasons(rows: list[tuple[tuple[str | None, str | None], ...]]) -> list[str | None]:
    """The first bad column's reason; an otherwise kept row seen before is a duplicate."""
    reasons: list[str | None] = []
    for position, row in enumerate(rows):
        first_bad = next((reason for _, reason in row if reason), None)
        seen = [value for value, _ in row] in [[v for v, _ in rows[i]] for i in range(position)]
        reasons.append(first_bad or (DUPLICATE_ROW if seen else None))
    return reasons


def clean_with_rejects(raw: pd.DataFrame) -> tuple[pd.DataFrame, LoadReport, pd.DataFrame]:
    with tempfile.TemporaryDirectory() as directory:
        rejects_path = Path(directory) / "r.csv"
        clean, report = clean_transactions(
            raw, ColumnMapping(), rejects_path=rejects_path, loaded_at=LOADED_AT
        )
        if report.rejects_path is None:
            return clean, report, pd.DataFrame({"_row": [], "_reason": []}, dtype=str)
        return clean, report, read_rejects(report.rejects_path)


@settings(max_examples=examples(25), deadline=None, derandomize=True)
@given(st.lists(ROW, max_size=15))
def test_every_row_is_kept_or_rejected_once_with_its_first_reason(rows) -> None:
    values = [[value for value, _ in row] for row in rows]
    raw = pd.DataFrame(values, columns=["member_id", "ts", "amount"], dtype=object)
    clean, report, rejects = clean_with_rejects(raw)

    reasons = expected_reasons(rows)
    assert report.rows_read == len(rows)
    assert report.rows_read == report.rows_kept + sum(report.rejected_by_reason.values())
    assert rejects["_row"].astype(int).tolist() == [i for i, r in enumerate(reasons) if r]
    assert rejects["_reason"].tolist() == [r for r in reasons if r]
    kept_ids = sorted(row[0][0].strip() for row, r in zip(rows, reasons) if r is None)
    assert sorted(clean[MEMBER_ID].tolist()) == kept_ids


@settings(max_examples=examples(25), deadline=None, derandomize=True)
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


@pytest.mark.slow
@pytest.mark.skipif(not ONLINE_RETAIL.exists(), reason="shared Online Retail data not present")
def test_online_retail_matches_published_counts(tmp_path: Path) -> None:
    clean, report = load_transactions(
        ONLINE_RETAIL, read_mapping(ONLINE_RETAIL_MAPPING), rejects_path=tmp_path / "or.rejects.csv"
    )

    assert report.rows_read == 541_909
    # 406,829 lines carry a customer id; 5,225 of them repeat an earlier line exactly, leaving
    # the 401,604 lines that analyses of this dataset report after dropping duplicates
    assert report.rejected_by_reason == {MISSING_MEMBER_ID: 135_080, DUPLICATE_ROW: 5_225}
    assert report.rows_kept == 401_604
    assert clean[MEMBER_ID].nunique() == 4_372
    rejects = pd.read_csv(report.rejects_path, usecols=["amount", "_row"])
    assert rejects["_row"].is_unique and len(rejects) == 135_080 + 5_225
    # kept + rejected lines add up to the published sum(Quantity * UnitPrice)
    assert clean[AMOUNT].sum() + rejects["amount"].sum() == pytest.approx(9_747_747.93, abs=0.01)
