"""Whole target lists: JSON pages joined by cursors, and CSV streamed in chunks (serving.targets, list_cursor).

Hand-built frames give exact rows; a synthetic 100,000-member snapshot (no training) shows the
whole list streams with every eligible member exactly once.
"""

from __future__ import annotations

import csv
import io
import time
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb

from features.snapshot import Snapshot
from serving import targets
from serving.artefacts import LoadedSnapshot
from serving.list_cursor import ListChanged, encode_cursor
from serving.pseudonym import pseudonym
from serving.schemas import MAX_TARGETS, TargetsRequest
from serving.targets import CSV_COLUMNS, ranked_targets, targets_csv, targets_csv_export, targets_response
from tests.serving.test_targets import FILTERED, assert_csv_matches, loaded_snapshot, members

# seven lapsing members, scores 0.5 x value: ids in rank order a1 (700) .. a7 (100)
SEVEN = {f"a{i}": {"expected_value": 100.0 * (8 - i), "recency_days": 20.0 * i} for i in range(1, 8)}
KEY = b"k" * 32


@pytest.fixture(scope="module")
def booster() -> xgb.Booster:
    """Churn rises with recency_days and falls with orders_90d (planted), on 400 seeded rows."""
    rng = np.random.default_rng(7)
    x = pd.DataFrame({"recency_days": rng.uniform(0, 200, 400), "orders_90d": rng.integers(0, 6, 400).astype(float)})
    y = ((x["recency_days"] > 90) & (x["orders_90d"] < 3)).astype(float)
    return xgb.train({"objective": "binary:logistic", "max_depth": 2, "eta": 0.5},
                     xgb.DMatrix(x, label=y), num_boost_round=10)


def pages(models: dict[str, xgb.Booster], loaded: LoadedSnapshot, **request: Any) -> list[Any]:
    """Every page of a list, following next_cursor from the first page."""
    answers = [targets_response(models, loaded, TargetsRequest(campaign="winback", **request))]
    while answers[-1].next_cursor is not None:
        answers.append(targets_response(models, loaded, TargetsRequest(campaign="winback", cursor=answers[-1].next_cursor,
                                                                         **request)))
    return answers


def member_ids(rows: list[Any]) -> list[str]:
    return [row.member_id for row in rows]


# --- JSON pages -------------------------------------------------------------------------------------

def test_pages_of_three_cover_the_ranked_list_once_in_order(booster: xgb.Booster) -> None:
    answers = pages({"churn": booster}, loaded_snapshot(SEVEN), limit=3, explain=1)
    assert [member_ids(page.rows) for page in answers] == [["a1", "a2", "a3"], ["a4", "a5", "a6"], ["a7"]]
    assert [row.rank for page in answers for row in page.rows] == list(range(1, 8))
    assert {page.eligible for page in answers} == {7} and answers[-1].next_cursor is None
    whole = targets_response({"churn": booster}, loaded_snapshot(SEVEN),
                             TargetsRequest(campaign="winback", limit=7, explain=1))
    assert [row for page in answers for row in page.rows] == whole.rows, "reasons included, row for row"
    assert whole.next_cursor is None


def test_a_list_that_fits_one_page_has_no_cursor_and_the_default_page_is_100() -> None:
    assert pages({}, loaded_snapshot(SEVEN))[0].next_cursor is None
    many = {f"m{i:03d}": {"expected_value": float(1000 - i)} for i in range(150)}
    first = targets_response({}, loaded_snapshot(many), TargetsRequest(campaign="winback"))
    assert len(first.rows) == 100 and first.next_cursor is not None
    assert [len(page.rows) for page in pages({}, loaded_snapshot(many))] == [100, 50]


