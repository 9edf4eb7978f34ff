"""serving.reasons: exact TreeSHAP contributions, and the top-k reasons told in the catalogue's words.

DESIGN.md: explanations are exact TreeSHAP computed by XGBoost (``pred_contribs=True``); the shap
library must agree with it; reasons are rendered from the feature descriptions.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import xgboost as xgb

from features.catalogue import BY_NAME, ONE_PURCHASE
from features.formats import Voice
from features.i18n import translator
from features.project import DEFAULT_PROJECT
from features.store import latest_snapshot_path, read_snapshot
from serving.reasons import feature_values, reason_texts, top_reasons
from serving.scoring import feature_matrix, score_members

ROWS = 200


@pytest.fixture
def churn(use_trained: object) -> tuple[xgb.Booster, pd.DataFrame, np.ndarray]:
    """The served churn booster, ~200 snapshot rows in its feature order, and their contributions."""
    from serving.artefacts import load_model

    booster = load_model("churn", project=DEFAULT_PROJECT).booster
    snapshot = read_snapshot(latest_snapshot_path(Path(os.environ["MEMBERSCORE_SNAPSHOT_DIR"]) / DEFAULT_PROJECT))
    features = snapshot.model_inputs()[list(booster.feature_names)].head(ROWS).reset_index(drop=True)
    assert len(features) == ROWS
    contributions = booster.predict(feature_matrix(booster, features), pred_contribs=True)
    return booster, features, contributions


# --- agreement with the shap library and with the margin ------------------------------------------

def test_pred_contribs_agree_with_shap_tree_explainer(churn: tuple[xgb.Booster, pd.DataFrame, np.ndarray]) -> None:
    """XGBoost's native TreeSHAP equals shap.TreeExplainer's values (atol 1e-5), bias included."""
    import shap

    booster, features, contributions = churn
    explainer = shap.TreeExplainer(booster)
    values = np.asarray(explainer.shap_values(features.to_numpy(dtype=np.float32)))
    assert values.shape == (ROWS, features.shape[1])
    np.testing.assert_allclose(contributions[:, :-1], values, atol=1e-5)
    np.testing.assert_allclose(contributions[:, -1], float(np.ravel(explainer.expected_value)[0]), atol=1e-5)


def test_contributions_sum_to_the_margin(churn: tuple[xgb.Booster, pd.DataFrame, np.ndarray]) -> None:
    """Per row, bias + sum of the feature contributions equals the log-odds the booster predicts."""
    booster, features, contributions = churn
    margin = booster.predict(feature_matrix(booster, features), output_margin=True)
    assert contributions.shape == (ROWS, features.shape[1] + 1)
    np.testing.assert_allclose(contributions.sum(axis=1), margin, atol=1e-4)
    probability = booster.predict(feature_matrix(booster, features))
    np.testing.assert_allclose(1 / (1 + np.exp(-contributions.sum(axis=1))), probability, atol=1e-5)


# --- top_reasons on the trained model ----------------------------------------------------------------

def test_top_reasons_are_the_k_largest_by_magnitude_in_order(churn: tuple[xgb.Booster, pd.DataFrame, np.ndarray]) -> None:
    """Each row gets exactly k reasons, |contribution| descending, and no omitted feature outranks them."""
    _, features, contributions = churn
    k = 5
    names = list(features.columns)
    reasons = top_reasons(contributions, features, k)
    assert len(reasons) == ROWS
    for i, row_reasons in enumerate(reasons):
        assert len(row_reasons) == k
        magnitudes = [abs(r.contribution) for r in row_reasons]
        assert magnitudes == sorted(magnitudes, reverse=True)
        chosen = {r.feature for r in row_reasons}
        assert len(chosen) == k
        rest = [abs(contributions[i, j]) for j, name in enumerate(names) if name not in chosen]
        assert min(magnitudes) >= max(rest)


def test_each_reason_carries_its_own_contribution_value_and_direction(churn: tuple[xgb.Booster, pd.DataFrame, np.ndarray]) -> None:
    """A reason's contribution is that feature's SHAP column, its value the member's, direction its sign."""
    _, features, contributions = churn
    names = list(features.columns)
    for i, row_reasons in enumerate(top_reasons(contributions, features, 3)):
        for reason in row_reasons:
            j = names.index(reason.feature)
            assert reason.contribution == pytest.approx(float(contributions[i, j]), abs=1e-7)
            expected_value = features.iloc[i, j]
            if reason.feature == "p_alive" and math.isnan(float(features["gap_ratio"].iloc[i])):
                expected_value = math.nan  # a one-time buyer's P(alive) is not served: null, as /score says
            if math.isnan(expected_value):
                assert reason.value is None
            else:
                assert reason.value == pytest.approx(expected_value)
            assert reason.contribution != 0
            assert reason.direction == ("raises" if reason.contribution > 0 else "lowers")


