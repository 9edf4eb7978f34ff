"""Coupon redemption files are read as transactions are: no guessed separator or date order, no lost row."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from campaigns.exposures import read_redemptions
from features.contract import ColumnMapping


def test_a_semicolon_file_with_day_first_dates_is_read_when_the_mapping_says_so(tmp_path: Path) -> None:
    path = tmp_path / "redeemed.csv"
    path.write_text("member_id;ts;coupon\n007;13/02/2024;A\n008;01/02/2024;B\n")
    frame = read_redemptions(path, ColumnMapping(dayfirst=True))
    assert frame["member_id"].tolist() == ["007", "008"]  # ids keep their leading zeros
    assert frame["ts"].tolist() == [pd.Timestamp("2024-02-13"), pd.Timestamp("2024-02-01")]


def test_an_unclear_day_month_order_is_refused_not_guessed(tmp_path: Path) -> None:
    path = tmp_path / "redeemed.csv"
    path.write_text("member_id,ts\na,01/02/2024\nb,03/04/2024\n")
    with pytest.raises(ValueError, match="ts"):
        read_redemptions(path)


def test_rows_that_would_be_lost_refuse_the_file_with_their_count(tmp_path: Path) -> None:
    path = tmp_path / "redeemed.csv"
    path.write_text("member_id,ts\na,2024-02-01\n,2024-02-02\nc,not a date\n")
    with pytest.raises(ValueError, match=r"redeemed.csv: 2 of 3 rows have no member_id or no readable ts$"):
        read_redemptions(path)


def test_a_file_without_members_names_the_column_it_needs(tmp_path: Path) -> None:
    path = tmp_path / "redeemed.csv"
    path.write_text("household,coupon\n1,A\n")
    with pytest.raises(ValueError, match=r"needs a member_id column \(found household, coupon\)"):
        read_redemptions(path)
