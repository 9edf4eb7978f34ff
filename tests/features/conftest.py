"""Helpers for the features tests: hand-built transaction frames on the data contract."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import pandas as pd

from features.contract import AMOUNT, CATEGORY, MEMBER_ID, ORDER_ID, TS

LINE_COLUMNS = (MEMBER_ID, TS, AMOUNT, ORDER_ID, CATEGORY)


def transactions_frame(
    rows: Iterable[Sequence[object]], columns: Sequence[str] = LINE_COLUMNS
) -> pd.DataFrame:
    """A clean transactions frame as ``features.load`` returns it, from tuples in ``columns`` order.

    ``ts`` may be ISO text; ids and categories become the nullable ``string`` dtype (None -> NA).
    """
    frame = pd.DataFrame([tuple(row) for row in rows], columns=list(columns))
    frame[TS] = pd.to_datetime(frame[TS], format="ISO8601").astype("datetime64[us]")
    frame[AMOUNT] = frame[AMOUNT].astype("float64")
    for column in (MEMBER_ID, ORDER_ID, CATEGORY):
        if column in frame.columns:
            frame[column] = frame[column].astype("string")
    return frame
