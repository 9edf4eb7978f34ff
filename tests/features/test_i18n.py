"""The language layer: negotiation, explicit choices, plural forms, CLDR numbers and money."""

from __future__ import annotations

from pathlib import Path

import pytest

from features.i18n import LanguageError, negotiate, parse_language, translations, translator


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh-CN"),
        ("fr-CH, zh-CN;q=0.9, en;q=0.8", "zh-CN"),  # unsupported first choice skipped
        ("en-US,zh;q=0.5", "en"),
        ("zh;q=0.4, en;q=0.6", "en"),  # q-values, not order, decide
        ("zh-Hans-CN", "zh-CN"),
        ("zh-CN;q=0, en", "en"),  # q=0 means "not this one"
        ("de", "en"),
        ("", "en"),
        (None, "en"),
        ("zh-TW", "en"),  # traditional script is not Simplified Chinese
    ],
)
def test_accept_language_picks_the_best_supported_language(header: str | None, expected: str) -> None:
    assert negotiate(header) == expected


@pytest.mark.parametrize("value", ["zh", "zh-cn", "zh_CN", "ZH-Hans", " zh-CN "])
def test_usual_spellings_of_simplified_chinese_are_one_language(value: str) -> None:
    assert parse_language(value) == "zh-CN"


def test_an_explicit_unsupported_language_is_refused_with_the_supported_list() -> None:
    with pytest.raises(LanguageError, match=r"lang: 'fr' is not supported; use one of en, zh-CN"):
        parse_language("fr")


def test_plural_forms_come_from_each_languages_rule() -> None:
    en, zh = translator("en"), translator("zh-CN")
    one, many = "{count} purchase", "{count} purchases"
    assert en.ngettext(one, many, 1).format(count=1) == "1 purchase"
    assert en.ngettext(one, many, 2).format(count=2) == "2 purchases"
    assert zh.ngettext(one, many, 1).format(count=1) == "1 次购买"
    assert zh.ngettext(one, many, 5).format(count=5) == "5 次购买"


def test_money_and_numbers_follow_the_locale() -> None:
    en, zh = translator("en"), translator("zh-CN")
    assert zh.money(1234.5, "CNY") == "¥1,234.50"
    assert en.money(1234.5, "USD") == "$1,234.50"
    assert en.money(1234.6, "JPY") == "¥1,235"  # the currency's own decimals (none)
    assert zh.number(1234567.891, 1) == "1,234,567.9"
    assert en.percent(0.1234) == "12.3%"


@pytest.mark.parametrize("language", ["en", "zh-CN"])
@pytest.mark.parametrize("domain", ["memberscore", "page"])
def test_every_shipped_catalogue_is_well_formed(language: str, domain: str) -> None:
    """A msgid left without its msgstr (a careless merge) fails here, not as a warning on a user's stdout."""
    translations.cache_clear()
    assert translations(language, domain).gettext("x") == "x"


def test_a_malformed_catalogue_is_an_error_naming_the_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from babel.messages.pofile import PoFileError

    import features.i18n as i18n

    folder = tmp_path / "zh_CN" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    (folder / "memberscore.po").write_text('msgid "a"\nmsgstr "甲"\n\nmsgid "b"\n\nmsgid "c"\nmsgstr "丙"\n', encoding="utf-8")
    monkeypatch.setattr(i18n, "LOCALE_DIR", tmp_path)
    translations.cache_clear()
    try:
        with pytest.raises(PoFileError, match="missing msgstr for msgid 'b'"):
            translations("zh-CN")
    finally:
        translations.cache_clear()
