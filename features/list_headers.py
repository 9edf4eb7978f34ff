"""Lists for people who asked for a language: column headers in it, and coded values named beside their codes.

Without a language a list keeps the stable column names a CRM import matches on (``tier``,
``churn_probability``). With one (``--lang``, the API's ``lang``), each coded column gains a
``<field>_label`` column right after it (``tier`` ``diamond``, then 钻石卡) and every header is
translated (context ``list_header``; msgid the column's English name, e.g. "Churn probability").
Cells other than names stay as they are: codes, numbers and reasons (already in the language).
"""

from __future__ import annotations

import re
from typing import Final

import pandas as pd

from features.i18n import Translator
from features.value_names import CODED_FIELDS, english_name, label

HEADER: Final = "list_header"
REASON_COLUMN: Final = re.compile(r"(?:(?P<task>[a-z_]+?)_)?reason_(?P<n>\d+)")
LABEL_SUFFIX: Final = "_label"
NAME_SUFFIX: Final = " name"  # the header of tier_label is "Tier name"


def header(column: str, translator: Translator) -> str:
    """One column's header in the translator's language."""
    reason = REASON_COLUMN.fullmatch(column)
    if reason is not None:
        text = translator.pgettext("list_header", "Reason {n}").format(n=reason["n"])
        task = reason["task"]
        return text if task is None else translator.pgettext("list_header", "{task}: {reason}").format(
            task=translator.pgettext("task", english_name(task)), reason=text)
    if column.endswith(LABEL_SUFFIX) and column.removesuffix(LABEL_SUFFIX) in CODED_FIELDS:
        return translator.pgettext(HEADER, english_name(column.removesuffix(LABEL_SUFFIX)) + NAME_SUFFIX)
    return translator.pgettext(HEADER, english_name(column))


def with_labels(frame: pd.DataFrame, translator: Translator) -> pd.DataFrame:
    """``frame`` with ``<field>_label`` after each coded column it has (names in the language)."""
    out = frame.copy()
    for field in CODED_FIELDS:
        if field in out.columns and f"{field}{LABEL_SUFFIX}" not in out.columns:
            names = {code: label(field, code, translator) for code in out[field].dropna().unique().tolist()}
            position = list(out.columns).index(field) + 1
            out.insert(position, f"{field}{LABEL_SUFFIX}", out[field].map(names).astype(object))
    return out


def for_readers(frame: pd.DataFrame, translator: Translator | None) -> pd.DataFrame:
    """The list as a reader of ``translator``'s language gets it; None: unchanged (stable codes)."""
    if translator is None:
        return frame
    labelled = with_labels(frame, translator)
    return labelled.set_axis([header(str(column), translator) for column in labelled.columns], axis=1)
