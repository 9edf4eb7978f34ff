"""The churn task through training.pipeline.train_tasks end to end, against a real (temporary) MLflow store.

Pinned: the seeded simulation is a BG/NBD process, so out of time the model beats the RFM and gap
rules but not BG/NBD beyond noise (the paired-bootstrap 95% lower bound of model minus BG/NBD is
not above 0): the gate keeps the classical peer and says so with the interval; the
run logs the reproducibility record (tags, params, train and out-of-time metrics, plots, cut-offs,
load report, model with signature and input example) and registers a version holding the
challenger alias; a weaker or equal later run becomes challenger while champion stays; two runs
with the same data and config are identical; CDNOW's 1/10 sample trains end to end.

One module-scoped store holds three runs in order (good, weak, the good config again), with the
aliases recorded after each, so each train_churn call is paid once. The gate refuses the first
run (BG/NBD is the truth here), so the fixture makes it champion by hand, as an operator would,
to pin the champion half of the gate on the two later runs.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import mlflow
import mlflow.xgboost
import numpy as np
import pandas as pd
import pytest
from mlflow import MlflowClient
from sklearn.metrics import roc_auc_score

from features.catalogue import feature_names
from features.load import load_transactions
from features.project import DEFAULT_PROJECT
from features.snapshot import data_fingerprint
from models import catalog
from models.matrix import predict_proba
from tests.conftest import REPO, Stores, fresh_mlflow_store, shared_dataset, train_churn
from training import registry
from training.config import TrainConfig, default_xgb_params
from training.examples import build_examples
from training.pipeline import TrainResult

pytestmark = pytest.mark.integration

NAME = "default.memberscore-churn"
CONFIG = TrainConfig(horizon_days=60, n_train_cutoffs=4)
# one stump, one round: far weaker than the default model (full default params, so still binary:logistic)
WEAK = TrainConfig(horizon_days=60, n_train_cutoffs=4, num_boost_round=1, early_stopping_rounds=0,
                   xgb_params={**default_xgb_params(), "max_depth": 1})
SCORERS = {"model", "rfm_rule", "recency_over_gap", "bgnbd"}
# the synthetic span 2023-01-01 .. 2024-06-23: end 2024-06-24, evaluation = end - 60 d
SYNTHETIC_TRAIN_CUTOFFS = "2023-12-03,2023-12-31,2024-01-28,2024-02-25"
SYNTHETIC_EVALUATION = date(2024, 4, 25)


@dataclass(frozen=True)
class Step:
    """One train_churn call and the registered model's aliases right after it."""

    result: TrainResult
    aliases: dict[str, str]


@dataclass(frozen=True)
class Gate:
    tracking_uri: str
    first: Step
    weak: Step
    again: Step


def current_aliases() -> dict[str, str]:
    """Alias -> version as MLflow's registry reports it (not through training.registry)."""
    return {alias: str(version) for alias, version in MlflowClient().get_registered_model(NAME).aliases.items()}


@pytest.fixture(scope="module")
def gate(tmp_path_factory: pytest.TempPathFactory, synthetic: tuple[pd.DataFrame, pd.DataFrame]) -> Iterator[Gate]:
    """A fresh store with three runs: CONFIG, WEAK, CONFIG again (module-scoped ``stores``)."""
    root = tmp_path_factory.mktemp("gate")
    uri = fresh_mlflow_store(root / "mlruns" / "mlflow.db")
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
        monkeypatch.setenv("MEMBERSCORE_SNAPSHOT_DIR", str(root / "snapshots"))
        assert catalog.configure_tracking(os.environ.get("MLFLOW_TRACKING_URI")) == uri
        transactions = synthetic[0]
        steps = []
        for config in (CONFIG, WEAK, CONFIG):
            result = train_churn(transactions, config, project=DEFAULT_PROJECT)
            steps.append(Step(result, current_aliases()))
            if len(steps) == 1:  # the gate kept BG/NBD; champion by hand, for the champion comparisons
                registry.set_alias("churn", catalog.CHAMPION, result.version, project=DEFAULT_PROJECT)
        yield Gate(uri, *steps)


