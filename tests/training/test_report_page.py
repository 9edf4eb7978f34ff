"""training.report_page: the evaluation page read back with the standard-library HTML parser.

Pinned: one section per task; one table row per scorer (model first, champion last) and one column
per metric, values to 4 decimals and counts as whole numbers; the best cell per column marked by the
metric's direction (training.evaluate: lower for brier, brier_30d, mae and ece, higher otherwise;
descriptive columns such as n never marked); NaN as an em dash; figures as inline base64 PNGs with
alt text; the project, data file, rows, members, days and fingerprint named; every report string
escaped; nothing loaded from outside the page.
"""

from __future__ import annotations

import base64
import re
from html.parser import HTMLParser
from typing import Any

import pytest
from matplotlib.figure import Figure

from training.plots import png
from training.report_page import render_report_page

NAN = float("nan")
HOSTILE = "<script>alert('x')</script> & \"quoted\""

REPORT: dict[str, Any] = {
    "project": "corner-shop",
    "data": {"transactions": "shop_2024.parquet", "rows": 69659, "members": 2447,
             "first_day": "2023-01-01", "last_day": "2024-06-30", "fingerprint": "sha256:abc123"},
    "data_fingerprint": "sha256:abc123",
    "cutoffs": {"evaluation": "2024-07-01", "training": ["2024-01-01", "2024-04-01"]},
    "tasks": {
        "churn": {
            "promoted": True,
            "decision": "challenger roc_auc 0.8300 beats the baselines",
            "model_version": "3",
            "out_of_time": {
                "rfm_rule": {"roc_auc": 0.7012, "brier": 0.2001, "lift_top_decile": 1.5, "n": 500.0},
                "model": {"roc_auc": 0.8300, "brier": 0.1523, "lift_top_decile": 2.25, "n": 500.0},
                "champion": {"roc_auc": 0.8111, "brier": 0.1499, "lift_top_decile": NAN, "n": 500.0},
                "recency_over_gap": {"roc_auc": 0.7564, "brier": 0.2345, "lift_top_decile": 1.75, "n": 500.0},
            },
        },
        "value": {
            "promoted": False,
            "decision": HOSTILE,
            "model_version": "1",
            "out_of_time": {
                "model": {"normalized_gini": 0.61, "mae": 41.125, "spearman": NAN},
                "bgnbd": {"normalized_gini": 0.55, "mae": 39.5, "spearman": 0.42},
            },
        },
        "next_purchase": {
            "promoted": True,
            "decision": "promoted",
            "calibration": {"method": "aft_sigma", "parameter": 1.15, "fitted_on": "2024-01-01", "rows": 2447,
                            "before": {"ece_30d": 0.0166}, "after": {"ece_30d": 0.0074}},
            "out_of_time": {
                "model": {"concordance": 0.73, "brier_30d": 0.0963, "ece_30d": 0.0074, "base_rate_30d": 0.8, "n": 2447.0},
                "bgnbd": {"concordance": 0.72, "brier_30d": 0.0995, "ece_30d": 0.0300, "base_rate_30d": 0.8, "n": 2447.0},
                "recency_over_gap": {"concordance": 0.58, "brier_30d": 0.1202, "ece_30d": 0.0100,
                                     "base_rate_30d": 0.8, "n": 2447.0},
            },
        },
    },
}


