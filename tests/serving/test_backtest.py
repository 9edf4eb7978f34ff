"""Backtests (training.backtest, ``memberscore backtest``, the ``backtests`` section of GET /monitoring).

Scores are kept for two dates of the simulated shop (tests/conftest.py ``synthetic``, which ends on
2024-06-24) with the tiny models and hand-made baselines: 2024-03-01's 60-day horizon has passed by
then, 2024-05-01's has not. The backtest's numbers are checked against sklearn and hand computations
on the stored scores joined with what the members did.
"""

from __future__ import annotations

import dataclasses
import json
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb
from mlflow import MlflowClient
from sklearn.metrics import average_precision_score, roc_auc_score
from typer.testing import CliRunner

from cli.main import app
from features import contract
from features.labels import build_labels
from features.project import DEFAULT_PROJECT
from features.score_history import history_path, read_scores
from features.settings import load_settings
from features.snapshot import Snapshot, build_snapshot
from serving.kept_scores import keep_scores, served_scores
from tests.serving.test_monitoring_routes import client_for
from training.backtest import run_backtests
from training.evaluate import expected_calibration_error
from training.registry import backtest_experiment

MATURED, WAITING, H = date(2024, 3, 1), date(2024, 5, 1), 60
CATEGORIES = ("bakery", "grocery", "dairy", "household", "produce")  # the simulation's


def offers(i: int) -> list[str]:
    """Member i's three offers, best first, rotating over the categories."""
    return [CATEGORIES[(i + k) % len(CATEGORIES)] for k in range(3)]
VERSIONS = {"churn": "3", "value": "4", "upsell": "5"}


def with_baselines(snapshot: Snapshot) -> Snapshot:
    """Hand-made baselines: recency rules for churn, next purchase and upsell, 90-day spend for value."""
    frame = snapshot.frame
    recency = frame["recency_days"].astype(float)
    baselines = pd.DataFrame({contract.MEMBER_ID: frame[contract.MEMBER_ID],
                              "baseline_churn_probability": recency / recency.max(), "baseline_churn_rule": "recency",
                              "baseline_next_purchase_median_days": recency,
                              "baseline_upsell_probability": 1 / (1 + recency / 30), "baseline_upsell_rule": "rfm",
                              "baseline_upsell_categories": [json.dumps(offers(i)) for i in range(len(frame))],
                              "baseline_expected_value": frame["spend_90d"].astype(float).clip(lower=0)})
    return dataclasses.replace(snapshot, profile=snapshot.profile.merge(baselines, on=contract.MEMBER_ID))


def keep(snapshot: Snapshot, models: dict[str, xgb.Booster], directory: Path) -> None:
    keep_scores(served_scores(models, VERSIONS, snapshot), snapshot, directory, VERSIONS, H, None, 0)


@pytest.fixture
def kept(stores: object, synthetic: tuple[pd.DataFrame, pd.DataFrame], tiny_snapshot: Snapshot,
         tiny_models: dict[str, xgb.Booster]) -> Path:
    """Both dates' scores in the default project's history of fresh stores; returns that directory."""
    directory = stores.project_snapshots  # type: ignore[attr-defined]
    keep(with_baselines(tiny_snapshot), tiny_models, directory)
    keep(with_baselines(build_snapshot(synthetic[0], WAITING)), tiny_models, directory)
    return directory


def by_hand(transactions: pd.DataFrame, as_of: date) -> pd.DataFrame:
    """The stored scores joined with the outcomes, the upsell outcome computed here from the rows."""
    stored = read_scores(history_path(Path(load_settings().snapshot_dir) / DEFAULT_PROJECT, as_of)).scores
    joined = stored.astype({contract.MEMBER_ID: str}).merge(
        build_labels(transactions, as_of, H).astype({contract.MEMBER_ID: str}), on=contract.MEMBER_ID)
    bought = transactions[transactions[contract.AMOUNT] > 0].assign(member_id=lambda t: t[contract.MEMBER_ID].astype(str))
    day = pd.Timestamp(as_of)
    before = bought[bought[contract.TS] < day].groupby(contract.MEMBER_ID)[contract.CATEGORY].agg(set)
    window = bought[(bought[contract.TS] >= day) & (bought[contract.TS] < day + timedelta(days=H))]
    after = window.groupby(contract.MEMBER_ID)[contract.CATEGORY].agg(set)
    adopted = [set(after.get(m, ())) - set(before.get(m, ())) for m in joined[contract.MEMBER_ID]]
    return joined.assign(upsold=[int(bool(new)) for new in adopted], adopted=pd.Series(adopted, index=joined.index))


