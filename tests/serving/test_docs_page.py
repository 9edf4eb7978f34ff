"""The API docs page at ``/`` in a real browser (Debian's chromium, as in ``test_page.py``): Swagger UI
draws the product's operations from /docs.json and the page asks nothing of any other origin
(BentoML's own page at ``/`` loaded Google Tag Manager)."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import sync_playwright

from tests.serving.test_page import CHROMIUM, CHROMIUM_ARGS

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_the_docs_page_loads_only_files_of_this_service(server: str) -> None:
    if not CHROMIUM.exists():
        pytest.fail(f"chromium not found at {CHROMIUM}: install Debian's chromium (see tests/serving/test_page.py)")
    requested: list[str] = []
    problems: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(base_url=server)
            # anything not from the service is refused at once, and recorded: the page must not need it
            context.route(lambda url: not url.startswith(server), lambda route: route.abort())
            page = context.new_page()
            page.on("request", lambda request: requested.append(request.url))
            page.on("pageerror", lambda error: problems.append(str(error)))
            page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
            page.goto("/")
            page.wait_for_selector("#operations-default-score_score_post, .opblock-summary-path[data-path='/score']",
                                   timeout=20_000)
            paths = page.eval_on_selector_all(".opblock-summary-path", "nodes => nodes.map(n => n.dataset.path)")
        finally:
            browser.close()
    assert {"/score", "/targets", "/readyz"} <= set(paths)
    assert f"{server}/docs.json" in requested and f"{server}/static_content/swagger-ui-bundle.js" in requested
    assert [url for url in requested if not url.startswith((server, "data:", "blob:"))] == []
    assert problems == []  # no script error, no request refused by the page's Content-Security-Policy
    html = httpx.get(f"{server}/", timeout=10)
    assert "googletagmanager" not in html.text and "default-src 'self'" in html.headers["content-security-policy"]
