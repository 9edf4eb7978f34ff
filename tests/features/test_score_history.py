"""Score history: stored scores read back exactly as written (plain and encrypted); retention deletes the oldest."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from features.data_key import new_data_key_text, parse_data_key
from features.encrypted_parquet import is_encrypted
from features.score_history import history_path, prune_scores, read_scores, stored_dates, write_scores

AS_OF = date(2024, 3, 1)
VERSIONS = {"churn": "3", "next_purchase": "1"}


def scores() -> pd.DataFrame:
    """Three members with the kinds of values a score file holds: NaN, dates, text, nullable text."""
    return pd.DataFrame({
        "member_id": ["a", "b", "c"],
        "churn_probability": [0.125, np.nan, 0.875],
        "next_purchase_date": [date(2024, 3, 9), None, date(2024, 4, 1)],
        "upsell_categories": ["dairy|bakery", "", "grocery"],
        "rfm_segment": ["champions", "at_risk", "lost"],
        "served_by": pd.array(["churn=model:3;upsell=none", "churn=none", "churn=model:3"], dtype="string"),
    })


@pytest.mark.parametrize("encrypted", [False, True])
def test_scores_read_back_as_written(tmp_path: Path, encrypted: bool) -> None:
    """Every column, value, dtype and row order, the date and the versions come back; a key encrypts the file."""
    key = parse_data_key(new_data_key_text()) if encrypted else None
    path = write_scores(scores(), tmp_path, AS_OF, VERSIONS, 90, key)
    assert path == tmp_path / "history" / "scores-2024-03-01.parquet"
    assert is_encrypted(path) is encrypted
    stored = read_scores(path, key)
    pd.testing.assert_frame_equal(stored.scores, scores())
    assert (stored.as_of, stored.model_versions, stored.horizon_days) == (AS_OF, VERSIONS, 90)


def test_rescoring_a_day_replaces_its_file(tmp_path: Path) -> None:
    write_scores(scores(), tmp_path, AS_OF, VERSIONS, 90)
    write_scores(scores().iloc[:1], tmp_path, AS_OF, {"churn": "4"}, 60)
    stored = read_scores(history_path(tmp_path, AS_OF))
    assert (len(stored.scores), stored.model_versions, stored.horizon_days) == (1, {"churn": "4"}, 60)
    assert stored_dates(tmp_path) == [AS_OF]


def test_retention_deletes_only_files_older_than_the_window(tmp_path: Path) -> None:
    """Newest 2024-03-01, 30 days: 2024-01-31 is 30 days back (kept), 2024-01-30 is 31 (deleted)."""
    days = [date(2023, 12, 1), date(2024, 1, 30), date(2024, 1, 31), date(2024, 3, 1)]
    for day in days:
        write_scores(scores(), tmp_path, day, VERSIONS, 90)
    assert prune_scores(tmp_path, 30) == days[:2]
    assert stored_dates(tmp_path) == days[2:]
    assert not history_path(tmp_path, days[0]).exists()


def test_retention_zero_keeps_everything_and_negative_is_refused(tmp_path: Path) -> None:
    for day in (date(2020, 1, 1), AS_OF):
        write_scores(scores(), tmp_path, day, VERSIONS, 90)
    assert prune_scores(tmp_path, 0) == []
    assert stored_dates(tmp_path) == [date(2020, 1, 1), AS_OF]
    with pytest.raises(ValueError, match="keep_days must be >= 0, not -1"):
        prune_scores(tmp_path, -1)
    assert prune_scores(tmp_path / "none", 30) == []


def test_a_horizon_below_one_day_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="horizon_days must be >= 1, not 0"):
        write_scores(scores(), tmp_path, AS_OF, VERSIONS, 0)
    assert stored_dates(tmp_path) == []


@pytest.mark.parametrize("encrypted", [False, True])
def test_facts_come_from_the_metadata_alone_with_the_baselines_named(tmp_path: Path, encrypted: bool) -> None:
    """score_facts reads the date, versions, horizon and baseline names without the rows; older files
    (written before baselines were named) read back with none."""
    from features.score_history import score_facts

    key = parse_data_key(new_data_key_text()) if encrypted else None
    path = write_scores(scores(), tmp_path, AS_OF, VERSIONS, 60, key, baselines={"churn": "recency"})
    facts = score_facts(path, key)
    assert (facts.as_of, facts.model_versions, facts.horizon_days, facts.baselines) == \
        (AS_OF, VERSIONS, 60, {"churn": "recency"})
    assert facts.scores.empty and read_scores(path, key).baselines == {"churn": "recency"}
    assert score_facts(write_scores(scores(), tmp_path, AS_OF, VERSIONS, 60, key), key).baselines == {}


@pytest.mark.parametrize("encrypted", [False, True])
def test_backtest_results_read_back_oldest_first(tmp_path: Path, encrypted: bool) -> None:
    """features.backtest_store: one document per date, sealed with a key, read back in date order."""
    from features.backtest_store import backtest_path, backtested_dates, read_backtests, write_backtest
    from features.sealed import file_is_sealed

    key = parse_data_key(new_data_key_text()) if encrypted else None
    later, earlier = {"as_of": "2024-03-01", "metrics": []}, {"as_of": "2023-12-01", "metrics": [{"served": None}]}
    write_backtest(later, tmp_path, date(2024, 3, 1), key)
    write_backtest(earlier, tmp_path, date(2023, 12, 1), key)
    assert backtested_dates(tmp_path) == [date(2023, 12, 1), date(2024, 3, 1)]
    assert read_backtests(tmp_path, key) == [earlier, later]
    assert file_is_sealed(backtest_path(tmp_path, date(2024, 3, 1))) is encrypted
    assert read_backtests(tmp_path / "elsewhere", key) == []
