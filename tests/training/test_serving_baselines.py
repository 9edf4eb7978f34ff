"""training.serving_baselines: the churn and upsell rules that serve when a task has no champion.

Fitted per snapshot on its latest complete window (features as of D - H, outcomes in [D - H, D)),
so they must never see a row at or after D, must rank out of time, and must never offer a
category the member already buys.
"""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from features import contract
from features.labels import build_labels
from features.offer_lists import decode_offers
from features.snapshot import build_snapshot
from models.baselines import CATEGORIES_COLUMN, CHURN_COLUMN, MEDIAN_COLUMN, UPSELL_COLUMN, VALUE_COLUMN
from training.config import TrainConfig
from training.serving_baselines import serving_baselines, with_serving_baselines
from training.upsell import spend_up

pytestmark = pytest.mark.slow  # every test fits the rules on 800 simulated members: about a minute in all

AS_OF = date(2024, 1, 1)  # 365 days into the 540 simulated: 175 days of future to check against
CONFIG = TrainConfig(horizon_days=90)


@pytest.fixture(scope="module")
def transactions(synthetic: tuple[pd.DataFrame, pd.DataFrame]) -> pd.DataFrame:
    return synthetic[0]


@pytest.fixture(scope="module")
def baselines(transactions: pd.DataFrame) -> pd.DataFrame:
    return serving_baselines(transactions, build_snapshot(transactions, AS_OF), CONFIG)


def test_rows_at_or_after_the_snapshot_never_change_the_baselines(transactions: pd.DataFrame,
                                                                  baselines: pd.DataFrame) -> None:
    """Point in time: drop every row from D on, and double the amounts of what is left after D: same columns."""
    before = transactions[transactions[contract.TS] < pd.Timestamp(AS_OF)]
    rewritten = pd.concat([before, transactions[transactions[contract.TS] >= pd.Timestamp(AS_OF)]
                           .assign(**{contract.AMOUNT: lambda f: f[contract.AMOUNT] * 2})])
    pd.testing.assert_frame_equal(serving_baselines(before, build_snapshot(before, AS_OF), CONFIG), baselines)
    pd.testing.assert_frame_equal(serving_baselines(rewritten, build_snapshot(rewritten, AS_OF), CONFIG), baselines)


def test_the_snapshots_own_fit_passed_in_gives_the_same_baselines_without_a_second_fit(
        transactions: pd.DataFrame, baselines: pd.DataFrame, monkeypatch: pytest.MonkeyPatch) -> None:
    """``memberscore snapshot`` fits BG/NBD once for the features and the baselines: same columns, and
    the only fits left here are the earlier windows' (never one as of D again)."""
    import training.serving_baselines as module
    from features.lifetime import fit_lifetime

    lifetime = fit_lifetime(transactions, AS_OF)
    fitted_as_of: list[date] = []

    def counted(rows: pd.DataFrame, as_of: date):  # type: ignore[no-untyped-def]
        fitted_as_of.append(as_of)
        return fit_lifetime(rows, as_of)

    monkeypatch.setattr(module, "fit_lifetime", counted)
    snapshot = build_snapshot(transactions, AS_OF, lifetime=lifetime)
    pd.testing.assert_frame_equal(serving_baselines(transactions, snapshot, CONFIG, lifetime), baselines)
    assert AS_OF not in fitted_as_of


def test_rules_are_fitted_on_a_seeded_member_sample_and_score_every_member(
        transactions: pd.DataFrame, baselines: pd.DataFrame, monkeypatch: pytest.MonkeyPatch) -> None:
    """A chain's windows hold ``baseline_members`` members (drawn with the seed), never all of them;
    every member is still scored, by rules close to the full fit's, and the draw repeats."""
    import training.serving_baselines as module
    from training.examples import build_category_history, build_examples

    seen: list[set[str]] = []
    categories_seen: dict[date, int] = {}

    def recorded(rows: pd.DataFrame, *args, **kwargs):  # type: ignore[no-untyped-def]
        seen.append(set(rows[contract.MEMBER_ID]))
        return build_examples(rows, *args, **kwargs)

    def recorded_categories(rows: pd.DataFrame, cutoffs: list[date], *args, **kwargs):  # type: ignore[no-untyped-def]
        categories_seen[cutoffs[0]] = rows[contract.MEMBER_ID].nunique()
        return build_category_history(rows, cutoffs, *args, **kwargs)

    monkeypatch.setattr(module, "build_examples", recorded)
    monkeypatch.setattr(module, "build_category_history", recorded_categories)
    snapshot = build_snapshot(transactions, AS_OF)
    config = CONFIG.model_copy(update={"baseline_members": 300})
    sampled = serving_baselines(transactions, snapshot, config)
    assert len(seen) == 2 and all(0 < len(members) <= 300 for members in seen) and seen[0] <= seen[1]
    assert len(sampled) == len(baselines) and sampled[CHURN_COLUMN].notna().all()
    assert np.abs(sampled[CHURN_COLUMN] - baselines[CHURN_COLUMN]).mean() < 0.05
    # popularity is learnt on the sample; what each member owns, and so what they are offered, on everyone
    assert categories_seen[AS_OF - timedelta(days=90)] <= 300 < categories_seen[AS_OF]
    assert sampled[UPSELL_COLUMN].notna().sum() == baselines[UPSELL_COLUMN].notna().sum()
    assert np.abs(sampled[UPSELL_COLUMN] - baselines[UPSELL_COLUMN]).mean() < 0.05
    other = serving_baselines(transactions, snapshot, config.model_copy(update={"seed": 8}))
    assert seen[2] != seen[0]  # another seed, another sample
    pd.testing.assert_frame_equal(serving_baselines(transactions, snapshot, config), sampled)
    assert not other.equals(sampled)