def test_a_cursor_of_another_snapshot_or_request_is_refused_as_a_changed_list() -> None:
    first = targets_response({}, loaded_snapshot(SEVEN), TargetsRequest(campaign="winback", limit=3))
    moved = {**SEVEN, "a7": {"expected_value": 650.0}}  # a7 jumps to second place: an offset would repeat a2
    with pytest.raises(ListChanged, match="cursor: the list changed") as refused:
        targets_response({}, loaded_snapshot(moved), TargetsRequest(campaign="winback", limit=3, cursor=first.next_cursor))
    assert "2024-06-01" in str(refused.value)
    filtered = TargetsRequest(campaign="winback", limit=3, cursor=first.next_cursor, filters={"min_value": 300})
    with pytest.raises(ListChanged):
        targets_response({}, loaded_snapshot(SEVEN), filtered)
    other = loaded_snapshot(SEVEN)
    other = LoadedSnapshot(Snapshot(other.snapshot.frame, date(2024, 7, 1), "other"), other.features_by_id,
                           other.scores_by_id)
    with pytest.raises(ListChanged, match="2024-07-01"):
        targets_response({}, other, TargetsRequest(campaign="winback", limit=3, cursor=first.next_cursor))
    same = targets_response({}, loaded_snapshot(SEVEN), TargetsRequest(campaign="winback", limit=3,
                                                                         cursor=first.next_cursor))
    assert member_ids(same.rows) == ["a4", "a5", "a6"], "the same list in a fresh load continues"


@pytest.mark.parametrize("cursor", ["", "not a cursor", "eyJ2IjoxfQ",  # {"v":1}
                                    encode_cursor("0" * 24, 3, "2024-06-01") + "x"])
def test_a_malformed_cursor_is_refused_naming_the_field(cursor: str) -> None:
    with pytest.raises(ValueError, match="^cursor: not a cursor this service issued") as refused:
        targets_response({}, loaded_snapshot(SEVEN), TargetsRequest(campaign="winback", limit=3, cursor=cursor))
    assert not isinstance(refused.value, ListChanged)


def test_a_cursor_past_the_list_is_refused() -> None:
    """A hand-edited offset inside the same list only moves the page; one past the end is not ours."""
    whole = targets.target_list(loaded_snapshot(SEVEN), TargetsRequest(campaign="winback"))
    with pytest.raises(ValueError, match="^cursor: not a cursor"):
        targets_response({}, loaded_snapshot(SEVEN),
                         TargetsRequest(campaign="winback", cursor=encode_cursor(whole.identity(), 7, "2024-06-01")))


def test_a_json_page_is_capped_at_10000_naming_limit() -> None:
    with pytest.raises(ValueError, match="^limit: a JSON page holds at most 10,000 rows"):
        targets_response({}, loaded_snapshot(SEVEN), TargetsRequest(campaign="winback", limit=MAX_TARGETS + 1))


# --- CSV stream -------------------------------------------------------------------------------------

def streamed(models: dict[str, xgb.Booster], loaded: LoadedSnapshot, chunk_rows: int = 2, **request: Any) -> str:
    export = targets_csv_export(models, loaded, TargetsRequest(campaign="winback", **request), chunk_rows=chunk_rows)
    return "".join(export.chunks)


def test_streamed_csv_equals_targets_csv_of_the_whole_list(booster: xgb.Booster) -> None:
    """Chunks of 2 rows, explain 1 (every row has a supporting reason, so both writers show one column)."""
    whole = targets_response({"churn": booster}, loaded_snapshot(SEVEN), TargetsRequest(campaign="winback", limit=7,
                                                                                      explain=1))
    assert all(len(row.reasons) == 1 for row in whole.rows)
    text = streamed({"churn": booster}, loaded_snapshot(SEVEN), explain=1)
    assert text == targets_csv(whole)
    assert_csv_matches(text, whole)
    assert text.count("\r\n") == 8


