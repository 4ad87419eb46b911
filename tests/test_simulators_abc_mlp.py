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


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(n_nets=1e300), "n_nets"),  # passed ``int(v) == v`` and ran forever before
        (dict(n_nets=10**300), "n_nets"),
        (dict(widths=[4, 2.5]), "widths"),
        (dict(widths="44"), "widths"),
        (dict(C_W="2"), "C_W"),
        (dict(C_b=True), "C_b"),
        (dict(x=[[1.0, np.nan]]), "x must be"),
        (dict(chunk_floats=0), "chunk_floats"),
        (dict(seed=None), "seed"),
    ],
)
def test_forward_gram_invalid_input(kwargs, match):
    args = dict(x=[[1.0, 0.0]], widths=[4], activation="relu", C_W=2.0, C_b=0.0, n_nets=2, seed=0) | kwargs
    with pytest.raises(ValueError, match=match):
        sim.forward_gram(**args)


def test_forward_overflow_names_the_layer():
    for fn in (sim.forward_gram, sim.forward_full):
        with pytest.raises(FloatingPointError, match="layer"):
            fn([[1.0, 0.5]], [3, 3], activation="relu", C_W=1e300, C_b=0.0, n_nets=2, seed=0)


@pytest.mark.parametrize(
    "kwargs, match",
    [(dict(width=4.0), "width"), (dict(a="ab"), "a must be"), (dict(n_steps=10**300), "n_steps"), (dict(y=[1.0]), "y")],
)
def test_train_abc_invalid_input(kwargs, match):
    args = dict(width=4, a=[0.0, 0.5], b=0.0, c=0.0, X=[[1.0, 0.0], [0.0, 1.0]], y=[1.0, -1.0], eta=0.1)
    with pytest.raises(ValueError, match=match):
        sim.train_abc(**(args | dict(n_steps=2, n_seeds=2, seed=0) | kwargs))


# ----------------------------------------------------------------------------- backward pass at initialisation


def test_backward_full_matches_jax_autodiff():
    x, widths, C_W, C_b, S = np.array([0.5, -1.0, 0.3]), [4, 5, 3], 1.7, 0.2, 2
    out = sim.backward_full(x, widths, activation="tanh", C_W=C_W, C_b=C_b, n_nets=S, seed=9)
    g, fan_in, Ws, bs = np.random.default_rng(9), x.size, [], []  # replay the draws in the sampler's order
    for n in widths:
        Ws.append(g.standard_normal((S, n, fan_in)) * np.sqrt(C_W / fan_in))
        bs.append(np.sqrt(C_b) * g.standard_normal((S, n)))
        fan_in = n
    v = np.sqrt(C_W / widths[-1]) * g.standard_normal((S, widths[-1]))
    for s in range(S):
        zs = [Ws[0][s] @ x + bs[0][s]]
        for W, b in zip(Ws[1:], bs[1:]):
            zs.append(W[s] @ np.tanh(zs[-1]) + b[s])
        for l in range(len(widths)):

            def f(z, l=l):
                for W, b in zip(Ws[l + 1 :], bs[l + 1 :]):
                    z = jnp.asarray(W[s]) @ jnp.tanh(z) + jnp.asarray(b[s])
                return jnp.asarray(v[s]) @ jnp.tanh(z)

            grad = np.asarray(jax.grad(f)(jnp.asarray(zs[l])))
            assert out["grad2"][s, l] == pytest.approx(np.sum(grad**2), rel=1e-12)
            assert out["q"][s, l] == pytest.approx(np.mean(zs[l] ** 2), rel=1e-12)


@pytest.mark.parametrize("activation, C_W, C_b", [("tanh", 2.0, 0.1), ("relu", 2.0, 0.0)])
def test_backward_gram_has_the_law_of_explicit_weights(activation, C_W, C_b):
    kw = dict(activation=activation, C_W=C_W, C_b=C_b, n_nets=20000)
    a = sim.backward_gram(np.array([0.8, -0.4, 0.3]), [6, 5, 6, 4], seed=1, **kw)
    b = sim.backward_full(np.array([0.8, -0.4, 0.3]), [6, 5, 6, 4], seed=2, **kw)
    for key in ("grad2", "q"):
        for power in (1, 2):  # means and second moments, every layer
            xa, xb = a[key] ** power, b[key] ** power
            z = (xa.mean(0) - xb.mean(0)) / np.hypot(xa.std(0), xb.std(0)) * np.sqrt(20000)
            assert np.all(np.abs(z) < 4.5), (key, power, z)  # 16 correlated entries: Bonferroni z(1e-3/16) = 4.2


def test_backward_gram_linear_network_mean_is_a_power_of_C_W():
    out = sim.backward_gram(np.ones(4), [8] * 6, activation="linear", C_W=1.3, C_b=0.0, n_nets=4000, seed=4)
    m, se = out["grad2"].mean(0), out["grad2"].std(0) / np.sqrt(4000)
    assert np.all(np.abs(m - 1.3 ** np.arange(6, 0, -1)) < 4.5 * se)
    assert out["grad2"].shape == (4000, 6) and out["q"].shape == (4000, 6)
    again = sim.backward_gram(np.ones(4), [8] * 6, activation="linear", C_W=1.3, C_b=0.0, n_nets=4000, seed=4)
    np.testing.assert_array_equal(out["grad2"], again["grad2"])


@pytest.mark.parametrize("fn", [sim.backward_gram, sim.backward_full])
def test_backward_overflow_raises(fn):
    with pytest.raises(FloatingPointError, match="backward"):
        fn(np.ones(2), [4] * 3, activation="linear", C_W=1e200, C_b=0.0, n_nets=2, seed=0)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(x=[[1.0, 2.0]]), "x must"),
        (dict(x=[np.inf, 1.0]), "x must"),
        (dict(widths=[]), "widths"),
        (dict(C_W=0.0), "C_W"),
        (dict(C_b=-1.0), "C_b"),
        (dict(n_nets=1), "n_nets"),
        (dict(seed=None), "seed"),
        (dict(activation="nope"), "activation"),
    ],
)
@pytest.mark.parametrize("fn", [sim.backward_gram, sim.backward_full])
def test_backward_bad_input(fn, kwargs, match):
    args = dict(x=[1.0, 0.5], widths=[3, 3], activation="tanh", C_W=1.5, C_b=0.1, n_nets=2, seed=0) | kwargs
    with pytest.raises(ValueError, match=match):
        fn(**args)
