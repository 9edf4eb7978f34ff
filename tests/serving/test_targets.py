"""serving.targets: campaign rules, ranking by probability x value, filters, percentiles, reasons.

Most tests run on hand-built score frames whose every expected number is worked out by hand in the
test. The CLI tests use the session's trained churn model and check the written file against
``targets_response`` and against the booster and snapshot read independently.
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from pydantic import ValidationError
from typer.testing import CliRunner, Result

from features.catalogue import BY_NAME
from features.offer_lists import decode_offers
from features.project import DEFAULT_PROJECT
from features.segment_rules import read_segment_rules
from features.snapshot import Snapshot
from features.store import latest_snapshot_path, read_snapshot
from serving import targets
from serving.schemas import TargetFilters, TargetsRequest
from serving.targets import (
    CAMPAIGNS,
    CampaignUnavailable,
    rank_targets,
    ranked_targets,
    supporting_reasons,
    targets_csv,
    targets_response,
)

AS_OF = date(2024, 6, 1)
DEFAULTS: dict[str, Any] = {
    "churn_probability": 0.5, "p_purchase_7d": 0.1, "upsell_probability": 0.2, "upsell_categories": "",
    "expected_value": 10.0, "clv_12m": 99.0, "rfm_segment": "at_risk", "abc_class": "B",
    "lifecycle_stage": "sleeping", "tier": "member", "gap_ratio": 2.0, "orders_trend_90d": 0.0,
}
FEATURES = ["gap_ratio", "orders_trend_90d", "recency_days", "orders_90d"]


def members(rows: dict[str, dict[str, Any]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(scores_by_id, features_by_id) from member id -> overrides of DEFAULTS."""
    frame = pd.DataFrame([{**DEFAULTS, "recency_days": 30.0, "orders_90d": 1.0, **row} for row in rows.values()],
                         index=pd.Index(list(rows), name="member_id"))
    features = frame[FEATURES].astype(float)
    scores = frame.drop(columns=FEATURES)
    for column in ("rfm_segment", "abc_class", "lifecycle_stage", "tier", "upsell_categories"):
        scores[column] = scores[column].astype("string")
    return scores, features


def ids(frame: pd.DataFrame) -> list[str]:
    return list(frame["member_id"])


def ranked(rows: dict[str, dict[str, Any]], campaign: str, **filters: Any) -> pd.DataFrame:
    scores, features = members(rows)
    return ranked_targets(scores, features, campaign, TargetFilters(**filters))


# --- ranking, value and percentiles -----------------------------------------------------------------

WINBACK = {
    "a": {"churn_probability": 0.8, "expected_value": 100.0, "rfm_segment": "at_risk"},            # 80
    "b": {"churn_probability": 0.5, "expected_value": np.nan, "clv_12m": 300.0, "lifecycle_stage": "lost",
          "rfm_segment": "at_risk"},                                                               # 150 (clv)
    "c": {"churn_probability": 0.9, "expected_value": 50.0, "lifecycle_stage": "active",
          "rfm_segment": "champions"},                                                             # 45, not lapsing
    "d": {"churn_probability": 0.4, "expected_value": 200.0, "lifecycle_stage": "lost",
          "rfm_segment": "hibernating"},                                                           # 80, ties a
}


def test_winback_ranks_lapsing_members_by_churn_times_value_with_exact_percentiles() -> None:
    """b (0.5 x clv 300) first; a and d tie at 80 and go by id; active c is not listed but counts in percentiles."""
    listed = ranked(WINBACK, "winback")
    assert ids(listed) == ["b", "a", "d"]
    assert list(listed["rank"]) == [1, 2, 3]
    assert list(listed["score"]) == pytest.approx([150.0, 80.0, 80.0])
    assert list(listed["expected_value"]) == pytest.approx([300.0, 100.0, 200.0]), "clv_12m stands in for a missing expected_value"
    # all four scores 80, 150, 45, 80: share of members scoring <= each
    assert list(listed["percentile_global"]) == [100.0, 75.0, 75.0]
    # at_risk holds a (80) and b (150); hibernating only d
    assert list(listed["percentile_in_segment"]) == [100.0, 50.0, 100.0]
    assert list(listed["offer_category"]) == [None, None, None]


