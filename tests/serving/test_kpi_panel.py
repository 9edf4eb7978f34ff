"""The KPI panel of the marketers' page (serving/static/kpis.js) in Debian's headless chromium.

The page and script are the real files, served with the real /kpis and /alerts routes
(tests/serving/test_kpi_routes.py's app on the hand-built table) through Playwright's request
interception: no server and no trained model are needed. The page's other overviews answer 404.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from playwright.sync_api import Page, Route, sync_playwright

from features.settings import load_settings
from serving.auth import ApiKeyMiddleware, hash_key
from serving.keyfile import KeyRecord, append_key, now_utc
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


@contextmanager
def panel(client: TestClient, key: str) -> Iterator[Page]:
    """The page in headless Chromium, answered by ``client``, with ``key`` in the tab; no script error."""
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.route("**/*", lambda route: forward(client, route) if route.request.url.startswith(ORIGIN) else route.abort())
        # the key is in the tab before the page's script runs (set after a first load, the page's own
        # start-up 401 could forget it again)
        page.add_init_script(f"sessionStorage.setItem('memberscore.apiKey', '{key}')")
        page.goto(f"{ORIGIN}/ui")
        page.wait_for_selector("#kpi-panel figure svg path")
        yield page
        browser.close()
    assert errors == []


def test_the_panel_draws_a_line_per_kpi_and_lists_the_alerts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with panel(client_for(store_kpis(tmp_path), monkeypatch), KEY) as page:
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


def test_a_key_scoped_to_a_store_sees_that_stores_kpis(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The chain's totals are refused to it (403), so the panel asks by store and draws its store's lines."""
    keys, scoped = tmp_path / "keys", "store-s1-" + "k" * 24
    append_key(keys, KeyRecord(name="s1-manager", role="marketer", hash=hash_key(scoped), created=now_utc(),
                               stores=("s1",)))
    client = client_for(store_kpis(tmp_path), monkeypatch)
    monkeypatch.delenv("MEMBERSCORE_API_KEYS")
    monkeypatch.setenv("MEMBERSCORE_API_KEY_FILE", str(keys))
    scoped_client = TestClient(ApiKeyMiddleware(client.app.app, settings=load_settings))  # type: ignore[attr-defined]
    with panel(scoped_client, scoped) as page:
        titles = page.locator("#kpi-panel figure h3").all_text_contents()
        assert titles and all(title.endswith(" · s1") for title in titles)
