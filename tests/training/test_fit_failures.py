"""A BG/NBD fit that does not converge leaves the run standing: its baselines drop out of every gate.

Pinned (issue 14 item 9): with BG/NBD failing at every penalizer, churn, next purchase and value
still train and are judged against the baselines that remain; each task's report names the
dropped baseline and why (``baselines_unavailable``) and how the lifetime models were fitted
(``lifetime_fit``); the lifetime features of the evaluation rows are missing, not invented.
"""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd
import pytest

from features.btyd import BetaGeoFitter
from features.project import DEFAULT_PROJECT
from tests.conftest import Stores
from tests.even_shop import even_shop
from training.churn import Churn
from training.config import TrainConfig
from training.next_purchase import NextPurchase
from training.pipeline import TrainingRun, prepare_data, train_tasks
from training.value import Value

pytestmark = pytest.mark.integration
CONFIG = TrainConfig(horizon_days=60, n_train_cutoffs=2, num_boost_round=20, early_stopping_rounds=0,
                     bootstrap_rounds=200)
REASON = "BG/NBD did not converge (retried with penalizer 0.001, 0.01, 0.1)"


def no_convergence(self: BetaGeoFitter, *args: object) -> BetaGeoFitter:
    raise RuntimeError("maximum likelihood did not converge: stalled")


@pytest.fixture(scope="module")
def shop() -> pd.DataFrame:
    return even_shop(seed=0)  # Gamma-Gamma converges plainly here: only BG/NBD fails


@pytest.fixture
def without_bgnbd(stores: Stores, shop: pd.DataFrame, monkeypatch: pytest.MonkeyPatch) -> Iterator[TrainingRun]:
    monkeypatch.setattr(BetaGeoFitter, "fit", no_convergence)
    yield train_tasks(shop, CONFIG, [Churn(), NextPurchase(), Value()], project=DEFAULT_PROJECT)


@pytest.mark.slow
def test_every_task_trains_and_its_report_names_the_dropped_baseline(without_bgnbd: TrainingRun) -> None:
    reports = without_bgnbd.report()["tasks"]
    assert without_bgnbd.skipped == {}
    assert set(reports) == {"churn", "next_purchase", "value"}
    dropped = {"churn": "bgnbd", "next_purchase": "bgnbd", "value": "bgnbd_gamma_gamma"}
    remaining = {"churn": {"model", "rfm_rule", "recency_over_gap"}, "next_purchase": {"model", "recency_over_gap"},
                 "value": {"model", "last_period_repeated"}}
    for task, report in reports.items():
        assert report["baselines_unavailable"] == {dropped[task]: REASON}, task
        assert set(report["out_of_time"]) == remaining[task], task
        assert report["lifetime_fit"] == {"penalizers": {"gamma_gamma": 0.0}, "unavailable": {"bgnbd": REASON}}, task
        interval = report["promotion_interval"]
        assert interval is not None and interval["baseline"] != dropped[task] and interval["rounds"] > 0, task


def test_lifetime_features_are_missing_when_bgnbd_does_not_converge(shop: pd.DataFrame,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(BetaGeoFitter, "fit", no_convergence)
    data = prepare_data(shop, CONFIG)
    assert data.bgnbd_missing() == REASON
    assert data.evaluation["p_alive"].isna().all() and data.evaluation["bgnbd_purchases_90d"].isna().all()
    assert data.evaluation["gg_order_value"].notna().all()
