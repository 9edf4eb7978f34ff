"""The small shop of issue 14 on which the plain Gamma-Gamma fit does not converge.

500 members, 1-8 purchases each at whole days spread evenly over 500 days, amounts uniform 5-90:
spend varies as much within members as between them, so Gamma-Gamma's q and gamma run off to
infinity and the unpenalised maximum likelihood stops without converging at the end of the data.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

START = pd.Timestamp("2023-01-01")
SEED = 40  # among seeds 0-199, 40 is the first whose plain Gamma-Gamma fit fails at the end of the data


def even_shop(seed: int = SEED, members: int = 500, days: int = 500) -> pd.DataFrame:
    """Transactions on the data contract (member_id string, ts datetime64[us], amount float64)."""
    rng = np.random.default_rng(seed)
    purchases = rng.integers(1, 9, members)
    member_ids = np.repeat([f"m{m:03d}" for m in range(members)], purchases)
    offsets = np.floor(rng.uniform(0, days, purchases.sum()))
    frame = pd.DataFrame({
        "member_id": pd.array(member_ids, dtype="string"),
        "ts": (START + pd.to_timedelta(offsets, unit="D")).as_unit("us"),
        "amount": rng.uniform(5, 90, purchases.sum()).round(2),
    })
    return frame.sort_values(["member_id", "ts"], kind="stable").reset_index(drop=True)


def end_of_data(frame: pd.DataFrame) -> date:
    """The day after the last purchase: the snapshot ``memberscore train`` builds."""
    return (frame["ts"].max().normalize() + pd.Timedelta(days=1)).date()