def test_limit_keeps_the_best_rows_and_filters_leave_percentiles_unchanged() -> None:
    scores, features = members(WINBACK)
    assert ids(rank_targets(scores, features, "winback", TargetFilters(), 2)) == ["b", "a"]
    only_d = ranked(WINBACK, "winback", segments=["hibernating"])
    assert ids(only_d) == ["d"] and list(only_d["rank"]) == [1]
    assert (only_d["percentile_global"].item(), only_d["percentile_in_segment"].item()) == (75.0, 100.0)


def test_members_without_a_score_are_neither_listed_nor_counted() -> None:
    """A member with no churn probability or no value cannot be ranked: out of the list and the percentiles."""
    rows = {**WINBACK, "e": {"churn_probability": np.nan}, "f": {"expected_value": np.nan, "clv_12m": np.nan}}
    listed = ranked(rows, "winback")
    assert ids(listed) == ["b", "a", "d"]
    assert list(listed["percentile_global"]) == [100.0, 75.0, 75.0]


# --- each campaign's rule ---------------------------------------------------------------------------

RULE_CASES = [
    ("winback", {"lifecycle_stage": "sleeping"}, True),
    ("winback", {"lifecycle_stage": "lost"}, True),
    ("winback", {"lifecycle_stage": "active"}, False),
    ("winback", {"lifecycle_stage": "new"}, False),
    ("retain_high_value", {"abc_class": "A", "lifecycle_stage": "active", "churn_probability": 0.3, "gap_ratio": 1.0}, True),
    ("retain_high_value", {"abc_class": "AA", "churn_probability": 0.9, "gap_ratio": 0.5, "orders_trend_90d": -1}, True),
    ("retain_high_value", {"abc_class": "AA", "churn_probability": 0.9, "gap_ratio": np.nan, "orders_trend_90d": -2}, True),
    ("retain_high_value", {"abc_class": "A", "churn_probability": 0.29, "gap_ratio": 2.0}, False),
    ("retain_high_value", {"abc_class": "B", "churn_probability": 0.9, "gap_ratio": 2.0}, False),
    ("retain_high_value", {"abc_class": "AA", "churn_probability": 0.9, "gap_ratio": 2.0, "lifecycle_stage": "lost"}, False),
    ("retain_high_value", {"abc_class": "A", "churn_probability": 0.9, "gap_ratio": 0.99, "orders_trend_90d": 0}, False),
    ("retain_high_value", {"abc_class": "A", "churn_probability": 0.9, "gap_ratio": np.nan, "orders_trend_90d": np.nan}, False),
    ("upsell", {"lifecycle_stage": "active"}, True),
    ("upsell", {"lifecycle_stage": "new"}, True),
    ("upsell", {"lifecycle_stage": "sleeping"}, False),
    ("upsell", {"lifecycle_stage": "lost"}, False),
    ("next_purchase_reminder", {"p_purchase_7d": 0.3, "gap_ratio": 1.0}, True),
    ("next_purchase_reminder", {"p_purchase_7d": 0.9, "gap_ratio": 4.0, "lifecycle_stage": "lost"}, True),
    ("next_purchase_reminder", {"p_purchase_7d": 0.29, "gap_ratio": 2.0}, False),
    ("next_purchase_reminder", {"p_purchase_7d": 0.9, "gap_ratio": 0.99}, False),
    ("next_purchase_reminder", {"p_purchase_7d": 0.9, "gap_ratio": np.nan}, False),
]


@pytest.mark.parametrize(("campaign", "row", "eligible"), RULE_CASES)
def test_campaign_rule(campaign: str, row: dict[str, Any], eligible: bool) -> None:
    assert ids(ranked({"m": row}, campaign)) == (["m"] if eligible else [])