def test_csv_without_limit_is_the_whole_list_and_a_limit_keeps_the_best_rows() -> None:
    frame = pd.read_csv(io.StringIO(streamed({}, loaded_snapshot(SEVEN))), dtype={"member_id": str})
    assert list(frame["member_id"]) == [f"a{i}" for i in range(1, 8)] and list(frame["rank"]) == list(range(1, 8))
    assert list(frame.columns) == CSV_COLUMNS, "no model serves winback here: no reason columns"
    export = targets_csv_export({}, loaded_snapshot(SEVEN), TargetsRequest(campaign="winback", limit=3))
    assert (export.eligible, export.rows) == (7, 3)
    assert list(pd.read_csv(io.StringIO("".join(export.chunks)))["member_id"]) == ["a1", "a2", "a3"]
    assert streamed({}, loaded_snapshot(SEVEN), limit=MAX_TARGETS + 1) == streamed({}, loaded_snapshot(SEVEN))


def test_csv_reason_columns_are_the_requested_count_and_reasons_are_computed_per_chunk(
        booster: xgb.Booster, monkeypatch: pytest.MonkeyPatch) -> None:
    explained: list[list[str]] = []
    original = targets.shap_contributions

    def recording(model: xgb.Booster, rows: pd.DataFrame) -> Any:
        explained.append(list(rows.index))
        return original(model, rows)

    monkeypatch.setattr(targets, "shap_contributions", recording)
    export = targets_csv_export({"churn": booster}, loaded_snapshot(SEVEN), TargetsRequest(campaign="winback", explain=5),
                                chunk_rows=3)
    assert explained == [], "nothing is computed before the first chunk is read"
    header = next(export.chunks)
    assert header == "\ufeff" + ",".join([*CSV_COLUMNS, *(f"reason_{i}" for i in range(1, 6))]) + "\r\n"
    rest = list(export.chunks)
    assert explained == [["a1", "a2", "a3"], ["a4", "a5", "a6"], ["a7"]]
    lines = [fields for chunk in rest for fields in csv.reader(io.StringIO(chunk))]  # the words may hold commas
    assert len(rest) == 3 and len(lines) == 7 and all(len(fields) == len(CSV_COLUMNS) + 5 for fields in lines)


def test_csv_stream_pseudonymises_and_stays_spreadsheet_safe() -> None:
    hostile = {"=cmd": {"expected_value": 900.0, "rfm_segment": "at_risk"}, "b": {"expected_value": 100.0}}
    scores, features = members(hostile)
    loaded = LoadedSnapshot(Snapshot(features.reset_index(), date(2024, 6, 1), "t"), features, scores)
    plain = pd.read_csv(io.StringIO(streamed({}, loaded)), dtype=str)
    assert list(plain["member_id"]) == ["'=cmd", "b"]
    export = targets_csv_export({}, loaded, TargetsRequest(campaign="winback"),
                                rename_ids=lambda member: pseudonym(member, KEY))
    hidden = pd.read_csv(io.StringIO("".join(export.chunks)), dtype=str)
    assert list(hidden["member_id"]) == [pseudonym("=cmd", KEY), pseudonym("b", KEY)]
    assert hidden.drop(columns="member_id").equals(plain.drop(columns="member_id"))


def test_bad_csv_requests_are_refused_before_the_stream_starts() -> None:
    with pytest.raises(ValueError, match="^cursor: a CSV answer is the whole list"):
        targets_csv_export({}, loaded_snapshot(SEVEN), TargetsRequest(campaign="winback", cursor="x"))
    with pytest.raises(ValueError, match="filters.tiers"):
        targets_csv_export({}, loaded_snapshot(FILTERED), TargetsRequest(campaign="winback", filters={"tiers": ["gold?"]}))


# --- 100,000 members --------------------------------------------------------------------------------

