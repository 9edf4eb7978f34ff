"""training.report_page in English and Chinese: every sentence it writes is in the ``page`` catalogue.

The msgids are extracted from the module with Babel's own Python extractor (the one ``pybabel
extract`` runs), so a sentence added without a Chinese translation fails here, not in front of a
reader. The rendered Chinese page is then read for what must and must not be in it.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po

from features.i18n import LOCALE_DIR, LanguageError
from tests.training.test_report_page import REPORT
from training import report_page
from training.report_page import calibration_note, render_report_page

KEYWORDS = {"gettext": None, "ngettext": (1, 2), "pgettext": ((1, "c"), 2), "N_": None}


def extracted(path: Path) -> set[str]:
    """Every msgid (singular and plural) a Python module passes to the translator or marks with N_."""
    found: set[str] = set()
    for _, message, _, _ in extract_from_file("python", str(path), keywords=KEYWORDS):
        found.update([message] if isinstance(message, str) else [m for m in message if m])
    return found


def translated(language: str) -> dict[str, str]:
    """msgid -> first msgstr of the page catalogue of one language (plural msgids included)."""
    with (LOCALE_DIR / language / "LC_MESSAGES" / "page.po").open("rb") as source:
        catalog = read_po(source)
    table: dict[str, str] = {}
    for message in catalog:
        if not message.id:
            continue
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        strings = [message.string] if isinstance(message.string, str) else list(message.string or ())
        table.update({msgid: strings[0] for msgid in ids})
    return table


MESSAGES = extracted(Path(report_page.__file__))


def test_every_report_sentence_is_in_both_catalogues_and_translated_in_chinese() -> None:
    assert len(MESSAGES) > 30 and "{count} members" in MESSAGES
    assert sorted(MESSAGES - set(translated("en"))) == []
    chinese = translated("zh_CN")
    assert sorted(m for m in MESSAGES if not chinese.get(m)) == []


def test_the_chinese_report_has_no_english_sentence_left() -> None:
    """Rendered in zh-CN, no sentence fragment of the catalogue shows in English (data kept in Chinese)."""
    report = copy.deepcopy(REPORT)
    for task in report["tasks"].values():
        task["decision"] = "决定"
    report["tasks"]["churn"]["promotion_interval"] = {"metric": "roc_auc", "baseline": "bgnbd", "difference": 0.02,
                                                      "low": 0.01, "high": 0.03, "rounds": 1000, "level": 0.95}
    report["tasks"]["churn"]["baselines_unavailable"] = {"bgnbd": "未收敛"}
    report["tasks"]["next_purchase"]["calibration"]["distribution"] = "logistic"
    html = render_report_page(report, lang="zh-CN")
    assert '<html lang="zh-CN">' in html and "<title>memberscore 训练报告</title>" in html
    for text in ("<dt>会员数</dt><dd>2,447</dd>", "<dt>评估截止日</dt><dd>2024-07-01</dd>",
                 "<strong>已晋升为冠军（版本 3）</strong>：<span", "<h2>下次购买</h2>", '<th scope="row">模型</th>',
                 "95% 区间 0.0100 至 0.0300", "：超出噪声</p>", "未纳入基线 bgnbd：未收敛",
                 "距下次购买天数按对数逻辑斯谛（AFT logistic）分布，sigma 1.1500", "（2,447 名会员）",
                 "ece_30d 校准前 0.0166，校准后 0.0074。"):
        assert text in html, text
    text = re.sub(r"<[^>]*>", " ", re.sub(r"<style>.*?</style>", "", html, flags=re.S)).replace("memberscore", "")
    for message in MESSAGES:
        for fragment in re.split(r"\{\w+\}", message):
            fragment = fragment.strip(" .,:;()")
            if len(fragment) >= 4 and not fragment.startswith("AFT"):  # AFT <law>: the XGBoost name, kept
                assert not re.search(rf"\b{re.escape(fragment)}\b", text), fragment


def test_english_names_the_chosen_next_purchase_distribution() -> None:
    note = calibration_note({"method": "aft_sigma", "parameter": 0.8, "slope": 1.25, "distribution": "extreme",
                             "fitted_on": "2024-01-01", "rows": 1, "before": {}, "after": {}})
    assert note == ('<p class="calibration">Probabilities calibrated out of time: Weibull (AFT extreme) distribution '
                    "of days to the next purchase, sigma 0.8000, margin spread 1.2500, fitted on the 2024-01-01 "
                    "training cut-off (1 member).</p>")


def test_an_unsupported_language_is_refused_naming_it() -> None:
    with pytest.raises(LanguageError, match="lang: 'fr' is not supported"):
        render_report_page({}, lang="fr")


def test_train_refuses_an_unsupported_report_language_before_any_work(tmp_path: Path) -> None:
    """``memberscore train --lang fr``: exit 2 with one line naming the option, no file read."""
    from typer.testing import CliRunner

    from cli.main import app

    result = CliRunner().invoke(app, ["train", "--transactions", str(tmp_path / "absent.csv"), "--lang", "fr"])
    assert result.exit_code == 2
    assert result.output.strip() == "error: --lang: 'fr' is not supported; use one of en, zh-CN"
