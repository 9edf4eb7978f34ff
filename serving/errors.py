"""One error body for every 4xx of the FastAPI routes: ``{"error": "<field>: <reason>", "detail": [...]}``,
and one log line (not a traceback) for every request a ``@bentoml.api`` route refuses.

FastAPI's default validation response echoes the offending input, which fails to render when the
input is NaN or infinity (a 500 for bad input); this one names the field and never echoes values.
"""

from __future__ import annotations

import logging

import pydantic
from bentoml.exceptions import BentoMLException
from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException


def field_path(location: tuple[object, ...] | list[object]) -> str:
    """``("body", "rows", 0, "features", "x")`` -> ``rows[0].features.x``."""
    text = ""
    for part in location:
        if part in ("body", "query") and not text:
            continue
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "body"


async def validation_error(_: Request, error: RequestValidationError) -> JSONResponse:
    details = [{"loc": list(item.get("loc", ())), "msg": str(item.get("msg", "")), "type": str(item.get("type", ""))}
               for item in error.errors()]
    first = details[0] if details else {"loc": [], "msg": "invalid request", "type": ""}
    # FastAPI locates a JSON syntax error at ("body", <character offset>), which is no field
    where = "body" if first["type"] == "json_invalid" else field_path(first["loc"])
    return JSONResponse(status_code=422, content={"error": f"{where}: {first['msg']}", "detail": details})


async def http_error(_: Request, error: HTTPException) -> JSONResponse:
    return JSONResponse(status_code=error.status_code, content={"error": str(error.detail)}, headers=error.headers)


# BentoML's HTTP app logs every exception of a @bentoml.api route here, a caller's 400 included
BENTOML_HTTP_LOGGER = "bentoml._internal.server.http_app"


class RefusedRequestLogFilter(logging.Filter):
    """Turns BentoML's ERROR-with-traceback for a refused request into one WARNING line.

    BentoML logs a malformed ``/score`` body (a pydantic ``ValidationError``, answered 400) exactly
    like a crash, so a CRM sending bad calls would bury real faults in tracebacks. A caller's
    mistake becomes ``Refused /score [POST]: <field>: <reason>`` (never the input's values, which may be personal);
    anything else keeps its level and traceback.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        reason = refusal(record.exc_info[1] if record.exc_info else None)
        if reason is not None:
            record.msg, record.args = f"{record.getMessage().replace('Exception on', 'Refused', 1)}: {reason}", None
            record.levelno, record.levelname = logging.WARNING, logging.getLevelName(logging.WARNING)
            record.exc_info, record.exc_text = None, None
        return True


def refusal(error: BaseException | None) -> str | None:
    """``<field>: <reason>`` for an error that is the caller's (validation, or a 4xx), else None."""
    if isinstance(error, pydantic.ValidationError):
        details = error.errors(include_url=False, include_context=False, include_input=False)
        return f"{field_path(details[0]['loc'])}: {details[0]['msg']}" if details else "invalid request"
    if isinstance(error, BentoMLException) and int(error.error_code) < 500:  # its message may quote the body
        return f"{type(error).__name__} ({int(error.error_code)})"
    return None


def quiet_refused_requests() -> None:
    """Install ``RefusedRequestLogFilter`` on BentoML's HTTP logger (once per process)."""
    logger = logging.getLogger(BENTOML_HTTP_LOGGER)
    if not any(isinstance(existing, RefusedRequestLogFilter) for existing in logger.filters):
        logger.addFilter(RefusedRequestLogFilter())
