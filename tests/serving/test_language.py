"""The reader's language in the API: one dependency (lang wins over Accept-Language, an unknown lang is a 422
naming the field), names of coded values beside the codes, reasons and list headers in the language."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.exceptions import HTTPException as StarletteHTTPException

from campaigns.record import MEMBER_COLUMNS
from features.formats import Voice
from features.i18n import Translator
from features.list_headers import for_readers
from features.segment_rules import ABC_CLASSES, LIFECYCLE_STAGES, read_segment_rules
from features.value_names import CAMPAIGN, CODED_FIELDS, describe, label
from serving.campaigns import CAMPAIGNS
from serving.errors import http_error
from serving.language import RequestLanguage
from serving.schemas import TargetsRequest
from serving.scoring import OUTPUT_COLUMNS
from serving.segment_summary import configured_labels, segment_counts
from serving.targets import CSV_COLUMNS, targets_csv, targets_response
from tests.serving.test_targets import loaded_snapshot

ZH = Translator("zh-CN")
TEXT_ROUTES = {("POST", "/score"), ("POST", "/score_features"), ("POST", "/explain"), ("GET", "/segments"),
               ("POST", "/targets"), ("GET", "/campaigns")}


@pytest.fixture(scope="module")
def asking() -> TestClient:
    """A bare app with the dependency and the project's error handler: no server, no models."""
    app = FastAPI()
    app.add_exception_handler(StarletteHTTPException, http_error)  # type: ignore[arg-type]

    @app.get("/said")
    def said(asked: RequestLanguage) -> dict[str, object]:
        return {"language": asked.language, "explicit": asked.explicit}

    return TestClient(app)


@pytest.mark.parametrize(("params", "headers", "expected"), [
    ({}, {}, {"language": "en", "explicit": False}),
    ({}, {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}, {"language": "zh-CN", "explicit": False}),
    ({}, {"Accept-Language": "fr-FR"}, {"language": "en", "explicit": False}),  # a wish list: English
    ({"lang": "en"}, {"Accept-Language": "zh-CN"}, {"language": "en", "explicit": True}),  # lang wins
    ({"lang": "zh"}, {}, {"language": "zh-CN", "explicit": True}),
])
def test_lang_wins_over_accept_language_and_english_is_the_default(
        asking: TestClient, params: dict[str, str], headers: dict[str, str], expected: dict[str, object]) -> None:
    assert asking.get("/said", params=params, headers=headers).json() == expected


def test_an_unsupported_explicit_lang_is_a_422_naming_the_field(asking: TestClient) -> None:
    answer = asking.get("/said", params={"lang": "fr"}, headers={"Accept-Language": "zh-CN"})
    assert answer.status_code == 422
    assert answer.json() == {"error": "lang: 'fr' is not supported; use one of en, zh-CN"}


def test_every_route_that_answers_with_text_takes_the_language_dependency() -> None:
    """Seen in the OpenAPI document: each such route has the dependency's ``lang`` query parameter."""
    from serving.answers import include_routers
    from serving.service import web

    include_routers(web)  # as the worker's start does
    paths = web.openapi()["paths"]
    for method, path in TEXT_ROUTES:
        parameters = paths[path][method.lower()].get("parameters", [])
        assert {"name": "lang", "in": "query"}.items() <= next(
            (p for p in parameters if p["name"] == "lang"), {}).items(), (method, path)
    assert not any(p["name"] == "lang" for p in paths["/metadata"]["get"].get("parameters", []))


def test_every_configured_code_and_campaign_has_a_chinese_name() -> None:
    rules = read_segment_rules(None)
    codes = {"rfm_segment": rules.rfm.labels, "abc_class": ABC_CLASSES, "lifecycle_stage": LIFECYCLE_STAGES,
             "tier": rules.tiers.labels}
    assert set(codes) == set(CODED_FIELDS)
    english = Translator("en")
    for field, values in codes.items():
        for code in values:
            assert label(field, code, ZH) != label(field, code, english), (field, code)
    for campaign in CAMPAIGNS.values():
        assert label(CAMPAIGN, campaign.name, ZH) != label(CAMPAIGN, campaign.name, english), campaign.name
        assert describe(campaign.description, ZH) != campaign.description, campaign.name


