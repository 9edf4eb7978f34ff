"""Never a silent empty score (issue 14): without any champion every output is served by a baseline,
and ``served_by`` says which; when nothing at all can be fitted, one line says why.

Built the way ``memberscore score`` builds them (``build_snapshot`` + ``with_serving_baselines``,
then ``score_frame`` with no model: every task lost its gate or never ran).
"""

from __future__ import annotations

import os
from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest

from features import contract
from features.lifetime import fit_lifetime
from features.project import DEFAULT_PROJECT
from features.snapshot import build_snapshot
from serving.scoring import score_frame
from serving.sources import KEY_OUTPUT, NO_MEDIAN, REQUIRED, require_served, served_by, summary, task_sources
from training.config import TrainConfig
from training.serving_baselines import with_serving_baselines

SERVED = ("churn_probability", "p_purchase_7d", "p_purchase_30d", "p_purchase_90d", "expected_value",
          "upsell_probability", "clv_12m")  # p_alive: for repeat buyers only (features.segments.evidenced_p_alive)


def baseline_scores(transactions: pd.DataFrame, as_of: date, horizon: int) -> tuple[pd.DataFrame, dict[str, str]]:
    snapshot = with_serving_baselines(transactions, build_snapshot(transactions, as_of), TrainConfig(horizon_days=horizon))
    scores = score_frame({}, snapshot.model_inputs(), snapshot.profile, as_of)
    sources = task_sources({}, snapshot.profile)
    return scores.assign(served_by=served_by(scores, sources)), sources


def snapshot_one_timers(transactions: pd.DataFrame, as_of: date) -> list[str]:
    """Members with one purchase occasion before as_of, counted from the transactions directly."""
    before = transactions[transactions["ts"] < pd.Timestamp(as_of)]
    occasions = before.groupby("member_id")["ts"].nunique()
    return [str(member) for member in occasions[occasions == 1].index]


