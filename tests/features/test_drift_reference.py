"""Drift from a champion's training data (features.drift_reference, features.drift_profile): a planted shift
in seeded frames, the profile's JSON round trip, agreement with a direct PSI, and unknown members by first purchase."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.drift import compare, compare_frames, psi_from_shares
from features.drift_profile import MAX_VALUES, OTHER, Profile, profile
from features.drift_reference import (
    TrainingReference,
    build_reference,
    read_reference,
    reference_path,
    training_drift,
    unknown_share,
    write_reference,
)
from features.drift_rules import read_drift_rules

RULES = read_drift_rules()
FEATURES = ["spend_90d", "orders_365d", "tenure_days", "gap_ratio"]
AS_OF, DATA_END = date(2024, 6, 1), date(2024, 3, 1)  # 92 days apart


def members(rng: np.random.Generator, n: int, *, spend_shift: float = 0.0) -> pd.DataFrame:
    return pd.DataFrame({"spend_90d": rng.lognormal(4.0 + spend_shift, 0.7, n),
                         "orders_365d": rng.poisson(5.0, n).astype(float),
                         "tenure_days": rng.uniform(100.0, 900.0, n),
                         "gap_ratio": np.where(rng.random(n) < 0.1, np.nan, rng.gamma(2.0, 0.5, n))})


def scores(rng: np.random.Generator, n: int, *, churn_shift: float = 0.0) -> pd.DataFrame:
    return pd.DataFrame({"churn_probability": rng.beta(2.0 + churn_shift, 5.0, n)})


def stored(tmp_path: Path, seed: int = 25) -> TrainingReference:
    rng = np.random.default_rng(seed)
    reference = build_reference("churn", "3", "run-3", DATA_END, training_rows=members(rng, 6000),
                                feature_names=FEATURES, evaluation_scores=scores(rng, 3000), bins=RULES.bins)
    write_reference(reference, tmp_path)
    return reference


def test_a_planted_shift_in_one_feature_and_one_score_breaches_and_nothing_else_does(tmp_path: Path) -> None:
    stored(tmp_path)
    rng = np.random.default_rng(7)
    calm = training_drift(members(rng, 4000), scores(rng, 4000), AS_OF, {"churn": "3"}, tmp_path, RULES)
    assert calm.breaches() == [] and calm.unavailable == {}
    assert all(c.psi is not None and c.psi < 0.02 for c in calm.reports["churn"].columns)

    moved = training_drift(members(rng, 4000, spend_shift=0.6), scores(rng, 4000, churn_shift=3.0), AS_OF,
                           {"churn": "3"}, tmp_path, RULES)
    report = moved.reports["churn"]
    assert {c.column: (c.kind, c.psi_level) for c in report.columns} == {
        "spend_90d": ("feature", "alert"), "orders_365d": ("feature", "ok"), "tenure_days": ("feature", "ok"),
        "gap_ratio": ("feature", "ok"), "churn_probability": ("score", "alert")}
    assert all(c.missing_level == "ok" for c in report.columns)
    assert [line.split(":")[:2] for line in moved.breaches()] == [
        ["churn v3", " feature spend_90d"], ["churn v3", " score churn_probability"]]


def test_a_frame_against_its_own_profile_has_psi_zero_and_the_same_missing_share() -> None:
    frame = members(np.random.default_rng(1), 2000)
    report = compare(profile(frame, features=FEATURES, bins=10), frame, RULES)
    assert [c.psi for c in report.columns] == pytest.approx([0.0] * 4, abs=1e-12)
    gap = next(c for c in report.columns if c.column == "gap_ratio")
    assert gap.missing_reference == gap.missing_current == pytest.approx(frame["gap_ratio"].isna().mean())


def test_the_profile_psi_agrees_with_a_direct_computation_on_the_frames() -> None:
    rng = np.random.default_rng(3)
    reference, current = members(rng, 3000), members(rng, 3000, spend_shift=0.2)
    ref, cur = reference["spend_90d"].to_numpy(), current["spend_90d"].to_numpy()
    inner = np.quantile(ref, np.linspace(0, 1, 11)[1:-1])
    edges = np.concatenate([[-np.inf], inner, [np.inf]])
    # np.histogram bins are closed on the left like searchsorted(side="right"); the last edge is +inf
    direct = psi_from_shares(np.histogram(ref, edges)[0], np.histogram(cur, edges)[0])
    via_profile = compare(profile(reference, features=["spend_90d"], bins=10), current, RULES).columns[0].psi
    via_frames = compare_frames(reference, current, RULES, features=["spend_90d"]).columns[0].psi
    assert via_profile == pytest.approx(direct, abs=1e-12) and via_frames == via_profile
    assert direct > 0.01


def test_the_stored_profile_round_trips_and_holds_no_rows(tmp_path: Path) -> None:
    reference = stored(tmp_path)
    path = reference_path(tmp_path, "churn", "3")
    assert path == tmp_path / "reference" / "churn-v3.json"
    assert read_reference(tmp_path, "churn", "3") == reference
    assert read_reference(tmp_path, "churn", "4") is None
    assert path.stat().st_size < 5_000  # 6,000 training rows, 3,000 scored rows: a few KB
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["data_end"] == "2024-03-01" and document["features"]["rows"] == 6000
    # orders_365d is a count: tied deciles merge (Poisson(5) has 7 distinct inner deciles -> 8 bins)
    assert [len(c["shares"]) for c in document["features"]["columns"]] == [10, 8, 10, 10]


def test_a_text_column_keeps_its_most_frequent_values_and_other(tmp_path: Path) -> None:
    values = pd.Series([f"v{i:02d}" for i in range(MAX_VALUES + 10)] + ["v00"] * 40)
    column = profile(pd.DataFrame({"tier": values}), features=["tier"]).columns[0]
    assert column.values is not None and len(column.values) == MAX_VALUES and column.values[0] == "v00"
    assert column.shares[-1] == pytest.approx(10 / 100) and sum(column.shares) == pytest.approx(1.0)
    assert Profile.from_dict(json.loads(json.dumps(profile(pd.DataFrame({"tier": values}), features=["tier"]).to_dict()))
                             ).columns[0] == column
    assert list(column.counts(pd.Series(["v00", "new", None]))) == [1] + [0] * (MAX_VALUES - 1) + [1]
    assert OTHER == "__other__"


def test_unknown_members_are_those_whose_first_purchase_is_on_or_after_the_training_data_end() -> None:
    # as of 2024-06-01, data ended 2024-03-01: first purchase on/after it <=> tenure <= 92 days
    features = pd.DataFrame({"tenure_days": [10.0, 91.9, 92.0, 92.5, 400.0]})
    assert unknown_share(features, AS_OF, DATA_END) == pytest.approx(3 / 5)
    assert unknown_share(features, DATA_END, DATA_END) == 0.0  # the snapshot trained on: nobody is new
    assert unknown_share(pd.DataFrame({"spend": [1.0]}), AS_OF, DATA_END) is None


def test_a_missing_or_foreign_profile_is_not_compared_and_says_why(tmp_path: Path) -> None:
    stored(tmp_path)
    frame, scored = members(np.random.default_rng(2), 100), scores(np.random.default_rng(2), 100)
    drift = training_drift(frame, scored, AS_OF, {"churn": "3", "value": "2"}, tmp_path, RULES,
                           run_ids={"churn": "run-9"})
    assert drift.reports == {}
    assert "from run run-3, the served model from run run-9" in drift.unavailable["churn"]
    assert "no training profile stored for value v2" in drift.unavailable["value"]
    reference_path(tmp_path, "churn", "3").write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match=r"drift reference .*churn-v3.json: not a readable profile"):
        training_drift(frame, scored, AS_OF, {"churn": "3"}, tmp_path, RULES)


def test_an_exempt_column_keeps_its_levels_but_is_never_a_breach_or_an_alert(tmp_path: Path) -> None:
    from features.drift_alerts import drift_alerts
    from features.i18n import Translator

    stored(tmp_path)
    rng = np.random.default_rng(7)
    rules = RULES.model_copy(update={"exempt": ("spend_90d",)})
    moved = training_drift(members(rng, 4000, spend_shift=0.6), scores(rng, 4000, churn_shift=3.0), AS_OF,
                           {"churn": "3"}, tmp_path, rules)
    spend = next(c for c in moved.reports["churn"].columns if c.column == "spend_90d")
    assert (spend.psi_level, spend.judged) == ("alert", False)
    assert [line.split(":")[1] for line in moved.breaches()] == [" score churn_probability"]
    assert [a["column"] for a in drift_alerts(moved, rules, Translator("en"))] == ["churn_probability"]
