"""training.bootstrap and training.resampled_metrics: the paired bootstrap behind the champion gate.

Pinned: the weighted metrics equal the reference metrics (ROC AUC, Harrell's C, normalized Gini)
on resampled rows, ties and censoring included; identical scorers give exactly [0, 0]; a perfect
ranking against a reversed one gives exactly [1, 1] over the resamples where AUC is defined
(the others are left out and not counted); a perfect model against noise has a lower bound
above 0; the interval is reproducible from the seed and equals a plain loop over index draws.
"""

from __future__ import annotations

import tracemalloc
from collections.abc import Callable

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

import training.bootstrap
from training.bootstrap import BLOCK_ROUNDS, block_rounds, paired_bootstrap, resample_weights
from training.resampled_metrics import concordance_by_weight, normalized_gini_by_weight, roc_auc_by_weight
from training.survival import concordance_index
from training.value_metrics import normalized_gini

RNG = np.random.default_rng(11)
N = 300
LABELS = (RNG.random(N) < 0.3).astype(int)
SCORES = np.round(RNG.random(N) + 0.4 * LABELS, 1)  # coarse: many ties
DAYS = np.minimum(RNG.integers(0, 40, N).astype(float), 30.0)  # tied times, censored at 30
OBSERVED = DAYS < 30
PREDICTED_DAYS = np.round(DAYS + RNG.normal(0, 8, N)).clip(0)
SPEND = np.where(RNG.random(N) < 0.5, 0.0, np.round(RNG.gamma(1.0, 40.0, N)))
PREDICTED_SPEND = np.round(SPEND + RNG.normal(0, 20, N)).clip(0)

# (name, weighted factory, reference on explicit rows, data columns)
METRICS = [
    ("roc_auc", roc_auc_by_weight, roc_auc_score, (LABELS, SCORES)),
    ("concordance", concordance_by_weight, concordance_index, (DAYS, OBSERVED, PREDICTED_DAYS)),
    ("normalized_gini", normalized_gini_by_weight, normalized_gini, (SPEND, PREDICTED_SPEND)),
]


def naive_interval(reference: Callable[..., float], model: tuple[np.ndarray, ...], baseline: tuple[np.ndarray, ...],
                   rounds: int, seed: int) -> tuple[float, float, int]:
    """The bootstrap as a loop over index draws: the same rng stream, the metric on the drawn rows."""
    rng, differences, block = np.random.default_rng(seed), [], block_rounds(N)
    for start in range(0, rounds, block):
        draws = rng.integers(0, N, size=(min(block, rounds - start), N))
        differences += [reference(*(c[rows] for c in model)) - reference(*(c[rows] for c in baseline)) for rows in draws]
    defined = np.array([d for d in differences if np.isfinite(d)])
    low, high = np.percentile(defined, [2.5, 97.5])
    return float(low), float(high), len(defined)


@pytest.mark.parametrize(("name", "weighted", "reference", "columns"), METRICS, ids=[m[0] for m in METRICS])
def test_weighted_metric_equals_the_metric_of_the_resampled_rows(name: str, weighted: Callable, reference: Callable,
                                                                 columns: tuple[np.ndarray, ...]) -> None:
    metric = weighted(*columns)
    assert metric(np.ones((1, N)))[0] == pytest.approx(reference(*columns), rel=1e-12, abs=1e-12)
    weights = resample_weights(N, 5, np.random.default_rng(3))
    for row in weights:
        drawn = np.repeat(np.arange(N), row.astype(int))
        assert metric(row[None])[0] == pytest.approx(reference(*(c[drawn] for c in columns)), rel=1e-12, abs=1e-12)


@pytest.mark.parametrize(("name", "weighted", "reference", "columns"), METRICS, ids=[m[0] for m in METRICS])
def test_interval_equals_a_plain_loop_over_index_draws(name: str, weighted: Callable, reference: Callable,
                                                       columns: tuple[np.ndarray, ...]) -> None:
    """Same seed, same draws: the vectorised interval is the loop's (weaker baseline: a noisier score)."""
    noisy = (*columns[:-1], columns[-1] + np.round(np.random.default_rng(5).normal(0, 3, N)).clip(-columns[-1]))
    interval = paired_bootstrap(weighted(*columns), weighted(*noisy), N, rounds=120, seed=9)
    low, high, rounds = naive_interval(reference, columns, noisy, rounds=120, seed=9)
    assert (interval.low, interval.high) == pytest.approx((low, high), rel=1e-9, abs=1e-12)
    assert interval.rounds == rounds


