"""training.cross_sell: which new category to offer, checked against hand counts and planted truth.

Pinned: a category is owned when spend_before > 0 (a net return leaves it new); popularity is
adopters / members for whom it was new; co-purchase rates are smoothed toward popularity with
``smoothing`` pseudo-members and a member takes the max over owned categories; owned categories
score -inf and are never offered; the train vocabulary is applied unchanged to later rows;
hit@k and precision@fraction share boundary ties pro rata, so row and column order never matter.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from features.categories import category_slug, share_column
from features.offer_lists import decode_offers
from models.offers import top_categories
from training.cross_sell import (
    CoPurchaseBaseline,
    PopularityBaseline,
    frequent_categories,
    history_members,
    hit_rate_at_k,
    new_category_any,
    new_category_targets,
    ownership_matrix,
    precision_at_fraction,
)
from training.evaluate import lift_at

COLUMNS = ["cutoff", "member_id", "category", "spend_before", "bought_in_horizon"]
CUTOFF = pd.Timestamp("2024-07-01")
LATER = pd.Timestamp("2024-10-01")
APPAREL, BEAUTY, COFFEE = "Apparel", "Beauty & Care", "Coffee"
VOCAB = [APPAREL, BEAUTY, COFFEE]

# member, category, spend before the cut-off, bought in the horizon
HAND_ROWS = [
    ("m1", APPAREL, 100.0, False), ("m1", BEAUTY, 0.0, True),
    ("m2", APPAREL, 60.0, False), ("m2", COFFEE, 0.0, True),
    ("m3", APPAREL, 30.0, True), ("m3", BEAUTY, 70.0, False),  # re-buys owned Apparel: not new
    ("m4", BEAUTY, 40.0, False), ("m4", APPAREL, -10.0, True),  # Apparel returned: still new, adopted
    ("m5", COFFEE, 50.0, False), ("m5", BEAUTY, 0.0, True),
]


def history(rows: list[tuple[str, str, float, bool]], cutoff: pd.Timestamp = CUTOFF) -> pd.DataFrame:
    return pd.DataFrame([(cutoff, *row) for row in rows], columns=COLUMNS)


@pytest.fixture
def hand() -> pd.DataFrame:
    return history(HAND_ROWS)


# ---- vocabulary, features, targets ------------------------------------------------------------


def test_frequent_categories_rank_by_distinct_owners_then_name(hand: pd.DataFrame) -> None:
    """Owners: Apparel m1 m2 m3, Beauty m3 m4 (m4's Apparel is net negative), Coffee m5."""
    assert frequent_categories(hand) == VOCAB
    assert frequent_categories(hand, max_categories=2) == [APPAREL, BEAUTY]
    tied = history([("a", "Zinc", 5.0, False), ("b", "Iron", 5.0, False), ("c", "Zinc", 0.0, True)])
    assert frequent_categories(tied) == ["Iron", "Zinc"]  # one owner each: by name


def test_frequent_categories_count_a_member_once_across_cutoffs() -> None:
    """Distinct owners, not rows: m1 owning Apparel at two cut-offs is one owner."""
    rows = pd.concat([
        history([("m1", APPAREL, 5.0, False)]), history([("m1", APPAREL, 9.0, False)], LATER),
        history([("m2", BEAUTY, 5.0, False), ("m3", BEAUTY, 5.0, False)]),
    ])
    assert frequent_categories(rows) == [BEAUTY, APPAREL]


def test_ownership_matrix_gives_spend_shares(hand: pd.DataFrame) -> None:
    members = history_members(hand)
    shares = ownership_matrix(hand, members, VOCAB)
    assert list(shares.columns) == ["share_apparel", "share_beauty_care", "share_coffee"]
    expected = [[1, 0, 0], [1, 0, 0], [0.3, 0.7, 0], [0, 1, 0], [0, 0, 1]]  # m4: -10 counts as 0
    np.testing.assert_allclose(shares.to_numpy(), expected, rtol=1e-12)
    assert shares.index.equals(members)


def test_ownership_matrix_uses_the_train_vocabulary_unchanged_on_later_rows(hand: pd.DataFrame) -> None:
    """Later rows bring a new, popular category; the columns stay the training vocabulary and
    spend outside it still counts in the denominator."""
    vocabulary = frequent_categories(hand, max_categories=2)
    later = history([("m1", APPAREL, 100.0, False), ("m1", "Zines", 300.0, False),
                     ("m9", "Zines", 10.0, False), ("m3", "Zines", 20.0, True)], LATER)
    assert frequent_categories(later, max_categories=2) == ["Zines", APPAREL]
    members = pd.Index([(LATER, "m1"), (LATER, "m9"), (LATER, "m-unknown")])
    shares = ownership_matrix(later, members, vocabulary)
    assert list(shares.columns) == ["share_apparel", "share_beauty_care"]
    np.testing.assert_allclose(shares.to_numpy(), [[0.25, 0], [0, 0], [0, 0]], rtol=1e-12)
    assert new_category_targets(later, members, vocabulary).shape == (3, 2)


def test_new_category_targets_and_any(hand: pd.DataFrame) -> None:
    """Bought in the horizon and not owned; m3's repeat Apparel purchase is not a target."""
    members = history_members(hand)
    expected = [[0, 1, 0], [0, 0, 1], [0, 0, 0], [1, 0, 0], [0, 1, 0]]
    np.testing.assert_array_equal(new_category_targets(hand, members, VOCAB), expected)
    np.testing.assert_array_equal(new_category_any(hand, members), [1, 1, 0, 1, 1])
    # outside the vocabulary: m2's Coffee still counts for the binary target
    np.testing.assert_array_equal(new_category_targets(hand, members, [APPAREL, BEAUTY])[1], [0, 0])
    assert new_category_any(hand, members)[1] == 1


@pytest.mark.parametrize(
    ("name", "slug"),
    [("Beauty & Care", "beauty_care"), ("Café", "cafe"), ("  Home/Garden 2 ", "home_garden_2"), ("TV", "tv")],
)
def test_category_slug(name: str, slug: str) -> None:
    """One slug for the model's share features and the snapshot's share columns."""
    assert category_slug(name) == slug
    assert share_column(name) == f"share_{slug}"


def test_a_category_without_letters_or_digits() -> None:
    """No vocabulary column can be named after it; a snapshot still stores it, as share_blank."""
    with pytest.raises(ValueError, match="no letters or digits"):
        category_slug("&/-")
    assert share_column("&/-") == "share_blank"


def test_colliding_slugs_each_keep_their_own_shares(hand: pd.DataFrame) -> None:
    """Issue 15 (was: refused): two names with one slug are two vocabulary columns, each its own spend."""
    members = history_members(hand)
    shares = ownership_matrix(hand, members, [BEAUTY, "beauty|care"])
    assert list(shares.columns) == ["share_beauty_care", "share_beauty_care"]
    np.testing.assert_allclose(shares.to_numpy()[:, 0], ownership_matrix(hand, members, [BEAUTY]).to_numpy()[:, 0])
    assert (shares.to_numpy()[:, 1] == 0).all()


def test_a_chinese_category_names_its_own_column() -> None:
    assert category_slug("饮料 | 茶") == "饮料_茶" and share_column("饮料") == "share_饮料"


# ---- baselines on the hand history --------------------------------------------------------------
# Popularity, adopters / members for whom the category was new:
#   Apparel new for m4 m5 -> m4 adopts: 1/2; Beauty new for m1 m2 m5 -> m1 m5: 2/3;
#   Coffee new for m1..m4 -> m2: 1/4.
# Co-purchase (adopters, at risk) among owners of o, smoothed with m = 2 toward popularity p_c:
#   Apparel->Beauty (1, 2): (1 + 2*2/3) / 4 = 7/12    Apparel->Coffee (1, 3): (1 + 2/4) / 5 = 3/10
#   Beauty->Apparel (1, 1): (1 + 2/2) / 3 = 2/3       Beauty->Coffee  (0, 2): (0 + 2/4) / 4 = 1/8
#   Coffee->Apparel (0, 1): (0 + 2/2) / 3 = 1/3       Coffee->Beauty  (1, 1): (1 + 4/3) / 3 = 7/9
INF = -np.inf
POPULARITY = [1 / 2, 2 / 3, 1 / 4]
POPULARITY_SCORES = [[INF, 2 / 3, 1 / 4], [INF, 2 / 3, 1 / 4], [INF, INF, 1 / 4], [1 / 2, INF, 1 / 4],
                     [1 / 2, 2 / 3, INF]]
CO_PURCHASE_SCORES = [[INF, 7 / 12, 3 / 10], [INF, 7 / 12, 3 / 10],
                      [INF, INF, 3 / 10],  # m3 owns Apparel and Beauty: max(3/10, 1/8)
                      [2 / 3, INF, 1 / 8], [1 / 3, 7 / 9, INF]]


def test_popularity_rates_and_scores_match_hand_counts(hand: pd.DataFrame) -> None:
    model = PopularityBaseline().fit(hand)
    np.testing.assert_allclose(model.adoption_rate_[VOCAB].to_numpy(), POPULARITY, rtol=1e-12)
    np.testing.assert_allclose(model.score(hand, history_members(hand), VOCAB), POPULARITY_SCORES, rtol=1e-12)


def test_co_purchase_smoothed_rates_match_hand_counts(hand: pd.DataFrame) -> None:
    model = CoPurchaseBaseline(smoothing=2).fit(hand)
    assert model.pair_rate_.loc[APPAREL, BEAUTY] == pytest.approx(7 / 12, rel=1e-12)
    np.testing.assert_allclose(model.score(hand, history_members(hand), VOCAB), CO_PURCHASE_SCORES, rtol=1e-12)


def test_co_purchase_without_smoothing_is_the_raw_conditional_rate(hand: pd.DataFrame) -> None:
    model = CoPurchaseBaseline(smoothing=0).fit(hand)
    raw = {(APPAREL, BEAUTY): 1 / 2, (APPAREL, COFFEE): 1 / 3, (BEAUTY, APPAREL): 1.0, (BEAUTY, COFFEE): 0.0,
           (COFFEE, APPAREL): 0.0, (COFFEE, BEAUTY): 1.0}
    for (owned, new), rate in raw.items():
        assert model.pair_rate_.loc[owned, new] == pytest.approx(rate, abs=1e-12), (owned, new)


def test_co_purchase_falls_back_to_popularity(hand: pd.DataFrame) -> None:
    """A member owning nothing in the vocabulary, or only a category never seen in training,
    gets the popularity rates; so does an unseen pair. Unseen new categories get 0."""
    later = history([("m1", "Zines", 10.0, False), ("m2", "Toys", 5.0, False), ("m2", COFFEE, 0.0, True)], LATER)
    members = pd.Index([(LATER, "m1"), (LATER, "m2")])
    scores = CoPurchaseBaseline(smoothing=2).fit(hand).score(later, members, [*VOCAB, "Toys"])
    np.testing.assert_allclose(scores, [[*POPULARITY, 0.0], [*POPULARITY, INF]], rtol=1e-12)


def test_probability_any_new_combines_new_categories(hand: pd.DataFrame) -> None:
    """1 - prod(1 - score) over new vocabulary categories; m1: 1 - (5/12)(7/10) = 17/24."""
    members = history_members(hand)
    co_purchase = CoPurchaseBaseline(smoothing=2).fit(hand).probability_any_new(hand, members, VOCAB)
    np.testing.assert_allclose(co_purchase, [17 / 24, 17 / 24, 3 / 10, 1 - (1 / 3) * (7 / 8), 1 - (2 / 3) * (2 / 9)])
    popularity = PopularityBaseline().fit(hand).probability_any_new(hand, members, VOCAB)
    assert popularity[0] == pytest.approx(1 - (1 / 3) * (3 / 4))


def test_scoring_rows_need_no_horizon_column(hand: pd.DataFrame) -> None:
    """At serving time the horizon is in the future: features and scores use spend_before only."""
    today = hand.drop(columns="bought_in_horizon")
    members = history_members(today)
    model = CoPurchaseBaseline(smoothing=2).fit(hand)
    np.testing.assert_allclose(model.score(today, members, VOCAB), CO_PURCHASE_SCORES, rtol=1e-12)
    assert ownership_matrix(today, members, VOCAB).shape == (5, 3)


def test_results_do_not_depend_on_row_order(hand: pd.DataFrame) -> None:
    shuffled = hand.sample(frac=1.0, random_state=5).reset_index(drop=True)
    members = history_members(hand)
    assert history_members(shuffled).equals(members)
    a = CoPurchaseBaseline(smoothing=2).fit(hand).score(hand, members, VOCAB)
    b = CoPurchaseBaseline(smoothing=2).fit(shuffled).score(shuffled, members, VOCAB)
    np.testing.assert_array_equal(a, b)


# ---- metrics and offers -----------------------------------------------------------------------


def test_hit_rate_on_the_hand_history(hand: pd.DataFrame) -> None:
    """Adopters m1 m2 m4 m5. hit@1 (co-purchase): m1 Beauty yes, m2 Beauty but bought Coffee no,
    m4 Apparel yes, m5 Beauty yes -> 3/4; hit@2 offers every new category -> 1."""
    targets = new_category_targets(hand, history_members(hand), VOCAB)
    assert hit_rate_at_k(np.array(CO_PURCHASE_SCORES), targets, k=1) == pytest.approx(3 / 4)
    assert hit_rate_at_k(np.array(POPULARITY_SCORES), targets, k=1) == pytest.approx(3 / 4)
    assert hit_rate_at_k(np.array(CO_PURCHASE_SCORES), targets, k=2) == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("scores", "targets", "k", "expected"),
    [
        pytest.param([[0.5, 0.5, 0.5]], [[1, 0, 0]], 1, 1 / 3, id="three-way-tie-one-place"),
        pytest.param([[0.5, 0.5, 0.5]], [[0, 0, 1]], 2, 2 / 3, id="three-way-tie-two-places"),
        # the 0.9 takes one place; the tied pair shares the other: 1/2
        pytest.param([[0.9, 0.4, 0.4]], [[0, 0, 1]], 2, 1 / 2, id="tie-at-the-boundary"),
        pytest.param([[INF, 0.2, 0.1]], [[1, 0, 0]], 3, 0.0, id="minus-inf-never-offered"),
        pytest.param([[INF, 0.2, 0.1]], [[0, 0, 1]], 5, 1.0, id="k-beyond-the-new-categories"),
        # second member adopted nothing: left out of the denominator
        pytest.param([[0.1, 0.9], [0.9, 0.1]], [[1, 0], [0, 0]], 1, 0.0, id="only-adopters-count"),
        pytest.param([[0.1, 0.9], [0.9, 0.1]], [[0, 0], [0, 0]], 1, float("nan"), id="no-adopters"),
    ],
)
def test_hit_rate_at_k_cases(scores: list[list[float]], targets: list[list[int]], k: int, expected: float) -> None:
    assert hit_rate_at_k(np.array(scores), np.array(targets), k) == pytest.approx(expected, nan_ok=True)


