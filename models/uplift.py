"""The uplift champion: expected incremental value of contacting each member, and a list ranked by it.

The registered uplift model (``training.uplift_train``) is one booster predicting the incremental
outcome of a contact per member (extra visits, extra spend). A campaign ranks its list by what a
contact is expected to *add*, net of its cost, instead of by who would buy anyway.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import xgboost as xgb

from models import catalog
from models.matrix import predict_proba

TASK = "uplift"


def load_champion(project: str) -> xgb.Booster | None:
    """The booster behind ``<project>.memberscore-uplift@champion``; None when no uplift model won its gate."""
    return catalog.load_booster(TASK, project=project)


@dataclass(frozen=True)
class UpliftChampion:
    """The uplift champion's booster, its MLflow version (what a list ranked by it records) and the
    outcome it predicts the increment of (``spend_30d``, ``bought_30d``, ``visit``...)."""

    version: str
    booster: xgb.Booster
    outcome: str = "spend"

    @property
    def in_money(self) -> bool:
        """A spend outcome: its increment times the margin rate, less the contact's cost, is a value."""
        return self.outcome.startswith("spend")


def champion(project: str) -> UpliftChampion | None:
    """The uplift champion of ``project`` with its version, or None when no uplift model won its gate.

    The booster is loaded by the version the alias names, so the version recorded is the one that ranked.
    """
    version = catalog.alias_version(TASK, catalog.CHAMPION, project=project)
    if version is None:
        return None
    outcome = catalog.run_params(catalog.version_run_id(TASK, version, project=project)).get("outcome", "outcome")
    return UpliftChampion(version, catalog.load_version_booster(TASK, version, project=project), outcome)


def incremental_outcome(booster: xgb.Booster, features: pd.DataFrame) -> np.ndarray:
    """The uplift booster's incremental outcome per row, read with its own feature list."""
    return predict_proba(booster, features, calibrated=False)


def rank_by_incremental_value(features: pd.DataFrame, booster: xgb.Booster, *, value_per_unit: float = 1.0,
                              margin_rate: float = 1.0, cost_per_contact: float = 0.0) -> pd.DataFrame:
    """The rows of ``features`` (index kept, e.g. member ids), best first by expected incremental value.

    ``expected_incremental_value = incremental_outcome * value_per_unit * margin_rate - cost_per_contact``:
    for a spend outcome ``value_per_unit`` is 1 and the value is incremental margin net of the
    contact's cost; for a visit or conversion outcome it is what one more is worth. Ties keep the
    input order, so the ranking is reproducible.
    """
    if value_per_unit < 0 or cost_per_contact < 0 or not 0 < margin_rate <= 1:
        raise ValueError("value_per_unit and cost_per_contact must be >= 0 and margin_rate in (0, 1]; got "
                         f"{value_per_unit}, {cost_per_contact}, {margin_rate}")
    outcome = incremental_outcome(booster, features)
    ranked = pd.DataFrame({"incremental_outcome": outcome,
                           "expected_incremental_value": outcome * value_per_unit * margin_rate - cost_per_contact},
                          index=features.index)
    ranked = ranked.sort_values("expected_incremental_value", ascending=False, kind="stable")
    ranked["rank"] = np.arange(1, len(ranked) + 1)
    return ranked