def top_decile(actual: np.ndarray, score: np.ndarray) -> float:
    """Share of the actual total among the top round(n / 10) by score; scores tied at the edge share
    the places left, each counting the tied rows' mean (the tiny models' scores have ties)."""
    k = round(len(score) / 10)
    edge = np.sort(score)[::-1][k - 1]
    above, tied = score > edge, score == edge
    return float((actual[above].sum() + (k - above.sum()) * actual[tied].mean()) / actual.sum())


def gini(actual: np.ndarray, score: np.ndarray) -> float:
    """Normalized Gini: mean Lorenz gap ranked by score over the gap ranked by the actual values; rows
    with tied scores take their group's mean, so their order does not matter."""
    def area(values: np.ndarray, by: np.ndarray) -> float:
        means = pd.Series(values).groupby(by).transform("mean").to_numpy()
        lorenz = np.cumsum(means[np.argsort(-by, kind="stable")]) / values.sum()
        return float(np.mean(lorenz - np.arange(1, len(values) + 1) / len(values)))
    return area(actual, score) / area(actual, actual)


def harrell_c(days: np.ndarray, observed: np.ndarray, predicted: np.ndarray) -> float:
    """All pairs (i observed, j outlasting i): concordant when j's prediction is longer, ties 1/2."""
    later = (days[None, :] > days[:, None]) | ((days[None, :] == days[:, None]) & ~observed[None, :])
    comparable = observed[:, None] & later
    longer = (predicted[None, :] > predicted[:, None]) + 0.5 * (predicted[None, :] == predicted[:, None])
    return float((longer * comparable).sum() / comparable.sum())


