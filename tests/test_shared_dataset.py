"""Issue 15: golden tests read committed data; a dataset found nowhere fails in CI instead of skipping."""

from __future__ import annotations

import pytest

from tests.conftest import TEST_DATA, shared_dataset


def test_the_cdnow_sample_of_the_bgnbd_paper_is_committed() -> None:
    assert shared_dataset("cdnow/cdnow_sample.parquet") == TEST_DATA / "cdnow" / "cdnow_sample.parquet"


def test_a_missing_dataset_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        shared_dataset("no_such/dataset.parquet")


def test_a_missing_dataset_skips_with_the_reason_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no_such/dataset.parquet"):
        shared_dataset("no_such/dataset.parquet")
