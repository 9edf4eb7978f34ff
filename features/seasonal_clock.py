"""Calendar time for simulated purchases: weekly and yearly seasonality, and opening hours.

The simulator draws purchases at a constant rate in *operational* time; this clock turns them into
calendar days (a time change), then into timestamps inside a shop's opening hours.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import numpy as np
import pandas as pd

OPENING_HOUR, OPEN_HOURS = 8.0, 13.0  # purchases fall between 08:00 and 21:00


class SeasonalClock:
    """Maps operational time (purchases at a constant rate) to calendar days with seasonality.

    The intensity of calendar day d is weekday(d) x (1 + A cos(2 pi (doy(d) - peak) / 365.25)),
    rescaled to mean 1 over the period; operational time is its integral, so a homogeneous
    process in operational time is an inhomogeneous one on the calendar (time change).
    """

    def __init__(self, start: date, days: int, weekday_intensity: Sequence[float], yearly_amplitude: float,
                 yearly_peak_day: int) -> None:
        calendar = pd.date_range(start, periods=days, freq="D")
        weekday = np.asarray(weekday_intensity, dtype=float)[calendar.dayofweek]
        season = np.cos(2 * np.pi * (calendar.dayofyear.to_numpy() - yearly_peak_day) / 365.25)
        intensity = weekday * (1 + yearly_amplitude * season)
        intensity *= days / intensity.sum()
        self.cumulative = np.concatenate([[0.0], np.cumsum(intensity)])

    def calendar(self, operational: np.ndarray) -> np.ndarray:
        """Calendar days since start (piecewise linear inside a day) for operational times."""
        return np.interp(operational, self.cumulative, np.arange(len(self.cumulative), dtype=float))


def shop_timestamps(calendar_days: np.ndarray, start: date) -> np.ndarray:
    """Calendar days since ``start`` as timestamps to the minute, the fraction of a day spread over opening hours."""
    day = np.floor(calendar_days)
    minutes = np.floor((OPENING_HOUR + (calendar_days - day) * OPEN_HOURS) * 60)
    offset = (day * 1440 + minutes).astype("int64").astype("timedelta64[m]")
    return (np.datetime64(start, "m") + offset).astype("datetime64[us]")
