"""training.evaluate: churn metrics against numbers computed by hand.

Pinned: ROC AUC counts ties as half; ECE over equal-mass bins with tied scores kept in one bin; Brier is the mean squared error of the probability; top-decile
lift is the churn rate of the top round(10%) rows (at least one) over the base rate, with scores
tied at the boundary sharing the remaining places pro rata (row order never matters); a label
vector with one class gives NaN AUCs without raising.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from training.evaluate import binary_metrics, lift_at

# (labels, probabilities, expected metrics), each worked out by hand in the comments
HAND_CASES = [
    pytest.param(
        [1, 0, 1, 0, 0, 1, 0, 0, 0, 0],
        [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05],
        {
            # positives at 0.9, 0.7, 0.4 vs 7 negatives: 0.9 beats 7, 0.7 beats 6, 0.4 beats 4 -> 17 of 21 pairs
            "roc_auc": 17 / 21,
            # precision at each positive in rank order: 1/1, 2/3, 3/6
            "pr_auc": (1 + 2 / 3 + 3 / 6) / 3,
            # squared errors 0.01 0.64 0.09 0.36 0.25 0.36 0.09 0.04 0.01 0.0025
            "brier": (0.01 + 0.64 + 0.09 + 0.36 + 0.25 + 0.36 + 0.09 + 0.04 + 0.01 + 0.0025) / 10,
            # top 10% = 1 row (p=0.9, a churner): rate 1 over base rate 3/10
            "lift_top_decile": 1 / (3 / 10),
            # 10 equal-mass bins of one row each: mean |p - y| = (0.1+0.8+0.3+0.6+0.5+0.6+0.3+0.2+0.1+0.05)/10
            "ece": 3.55 / 10,
            "base_rate": 3 / 10,
            "n": 10.0,
        },
        id="ten-rows-no-ties",
    ),
    pytest.param(
        [0, 1, 0, 1],
        [0.5, 0.5, 0.2, 0.9],
        {
            # pairs (pos, neg): (0.5, 0.5) tie = 1/2, (0.5, 0.2) = 1, (0.9, *) = 2 -> 3.5 of 4
            "roc_auc": 3.5 / 4,
            # ranks: 0.9 (pos), then the tied 0.5s count as one threshold: precision 2/3 at recall 1
            "pr_auc": 0.5 * 1 + 0.5 * (2 / 3),
            "brier": (0.25 + 0.25 + 0.04 + 0.01) / 4,
            # round(0.4) = 0 -> at least 1 row: p=0.9, a churner; base rate 1/2
            "lift_top_decile": 1 / 0.5,
            # the tied 0.5s share a bin (rate 1/2, gap 0); 0.2 (y 0) and 0.9 (y 1) alone: (0.2 + 0.1) / 4
            "ece": 0.3 / 4,
            "base_rate": 0.5,
            "n": 4.0,
        },
        id="four-rows-with-a-tie",
    ),
]


@pytest.mark.parametrize(("churned", "probability", "expected"), HAND_CASES)
def test_binary_metrics_match_hand_computation(
    churned: list[int], probability: list[float], expected: dict[str, float]
) -> None:
    """Every metric binary_metrics reports equals its hand-computed value."""
    metrics = binary_metrics(np.array(churned), np.array(probability))
    assert set(metrics) == set(expected)
    for name, value in expected.items():
        assert metrics[name] == pytest.approx(value, rel=1e-12, abs=1e-12), name


@pytest.mark.parametrize(
    ("churned", "probability", "fraction", "expected"),
    [
        # all scores tie: the 2 places go pro rata to the tied group (churn rate 2/10) -> lift 1,
        # wherever the churners sit in the rows
        pytest.param([1, 1, 0, 0, 0, 0, 0, 0, 0, 0], [0.5] * 10, 0.2, 1.0, id="all-tied-churners-first"),
        pytest.param([0, 0, 0, 0, 0, 0, 0, 0, 1, 1], [0.5] * 10, 0.2, 1.0, id="all-tied-churners-last"),
        # top 2 of 5: 0.9 (a churner) takes one place; the tied 0.5s (2 churners of 3) share the
        # other: 1 + 2/3 expected churners in 2 places = 5/6, over base rate 3/5
        pytest.param([1, 0, 1, 1, 0], [0.9, 0.5, 0.5, 0.5, 0.1], 0.4, (5 / 6) / (3 / 5), id="tie-at-the-boundary"),
        pytest.param([0, 1, 1, 1, 0], [0.9, 0.5, 0.5, 0.5, 0.1], 0.4, ((0 + 1) / 2) / (3 / 5),
                     id="tie-at-the-boundary-top-row-not-churner"),
        # ties below the boundary do not matter: top 2 are 0.9 and 0.8, both churners
        pytest.param([1, 1, 0, 1, 0], [0.9, 0.8, 0.3, 0.3, 0.3], 0.4, 1 / (3 / 5), id="ties-below-the-boundary"),
        # higher score first regardless of position
        pytest.param([0, 0, 1, 1, 0], [0.1, 0.2, 0.8, 0.9, 0.3], 0.4, 1 / (2 / 5), id="no-ties"),
        # top share rounds to 0 rows: at least one row is taken
        pytest.param([1, 0, 0, 0], [0.7, 0.6, 0.5, 0.4], 0.1, 1 / (1 / 4), id="at-least-one-row"),
    ],
)
def test_lift_at_shares_tied_places_pro_rata(
    churned: list[int], probability: list[float], fraction: float, expected: float
) -> None:
    """lift_at = expected churn rate of the top fraction / overall churn rate, where scores tied
    at the boundary fill the remaining places with their group's mean churn rate."""
    assert lift_at(np.array(churned), np.array(probability), fraction) == pytest.approx(expected, rel=1e-12)


def test_lift_at_does_not_depend_on_row_order() -> None:
    """A coarse score (many ties) gets the same lift under any row order."""
    rng = np.random.default_rng(11)
    churned = rng.integers(0, 2, 200)
    probability = rng.integers(0, 5, 200) / 4  # five distinct values: large tied groups
    reference = lift_at(churned, probability, 0.1)
    for _ in range(20):
        order = rng.permutation(200)
        assert lift_at(churned[order], probability[order], 0.1) == pytest.approx(reference, rel=1e-12)


@pytest.mark.parametrize(
    ("label", "expected_lift"),
    [pytest.param(0, math.nan, id="nobody-churned"), pytest.param(1, 1.0, id="everybody-churned")],
)
def test_single_class_labels_give_nan_aucs_without_raising(label: int, expected_lift: float) -> None:
    """One class only: AUCs are undefined (NaN), the other metrics still computed."""
    probability = np.array([0.1, 0.2, 0.3, 0.4, 0.5])
    metrics = binary_metrics(np.full(5, label), probability)
    assert math.isnan(metrics["roc_auc"])
    assert math.isnan(metrics["pr_auc"])
    assert metrics["brier"] == pytest.approx(float(np.mean((probability - label) ** 2)))
    assert metrics["base_rate"] == float(label)
    assert metrics["n"] == 5.0
    if math.isnan(expected_lift):
        assert math.isnan(metrics["lift_top_decile"])
    else:
        assert metrics["lift_top_decile"] == expected_lift