@pytest.fixture
def in_gate(gate: Gate, monkeypatch: pytest.MonkeyPatch) -> Gate:
    """Point MLflow at the gate store for this test (other tests may have moved it)."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", gate.tracking_uri)
    catalog.configure_tracking(os.environ.get("MLFLOW_TRACKING_URI"))
    return gate


@pytest.fixture(scope="module")
def evaluation_rows(synthetic: tuple[pd.DataFrame, pd.DataFrame]) -> pd.DataFrame:
    return build_examples(synthetic[0], [SYNTHETIC_EVALUATION], CONFIG.horizon_days)


def roc_auc(result: TrainResult, scorer: str) -> float:
    return result.out_of_time[scorer]["roc_auc"]


# --- (a) the first run -------------------------------------------------------------------------


@pytest.mark.slow
def test_first_run_beats_the_rules_but_not_bgnbd_beyond_noise(in_gate: Gate) -> None:
    """On a BG/NBD process: out-of-time ROC AUC of the model > the RFM and gap rules' on the same
    rows, but its difference from BG/NBD (the best baseline) has a 95% interval reaching 0 or
    below: not promoted, version 1 is challenger only; the interval is in the reason, the report,
    the decision document and the MLflow metrics."""
    result = in_gate.first.result
    assert set(result.out_of_time) == SCORERS  # no champion to compare with yet
    for baseline in ("rfm_rule", "recency_over_gap"):
        assert roc_auc(result, "model") > roc_auc(result, baseline) + 0.01, baseline
    assert result.decision.promote is False
    interval = result.report()["promotion_interval"]
    assert interval["baseline"] == "bgnbd" == max(SCORERS - {"model"}, key=lambda b: roc_auc(result, b))
    assert interval["rounds"] == CONFIG.bootstrap_rounds == 1000
    assert interval["difference"] == pytest.approx(roc_auc(result, "model") - roc_auc(result, "bgnbd"), abs=1e-15)
    assert interval["low"] <= 0 and interval["low"] < interval["difference"] < interval["high"]
    assert result.decision.reason.startswith(f"not promoted: roc_auc {roc_auc(result, 'model'):.4f} - bgnbd ")
    assert f"95% CI {interval['low']:.4f} to {interval['high']:.4f}" in result.decision.reason
    assert mlflow.artifacts.load_dict(f"runs:/{result.run_id}/decision.json")["promotion_interval"] == interval
    logged = MlflowClient().get_run(result.run_id).data.metrics
    assert logged["oot_gate_diff_low"] == pytest.approx(interval["low"], rel=1e-12)
    assert logged["oot_gate_diff_high"] == pytest.approx(interval["high"], rel=1e-12)
    assert result.report()["baselines_unavailable"] == {}
    assert result.report()["lifetime_fit"]["penalizers"]["bgnbd"] == 0.0
    assert result.version == "1"
    assert result.plan.evaluation == SYNTHETIC_EVALUATION
    assert result.members["evaluation_members"] == int(result.out_of_time["model"]["n"])
    assert result.members["members_total"] == 800


@pytest.mark.slow
def test_model_ranks_the_planted_dropouts_first(
    in_gate: Gate, synthetic: tuple[pd.DataFrame, pd.DataFrame], evaluation_rows: pd.DataFrame
) -> None:
    """Against the simulator's truth (dropped out before the evaluation cut-off), the champion's
    P(churn) on the evaluation rows ranks the dead above the living (AUC > 0.8)."""
    truth = synthetic[1].set_index("member_id")["alive_until"]
    dead = (truth.loc[evaluation_rows["member_id"]] < SYNTHETIC_EVALUATION).to_numpy()
    probability = predict_proba(catalog.load_booster("churn", project=DEFAULT_PROJECT), evaluation_rows)
    assert 0.2 < dead.mean() < 0.9
    assert roc_auc_score(dead, probability) > 0.8


@pytest.mark.slow
def test_first_run_logs_the_reproducibility_record(in_gate: Gate, synthetic: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    """Tags, params, train and out-of-time metrics, plots and JSON documents are on the run."""
    result = in_gate.first.result
    run = MlflowClient().get_run(result.run_id)
    tags, metrics, params = run.data.tags, run.data.metrics, run.data.params
    assert tags["data_fingerprint"] == data_fingerprint(synthetic[0])
    assert tags["cutoffs"] == SYNTHETIC_TRAIN_CUTOFFS
    assert tags["evaluation_cutoff"] == SYNTHETIC_EVALUATION.isoformat()
    assert tags["horizon_days"] == "60"
    shares = sorted(f"share_{c}" for c in synthetic[0]["category"].unique())  # one spend share per category
    assert tags["feature_list"] == ",".join(feature_names(has_category=True) + shares) == ",".join(result.feature_names)
    assert re.fullmatch(r"[0-9a-f]{40}", tags["git_sha"])
    for scorer in SCORERS:
        assert metrics[f"oot_{scorer}_roc_auc"] == pytest.approx(roc_auc(result, scorer), rel=1e-12)
    assert metrics["train_model_roc_auc"] == pytest.approx(result.train_metrics["roc_auc"], rel=1e-12)
    assert metrics["train_model_roc_auc"] > metrics["oot_model_roc_auc"] - 0.05
    assert params["horizon_days"] == "60" and params["n_train_cutoffs"] == "4" and params["max_depth"] == "4"
    artifacts = {a.path for a in MlflowClient().list_artifacts(result.run_id)}
    assert {"roc.png", "lift.png", "shap_summary.png", "cutoffs.json", "load_report.json"} <= artifacts
    assert mlflow.artifacts.load_dict(f"runs:/{result.run_id}/cutoffs.json") == {
        "train": SYNTHETIC_TRAIN_CUTOFFS.split(","), "evaluation": "2024-04-25", "horizon_days": 60}
    assert mlflow.artifacts.load_dict(f"runs:/{result.run_id}/load_report.json") == {}


@pytest.mark.slow
def test_first_run_logs_the_model_with_signature_and_input_example(in_gate: Gate, tmp_path: Path) -> None:
    """Version 1 comes from the run, with a signature over the feature list and a 5-row example."""
    result = in_gate.first.result
    assert MlflowClient().get_model_version(NAME, "1").run_id == result.run_id
    info = mlflow.models.get_model_info(f"models:/{NAME}/1")
    assert info.signature is not None
    assert info.signature.inputs.input_names() == result.feature_names
    assert info.saved_input_example_info is not None
    local = mlflow.artifacts.download_artifacts(f"models:/{NAME}/1", dst_path=str(tmp_path))
    example = mlflow.models.Model.load(local).load_input_example(local)
    assert list(example.columns) == result.feature_names
    assert len(example) == 5


@pytest.mark.slow
def test_first_run_holds_challenger_only(gate: Gate) -> None:
    """Right after the first run, refused by the gate, version 1 carries the challenger alias only."""
    assert gate.first.aliases == {"challenger": "1"}


@pytest.mark.slow
def test_lift_and_shap_plots_are_different_images(in_gate: Gate, tmp_path: Path) -> None:
    """The gain plot and the SHAP summary are two different pictures."""
    run_id = in_gate.first.result.run_id
    lift = Path(MlflowClient().download_artifacts(run_id, "lift.png", str(tmp_path))).read_bytes()
    (tmp_path / "shap").mkdir()
    shap = Path(MlflowClient().download_artifacts(run_id, "shap_summary.png", str(tmp_path / "shap"))).read_bytes()
    assert lift[:8] == shap[:8] == b"\x89PNG\r\n\x1a\n"
    assert lift != shap


# --- (b) the gate against the champion ---------------------------------------------------------


@pytest.mark.slow
def test_weak_run_is_challenger_while_champion_stays(in_gate: Gate) -> None:
    """A weaker run registers version 2 with challenger; champion stays on version 1 (set by hand); the reason
    quotes the comparison it lost: its win over the best baseline is not beyond noise (interval
    lower bound <= 0), or its score <= the champion's."""
    weak, first = in_gate.weak.result, in_gate.first.result
    assert weak.version == "2"
    assert in_gate.weak.aliases == {"champion": "1", "challenger": "2"}
    assert weak.decision.promote is False
    assert roc_auc(weak, "model") < roc_auc(first, "model")
    lost = (r"roc_auc (\d\.\d{4}) - (\w+) (\d\.\d{4}) = -?\d\.\d{4} \(95% CI (-?\d\.\d{4}) to -?\d\.\d{4}\)"
            r"|challenger roc_auc (\d\.\d{4}) <= (champion) (\d\.\d{4})")
    found = re.search(lost, weak.decision.reason)
    assert found, weak.decision.reason
    model, winner, score = (found.group(1), found.group(2), found.group(3)) if found.group(1) else found.group(5, 6, 7)
    assert model == f"{roc_auc(weak, 'model'):.4f}"
    assert score == f"{roc_auc(weak, winner):.4f}"
    if winner == "champion":
        assert roc_auc(weak, winner) >= roc_auc(weak, "model")
    else:
        assert weak.decision.interval is not None and weak.decision.interval.low <= 0
        assert found.group(4) == f"{weak.decision.interval.low:.4f}"


