"""The marketers' page as served: the static page with the ``page`` message catalogues put in.

The page is one self-contained file (``serving/static/marketer.html``) whose sentences are English
source text; its script translates them with the catalogues this module writes into it as JSON,
compiled from the same ``.po`` files as everything else (``features.i18n``), so there is no second
copy of any translation. Every language's catalogue goes in, so the reader's switch works without
another request; the language the browser's ``Accept-Language`` asks for is the default until the
reader picks one (the page remembers that choice itself).
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any, Final

from babel.messages.pofile import read_po

from features.i18n import LANGUAGES, LOCALE_DIR, Language, negotiate

PAGE: Final[Path] = Path(__file__).with_name("static") / "marketer.html"
EMPTY_CATALOGUES: Final[str] = '<script type="application/json" id="catalogues">{"default": "en", "catalogues": {}}</script>'


def page_html(accept_language: str | None) -> str:
    """The page with every language's catalogue and the browser's preferred language as default."""
    html = PAGE.read_text(encoding="utf-8")
    if EMPTY_CATALOGUES not in html:
        raise RuntimeError(f"{PAGE}: the catalogues placeholder is missing")  # a broken page, not a silent English one
    payload = {"default": negotiate(accept_language), "catalogues": {lang: page_catalogue(lang) for lang in LANGUAGES}}
    # "<" escaped so that no message can close the script element early
    data = json.dumps(payload, ensure_ascii=False, sort_keys=True).replace("<", "\\u003c")
    return html.replace(EMPTY_CATALOGUES, f'<script type="application/json" id="catalogues">{data}</script>')


@cache
def page_catalogue(language: Language) -> dict[str, Any]:
    """The ``page`` domain's translations in one language, as the page's script reads them.

    ``messages``: msgid -> text; ``plurals``: singular msgid -> forms in gettext order;
    ``contexts``: context -> msgid -> text. Untranslated entries are left out (the script shows
    the English msgid), so the English catalogue is empty.
    """
    path = LOCALE_DIR / language.replace("-", "_") / "LC_MESSAGES" / "page.po"
    with path.open("rb") as source:
        catalog = read_po(source, locale=language.replace("-", "_"), domain="page")
    messages: dict[str, str] = {}
    plurals: dict[str, list[str]] = {}
    contexts: dict[str, dict[str, str]] = {}
    for message in catalog:
        if not message.id or not message.string or message.fuzzy:
            continue
        if isinstance(message.id, (list, tuple)):
            forms = list(message.string)
            if all(forms):
                plurals[message.id[0]] = forms
        elif message.context:
            contexts.setdefault(message.context, {})[message.id] = str(message.string)
        else:
            messages[message.id] = str(message.string)
    return {"messages": messages, "plurals": plurals, "contexts": contexts}
