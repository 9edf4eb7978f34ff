"""Names a person reads for the stable codes in memberscore's outputs (``champions``, ``diamond``, ``lost``).

Codes stay in keys, values, filters and CSV cells: a CRM matches on them, and they never change
with the reader's language. Beside each coded field, answers carry ``<field>_label``: the code's
English name (``"Champions"``, the msgid) translated with ``pgettext`` in the field's own context,
since one word names different things in different places ("lost" is a lifecycle stage and an RFM
segment: 流失 and 已流失客户). A code the catalogue does not know (a retailer's own tier) shows as
its English name, never as an error.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any, Final

from features.i18n import Translator

CODED_FIELDS: Final = ("rfm_segment", "abc_class", "lifecycle_stage", "tier")
CAMPAIGN: Final = "campaign"  # context of campaign names
CAMPAIGN_DESCRIPTION: Final = "campaign_description"  # context of campaign descriptions
KPI: Final = "kpi"  # context of membership KPI names


def english_name(code: str) -> str:
    """The English display name of a code, which is its msgid: ``loyal_customers`` -> ``Loyal customers``.

    Codes in capitals (ABC classes ``AA``) are names already.
    """
    if code.isupper():
        return code
    return code.replace("_", " ").capitalize()


def label(context: str, code: object, translator: Translator) -> str | None:
    """The display name of ``code`` in ``context`` (a coded field, or ``campaign``); None for no code."""
    if code is None or code != code:  # missing, NaN
        return None
    return _name(context, str(code), translator)


@functools.lru_cache(maxsize=4096)
def _name(context: str, code: str, translator: Translator) -> str:
    """Codes are few and /score names four per member: each is looked up once per language."""
    return translator.pgettext(context, english_name(code))


def labels_for(record: Mapping[Any, object], translator: Translator) -> dict[str, str | None]:
    """``<field>_label`` for every coded field ``record`` holds."""
    return {f"{field}_label": label(field, record[field], translator) for field in CODED_FIELDS if field in record}


def describe(description: str, translator: Translator) -> str:
    """A campaign's description (its English text is the msgid) in the reader's language."""
    return translator.pgettext(CAMPAIGN_DESCRIPTION, description)


def kpi_name(code: str, translator: Translator) -> str:
    """A membership KPI's name for people (msgid: the code with spaces, ``repurchase rate``; context ``kpi``)."""
    return translator.pgettext(KPI, code.replace("_", " "))