@pytest.mark.parametrize(("campaign", "driver"), [("winback", "churn_probability"), ("retain_high_value", "churn_probability"),
                                                  ("upsell", "upsell_probability"), ("next_purchase_reminder", "p_purchase_7d")])
def test_every_campaign_ranks_by_its_probability_times_value(campaign: str, driver: str) -> None:
    """Two eligible members: the one with the larger probability x value comes first, whatever either factor alone says."""
    eligible = {"abc_class": "AA", "lifecycle_stage": "sleeping" if campaign == "winback" else "active",
                "churn_probability": 0.5, "gap_ratio": 1.5, "p_purchase_7d": 0.5}
    rows = {"low_p": {**eligible, driver: 0.4, "expected_value": 100.0},    # 40
            "high_p": {**eligible, driver: 0.9, "expected_value": 40.0}}    # 36
    listed = ranked(rows, campaign)
    assert ids(listed) == ["low_p", "high_p"]
    assert list(listed["score"]) == pytest.approx([40.0, 36.0])


def test_upsell_offers_the_first_category_to_offer() -> None:
    rows = {"x": {"lifecycle_stage": "active", "upsell_categories": "dairy|bakery|produce", "upsell_probability": 0.9},
            "y": {"lifecycle_stage": "active", "upsell_categories": "", "upsell_probability": 0.5}}
    assert list(ranked(rows, "upsell")["offer_category"]) == ["dairy", None]


def test_campaigns_are_described_and_name_their_model() -> None:
    assert list(CAMPAIGNS) == ["winback", "retain_high_value", "upsell", "next_purchase_reminder",
                               "tier_upgrade_nudge", "downgrade_warning"]
    assert all(c.description and c.task in ("churn", "upsell", "next_purchase", "value") for c in CAMPAIGNS.values())


# --- filters ----------------------------------------------------------------------------------------

FILTERED = {  # all lapsing; scores 0.5 x value, so the value orders them: p, q, r, s
    "p": {"expected_value": 400.0, "rfm_segment": "at_risk", "tier": "diamond", "abc_class": "AA", "lifecycle_stage": "lost"},
    "q": {"expected_value": 300.0, "rfm_segment": "cannot_lose_them", "tier": "platinum", "abc_class": "A"},
    "r": {"expected_value": 200.0, "rfm_segment": "at_risk", "tier": "silver", "abc_class": "B", "lifecycle_stage": "lost"},
    "s": {"expected_value": 100.0, "rfm_segment": "hibernating", "tier": "member", "abc_class": "C"},
}


@pytest.mark.parametrize(("filters", "expected"), [
    ({}, ["p", "q", "r", "s"]),
    ({"segments": ["at_risk"]}, ["p", "r"]),
    ({"segments": ["at_risk", "hibernating"]}, ["p", "r", "s"]),
    ({"tiers": ["platinum", "diamond"]}, ["p", "q"]),
    ({"abc_classes": ["C"]}, ["s"]),
    ({"lifecycle_stages": ["sleeping"]}, ["q", "s"]),
    ({"min_value": 200.0}, ["p", "q", "r"]),
    ({"exclude_member_ids": ["q", "nobody"]}, ["p", "r", "s"]),
    ({"segments": ["at_risk"], "lifecycle_stages": ["lost"], "min_value": 300}, ["p"]),
    ({"segments": [], "tiers": []}, ["p", "q", "r", "s"]),
    ({"segments": ["champions"]}, []),
])
def test_filters(filters: dict[str, Any], expected: list[str]) -> None:
    assert ids(ranked(FILTERED, "winback", **filters)) == expected


@pytest.mark.parametrize(("field", "bad"), [("segments", "vip"), ("tiers", "gold"), ("abc_classes", "D"),
                                            ("lifecycle_stages", "dormant")])