class _Page(HTMLParser):
    """Collects table rows as [(tag, class, text)], the <img> attributes and tag-level facts."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[tuple[str, str, str]]]] = []
        self.images: list[dict[str, str]] = []
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.decisions: list[str] = []
        self._cell: tuple[str, str] | None = None
        self._text = ""
        self._in_decision = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {key: value or "" for key, value in attrs}
        self.tags.append((tag, attributes))
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th") and self.tables:
            self._cell, self._text = (tag, attributes.get("class", "")), ""
        elif tag == "img":
            self.images.append(attributes)
        elif tag == "span" and attributes.get("class") == "decision":
            self._in_decision, self._text = True, ""

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell:
            self.tables[-1][-1].append((*self._cell, self._text))
            self._cell = None
        elif tag == "span" and self._in_decision:
            self.decisions.append(self._text)
            self._in_decision = False

    def handle_data(self, data: str) -> None:
        self._text += data


def _figure() -> Figure:
    figure = Figure(figsize=(2, 2))
    figure.add_subplot().plot([0, 1], [0, 1])
    return figure


@pytest.fixture(scope="module")
def html() -> str:
    figures = {"churn": {"roc.png": png(_figure()), "gain.png": png(_figure())}, "value": {"lorenz.png": png(_figure())}}
    return render_report_page(REPORT, figures)


@pytest.fixture(scope="module")
def page(html: str) -> _Page:
    parser = _Page()
    parser.feed(html)
    return parser


def _table(page: _Page, index: int) -> dict[str, dict[str, tuple[str, str]]]:
    """scorer -> metric -> (class, text) for the index-th metric table."""
    header, *rows = page.tables[index]
    metrics = [text for _, _, text in header[1:]]
    return {row[0][2]: {m: (cls, text) for m, (_, cls, text) in zip(metrics, row[1:], strict=True)} for row in rows}


def test_page_has_every_task_scorer_and_value_to_four_decimals(page: _Page) -> None:
    headings = [tag for tag, _ in page.tags if tag == "h2"]
    assert len(headings) == len(page.tables) == 3
    for index, task in enumerate(REPORT["tasks"].values()):
        table = _table(page, index)
        assert set(table) == set(task["out_of_time"])
        for scorer, metrics in task["out_of_time"].items():
            assert set(table[scorer]) == set(metrics)
            for metric, value in metrics.items():
                if value == value and metric != "n":  # not NaN, not a count
                    assert table[scorer][metric][1] == f"{value:.4f}"
    assert _table(page, 0)["model"]["roc_auc"][1] == "0.8300"


def test_counts_render_as_whole_numbers(html: str, page: _Page) -> None:
    """n is a count: 500 and 2,447, never 500.0000 or 2447.0000; the run facts' counts likewise."""
    assert {row["n"][1] for row in _table(page, 0).values()} == {"500"}
    assert {row["n"][1] for row in _table(page, 2).values()} == {"2,447"}
    assert "2447.0000" not in html and "500.0000" not in html
    assert "<dd>69,659</dd>" in html and "<dd>2,447</dd>" in html


def test_run_facts_name_the_project_data_and_fingerprint(html: str) -> None:
    for fact in ("<dt>project</dt><dd>corner-shop</dd>", "<dt>transactions</dt><dd>shop_2024.parquet</dd>",
                 "<dt>first day</dt><dd>2023-01-01</dd>", "<dt>last day</dt><dd>2024-06-30</dd>",
                 "<dt>data fingerprint</dt><dd>sha256:abc123</dd>"):
        assert fact in html


def test_a_report_without_project_or_data_still_names_what_it_has() -> None:
    """No project key: no project line (a missing fingerprint shows an em dash, not an empty cell)."""
    html = render_report_page({"tasks": {}})
    assert "project" not in html
    assert "<dt>data fingerprint</dt><dd>\u2014</dd>" in html


def test_best_brier_is_the_lowest_for_every_task(page: _Page) -> None:
    """brier and brier_30d, ece_30d: lower is better; concordance higher; n and base rates never marked."""
    churn, _, timing = _table(page, 0), _table(page, 1), _table(page, 2)
    assert [s for s, row in churn.items() if row["brier"][0] == "best"] == ["champion"]
    assert [s for s, row in timing.items() if row["brier_30d"][0] == "best"] == ["model"]
    assert [s for s, row in timing.items() if row["ece_30d"][0] == "best"] == ["model"]
    assert [s for s, row in timing.items() if row["concordance"][0] == "best"] == ["model"]
    assert not any(row[m][0] == "best" for row in timing.values() for m in ("n", "base_rate_30d"))


def test_calibration_before_and_after_is_told(html: str) -> None:
    """A booster calibrated before the distribution was chosen says it kept the trained one."""
    assert "AFT sigma 1.1500 (the distribution the model was trained with), fitted on the 2024-01-01 training " \
           "cut-off (2,447 members); ece_30d 0.0166 before, 0.0074 after." in html


