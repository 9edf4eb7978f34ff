"""campaigns.assignment and campaigns.power: a deterministic, stratified holdout and the MDE said before sending."""

from __future__ import annotations

import hashlib
import hmac
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from campaigns.assignment import assign_arms, controls_in, member_hash, score_deciles
from campaigns.power import campaign_mde, minimum_detectable_effect, spend_window


def test_the_hash_is_hmac_sha256_keyed_by_the_campaign() -> None:
    assert member_hash("cmp_a", "007") == hmac.new(b"cmp_a", b"007", hashlib.sha256).hexdigest()
    assert member_hash("cmp_a", "007") != member_hash("cmp_b", "007")


def test_deciles_follow_the_list_order_best_first_with_sizes_within_one() -> None:
    scores = pd.Series([5.0, 9.0, 1.0, 7.0, 3.0], index=list("abcde"))  # 5 members: two per decile slot at most
    assert score_deciles(scores).to_dict() == {"b": 1, "d": 3, "a": 5, "e": 7, "c": 9}
    sizes = score_deciles(pd.Series(np.arange(1003.0))).value_counts()
    assert sorted(sizes.index) == list(range(1, 11)) and sizes.max() - sizes.min() <= 1


@pytest.mark.parametrize(("size", "share", "expected"), [(10, 0.1, 1), (5, 0.1, 1), (4, 0.1, 0), (15, 0.1, 2),
                                                          (25, 0.1, 3), (7, 0.5, 4), (100, 0.25, 25)])
def test_controls_per_decile_are_round_share_times_size_halves_up(size: int, share: float, expected: int) -> None:
    assert controls_in(size, share) == expected


def test_exact_control_counts_per_decile_chosen_by_hash_order() -> None:
    """40 members: 4 per decile, share 0.5 -> exactly 2 controls per decile, the two lowest hashes."""
    ids = pd.Series([f"m{i:02d}" for i in range(40)])
    deciles = score_deciles(pd.Series(np.arange(40.0)[::-1]))
    arms = assign_arms("cmp_x", ids, deciles, 0.5)
    frame = pd.DataFrame({"id": ids, "decile": deciles, "arm": arms, "hash": [member_hash("cmp_x", m) for m in ids]})
    for _, group in frame.groupby("decile"):
        assert (group["arm"] == "control").sum() == 2
        lowest = set(group.sort_values("hash")["id"].head(2))
        assert set(group.loc[group["arm"] == "control", "id"]) == lowest


def test_the_draw_is_deterministic_and_new_for_a_new_campaign() -> None:
    ids = pd.Series([str(i) for i in range(500)])
    deciles = score_deciles(pd.Series(np.linspace(1, 0, 500)))
    first, again = assign_arms("cmp_1", ids, deciles, 0.1), assign_arms("cmp_1", ids, deciles, 0.1)
    assert first.equals(again)
    shuffled = ids.sample(frac=1, random_state=1)  # the order members come in does not matter
    assert assign_arms("cmp_1", shuffled, deciles[shuffled.index], 0.1).sort_index().equals(first)
    other = assign_arms("cmp_2", ids, deciles, 0.1)
    assert (other == "control").sum() == (first == "control").sum() == 50
    assert (other != first).any()


def test_both_arms_have_the_same_score_mix() -> None:
    """Seeded skewed scores: stratification makes the arms' deciles match exactly and their scores alike."""
    rng = np.random.default_rng(7)
    scores = pd.Series(np.sort(rng.lognormal(0, 1.5, 3000))[::-1])
    ids = pd.Series([f"id{i}" for i in range(3000)])
    deciles = score_deciles(scores)
    arms = assign_arms("cmp_mix", ids, deciles, 0.2)
    per_decile = pd.crosstab(deciles, arms)
    assert (per_decile["control"] == 60).all() and (per_decile["treatment"] == 240).all()
    treated, held = scores[arms == "treatment"], scores[arms == "control"]
    assert stats.ks_2samp(treated, held).pvalue > 0.5
    assert held.median() == pytest.approx(treated.median(), rel=0.1)


@pytest.mark.parametrize(("share", "message"), [(0.0, "holdout_share"), (1.0, "holdout_share"), (-0.1, "holdout_share")])
def test_a_share_outside_zero_one_is_refused(share: float, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        assign_arms("c", pd.Series(["a", "b"]), pd.Series([1, 2]), share)


def test_a_member_listed_twice_is_refused() -> None:
    with pytest.raises(ValueError, match="listed twice"):
        assign_arms("c", pd.Series(["a", "a"]), pd.Series([1, 1]), 0.5)


# --- power -----------------------------------------------------------------------------------------

def test_mde_against_a_hand_computation() -> None:
    """sd 40, 900 treated, 100 held out: (1.959964 + 0.841621) * 40 * sqrt(1/900 + 1/100) = 11.8125."""
    hand = (1.959963985 + 0.841621234) * 40 * math.sqrt(1 / 900 + 1 / 100)
    assert minimum_detectable_effect(40.0, 900, 100) == pytest.approx(hand, rel=1e-9)
    assert hand == pytest.approx(11.8125, abs=1e-4)


@pytest.mark.parametrize(("treatment", "control"), [(900, 100), (90, 10), (5000, 5000)])
def test_at_the_mde_a_two_sided_test_has_80_percent_power(treatment: int, control: int) -> None:
    """Power functions from scipy: the z-test's (both tails) and the t-test's (noncentral t) at the MDE."""
    sd = 25.0
    mde = minimum_detectable_effect(sd, treatment, control)
    shift = mde / (sd * math.sqrt(1 / treatment + 1 / control))
    z = stats.norm.ppf(0.975)
    z_power = stats.norm.sf(z - shift) + stats.norm.cdf(-z - shift)
    assert z_power == pytest.approx(0.80, abs=1e-3)  # the other tail adds < 0.001
    df = treatment + control - 2
    t = stats.t.ppf(0.975, df)
    t_power = stats.nct.sf(t, df, shift) + stats.nct.cdf(-t, df, shift)
    assert t_power == pytest.approx(0.80, abs=0.01 if df < 200 else 0.002)


def test_campaign_mde_reads_the_spread_of_past_spend_and_says_how() -> None:
    spend = np.array([0.0, 10.0, 20.0, 30.0, np.nan])
    answer = campaign_mde(spend, 3, 1, "spend_30d")
    sd = float(np.std([0.0, 10.0, 20.0, 30.0], ddof=1))
    assert answer.spend_sd == pytest.approx(sd)
    assert answer.spend_per_member == pytest.approx(minimum_detectable_effect(sd, 3, 1))
    assert "spend_30d" in answer.estimated_from
    scaled = campaign_mde(spend, 3, 1, "spend_90d", scale=60 / 90)
    assert scaled.spend_sd == pytest.approx(sd * 60 / 90) and "x 0.667" in scaled.estimated_from
    assert campaign_mde(spend, 4, 0, "spend_30d").spend_per_member is None


@pytest.mark.parametrize(("days", "expected"), [(30, (30, 1.0)), (60, (90, 60 / 90)), (90, (90, 1.0)),
                                                (400, (365, 400 / 365)), (7, (30, 7 / 30))])
def test_spend_window_is_the_same_length_or_the_next_longer_scaled(days: int, expected: tuple[int, float]) -> None:
    assert spend_window(days, (30, 90, 180, 365)) == pytest.approx(expected)
