"""serving.campaign_words: each campaign's score in words with its unit, and the reasons for THAT campaign.

Rows are hand-built; every expected sentence is written out with the arithmetic beside it.
"""

from __future__ import annotations

import math
import re
from datetime import date
from typing import Any

import pandas as pd
import pytest

from features.formats import Voice
from features.snapshot import Snapshot
from serving.artefacts import LoadedSnapshot
from serving.campaign_words import Said, falling, silence
from serving.campaigns import CAMPAIGNS
from serving.schemas import TargetsRequest
from serving.targets import targets_csv, targets_response

EN, ZH = Voice("en"), Voice("zh-CN")
NAN = math.nan
# a repeat buyer: 214 days silent, usual gap 35.667 days (ratio 6.0); spend 40.00 in the last 90 days, 160.00 before
LAPSED: dict[str, Any] = {"recency_days": 214.0, "gap_mean_days": 35.667, "gap_ratio": 6.0, "orders_trend_90d": -2.0,
                          "spend_90d": 40.0, "spend_trend_90d": -120.0, "order_value_max": 298.21}


def said(voice: Voice, *rows: dict[str, Any]) -> Said:
    return Said(pd.DataFrame(list(rows)), voice)


def test_silence_against_the_members_rhythm_and_for_one_time_buyers() -> None:
    rows = [LAPSED, {"recency_days": 1.0, "gap_ratio": 0.5, "gap_mean_days": 2.0},
            {"recency_days": 400.0, "gap_ratio": NAN, "gap_mean_days": NAN},
            {"recency_days": 30.0, "gap_ratio": 1.5, "gap_mean_days": NAN}, {"recency_days": NAN}]
    assert silence(said(EN, *rows)).tolist() == [
        "no purchase for 214 days, 6.0x their usual gap of 36 days",  # 35.667 rounds to 36
        "no purchase for 1 day, 0.5x their usual gap of 2 days",
        "one purchase only, 400 days ago, and none since",
        "no purchase for 30 days, 1.5x their usual gap",
        "last purchase date not known",
    ]
    assert silence(said(ZH, LAPSED)).tolist() == ["已 214 天未购买，是其平常间隔 36 天的 6.0 倍"]


def test_falling_spend_then_fewer_purchases_then_nothing() -> None:
    rows = [LAPSED, {**LAPSED, "spend_trend_90d": 0.0}, {**LAPSED, "spend_trend_90d": 0.0, "orders_trend_90d": -1.0},
            {**LAPSED, "spend_trend_90d": 5.0, "orders_trend_90d": 1.0}]
    assert falling(said(EN, *rows)).tolist() == [
        "spend fell to 40.00 in the last 90 days from 160.00 in the 90 days before",  # 40 - (-120)
        "2 purchases fewer than in the 90 days before",
        "1 purchase fewer than in the 90 days before",
        None,
    ]


SCORES = {"churn_probability": 0.87, "upsell_probability": 0.25, "p_purchase_7d": 0.4}
ROWS = {  # member -> scores and features; every one is eligible for exactly the campaigns below
    "w": {**SCORES, **LAPSED, "lifecycle_stage": "lost", "abc_class": "B", "expected_value": 97.04,
          "p_purchase_7d": 0.1},
    "r": {**SCORES, **LAPSED, "gap_ratio": 1.2, "recency_days": 42.8, "lifecycle_stage": "active",
          "abc_class": "AA", "expected_value": 500.0},
    "u": {**SCORES, **LAPSED, "recency_days": 3.0, "gap_ratio": 0.1, "lifecycle_stage": "active", "abc_class": "C",
          "expected_value": 80.0, "upsell_categories": '["Jazz"]'},
}
FEATURES = ["recency_days", "gap_mean_days", "gap_ratio", "orders_trend_90d", "spend_90d", "spend_trend_90d",
            "order_value_max"]


def loaded() -> LoadedSnapshot:
    frame = pd.DataFrame.from_dict(ROWS, orient="index").rename_axis("member_id")
    features = frame[FEATURES].astype(float)
    scores = frame.drop(columns=FEATURES).assign(rfm_segment="at_risk", tier="member", clv_12m=1.0)
    for column in ("rfm_segment", "abc_class", "lifecycle_stage", "tier", "upsell_categories"):
        scores[column] = scores[column].astype("string")
    return LoadedSnapshot(Snapshot(frame=features.reset_index(), as_of=date(2024, 6, 1), fingerprint="t"),
                          features, scores)


EXPECTED = {  # campaign -> member -> (score text, campaign reasons)
    "winback": {"w": ("84.42 expected spend at risk (87% churn probability x 97.04 expected spend)",  # 0.87 x 97.04
                      ["no purchase for 214 days, 6.0x their usual gap of 36 days",
                       "spend fell to 40.00 in the last 90 days from 160.00 in the 90 days before",
                       "churn probability 87%"])},
    "retain_high_value": {"r": ("435.00 expected spend at risk (87% churn probability x 500.00 expected spend)",
                                ["class AA: among the members who bring most of the spend",
                                 "no purchase for 43 days, 1.2x their usual gap of 36 days",
                                 "churn probability 87%"])},
    "upsell": {"r": ("125.00 expected spend within reach of an offer (25% upsell probability x 500.00 expected spend)",
                     ["still buying: last purchase 43 days ago", "upsell probability 25%"]),
               "u": ("20.00 expected spend within reach of an offer (25% upsell probability x 80.00 expected spend)",
                     ["still buying: last purchase 3 days ago", "upsell probability 25%", "category to offer: Jazz"])},
    "next_purchase_reminder": {"r": ("200.00 expected spend due now (40% likely to buy within 7 days x 500.00 "
                                     "expected spend)",
                                     ["no purchase for 43 days, 1.2x their usual gap of 36 days",
                                      "40% likely to buy within 7 days"])},
}