def test_model_row_first_and_champion_row_last(page: _Page) -> None:
    scorers = [row[0][2] for row in page.tables[0][1:]]
    assert scorers == ["model", "rfm_rule", "recency_over_gap", "champion"]


def test_best_cell_per_column_is_marked(page: _Page) -> None:
    """Higher is better for roc_auc and normalized_gini, lower for brier and mae; n is never ranked."""
    marked = {
        index: {(scorer, metric) for scorer, row in _table(page, index).items() for metric, (cls, _) in row.items()
                if cls == "best"}
        for index in (0, 1)
    }
    assert marked[0] == {("model", "roc_auc"), ("champion", "brier"), ("model", "lift_top_decile")}
    # spearman: the model's NaN cannot win, the one finite value does
    assert marked[1] == {("model", "normalized_gini"), ("bgnbd", "mae"), ("bgnbd", "spearman")}


def test_nan_renders_as_an_em_dash(page: _Page) -> None:
    assert _table(page, 0)["champion"]["lift_top_decile"] == ("", "\u2014")
    assert _table(page, 1)["model"]["spearman"] == ("", "\u2014")


def test_figures_are_inline_pngs_with_alt_text(page: _Page) -> None:
    assert [image["alt"] for image in page.images] == ["churn: roc.png", "churn: gain.png", "value: lorenz.png"]
    for image in page.images:
        prefix, _, payload = image["src"].partition(",")
        assert prefix == "data:image/png;base64"
        assert base64.b64decode(payload, validate=True).startswith(b"\x89PNG\r\n\x1a\n")


def test_hostile_strings_are_escaped(html: str, page: _Page) -> None:
    assert "<script" not in html
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; &quot;quoted&quot;" in html
    assert page.decisions == [REPORT["tasks"]["churn"]["decision"], HOSTILE, "promoted"]  # text round-trips intact


def test_page_is_self_contained(html: str, page: _Page) -> None:
    assert not any(tag in ("script", "link", "iframe") for tag, _ in page.tags)
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)
    assert "sha256:abc123" in html and "2024-07-01" in html


def test_escapes_task_and_scorer_names_and_handles_a_bare_report() -> None:
    """Names are escaped as well; a report without tasks or figures still renders a page."""
    hostile = {"tasks": {"<b>x</b>": {"out_of_time": {"<i>m</i>": {"<u>auc</u>": 0.5}}}}}
    html = render_report_page(hostile)
    assert "<b>" not in html and "<i>" not in html and "<u>" not in html
    assert "&lt;b&gt;x&lt;/b&gt;" in html and "0.5000" in html
    assert render_report_page({}).startswith("<!DOCTYPE html>")


def test_the_train_report_carries_the_data_facts_the_page_shows() -> None:
    """cli.train.run_report (the JSON of ``train --report``) names the file, rows, members, days and
    fingerprint, worked out on three hand-made rows; the page renders them."""
    import pandas as pd

    from cli.train import run_report
    from features.load import LoadReport
    from features.snapshot import data_fingerprint
    from training.pipeline import TrainingRun, describe_data

    transactions = pd.DataFrame({"member_id": ["a", "b", "a"], "amount": [5.0, 7.0, 9.0],
                                 "ts": pd.to_datetime(["2024-01-03 10:00", "2024-02-01 00:00", "2024-03-31 23:59"])})
    run = TrainingRun(data=describe_data(transactions))
    load = LoadReport(source="/some/dir/shop.csv", rows_read=4, rows_kept=3, rejected_by_reason={"bad": 1},
                      rejects_path=None)
    report = run_report(run, load, "shop-a")
    assert report["project"] == "shop-a"
    fingerprint = data_fingerprint(transactions)
    assert report["data"] == {"transactions": "shop.csv", "fingerprint": fingerprint, "rows": 3, "members": 2,
                              "first_day": "2024-01-03", "last_day": "2024-03-31"}
    assert report["data_fingerprint"] == fingerprint and len(fingerprint) == 16
    html = render_report_page(report)
    assert f"<dt>data fingerprint</dt><dd>{fingerprint}</dd>" in html and "<dd>shop.csv</dd>" in html
