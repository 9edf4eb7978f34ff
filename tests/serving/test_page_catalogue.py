"""The marketers' page speaks English and Chinese from the ``page`` catalogue, and only from it.

Every msgid the page uses is extracted the way ``pybabel extract`` would: the script's ``t()`` /
``tn()`` / ``tp()`` / ``N_()`` calls by Babel's JavaScript extractor, the static text of elements
marked ``data-i18n`` (and attributes named by ``data-i18n-attr``) with the standard HTML parser.
A msgid missing from either catalogue, or without its Chinese text, fails here. GET /ui's
catalogues and default language are checked without a server (``serving.marketer_page``).
"""

from __future__ import annotations

import io
import json
import re
from html.parser import HTMLParser

from babel.messages.extract import extract

from serving.marketer_page import EMPTY_CATALOGUES, PAGE, page_catalogue, page_html
from tests.training.test_report_page_i18n import translated

JS_KEYWORDS = {"t": None, "tn": (1, 2), "tp": ((1, "c"), 2), "N_": None}


class _Marked(HTMLParser):
    """The static English text of every data-i18n element and data-i18n-attr attribute, and the script."""

    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []
        self.script = ""
        self._open: list[tuple[str, bool]] = []
        self._text = ""
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        for name in (attributes.get("data-i18n-attr") or "").split():
            self.messages.append(attributes.get(name) or "")
        self._in_script = tag == "script" and attributes.get("type") is None
        if "data-i18n" in attributes:
            self._text = ""
        self._open.append((tag, "data-i18n" in attributes))

    def handle_endtag(self, tag: str) -> None:
        while self._open:
            opened, marked = self._open.pop()
            if marked:
                self.messages.append(" ".join(self._text.split()))
            if opened == tag:
                break
        self._in_script = False

    def handle_data(self, data: str) -> None:
        self._text += data
        if self._in_script:
            self.script += data


def page_messages() -> set[str]:
    """Every msgid of the page: marked static text and attributes, the page's script's calls, and
    those of any script beside it (serving/static/*.js, e.g. the KPI panel, which uses the same t())."""
    parser = _Marked()
    parser.feed(PAGE.read_text(encoding="utf-8"))
    found = set(parser.messages)
    scripts = [parser.script, *(path.read_text(encoding="utf-8") for path in sorted(PAGE.parent.glob("*.js")))]
    for script in scripts:
        for _, message, _, _ in extract("javascript", io.BytesIO(script.encode()), keywords=JS_KEYWORDS,
                                        options={"parse_template_string": True}):
            found.update([message] if isinstance(message, str) else [m for m in message if m])
    return found


MESSAGES = page_messages()


def test_every_page_string_is_in_both_catalogues_and_translated_in_chinese() -> None:
    assert {"API key", "Campaign lists", "{count} members", "Rows to show: a whole number from 1 to {most}.",
            "Enter your API key to see members, models and campaign lists.", "one per line or comma-separated"} <= MESSAGES
    assert "" not in MESSAGES
    # the extractor's lexer read every script to its end: each literal t("...") / N_("...") is among its msgids
    sources = [PAGE, *PAGE.parent.glob("*.js")]
    literal = {m for path in sources for m in re.findall(r'\b(?:t|N_)\("((?:[^"\\]|\\.)*)"', path.read_text(encoding="utf-8"))}
    assert sorted(literal - MESSAGES) == []
    assert sorted(MESSAGES - set(translated("en"))) == []
    chinese = translated("zh_CN")
    assert sorted(m for m in MESSAGES if not chinese.get(m)) == []


def test_both_catalogues_hold_the_same_keys_and_keep_every_placeholder() -> None:
    """A key only in one language, or a translation that drops or renames a {placeholder}, is caught."""
    english, chinese = translated("en"), translated("zh_CN")
    assert set(english) == set(chinese)
    for msgid, text in chinese.items():
        assert text, msgid
        assert sorted(re.findall(r"\{\w+\}", text)) == sorted(re.findall(r"\{\w+\}", msgid)), msgid


def test_the_served_page_carries_the_catalogues_and_the_browsers_language() -> None:
    """GET /ui's page: the catalogues as JSON, Accept-Language's choice as default (English otherwise)."""
    def served(accept_language: str | None) -> dict[str, object]:
        html = page_html(accept_language)
        assert EMPTY_CATALOGUES not in html
        found = re.search(r'<script type="application/json" id="catalogues">(.*?)</script>', html, flags=re.S)
        assert found is not None
        return json.loads(found.group(1))

    chinese = served("zh-CN,zh;q=0.9,en;q=0.8")
    assert chinese["default"] == "zh-CN"
    assert chinese["catalogues"] == {"en": page_catalogue("en"), "zh-CN": page_catalogue("zh-CN")}
    assert page_catalogue("zh-CN")["messages"]["Campaign lists"] == "营销名单"
    assert page_catalogue("zh-CN")["plurals"]["{count} member"] == ["{count} 名会员"]
    assert page_catalogue("en") == {"messages": {}, "plurals": {}, "contexts": {}}  # English: the msgids themselves
    assert served("fr-FR,de;q=0.5")["default"] == served(None)["default"] == "en"
    assert served("en-GB,zh-CN;q=0.5")["default"] == "en"
