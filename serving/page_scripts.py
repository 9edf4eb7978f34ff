"""The marketers' page's model-health panel script (``static/health.js``), public like the page itself.

It holds no data: in the browser it calls ``GET /monitoring`` with the key the user typed. (The
KPI panel's script is served beside its routes, ``serving.kpi_routes``.)
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Final

from fastapi import APIRouter
from fastapi.responses import Response

router = APIRouter()
HEALTH_SCRIPT: Final[Path] = Path(__file__).with_name("static") / "health.js"


@router.get("/ui/health.js", include_in_schema=False)
def health_script() -> Response:
    """The model-health panel of the marketers' page."""
    return Response(_text(HEALTH_SCRIPT), media_type="text/javascript; charset=utf-8")


@functools.cache
def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")
