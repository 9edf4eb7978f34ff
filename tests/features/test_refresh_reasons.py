"""features.refresh_reasons: every reason sentence is in the catalogue, translated, and renders fully in both languages."""

from __future__ import annotations

import re

import pytest

from features.i18n import translations, translator
from features.refresh_reasons import ACTIONS, DRIFT_TEMPLATES, TEMPLATES, Reason, reason_line

VALUES = {"version": "4", "days": 120, "max_days": 90, "as_of": "2026-08-01", "metric": "roc_auc", "served": 0.7,
          "baseline": "recency", "best": 0.75, "trained": 0.8, "gap": 0.05, "margin": 0.0}
CASES = [Reason(rule, action, "value", VALUES) for rule in TEMPLATES for action in ACTIONS]  # type: ignore[arg-type]
CASES += [Reason("drift", "alert", "churn", {"kind": kind, "level": "warn", "count": n, "columns": "a", "limit": 1})
          for kind in DRIFT_TEMPLATES for n in (1, 2)]


def test_every_sentence_has_its_chinese() -> None:
    zh = translations("zh-CN", "memberscore")
    for message in TEMPLATES.values():
        assert zh.gettext(message) != message, message
    for singular, plural in DRIFT_TEMPLATES.values():
        assert zh.ngettext(singular, plural, 2) != plural, plural


@pytest.mark.parametrize("language", ["en", "zh-CN"])
def test_every_reason_renders_with_no_placeholder_left(language: str) -> None:
    for reason in CASES:
        line = reason_line(reason, translator(language))
        assert "{" not in line and "}" not in line, line
        if language == "zh-CN":  # only codes a reader looks up stay in Latin letters: rules, metrics, columns
            words = set(re.findall(r"[A-Za-z_]{2,}", line)) - {"roc_auc", "recency", "champion_age", "no_champion",
                                                                "backtest_below_baseline", "backtest_below_training", "drift"}
            assert not words, line


def test_plural_forms_in_english() -> None:
    one, two = (reason_line(r, translator("en")) for r in CASES[-4:-2])
    assert one.startswith("alert: Churn: 1 score at drift level warn or worse")
    assert two.startswith("alert: Churn: 2 scores at drift level warn or worse")


def test_a_reason_survives_its_record() -> None:
    for reason in CASES:
        assert Reason.from_record(reason.as_record()) == reason
