"""The product's OpenAPI document (``/docs.json``): its title, version and description, the
``X-API-Key`` scheme, and the one error shape of every refusal.

The key itself is checked by ``serving.auth.ApiKeyMiddleware`` before routing (so no route can
forget it); the ``Security`` dependency here only declares it in the document.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from typing import Any

from fastapi import FastAPI, Security
from fastapi.openapi.utils import get_openapi
from fastapi.security import APIKeyHeader
from pydantic import BaseModel, Field

TITLE = "memberscore"
DESCRIPTION = (
    "Values a retailer's loyalty members from their purchase history: churn, next purchase, upsell and "
    "value scores with the reasons behind them, segment counts and ranked campaign target lists. "
    "Every route but the probes (/healthz, /livez, /readyz, /readiness) needs an `X-API-Key` header. "
    "Every refusal is JSON: `{\"error\": \"<field>: <reason>\"}` (validation errors add `detail`)."
)

API_KEY = APIKeyHeader(name="X-API-Key", scheme_name="ApiKey", auto_error=False,
                       description="an API key (`memberscore keys create`)")


class ErrorBody(BaseModel):
    """Every 4xx and 5xx answer of the API."""

    error: str = Field(description="what was wrong, naming the field: '<field>: <reason>'")
    detail: list[dict[str, Any]] | None = Field(None, description="validation errors: loc, msg, type (no input)")


_ERROR = {"model": ErrorBody}
PROTECTED: dict[str, Any] = {
    "dependencies": [Security(API_KEY)],
    "responses": {401: {**_ERROR, "description": "missing or invalid API key (header X-API-Key)"},
                  403: {**_ERROR, "description": "the key's role may not use this route (README, Roles and API keys)"},
                  422: {**_ERROR, "description": "invalid request: the field and the reason"},
                  503: {**_ERROR, "description": "not ready: no model or snapshot serves yet (see /readiness)"}},
}
PUBLIC: dict[str, Any] = {}


def package_version() -> str:
    """The installed package's version (a Bento carries the sources, not the package metadata)."""
    try:
        return version("memberscore")
    except PackageNotFoundError:
        return "0+unknown"


def product_openapi(app: FastAPI) -> dict[str, Any]:
    """The document, built once per process; FastAPI's own 422 schema is replaced by ``ErrorBody``."""
    if app.openapi_schema is None:
        document = get_openapi(title=TITLE, version=package_version(), description=DESCRIPTION, routes=app.routes)
        schemas = document.get("components", {}).get("schemas", {})
        for name in ("HTTPValidationError", "ValidationError"):
            schemas.pop(name, None)
        for operation in (op for item in document.get("paths", {}).values() for op in item.values()):
            if "422" in operation.get("responses", {}):
                operation["responses"]["422"] = {
                    "description": "invalid request: the field and the reason",
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}}
        app.openapi_schema = document
    return app.openapi_schema