def test_hit_rate_does_not_depend_on_column_order() -> None:
    rng = np.random.default_rng(2)
    scores = rng.integers(0, 3, (300, 6)) / 2  # coarse: many ties
    targets = rng.random((300, 6)) < 0.2
    reference = hit_rate_at_k(scores, targets, k=2)
    for _ in range(5):
        order = rng.permutation(6)
        assert hit_rate_at_k(scores[:, order], targets[:, order], k=2) == pytest.approx(reference, rel=1e-12)


@pytest.mark.parametrize(
    ("y", "score", "fraction", "expected"),
    [
        # top 2 of 5: 0.9 (positive) + one place shared by the tied 0.5s (2 of 3 positive)
        pytest.param([1, 0, 1, 1, 0], [0.9, 0.5, 0.5, 0.5, 0.1], 0.4, (1 + 2 / 3) / 2, id="tie-at-the-boundary"),
        pytest.param([0, 0, 1, 1, 0], [0.1, 0.2, 0.8, 0.9, 0.3], 0.4, 1.0, id="no-ties"),
        pytest.param([1, 0, 0, 0], [0.4, 0.6, 0.5, 0.7], 0.1, 0.0, id="at-least-one-row"),
    ],
)
def test_precision_at_fraction_cases(y: list[int], score: list[float], fraction: float, expected: float) -> None:
    assert precision_at_fraction(np.array(y), np.array(score), fraction) == pytest.approx(expected, rel=1e-12)


