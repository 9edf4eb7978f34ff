"""The suite's own scheduling rules hold for every collected test (tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import slow_as_a_whole


def test_every_test_that_needs_the_trained_store_is_slow(request: pytest.FixtureRequest) -> None:
    """``make test-fast`` never builds the trained store: whatever needs it is marked slow, so a
    fast run deselects it (in a full run the check covers every such test)."""
    needing = [item for item in request.session.items if "trained" in getattr(item, "fixturenames", ())]
    unmarked = [item.nodeid for item in needing if item.get_closest_marker("slow") is None]
    assert unmarked == []


def test_a_file_left_uncollected_in_fast_runs_holds_only_slow_tests(request: pytest.FixtureRequest) -> None:
    """``make test-fast`` does not even import the files ``slow_as_a_whole`` names: each of their
    tests must be slow, so leaving them out loses no fast test (in a full run every file is here)."""
    by_file: dict[str, list[pytest.Item]] = {}
    for item in request.session.items:
        by_file.setdefault(str(item.path), []).append(item)
    skipped_files = [path for path in by_file if slow_as_a_whole(Path(path))]
    not_slow = [item.nodeid for path in skipped_files for item in by_file[path] if item.get_closest_marker("slow") is None]
    assert not_slow == []


def test_the_rule_finds_the_files_marked_slow_and_no_other() -> None:
    """On the suite's own files: 26 were slow as a whole when the rule was written; a file with a
    module-level mark that is not slow (test_pipeline's ``integration``) is not one of them."""
    tests = Path(__file__).parent
    found = {path.relative_to(tests).as_posix() for path in tests.rglob("test_*.py") if slow_as_a_whole(path)}
    assert len(found) >= 26 and "serving/test_cli_spark_cluster.py" in found
    assert "training/test_pipeline.py" not in found and "test_markers.py" not in found
