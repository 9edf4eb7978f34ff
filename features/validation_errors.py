"""Pydantic's validation errors as the one line memberscore prints: the field, then the reason."""

from __future__ import annotations

from pydantic import ValidationError


def first_problem(error: ValidationError) -> tuple[str, str]:
    """The first error's dotted field path ("" for the model as a whole) and its reason.

    One error is enough to fix the input and try again; pydantic's "Value error, " prefix on a
    validator's own message is dropped so the message reads as written.
    """
    first = error.errors()[0]
    field = ".".join(str(part) for part in first["loc"])
    return field, first["msg"].removeprefix("Value error, ")
