"""Numbers, shares and money as a reader of one language expects them, fast enough for batch reasons.

``features.i18n.Translator`` formats one value through Babel (~20 microseconds each); a batch of a
million members tells several million amounts. ``Voice`` reads the locale's CLDR patterns once
(grouping and decimal marks, where the currency symbol goes, the currency's own decimals) and then
formats each value with Python's ``format``; a test checks it agrees with Babel value for value.

The currency is the project's (``MEMBERSCORE_CURRENCY``, an ISO 4217 code, read by
``features.settings`` where a command or the service starts; one deployment serves one project).
Without one an amount is a plain number with two decimals, as before currencies were configured:
a symbol that may be wrong is worse than none.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

from babel import numbers

from features.i18n import DEFAULT_LANGUAGE, Language, Translator, babel_locale


class CurrencyError(ValueError):
    """A currency that is not an ISO 4217 code Babel knows."""


def check_currency(code: str) -> str:
    """The ISO 4217 code upper-cased, or CurrencyError naming the field."""
    upper = code.strip().upper()
    if len(upper) != 3 or not upper.isalpha() or upper not in numbers.list_currencies():
        raise CurrencyError(f"currency: {code!r} is not an ISO 4217 currency code (e.g. USD, CNY, GBP, EUR)")
    return upper


@dataclass(frozen=True)
class _Marks:
    """The locale's grouping and decimal marks, and its money layout for one currency."""

    group: str
    decimal: str
    money_prefix: tuple[str, str]  # (positive, negative), the symbol already in place
    money_suffix: tuple[str, str]
    money_decimals: int
    percent_prefix: tuple[str, str]
    percent_suffix: tuple[str, str]


@cache
def _marks(language: Language, currency: str | None) -> _Marks:
    locale = babel_locale(language)
    money = numbers.parse_pattern(locale.currency_formats["standard"].pattern)
    percent = numbers.parse_pattern(locale.percent_formats[None].pattern)
    symbol = numbers.get_currency_symbol(currency, locale=locale) if currency else ""
    return _Marks(
        group=numbers.get_group_symbol(locale), decimal=numbers.get_decimal_symbol(locale),
        money_prefix=(money.prefix[0].replace("¤", symbol), money.prefix[1].replace("¤", symbol)),
        money_suffix=(money.suffix[0].replace("¤", symbol), money.suffix[1].replace("¤", symbol)),
        money_decimals=numbers.get_currency_precision(currency) if currency else 2,
        percent_prefix=(percent.prefix[0], percent.prefix[1]), percent_suffix=(percent.suffix[0], percent.suffix[1]),
    )


@dataclass(frozen=True)
class Voice:
    """How reasons are told: in which language, and amounts in which currency (None: no symbol)."""

    language: Language = DEFAULT_LANGUAGE
    currency: str | None = None
    translator: Translator = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "translator", Translator(self.language))

    def number(self, value: float, decimals: int = 0, signed: bool = False) -> str:
        """``12,345`` / ``3.5`` with the locale's marks; ``signed`` writes ``+`` before a positive value."""
        return self._grouped(value, decimals, "+" if signed else "")

    def percent(self, share: float, decimals: int = 0) -> str:
        """A share in [0, 1] as ``45%`` in the locale's layout."""
        marks = _marks(self.language, None)
        negative = share < 0 and round(abs(share) * 100, decimals) != 0
        body = self._grouped(abs(share) * 100, decimals, "")
        return marks.percent_prefix[negative] + body + marks.percent_suffix[negative]

    def money(self, amount: float, signed: bool = False) -> str:
        """``$1,234.50`` / ``¥1,234.50`` in the configured currency (its own decimals), else ``1,234.50``."""
        marks = _marks(self.language, self.currency)
        negative = amount < 0 and round(abs(amount), marks.money_decimals) != 0
        body = self._grouped(abs(amount), marks.money_decimals, "")
        sign = "+" if signed and not negative and round(amount, marks.money_decimals) != 0 else ""
        return sign + marks.money_prefix[negative] + body + marks.money_suffix[negative]

    def _grouped(self, value: float, decimals: int, sign: str) -> str:
        marks = _marks(self.language, None)
        if value < 0 and round(-value, decimals) == 0:
            value = 0.0  # "-0.0" reads as a loss that is not there
        text = format(value, f"{sign},.{decimals}f")
        if marks.group == "," and marks.decimal == ".":
            return text
        return text.translate({ord(","): marks.group, ord("."): marks.decimal})