def test_the_churn_rule_ranks_what_happens_next(transactions: pd.DataFrame, baselines: pd.DataFrame) -> None:
    """Out of time: P(churn) from the window before D ranks churn in [D, D + H) well above chance."""
    churned = build_labels(transactions, AS_OF, CONFIG.horizon_days).set_index(contract.MEMBER_ID)["churned"]
    scored = baselines.set_index(contract.MEMBER_ID)[CHURN_COLUMN]
    assert scored.between(0, 1).all()
    assert roc_auc_score(churned.reindex(scored.index), scored) > 0.7


def test_offers_are_new_popular_categories(transactions: pd.DataFrame, baselines: pd.DataFrame) -> None:
    """Up to 3 categories, none the member owns at D (net spend > 0 before D), in one popularity order."""
    before = transactions[transactions[contract.TS] < pd.Timestamp(AS_OF)]
    net = before.groupby([contract.MEMBER_ID, contract.CATEGORY], observed=True)[contract.AMOUNT].sum()
    owned: dict[str, set[str]] = {}
    for (member, category) in net[net > 0].index:
        owned.setdefault(str(member), set()).add(str(category))
    offers = {str(m): decode_offers(o) for m, o in zip(baselines[contract.MEMBER_ID], baselines[CATEGORIES_COLUMN])
              if decode_offers(o)}  # issue 15: a JSON array per member (was '|'-joined)
    assert len(offers) > 100, "most members have something new to be offered"
    assert all(len(o) <= 3 and not set(o) & owned.get(m, set()) for m, o in offers.items())
    precedes = {(a, b) for o in offers.values() for i, a in enumerate(o) for b in o[i + 1:]}
    assert precedes and not any((b, a) in precedes for a, b in precedes), "one ranking for every member"
    assert baselines[UPSELL_COLUMN].between(0, 1).all()


def test_without_categories_upsell_is_the_spend_up_rule(transactions: pd.DataFrame) -> None:
    """No category column: no offers; P(spend-up) ranks better than chance out of time (spend-up is
    hard to call from RFM alone: the rule is weak, which is why a model is trained)."""
    plain = transactions.drop(columns=[contract.CATEGORY])
    scored = serving_baselines(plain, build_snapshot(plain, AS_OF), CONFIG).set_index(contract.MEMBER_ID)
    assert (scored[CATEGORIES_COLUMN] == "[]").all()  # issue 15: no offers is "[]" (was "")
    labels = build_labels(plain, AS_OF, CONFIG.horizon_days).set_index(contract.MEMBER_ID)
    grew = spend_up(labels.reindex(scored.index), CONFIG.spend_up_growth)
    assert 0 < grew.sum() < len(grew)
    assert roc_auc_score(grew, scored[UPSELL_COLUMN]) > 0.52
    assert scored[UPSELL_COLUMN].between(0, 1).all() and scored[UPSELL_COLUMN].nunique() > 1