def test_reason_texts_come_from_the_catalogue(churn: tuple[xgb.Booster, pd.DataFrame, np.ndarray]) -> None:
    """Texts are the catalogue's sentences (a category share: "x% of spend in <category>");
    recency says the rounded day count."""
    _, features, contributions = churn
    rows = features.to_dict(orient="records")
    recency_seen = 0
    for row, row_reasons in zip(rows, top_reasons(contributions, features, 3)):
        for reason in row_reasons:
            if reason.feature.startswith("share_"):
                category = reason.feature.removeprefix("share_").replace("_", " ")
                assert reason.text == f"{row[reason.feature]:.0%} of spend in {category}"
                continue
            served = {**row, "p_alive": math.nan} if math.isnan(row["gap_ratio"]) else row  # one-time buyer
            assert reason.text == BY_NAME[reason.feature].in_words(served)
            if reason.feature == "recency_days":
                recency_seen += 1
                days = round(row["recency_days"])
                assert reason.text == f"no purchase for {days:,} {'day' if days == 1 else 'days'}"
    assert recency_seen > ROWS // 2, "recency should be among the top reasons of most members"


def test_k_zero_gives_one_empty_list_per_row(churn: tuple[xgb.Booster, pd.DataFrame, np.ndarray]) -> None:
    """explain=0: no reasons, but still one (empty) entry per row."""
    _, features, contributions = churn
    assert top_reasons(contributions, features, 0) == [[] for _ in range(ROWS)]


def test_k_beyond_the_feature_count_gives_every_feature_once(churn: tuple[xgb.Booster, pd.DataFrame, np.ndarray]) -> None:
    """Asking for more reasons than features yields each feature exactly once, never the bias."""
    _, features, contributions = churn
    reasons = top_reasons(contributions[:3], features.head(3), features.shape[1] + 10)
    for row_reasons in reasons:
        assert sorted(r.feature for r in row_reasons) == sorted(features.columns)


# --- hand-built truth tables ----------------------------------------------------------------------

HAND_FEATURES = pd.DataFrame({
    "recency_days": [214.4, 3.0],
    "gap_ratio": [6.04, np.nan],
    "orders_total": [5.0, 1.0],
    "gap_mean_days": [35.5, np.nan],
})
# the last column is the bias; it is the largest here and must never become a reason
HAND_CONTRIBUTIONS = np.array([
    [1.5, 0.7, -2.0, 0.1, 100.0],
    [-0.3, 0.2, 0.25, -0.9, -100.0],
])


@pytest.mark.parametrize(
    ("row", "k", "expected"),
    [
        (0, 1, [("orders_total", -2.0, "lowers", "5 purchases in total")]),
        (0, 2, [("orders_total", -2.0, "lowers", "5 purchases in total"),
                ("recency_days", 1.5, "raises", "no purchase for 214 days")]),
        (0, 3, [("orders_total", -2.0, "lowers", "5 purchases in total"),
                ("recency_days", 1.5, "raises", "no purchase for 214 days"),
                ("gap_ratio", 0.7, "raises", "no purchase for 214 days, 6.0x their usual gap")]),
        (1, 2, [("gap_mean_days", -0.9, "lowers", ONE_PURCHASE),
                ("recency_days", -0.3, "lowers", "no purchase for 3 days")]),
        (1, 4, [("gap_mean_days", -0.9, "lowers", ONE_PURCHASE),
                ("recency_days", -0.3, "lowers", "no purchase for 3 days"),
                ("orders_total", 0.25, "raises", "1 purchase in total"),
                ("gap_ratio", 0.2, "raises", ONE_PURCHASE)]),
    ],
)
def test_top_reasons_truth_table(row: int, k: int, expected: list[tuple[str, float, str, str]]) -> None:
    """Hand-built contributions: order by magnitude, sign -> direction, catalogue text, bias ignored."""
    reasons = top_reasons(HAND_CONTRIBUTIONS, HAND_FEATURES, k)
    assert len(reasons) == 2
    got = [(r.feature, r.contribution, r.direction, r.text) for r in reasons[row]]
    assert got == expected


