"""features.rfm: quintile edges are learnt on one frame and applied unchanged to others.

Fit frame: ten members with recency 1..10 days, 1..10 purchases and spend 10..100. Linear
quantiles at 0.2/0.4/0.6/0.8 of 1..10 sit at 1 + 9q: 2.8, 4.6, 6.4, 8.2 (spend: ten times that).
A value equal to an edge belongs to the bin below it (``searchsorted(side="left")``), so the
many tied one-time buyers share the bottom frequency score.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.rfm import RFMScorer


def rfm_frame(recency: list[float], orders: list[float], spend: list[float]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "member_id": pd.array([f"m{i:02d}" for i in range(len(recency))], dtype="string"),
            "recency_days": recency,
            "orders_total": orders,
            "spend_total": spend,
        }
    )


FIT = rfm_frame(
    recency=[float(d) for d in range(1, 11)],
    orders=[float(n) for n in range(1, 11)],
    spend=[10.0 * n for n in range(1, 11)],
)
EDGES = {
    "r_score": [2.8, 4.6, 6.4, 8.2],
    "f_score": [2.8, 4.6, 6.4, 8.2],
    "m_score": [28.0, 46.0, 64.0, 82.0],
}


@pytest.fixture
def scorer() -> RFMScorer:
    return RFMScorer().fit(FIT)


def test_edges_are_the_fit_frame_quintiles(scorer: RFMScorer) -> None:
    assert set(scorer.edges_) == set(EDGES)
    for score, edges in EDGES.items():
        np.testing.assert_allclose(scorer.edges_[score], edges, rtol=1e-12)


def test_scores_on_the_fit_frame(scorer: RFMScorer) -> None:
    """Two members per quintile; the most recent get r_score 5, the most frequent f_score 5."""
    scores = scorer.transform(FIT)

    assert scores["r_score"].tolist() == [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]
    assert scores["f_score"].tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert scores["m_score"].tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert list(scores.columns) == ["r_score", "f_score", "m_score"]
    assert (scores.dtypes == "int64").all()


# (recency_days, orders_total, spend_total) -> (r, f, m) with the fit frame's edges
OTHER_MEMBERS = [
    ((0.5, 20.0, 1000.0), (5, 5, 5)),  # beyond every edge on the good side
    ((400.0, 0.0, 0.0), (1, 1, 1)),  # beyond every edge on the bad side
    ((2.8, 1.0, 28.0), (5, 1, 1)),  # exactly on the first edge: the bin below it
    ((5.0, 5.0, 50.0), (3, 3, 3)),
    ((8.2, 9.0, 81.99), (2, 5, 4)),  # recency on the last edge: r_score 2
]


@pytest.mark.parametrize(("values", "expected"), OTHER_MEMBERS)
def test_known_scores_for_other_members(
    scorer: RFMScorer, values: tuple[float, float, float], expected: tuple[int, int, int]
) -> None:
    scores = scorer.transform(rfm_frame(*([v] for v in values)))
    assert tuple(scores.iloc[0]) == expected


def test_transforming_another_frame_changes_neither_edges_nor_scores(scorer: RFMScorer) -> None:
    """Scoring a very different population uses the fit edges: a member's score does not depend
    on who else is scored with them."""
    edges_before = {score: edges.copy() for score, edges in scorer.edges_.items()}
    others = rfm_frame(
        recency=[v[0] for v, _ in OTHER_MEMBERS],
        orders=[v[1] for v, _ in OTHER_MEMBERS],
        spend=[v[2] for v, _ in OTHER_MEMBERS],
    ).set_index("member_id")

    together = scorer.transform(others)

    for score, edges in edges_before.items():
        np.testing.assert_array_equal(scorer.edges_[score], edges)
    assert [tuple(row) for row in together.itertuples(index=False)] == [e for _, e in OTHER_MEMBERS]
    assert together.index.equals(others.index)
    alone = pd.concat([scorer.transform(others.iloc[[i]]) for i in range(len(others))])
    pd.testing.assert_frame_equal(together, alone)


def test_refitting_on_another_frame_moves_the_edges() -> None:
    """The edges are learnt from the data: fitting on doubled values doubles them."""
    doubled = FIT.assign(**{c: FIT[c] * 2 for c in ["recency_days", "orders_total", "spend_total"]})
    scorer = RFMScorer().fit(doubled)

    np.testing.assert_allclose(scorer.edges_["r_score"], [5.6, 9.2, 12.8, 16.4], rtol=1e-12)


def test_the_least_frequent_members_of_the_fit_frame_score_one() -> None:
    """Six of ten members bought once: edges 1, 1, 1.4, 3.4; one purchase should be the bottom."""
    fit = rfm_frame(
        recency=[float(d) for d in range(1, 11)],
        orders=[1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 2.0, 3.0, 5.0, 8.0],
        spend=[10.0 * n for n in range(1, 11)],
    )
    scores = RFMScorer().fit(fit).transform(fit)

    assert scores["f_score"].min() == 1
    assert scores.loc[fit["orders_total"] == 1.0, "f_score"].eq(1).all()