@pytest.mark.parametrize("campaign", list(EXPECTED))
def test_each_campaign_says_its_score_with_its_unit_and_its_own_reasons(campaign: str) -> None:
    response = targets_response({}, loaded(), TargetsRequest(campaign=campaign))
    assert response.score_unit == "currency"
    assert response.score_meaning == CAMPAIGNS[campaign].score_meaning
    got = {row.member_id: (row.score_text, row.campaign_reasons) for row in response.rows}
    assert got == EXPECTED[campaign]
    assert all(row.score_unit == "currency" for row in response.rows)
    said = " ".join(reason for row in response.rows for reason in row.campaign_reasons)
    assert "largest purchase" not in said and "298" not in said, "a past big purchase is no reason to win back"


def test_the_list_csv_carries_the_unit_the_score_in_words_and_the_reasons_in_one_cell() -> None:
    import csv
    import io

    response = targets_response({}, loaded(), TargetsRequest(campaign="winback"))
    (row,) = list(csv.DictReader(io.StringIO(targets_csv(response))))
    assert (row["score"], row["score_unit"]) == ("84.4248", "currency")
    assert row["score_text"] == EXPECTED["winback"]["w"][0]
    assert row["campaign_reasons"] == "; ".join(EXPECTED["winback"]["w"][1])


@pytest.mark.parametrize("campaign", list(EXPECTED))
def test_every_campaign_sentence_is_translated_into_chinese(campaign: str) -> None:
    response = targets_response({}, loaded(), TargetsRequest(campaign=campaign), Voice("zh-CN", "CNY"))
    texts = [response.score_meaning, *(row.score_text for row in response.rows),
             *(reason for row in response.rows for reason in row.campaign_reasons)]
    for text in texts:
        english = re.sub(r"\b(AA|Jazz)\b", "", text)  # codes and category names stay as they are
        assert not re.search(r"[a-z]{3,}", english), f"untranslated: {text}"
    assert ZH.translator.gettext(CAMPAIGNS[campaign].score_meaning) == response.score_meaning
    assert all("¥" in row.score_text for row in response.rows), "amounts in the configured currency"


def test_a_winback_list_shows_no_model_reason_that_reads_as_praise() -> None:
    """The churn model here learns that a big past purchase raises churn; the list leaves that reason out."""
    import numpy as np
    import xgboost as xgb

    from serving.targets import supporting_reasons

    rng = np.random.default_rng(3)
    x = pd.DataFrame({"recency_days": rng.uniform(0, 300, 400), "order_value_max": rng.uniform(0, 400, 400)})
    y = ((x["recency_days"] > 120) | (x["order_value_max"] > 250)).astype(float)
    booster = xgb.train({"objective": "binary:logistic", "max_depth": 2, "eta": 0.5}, xgb.DMatrix(x, label=y), 10)
    snapshot = loaded()
    unfiltered = supporting_reasons(booster, snapshot.features_by_id.loc[["w"]], 3, 1)
    assert "largest purchase 298.21" in unfiltered[0], "the model does weigh the big purchase"
    (row,) = targets_response({"churn": booster}, snapshot, TargetsRequest(campaign="winback", explain=3)).rows
    assert row.reasons == ["no purchase for 214 days"]


def test_the_tier_programme_campaigns_say_progress_and_what_keeps_the_card() -> None:
    tiers = {"next_tier_progress": 0.85, "spend_to_next_tier": 150.0, "retention_progress": 0.6,
             "downgrade_risk": True, "projected_period_spend": 1200.0, "tier_retain_threshold": 2000.0,
             "tier_expires": "2024-12-31"}
    snapshot = loaded()
    snapshot.scores_by_id.loc[:, list(tiers)] = pd.DataFrame([tiers] * 3, index=snapshot.scores_by_id.index)
    snapshot.scores_by_id.loc[["r", "u"], "next_tier_progress"] = 0.1  # only w is close to the next card
    snapshot.scores_by_id.loc[["r", "u"], "downgrade_risk"] = False
    (nudge,) = targets_response({}, snapshot, TargetsRequest(campaign="tier_upgrade_nudge")).rows
    assert nudge.score_text == "82.48 expected spend near the next card (85% of its threshold reached x 97.04 " \
                               "expected spend)"  # 0.85 x 97.04 = 82.484
    assert nudge.campaign_reasons == ["85% of the next card's threshold reached this period",
                                      "150.00 more spend this period reaches the next card"]
    (warning,) = targets_response({}, snapshot, TargetsRequest(campaign="downgrade_warning")).rows
    assert warning.score_text == "58.22 expected spend of a card at risk (60% of the retention threshold on pace " \
                                 "x 97.04 expected spend)"  # 0.6 x 97.04 = 58.224
    assert warning.campaign_reasons == ["on pace for 1,200.00 this period; 2,000.00 keeps the card",
                                        "card held until 2024-12-31"]
