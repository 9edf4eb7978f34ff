"""Drift (features.drift) on hand-computed PSI, a planted shift in seeded data, and threshold config errors."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.drift import SHARE_FLOOR, compare_frames, psi, psi_from_shares
from features.drift_rules import DriftRules, read_drift_rules

RULES = read_drift_rules()


def test_psi_on_four_values_split_at_the_reference_median_matches_the_hand_computation() -> None:
    # reference 1,2,3,4 -> median 2.5 -> shares 0.5 / 0.5; current 1,1,1,4 -> 0.75 / 0.25
    expected = (0.75 - 0.5) * math.log(0.75 / 0.5) + (0.25 - 0.5) * math.log(0.25 / 0.5)
    assert psi(pd.Series([1, 2, 3, 4]), pd.Series([1, 1, 1, 4]), bins=2) == pytest.approx(expected, abs=1e-12)
    assert expected == pytest.approx(0.274653, abs=1e-6)


def test_an_emptied_bin_is_floored_so_the_psi_is_finite_and_large() -> None:
    expected = (1 - 0.5) * math.log(1 / 0.5) + (SHARE_FLOOR - 0.5) * math.log(SHARE_FLOOR / 0.5)
    assert psi(pd.Series([1, 2, 3, 4]), pd.Series([1, 1, 1, 1]), bins=2) == pytest.approx(expected, abs=1e-12)
    assert psi_from_shares(np.array([1, 1]), np.array([1, 1])) == 0.0


def test_categories_count_a_value_the_reference_never_had_in_its_own_bin() -> None:
    # reference a,a,b,b -> 0.5 / 0.5 / 0 (other); current a,b,c,c -> 0.25 / 0.25 / 0.5
    r, c = [0.5, 0.5, SHARE_FLOOR], [0.25, 0.25, 0.5]
    expected = sum((ci - ri) * math.log(ci / ri) for ri, ci in zip(r, c, strict=True))
    assert psi(pd.Series(list("aabb")), pd.Series(list("abcc"))) == pytest.approx(expected, abs=1e-12)


def test_missing_values_are_left_out_of_the_psi_and_reported_as_shares() -> None:
    reference = pd.DataFrame({"spend": [1.0, 2.0, 3.0, 4.0]})
    current = pd.DataFrame({"spend": [1.0, 2.0, None, None, 3.0, 4.0, None, None]})
    report = compare_frames(reference, current, RULES, features=["spend"])
    (row,) = report.columns
    assert row.psi == 0.0 and row.psi_level == "ok"
    assert (row.missing_reference, row.missing_current, row.missing_level) == (0.0, 0.5, "alert")
    assert report.breaches() == ["feature spend: missing share 0.000 -> 0.500 (alert)"]


def synthetic(rng: np.random.Generator, n: int, shift: float, start: int) -> pd.DataFrame:
    return pd.DataFrame({"member_id": np.arange(start, start + n),
                         "spend": rng.lognormal(3.0 + shift, 0.8, n),
                         "orders": rng.poisson(4.0, n),
                         "tier": rng.choice(["silver", "gold", "diamond"], n, p=[0.6, 0.3, 0.1]),
                         "churn_probability": rng.beta(2, 5, n)})


def test_a_planted_shift_in_spend_is_flagged_and_an_unshifted_resample_is_not() -> None:
    rng = np.random.default_rng(19)
    reference = synthetic(rng, 5000, 0.0, 0)
    same = synthetic(rng, 5000, 0.0, 500)
    shifted = synthetic(rng, 5000, 0.5, 4000)
    features, scores = ["spend", "orders", "tier"], ["churn_probability"]

    calm = compare_frames(reference, same, RULES, features=features, scores=scores, member_ids="member_id")
    assert calm.breaches() == []
    assert all(c.psi is not None and c.psi < 0.02 for c in calm.columns)
    assert calm.unknown_share == pytest.approx(0.1)

    moved = compare_frames(reference, shifted, RULES, features=features, scores=scores, member_ids="member_id")
    levels = {c.column: c.psi_level for c in moved.columns}
    assert levels == {"spend": "alert", "orders": "ok", "tier": "ok", "churn_probability": "ok"}
    assert moved.unknown_share == pytest.approx(0.8) and moved.unknown_level == "alert"


def test_the_packaged_thresholds_are_the_usual_psi_reading() -> None:
    assert (RULES.psi_warn, RULES.psi_alert, RULES.bins) == (0.1, 0.25, 10)
    assert [RULES.level("psi", v) for v in (0.1, 0.11, 0.25, 0.26)] == ["ok", "warn", "warn", "alert"]


@pytest.mark.parametrize(("text", "message"), [
    ("psi_warn: 0.3\n", "psi_warn (0.3) must be below psi_alert (0.25)"),
    ("bins: 1\n", "bins: Input should be greater than or equal to 2"),
    ("missing_change_alert: 2\n", "missing_change_alert: Input should be less than or equal to 1"),
    ("psi_warning: 0.1\n", "psi_warning: Extra inputs are not permitted"),
    ("- 1\n", "expected a YAML mapping"),
])
def test_a_bad_rules_file_names_the_file_the_field_and_the_reason(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match="drift rules .*rules.yaml") as error:
        read_drift_rules(path)
    assert message in str(error.value)


def test_a_rules_file_overrides_only_its_keys(tmp_path: Path) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text("psi_alert: 0.5\n", encoding="utf-8")
    assert read_drift_rules(path) == DriftRules.model_validate({**RULES.model_dump(), "psi_alert": 0.5})
    with pytest.raises(ValueError, match="file not found"):
        read_drift_rules(tmp_path / "absent.yaml")