@pytest.mark.slow
def test_a_matured_date_is_judged_as_computed_by_hand_once_and_shown_in_monitoring(
        kept: Path, synthetic: tuple[pd.DataFrame, pd.DataFrame], monkeypatch: pytest.MonkeyPatch) -> None:
    transactions = synthetic[0]
    settings = load_settings()
    run = run_backtests(transactions, DEFAULT_PROJECT, settings)
    assert [d["as_of"] for d in run.done] == [MATURED.isoformat()] and run.already == []
    assert run.waiting == [(WAITING, WAITING + timedelta(days=H))]
    document = run.done[0]
    joined = by_hand(transactions, MATURED)
    assert (document["members"], document["horizon_days"], document["model_versions"]) == (len(joined), H, VERSIONS)

    got = {(r["task"], r["metric"]): (r["served"], r["baselines"], r["served_by"], r["members"])
           for r in document["metrics"]}
    churned, upsold = joined["churned"].to_numpy(), joined["upsold"].to_numpy()
    spend = joined["spend_in_horizon"].clip(lower=0).to_numpy()
    days = joined["days_to_next"].fillna(H).to_numpy()
    observed = joined["days_to_next"].notna().to_numpy()

    def column(name: str) -> np.ndarray:
        return joined[name].to_numpy(float)

    expected = {
        ("churn", "roc_auc"): (roc_auc_score(churned, column("churn_probability")),
                               {"recency": roc_auc_score(churned, column("baseline_churn_probability"))}),
        ("churn", "pr_auc"): (average_precision_score(churned, column("churn_probability")),
                              {"recency": average_precision_score(churned, column("baseline_churn_probability"))}),
        ("churn", "ece"): (expected_calibration_error(churned, column("churn_probability")),
                           {"recency": expected_calibration_error(churned, column("baseline_churn_probability"))}),
        ("upsell", "roc_auc"): (roc_auc_score(upsold, column("upsell_probability")),
                                {"rfm": roc_auc_score(upsold, column("baseline_upsell_probability"))}),
        ("upsell", "hit_rate"): (top_decile(upsold, column("upsell_probability")) * upsold.sum() / round(len(upsold) / 10),
                                 None),
        ("value", "normalized_gini"): (gini(spend, column("expected_value")),
                                       {"bgnbd": gini(spend, column("baseline_expected_value"))}),
        ("value", "top_decile_share"): (top_decile(spend, column("expected_value")),
                                        {"bgnbd": top_decile(spend, column("baseline_expected_value"))}),
    }
    for key, (served, baselines) in expected.items():
        assert got[key][0] == pytest.approx(served, abs=1e-12), key
        if baselines is not None:
            assert got[key][1] == pytest.approx(baselines, abs=1e-12), key
        assert got[key][3] == len(joined)
    # the offers' hit rate: of the members who adopted an offered category, those offered one they adopted
    offered = [set(json.loads(cell)) for cell in joined["baseline_upsell_categories"]]
    hits = [bool(new & offers_i) for new, offers_i in zip(joined["adopted"], offered) if new & set(CATEGORIES)]
    assert 20 < len(hits) and 0 < np.mean(hits) < 1
    assert got[("upsell", "hit_rate_at_3")][:2] == (None, {"rfm": pytest.approx(np.mean(hits), abs=1e-12)})  # no model offers
    # no next-purchase model: the baseline serves, judged on the same members as itself
    c = harrell_c(days, observed, column("baseline_next_purchase_median_days"))
    assert got[("next_purchase", "concordance")][:3] == (pytest.approx(c, abs=1e-12), {"bgnbd": pytest.approx(c, abs=1e-12)},
                                                         "baseline bgnbd")
    assert got[("churn", "roc_auc")][2] == "model v3"
    assert 0.2 < churned.mean() < 0.8 and 0 < upsold.sum() < len(upsold)  # both classes: every number is defined

    # one MLflow run, named by project and date, linked to the versions that served
    client = MlflowClient()
    experiment = client.get_experiment_by_name(backtest_experiment(DEFAULT_PROJECT))
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id])
    assert [r.info.run_id for r in runs] == [document["mlflow_run_id"]]
    logged = runs[0]
    assert logged.info.run_name == f"backtest · {DEFAULT_PROJECT} · {MATURED.isoformat()}"
    assert {k: logged.data.tags[k] for k in ("model_version.churn", "model_version.value", "backtest_as_of")} == \
        {"model_version.churn": "3", "model_version.value": "4", "backtest_as_of": MATURED.isoformat()}
    assert logged.data.metrics["churn.roc_auc.served"] == pytest.approx(expected[("churn", "roc_auc")][0])

    # idempotent: judged once, never logged again
    again = run_backtests(transactions, DEFAULT_PROJECT, settings)
    assert (again.done, again.already) == ([], [MATURED])
    assert len(client.search_runs([experiment.experiment_id])) == 1

    # GET /monitoring shows the stored results, oldest first
    body = client_for(kept, monkeypatch).get("/monitoring").json()
    assert body["backtests"] == [document]


@pytest.mark.slow
def test_the_command_says_what_it_did_in_english_and_chinese(kept: Path, synthetic: tuple[pd.DataFrame, pd.DataFrame],
                                                             tmp_path: Path) -> None:
    """backtest: one line per judged date and its metrics; again: 'already backtested'; zh-CN likewise."""
    path = tmp_path / "tx.parquet"
    synthetic[0].to_parquet(path)
    runner = CliRunner()
    first = runner.invoke(app, ["backtest", "--transactions", str(path)])
    assert first.exit_code == 0, first.output
    lines = first.stdout.splitlines()
    assert lines[0].startswith("backtest of 2024-03-01 (H 60 days, ") and "-> MLflow run " in lines[0]
    assert "  churn roc_auc: " in lines[1] and "(served by model v3); baselines: recency " in lines[1]
    assert lines[-1] == "2024-05-01: horizon not passed yet (needs transactions up to 2024-06-29)"
    again = runner.invoke(app, ["backtest", "--transactions", str(path), "--lang", "zh-CN"])
    assert again.exit_code == 0
    assert again.stdout.splitlines() == ["2024-03-01：已回测，不再重复记录",
                                         "2024-05-01：预测期尚未结束（需要截至 2024-06-29 的交易数据）"]


def test_no_stored_scores_is_one_line_and_exit_2(stores: object, synthetic: tuple[pd.DataFrame, pd.DataFrame],
                                                 tmp_path: Path) -> None:
    path = tmp_path / "tx.parquet"
    synthetic[0].head(500).to_parquet(path)
    result = CliRunner().invoke(app, ["backtest", "--transactions", str(path), "--project", "shop"])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: no stored scores for project shop in ")
