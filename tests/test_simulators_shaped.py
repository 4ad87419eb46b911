"""Unit tests of dltheory.simulators.shaped: reduced Gram-matrix chains against naive networks, exact identities, bad input."""

import math

import numpy as np
import pytest
from scipy import stats

from dltheory.simulators import shaped as sim

ALPHA = 1e-3  # per-test false-failure budget, Bonferroni over the KS family inside each test
V3 = np.array([[1.0, 0.3, 0.1], [0.3, 1.0, 0.5], [0.1, 0.5, 1.0]])


def _tokens(V, n):
    """X with X X^T / n = V (canonical form [sqrt(n) L, 0])."""
    m = V.shape[0]
    return math.sqrt(n) * np.linalg.cholesky(V) @ np.eye(m, n)


@pytest.mark.parametrize("c_plus, c_minus, unshaped", [(0.0, -2.0, False), (1.0, -1.0, False), (0, 0, True)])
def test_relu_chain_matches_naive_network(c_plus, c_minus, unshaped):
    x = np.array([[1.0, 0.0], [0.3, math.sqrt(1 - 0.09)]]) * math.sqrt(2)  # V0 = x x^T / 2
    kw = dict(n=12, depth=6, c_plus=c_plus, c_minus=c_minus, unshaped=unshaped)
    chain = sim.relu_mlp_chain(x @ x.T / 2, n_paths=3000, seed=1, **kw)[:, -1]
    naive = sim.relu_mlp_naive(x, n_samples=3000, seed=2, **kw)
    entries = [(0, 0), (0, 1), (1, 1)]
    for i, j in entries:
        assert stats.ks_2samp(chain[:, i, j], naive[:, i, j]).pvalue > ALPHA / len(entries)


@pytest.mark.parametrize("shaped, lam", [(True, 0.0), (True, math.sqrt(0.5)), (False, math.sqrt(0.5))])
def test_attention_chain_matches_naive_network(shaped, lam):
    n, kw = 8, dict(n_k=4, depth=6, lam=lam, gamma=math.sqrt(1 - lam**2), tau0=0.7, shaped=shaped)
    chain = sim.attention_chain(V3, n, n_paths=3000, seed=3, **kw)[:, -1]
    naive = sim.attention_naive(_tokens(V3, n), n_samples=3000, seed=4, **kw)
    entries = [(0, 0), (0, 1), (1, 2), (2, 2)]
    for i, j in entries:
        assert stats.ks_2samp(chain[:, i, j], naive[:, i, j]).pvalue > ALPHA / len(entries)


def test_linear_chain_is_a_martingale():
    """c_+ = c_- = 0: a linear network, E V_d = V_0 exactly (z-test at 4.4 SE: alpha ~ 1e-5 per entry)."""
    V = sim.relu_mlp_chain(V3, 16, 8, 0.0, 0.0, n_paths=4000, seed=5)[:, -1]
    se = V.std(axis=0, ddof=1) / math.sqrt(V.shape[0])
    assert np.all(np.abs(V.mean(axis=0) - V3) < 4.4 * se)


def test_uniform_attention_contracts_differences_exactly():
    V = sim.attention_chain(
        V3,
        16,
        4,
        10,
        lam=math.sqrt(0.5),
        gamma=math.sqrt(0.5),
        tau0=1e12,
        n_paths=20,
        seed=6,
        shaped=False,
        record_every=1,
    )
    P = np.eye(3) - 1 / 3
    energy = np.einsum("ij,plji->pl", P, V @ P)
    np.testing.assert_allclose(energy / energy[:, :1], np.broadcast_to(0.5 ** np.arange(11), energy.shape), rtol=1e-9)


def test_records_seeds_and_common_random_numbers():
    a = sim.relu_mlp_chain(V3, 8, 6, 0.0, -2.0, n_paths=5, seed=7, record_every=2)
    assert a.shape == (5, 4, 3, 3) and np.array_equal(a[:, 0], np.broadcast_to(V3, (5, 3, 3)))
    assert np.array_equal(a, sim.relu_mlp_chain(V3, 8, 6, 0.0, -2.0, n_paths=5, seed=7, record_every=2))
    b = sim.relu_mlp_chain(V3, 8, 6, 0.0, -2.001, n_paths=5, seed=7, record_every=2)
    assert np.abs(a - b).max() < 1e-2  # same draws, nearby shaping: coupled paths


