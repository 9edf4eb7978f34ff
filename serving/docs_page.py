"""The API's documentation page at ``/``: Swagger UI on ``/docs.json``, from this service's files only.

BentoML's own page at ``/`` loads Google Tag Manager (the reader's browser reports to a third
party) and links out; Swagger UI itself, left to its defaults, sends the document's address to
validator.swagger.io. This page loads the Swagger UI files BentoML ships (``/static_content/``),
turns the validator off, and its Content-Security-Policy lets the browser fetch nothing from
another origin even if a file asked it to.
"""

from __future__ import annotations

import base64
import hashlib
import re
from functools import cache
from pathlib import Path
from typing import Final

from fastapi.responses import HTMLResponse

PAGE: Final[Path] = Path(__file__).with_name("static") / "docs.html"
_INLINE_SCRIPT = re.compile(r"<script>(.*?)</script>", re.DOTALL)


@cache
def docs_html() -> str:
    return PAGE.read_text(encoding="utf-8")


@cache
def content_security_policy() -> str:
    """Same origin only; the page's one inline script allowed by its hash (no 'unsafe-inline' for scripts).

    Swagger UI sets inline styles, hence ``style-src 'unsafe-inline'`` (styles cannot send data out
    when every fetch is limited to ``'self'``).
    """
    hashes = " ".join(f"'sha256-{base64.b64encode(hashlib.sha256(s.encode()).digest()).decode()}'"
                      for s in _INLINE_SCRIPT.findall(docs_html()))
    return ("default-src 'self'; " f"script-src 'self' {hashes}; " "style-src 'self' 'unsafe-inline'; "
            "img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'")


def docs_response() -> HTMLResponse:
    """The page with its policy."""
    return HTMLResponse(docs_html(), headers={"Content-Security-Policy": content_security_policy()})