def test_unknown_filter_labels_are_refused_naming_the_field_and_the_valid_values(field: str, bad: str) -> None:
    rules = read_segment_rules()
    valid = {"segments": rules.rfm.labels, "tiers": rules.tiers.labels, "abc_classes": ("AA", "A", "B", "C"),
             "lifecycle_stages": ("new", "active", "sleeping", "lost")}[field]
    with pytest.raises(ValueError, match=f"filters.{field}") as raised:
        ranked(FILTERED, "winback", **{field: [bad]})
    assert repr(bad) in str(raised.value)
    assert all(label in str(raised.value) for label in valid)


def test_labels_of_a_snapshot_built_with_custom_rules_are_valid_filters() -> None:
    """A tier from a custom ladder is in the snapshot, not in the packaged rules: filtering on it works."""
    rows = {"g": {"tier": "gold"}, "m": {"tier": "member"}}
    assert ids(ranked(rows, "winback", tiers=["gold"])) == ["g"]


def test_an_unknown_campaign_is_refused_listing_the_campaigns() -> None:
    with pytest.raises(ValueError, match="campaign") as raised:
        ranked(WINBACK, "reactivate")
    assert "'reactivate'" in str(raised.value)
    assert all(name in str(raised.value) for name in CAMPAIGNS)


@pytest.mark.parametrize(("campaign", "column"), [("upsell", "upsell_probability"),
                                                  ("next_purchase_reminder", "p_purchase_7d"),
                                                  ("winback", "churn_probability")])
def test_a_campaign_whose_model_has_no_champion_names_the_missing_score(campaign: str, column: str) -> None:
    scores, features = members({"m": {"lifecycle_stage": "active", "gap_ratio": 2.0, "p_purchase_7d": 0.9}})
    for emptied in (scores.assign(**{column: np.nan}), scores.drop(columns=column)):
        with pytest.raises(CampaignUnavailable, match=column):
            ranked_targets(emptied, features, campaign, TargetFilters())


def test_no_value_at_all_is_named() -> None:
    scores, features = members({"m": {"expected_value": np.nan, "clv_12m": np.nan}})
    with pytest.raises(CampaignUnavailable, match="expected_value or clv_12m"):
        ranked_targets(scores, features, "winback", TargetFilters())


