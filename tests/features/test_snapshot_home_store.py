"""A snapshot records each member's home store (the store of their first purchase before as_of),
which store-scoped API keys are filtered by (serving.scope)."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from features.snapshot import HOME_STORE, build_snapshot


@pytest.mark.slow  # a whole snapshot with its BG/NBD fit: ~1-3 s on the shared machine
def test_home_store_is_the_first_purchase_store_before_the_cut_off() -> None:
    tx = pd.DataFrame({
        "member_id": ["a", "a", "b", "b", "c", "d"],
        "ts": pd.to_datetime(["2024-01-05", "2024-01-02", "2024-03-01", "2024-01-10", "2024-01-03", "2024-01-04"]),
        "amount": [10.0, 20.0, 5.0, 7.0, -3.0, 4.0],
        "order_id": ["1", "2", "3", "4", "5", "6"],
        "store": ["S2", "S1", "S9", "S3", "S4", None],
    })
    snapshot = build_snapshot(tx, date(2024, 2, 1))
    homes = dict(zip(snapshot.profile["member_id"], snapshot.profile[HOME_STORE]))
    # a: first purchase at S1; b: S3 (S9 is after the cut-off); c: only a return (no member yet); d: no store named
    assert homes == {"a": "S1", "b": "S3", "d": "unknown"}