def test_blocks_of_few_rounds_draw_what_the_loop_draws(monkeypatch: pytest.MonkeyPatch) -> None:
    """Where an evaluation is large, fewer rounds go in a block: the interval is still the loop's."""
    monkeypatch.setattr(training.bootstrap, "BLOCK_WEIGHTS", 2 * N + 1)
    assert block_rounds(N) == 2
    _, weighted, reference, columns = METRICS[0]
    noisy = (columns[0], columns[1] + np.random.default_rng(5).normal(0, 0.3, N))
    interval = paired_bootstrap(weighted(*columns), weighted(*noisy), N, rounds=41, seed=9)
    low, high, rounds = naive_interval(reference, columns, noisy, rounds=41, seed=9)
    assert (interval.low, interval.high, interval.rounds) == pytest.approx((low, high, rounds), rel=1e-9, abs=1e-12)


def test_memory_is_bounded_at_millions_of_rows() -> None:
    """One round at a time at a million rows: the three (rounds, n) arrays of a block (draws,
    counts, weights) of 50 rounds would be 1.2 GB; of one round, 24 MB."""
    n = 1_000_000
    assert block_rounds(n) == 1 and block_rounds(25_000) == BLOCK_ROUNDS
    rng = np.random.default_rng(1)
    labels, scores = rng.random(n) < 0.3, rng.random(n)
    model, baseline = roc_auc_by_weight(labels, scores + labels), roc_auc_by_weight(labels, scores)
    tracemalloc.start()
    try:
        interval = paired_bootstrap(model, baseline, n, rounds=4, seed=3)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert interval.rounds == 4 and interval.low > 0
    assert peak < 80e6, f"peak {peak / 1e6:.0f} MB"  # 40 MB measured; 160 MB with the 4 rounds in one block


def test_identical_scorers_give_exactly_zero() -> None:
    metric = roc_auc_by_weight(LABELS, SCORES)
    interval = paired_bootstrap(metric, roc_auc_by_weight(LABELS, SCORES.copy()), N, rounds=200, seed=1)
    assert (interval.low, interval.high, interval.rounds) == (0.0, 0.0, 200)


def test_perfect_against_reversed_is_exactly_one_where_defined() -> None:
    """4 rows, 2 of each class: AUC 1 vs 0 on every resample holding both classes (the rest are NaN
    and left out: a draw of 4 from 2+2 rows is one class with probability 2 / 2**4 = 1/8)."""
    labels, scores = np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.8, 0.9])
    interval = paired_bootstrap(roc_auc_by_weight(labels, scores), roc_auc_by_weight(labels, -scores), 4,
                                rounds=1000, seed=2)
    rng = np.random.default_rng(2)  # the bootstrap's own draws, block by block
    weights = np.concatenate([resample_weights(4, BLOCK_ROUNDS, rng) for _ in range(1000 // BLOCK_ROUNDS)])
    both_classes = int(((weights[:, :2].sum(axis=1) > 0) & (weights[:, 2:].sum(axis=1) > 0)).sum())
    assert (interval.low, interval.high) == (1.0, 1.0)
    assert interval.rounds == both_classes
    assert 800 < both_classes < 950  # about 7/8 of 1000


def test_perfect_model_against_noise_is_above_zero_and_reproducible() -> None:
    rng = np.random.default_rng(4)
    labels = (rng.random(200) < 0.4).astype(int)
    perfect, noise = roc_auc_by_weight(labels, labels + 0.0), roc_auc_by_weight(labels, rng.random(200))
    first = paired_bootstrap(perfect, noise, 200, rounds=300, seed=6)
    assert first.low > 0.3 and first.high <= 0.7
    assert paired_bootstrap(perfect, noise, 200, rounds=300, seed=6) == first
    assert paired_bootstrap(perfect, noise, 200, rounds=300, seed=7) != first


def test_resample_weights_are_draw_counts() -> None:
    weights = resample_weights(7, 3, np.random.default_rng(0))
    draws = np.random.default_rng(0).integers(0, 7, size=(3, 7))
    expected = np.stack([np.bincount(row, minlength=7) for row in draws])
    np.testing.assert_array_equal(weights, expected)
    assert (weights.sum(axis=1) == 7).all()


def test_no_defined_round_gives_nan_and_bad_arguments_are_refused() -> None:
    one_class = roc_auc_by_weight(np.zeros(5, int), np.arange(5.0))
    interval = paired_bootstrap(one_class, one_class, 5, rounds=10)
    assert np.isnan(interval.low) and np.isnan(interval.high) and interval.rounds == 0
    with pytest.raises(ValueError, match="rounds"):
        paired_bootstrap(one_class, one_class, 5, rounds=0)
    with pytest.raises(ValueError, match="weights must be"):
        one_class(np.ones((2, 4)))
    with pytest.raises(ValueError, match="labels must be 0/1"):
        roc_auc_by_weight(np.array([0, 2]), np.array([0.1, 0.2]))
