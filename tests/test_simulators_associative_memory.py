"""Unit tests of dltheory.simulators.associative_memory: Wishart sampler, fast vs naive memory, seeds, bad input."""

import numpy as np
import pytest
from scipy import stats

from dltheory.simulators import associative_memory as sim

ALPHA = 1e-3


def test_wishart_gram_moments_and_naive_branch():
    """E G = I, Var G_ij = 1/d off the diagonal, Var G_ii = 2/d, for both branches (z at 4.4 SE)."""
    for n, d in ((4, 9), (6, 3)):
        G = np.array([sim.wishart_gram(n, d, seed=s) for s in range(3000)])
        se = G.std(0, ddof=1) / np.sqrt(G.shape[0])
        assert np.all(np.abs(G.mean(0) - np.eye(n)) < 4.4 * se)
        assert np.linalg.matrix_rank(G[0]) == min(n, d)
    v = np.array([sim.wishart_gram(3, 20, seed=s)[0, 1] for s in range(4000)])
    assert abs(v.var(ddof=1) * 20 - 1) < 0.1


def test_fast_and_naive_memories_agree_in_law():
    p = np.arange(1, 21.0) ** -1.5
    p /= p.sum()
    fast = sim.memory_error(p, p, 8, 3, n_memories=800, seed=1)
    naive = sim.memory_error_naive(p, p, 8, 3, n_memories=800, seed=2)
    assert stats.ks_2samp(fast, naive).pvalue > ALPHA


def test_perfect_recall_when_d_is_huge_and_unseen_tokens_are_chance():
    p = np.full(10, 0.1)
    q = np.r_[np.ones(6), np.zeros(4)]
    e = sim.memory_error(p, q, 10**8, 2, n_memories=2000, seed=3)
    assert e.min() >= 0 and e.max() <= 0.4 + 1e-12
    assert abs(e.mean() - 0.2) < 4.4 * e.std(ddof=1) / np.sqrt(e.size)  # 4 unseen tokens, each right w.p. 1/2


def test_counts_and_seeds():
    p = np.array([0.5, 0.3, 0.2])
    c = sim.sample_counts(p, 7, n_sets=5, seed=4)
    assert c.shape == (5, 3) and np.all(c.sum(1) == 7)
    assert np.array_equal(c, sim.sample_counts(p, 7, n_sets=5, seed=4))
    a = sim.memory_error(p, p, 5, 2, n_memories=4, seed=np.random.SeedSequence(9))
    assert np.array_equal(a, sim.memory_error(p, p, 5, 2, n_memories=4, seed=np.random.SeedSequence(9)))


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: sim.sample_counts([0.5, 0.5], -1, n_sets=1, seed=0), "T must"),
        (lambda: sim.sample_counts([0.5, 0.5], 3, n_sets=1, seed=None), "seed"),
        (lambda: sim.wishart_gram(0, 3, seed=0), "n must"),
        (lambda: sim.wishart_gram(3, 2.5, seed=0), "d must"),
        (lambda: sim.memory_error([0.5, 0.5], [1.0, 1.0, 1.0], 4, 2, n_memories=1, seed=0), "q must"),
        (lambda: sim.memory_error([0.5, 0.5], [[1.0, 1.0]] * 2, 4, 2, n_memories=3, seed=0), "one row"),
        (lambda: sim.memory_error([0.5, 0.5], [1.0, -1.0], 4, 2, n_memories=1, seed=0), "q must have entries"),
        (lambda: sim.memory_error([0.5, 0.5], [1.0, 1.0], 4, 1, n_memories=1, seed=0), "M must"),
        (lambda: sim.memory_error_naive([0.5, 0.5], [1.0, 1.0], True, 2, n_memories=1, seed=0), "d must"),
        (lambda: sim.memory_error([0.7, 0.5], [1.0, 1.0], 4, 2, n_memories=1, seed=0), "sum to 1"),
    ],
)
def test_bad_input_raises(call, match):
    with pytest.raises(ValueError, match=match):
        call()
