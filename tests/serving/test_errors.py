"""serving.errors: the one error body of every route, naming the field and never echoing the input."""

from __future__ import annotations

import asyncio
import json

import pydantic
import pytest
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from serving.errors import field_path, http_error, validation_error


class Request(pydantic.BaseModel):
    member_ids: list[str]
    explain: int = 3


def _validation_error(body: dict[str, object]) -> pydantic.ValidationError:
    try:
        Request.model_validate(body)
    except pydantic.ValidationError as error:
        return error
    raise AssertionError("the body was valid")


@pytest.mark.parametrize(("location", "expected"), [
    (("body", "rows", 0, "features", "x"), "rows[0].features.x"),
    (("query", "format"), "format"),
    (("member_ids", 2), "member_ids[2]"),
    ((), "body"),
])
def test_field_path(location: tuple[object, ...], expected: str) -> None:
    assert field_path(location) == expected


def test_a_validation_error_is_422_naming_the_first_field_without_the_input() -> None:
    error = _validation_error({"member_ids": ["m1", 7], "explain": "m12345-private"})
    locations = [("body", *item["loc"]) for item in error.errors()]
    wrapped = RequestValidationError([{**item, "loc": loc} for item, loc in zip(error.errors(), locations)])
    response = asyncio.run(validation_error(None, wrapped))  # type: ignore[arg-type]
    body = json.loads(response.body)
    assert response.status_code == 422
    assert body["error"] == "member_ids[1]: Input should be a valid string"
    assert [item["loc"] for item in body["detail"]] == [["body", "member_ids", 1], ["body", "explain"]]
    assert "m12345-private" not in response.body.decode()


def test_json_syntax_errors_name_the_body_not_an_offset() -> None:
    wrapped = RequestValidationError([{"loc": ("body", 17), "msg": "JSON decode error", "type": "json_invalid"}])
    body = json.loads(asyncio.run(validation_error(None, wrapped)).body)  # type: ignore[arg-type]
    assert body["error"] == "body: JSON decode error"


def test_an_http_error_keeps_its_status_and_headers() -> None:
    response = asyncio.run(http_error(None, HTTPException(405, "Method Not Allowed", {"Allow": "POST"})))  # type: ignore[arg-type]
    assert response.status_code == 405 and json.loads(response.body) == {"error": "Method Not Allowed"}
    assert response.headers["allow"] == "POST"