def test_precision_at_fraction_is_lift_times_base_rate() -> None:
    """Same tie-aware top fraction as evaluate.lift_at (a shared helper, not a copy)."""
    rng = np.random.default_rng(4)
    y, score = rng.integers(0, 2, 500), rng.integers(0, 7, 500) / 6
    for fraction in (0.05, 0.1, 0.37):
        assert precision_at_fraction(y, score, fraction) == pytest.approx(lift_at(y, score, fraction) * y.mean())


def test_top_categories_rank_new_categories_only() -> None:
    vocabulary = ["a", "b", "c", "d"]
    scores = np.array([[0.2, 0.5, 0.5, INF], [0.9, 0.1, 0.2, 0.3], [0.9, 0.8, 0.7, 0.6], [0.1, 0.0, INF, INF]])
    owned = np.array([[0, 0, 0, 1], [1, 0, 0, 0], [1, 1, 1, 1], [0, 0, 1, 1]], dtype=bool)
    # row 1: "a" scores highest but is owned; row 3: all owned; row 4: two new, k = 3
    # issue 15: offers are one JSON array per member (was "b|c", "" when none)
    assert top_categories(scores, vocabulary, owned, k=2) == ['["b","c"]', '["d","c"]', "[]", '["a","b"]']
    assert top_categories(scores, vocabulary, owned, k=3) == ['["b","c","a"]', '["d","c","b"]', "[]", '["a","b"]']