@pytest.mark.parametrize(("payload", "field"), [
    ({"campaign": "winback", "limit": 0}, "limit"),
    ({"campaign": "winback", "explain": 11}, "explain"),
    ({"campaign": "winback", "explain": -1}, "explain"),
    ({"campaign": "winback", "filters": {"min_value": -0.01}}, "min_value"),
    ({"campaign": "winback", "filters": {"exclude_member_ids": ["x"] * 100_001}}, "exclude_member_ids"),
    ({"campaign": "winback", "filters": {"segment": ["at_risk"]}}, "segment"),
    ({"campaign": "winback", "limt": 5}, "limt"),
    ({"limit": 5}, "campaign"),
])
def test_bad_requests_are_refused_naming_the_field(payload: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as raised:
        TargetsRequest.model_validate(payload)
    assert field in {str(part) for error in raised.value.errors() for part in error["loc"]}


def test_more_than_10000_rows_are_refused_for_a_json_page_naming_limit() -> None:
    """Issue 15 item 9: the request may ask for more (a CSV has no cap), but a JSON page still holds at most 10,000."""
    request = TargetsRequest.model_validate({"campaign": "winback", "limit": 10_001})
    with pytest.raises(ValueError, match="^limit: "):
        targets_response({}, loaded_snapshot(WINBACK), request)


# --- reasons, response and CSV ----------------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny_churn_booster() -> xgb.Booster:
    """Churn rises with recency_days and falls with orders_90d (planted), on 400 seeded rows."""
    rng = np.random.default_rng(7)
    x = pd.DataFrame({"recency_days": rng.uniform(0, 200, 400), "orders_90d": rng.integers(0, 6, 400).astype(float)})
    y = ((x["recency_days"] > 90) & (x["orders_90d"] < 3)).astype(float)
    return xgb.train({"objective": "binary:logistic", "max_depth": 2, "eta": 0.5},
                     xgb.DMatrix(x, label=y), num_boost_round=10)


@pytest.mark.parametrize("sign", [1, -1])
def test_supporting_reasons_are_the_largest_contributions_pushing_the_score_up(tiny_churn_booster: xgb.Booster,
                                                                                sign: int) -> None:
    """Checked against pred_contribs directly: the texts of the features with contribution x sign > 0, largest first."""
    rows = pd.DataFrame({"recency_days": [150.0, 10.0, 150.0], "orders_90d": [5.0, 0.0, 0.0]}, index=["u", "v", "w"])
    contributions = tiny_churn_booster.predict(xgb.DMatrix(rows), pred_contribs=True)[:, :2]
    expected = []
    for i, row in enumerate(rows.to_dict(orient="records")):
        pushing = [j for j in np.argsort(-np.abs(contributions[i])) if contributions[i, j] * sign > 0]
        expected.append([BY_NAME[rows.columns[j]].in_words(row) for j in pushing])
    assert supporting_reasons(tiny_churn_booster, rows, 5, sign) == expected
    assert supporting_reasons(tiny_churn_booster, rows, 1, sign) == [texts[:1] for texts in expected]
    assert any(len(texts) == 1 for texts in expected), "the planted rows must include one with a reason each way"
    assert supporting_reasons(None, rows, 3, sign) == [[], [], []]
    assert supporting_reasons(tiny_churn_booster, rows, 0, sign) == [[], [], []]


def loaded_snapshot(rows: dict[str, dict[str, Any]]) -> Any:
    from serving.artefacts import LoadedSnapshot

    scores, features = members(rows)
    snapshot = Snapshot(frame=features.reset_index(), as_of=AS_OF, fingerprint="test")
    return LoadedSnapshot(snapshot, features, scores)


def test_response_explains_only_the_listed_rows(tiny_churn_booster: xgb.Booster, monkeypatch: pytest.MonkeyPatch) -> None:
    """limit 2 of 4 eligible: SHAP runs once, on exactly the two listed members."""
    explained: list[list[str]] = []
    original = targets.shap_contributions

    def recording(booster: xgb.Booster, rows: pd.DataFrame) -> Any:
        explained.append(list(rows.index))
        return original(booster, rows)

    monkeypatch.setattr(targets, "shap_contributions", recording)
    request = TargetsRequest(campaign="winback", limit=2, explain=2)
    response = targets_response({"churn": tiny_churn_booster}, loaded_snapshot(FILTERED), request)
    assert (response.campaign, response.snapshot_as_of, response.eligible) == ("winback", "2024-06-01", 4)
    assert [row.member_id for row in response.rows] == ["p", "q"]
    assert explained == [["p", "q"]]
    assert response.rows[0].tier == "diamond" and response.rows[0].score == pytest.approx(200.0)
    assert all(1 <= len(row.reasons) <= 2 for row in response.rows)


def test_csv_has_one_row_per_target_and_one_column_per_reason(tiny_churn_booster: xgb.Booster) -> None:
    request = TargetsRequest(campaign="winback", limit=10, explain=2)
    response = targets_response({"churn": tiny_churn_booster}, loaded_snapshot(FILTERED), request)
    assert_csv_matches(targets_csv(response), response)
    empty = targets_response({}, loaded_snapshot(FILTERED), TargetsRequest(campaign="winback", filters={"abc_classes": ["AA"],
                                                                                                       "tiers": ["member"]}))
    assert empty.eligible == 0 and empty.rows == []
    assert targets_csv(empty).splitlines() == ["\ufeff" + ",".join(targets.CSV_COLUMNS)]  # UTF-8 BOM for Excel


def assert_csv_matches(text: str, response: Any) -> None:
    """Every CSV row equals the response row (numbers to float precision, reasons in reason_1..k)."""
    import io

    frame = pd.read_csv(io.StringIO(text), dtype={"member_id": str}, keep_default_na=False)
    assert len(frame) == len(response.rows)
    k = max((len(row.reasons) for row in response.rows), default=0)
    assert list(frame.columns) == [*targets.CSV_COLUMNS, *(f"reason_{i + 1}" for i in range(k))]
    for got, row in zip(frame.to_dict(orient="records"), response.rows):
        want = row.model_dump()
        for name in ("rank", "member_id", "rfm_segment", "tier", "abc_class", "lifecycle_stage"):
            assert str(got[name]) == str(want[name]), name
        for name in ("score", "expected_value", "percentile_global", "percentile_in_segment"):
            assert float(got[name]) == pytest.approx(want[name], rel=1e-12), name
        assert (got["offer_category"] or None) == want["offer_category"]
        assert (got["score_unit"], got["score_text"]) == (want["score_unit"], want["score_text"])
        assert got["campaign_reasons"] == "; ".join(want["campaign_reasons"])
        assert [got[f"reason_{i + 1}"] for i in range(k) if got[f"reason_{i + 1}"]] == want["reasons"]


# --- the command line, on the session's trained churn model -----------------------------------------

runner = CliRunner()


def run(*args: str) -> Result:
    from cli.main import app

    return runner.invoke(app, list(args))


def one_error_line(result: Result, *needles: str) -> str:
    assert result.exit_code == 2, (result.exit_code, result.output)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "Traceback" not in result.output, result.output
    assert all(needle in errors[0] for needle in needles), errors[0]
    return errors[0]


@pytest.mark.slow
@pytest.mark.integration
def test_cli_writes_the_rows_of_targets_response_ranked_by_churn_times_value(use_trained: object, tmp_path: Path) -> None:
    """CSV and JSON equal targets_response; scores equal the calibrated booster margin x the 90-day BG/NBD + Gamma-Gamma
    spend read from the snapshot file (no value champion: its baseline serves as expected_value)."""
    from models import catalog
    from models.calibration import calibrated_probability, read_calibration
    from serving.live import load_snapshot

    excluded = tmp_path / "ids.txt"
    out_csv, out_json = tmp_path / "w.csv", tmp_path / "w.json"
    path = latest_snapshot_path(Path(os.environ["MEMBERSCORE_SNAPSHOT_DIR"]) / DEFAULT_PROJECT)
    snapshot = read_snapshot(path)
    booster = catalog.load_booster("churn", project=DEFAULT_PROJECT)
    loaded = load_snapshot(path, {"churn": booster})
    first = targets_response({"churn": booster}, loaded, TargetsRequest(campaign="winback", limit=1)).rows[0].member_id
    excluded.write_text(f"\n {first} \n")
    args = ["targets", "--campaign", "winback", "--limit", "25", "--explain", "2", "--exclude", str(excluded)]
    result = run(*args, "--out", str(out_csv))
    assert result.exit_code == 0, result.output
    assert run(*args, "--out", str(out_json)).exit_code == 0
    request = TargetsRequest(campaign="winback", limit=25, explain=2, filters={"exclude_member_ids": [first]})
    response = targets_response({"churn": booster}, loaded, request)
    assert len(response.rows) == 25 and first not in {row.member_id for row in response.rows}
    assert f"25 of {response.eligible:,} eligible" in result.stdout
    assert_csv_matches(out_csv.read_text(), response)
    assert json.loads(out_json.read_text()) == json.loads(response.model_dump_json())
    # independent: churn probability straight from the booster on the snapshot's rows, value = the BG/NBD baseline
    inputs = snapshot.model_inputs().set_index("member_id")
    listed = [row.member_id for row in response.rows]
    margin = booster.predict(xgb.DMatrix(inputs.loc[listed, booster.feature_names].to_numpy(np.float32),
                                         feature_names=booster.feature_names), output_margin=True)
    churn = calibrated_probability(margin, read_calibration(booster))  # the champion's own calibration
    value = snapshot.profile.set_index("member_id").loc[listed, "baseline_expected_value"].to_numpy()  # over H (issue 14)
    assert [row.score for row in response.rows] == pytest.approx(churn * value, rel=1e-5)
    assert [row.score for row in response.rows] == sorted((row.score for row in response.rows), reverse=True)
    assert {row.lifecycle_stage for row in response.rows} <= {"sleeping", "lost"}
    assert all(row.campaign_reasons for row in response.rows)  # why on this list, always
    assert any(row.reasons for row in response.rows)  # the model's, where one about silence or rhythm pushes up


@pytest.mark.slow
@pytest.mark.integration
def test_a_campaign_whose_model_has_no_champion_ranks_by_its_baseline(use_trained: object, tmp_path: Path) -> None:
    """No upsell champion: the list ranks by the snapshot's popular-new-categories baseline, without reasons."""
    out = tmp_path / "u.csv"
    result = run("targets", "--campaign", "upsell", "--out", str(out))
    assert result.exit_code == 0, result.output
    listed = pd.read_csv(out, dtype={"member_id": str})
    profile = read_snapshot(latest_snapshot_path(Path(os.environ["MEMBERSCORE_SNAPSHOT_DIR"]) / DEFAULT_PROJECT)).profile
    baseline = profile.set_index("member_id").loc[listed["member_id"]]
    expected = baseline["baseline_upsell_probability"] * baseline["baseline_expected_value"]  # P(upsell) x value over H
    np.testing.assert_allclose(listed["score"], expected.to_numpy(), rtol=1e-12)
    assert listed["score"].is_monotonic_decreasing and len(listed) > 0
    offers = [decode_offers(cell) for cell in baseline["baseline_upsell_categories"]]  # issue 15: JSON arrays
    assert listed["offer_category"].fillna("").tolist() == [names[0] if names else "" for names in offers]
    assert [decode_offers(cell) for cell in listed["upsell_categories"]] == offers
    assert not [c for c in listed.columns if c.startswith("reason_")], "a rule has no SHAP reasons"


def test_cli_names_a_campaign_with_neither_champion_nor_baseline(use_trained: object, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.serving.model_versions import strip_baselines

    snapshots = shutil.copytree(Path(os.environ["MEMBERSCORE_SNAPSHOT_DIR"]), tmp_path / "snapshots")
    strip_baselines(snapshots / DEFAULT_PROJECT)
    monkeypatch.setenv("MEMBERSCORE_SNAPSHOT_DIR", str(snapshots))
    out = tmp_path / "u.csv"
    one_error_line(run("targets", "--campaign", "upsell", "--out", str(out)), "upsell_probability", "no champion")
    assert not out.exists()


@pytest.mark.parametrize(("args", "needles"), [
    (["--campaign", "reactivate"], ["--campaign", "'reactivate'", "winback", "next_purchase_reminder"]),
    (["--campaign", "winback", "--limit", "0"], ["--limit"]),
    (["--campaign", "winback", "--explain", "11"], ["--explain"]),
    (["--campaign", "winback", "--min-value", "-5"], ["--min-value"]),
    (["--campaign", "winback", "--exclude", "missing-ids.txt"], ["--exclude", "missing-ids.txt"]),
])
def test_cli_refuses_bad_options_in_one_line_before_loading_anything(args: list[str], needles: list[str],
                                                                      tmp_path: Path) -> None:
    out = tmp_path / "t.csv"
    one_error_line(run("targets", *args, "--out", str(out)), *needles)
    assert not out.exists()


def test_cli_refuses_an_unknown_output_type(tmp_path: Path) -> None:
    one_error_line(run("targets", "--campaign", "winback", "--out", str(tmp_path / "t.xlsx")), "--out", ".csv", ".json")
