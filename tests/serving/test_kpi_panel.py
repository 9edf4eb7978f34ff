"""The KPI panel of the marketers' page (serving/static/kpis.js) in Debian's headless chromium.

The page and script are the real files, served with the real /kpis and /alerts routes
(tests/serving/test_kpi_routes.py's app on the hand-built table) through Playwright's request
interception: no server and no trained model are needed. The page's other overviews answer 404.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Route, sync_playwright

from tests.serving.test_kpi_routes import KEY, client_for, store_kpis
from tests.serving.test_page import CHROMIUM, CHROMIUM_ARGS

pytestmark = [pytest.mark.integration, pytest.mark.slow]
ORIGIN = "http://memberscore.test"


def forward(client: TestClient, route: Route) -> None:
    """Answer the browser's request from the in-process app (the page at /ui is the real one, catalogues put in)."""
    path = route.request.url.removeprefix(ORIGIN)
    if path == "/ui":
        from serving.marketer_page import page_html

        route.fulfill(status=200, body=page_html("en"), content_type="text/html")
        return
    answer = client.get(path, headers={"X-API-Key": route.request.headers.get("x-api-key", "")})
    route.fulfill(status=answer.status_code, body=answer.content,
                  content_type=answer.headers.get("content-type", "application/json"))


def test_the_panel_draws_a_line_per_kpi_and_lists_the_alerts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    client = client_for(store_kpis(tmp_path), monkeypatch)
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.route("**/*", lambda route: forward(client, route) if route.request.url.startswith(ORIGIN) else route.abort())
        # the key is in the tab before the page's script runs (set after a first load, the page's own
        # start-up 401 could forget it again)
        page.add_init_script(f"sessionStorage.setItem('memberscore.apiKey', '{KEY}')")
        page.goto(f"{ORIGIN}/ui")
        page.wait_for_selector("#kpi-panel figure svg path")
        titles = page.locator("#kpi-panel figure h3").all_text_contents()
        assert titles[:3] == ["active members", "new members", "repurchase rate"] and len(titles) == 12
        churn = page.locator("#kpi-panel figure", has_text="churn rate")
        assert churn.locator("circle").count() == 3  # one per month but January (no one to lose yet: null)
        assert churn.locator("circle[fill='#b42318']").count() == 1  # March, the alert
        alerts = page.locator("#kpi-panel .kpi-alerts li").all_text_contents()
        assert alerts == ["2024-03-01 churn rate: 60.0% against 0.0% in 2024-02-01 (+60.0 points, threshold 50)"]
        assert page.locator("#kpi-panel #kpi-title").text_content() == "Membership KPIs over time"
        page.select_option("#kpi-freq", "week")
        page.wait_for_function("document.querySelectorAll('#kpi-panel figure')[0]"
                               ".querySelectorAll('circle').length > 4")
        browser.close()
    assert errors == []