@pytest.mark.parametrize("with_categories", [True, False])
def test_the_serving_rule_is_the_one_that_ranks_best_out_of_time(transactions: pd.DataFrame,
                                                                  with_categories: bool) -> None:
    """Each rule fitted on the window before the latest and judged on the latest; the winner is named and serves.

    Churn's rules include BG/NBD's P(no purchase in H) fitted as of each window's cut-off (issue 14).
    """
    from features.lifetime import fit_lifetime
    from training.baselines import BASELINES, SPEND_UP_BASELINES
    from training.examples import LABEL_COLUMN, build_examples
    from training.serving_baselines import BGNBDChurn

    def with_bgnbd(rows: pd.DataFrame, cutoff: date) -> pd.DataFrame:
        lifetime = fit_lifetime(data, cutoff)
        p = pd.Series(lifetime.p_purchase_within(float(CONFIG.horizon_days)), index=lifetime.summary.index.astype(str))
        return rows.assign(_bgnbd_no_purchase_in_horizon=1.0 - p.reindex(rows[contract.MEMBER_ID].astype(str)).to_numpy())

    data = transactions if with_categories else transactions.drop(columns=[contract.CATEGORY])
    scored = serving_baselines(data, build_snapshot(data, AS_OF), CONFIG)
    horizon = timedelta(days=CONFIG.horizon_days)
    earlier = with_bgnbd(build_examples(data, [AS_OF - 2 * horizon], CONFIG.horizon_days), AS_OF - 2 * horizon)
    latest = with_bgnbd(build_examples(data, [AS_OF - horizon], CONFIG.horizon_days), AS_OF - horizon)
    targets = [((*BASELINES, BGNBDChurn), lambda rows: rows[LABEL_COLUMN].to_numpy(), "baseline_churn_rule")]
    if not with_categories:
        targets.append((SPEND_UP_BASELINES, lambda rows: spend_up(rows, CONFIG.spend_up_growth), "baseline_upsell_rule"))
    for rules, label, column in targets:
        aucs = {rule.name: roc_auc_score(label(latest), rule().fit(earlier, label(earlier)).predict_proba(latest))
                for rule in rules}
        assert set(scored[column]) == {max(aucs, key=aucs.get)}, aucs
    if with_categories:
        assert set(scored["baseline_upsell_rule"]) == {"popular_new_categories"}


def test_too_little_history_for_a_rule_leaves_bgnbd_as_the_last_resort(transactions: pd.DataFrame) -> None:
    """D - H before the first purchase: no rule can be fitted, so churn is BG/NBD's 1 - P(purchase
    within H) as of D, named ``bgnbd`` (issue 14: never an empty score while BG/NBD fits); no upsell."""
    from features.lifetime import fit_lifetime, median_days_to_purchase

    early = transactions[contract.TS].min().date() + timedelta(days=30)
    scored = serving_baselines(transactions, build_snapshot(transactions, early), CONFIG).set_index(contract.MEMBER_ID)
    lifetime = fit_lifetime(transactions, early)
    ids = lifetime.summary.index.astype(str)
    assert len(scored) == len(ids) > 0
    np.testing.assert_allclose(scored.loc[ids, CHURN_COLUMN], 1.0 - lifetime.p_purchase_within(90.0), rtol=1e-12)
    np.testing.assert_allclose(scored.loc[ids, VALUE_COLUMN], lifetime.expected_spend(90.0), rtol=1e-12)
    np.testing.assert_array_equal(scored.loc[ids, MEDIAN_COLUMN], median_days_to_purchase(lifetime))
    assert (scored["baseline_churn_rule"] == "bgnbd").all()
    assert scored[UPSELL_COLUMN].isna().all() and (scored[CATEGORIES_COLUMN] == "[]").all()  # issue 15: was ""
    assert (scored["baseline_upsell_rule"] == "").all()


def test_without_a_rule_or_a_bgnbd_fit_the_baselines_stay_empty(transactions: pd.DataFrame) -> None:
    """One day of history: no repeat buyer, so no BG/NBD fit, and no window for a rule: nothing is made up."""
    first = transactions[contract.TS].min().date() + timedelta(days=1)
    scored = serving_baselines(transactions, build_snapshot(transactions, first), CONFIG)
    assert len(scored) > 0
    for column in (CHURN_COLUMN, UPSELL_COLUMN, MEDIAN_COLUMN, VALUE_COLUMN):
        assert scored[column].isna().all(), column
    assert (scored["baseline_churn_rule"] == "").all() and (scored["baseline_upsell_rule"] == "").all()


def test_the_profile_gains_the_columns_row_for_row(transactions: pd.DataFrame, baselines: pd.DataFrame) -> None:
    snapshot = build_snapshot(transactions, AS_OF)
    extended = with_serving_baselines(transactions, snapshot, CONFIG)
    assert list(extended.profile[contract.MEMBER_ID]) == list(snapshot.profile[contract.MEMBER_ID])
    np.testing.assert_array_equal(extended.profile[CHURN_COLUMN].to_numpy(), baselines[CHURN_COLUMN].to_numpy())
    pd.testing.assert_frame_equal(extended.frame, snapshot.frame)