def test_default_chinese_names_follow_the_playbooks() -> None:
    tiers = [label("tier", code, ZH) for code in ("member", "silver", "platinum", "diamond")]
    assert tiers == ["贵宾卡", "银卡", "铂金卡", "钻石卡"]
    assert [label("lifecycle_stage", code, ZH) for code in LIFECYCLE_STAGES] == ["新客", "活跃", "沉睡", "流失"]
    assert label(CAMPAIGN, "winback", ZH) == "流失召回"
    # one word, two contexts: the lifecycle stage and the RFM segment "lost" are named apart
    assert label("rfm_segment", "lost", ZH) != label("lifecycle_stage", "lost", ZH)
    assert label("tier", "gold_plus", ZH) == "Gold plus"  # a retailer's own tier: its English name
    assert label("tier", None, ZH) is None


@pytest.fixture(scope="module")
def churn_booster() -> xgb.Booster:
    rng = np.random.default_rng(3)
    x = pd.DataFrame({"recency_days": rng.uniform(0, 200, 300), "orders_90d": rng.integers(0, 5, 300).astype(float)})
    y = (x["recency_days"] > 80).astype(float)
    return xgb.train({"objective": "binary:logistic", "max_depth": 2}, xgb.DMatrix(x, label=y), num_boost_round=5)


def test_a_target_list_in_chinese_keeps_codes_and_adds_names_and_chinese_reasons(churn_booster: xgb.Booster) -> None:
    loaded = loaded_snapshot({"a": {"recency_days": 150.0, "tier": "diamond"}, "b": {"recency_days": 1.0}})
    request = TargetsRequest(campaign="winback", explain=1)
    answer = targets_response({"churn": churn_booster}, loaded, request, Voice("zh-CN", "CNY"))
    assert (answer.campaign, answer.campaign_label) == ("winback", "流失召回")
    first = answer.rows[0]
    assert (first.tier, first.tier_label, first.lifecycle_stage_label) == ("diamond", "钻石卡", "沉睡")
    assert first.reasons == ["已 150 天未购买"]
    english = targets_response({"churn": churn_booster}, loaded, request)
    assert english.rows[0].tier_label == "Diamond" and english.rows[0].reasons == ["no purchase for 150 days"]


def test_csv_headers_are_translated_only_when_a_language_is_asked_for(churn_booster: xgb.Booster) -> None:
    loaded = loaded_snapshot({"a": {"recency_days": 150.0, "tier": "diamond"}})
    response = targets_response({"churn": churn_booster}, loaded, TargetsRequest(campaign="winback", explain=1),
                                Voice("zh-CN"))
    plain = pd.read_csv(io.StringIO(targets_csv(response)))
    assert list(plain.columns) == [*CSV_COLUMNS, "reason_1"]  # stable codes by default
    text = targets_csv(response, headers=ZH)
    assert text.startswith("\ufeff排名,会员编号,")  # BOM: Excel reads UTF-8
    translated = pd.read_csv(io.StringIO(text))
    assert translated.loc[0, "会员等级"] == "diamond" and translated.loc[0, "会员等级名称"] == "钻石卡"
    assert translated.loc[0, "原因 1"] == "已 150 天未购买"


def test_every_list_header_has_a_chinese_name() -> None:
    english = Translator("en")
    names = dict.fromkeys([*CSV_COLUMNS, *OUTPUT_COLUMNS, *MEMBER_COLUMNS, "served_by", "reason_1", "churn_reason_2"])
    columns = pd.DataFrame(columns=list(names))
    zh, en = for_readers(columns, ZH).columns, for_readers(columns, english).columns
    untranslated = [name for name, chinese in zip(en, zh) if name == chinese]
    assert not untranslated


def test_segment_counts_name_each_segment_in_the_language() -> None:
    scores = pd.DataFrame({"rfm_segment": ["champions"], "abc_class": ["AA"], "lifecycle_stage": ["new"],
                           "tier": ["silver"], "clv_12m": [10.0]})
    counts = segment_counts(scores, configured_labels(read_segment_rules(None)), ZH)
    named = {row.name: row.label for row in counts["tier"]}
    assert named["silver"] == "银卡" and named["member"] == "贵宾卡"
    assert {row.name: row.label for row in counts["lifecycle_stage"]}["new"] == "新客"
