"""The 12-month value task on a seeded 3-year simulation, against a real (temporary) MLflow store.

The simulator is a BG/NBD buy-till-you-die process, so BG/NBD + Gamma-Gamma is the generating
model and the fair bar; "last 365 days' spend repeated" is the naive one. Checked: the task plans
its own 365-day cut-offs (and builds no other examples), scores itself beside both baselines on
the same members, the baselines really are 12-month ones (recomputed here from raw rows), the
model ranks the planted survivors first, and serving takes ``clv_12m`` from it when it serves.
The short-data skip is checked in test_tasks.py, on the 540-day fixture.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from sklearn.metrics import roc_auc_score

from features.project import DEFAULT_PROJECT
from features.simulate import simulate_transactions
from features.snapshot import build_snapshot
from models import catalog
from models.matrix import predict_proba
from serving.scoring import score_frame
from tests.conftest import _isolated_stores
from training.config import TrainConfig
from training.examples import build_examples
from training.pipeline import TrainingRun, TrainResult, train_tasks
from training.value import Value12m

pytestmark = [pytest.mark.integration, pytest.mark.slow]

START, DAYS = date(2021, 1, 1), 1100  # ~3 years: room for 365-day training labels and a 365-day evaluation
CONFIG = TrainConfig(horizon_days=90, n_train_cutoffs=3, num_boost_round=50)
BASELINES = {"bgnbd_gamma_gamma", "last_period_repeated"}


@dataclass(frozen=True)
class Trained:
    run: TrainingRun
    result: TrainResult
    progress: list[str]
    transactions: pd.DataFrame
    truth: pd.DataFrame
    tracking_uri: str


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Trained]:
    transactions, truth = simulate_transactions(300, START, DAYS, seed=5)
    messages: list[str] = []
    with pytest.MonkeyPatch.context() as monkeypatch:
        stores = _isolated_stores(tmp_path_factory.mktemp("value_12m"), monkeypatch)
        catalog.configure_tracking(os.environ.get("MLFLOW_TRACKING_URI"))
        run = train_tasks(transactions, CONFIG, [Value12m()], progress=messages.append, project=DEFAULT_PROJECT)
        yield Trained(run, run.results[0], messages, transactions, truth, stores.tracking_uri)


@pytest.fixture
def in_store(trained: Trained, monkeypatch: pytest.MonkeyPatch) -> Trained:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", trained.tracking_uri)
    catalog.configure_tracking(os.environ.get("MLFLOW_TRACKING_URI"))
    return trained


def net_spend_per_member(transactions: pd.DataFrame, start: date, end: date) -> pd.Series:
    """Net spend in [start, end) per member, negatives as zero: straight from the rows."""
    ts = transactions["ts"]
    window = transactions[(ts >= pd.Timestamp(start)) & (ts < pd.Timestamp(end))]
    return window.groupby("member_id")["amount"].sum().clip(lower=0.0)


def test_plans_its_own_year_long_cut_offs_and_builds_only_those_examples(in_store: Trained) -> None:
    """Evaluation year fully observed, every training label year ends by the evaluation cut-off;
    the run's 90-day examples are never built for a run of this task alone."""
    plan, end = in_store.result.plan, in_store.transactions["ts"].max().date() + timedelta(days=1)
    assert in_store.run.skipped == {}
    assert plan.horizon_days == 365
    assert plan.evaluation + timedelta(days=365) == end
    assert len(plan.train) == 3 and all(t + timedelta(days=365) <= plan.evaluation for t in plan.train)
    building = [m for m in in_store.progress if m.startswith("building")]
    assert len(building) == 1 and building[0].startswith("building 365-day examples"), building


def test_is_its_own_experiment_and_registered_model_with_the_year_logged(in_store: Trained) -> None:
    result, client = in_store.result, MlflowClient()
    assert catalog.model_name("value_12m", project=DEFAULT_PROJECT) == "default.memberscore-value-12m"
    assert client.get_model_version("default.memberscore-value-12m", result.version).run_id == result.run_id
    run = client.get_run(result.run_id)
    assert client.get_experiment(run.info.experiment_id).name == "default.memberscore-value-12m"
    assert run.data.tags["horizon_days"] == "365" and run.data.params["horizon_days"] == "365"
    assert run.data.params["num_boost_round"] == "50"  # the run's, under value_12m_max_rounds (100)


