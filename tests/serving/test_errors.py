"""serving.errors: the field path of an error, and one WARNING line (no traceback) per refused request.

BentoML logs every exception of a ``@bentoml.api`` route at ERROR with its traceback, a caller's
malformed body included; the filter keeps that for real faults only.
"""

from __future__ import annotations

import logging
import sys

import pydantic
import pytest
from bentoml.exceptions import BadInput, InternalServerError

from serving.errors import BENTOML_HTTP_LOGGER, RefusedRequestLogFilter, field_path, quiet_refused_requests, refusal


class Request(pydantic.BaseModel):
    member_ids: list[str]
    explain: int = 3


def _validation_error(body: dict[str, object]) -> pydantic.ValidationError:
    try:
        Request.model_validate(body)
    except pydantic.ValidationError as error:
        return error
    raise AssertionError("the body was valid")


def _record(error: BaseException) -> logging.LogRecord:
    """A record as BentoML's ``log_exception`` makes it, while ``error`` is being handled."""
    try:
        raise error
    except BaseException:
        return logging.LogRecord(BENTOML_HTTP_LOGGER, logging.ERROR, __file__, 1, "Exception on %s [%s]",
                                 ("/score", "POST"), sys.exc_info())


@pytest.mark.parametrize(("location", "expected"), [
    (("body", "rows", 0, "features", "x"), "rows[0].features.x"),
    (("query", "format"), "format"),
    (("member_ids", 2), "member_ids[2]"),
    ((), "body"),
])
def test_field_path(location: tuple[object, ...], expected: str) -> None:
    assert field_path(location) == expected


def test_a_validation_error_becomes_one_warning_line_naming_the_field() -> None:
    record = _record(_validation_error({"member_ids": ["m1", 7], "explain": "three"}))

    assert RefusedRequestLogFilter().filter(record) is True
    assert (record.levelno, record.levelname) == (logging.WARNING, "WARNING")
    assert record.getMessage() == "Refused /score [POST]: member_ids[1]: Input should be a valid string"
    assert record.exc_info is None and record.exc_text is None


def test_the_refusal_never_quotes_the_input() -> None:
    """A wrong value may be a member id or an amount: the line names the field, not what was sent."""
    reason = refusal(_validation_error({"member_ids": "m12345-private", "explain": 1234.56}))
    assert reason is not None and reason.startswith("member_ids: ")
    assert "m12345" not in reason and "1234.56" not in reason


def test_bentoml_4xx_is_a_warning_and_5xx_keeps_its_traceback() -> None:
    refused, crashed, bug = _record(BadInput("not JSON: {secret")), _record(InternalServerError("x")), _record(KeyError("k"))

    for record in (refused, crashed, bug):
        RefusedRequestLogFilter().filter(record)

    assert refused.levelno == logging.WARNING and refused.getMessage() == "Refused /score [POST]: BadInput (400)"
    assert "secret" not in refused.getMessage()
    assert crashed.levelno == logging.ERROR and crashed.exc_info is not None
    assert bug.levelno == logging.ERROR and bug.exc_info is not None and bug.getMessage() == "Exception on /score [POST]"


def test_installed_once_on_bentomls_http_logger() -> None:
    logger = logging.getLogger(BENTOML_HTTP_LOGGER)
    before = list(logger.filters)
    try:
        quiet_refused_requests()
        quiet_refused_requests()
        assert sum(isinstance(f, RefusedRequestLogFilter) for f in logger.filters) == 1
    finally:
        logger.filters[:] = before
