"""The model-health panel of the marketers' page (serving/static/health.js) in Debian's headless chromium.

The backtests and champion-training drift sections of ``GET /monitoring`` are built in parallel, so
the panel is tested against the documented shape: a hand-built /monitoring document answered
through Playwright's request interception (no server, no model). The page and scripts are the real
files, served as the service serves them (``page_html``, ``serving.page_scripts``); the page's other
overviews answer 404.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, Page, Route, sync_playwright

from serving import page_scripts
from serving.kpi_routes import SCRIPT as KPI_SCRIPT
from serving.marketer_page import page_html
from tests.serving.test_page import CHROMIUM, CHROMIUM_ARGS

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ORIGIN = "http://memberscore.test"
KEY = "health-panel-key-0123456789abcdef"
Answer = Callable[[str], tuple[int, dict[str, Any]]]  # lang -> status, body

REASONS = {"en": ["retrain: Churn: the champion (version 3) was trained 100 days ago, more than the 90 the rule allows "
                  "(rule champion_age)"],
           "zh-CN": ["重新训练：流失：冠军模型（版本 3）训练于 100 天前，超过规则允许的 90 天（规则 champion_age）"]}


def backtest(as_of: str, churn: float, value: float, members: int) -> dict[str, Any]:
    return {"as_of": as_of, "horizon_days": 90, "evaluated_on": "2026-11-01", "members": members,
            "model_versions": {"churn": "3", "value": "2"}, "mlflow_run_id": "r1",
            "metrics": [{"task": "churn", "metric": "roc_auc", "direction": "higher", "served": churn,
                         "served_by": "model v3", "baselines": {"recency": 0.78, "bgnbd_p_alive": 0.8}},
                        {"task": "churn", "metric": "calibration_error", "direction": "lower", "served": 0.031,
                         "served_by": "model v3", "baselines": {"recency": 0.09, "bgnbd_p_alive": 0.05}},
                        {"task": "value", "metric": "normalized_gini", "direction": "higher", "served": value,
                         "served_by": "baseline bgnbd", "baselines": {"bgnbd": value, "last_year_spend": None}}]}


def column(name: str, kind: str, psi: float, psi_level: str, missing_level: str = "ok") -> dict[str, Any]:
    return {"column": name, "kind": kind, "psi": psi, "psi_level": psi_level, "missing_reference": 0.0,
            "missing_current": 0.0, "missing_level": missing_level}


def full(lang: str) -> tuple[int, dict[str, Any]]:
    """Every section filled, as the brief documents GET /monitoring."""
    return 200, {
        "as_of": "2026-12-06", "reference": {"kind": "previous_snapshot", "as_of": "2026-12-05"}, "columns": [],
        "unknown_share": 0.01, "unknown_level": "ok", "breaches": 1,
        "drift": {"reference": {"kind": "champion_training", "tasks": {"churn": "3", "value": "2"}},
                  "columns": [column("churn_probability", "score", 0.31, "alert"),
                              column("value_12m", "score", 0.02, "ok", "warn"),
                              column("spend_90d", "feature", 0.12, "warn"), column("gap_ratio", "feature", 0.01, "ok", "alert"),
                              column("tenure_days", "feature", 0.01, "ok")],
                  "unknown_share": 0.2, "unknown_level": "warn", "breaches": ["score churn_probability: PSI 0.310 (alert)"]},
        "backtests": [backtest("2026-06-01", 0.81, 0.52, 1234), backtest("2026-07-01", 0.77, 0.55, 1301)],
        "refresh": {"last_run": "2026-12-06T05:00:00Z", "outcome": "retrained", "exit_code": 3, "reasons": REASONS[lang],
                    "retrained": ["churn"], "last_retrain": "2026-12-06T05:00:00Z", "last_retrained": ["churn", "value"]}}


def empty(lang: str) -> tuple[int, dict[str, Any]]:
    """A new project: nothing matured, no champion-training drift, no refresh yet, no older snapshot."""
    return 200, {"as_of": "2026-12-06", "reference": None, "columns": [], "unknown_share": None, "unknown_level": "ok",
                 "breaches": 0, "drift": None, "backtests": [], "refresh": None}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"chromium not found at {CHROMIUM}: install Debian's chromium (or set MEMBERSCORE_CHROMIUM)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def forward(route: Route, answer: Answer, asked: list[str], scripts: TestClient) -> None:
    """The page and its scripts as served; /monitoring from ``answer`` (with the key), the rest 404."""
    url = urlsplit(route.request.url)
    if url.path == "/ui":
        route.fulfill(status=200, body=page_html("en"), content_type="text/html")
    elif url.path == "/ui/kpis.js":
        route.fulfill(status=200, body=KPI_SCRIPT.read_text(encoding="utf-8"), content_type="text/javascript")
    elif url.path == "/ui/health.js":
        served = scripts.get("/ui/health.js")
        route.fulfill(status=served.status_code, body=served.content, content_type=served.headers["content-type"])
    elif url.path == "/monitoring" and route.request.headers.get("x-api-key") == KEY:
        lang = parse_qs(url.query).get("lang", ["en"])[0]
        asked.append(lang)
        status, body = answer(lang)
        route.fulfill(status=status, body=json.dumps(body), content_type="application/json")
    else:
        route.fulfill(status=404, body=json.dumps({"error": "not here"}), content_type="application/json")


@contextmanager
def panel(browser: Browser, answer: Answer, asked: list[str] | None = None,
          drawn: str = "#health-panel .health-refresh") -> Iterator[Page]:
    """The page with ``KEY`` in the tab, its model-health panel drawn (``drawn`` shown); no script error."""
    app = FastAPI()
    app.include_router(page_scripts.router)
    errors: list[str] = []
    page = browser.new_page()
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.route("**/*", lambda route: forward(route, answer, [] if asked is None else asked, TestClient(app))
               if route.request.url.startswith(ORIGIN) else route.abort())
    page.add_init_script(f"sessionStorage.setItem('memberscore.apiKey', '{KEY}')")
    page.goto(f"{ORIGIN}/ui")
    page.wait_for_selector(drawn)
    yield page
    page.close()
    assert errors == []


def texts(page: Page, selector: str) -> list[str]:
    return [" ".join(t.split()) for t in page.locator(selector).all_text_contents()]


def test_backtests_drift_and_refresh_in_english_then_chinese(browser: Browser) -> None:
    asked: list[str] = []
    with panel(browser, full, asked) as page:
        assert texts(page, "#health-panel #health-title") == ["Model health"]
        assert texts(page, "#health-panel .health-backtests article > h3") == ["churn", "value"]
        churn = page.locator("#health-panel figure[data-task=churn][data-metric=roc_auc]")
        assert texts(page, "#health-panel figure[data-metric=roc_auc] h4") == ["ROC AUC (higher is better)"]
        assert [texts(page, f"#health-panel figure[data-metric=roc_auc] tbody tr:nth-child({n}) td") for n in (1, 2)] == [
            ["2026-06-01", "0.810", "bgnbd p alive 0.800", "model v3", "1,234"],
            ["2026-07-01", "0.770", "bgnbd p alive 0.800", "model v3", "1,301"]]
        # lower is better: the best baseline of a calibration error is the smallest
        assert texts(page, "#health-panel figure[data-metric=calibration_error] tbody tr:first-child td")[2] == "bgnbd p alive 0.050"
        assert churn.locator("circle.served").count() == 2 and churn.locator("circle.baseline").count() == 2
        served_path = churn.locator("path.served").get_attribute("d") or ""
        assert served_path.count("L") == 1  # one segment from June's 0.81 down to July's 0.77
        gini = page.locator("#health-panel figure[data-task=value] tbody tr:first-child td").all_text_contents()
        assert gini[1:4] == ["0.520", "bgnbd 0.520", "baseline bgnbd"]  # a missing baseline is left out
        assert texts(page, "#health-panel .drift-scores tbody td") == [
            "churn probability", "0.310", "alert", "value 12m", "0.020", "warn"]  # the worse of PSI and missing share
        assert texts(page, "#health-panel .drift-features") == ["2 features beyond their thresholds"]
        assert texts(page, "#health-panel .drift-previous") == ["Since the previous snapshot (2026-12-05): 1 breach"]
        assert texts(page, "#health-panel .health-drift p.small")[0] == "Compared with the training data of churn v3, value v2."
        assert texts(page, "#health-panel .last-run") == ["Last run: 2026-12-06 05:00 UTC (retrained)"]
        assert texts(page, "#health-panel .refresh-reasons li") == REASONS["en"]
        assert texts(page, "#health-panel .last-retrain") == ["Last retrain: 2026-12-06 05:00 UTC (churn, value)"]

        page.click("#language-switch [data-lang='zh-CN']")
        page.wait_for_function("document.querySelector('#health-panel .last-run')?.textContent.includes('上次运行')")
        assert texts(page, "#health-panel #health-title") == ["模型健康"]
        assert texts(page, "#health-panel .last-run") == ["上次运行：2026-12-06 05:00 UTC（已重新训练）"]
        assert texts(page, "#health-panel .refresh-reasons li") == REASONS["zh-CN"]
        assert texts(page, "#health-panel .drift-scores tbody td")[2::3] == ["告警", "预警"]
        assert texts(page, "#health-panel .drift-features") == ["2 个特征超出阈值"]
        assert texts(page, "#health-panel figure[data-metric=roc_auc] h4") == ["ROC AUC (越高越好)"]
        assert texts(page, "#health-panel .health-backtests article > h3") == ["流失", "价值"]
        assert texts(page, "#health-panel figure[data-metric=roc_auc] tbody tr:first-child td")[2] == "bgnbd p alive 0.800"
        assert asked[0] == "en" and asked[-1] == "zh-CN"


def test_empty_sections_say_so_plainly(browser: Browser) -> None:
    with panel(browser, empty) as page:
        assert texts(page, "#health-panel .empty") == [
            "No backtest has matured yet: a snapshot's scores are checked once their horizon has passed.",
            "No drift check against the champions' training data yet.", "The daily refresh has not run yet."]
        assert page.locator("#health-panel .drift-previous").count() == 0 and page.locator("#health-panel svg").count() == 0


def test_a_store_scoped_key_is_told_why_it_sees_nothing(browser: Browser) -> None:
    refused: Answer = lambda lang: (403, {"error": "key 's1' sees only the members of stores s1"})  # noqa: E731
    with panel(browser, refused, drawn="#health-panel .health-status.error") as page:
        assert texts(page, "#health-panel .health-status.error") == [
            "Model health covers every store's members: a key scoped to stores cannot see it."]
        assert page.locator("#health-panel .health-body > *").count() == 0
