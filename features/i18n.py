"""Languages people read memberscore in: English (the default) and Simplified Chinese (zh-CN).

Text lives in gettext catalogues (``features/locales/<locale>/LC_MESSAGES/<domain>.po``), edited
with the standard toolchain (``pybabel extract`` / ``update``), never in dicts in code. The ``.po``
files are compiled in memory on first use (Babel's ``write_mo`` into the standard library's
``gettext.GNUTranslations``), so there is no committed binary that can fall out of step with its
source. Numbers and money are formatted by Babel's CLDR data for the locale (thousands separators,
the currency's own symbol and decimals).

Domains: ``memberscore`` (reasons, segment, tier, lifecycle and campaign names, CLI summaries,
list headers) and ``page`` (the marketers' page and the HTML evaluation report).
"""

from __future__ import annotations

import gettext
import io
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Final, Literal, get_args

from babel import Locale, numbers
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

Language = Literal["en", "zh-CN"]
LANGUAGES: Final[tuple[Language, ...]] = get_args(Language)
DEFAULT_LANGUAGE: Final[Language] = "en"
DOMAINS: Final[tuple[str, ...]] = ("memberscore", "page")
LOCALE_DIR: Final[Path] = Path(__file__).parent / "locales"


class LanguageError(ValueError):
    """A language was asked for by name (``lang=``, ``--lang``) that memberscore does not speak."""


def parse_language(value: str | None) -> Language:
    """The supported language an explicit ``lang`` value names; None means the default.

    Accepts the usual spellings of the same tag (``zh``, ``zh-cn``, ``zh_CN``, ``zh-Hans``) because
    a CRM sends whatever its platform calls it; refuses anything else with the supported list, since
    an explicit choice that is silently ignored would serve the wrong language unnoticed.
    """
    if value is None or not value.strip():
        return DEFAULT_LANGUAGE
    language = _match(value.strip())
    if language is None:
        raise LanguageError(f"lang: {value!r} is not supported; use one of {', '.join(LANGUAGES)}")
    return language


def negotiate(accept_language: str | None) -> Language:
    """The best supported language for an HTTP ``Accept-Language`` header (RFC 9110 q-values).

    Unlike ``parse_language`` this never fails: a browser's preferences are a wish list, and an
    unsupported or malformed header falls back to English.
    """
    for tag in _by_preference(accept_language or ""):
        language = _match(tag)
        if language is not None:
            return language
    return DEFAULT_LANGUAGE


def _by_preference(header: str) -> list[str]:
    """Language tags of an Accept-Language header, most preferred first, q=0 dropped."""
    weighted: list[tuple[float, int, str]] = []
    for position, item in enumerate(header.split(",")):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag and quality > 0:
            weighted.append((-quality, position, tag.strip()))
    return [tag for _, _, tag in sorted(weighted)]


def _match(tag: str) -> Language | None:
    """The supported language a BCP 47 / POSIX tag falls under, if any."""
    normalised = tag.replace("_", "-").lower()
    if normalised == "en" or normalised.startswith("en-"):
        return "en"
    if normalised == "zh" or normalised in {"zh-cn", "zh-hans", "zh-hans-cn", "zh-sg"}:
        return "zh-CN"
    return None


def babel_locale(language: Language) -> Locale:
    """The CLDR locale behind a language (``zh-CN`` -> ``zh_Hans_CN``)."""
    return Locale.parse(language, sep="-")


@cache
def translations(language: Language, domain: str = "memberscore") -> gettext.NullTranslations:
    """The compiled catalogue of one domain in one language (English: the msgids themselves).

    English is the source language, so its catalogue is used only for plural forms: an English
    ``.po`` with empty msgstrs still gives ``ngettext`` the right ``Plural-Forms``. A malformed
    catalogue (a msgid without its msgstr, as a careless merge leaves) is an error naming the line,
    not babel's default of a warning printed to stdout and the message dropped.
    """
    if domain not in DOMAINS:
        raise ValueError(f"domain: {domain!r} is not one of {', '.join(DOMAINS)}")
    path = LOCALE_DIR / language.replace("-", "_") / "LC_MESSAGES" / f"{domain}.po"
    with path.open("rb") as source:
        catalog = read_po(source, locale=language.replace("-", "_"), domain=domain, abort_invalid=True)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


@dataclass(frozen=True)
class Translator:
    """Everything a renderer needs to speak one language: messages, plurals, numbers and money."""

    language: Language
    domain: str = "memberscore"

    def gettext(self, message: str) -> str:
        """The message in this language (the English msgid when no translation exists)."""
        return translations(self.language, self.domain).gettext(message)

    def ngettext(self, singular: str, plural: str, count: int) -> str:
        """The plural form the language's own rule picks for ``count`` ("1 purchase", "2 purchases")."""
        return translations(self.language, self.domain).ngettext(singular, plural, count)

    def pgettext(self, context: str, message: str) -> str:
        """A message whose translation depends on where it appears (``tier`` vs ``segment``)."""
        return translations(self.language, self.domain).pgettext(context, message)

    def number(self, value: float, decimals: int = 0) -> str:
        """A number with the locale's grouping (``12,345``; 千分位) and a fixed count of decimals."""
        pattern = "#,##0" + ("." + "0" * decimals if decimals > 0 else "")
        return numbers.format_decimal(value, format=pattern, locale=babel_locale(self.language))

    def percent(self, share: float, decimals: int = 1) -> str:
        """A share in [0, 1] as a percentage in the locale's style."""
        pattern = "#,##0" + ("." + "0" * decimals if decimals > 0 else "") + "%"
        return numbers.format_percent(share, format=pattern, locale=babel_locale(self.language))

    def money(self, amount: float | Decimal, currency: str) -> str:
        """An amount in the retailer's currency (ISO 4217 code), e.g. ``¥1,234.50`` or ``$1,234.50``."""
        return numbers.format_currency(amount, currency, locale=babel_locale(self.language))


def translator(language: str | None = None, domain: str = "memberscore") -> Translator:
    """A Translator for an explicit language choice (None: English)."""
    return Translator(parse_language(language), domain)