def test_reason_texts_render_each_pick_in_place() -> None:
    """Grouped by feature for speed, yet every (member, rank) gets the words of its own pick and value;
    a share outside the catalogue is told as a share."""
    features = HAND_FEATURES.assign(share_garden_tools=[0.25, 0.0])
    order = np.array([[2, 0, 4], [4, 2, 3]])

    texts = reason_texts(feature_values(features), list(features.columns), order)

    assert texts.shape == (2, 3)
    assert texts.tolist() == [
        ["5 purchases in total", "no purchase for 214 days", "25% of spend in garden tools"],
        ["0% of spend in garden tools", "1 purchase in total", ONE_PURCHASE],
    ]


def test_missing_value_is_null_and_told_in_words() -> None:
    """A NaN feature value becomes value=None and the catalogue's when_missing sentence."""
    reason = top_reasons(HAND_CONTRIBUTIONS, HAND_FEATURES, 1)[1][0]
    assert reason.feature == "gap_mean_days"
    assert reason.value is None
    assert reason.text == ONE_PURCHASE


def test_unknown_feature_falls_back_to_name_and_value() -> None:
    """A feature outside the catalogue still gets a readable reason naming it and its value."""
    features = pd.DataFrame({"mystery_score": [7.0]})
    (reason,) = top_reasons(np.array([[-0.4, 0.0]]), features, 3)[0]
    assert reason.feature == "mystery_score"
    assert reason.value == 7.0
    assert "mystery_score" in reason.text and "7" in reason.text
    (missing,) = top_reasons(np.array([[-0.4, 0.0]]), features.assign(mystery_score=np.nan), 1)[0]
    assert (missing.value, missing.text) == (None, "mystery_score: not known")


def test_tiny_stump_has_exact_known_contributions() -> None:
    """One depth-1 tree on recency: recency's SHAP value is leaf - cover-weighted mean leaf, others 0."""
    rng = np.random.default_rng(11)
    recency = rng.uniform(0, 100, 400)
    frame = pd.DataFrame({"recency_days": recency, "orders_total": rng.integers(1, 20, 400).astype(float),
                          "mystery_score": rng.normal(size=400)})
    labels = (recency > 50).astype(float)
    names = list(frame.columns)
    booster = xgb.train(
        {"objective": "binary:logistic", "max_depth": 1, "eta": 1.0, "lambda": 0.0, "min_child_weight": 0.0,
         "base_score": 0.5, "nthread": 1, "seed": 0},
        xgb.DMatrix(frame.to_numpy(np.float32), label=labels, feature_names=names),
        num_boost_round=1,
    )
    tree = booster.trees_to_dataframe()
    assert list(tree.loc[tree["Feature"] != "Leaf", "Feature"]) == ["recency_days"]
    leaves = tree[tree["Feature"] == "Leaf"].set_index("ID")
    split = tree.iloc[0]
    expected_mean = float((leaves["Gain"] * leaves["Cover"]).sum() / leaves["Cover"].sum())

    probe = pd.DataFrame({"recency_days": [10.0, 90.0], "orders_total": [3.0, 3.0], "mystery_score": [0.0, 0.0]})
    contributions = booster.predict(feature_matrix(booster, probe), pred_contribs=True)
    for i, value in enumerate(probe["recency_days"]):
        leaf = leaves.loc[split["Yes"] if value < split["Split"] else split["No"], "Gain"]
        assert contributions[i, 0] == pytest.approx(leaf - expected_mean, abs=1e-5)
        assert contributions[i, 1] == 0 and contributions[i, 2] == 0
        assert contributions[i, 3] == pytest.approx(expected_mean, abs=1e-5)  # base_score 0.5 = margin 0
    assert contributions[0, 0] < 0 < contributions[1, 0]

    reasons = top_reasons(contributions, probe, 1)
    assert [(r[0].feature, r[0].direction) for r in reasons] == [("recency_days", "lowers"), ("recency_days", "raises")]
    assert reasons[1][0].text == "no purchase for 90 days"