def test_without_any_champion_every_output_is_a_baselines(synthetic: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    """Every member gets churn, P(purchase within 7/30/90 days), value and upsell; the median and
    its date wherever BG/NBD has one; served_by names the baselines."""
    transactions = synthetic[0]
    as_of = date(2024, 1, 1)
    scores, sources = baseline_scores(transactions, as_of, 90)
    for column in SERVED:
        assert scores[column].notna().all(), column
    # not served where BG/NBD says 1.0 by construction: at least every member with one purchase time
    unserved = set(scores.loc[scores["p_alive"].isna(), "member_id"].astype(str))
    one_timers = set(snapshot_one_timers(transactions, as_of))
    assert one_timers and one_timers <= unserved < set(scores["member_id"].astype(str))
    assert scores["churn_probability"].between(0, 1).all() and scores["churn_probability"].nunique() > 10
    assert sources["next_purchase"] == sources["value"] == "baseline:bgnbd"
    assert sources["churn"] in ("baseline:bgnbd", "baseline:rfm_rule", "baseline:recency_over_gap")
    assert sources["upsell"] == "baseline:popular_new_categories"
    lifetime = fit_lifetime(transactions, as_of)
    has_median = pd.Series(lifetime.p_alive() > 0.5, index=lifetime.summary.index.astype(str))
    by_id = scores.set_index(scores[contract.MEMBER_ID].astype(str))
    assert (by_id["next_purchase_median_days"].notna() == has_median.reindex(by_id.index)).all()
    assert (by_id["next_purchase_date"].notna() == has_median.reindex(by_id.index)).all()
    first = by_id[by_id["next_purchase_median_days"].notna()].iloc[0]
    assert first["next_purchase_date"] == (as_of + timedelta(days=round(first["next_purchase_median_days"]))).isoformat()
    expected = ";".join(f"{task}={source}" for task, source in sources.items())
    assert (by_id.loc[has_median[has_median].index, "served_by"] == expected).all()
    no_median = by_id.loc[has_median[~has_median].index, "served_by"]
    assert len(no_median) and no_median.str.contains(f"next_purchase=baseline:bgnbd{NO_MEDIAN}", regex=False).all()
    assert "nan" not in summary(sources, scores)


def test_a_short_history_is_served_by_bgnbd(synthetic: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    """60 days of data, H = 90: no window for any rule; BG/NBD alone serves churn, next purchase and value."""
    transactions = synthetic[0]
    start = transactions[contract.TS].min()
    short = transactions[transactions[contract.TS] < start + pd.Timedelta(days=60)]
    as_of = (start + pd.Timedelta(days=60)).date()
    scores, sources = baseline_scores(short, as_of, 90)
    for column in ("churn_probability", "p_purchase_7d", "p_purchase_30d", "p_purchase_90d", "expected_value"):
        assert scores[column].notna().all(), column
    lifetime = fit_lifetime(short, as_of)
    by_id = scores.set_index(scores[contract.MEMBER_ID].astype(str)).loc[lifetime.summary.index.astype(str)]
    np.testing.assert_allclose(by_id["churn_probability"], 1.0 - lifetime.p_purchase_within(90.0), rtol=1e-12)
    assert sources["churn"] == "baseline:bgnbd" and sources["upsell"] == "baseline:rule"
    assert (scores["served_by"].str.startswith("churn=baseline:bgnbd;")).all()
    assert scores["served_by"].str.contains("upsell=none", regex=False).all(), "no window for the upsell rule"
    require_served(scores, as_of, 90)


def test_nothing_fittable_is_one_line_naming_what_and_why(synthetic: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    """One day of data: no repeat buyer for BG/NBD, no window for a rule, no champion: refused in one line."""
    transactions = synthetic[0]
    as_of = transactions[contract.TS].min().date() + timedelta(days=1)
    scores, _ = baseline_scores(transactions, as_of, 90)
    with pytest.raises(ValueError) as error:
        require_served(scores, as_of, 90)
    message = str(error.value)
    assert "\n" not in message and f"as of {as_of}" in message
    assert "nothing can score churn, next_purchase, value" in message and "BG/NBD" in message
    with pytest.raises(ValueError, match="no member has a purchase before"):
        require_served(scores.iloc[:0], as_of, 90)
    require_served(scores.assign(churn_probability=0.5, p_purchase_30d=0.5, expected_value=1.0), as_of, 90)


def test_a_champion_is_named_by_its_version() -> None:
    scores = pd.DataFrame({KEY_OUTPUT[t]: [0.1, np.nan] for t in (*REQUIRED, "upsell")})
    scores["next_purchase_median_days"] = [3.0, np.nan]
    sources = {"churn": "model:3", "next_purchase": "baseline:bgnbd", "upsell": "model:1", "value": "model:2"}
    assert list(served_by(scores, sources)) == [
        "churn=model:3;next_purchase=baseline:bgnbd;upsell=model:1;value=model:2",
        "churn=none;next_purchase=none;upsell=none;value=none"]


def test_the_service_is_ready_with_bgnbd_alone_and_says_so(synthetic: tuple[pd.DataFrame, pd.DataFrame], tmp_path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """No model in the store and a snapshot too short for any rule: /readyz is ready (churn's baseline is
    BG/NBD), model_versions name it, and /score answers every output BG/NBD gives."""
    from features.store import write_snapshot
    from serving import live

    transactions = synthetic[0]
    start = transactions[contract.TS].min()
    short = transactions[transactions[contract.TS] < start + pd.Timedelta(days=60)]
    as_of = (start + pd.Timedelta(days=60)).date()
    write_snapshot(with_serving_baselines(short, build_snapshot(short, as_of), TrainConfig()), tmp_path)
    monkeypatch.setattr(live, "stored_tag", lambda task, project: None)
    served = live.LiveState(tmp_path, poll_seconds=3600, project=DEFAULT_PROJECT,
                           tracking_uri=os.environ.get("MLFLOW_TRACKING_URI")).current()
    assert served.ready and served.not_ready_reasons() == []
    assert served.versions() == {"churn": "baseline:bgnbd", "next_purchase": "baseline:bgnbd", "value": "baseline:bgnbd"}
    ids = list(served.snapshot.scores_by_id.index[:30])
    results = served.snapshot.members.scores(ids, 3)
    assert all(r.churn_probability is not None and r.p_purchase_30d is not None and r.expected_value is not None
               for r in results)
    assert any(r.next_purchase_median_days is not None and r.next_purchase_date is not None for r in results)
