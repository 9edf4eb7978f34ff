"""The marketers' page (GET /ui) in a real browser: Debian's chromium, headless, driven by Playwright.

Issue 4: load the page, enter the key, pick a campaign, check the rows shown are those POST
/targets gives for the same body, check the charts, take a screenshot. Issue 17: the same page in
Chinese after the language switch, remembered, with a screenshot kept in docs/. The browser is the
system's chromium (no ``playwright install``: the network is closed); when it is missing the
test fails and says how to install it.
"""

from __future__ import annotations

import csv
import io
import math
import os
import re
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, Request, Route, sync_playwright

from serving.targets import ROW_COLUMNS
from tests.serving.conftest import API_KEY, REPO

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CHROMIUM = Path(os.environ.get("MEMBERSCORE_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
# Set to refresh the README's pictures from a test run: MEMBERSCORE_UPDATE_DOCS_SCREENSHOT=1.
DOCS_SCREENSHOT = REPO / "docs" / "marketer-page.png"
DOCS_SCREENSHOT_ZH = REPO / "docs" / "marketer-page-zh.png"
DIMENSIONS = ("rfm_segment", "tier", "abc_class", "lifecycle_stage")
GATE_METRIC = {"churn": "roc_auc", "next_purchase": "concordance", "upsell": "roc_auc",
               "value": "normalized_gini", "value_12m": "normalized_gini"}
HEALTH_DRAWN = "#health-panel .health-refresh, #health-panel .health-status.error"  # the model-health panel's answer
NO_FILTERS = {"segments": None, "tiers": None, "abc_classes": None, "lifecycle_stages": None,
              "min_value": None, "exclude_member_ids": []}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's chromium; a missing browser is a failure with the fix, never a skip."""
    if not CHROMIUM.exists():
        pytest.fail(f"chromium not found at {CHROMIUM}: install Debian's chromium "
                    "(`sudo apt-get install chromium`, or set MEMBERSCORE_CHROMIUM; .ci/run does it in CI)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@dataclass
class Tab:
    """A browser tab on /ui with every URL it requested and every uncaught script error."""

    page: Page
    server: str
    requested: list[str] = field(default_factory=list)
    script_errors: list[str] = field(default_factory=list)

    def assert_clean(self) -> None:
        """No script error, and no request left the service (no CDN: the network is closed)."""
        assert self.script_errors == []
        assert [url for url in self.requested if not url.startswith((self.server, "blob:", "data:"))] == []


@pytest.fixture
def tab(browser: Browser, server: str) -> Iterator[Tab]:
    """A fresh tab (own sessionStorage) that has loaded /ui."""
    context = browser.new_context(base_url=server, viewport={"width": 1280, "height": 900}, accept_downloads=True,
                                  locale="en-US")  # the browser's Accept-Language: the page starts in English
    context.set_default_timeout(20_000)
    # Anything not from the service is refused at once (and recorded): the page must not need it.
    context.route(lambda url: not url.startswith(server), lambda route: route.abort())
    opened = Tab(context.new_page(), server)
    opened.page.on("request", lambda request: opened.requested.append(request.url))
    opened.page.on("pageerror", lambda error: opened.script_errors.append(str(error)))
    opened.page.goto("/ui")
    yield opened
    context.close()


def connect(page: Page, key: str = API_KEY) -> None:
    """Type the key as a marketer would and wait until the three overviews are drawn."""
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Connect").click()
    page.wait_for_selector("#content", state="visible")
    page.wait_for_selector("#segments[aria-busy=false]")
    page.wait_for_selector("#models[aria-busy=false]")
    page.wait_for_selector(HEALTH_DRAWN)  # drawn late, it would move the buttons below it under a click
    page.wait_for_selector("#campaign option[value=winback]", state="attached")


def pick_campaign(page: Page, campaign: str) -> Request:
    """Choose ``campaign``; return the POST /targets the page sent, once its rows are shown."""
    with page.expect_request(lambda r: r.url.endswith("/targets") and r.method == "POST") as sent:
        page.get_by_label("Campaign", exact=True).select_option(campaign)
    page.wait_for_selector(f"#targets[data-state=ready][data-campaign={campaign}]")
    return sent.value


def shown_member_ids(page: Page) -> list[str]:
    return page.eval_on_selector_all("#targets tbody tr[data-member-id]", "rows => rows.map(r => r.dataset.memberId)")


def test_page_needs_no_key_to_load_but_shows_no_data_without_one(tab: Tab) -> None:
    """/ui itself is public and holds no data: without a key the page only asks for one."""
    assert httpx.get(f"{tab.server}/ui", timeout=10).headers["content-type"].startswith("text/html")
    tab.page.wait_for_function("document.getElementById('status').textContent.includes('API key')")
    assert tab.page.is_hidden("#content")
    assert tab.page.get_by_label("API key").get_attribute("type") == "password"
    tab.assert_clean()


def test_wrong_key_is_refused_and_forgotten(tab: Tab) -> None:
    """A refused key says so, shows nothing and is not kept in the tab's storage."""
    tab.page.get_by_label("API key").fill("not-the-key")
    tab.page.get_by_role("button", name="Connect").click()
    tab.page.wait_for_function("document.getElementById('status').textContent.includes('refused')")
    assert tab.page.is_hidden("#content")
    assert tab.page.evaluate("sessionStorage.length") == 0
    tab.assert_clean()


def test_campaign_rows_match_targets_for_the_same_body(tab: Tab, client: httpx.Client, tmp_path: Path) -> None:
    """Picking a campaign sends the body the form shows and lists exactly /targets' rows, in order."""
    page = tab.page
    connect(page)
    page.get_by_label("Rows to show").fill("12")
    request = pick_campaign(page, "winback")
    assert request.post_data_json == {"campaign": "winback", "limit": 12, "filters": NO_FILTERS, "explain": 3}
    assert request.headers["x-api-key"] == API_KEY
    expected = client.post("/targets", json=request.post_data_json).json()
    assert len(expected["rows"]) == 12, "the synthetic snapshot should hold 12+ lapsing members"
    assert shown_member_ids(page) == [row["member_id"] for row in expected["rows"]]
    first = page.locator("#targets tbody tr").first
    assert first.locator("[data-column=reasons] li").all_inner_texts() == expected["rows"][0]["reasons"]
    assert f"of {expected['eligible']:,} eligible" in page.inner_text("#targets-summary")
    screenshot = tmp_path / "marketer-page.png"
    page.screenshot(path=screenshot, full_page=True)
    assert screenshot.stat().st_size > 10_000
    if os.environ.get("MEMBERSCORE_UPDATE_DOCS_SCREENSHOT"):
        shutil.copyfile(screenshot, DOCS_SCREENSHOT)
    tab.assert_clean()


def test_filters_reach_targets_and_narrow_the_rows(tab: Tab, client: httpx.Client) -> None:
    """Ticked groups, a minimum value and left-out ids go into the body; every row shown obeys them."""
    page = tab.page
    connect(page)
    everyone = client.post("/targets", json={"campaign": "winback", "limit": 50}).json()["rows"]
    stage = everyone[0]["lifecycle_stage"]
    in_stage = [row for row in everyone if row["lifecycle_stage"] == stage]
    left_out = in_stage[0]["member_id"]
    floor = math.floor(sorted((row["expected_value"] for row in in_stage), reverse=True)[2] * 100) / 100
    page.locator("#filter-stages").get_by_label(stage.replace("_", " ")).check()
    page.get_by_label("Minimum expected value").fill(str(floor))
    page.get_by_label("Leave out member ids").fill(f"{left_out}\n")
    body = pick_campaign(page, "winback").post_data_json
    assert body["filters"] == {**NO_FILTERS, "lifecycle_stages": [stage], "min_value": floor,
                               "exclude_member_ids": [left_out]}
    expected = client.post("/targets", json=body).json()["rows"]
    assert len(expected) >= 2 and all(row["lifecycle_stage"] == stage and row["expected_value"] >= floor
                                      for row in expected)
    assert shown_member_ids(page) == [row["member_id"] for row in expected]
    assert left_out not in shown_member_ids(page)
    tab.assert_clean()


def test_refusals_are_shown_in_words_and_clear_the_list(tab: Tab) -> None:
    """A bad row count is caught before any request; a 4xx from /targets shows the field it names."""
    page = tab.page
    connect(page)
    page.get_by_label("Rows to show").fill("0")
    page.get_by_label("Campaign", exact=True).select_option("winback")
    assert "Rows to show" in page.inner_text("#status")
    assert not any(url.endswith("/targets") for url in tab.requested)
    refusal = {"error": "invalid request", "detail": [{"loc": ["body", "filters", "min_value"], "msg": "too big"}]}
    page.route("**/targets", lambda route: route.fulfill(status=422, json=refusal))
    page.get_by_label("Rows to show").fill("5")
    page.get_by_role("button", name="Show list").click()
    page.wait_for_selector("#targets[data-state=error]")
    assert "body.filters.min_value: too big" in page.inner_text("#status")
    assert shown_member_ids(page) == [] and page.is_disabled("#download-csv")
    tab.assert_clean()


NUMBER_COLUMNS = ("score", "expected_value", "percentile_global", "percentile_in_segment")


def test_csv_download_holds_the_rows_shown(tab: Tab, client: httpx.Client) -> None:
    """The CSV has /targets?format=csv's columns and the shown rows' values, in the shown order."""
    page = tab.page
    connect(page)
    page.get_by_label("Rows to show").fill("15")
    request = pick_campaign(page, "winback")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download CSV").click()
    assert download.value.suggested_filename.startswith("winback_")
    downloaded = list(csv.DictReader(io.StringIO(Path(download.value.path()).read_text(encoding="utf-8-sig"))))
    served = list(csv.DictReader(io.StringIO(client.post("/targets?format=csv", json=request.post_data_json).text.removeprefix("\ufeff"))))
    assert list(served[0])[: len(ROW_COLUMNS)] == ROW_COLUMNS and list(downloaded[0]) == list(served[0])
    assert [row["member_id"] for row in downloaded] == shown_member_ids(page)
    for ours, theirs in zip(downloaded, served, strict=True):
        for column, value in theirs.items():
            if column in NUMBER_COLUMNS:
                assert math.isclose(float(ours[column]), float(value), rel_tol=1e-9), column
            else:
                assert ours[column] == value, column
    tab.assert_clean()


def test_segment_charts_draw_one_bar_per_group_to_scale(tab: Tab, client: httpx.Client) -> None:
    """Each dimension's chart has a members bar and a value bar per group, widths proportional to shares."""
    page = tab.page
    connect(page)
    segments = client.get("/segments").json()
    for dimension in DIMENSIONS:
        groups = segments["dimensions"][dimension]
        chart = page.locator(f"svg[data-dimension={dimension}]")
        assert chart.locator("g[data-name]").evaluate_all("gs => gs.map(g => g.dataset.name)") == [g["name"] for g in groups]
        for measure, share in (("members", "share_members"), ("value", "share_value")):
            bars = chart.locator(f"rect[data-measure={measure}]")
            assert bars.count() == len(groups), (dimension, measure)
            widths = [float(w) for w in bars.evaluate_all("bars => bars.map(b => b.getAttribute('width'))")]
            scale = max(widths) / max(g[share] for g in groups)
            assert widths == pytest.approx([g[share] * scale for g in groups], abs=0.01), (dimension, measure)
    tab.assert_clean()


def test_model_quality_shows_each_gate_metric_beside_its_baselines(tab: Tab, client: httpx.Client) -> None:
    """One card per served model: the model's out-of-time gate metric first, then one bar per baseline."""
    page = tab.page
    connect(page)
    metadata = client.get("/metadata").json()
    models = metadata["models"]
    assert models
    # the service serves one project, and the page names it (issue 14)
    page.wait_for_function("document.getElementById('project-name').textContent !== ''")
    assert page.locator("#project-name").text_content() == f" · project {metadata['project']}" == " · project default"
    assert page.title() == "memberscore · default · members and campaigns"
    for task, info in models.items():
        metric = info.get("promotion_metric") or GATE_METRIC[task]
        scorers = {key[4:-len(metric) - 1]: value for key, value in info["metrics"].items()
                   if key.startswith("oot_") and key.endswith(f"_{metric}")}
        chart = page.locator(f"#model-cards article[data-task={task}] svg[data-metric={metric}]")
        drawn = chart.locator("rect").evaluate_all("bars => bars.map(b => [b.dataset.scorer, Number(b.dataset.value)])")
        assert len(scorers) >= 2 and drawn[0][0] == "model"
        assert dict(drawn) == pytest.approx(scorers)
    tab.assert_clean()


def test_the_chinese_page_after_the_switch_is_remembered_and_photographed(tab: Tab, server: str, tmp_path: Path) -> None:
    """中文: every marked text in Chinese (none left in English), the API asked in Chinese, numbers grouped,
    the choice kept after a reload; the screenshot is kept in docs/ (MEMBERSCORE_UPDATE_DOCS_SCREENSHOT=1)."""
    served = httpx.get(f"{server}/ui", headers={"Accept-Language": "zh-CN,zh;q=0.9"}, timeout=10)
    assert '"default": "zh-CN"' in served.text and served.headers["vary"] == "Accept-Language"
    page = tab.page
    page.get_by_role("button", name="中文").click()
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    page.wait_for_function("document.getElementById('status').textContent.includes('请输入 API 密钥')")
    page.get_by_label("API 密钥").fill(API_KEY)
    page.get_by_role("button", name="连接").click()
    page.wait_for_selector("#models[aria-busy=false]")
    page.wait_for_selector(HEALTH_DRAWN)  # drawn late, it would move the buttons below it under a click
    page.wait_for_selector("#campaign option[value=winback]", state="attached")
    page.get_by_label("显示行数").fill("8")
    with page.expect_request(lambda r: r.url.endswith("/targets") and r.method == "POST") as sent:
        page.get_by_label("营销活动", exact=True).select_option("winback")
    page.wait_for_selector("#targets[data-state=ready][data-campaign=winback]")
    assert sent.value.headers["accept-language"] == "zh-CN"  # reasons and _label fields come back in Chinese
    # no marked text is left in English, and the visible headings are Chinese
    left = page.eval_on_selector_all("[data-i18n]", "nodes => nodes.filter(n => n.textContent === n.dataset.msgid "
                                     "&& /[a-z]{3}/.test(n.textContent)).map(n => n.textContent)")
    assert left == []
    headings = page.locator("h2").all_inner_texts()
    assert headings == ["会员构成", "会员KPI走势", "模型效果", "模型健康", "营销名单", "带对照组的营销活动"]
    assert page.locator("#targets thead th").all_inner_texts()[:3] == ["排名", "会员", "得分"]
    assert re.search(r"^显示 8 人，共 [\d,]+ 名符合条件的会员 · ", page.inner_text("#targets-summary"))
    assert re.search(r"^快照日期 \d{4}-\d{2}-\d{2} · [\d,]+ 名会员 · 预期 12 个月价值 ", page.inner_text("#snapshot-info"))
    screenshot = tmp_path / "marketer-page-zh.png"
    page.screenshot(path=screenshot, full_page=True)
    assert screenshot.stat().st_size > 10_000
    if os.environ.get("MEMBERSCORE_UPDATE_DOCS_SCREENSHOT"):
        shutil.copyfile(screenshot, DOCS_SCREENSHOT_ZH)
    # coded values show as the API's <field>_label when it sends one; amounts in the currency it names
    sent_rows: list[dict[str, object]] = []

    def labelled(route: Route) -> None:
        body = route.fetch().json()
        body["currency"] = "CNY"
        sent_rows.extend(body["rows"])
        body["rows"] = [{**{k: v for k, v in row.items() if k != "rfm_segment_label"}, "tier_label": f"卡{row['tier']}"}
                        for row in body["rows"]]  # a label the API sent, and one it did not
        route.fulfill(json=body)

    page.route("**/targets", labelled)
    # focused first: moving the focus from the rows field to the button scrolls headless Chromium (with the
    # model-health panel on the page) between the press and the release, and the click would be lost
    page.get_by_role("button", name="显示名单").focus()
    page.get_by_role("button", name="显示名单").click()
    page.wait_for_selector("#targets tbody td[data-column=tier]:text-matches('^卡')")
    first = page.locator("#targets tbody tr").first
    assert re.fullmatch(r"¥[\d,]+\.\d\d", first.locator("[data-column=expected_value]").inner_text())
    assert first.locator("[data-column=tier]").inner_text() == f"卡{sent_rows[0]['tier']}"
    no_label = str(sent_rows[0]["rfm_segment"]).replace("_", " ")  # its rfm_segment_label taken out: the code
    assert first.locator("[data-column=rfm_segment]").inner_text() == no_label
    # switched while a list is shown: everything is redrawn in English, the chosen campaign and list kept
    page.unroute("**/targets")
    with page.expect_request(lambda r: r.url.endswith("/targets") and r.method == "POST") as again:
        page.get_by_role("button", name="en").click()
    page.wait_for_function("document.querySelector('#targets thead th').textContent === 'Rank'")
    # redrawn in English: the project's currency (kept from the API) as en-US writes it
    page.wait_for_selector("#targets[data-state=ready] td[data-column=expected_value]:text-matches('^CN¥[0-9,]+[.][0-9]{2}$')")
    assert again.value.headers["accept-language"] == "en" and again.value.post_data_json == sent.value.post_data_json
    assert page.locator("h2").all_inner_texts()[4] == "Campaign lists" and page.input_value("#campaign") == "winback"
    assert page.evaluate("document.documentElement.lang") == "en"
    page.get_by_role("button", name="中文").click()
    page.reload()  # the choice is remembered (localStorage); the key too (this tab's sessionStorage)
    page.wait_for_selector("#content", state="visible")
    assert page.locator("#campaigns-title").inner_text() == "营销名单"
    assert page.get_by_role("button", name="中文").get_attribute("aria-pressed") == "true"
    tab.assert_clean()


def test_a_campaign_with_a_holdout_is_created_from_the_list_and_its_effect_drawn(tab: Tab, trained: object) -> None:
    """The button sends the list's body with the holdout settings; the new campaign's card says it is not
    measured; once an effect is kept, its interval is drawn to scale around zero."""
    from campaigns.store import open_store

    page = tab.page
    connect(page)
    page.get_by_label("Rows to show").fill("60")
    pick_campaign(page, "winback")
    name = f"page test {uuid.uuid4().hex[:8]}"
    page.get_by_label("Campaign name").fill(name)
    page.get_by_label("Share held out").fill("0.2")
    page.get_by_label("Cost per contact").fill("0.5")
    with page.expect_request(lambda r: r.url.endswith("/campaigns") and r.method == "POST") as sent:
        page.get_by_role("button", name="Create campaign with a holdout").click()
    assert sent.value.post_data_json == {"name": name, "campaign": "winback", "limit": 60, "filters": NO_FILTERS,
                                         "holdout_share": 0.2, "cost_per_contact": 0.5, "margin_rate": 0.3}
    card = page.locator(".campaign-record", has_text=name)
    card.locator(".effect[data-state=not-measured]").wait_for()
    campaign_id = card.get_attribute("data-campaign-id")
    assert campaign_id and "held out" in card.inner_text()
    store = open_store(f"sqlite:///{Path(trained.root) / 'campaigns.db'}")  # type: ignore[attr-defined]
    store.save_effect("default", campaign_id, {
        "design": "randomised", "verdict": "identified", "summary": "Each contacted member spent 4.00 more.",
        "incremental_spend_per_member": {"estimate": 4.0, "ci_low": -2.0, "ci_high": 10.0},
        "roi": {"estimate": 0.5, "ci_low": -1.0, "ci_high": 2.0}})
    store.close()
    page.reload()  # the key stays in this tab: the page reconnects by itself
    page.wait_for_selector("#content", state="visible")
    chart = page.locator(f'[data-campaign-id="{campaign_id}"] svg.interval')
    chart.wait_for()
    ends = [float(chart.locator("line.ci").get_attribute(a) or "nan") for a in ("x1", "x2")]
    zero = float(chart.locator("line.zero").get_attribute("x1") or "nan")
    dot = float(chart.locator("circle.estimate").get_attribute("cx") or "nan")
    # axis from -2 to 10: zero at 1/6 of the span, the estimate (4) at 1/2
    assert (zero - ends[0]) / (ends[1] - ends[0]) == pytest.approx(1 / 6)
    assert (dot - ends[0]) / (ends[1] - ends[0]) == pytest.approx(1 / 2)
    assert "ROI 50% (-100% to 200%)" in page.locator(f'[data-campaign-id="{campaign_id}"]').inner_text()
    tab.assert_clean()