@pytest.mark.parametrize("name", ["Dairy | Eggs", "Wine, red", 'The "best"', "A;B", "line\nbreak", "=SUM(A1)",
                                  "饮料", "\\back"])
def test_top_categories_keep_any_name_intact(name: str) -> None:
    """Issue 15: no name is refused for its characters; decoding the offers gives the names back."""
    vocabulary = [name, "plain", f"{name}|x"]
    scores, owned = np.array([[0.9, 0.1, 0.5], [0.1, 0.2, 0.3]]), np.array([[0, 0, 0], [0, 0, 1]], dtype=bool)
    offers = [decode_offers(cell) for cell in top_categories(scores, vocabulary, owned, k=3)]
    assert offers == [[name, f"{name}|x", "plain"], ["plain", name]]


# ---- planted truth ----------------------------------------------------------------------------
# 30% of the members own only A and adopt B at 60%, C at 5%; half own D or E and adopt C at 50%,
# B at 5%; a few own B or C. Popularity therefore offers C first to everybody who lacks it;
# co-purchase must offer B to A-owners.
PLANTED = {"A": {"B": 0.6, "C": 0.05, "D": 0.05, "E": 0.05},
           "D": {"A": 0.05, "B": 0.05, "C": 0.5, "E": 0.05},
           "E": {"A": 0.05, "B": 0.05, "C": 0.5, "D": 0.05},
           "B": {"A": 0.1, "C": 0.2, "D": 0.1, "E": 0.1},
           "C": {"A": 0.1, "B": 0.1, "D": 0.1, "E": 0.1}}