# --- a one-time buyer's P(alive): the reason says what /score serves ------------------------------

P_ALIVE_UNKNOWN = str(BY_NAME["p_alive"].when_missing)
ONE_TIME_AND_REPEAT = pd.DataFrame({  # BG/NBD gives the one-time buyer 1.0 by construction; /score serves null
    "p_alive": [1.0, 0.3],
    "gap_ratio": [np.nan, 2.0],
    "recency_days": [400.0, 60.0],
})


def test_a_one_time_buyers_p_alive_reason_is_not_a_certainty_the_served_field_denies() -> None:
    """Lost one-time buyer: P(alive) is served as null, so its reason is the when_missing sentence
    with value null, never "100% likely to still be an active customer"; a repeat buyer's is told."""
    contributions = np.array([[-1.2, 0.1, 0.5, 0.0], [0.8, 0.1, 0.2, 0.0]])
    reasons = top_reasons(contributions, ONE_TIME_AND_REPEAT, 1)
    one_time, repeat = reasons[0][0], reasons[1][0]
    assert (one_time.feature, one_time.value, one_time.text) == ("p_alive", None, P_ALIVE_UNKNOWN)
    assert one_time.contribution == -1.2  # the model did read 1.0: its SHAP value stays
    assert (repeat.feature, repeat.value, repeat.text) == ("p_alive", 0.3, "30% likely to still be an active customer")


def test_batch_and_explain_words_mask_p_alive_too_in_chinese() -> None:
    """``reason_texts`` (batch scoring, /explain) takes the same served values, in either language."""
    order = np.array([[0, 2], [0, 2]])
    values = feature_values(ONE_TIME_AND_REPEAT)
    texts = reason_texts(values, list(ONE_TIME_AND_REPEAT.columns), order, Voice("zh-CN", "CNY"))
    assert texts[0, 0] == translator("zh-CN").gettext(P_ALIVE_UNKNOWN) and "100%" not in texts[0, 0]
    assert texts[1, 0] == "仍为活跃顾客的可能性为 30%"
    assert values[0, 0] == 1.0  # the caller's matrix is not changed


def test_score_members_gives_a_one_time_buyer_no_p_alive_and_no_reason_claiming_one() -> None:
    """Through /score's own path: a model that leans on P(alive), a lost one-time buyer."""
    rng = np.random.default_rng(3)
    alive = rng.uniform(0, 1, 300)
    train = pd.DataFrame({"p_alive": alive, "gap_ratio": rng.uniform(0.5, 5, 300), "recency_days": rng.uniform(0, 500, 300)})
    booster = xgb.train({"objective": "binary:logistic", "max_depth": 2, "nthread": 1},
                        xgb.DMatrix(train, label=(alive < 0.5).astype(float)), num_boost_round=5)
    inputs = ONE_TIME_AND_REPEAT.assign(member_id=["once", "again"])
    by_id = inputs.set_index("member_id")
    scored = by_id.assign(p_alive=[np.nan, 0.3])  # as score_frame serves it (evidenced_p_alive)
    once, again = score_members({"churn": booster}, scored, by_id, ["once", "again"], 3)
    assert once.p_alive is None
    said = {reason.feature: reason.text for reason in once.reasons}
    assert said["p_alive"] == P_ALIVE_UNKNOWN
    assert not any("likely to still be an active customer" in reason.text for reason in once.reasons)
    assert {reason.feature: reason.text for reason in again.reasons}["p_alive"] == "30% likely to still be an active customer"
