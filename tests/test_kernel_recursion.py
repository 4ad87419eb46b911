"""Unit tests of the fused NNGP/NTK recursion (dltheory.theory.kernel_recursion, reached through
dltheory.theory.infinite_width.kernels): neural-tangents golden values for every closed form, a naive
entry-by-entry recursion with nested quadrature, a numpy layer loop over whole matrices, symmetry and blocks,
identical inputs, both parameterisations and frozen biases, and the JAX backend against the numba one."""

import json
from pathlib import Path

import jax
import numpy as np
import pytest

from dltheory.theory import dual_kernels as dk
from dltheory.theory import infinite_width as iw
from dltheory.theory import spec
from dltheory.theory.gaussian import bivariate_expectation

X = np.array([[1.0, 0, 0], [0.6, 0.8, 0], [0, 0, 1], [-1, 0.5, 0.5]])
IU = np.triu_indices(4)

# neural-tangents 0.6.5 golden values (the file says how they were made)
NT_GOLDEN = json.loads((Path(__file__).parent / "nt_golden_activations.json").read_text())["kernels"]
NT_ACTIVATIONS = {
    "gelu": "gelu",
    "abs": "abs",
    "leaky_relu(0.2)": spec.leaky_relu(0.2),
    "sign": "sign",
    "sin(1.2,0.8,0.3)": spec.sin(1.2, 0.8, 0.3),
    "cos": "cos",
    "rbf(0.5)": spec.rbf(0.5),
    "exp(0.5,0.3)": spec.exponential(0.5, 0.3),
    "gaussian(1,-0.5)": spec.gaussian(1.0, -0.5),
    "monomial(3)": spec.monomial(3),
    "polynomial(0.1,1,-0.3,0.2)": spec.polynomial([0.1, 1.0, -0.3, 0.2]),
    "erf(1.3,0.7,0.2)": spec.scaled_erf(1.3, 0.7, 0.2),
    "ab_relu(-0.3,1.7)": spec.ab_relu(-0.3, 1.7),
}


@pytest.mark.parametrize("name", sorted(NT_GOLDEN))
def test_neural_tangents_golden_values(name):
    nngp, ntk = np.array(NT_GOLDEN[name]["nngp"]), np.array(NT_GOLDEN[name]["ntk"])
    k = iw.kernels(X, depth=2, activation=NT_ACTIVATIONS[name], weight_var=2.0, bias_var=0.01)
    np.testing.assert_allclose(k.nngp[IU], nngp, rtol=1e-12, atol=1e-13 * np.abs(nngp).max())
    np.testing.assert_allclose(k.ntk[IU], ntk, rtol=1e-12, atol=1e-13 * np.abs(ntk).max())


def _reference(x1, x2, act, depth, wv, bv, standard=False, width=1.0, train_bias=True):
    """The recursion entry by entry, every expectation by nested kink-split Gauss-Legendre quadrature."""
    a = spec.get_activation(act)
    d = x1.shape[1]
    k = wv * x1 @ x2.T / d + bv
    q1, q2 = wv * np.sum(x1 * x1, 1) / d + bv, wv * np.sum(x2 * x2, 1) / d + bv
    bt = (1.0 if standard else bv) if train_bias else 0.0
    t = (d if standard else wv) * x1 @ x2.T / d + bt
    for _ in range(depth):
        T, Td = np.empty_like(k), np.empty_like(k)
        for i in range(k.shape[0]):
            for j in range(k.shape[1]):
                c = np.clip(k[i, j], -np.sqrt(q1[i] * q2[j]), np.sqrt(q1[i] * q2[j]))
                T[i, j] = bivariate_expectation(a.phi, a.phi, q1[i], q2[j], c, (0.0,))
                Td[i, j] = bivariate_expectation(a.dphi, a.dphi, q1[i], q2[j], c, (0.0,))
        t = (width if standard else wv) * T + bt + wv * Td * t
        k = wv * T + bv
        q1 = np.array([wv * bivariate_expectation(a.phi, a.phi, q, q, q, (0.0,)) + bv for q in q1])
        q2 = np.array([wv * bivariate_expectation(a.phi, a.phi, q, q, q, (0.0,)) + bv for q in q2])
    return k, t


