"""The README's example answer is what a fresh ``make run`` answers, within the stated tolerance."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.readme_example import README, TOLERANCE, differences, fresh_answer, readme_answer, render, splice

SHOWN = {"results": [{"member_id": "100", "churn_probability": 0.74, "next_purchase_median_days": 140.0,
                      "next_purchase_date": "1998-11-19", "rfm_segment": "champions",
                      "model_reasons": {"churn": [{"feature": "a"}]}}],
         "model_versions": {"churn": "1"}}


def fresh(**changes: object) -> dict:
    result = {**SHOWN["results"][0], **changes}
    return {"results": [result], "model_versions": {"churn": "1"}}


def test_numbers_within_tolerance_agree_and_beyond_it_do_not() -> None:
    assert differences(SHOWN, fresh(churn_probability=0.74 + TOLERANCE["probability"] - 1e-6)) == []
    assert differences(SHOWN, fresh(next_purchase_median_days=140.0 * 1.04, next_purchase_date="1998-11-25")) == []
    assert differences(SHOWN, fresh(churn_probability=0.80)) == [".results[0].churn_probability: README 0.74, fresh 0.8"]
    assert differences(SHOWN, fresh(next_purchase_median_days=150.0)) != []


def test_codes_versions_and_missing_fields_must_match_but_reason_order_need_not() -> None:
    assert differences(SHOWN, fresh(rfm_segment="loyal")) == [".results[0].rfm_segment: README 'champions', fresh 'loyal'"]
    assert differences(SHOWN, {**fresh(), "model_versions": {"churn": "2"}}) != []
    assert differences(SHOWN, fresh(model_reasons={"churn": [{"feature": "b"}, {"feature": "a"}]})) == []
    answer = fresh()
    del answer["results"][0]["rfm_segment"]
    assert differences(SHOWN, answer) == [".results[0].rfm_segment: missing in the fresh answer"]


def test_the_rendered_block_reads_back_as_the_shortened_answer() -> None:
    text = splice("a\n<!-- example:begin -->\nold\n<!-- example:end -->\nb", render(fresh(churn_probability=0.123456)))
    assert readme_answer(text)["results"][0]["churn_probability"] == 0.123
    assert text.startswith("a\n<!-- example:begin -->\n```json") and text.endswith("```\n<!-- example:end -->\nb")


@pytest.mark.slow
@pytest.mark.integration
@pytest.mark.minutes
def test_the_readme_example_is_what_a_fresh_make_run_answers(tmp_path: Path) -> None:
    """Train project demo on the bundled CDNOW data, serve it, ask the README's request."""
    answer = fresh_answer(tmp_path)
    assert differences(readme_answer(README.read_text(encoding="utf-8")), answer) == []


def test_the_readme_results_are_the_recorded_bench_run() -> None:
    """The tables between the README's results markers are bench/results_real_data.md, as written by
    ``bench/real_data_results.py --readme``: edited by hand, one would drift from the other."""
    from bench.real_data_results import into_readme

    readme = README.read_text(encoding="utf-8")
    recorded = (README.parent / "bench" / "results_real_data.md").read_text(encoding="utf-8")
    assert into_readme(readme, recorded) == readme