SHARE_OWNING = [0.3, 0.25, 0.25, 0.1, 0.1]


def planted_history(n_members: int, cutoff: pd.Timestamp, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for i, owned in enumerate(rng.choice(list(PLANTED), n_members, p=SHARE_OWNING)):
        member = f"{seed}-{i}"
        rows.append((cutoff, member, owned, float(rng.gamma(2.0, 30.0)), bool(rng.random() < 0.5)))
        rows += [(cutoff, member, new, 0.0, True) for new, p in PLANTED[owned].items() if rng.random() < p]
    return pd.DataFrame(rows, columns=COLUMNS)


@pytest.fixture(scope="module")
def planted() -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    train = planted_history(3000, CUTOFF, seed=1)
    return train, planted_history(3000, LATER, seed=2), frequent_categories(train)


def test_co_purchase_recovers_planted_rates(planted: tuple[pd.DataFrame, pd.DataFrame, list[str]]) -> None:
    model = CoPurchaseBaseline().fit(planted[0])
    assert model.pair_rate_.loc["A", "B"] == pytest.approx(0.6, abs=0.05)
    assert model.pair_rate_.loc["A", "C"] == pytest.approx(0.05, abs=0.03)
    assert model.pair_rate_.loc["D", "C"] == pytest.approx(0.5, abs=0.05)


def test_co_purchase_offers_b_to_a_owners_and_beats_popularity(
    planted: tuple[pd.DataFrame, pd.DataFrame, list[str]],
) -> None:
    """Out of time: rates fitted on the first cut-off, judged on fresh members at the second."""
    train, test, vocabulary = planted
    members = history_members(test)
    targets = new_category_targets(test, members, vocabulary)
    co_purchase = CoPurchaseBaseline().fit(train).score(test, members, vocabulary)
    popularity = PopularityBaseline().fit(train).score(test, members, vocabulary)
    a_owners = ownership_matrix(test, members, vocabulary)["share_a"].to_numpy() > 0
    assert (np.argmax(co_purchase[a_owners], axis=1) == vocabulary.index("B")).all()
    assert (np.argmax(popularity[a_owners], axis=1) == vocabulary.index("C")).all()
    co_hit, popular_hit = hit_rate_at_k(co_purchase, targets, k=1), hit_rate_at_k(popularity, targets, k=1)
    assert co_hit > popular_hit + 0.15, (co_hit, popular_hit)
    any_new = new_category_any(test, members)
    co_any = CoPurchaseBaseline().fit(train).probability_any_new(test, members, vocabulary)
    assert co_any[any_new == 1].mean() > co_any[any_new == 0].mean()


@pytest.mark.parametrize("model", [PopularityBaseline(), CoPurchaseBaseline()], ids=["popularity", "co_purchase"])
def test_owned_categories_are_never_offered(
    model: PopularityBaseline | CoPurchaseBaseline, planted: tuple[pd.DataFrame, pd.DataFrame, list[str]]
) -> None:
    train, test, vocabulary = planted
    members = history_members(test)
    owned = ownership_matrix(test, members, vocabulary).to_numpy() > 0
    scores = model.fit(train).score(test, members, vocabulary)
    assert np.array_equal(np.isneginf(scores), owned)
    for offers, owned_row in zip(top_categories(scores, vocabulary, owned, k=3), owned, strict=True):
        offered = set(decode_offers(offers))
        assert offered and not offered & {c for c, o in zip(vocabulary, owned_row, strict=True) if o}


# ---- error paths ------------------------------------------------------------------------------
MEMBERS = pd.Index([(CUTOFF, "m1")])
NEEDS_HORIZON: list[Callable[[pd.DataFrame], object]] = [
    lambda h: new_category_targets(h, MEMBERS, VOCAB),
    lambda h: new_category_any(h, MEMBERS),
    lambda h: PopularityBaseline().fit(h),
    lambda h: CoPurchaseBaseline().fit(h),
]
ANY_HISTORY: list[Callable[[pd.DataFrame], object]] = [
    *NEEDS_HORIZON,
    frequent_categories,
    history_members,
    lambda h: ownership_matrix(h, MEMBERS, VOCAB),
]


@pytest.mark.parametrize("call", ANY_HISTORY)
def test_empty_history_is_refused(call: Callable[[pd.DataFrame], object]) -> None:
    with pytest.raises(ValueError, match="empty"):
        call(pd.DataFrame(columns=COLUMNS))


@pytest.mark.parametrize("call", ANY_HISTORY)
def test_missing_column_is_named(call: Callable[[pd.DataFrame], object], hand: pd.DataFrame) -> None:
    with pytest.raises(ValueError, match="spend_before"):
        call(hand.rename(columns={"spend_before": "spend"}))


@pytest.mark.parametrize("call", NEEDS_HORIZON)
def test_missing_horizon_column_is_named_where_needed(
    call: Callable[[pd.DataFrame], object], hand: pd.DataFrame
) -> None:
    with pytest.raises(ValueError, match="bought_in_horizon"):
        call(hand.drop(columns="bought_in_horizon"))


def test_missing_horizon_flag_is_refused_not_read_as_bought(hand: pd.DataFrame) -> None:
    broken = hand.astype({"bought_in_horizon": object})
    broken.loc[0, "bought_in_horizon"] = None
    with pytest.raises(ValueError, match="missing values"):
        PopularityBaseline().fit(broken)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        pytest.param(lambda: hit_rate_at_k(np.zeros((2, 3)), np.zeros((2, 2))), "shape", id="hit-shape"),
        pytest.param(lambda: hit_rate_at_k(np.full((1, 2), np.nan), np.ones((1, 2))), "NaN", id="hit-nan"),
        pytest.param(lambda: hit_rate_at_k(np.zeros((1, 2)), np.ones((1, 2)), k=0), "k must", id="hit-k"),
        pytest.param(lambda: precision_at_fraction(np.array([1, 0]), np.array([0.1, 0.2]), 0.0), "fraction",
                     id="precision-fraction"),
        pytest.param(lambda: precision_at_fraction(np.array([2, 0]), np.array([0.1, 0.2])), "0/1", id="precision-y"),
        pytest.param(lambda: precision_at_fraction(np.array([]), np.array([])), "1-D", id="precision-empty"),
        pytest.param(lambda: top_categories(np.zeros((1, 2)), ["a", "b", "c"], np.zeros((1, 2))), "vocabulary",
                     id="top-vocabulary"),
        pytest.param(lambda: frequent_categories(history(HAND_ROWS), max_categories=0), "max_categories",
                     id="max-categories"),
        pytest.param(lambda: CoPurchaseBaseline(smoothing=-1).fit(history(HAND_ROWS)), "smoothing", id="smoothing"),
    ],
)
def test_invalid_arguments_raise(call: Callable[[], object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()


def test_scoring_before_fit_raises(hand: pd.DataFrame) -> None:
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        PopularityBaseline().score(hand, history_members(hand), VOCAB)