@pytest.mark.slow
def test_champion_is_scored_on_the_same_rows(in_gate: Gate) -> None:
    """The second run scores the champion (version 1) on its evaluation rows: the champion's
    metrics there equal version 1's own out-of-time metrics, and are logged as oot_champion_*."""
    weak, first = in_gate.weak.result, in_gate.first.result
    assert set(weak.out_of_time) == SCORERS | {"champion"}
    assert weak.out_of_time["champion"] == first.out_of_time["model"]
    logged = MlflowClient().get_run(weak.run_id).data.metrics
    assert logged["oot_champion_roc_auc"] == pytest.approx(roc_auc(first, "model"), rel=1e-12)


@pytest.mark.slow
def test_a_tie_with_the_champion_is_refused(in_gate: Gate) -> None:
    """The same config again ties the champion (strictly greater required): challenger only, and
    the reason names the tie beside the baseline comparison."""
    again = in_gate.again.result
    assert again.version == "3"
    assert in_gate.again.aliases == {"champion": "1", "challenger": "3"}
    assert again.decision.promote is False
    score = f"{roc_auc(again, 'model'):.4f}"
    assert f"challenger roc_auc {score} <= champion {score}" in again.decision.reason
    assert roc_auc(again, "model") == roc_auc(again, "champion")


