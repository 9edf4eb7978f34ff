"""bench/sampling.py's comparison and table on planted reports (the bench itself is run by hand)."""

from __future__ import annotations

from typing import Any

from bench.sampling import compare, render_markdown


def run(churn_auc: float, value_gini: float, rows: int) -> dict[str, Any]:
    def task(metric: str, value: float) -> dict[str, Any]:
        return {"out_of_time": {"model": {metric: value, "n": 1000.0}}, "promotion_interval": {"metric": metric},
                "promoted": True, "members": {"train_rows": rows}}

    return {"seconds": rows / 1000, "peak_rss_mb": rows / 100,
            "report": {"tasks": {"churn": task("roc_auc", churn_auc), "value": task("normalized_gini", value_gini)}}}


def test_verdict_is_the_promotion_metrics_difference_against_the_tolerance() -> None:
    tasks = compare(run(0.8000, 0.9000, 60_000), run(0.7960, 0.8900, 6_000), tolerance=0.005)
    assert tasks["churn"]["verdict"] == "holds"
    assert abs(tasks["churn"]["difference"]["roc_auc"] - -0.004) < 1e-12
    assert tasks["value"]["verdict"] == "differs"
    assert tasks["churn"]["members"] == {"full": {"train_rows": 60_000}, "sampled": {"train_rows": 6_000}}


def test_a_task_the_sampled_run_lacks_is_named_not_dropped() -> None:
    sampled = run(0.8, 0.9, 6_000)
    del sampled["report"]["tasks"]["value"]
    tasks = compare(run(0.8, 0.9, 60_000), sampled, tolerance=0.005)
    assert tasks["value"] == {"verdict": "absent from the sampled run"}
    full, part = run(0.8, 0.9, 60_000), run(0.7960, 0.9, 6_000)
    entry = {"lines": 1_000_000, "max_members": 10_000, "full": full, "sampled": part, "tasks": compare(full, part, 0.005)}
    table = render_markdown({"runs": {"1m_10000": entry}, "tolerance": 0.005, "machine": {"cpu": "planted", "cores": 2}})
    assert "| 1,000,000 | 10,000 | full / sampled | 60 / 6 | 600 / 60 | churn | roc_auc | 0.8000 | 0.7960 | -0.0040 | holds |" in table
