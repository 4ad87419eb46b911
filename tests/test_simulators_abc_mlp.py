"""Unit tests of dltheory.simulators.abc_mlp: shapes, exact identities, backprop vs JAX autodiff, bad input, divergence."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dltheory.simulators import abc_mlp as sim

X2 = np.array([[1.0, 0.3, -0.5, 0.2], [0.2, -1.0, 0.7, 0.1]])


@pytest.mark.parametrize("fn", [sim.forward_gram, sim.forward_full])
def test_forward_shapes_seeds_and_first_layer_kernel(fn):
    st = fn(X2, [5, 7, 6], activation="tanh", C_W=1.5, C_b=0.1, n_nets=4, seed=3)
    assert st.G.shape == (4, 3, 2, 2) and st.m2.shape == (4, 3, 2) and st.corr.shape == (4, 3)
    np.testing.assert_allclose(st.G[:, 0], np.broadcast_to(0.1 + 1.5 * X2 @ X2.T / 4, (4, 2, 2)), rtol=1e-14)
    again = fn(X2, [5, 7, 6], activation="tanh", C_W=1.5, C_b=0.1, n_nets=4, seed=3)
    np.testing.assert_array_equal(st.m4, again.m4)
    assert np.all(np.abs(st.corr) <= 1 + 1e-12)


def test_gram_sampler_chunks_cover_every_network():
    st = sim.forward_gram(X2, [5, 6], activation="tanh", C_W=1.0, C_b=0.0, n_nets=7, seed=2, chunk_floats=20)
    assert st.G.shape == (7, 2, 2, 2) and np.all(np.isfinite(st.m4))
    assert len({float(v) for v in st.m2[:, 1, 0]}) == 7  # independent networks, not repeated chunks


def test_single_input_has_no_correlation():
    st = sim.forward_gram(X2[:1], [4, 4], activation="relu", C_W=2.0, C_b=0.0, n_nets=3, seed=0)
    assert np.all(np.isnan(st.corr)) and st.G.shape == (3, 2, 1, 1)


def test_gram_sampler_conditional_covariance_is_the_next_layers_kernel():
    """G^(l+1) = C_b + C_W phi(z)^T phi(z)/n: with identical inputs the correlation stays exactly 1."""
    x = np.vstack([X2[0], X2[0]])
    st = sim.forward_gram(x, [6, 6, 6], activation="relu", C_W=2.0, C_b=0.2, n_nets=5, seed=1)
    # the Cholesky factor's r22 = sqrt(G11 - r21^2) is sqrt(round-off) ~ 1e-8 for a singular G
    np.testing.assert_allclose(st.corr, 1.0, atol=1e-12)
    np.testing.assert_allclose(st.G[..., 0, 1], st.G[..., 0, 0], rtol=1e-7)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_psd_sqrt_is_a_square_root(k):
    A = np.random.default_rng(k).standard_normal((7, k, k))
    G = A @ np.swapaxes(A, 1, 2)
    G[0] = np.ones((k, k))  # singular (rank one)
    R = sim._psd_sqrt(G)
    np.testing.assert_allclose(R @ np.swapaxes(R, 1, 2), G, atol=1e-12)


def test_backprop_matches_jax_autodiff():
    rng = np.random.default_rng(0)
    X, r = rng.standard_normal((3, 4)), rng.standard_normal((2, 3))
    w = [rng.standard_normal((2, 5, 4)), rng.standard_normal((2, 5, 5)), rng.standard_normal((2, 1, 5))]
    mult = np.array([1.3, 0.7, 0.4])
    hs, xs, f = sim._forward(w, mult, X, np.tanh)
    grads = sim._grads(w, mult, X, hs, xs, r, lambda z: 1 / np.cosh(z) ** 2)

    def loss(ws, s):
        h = jnp.tanh(X @ (mult[0] * ws[0]).T)
        h = jnp.tanh(h @ (mult[1] * ws[1]).T)
        out = (h @ (mult[2] * ws[2]).T)[:, 0]
        return 0.5 * jnp.mean((out - (f[s] - r[s])) ** 2)  # residual r at the current weights

    for s in range(2):
        ref = jax.grad(loss)([jnp.asarray(v[s]) for v in w], s)
        for g, g_ref in zip(grads, ref):
            np.testing.assert_allclose(g[s], np.asarray(g_ref), rtol=1e-12, atol=1e-14)


def test_train_abc_shapes_and_linear_response_at_small_eta():
    X, y = np.random.default_rng(1).standard_normal((4, 8)), np.ones(4)
    kw = dict(a=[-0.5, 0, 0.5], b=0.5, c=0.0, X=X, y=y, n_steps=1, n_seeds=3, seed=5)
    r1, r2 = sim.train_abc(16, eta=1e-6, **kw), sim.train_abc(16, eta=2e-6, **kw)
    assert r1["dh"].shape == (3, 1) and r1["h0_rms"].shape == (3,)
    np.testing.assert_allclose(r2["dh"] / r1["dh"], 2.0, rtol=1e-4)  # Delta h = O(eta) at step 1


def test_train_abc_diverging_run_raises_naming_the_step():
    X, y = np.random.default_rng(1).standard_normal((4, 8)), np.ones(4)
    with pytest.raises(FloatingPointError, match="step"):
        sim.train_abc(64, a=[0, 0, 0], b=[0, 0.5, 0.5], c=0.0, X=X, y=y, eta=1e3, n_steps=40, n_seeds=2, seed=0)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(widths=[]), "widths"),
        (dict(widths=[3, 0]), "widths"),
        (dict(C_W=-1.0), "C_W"),
        (dict(C_b=-0.1), "C_b"),
        (dict(C_W=float("nan")), "C_W"),
        (dict(n_nets=1), "n_nets"),
        (dict(activation="swish"), "activation"),
        (dict(x=np.array([[np.inf, 1.0]])), "finite"),
        (dict(x=np.ones(3)), "shape"),
    ],
)
def test_forward_bad_input(kwargs, match):
    args = dict(x=X2, widths=[3, 3], activation="relu", C_W=2.0, C_b=0.0, n_nets=2, seed=0) | kwargs
    with pytest.raises(ValueError, match=match):
        sim.forward_gram(**args)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(width=0), "width"),
        (dict(a=[0.5]), "a must"),
        (dict(b=[0, 1]), "b must"),
        (dict(eta=-1.0), "eta"),
        (dict(n_steps=0), "n_steps"),
        (dict(X=np.full((4, 8), np.nan)), "finite"),
        (dict(activation="swish"), "activation"),
    ],
)
def test_train_bad_input(kwargs, match):
    args = (
        dict(width=8, a=[0, 0, 0], b=0.5, c=0.0, X=np.ones((4, 8)), y=np.ones(4), eta=0.1, n_steps=1, n_seeds=1, seed=0)
        | kwargs
    )
    with pytest.raises(ValueError, match=match):
        sim.train_abc(**args)


@pytest.mark.parametrize(
    "activation, C_W, C_b, k",
    [("relu", 2.0, 0.0, 1), ("tanh", 1.0, 0.0, 1), ("tanh", 1.5, 0.05, 2)],
)
def test_gram_sampler_has_the_law_of_explicit_weights(activation, C_W, C_b, k):
    """The in-law sampler (used by the pdlt and sigprop claims) and explicit weight matrices give the same law of
    the last layer's conditional variance G and (k = 2) correlation: two-sample KS, fixed seeds, p >= 1e-3."""
    from scipy.stats import ks_2samp

    x = X2[:k]
    kw = dict(activation=activation, C_W=C_W, C_b=C_b, n_nets=3000)
    gram, full = sim.forward_gram(x, [16] * 4, seed=11, **kw), sim.forward_full(x, [16] * 4, seed=12, **kw)
    assert ks_2samp(gram.G[:, -1, 0, 0], full.G[:, -1, 0, 0]).pvalue >= 1e-3
    if k == 2:
        assert ks_2samp(gram.corr[:, -1], full.corr[:, -1]).pvalue >= 1e-3