def test_step_moments_shapes_and_antithetic_logits():
    AVA, Vn = sim.attention_step_moments(V3, 64, 8, gamma=math.sqrt(0.5), tau0=1.0, n_samples=10, seed=8)
    assert AVA.shape == Vn.shape == (10, 3, 3)
    assert np.allclose(AVA, np.swapaxes(AVA, -1, -2)) and np.allclose(Vn, np.swapaxes(Vn, -1, -2))


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: sim.relu_mlp_chain([[1, 2], [2, 1]], 8, 2, n_paths=2, seed=0), "positive semi-definite"),
        (lambda: sim.relu_mlp_chain([[1, 0.1], [0.2, 1]], 8, 2, n_paths=2, seed=0), "symmetric"),
        (lambda: sim.relu_mlp_chain(np.eye(2), 1, 2, n_paths=2, seed=0), "n must be an integer in \\[2, "),
        (lambda: sim.relu_mlp_chain(np.eye(2), 8, 0, n_paths=2, seed=0), "depth must be an integer in \\[1, "),
        (lambda: sim.relu_mlp_chain(np.eye(2), 4, 2, 0.0, -2.0, n_paths=2, seed=0), "c_plus, c_minus > -sqrt"),
        (lambda: sim.relu_mlp_naive(np.ones(3), 8, 2, n_samples=2, seed=0), "x must be"),
        (
            lambda: sim.attention_chain(V3, 8, 4, 2, lam=0.5, gamma=0.5, tau0=1, n_paths=2, seed=0),
            "lam\\^2 \\+ gamma\\^2",
        ),
        (lambda: sim.attention_chain(V3, 8, 4, 2, lam=0.0, gamma=1.0, tau0=0, n_paths=2, seed=0), "tau0"),
        (lambda: sim.attention_chain(V3, 2, 4, 2, lam=0.0, gamma=1.0, tau0=1, n_paths=2, seed=0), "tokens"),
    ],
)
def test_bad_input_raises(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_block_chain_matches_naive_network():
    n, kw = 8, dict(n_k=4, depth=4, lam=math.sqrt(0.5), gamma=math.sqrt(0.5), tau0=0.7, c_plus=1.0, c_minus=-1.0)
    chain = sim.block_chain(V3, n, n_paths=3000, seed=9, **kw)[:, -1]
    naive = sim.block_naive(_tokens(V3, n), n_samples=3000, seed=10, **kw)
    entries = [(0, 0), (0, 1), (1, 2), (2, 2)]
    for i, j in entries:
        assert stats.ks_2samp(chain[:, i, j], naive[:, i, j]).pvalue > ALPHA / len(entries)


@pytest.mark.parametrize("widths, c_plus, c_minus, unshaped", [([12] * 5, 1.0, -1.0, False), ([8, 16, 8], 0, 0, True)])
def test_log_norm_sampler_matches_the_chain(widths, c_plus, c_minus, unshaped):
    """The chi-square product sampler has the law of the k = 1 chain run layer by layer at the same widths."""
    x = sim.relu_log_norm(widths, c_plus, c_minus, n_paths=6000, seed=11, unshaped=unshaped)
    y = np.zeros(6000)
    for n, s in zip(widths, np.random.SeedSequence(12).spawn(len(widths))):
        V = sim.relu_mlp_chain(np.eye(1), n, 1, c_plus, c_minus, n_paths=6000, seed=s, unshaped=unshaped)[:, -1, 0, 0]
        with np.errstate(divide="ignore"):
            y += np.log(V)
    assert stats.ks_2samp(x[np.isfinite(x)], y[np.isfinite(y)]).pvalue > ALPHA


def test_log_norm_sampler_bad_input():
    with pytest.raises(ValueError, match="widths"):
        sim.relu_log_norm([8, 1], n_paths=2, seed=0)
    with pytest.raises(ValueError, match="n_paths"):
        sim.relu_log_norm([8], n_paths=0, seed=0)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: sim.relu_mlp_chain(np.eye(2), 10**300, 2, n_paths=2, seed=0), "n must be"),
        (lambda: sim.relu_mlp_chain(np.eye(2), 8, 2, n_paths=2, seed=0, unshaped="no"), "unshaped"),
        (lambda: sim.relu_mlp_chain(np.eye(2), 8, 2, n_paths=2, seed=None), "seed"),
        (lambda: sim.relu_log_norm("88", n_paths=2, seed=0), "widths"),
        (lambda: sim.relu_log_norm([8], n_paths=2, seed=0, unshaped=1), "unshaped"),
        (lambda: sim.attention_chain(V3, 8, 4, 2, lam=0.6, gamma="0.8", tau0=1, n_paths=2, seed=0), "gamma"),
        (lambda: sim.attention_step_moments(V3, 8, 4, gamma=None, tau0=1, n_samples=2, seed=0), "gamma"),
        (
            lambda: sim.attention_naive(np.ones((2, 4)), 2, 2, lam=0.6, gamma=0.8, tau0=1, n_samples=2.0, seed=0),
            "n_samples",
        ),
    ],
)
def test_invalid_input_is_refused_naming_the_parameter(call, match):
    with pytest.raises(ValueError, match=match):
        call()
