"""bench/hillstrom_uplift.py: the contrasts keep the right rows and arms, the features are only what
was known before the e-mail, and the README's Uplift table is the recorded run (not edited by hand)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from bench.hillstrom_uplift import UPLIFT_BEGIN, contrast_rows, customer_features, into_readme

REPO = Path(__file__).resolve().parents[2]
# four customers as in hillstrom.csv.gz (its header, its codes)
ROWS = pd.DataFrame({
    "recency": [10, 6, 7, 9], "history_segment": ["2) $100 - $200", "3) $200 - $350", "2) $100 - $200", "5) $500 - $750"],
    "history": [142.44, 329.08, 180.65, 675.83], "mens": [1, 1, 0, 1], "womens": [0, 1, 1, 0],
    "zip_code": ["Surburban", "Rural", "Surburban", "Rural"], "newbie": [0, 1, 0, 1],
    "channel": ["Phone", "Web", "Web", "Web"], "segment": ["Womens E-Mail", "No E-Mail", "Womens E-Mail", "Mens E-Mail"],
    "visit": [0, 0, 0, 0], "conversion": [0, 0, 0, 0], "spend": [0.0, 0.0, 0.0, 0.0]})


def test_contrasts_keep_their_arms_and_the_control() -> None:
    keep, treated = contrast_rows(ROWS, ("Mens E-Mail", "Womens E-Mail"))
    assert keep.tolist() == [True, True, True, True] and treated.tolist() == [1, 0, 1, 1]
    keep, treated = contrast_rows(ROWS, ("Womens E-Mail",))
    assert keep.tolist() == [True, True, True, False] and treated.tolist() == [1, 0, 1]


def test_features_are_the_pre_email_covariates_and_never_an_outcome_or_the_arm() -> None:
    features = customer_features(ROWS)
    assert list(features.columns) == ["recency", "history", "mens", "womens", "newbie", "zip_code_Rural",
                                      "zip_code_Surburban", "channel_Phone", "channel_Web"]
    assert features["zip_code_Rural"].tolist() == [0.0, 1.0, 0.0, 1.0]
    assert set(features.dtypes.astype(str)) == {"float64"}


def test_the_readme_uplift_table_is_the_recorded_bench_run() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    recorded = (REPO / "bench" / "hillstrom_uplift.md").read_text(encoding="utf-8")
    assert UPLIFT_BEGIN in readme and into_readme(readme, recorded) == readme
    assert into_readme("a\n<!-- uplift:begin -->\nold\n<!-- uplift:end -->\nb", "new\n") == (
        "a\n<!-- uplift:begin -->\nnew\n<!-- uplift:end -->\nb")
