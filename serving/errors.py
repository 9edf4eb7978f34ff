"""One error body for every refusal of the API: ``{"error": "<field>: <reason>", "detail": [...]}``.

FastAPI's default validation response echoes the offending input, which fails to render when the
input is NaN or infinity (a 500 for bad input); this one names the field and never echoes values.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from features.data_key import DataKeyNeeded, WrongDataKey


def field_path(location: Sequence[object]) -> str:
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


@contextmanager
def data_key_refusals() -> Iterator[None]:
    """Encrypted data met without the service's data key (or with another one) as a 503 naming the
    setting: the service is misconfigured, not the request wrong, and a generic 500 said neither.
    Used inside the routes' ``except ValueError`` (both errors are ValueErrors), so not a 422 either."""
    try:
        yield
    except (DataKeyNeeded, WrongDataKey) as error:
        raise HTTPException(status_code=503, detail=f"not ready: {error}") from None
