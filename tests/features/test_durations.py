"""One reading of "a length of time or a date" for every option that takes one."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from features.durations import length_or_date


@pytest.mark.parametrize(("text", "expected"), [
    ("30m", timedelta(minutes=30)), ("12h", timedelta(hours=12)), (" 7d ", timedelta(days=7)),
    ("2w", timedelta(weeks=2)), ("2026-12-01", datetime(2026, 12, 1, tzinfo=UTC)),
])
def test_lengths_and_dates(text: str, expected: timedelta | datetime) -> None:
    assert length_or_date(text, "--since") == expected


@pytest.mark.parametrize("text", ["0d", "7", "d", "7 days", "-3d", "2026-13-01", "1y", "1234567d"])
def test_anything_else_names_the_option_and_what_it_accepts(text: str) -> None:
    with pytest.raises(ValueError, match=r"^--since '.*': expected a length such as 30m, 12h, 7d, 2w, or a date"):
        length_or_date(text, "--since")


def test_units_can_be_narrowed_and_the_message_follows() -> None:
    assert length_or_date("90d", "--expires", units="hd") == timedelta(days=90)
    with pytest.raises(ValueError, match=r"^--expires '30m': expected a length such as 12h, 7d, or a date"):
        length_or_date("30m", "--expires", units="hd")