REF_ACTS = ["relu", "tanh", "elu", spec.sin(1.2, 0.8, 0.3), spec.rectified_monomial(2), "softplus"]
VARIANTS = {"ntk": {}, "standard": dict(parameterization="standard", width=3.0), "frozen_bias": dict(train_bias=False)}


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("act", REF_ACTS, ids=lambda a: spec.get_activation(a).name)
def test_recursion_against_entrywise_quadrature(act, variant):
    x1 = np.array([[0.3, -1.1], [1.2, 0.4], [0.3, -1.1]])  # a duplicate row: rho = 1 exactly
    x2 = np.array([[0.3, -1.1], [-0.7, 0.9]])
    kw = VARIANTS[variant]
    k = iw.kernels(x1, x2, depth=2, activation=act, weight_var=1.7, bias_var=0.2, **kw)
    ref_k, ref_t = _reference(
        x1,
        x2,
        act,
        2,
        1.7,
        0.2,
        kw.get("parameterization") == "standard",
        kw.get("width", 1.0),
        kw.get("train_bias", True),
    )
    np.testing.assert_allclose(k.nngp, ref_k, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(k.ntk, ref_t, rtol=1e-10, atol=1e-12)


def _layer_loop(x1, x2, act, depth, wv, bv):
    """Numpy reference over whole matrices, one layer at a time, (T, T') from dual_kernels.dual_kernel (full
    Hermite series, no per-tile truncation), identical inputs by the diagonal at rho = 1 exactly."""
    p = dk.plan(act)

    def diagonal(q):
        return dk.dual_kernel(act, q, q, q) if p.kind == dk.HERMITE else p.diagonal(q)

    d = x1.shape[1]
    k = wv * x1 @ x2.T / d + bv
    t = k.copy()
    q1, q2 = wv * np.sum(x1 * x1, 1) / d + bv, wv * np.sum(x2 * x2, 1) / d + bv
    same = (x1[:, None, :] == x2[None, :, :]).all(-1)
    for _ in range(depth):
        Q1, Q2 = np.broadcast_to(q1[:, None], k.shape), np.broadcast_to(q2[None, :], k.shape)
        T, Td = dk.dual_kernel(act, Q1, Q2, np.clip(k, -np.sqrt(Q1 * Q2), np.sqrt(Q1 * Q2)))
        D = np.broadcast_to(np.stack(diagonal(q1))[:, :, None], (2,) + k.shape)
        T, Td = np.where(same, D[0], T), np.where(same, D[1], Td)
        t = wv * T + bv + wv * Td * t
        k = wv * T + bv
        q1, q2 = wv * diagonal(q1)[0] + bv, wv * diagonal(q2)[0] + bv
    return k, t


@pytest.mark.parametrize("act", ["relu", "erf", "gelu", "tanh", "selu", "sign", spec.polynomial([0.0, 1.0, 0.5])])
def test_fused_tiles_and_threads_match_a_numpy_layer_loop(act):
    """70 x 130 crosses tile (64) and thread-chunk boundaries; rows repeat across x1 and x2."""
    g = np.random.default_rng(5)
    x1 = g.standard_normal((70, 4))
    x2 = np.concatenate([g.standard_normal((120, 4)), x1[:10]])
    k = iw.kernels(x1, x2, depth=3, activation=act, weight_var=1.4, bias_var=0.1)
    ref_k, ref_t = _layer_loop(x1, x2, spec.get_activation(act), 3, 1.4, 0.1)
    np.testing.assert_allclose(k.nngp, ref_k, rtol=1e-11, atol=1e-12 * np.abs(ref_k).max())
    np.testing.assert_allclose(k.ntk, ref_t, rtol=1e-11, atol=1e-12 * np.abs(ref_t).max())
    s = iw.kernels(np.concatenate([x1, x2]), depth=3, activation=act, weight_var=1.4, bias_var=0.1)
    np.testing.assert_allclose(s.ntk[:70, 70:], k.ntk, rtol=1e-12, atol=1e-13 * np.abs(k.ntk).max())
    np.testing.assert_array_equal(s.ntk, s.ntk.T)


JAX_FAST = ["relu", "erf", "tanh", "elu", spec.sin(1.2, 0.8, 0.3)]
JAX_REST = ["gelu", "sign", "step", spec.rbf(0.5), spec.exponential(0.5, 0.3), spec.gaussian(1.0, -0.5)]
JAX_REST += [spec.rectified_monomial(3), spec.polynomial([0.1, 1.0, -0.3]), "softplus", "selu"]


def _jax_vs_numba(act):
    g = np.random.default_rng(9)
    x1, x2 = g.standard_normal((9, 3)), g.standard_normal((5, 3))
    for a, b in ((x1, None), (x1, x2)):
        kw = dict(depth=3, activation=act, weight_var=1.6, bias_var=0.15)
        k, kj = iw.kernels(a, b, **kw), iw.kernels(a, b, backend="jax", **kw)
        np.testing.assert_allclose(kj.nngp, k.nngp, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(kj.ntk, k.ntk, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("act", JAX_FAST, ids=lambda a: spec.get_activation(a).name)
def test_jax_backend_matches_numba(act):
    _jax_vs_numba(act)


@pytest.mark.slow
@pytest.mark.parametrize("act", JAX_REST, ids=lambda a: spec.get_activation(a).name)
def test_jax_backend_matches_numba_every_family(act):
    _jax_vs_numba(act)


@pytest.mark.gpu
@pytest.mark.parametrize("act", ["relu", "tanh", "elu"])
def test_jax_backend_on_gpu(act):
    """The same JAX code on the GPU reproduces the numba kernels on the CPU."""
    g = np.random.default_rng(10)
    x = g.standard_normal((300, 8))
    kw = dict(depth=5, activation=act, weight_var=1.8, bias_var=0.1)
    k = iw.kernels(x, **kw)
    with jax.default_device(jax.devices("gpu")[0]):
        kg = iw.kernels(x, backend="jax", **kw)
    np.testing.assert_allclose(kg.nngp, k.nngp, rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(kg.ntk, k.ntk, rtol=1e-11, atol=1e-13)


def test_depth_zero_and_frozen_biases():
    k = iw.kernels(X, depth=0, activation="tanh", weight_var=1.5, bias_var=0.2, train_bias=False)
    np.testing.assert_allclose(k.nngp, 1.5 * X @ X.T / 3 + 0.2, atol=1e-15)
    np.testing.assert_allclose(k.ntk, 1.5 * X @ X.T / 3, atol=1e-15)


def test_bad_backend():
    with pytest.raises(ValueError, match="backend"):
        iw.kernels(X, depth=1, activation="relu", weight_var=1.0, bias_var=0.0, backend="cuda")