def synthetic_snapshot(n: int, seed: int = 3) -> LoadedSnapshot:
    """n members with seeded scores; about 3 in 4 lapsing (winback-eligible), a few hundred exact score ties."""
    rng = np.random.default_rng(seed)
    ids = pd.Index([f"m{i:06d}" for i in range(n)], name="member_id")
    stages = rng.choice(np.array(["new", "active", "sleeping", "lost"]), n, p=[0.1, 0.15, 0.4, 0.35])
    scores = pd.DataFrame({
        "churn_probability": rng.uniform(0, 1, n).round(3), "p_purchase_7d": rng.uniform(0, 1, n),
        "upsell_probability": rng.uniform(0, 1, n), "upsell_categories": "", "expected_value": rng.integers(1, 50, n) * 10.0,
        "clv_12m": 1.0, "rfm_segment": rng.choice(np.array(["at_risk", "hibernating", "champions"]), n),
        "abc_class": rng.choice(np.array(["AA", "A", "B", "C"]), n), "lifecycle_stage": stages, "tier": "member",
    }, index=ids)
    for column in ("rfm_segment", "abc_class", "lifecycle_stage", "tier", "upsell_categories"):
        scores[column] = scores[column].astype("string")
    features = pd.DataFrame({"gap_ratio": rng.uniform(0, 3, n), "orders_trend_90d": rng.integers(-2, 3, n).astype(float),
                             "recency_days": rng.uniform(0, 200, n), "orders_90d": rng.integers(0, 6, n).astype(float)},
                            index=ids)
    return LoadedSnapshot(Snapshot(features.reset_index(), date(2024, 6, 1), "synthetic"), features, scores)


def stream_whole(models: dict[str, xgb.Booster], loaded: LoadedSnapshot, explain: int) -> pd.DataFrame:
    """The streamed CSV of winback, checked to hold every lapsing member once, in rank order."""
    expected = ranked_targets(loaded.scores_by_id, loaded.features_by_id, "winback", TargetsRequest(campaign="winback").filters)
    assert len(expected) > 70_000 > MAX_TARGETS
    export = targets_csv_export(models, loaded, TargetsRequest(campaign="winback", explain=explain))
    written = pd.read_csv(io.StringIO("".join(export.chunks)), dtype={"member_id": str}, keep_default_na=False)
    assert (export.eligible, export.rows, len(written)) == (len(expected), len(expected), len(expected))
    assert written["member_id"].is_unique and list(written["member_id"]) == list(expected["member_id"])
    assert list(written["rank"]) == list(range(1, len(expected) + 1))
    np.testing.assert_array_equal(written["score"].to_numpy(), expected["score"].to_numpy())
    lapsing = loaded.scores_by_id["lifecycle_stage"].isin(["sleeping", "lost"])
    assert set(written["member_id"]) == set(loaded.scores_by_id.index[lapsing])
    return written


@pytest.mark.slow  # a few seconds: runs in `make test`, not in test-fast
def test_100000_members_stream_whole_with_every_eligible_member_once() -> None:
    started = time.perf_counter()
    written = stream_whole({}, synthetic_snapshot(100_000), explain=3)
    assert list(written.columns) == CSV_COLUMNS
    assert time.perf_counter() - started < 30  # about 2 s on a shared 2-core machine


@pytest.mark.slow
def test_100000_members_stream_with_each_rows_own_reasons(booster: xgb.Booster) -> None:
    """With the model: every chunk's reasons are those of its own rows (checked on a seeded sample)."""
    loaded = synthetic_snapshot(100_000)
    written = stream_whole({"churn": booster}, loaded, explain=2).set_index("member_id")
    sample = written.sample(200, random_state=0)
    want = targets.supporting_reasons(booster, loaded.features_by_id.loc[sample.index], 2, 1)
    assert [[text for text in (row.reason_1, row.reason_2) if text] for row in sample.itertuples()] == want
    assert (written["reason_1"] != "").mean() > 0.5


@pytest.mark.slow  # a few seconds: runs in `make test`, not in test-fast
def test_100000_members_page_through_json_with_every_eligible_member_once() -> None:
    loaded = synthetic_snapshot(100_000)
    answers = pages({}, loaded, limit=MAX_TARGETS, explain=0)
    listed = [row.member_id for page in answers for row in page.rows]
    expected = ranked_targets(loaded.scores_by_id, loaded.features_by_id, "winback", TargetsRequest(campaign="winback").filters)
    assert listed == list(expected["member_id"]) and len(set(listed)) == len(listed)
    assert len(answers) == -(-len(expected) // MAX_TARGETS)
