"""The reader's language on the real server (the session's ``client``; no server of its own)."""

from __future__ import annotations

import re

import httpx
import pytest

from features.store import latest_snapshot_path, read_snapshot

pytestmark = [pytest.mark.integration, pytest.mark.slow]
HAN = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
def member(trained: object) -> str:
    return str(read_snapshot(latest_snapshot_path(trained.project_snapshots)).frame["member_id"].iloc[2])


def test_score_in_chinese_keeps_codes_and_numbers_and_names_and_tells_them_in_chinese(
        client: httpx.Client, member: str) -> None:
    body = {"member_ids": [member], "explain": 3}
    english = client.post("/score", json=body).json()["results"][0]
    chinese = client.post("/score", json=body, params={"lang": "zh-CN"}).json()["results"][0]
    by_header = client.post("/score", json=body, headers={"Accept-Language": "zh-CN,en;q=0.5"}).json()["results"][0]
    assert chinese == by_header
    for field in ("tier", "rfm_segment", "abc_class", "lifecycle_stage", "churn_probability"):
        assert chinese[field] == english[field], field
    assert HAN.search(chinese["tier_label"]) and not HAN.search(english["tier_label"])
    for task, reasons in chinese["model_reasons"].items():
        assert [r["feature"] for r in reasons] == [r["feature"] for r in english["model_reasons"][task]]
        assert all(HAN.search(r["text"]) for r in reasons), reasons


def test_an_unsupported_lang_is_a_422_naming_the_field(client: httpx.Client, member: str) -> None:
    answer = client.post("/score", json={"member_ids": [member]}, params={"lang": "fr"})
    assert answer.status_code == 422
    assert answer.json()["error"] == "lang: 'fr' is not supported; use one of en, zh-CN"


def test_segments_campaigns_and_a_csv_list_in_chinese(client: httpx.Client) -> None:
    segments = client.get("/segments", params={"lang": "zh-CN"}).json()["dimensions"]
    assert {g["name"]: g["label"] for g in segments["lifecycle_stage"]} == {
        "new": "新客", "active": "活跃", "sleeping": "沉睡", "lost": "流失"}
    kinds = {c["name"]: c["label"] for c in client.get("/campaigns", params={"lang": "zh"}).json()["campaigns"]}
    assert kinds["winback"] == "流失召回"
    listed = client.post("/targets", params={"format": "csv", "lang": "zh-CN"}, json={"campaign": "winback", "limit": 3})
    assert listed.status_code == 200 and listed.content.startswith(b"\xef\xbb\xbf")
    assert listed.text.removeprefix("\ufeff").startswith("排名,会员编号,得分,")