# --- (c) reproducibility -----------------------------------------------------------------------


@pytest.mark.slow
def test_same_data_and_config_reproduce_metrics_and_predictions(in_gate: Gate, evaluation_rows: pd.DataFrame) -> None:
    """Runs 1 and 3: identical out-of-time and train metrics, identical record, identical boosters."""
    first, again = in_gate.first.result, in_gate.again.result
    assert {k: v for k, v in again.out_of_time.items() if k != "champion"} == first.out_of_time
    assert again.train_metrics == first.train_metrics
    assert again.plan == first.plan
    client = MlflowClient()
    tags = [client.get_run(r.run_id).data.tags for r in (first, again)]
    for key in ("data_fingerprint", "cutoffs", "evaluation_cutoff", "horizon_days", "feature_list", "git_sha"):
        assert tags[0][key] == tags[1][key], key
    assert client.get_run(first.run_id).data.params == client.get_run(again.run_id).data.params
    one = mlflow.xgboost.load_model(f"models:/{NAME}/1")
    three = mlflow.xgboost.load_model(f"models:/{NAME}/3")
    assert one.get_dump() == three.get_dump()
    np.testing.assert_array_equal(predict_proba(one, evaluation_rows), predict_proba(three, evaluation_rows))
    # the registered booster is the one that produced the logged out-of-time AUC
    auc = roc_auc_score(evaluation_rows["churned"], predict_proba(one, evaluation_rows))
    assert auc == pytest.approx(roc_auc(first, "model"), rel=1e-9)


# --- (e) real data -----------------------------------------------------------------------------


@pytest.mark.slow
def test_cdnow_sample_trains_end_to_end(stores: Stores, tmp_path: Path) -> None:
    """CDNOW 1/10 (no order id, no category): the report carries finite out-of-time metrics for
    the model and every baseline (BG/NBD included), AUC > 0.6, the cut-offs, and the load report is logged."""
    path = shared_dataset("cdnow/cdnow_sample.parquet")
    mapping = REPO / "mappings" / "cdnow.yaml"
    transactions, load = load_transactions(path, mapping, rejects_path=tmp_path / "rejects.csv")
    result = train_churn(transactions, TrainConfig(horizon_days=60, n_train_cutoffs=4), load_report=load.to_dict(), project=DEFAULT_PROJECT)
    report = json.loads(json.dumps(result.report(), allow_nan=False))  # strict JSON: every number finite
    assert set(report["out_of_time"]) == SCORERS
    for scorer, metrics in report["out_of_time"].items():
        for name in ("roc_auc", "pr_auc", "brier", "lift_top_decile", "base_rate"):
            assert math.isfinite(metrics[name]), (scorer, name)
    assert report["out_of_time"]["model"]["roc_auc"] > 0.6
    # data 1997-01-01 .. 1998-06-30: end 1998-07-01, evaluation 60 days earlier, then 28-day steps
    assert report["cutoffs"] == {"train": ["1997-12-09", "1998-01-06", "1998-02-03", "1998-03-03"],
                                 "evaluation": "1998-05-02", "horizon_days": 60}
    assert report["members"]["members_total"] == 2357
    assert report["features"] == feature_names(has_category=False)
    assert report["model_version"] == "1" and report["task"] == "churn"
    assert mlflow.artifacts.load_dict(f"runs:/{result.run_id}/load_report.json") == load.to_dict()


# --- runs last: it moves the gate store's champion -----------------------------------------------


@pytest.mark.slow
def test_an_incomparable_champion_is_not_reported_as_absent(
    in_gate: Gate, synthetic: tuple[pd.DataFrame, pd.DataFrame]
) -> None:
    """A champion that exists but cannot be scored on these rows is never described as absent."""
    assert catalog.alias_version("churn", catalog.CHAMPION, project=DEFAULT_PROJECT) == "1"
    result = train_churn(synthetic[0].drop(columns="category"), CONFIG, project=DEFAULT_PROJECT)
    assert "no champion yet" not in result.decision.reason
