"""features.lifetime.median_days_to_purchase: the BG/NBD median time to a member's next purchase.

Checked against the model's own P(purchase within t) (not the closed form it solves): at the
median it is 1/2; where P(alive) <= 1/2 there is no median (NaN), since P(purchase within t)
never passes P(alive).
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd

from features.lifetime import fit_lifetime, median_days_to_purchase


def test_half_the_members_chance_of_buying_is_reached_at_the_median(synthetic: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    model = fit_lifetime(synthetic[0], date(2024, 1, 1))
    median = median_days_to_purchase(model)
    alive = model.p_alive()
    assert np.isnan(median).sum() == (alive <= 0.5).sum() > 0, "some members are more likely gone than not"
    assert (median[alive > 0.5] > 0).all()
    for i in np.flatnonzero(alive > 0.5)[::40]:
        one = type(model)(model.summary.iloc[[i]], model.bgnbd, model.gamma_gamma)
        assert abs(one.p_purchase_within(float(median[i]))[0] - 0.5) < 1e-9
        assert one.p_purchase_within(float(median[i]) * 0.9)[0] < 0.5 < one.p_purchase_within(float(median[i]) * 1.1)[0]
