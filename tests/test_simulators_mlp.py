"""Unit tests of dltheory.simulators.mlp: init scales, empirical NNGP/NTK against explicit formulas, GD steps, bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats as sps

from dltheory.simulators import mlp as sim

X = np.array([[1.0, 0, 0], [0.6, 0.8, 0], [0, 0, 1], [-1, 0.5, 0.5]])


def _np_phi(name):
    return {"relu": lambda z: np.maximum(z, 0), "erf": lambda z: np.asarray(jax.scipy.special.erf(z))}[name]


def _np_dphi(name):
    return {"relu": lambda z: (z > 0).astype(float), "erf": lambda z: 2 / np.sqrt(np.pi) * np.exp(-z * z)}[name]


@pytest.mark.parametrize("act", ["relu", "erf"])
def test_one_hidden_layer_ntk_and_nngp_explicit(act):
    """f = sqrt(wv/n) v.phi(z) + sqrt(bv) b2, z = sqrt(wv/d) W x + sqrt(bv) b1: Theta_hat written out by hand."""
    wv, bv, n = 1.7, 0.3, 50
    m = sim.MLP(d=3, width=n, depth=1, activation=act, weight_var=wv, bias_var=bv)
    params = sim.init(m, 3, seed=0)
    ntk = np.asarray(sim.empirical_ntk(m, params, X))
    nngp = np.asarray(sim.empirical_nngp(m, params, X))
    out = np.asarray(sim.outputs(m, params, X))
    for s in range(3):
        (W, b1), (v, b2) = [(np.asarray(a[s]), np.asarray(c[s])) for a, c in params]
        z = np.sqrt(wv / 3) * X @ W.T + np.sqrt(bv) * b1
        phi, dphi = _np_phi(act)(z), _np_dphi(act)(z)
        expected = wv / n * phi @ phi.T + bv + wv / n * (dphi * v[0] ** 2) @ dphi.T * (wv * X @ X.T / 3 + bv)
        np.testing.assert_allclose(ntk[s], expected, rtol=1e-12)
        np.testing.assert_allclose(nngp[s], wv / n * phi @ phi.T + bv, rtol=1e-12)
        np.testing.assert_allclose(out[s, :, 0], np.sqrt(wv / n) * phi @ v[0] + np.sqrt(bv) * b2[0], rtol=1e-12)


def test_standard_parameterisation_same_function_scaled_ntk():
    """Same raw draws: SP weights are the NTK-param ones pre-scaled, so outputs agree; SP NTK differs."""
    kw = dict(d=3, width=40, depth=2, activation="erf", weight_var=2.0, bias_var=0.1)
    a, b = sim.MLP(**kw), sim.MLP(**kw, parameterization="standard")
    pa, pb = sim.init(a, 2, seed=5), sim.init(b, 2, seed=5)
    np.testing.assert_allclose(sim.outputs(a, pa, X), sim.outputs(b, pb, X), rtol=1e-12)
    np.testing.assert_allclose(sim.empirical_nngp(a, pa, X), sim.empirical_nngp(b, pb, X), rtol=1e-12)
    assert not np.allclose(sim.empirical_ntk(a, pa, X), sim.empirical_ntk(b, pb, X))


def test_ntk_batching_multi_output_and_cross_kernel():
    m = sim.MLP(d=3, width=16, depth=2, activation="tanh", weight_var=1.5, bias_var=0.05, n_out=3)
    p = sim.init(m, 5, seed=1)
    full = np.asarray(sim.empirical_ntk(m, p, X))
    np.testing.assert_allclose(np.asarray(sim.empirical_ntk(m, p, X, batch_size=2)), full, rtol=1e-12)
    np.testing.assert_allclose(np.asarray(sim.empirical_ntk(m, p, X[:2], X[2:])), full[:, :2, 2:], rtol=1e-12)
    # mean over the 3 output channels = average of single-output Jacobian contractions
    one = lambda q, c: jax.jacrev(lambda r: sim._forward(m, r, jnp.asarray(X))[:, c])(q)  # noqa: E731
    q0 = jax.tree.map(lambda a: a[0], p)
    per = [sum(jnp.einsum("i...,j...->ij", a, a) for a in jax.tree.leaves(one(q0, c))) for c in range(3)]
    np.testing.assert_allclose(full[0], np.mean(per, axis=0), rtol=1e-12)


def test_gd_matches_manual_steps_and_time_convention():
    m = sim.MLP(d=3, width=8, depth=1, activation="erf", weight_var=2.0, bias_var=0.1)
    p = sim.init(m, 2, seed=2)
    y = np.array([0.5, -0.2, 0.1])
    tr = sim.train(m, p, X[:3], y, X[3:], eta=0.3, n_steps=4, record_every=2)
    np.testing.assert_array_equal(tr.steps, [0, 2, 4])
    np.testing.assert_allclose(tr.t, 0.3 * tr.steps)
    q = jax.tree.map(lambda a: a[1], p)
    loss = lambda r: 0.5 * jnp.sum((sim._forward(m, r, jnp.asarray(X[:3]))[:, 0] - y) ** 2) / 3  # noqa: E731
    for k in range(4):
        if k % 2 == 0:
            np.testing.assert_allclose(
                tr.f_train[k // 2, 1, :, 0], sim._forward(m, q, jnp.asarray(X[:3]))[:, 0], rtol=1e-12
            )
        q = jax.tree.map(lambda a, g: a - 0.3 * g, q, jax.grad(loss)(q))
    np.testing.assert_allclose(tr.f_test[-1, 1, :, 0], sim._forward(m, q, jnp.asarray(X[3:]))[:, 0], rtol=1e-12)


def test_gd_divergence_raises():
    m = sim.MLP(d=3, width=8, depth=2, activation="relu", weight_var=2.0, bias_var=0.1)
    p = sim.init(m, 1, seed=0)
    with pytest.raises(FloatingPointError, match="eta=1000000.0"):
        sim.train(m, p, X[:3], np.ones(3), X[3:], eta=1e6, n_steps=200, record_every=10)


def test_seeds_reproducible_and_independent():
    m = sim.MLP(d=3, width=8, depth=1)
    a, b, c = (np.asarray(sim.outputs(m, sim.init(m, 3, seed=s), X)) for s in (7, 7, 8))
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a, c) and not np.allclose(a[0], a[1])


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(width=0), "width"),
        (dict(depth=-1), "depth"),
        (dict(weight_var=0.0), "weight_var"),
        (dict(bias_var=-1.0), "bias_var"),
        (dict(activation="swish"), "activation"),
        (dict(parameterization="mup"), "parameterization"),
        (dict(d=2.5), "d"),
    ],
)
def test_bad_architecture(kwargs, match):
    with pytest.raises(ValueError, match=match):
        sim.MLP(**(dict(d=3, width=4, depth=1) | kwargs))


def test_bad_run_input():
    m = sim.MLP(d=3, width=4, depth=1)
    p = sim.init(m, 1, seed=0)
    with pytest.raises(ValueError, match="seed"):
        sim.init(m, 1, seed=-1)
    with pytest.raises(ValueError, match="n_nets"):
        sim.init(m, 0, seed=0)
    with pytest.raises(ValueError, match="x"):
        sim.outputs(m, p, X[:, :2])
    with pytest.raises(ValueError, match="eta"):
        sim.train(m, p, X[:3], np.ones(3), X[3:], eta=-0.1, n_steps=2)
    with pytest.raises(ValueError, match="multiple"):
        sim.train(m, p, X[:3], np.ones(3), X[3:], eta=0.1, n_steps=5, record_every=2)
    with pytest.raises(ValueError, match="y_train"):
        sim.train(m, p, X[:3], np.ones(4), X[3:], eta=0.1, n_steps=2)


@pytest.mark.gpu
def test_same_numbers_on_gpu():
    """The unchanged code on the GPU reproduces the CPU ensemble (threefry keys are device-independent)."""
    m = sim.MLP(d=3, width=64, depth=2, activation="erf", weight_var=2.0, bias_var=0.1)
    results = []
    for dev in (jax.devices("cpu")[0], jax.devices("gpu")[0]):
        with jax.default_device(dev):
            p = sim.init(m, 4, seed=11)
            tr = sim.train(m, p, X[:3], np.array([0.3, -0.1, 0.2]), X[3:], eta=0.5, n_steps=20, record_every=5)
            results.append((np.asarray(sim.empirical_ntk(m, p, X)), tr.f_train, tr.f_test))
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)


# ----------------------------------------------------------------------------- kernel_sample (Gram sampler, numpy)


@pytest.mark.parametrize("par", ["ntk", "standard"])
def test_kernel_sample_one_hidden_layer_equals_jacobian_contraction(par):
    """depth 1 draws W1, b1 and the readout w explicitly: rebuilt as JAX parameters, the empirical NNGP and NTK
    (Jacobian contraction) of those very networks are reproduced to round-off."""
    wv, bv, n, S = 1.7, 0.3, 12, 3
    m = sim.MLP(d=3, width=n, depth=1, activation="erf", weight_var=wv, bias_var=bv, parameterization=par)
    r = sim.kernel_sample(m, X, S, seed=4)
    g = np.random.default_rng(4)
    W1, b1, w = g.standard_normal((S, n, 3)), g.standard_normal((S, n, 1)), g.standard_normal((S, n, 1))
    scale = (np.sqrt(wv / 3), np.sqrt(bv), np.sqrt(wv / n)) if par == "standard" else (1.0, 1.0, 1.0)
    params = [
        (jnp.asarray(scale[0] * W1), jnp.asarray(scale[1] * b1[..., 0])),
        (jnp.asarray(scale[2] * np.swapaxes(w, 1, 2)), jnp.zeros((S, 1))),
    ]
    with jax.enable_x64(True):
        np.testing.assert_allclose(r.ntk, np.asarray(sim.empirical_ntk(m, params, X)), rtol=1e-12)
        np.testing.assert_allclose(r.nngp, np.asarray(sim.empirical_nngp(m, params, X)), rtol=1e-12)
    np.testing.assert_allclose(r.layers[:, 0], (r.nngp - bv) / wv, rtol=1e-12)


@pytest.mark.parametrize(
    "kw",
    [
        dict(activation="relu", depth=3, parameterization="ntk"),
        dict(activation="tanh", depth=2, parameterization="standard"),
    ],
)
def test_kernel_sample_has_the_law_of_explicit_networks(kw):
    """depth >= 2 (hidden weights enter through W A and W^T g only): two-sample KS per kernel entry against
    networks with every weight drawn, 1000 each, Bonferroni over the 20 entries."""
    m = sim.MLP(d=3, width=10, weight_var=2.0, bias_var=0.1, **kw)
    r = sim.kernel_sample(m, X, 1000, seed=5)
    with jax.enable_x64(True):
        p = sim.init(m, 1000, seed=6)
        ref = (np.asarray(sim.empirical_nngp(m, p, X)), np.asarray(sim.empirical_ntk(m, p, X, batch_size=500)))
    iu = np.triu_indices(4)
    pvals = [sps.ks_2samp(a[:, i, j], b[:, i, j]).pvalue for a, b in zip((r.nngp, r.ntk), ref) for i, j in zip(*iu)]
    assert min(pvals) > 1e-3 / len(pvals)


def test_kernel_sample_controls_have_mean_zero():
    m = sim.MLP(d=3, width=8, depth=3, activation="gelu", weight_var=2.0, bias_var=0.2)
    z = sim.kernel_sample(m, X, 20000, seed=7).zero_mean
    assert z.shape == (20000, 10 * (2 * 3 + 1))
    live = z.std(axis=0) > 0
    t = z[:, live].mean(axis=0) / (z[:, live].std(axis=0, ddof=1) / np.sqrt(z.shape[0]))
    assert np.abs(t).max() < sps.norm.isf(1e-3 / 2 / live.sum())


def test_kernel_sample_chunks_and_bad_input():
    m = sim.MLP(d=3, width=6, depth=2, activation="relu", weight_var=2.0)
    a, b = sim.kernel_sample(m, X, 7, seed=1), sim.kernel_sample(m, X, 7, seed=1, chunk_floats=48)
    assert a.ntk.shape == (7, 4, 4) and b.ntk.shape == (7, 4, 4) and np.all(np.isfinite(b.ntk))
    np.testing.assert_array_equal(a.ntk, sim.kernel_sample(m, X, 7, seed=1).ntk)
    with pytest.raises(ValueError, match="named activation"):
        sim.kernel_sample(sim.MLP(d=3, width=6, depth=1, activation=jnp.tanh), X, 2, seed=0)
    with pytest.raises(ValueError, match="width"):
        sim.kernel_sample(sim.MLP(d=3, width=3, depth=1), X, 2, seed=0)
    with pytest.raises(ValueError, match="depth"):
        sim.kernel_sample(sim.MLP(d=3, width=6, depth=0), X, 2, seed=0)
    with pytest.raises(ValueError, match="n_nets"):
        sim.kernel_sample(m, X, 0, seed=0)
    with pytest.raises(ValueError, match="seed"):
        sim.kernel_sample(m, X, 2, seed=-1)


def test_wrong_object_types_are_refused_naming_the_parameter():
    net = sim.MLP(d=2, width=3, depth=1)
    params = sim.init(net, 2, seed=0)
    x = np.ones((2, 2))
    for call, match in [
        (lambda: sim.init(1.0, 2, seed=0), "mlp must be"),
        (lambda: sim.outputs(None, params, x), "mlp must be"),
        (lambda: sim.outputs(net, 1.0, x), "params must be"),
        (lambda: sim.empirical_nngp(net, params[:1], x), "params must be"),
        (lambda: sim.empirical_ntk(net, [(1.0, 2.0)] * 2, x), "params\\[0\\]"),
        (lambda: sim.train(net, params, x, "ab", x, eta=0.1, n_steps=2), "y_train"),
        (lambda: sim.train(net, params, x, [1.0, 0.0], x, eta=True, n_steps=2), "eta"),
        (lambda: sim.train(net, params, x, [1.0, 0.0], x, eta=0.1, n_steps=10**300), "n_steps"),
        (lambda: sim.kernel_sample("net", x, 2, seed=0), "mlp must be"),
        (lambda: sim.kernel_sample(net, x, 10**300, seed=0), "n_nets"),  # hung before
        (lambda: sim.kernel_sample(net, x, 2, seed=0, chunk_floats=-1), "chunk_floats"),
        (lambda: sim.MLP(d=2, width=3, depth=1, weight_var="1"), "weight_var"),
        (lambda: sim.MLP(d=2, width=10**300, depth=1), "width"),
    ]:
        with pytest.raises(ValueError, match=match):
            call()
