"""The reader's language for a request: ``?lang=`` if given, else ``Accept-Language``, else English.

One FastAPI dependency (``RequestLanguage``) that every route answering with text declares, so the
choice is made the same way everywhere. An explicit ``lang`` the service does not speak is a 422
naming the field (the caller asked for it by name; serving English instead would go unnoticed),
while a browser's ``Accept-Language`` is a wish list and falls back to English.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Query

from features.i18n import DEFAULT_LANGUAGE, LANGUAGES, Language, LanguageError, negotiate, parse_language

LANG_HELP = f"language of the text in the answer: {', '.join(LANGUAGES)} (wins over Accept-Language; default en)"


@dataclass(frozen=True)
class Asked:
    """The answer's language, and whether the caller named it (``lang``) rather than a browser's wish."""

    language: Language
    explicit: bool


async def request_language(
    lang: Annotated[str | None, Query(description=LANG_HELP, examples=["zh-CN"])] = None,
    accept_language: Annotated[str | None, Header(include_in_schema=False)] = None,
) -> Asked:
    """The language the answer's sentences and ``_label`` fields are written in (async: FastAPI runs a
    plain function dependency in its thread pool, a hop that cost more than the answer)."""
    if lang is not None:
        try:
            return Asked(parse_language(lang), explicit=True)
        except LanguageError as error:
            raise HTTPException(status_code=422, detail=str(error)) from None
    return Asked(negotiate(accept_language), explicit=False)


RequestLanguage = Annotated[Asked, Depends(request_language)]
ENGLISH_READER = Asked(DEFAULT_LANGUAGE, explicit=False)  # a route called as a method, not over HTTP
