"""The suite's own scheduling rules hold for every collected test (tests/conftest.py)."""

from __future__ import annotations

import pytest


def test_every_test_that_needs_the_trained_store_is_slow(request: pytest.FixtureRequest) -> None:
    """``make test-fast`` never builds the trained store: whatever needs it is marked slow, so a
    fast run deselects it (in a full run the check covers every such test)."""
    needing = [item for item in request.session.items if "trained" in getattr(item, "fixturenames", ())]
    unmarked = [item.nodeid for item in needing if item.get_closest_marker("slow") is None]
    assert unmarked == []
