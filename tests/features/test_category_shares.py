"""features.categories.category_shares: exact shares on hand-built lines, colliding slugs summed into one column.

Pinned by hand: member a spends 10 in "Café", 30 in "cafe" and 60 in "TV" (both cafés slug to
``share_cafe``: 0.4; TV 0.6); member b's return and the line at the cut-off are not spend; a
category of symbols only is ``share_blank``. The same with the category column as a pandas
categorical (how a loaded file may arrive).
"""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from features.categories import category_shares

AS_OF = date(2024, 3, 1)


def lines() -> pd.DataFrame:
    rows = [("a", "2024-01-05", 10.0, "Café"), ("a", "2024-01-06", 30.0, "cafe"), ("a", "2024-02-01", 60.0, "TV"),
            ("b", "2024-01-10", 20.0, "TV"), ("b", "2024-01-11", -5.0, "TV"), ("b", "2024-03-01", 99.0, "Café"),
            ("c", "2024-02-10", 10.0, "&/-")]
    frame = pd.DataFrame(rows, columns=["member_id", "ts", "amount", "category"])
    frame["ts"] = pd.to_datetime(frame["ts"])
    return frame.astype({"member_id": "string", "category": "string"})


@pytest.mark.parametrize("category_dtype", ["string", "category"])
def test_shares_are_exact_and_colliding_slugs_share_a_column(category_dtype: str) -> None:
    transactions = lines().astype({"category": category_dtype})
    shares = category_shares(transactions, AS_OF)
    expected = pd.DataFrame({"member_id": pd.array(["a", "b", "c"], dtype="string"), "share_blank": [0.0, 0.0, 1.0],
                             "share_cafe": [0.4, 0.0, 0.0], "share_tv": [0.6, 1.0, 0.0]})
    pd.testing.assert_frame_equal(shares.sort_values("member_id", ignore_index=True), expected)
