"""training.report_page.gate_interval: the gate's bootstrap interval and dropped baselines on the page."""

from __future__ import annotations

from training.report_page import gate_interval, render_report_page

INTERVAL = {"baseline": "bgnbd", "metric": "roc_auc", "model": 0.74, "baseline_value": 0.80, "difference": -0.06,
            "low": -0.09, "high": -0.03, "rounds": 1000, "level": 0.95}


def test_the_interval_and_its_verdict_are_shown() -> None:
    html = gate_interval({"promotion_interval": INTERVAL})
    assert ("roc_auc: model minus bgnbd = -0.0600, 95% interval -0.0900 to -0.0300 over 1000 paired bootstrap "
            "resamples of the evaluation members: not beyond noise") in html
    above = gate_interval({"promotion_interval": {**INTERVAL, "difference": 0.05, "low": 0.01, "high": 0.09}})
    assert "0.0100 to 0.0900" in above and above.endswith(": beyond noise</p>")


def test_a_dropped_baseline_is_named_escaped() -> None:
    html = gate_interval({"baselines_unavailable": {"bgnbd": "BG/NBD did not converge <retried>"}})
    assert html == '<p class="unavailable">baseline bgnbd left out: BG/NBD did not converge &lt;retried&gt;</p>'


def test_nothing_without_an_interval_and_in_the_task_section_when_there_is_one() -> None:
    assert gate_interval({}) == "" and gate_interval({"promotion_interval": None}) == ""
    page = render_report_page({"tasks": {"churn": {"promoted": False, "decision": "x", "promotion_interval": INTERVAL,
                                                   "out_of_time": {"model": {"roc_auc": 0.74}}}}})
    assert page.index("not beyond noise") < page.index('<table class="metrics">')


def test_an_interval_on_a_sample_of_rows_says_so_in_each_language() -> None:
    from features.i18n import Translator, parse_language

    chinese = Translator(parse_language("zh_CN"), "page")
    sampled = {**INTERVAL, "sample_rows": 200_000}
    assert gate_interval({"promotion_interval": sampled}).endswith(
        "not beyond noise (resampled from a seeded sample of 200,000 evaluation rows)</p>")
    assert "200,000" in gate_interval({"promotion_interval": sampled}, chinese)
    assert "重抽样取自" in gate_interval({"promotion_interval": sampled}, chinese)
    assert "seeded sample" not in gate_interval({"promotion_interval": {**INTERVAL, "sample_rows": None}})