def test_scored_beside_both_baselines_and_gated_on_them(in_store: Trained) -> None:
    """Same rows for all three; the model beats last year's spend repeated; the gate promotes iff it
    beats the best baseline (BG/NBD + Gamma-Gamma, the process that generated the data) beyond noise."""
    out_of_time = in_store.result.out_of_time
    assert set(out_of_time) == {"model", *BASELINES}
    assert {m["n"] for m in out_of_time.values()} == {300.0}  # every member bought before the evaluation year
    model, naive = out_of_time["model"], out_of_time["last_period_repeated"]
    assert model["spearman"] > naive["spearman"] + 0.1
    assert model["normalized_gini"] > naive["normalized_gini"]
    interval = in_store.result.decision.interval
    assert interval is not None and interval.baseline == max(BASELINES, key=lambda b: out_of_time[b]["normalized_gini"])
    beats = interval.low > 0  # beyond noise: the paired bootstrap's 95% lower bound
    assert in_store.result.decision.promote == beats, in_store.result.decision.reason
    if not beats:
        assert "baseline" in in_store.result.decision.reason


def test_actual_and_naive_baseline_are_the_year_around_the_evaluation_cut_off(in_store: Trained) -> None:
    """Mean actual spend = the next 365 days' net spend per member; the naive baseline's mean = the
    previous 365 days'; both recomputed from raw rows (a 90-day window would differ)."""
    cutoff, n = in_store.result.plan.evaluation, in_store.result.out_of_time["model"]["n"]
    year = timedelta(days=365)
    after = net_spend_per_member(in_store.transactions, cutoff, cutoff + year).sum() / n
    before = net_spend_per_member(in_store.transactions, cutoff - year, cutoff).sum() / n
    assert in_store.result.out_of_time["model"]["mean_actual"] == pytest.approx(after, rel=1e-9)
    assert in_store.result.out_of_time["last_period_repeated"]["mean_predicted"] == pytest.approx(before, rel=1e-9)
    quarter = net_spend_per_member(in_store.transactions, cutoff, cutoff + timedelta(days=90)).sum() / n
    assert after > 1.5 * quarter


def test_model_ranks_the_planted_survivors_first(in_store: Trained) -> None:
    """Against the simulator's truth: members still alive at the evaluation cut-off get higher
    predicted 12-month spend than those who already dropped out (AUC > 0.8)."""
    cutoff = in_store.result.plan.evaluation
    rows = build_examples(in_store.transactions, [cutoff], 365)
    alive = (in_store.truth.set_index("member_id")["alive_until"].loc[rows["member_id"]] >= cutoff).to_numpy()
    booster = catalog.load_booster("value_12m", catalog.CHALLENGER, project=DEFAULT_PROJECT)
    assert 0.2 < alive.mean() < 0.8
    assert roc_auc_score(alive, predict_proba(booster, rows)) > 0.8


def test_serving_takes_clv_12m_from_the_model_else_from_bgnbd(in_store: Trained) -> None:
    booster = catalog.load_booster("value_12m", catalog.CHALLENGER, project=DEFAULT_PROJECT)
    snapshot = build_snapshot(in_store.transactions, in_store.transactions["ts"].max().date() + timedelta(days=1))
    inputs = snapshot.model_inputs()
    with_model = score_frame({"value_12m": booster}, inputs, snapshot.profile, snapshot.as_of)
    without = score_frame({}, inputs, snapshot.profile, snapshot.as_of)
    np.testing.assert_allclose(with_model["clv_12m"], predict_proba(booster, inputs))
    profile = snapshot.profile.set_index("member_id")["clv_12m"]
    np.testing.assert_allclose(without["clv_12m"], profile.loc[without["member_id"]].to_numpy())
    assert not np.allclose(with_model["clv_12m"], without["clv_12m"])
    assert with_model.drop(columns="clv_12m").equals(without.drop(columns="clv_12m"))
