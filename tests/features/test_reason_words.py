"""Reasons in English and Chinese: every catalogue sentence, its plural forms, and amounts in the currency."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from babel import numbers
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from features.catalogue import BY_NAME, CATALOGUE, NOT_KNOWN, TOLD_PLAINLY
from features.formats import CurrencyError, Voice, check_currency
from features.i18n import DOMAINS, LOCALE_DIR, babel_locale
from serving.explain import MARGIN_MEANING
from serving.reasons import SHARE_OF_SPEND, feature_words

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden" / "snapshot_sim20_2023-06-01.csv"
PACKAGES = ("features", "serving", "cli", "campaigns", "training", "models")
KEYWORDS = {"gettext": None, "ngettext": (1, 2), "pgettext": ((1, "c"), 2)}
LATIN_WORD = re.compile(r"[A-Za-z]{3,}")
ALLOWED_LATIN = {"BG", "NBD", "Gamma"}  # model names stay as published


def _catalog(language: str, domain: str = "memberscore"):  # type: ignore[no-untyped-def]
    with (LOCALE_DIR / language / "LC_MESSAGES" / f"{domain}.po").open("rb") as source:
        return read_po(source, locale=language)


def _translated(entry) -> bool:  # type: ignore[no-untyped-def]
    return entry is not None and bool(entry.string if isinstance(entry.string, str) else all(entry.string))


def _used_msgids() -> set[tuple[str | None, str]]:
    """Every (context, msgid) the code can ask for: catalogue sentences, the shared templates, and
    every literal gettext / ngettext / pgettext call in the packages (Babel's own extractor)."""
    used = {(context, msgid) for feature in CATALOGUE for context, msgid, _ in feature.msgids()}
    used |= {(None, NOT_KNOWN), (None, TOLD_PLAINLY), (None, SHARE_OF_SPEND), (None, "the model's margin")}
    used |= {(None, meaning) for meaning in MARGIN_MEANING.values()}
    for package in PACKAGES:
        for _, _, message, _, context in extract_from_dir(ROOT / package, keywords=KEYWORDS,
                                                          method_map=[("**.py", "python")]):
            used.add((context, message[0] if isinstance(message, tuple) else message))
    return used


def test_every_msgid_the_code_uses_is_translated_into_chinese() -> None:
    """In one of the two domains: the extractor sees calls, not which domain's translator makes them
    (the page's and the HTML report's own test checks the ``page`` domain)."""
    catalogues = [_catalog("zh_CN", domain) for domain in DOMAINS]
    missing = sorted(f"{context}|{msgid}" for context, msgid in _used_msgids()
                     if not any(_translated(zh.get(msgid, context=context)) for zh in catalogues))
    assert not missing, f"missing or untranslated in zh_CN's catalogues: {missing}"


def test_both_catalogues_hold_the_same_msgids() -> None:
    assert {(m.context, m.id if isinstance(m.id, str) else m.id[0]) for m in _catalog("en") if m.id} == {
        (m.context, m.id if isinstance(m.id, str) else m.id[0]) for m in _catalog("zh_CN") if m.id}


@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_every_template_renders_on_the_golden_rows(language: str) -> None:
    """Every catalogue sentence for every golden member (missing values included), no placeholder
    left; Chinese with no English words left but the model names."""
    golden = pd.read_csv(GOLDEN)
    voice = Voice(language, "CNY")  # type: ignore[arg-type]
    english = Voice("en", "CNY")
    for feature in CATALOGUE:
        columns = {name: golden[name].to_numpy(dtype="float64") for name in feature.reads()}
        texts = feature.words(columns, voice)
        assert len(texts) == len(golden)
        for text, in_english in zip(texts, feature.words(columns, english)):
            assert "{" not in text and "}" not in text, text
            if language == "zh-CN":
                assert set(LATIN_WORD.findall(text)) <= ALLOWED_LATIN, (feature.name, text)
                assert text != in_english


@pytest.mark.parametrize(("name", "row", "en", "zh"), [
    ("orders_total", {"orders_total": 1.0}, "1 purchase in total", "累计购买 1 次"),
    ("orders_total", {"orders_total": 2.0}, "2 purchases in total", "累计购买 2 次"),
    ("recency_days", {"recency_days": 1.2}, "no purchase for 1 day", "已 1 天未购买"),
    ("recency_days", {"recency_days": 1234.0}, "no purchase for 1,234 days", "已 1,234 天未购买"),
    ("gap_ratio", {"gap_ratio": 6.04, "recency_days": 1.0}, "no purchase for 1 day, 6.0x their usual gap",
     "已 1 天未购买，是其平常间隔的 6.0 倍"),
    ("orders_trend_90d", {"orders_trend_90d": 1.0}, "+1 purchase versus the previous 90 days", "购买次数较前 90 天 +1 次"),
    ("orders_trend_90d", {"orders_trend_90d": -3.0}, "-3 purchases versus the previous 90 days", "购买次数较前 90 天 -3 次"),
    ("bgnbd_purchases_90d", {"bgnbd_purchases_90d": 1.0}, "expected to buy 1.00 times in the next 90 days",
     "预计未来 90 天购买 1.00 次"),
    ("gap_mean_days", {"gap_mean_days": None}, "only one purchase so far, so no usual gap between purchases",
     "目前只购买过一次，尚无平常购买间隔"),
    ("category_entropy", {}, "how evenly spend spreads over categories (entropy): not known",
     "消费在各品类间分布的均匀程度（熵）：未知"),
])
def test_plural_forms_and_missing_values_in_both_languages(name: str, row: dict[str, float | None],
                                                           en: str, zh: str) -> None:
    assert BY_NAME[name].in_words(row) == en
    assert BY_NAME[name].in_words(row, Voice("zh-CN")) == zh


@pytest.mark.parametrize(("language", "currency", "expected"), [
    ("en", None, "spend +1,234.50 versus the previous 90 days"),  # no currency configured: no symbol
    ("en", "USD", "spend +$1,234.50 versus the previous 90 days"),
    ("en", "GBP", "spend +£1,234.50 versus the previous 90 days"),
    ("zh-CN", "CNY", "消费较前 90 天 +¥1,234.50"),
    ("zh-CN", "JPY", "消费较前 90 天 +JP¥1,234"),  # the yen has no minor unit
])
def test_amounts_carry_the_configured_currency(language: str, currency: str | None, expected: str) -> None:
    voice = Voice(language, currency)  # type: ignore[arg-type]
    assert BY_NAME["spend_trend_90d"].in_words({"spend_trend_90d": 1234.5}, voice) == expected
    assert BY_NAME["spend_total"].in_words({"spend_total": -20.0}, voice).count("-") == 1


@pytest.mark.parametrize("language", ["en", "zh-CN"])
@pytest.mark.parametrize("currency", ["USD", "CNY", "GBP", "JPY", "EUR"])
def test_fast_formatting_agrees_with_babel(language: str, currency: str) -> None:
    """Voice formats with Python's ``format`` from CLDR marks read once; Babel formats each value.

    Values at full float precision: an exact decimal tie (``1784.435``) rounds by its binary value
    in Python and half-even on the decimal text in Babel, a cent apart either way."""
    locale = babel_locale(language)  # type: ignore[arg-type]
    voice = Voice(language, currency)  # type: ignore[arg-type]
    values = np.random.default_rng(7).normal(0, 5000, 200).tolist() + [0.0, 1.0, -0.001, 1e7]
    for value in values:
        assert voice.money(value) == _unsigned_zero(numbers.format_currency(value, currency, locale=locale)), value
        assert voice.number(value, 1) == _unsigned_zero(
            numbers.format_decimal(value, format="#,##0.0", locale=locale)), value
        share = value / 10000
        assert voice.percent(share) == _unsigned_zero(
            numbers.format_percent(share, format="#,##0%", locale=locale)), share


def _unsigned_zero(text: str) -> str:
    """Babel keeps the sign of a value that rounds to zero ("-0%"); a reader sees plain 0, as Voice writes it."""
    return re.sub(r"^-(?=\D*0(?:\.0+)?\D*$)", "", text)


def test_a_share_category_is_told_in_the_language_with_its_own_name() -> None:
    words = feature_words("share_garden_tools", {"share_garden_tools": np.array([0.25, np.nan])}, Voice("zh-CN"))
    assert words.tolist() == ["25% 的消费在 garden tools", "share_garden_tools：未知"]


def test_a_currency_must_be_an_iso_4217_code() -> None:
    assert check_currency(" cny ") == "CNY"
    with pytest.raises(CurrencyError, match="currency: 'RMB' is not an ISO 4217"):
        check_currency("RMB")
