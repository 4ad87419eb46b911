"""Unit tests of dltheory.simulators.ntk_gram: the layer-wise Gram empirical NTK equals the Jacobian contraction
J(x1) J(x2)^T / n_out (jax.jacrev, the naive reference) for both parameterisations, several output widths and
depths, point blocks, float64 and float32; its GEMM count; bad input."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dltheory.simulators import mlp as sim
from dltheory.simulators import ntk_gram

X = np.random.default_rng(0).standard_normal((7, 3))


def _jacobian_ntk(m, params, x1, x2):
    """Reference: Theta = sum_p df(x1)/dp df(x2)/dp, averaged over outputs, one network at a time."""

    def one(p):
        f = lambda q, x: sim.outputs(m, jax.tree.map(lambda a: a[None], q), x)[0]  # noqa: E731
        j1, j2 = jax.jacrev(f)(p, x1), jax.jacrev(f)(p, x2)
        contract = lambda a, b: jnp.einsum("io...,jo...->ij", a, b) / m.n_out  # noqa: E731
        return sum(jax.tree.leaves(jax.tree.map(contract, j1, j2)))

    return np.asarray(jax.jit(jax.vmap(one))(params))


CONFIGS = {
    "relu": {},
    "standard": dict(parameterization="standard"),
    "three_outputs": dict(n_out=3, activation="tanh"),
    "standard_two_outputs_bias": dict(n_out=2, parameterization="standard", activation="erf", bias_var=0.3),
    "no_hidden_layer": dict(depth=0),
    "callable": dict(depth=1, activation=jnp.sin),
}


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_gram_products_equal_jacobian_contraction(name):
    m = sim.MLP(**(dict(d=3, width=16, depth=2, activation="relu", weight_var=1.7, bias_var=0.1) | CONFIGS[name]))
    p = sim.init(m, 2, seed=1)
    ref = _jacobian_ntk(m, p, X, X[:4])
    np.testing.assert_allclose(np.asarray(ntk_gram.empirical_ntk(m, p, X, X[:4])), ref, rtol=1e-12, atol=1e-13)
    if name == "relu":  # the public route (dltheory.simulators.mlp), symmetric case
        np.testing.assert_allclose(np.asarray(sim.empirical_ntk(m, p, X))[:, :, :4], ref, rtol=1e-12, atol=1e-13)


def test_point_blocks_and_network_batches_change_nothing():
    m = sim.MLP(d=3, width=16, depth=2, activation="tanh", weight_var=1.5, bias_var=0.2, n_out=2)
    p = sim.init(m, 3, seed=2)
    a = np.asarray(ntk_gram.empirical_ntk(m, p, X))
    b = np.asarray(ntk_gram.empirical_ntk(m, p, X, block_size=3, batch_size=2))
    np.testing.assert_allclose(b, a, rtol=1e-13, atol=1e-14)


def test_float32():
    """Float32 parameters give a float32 kernel that agrees with the float64 one to float32 round-off."""
    m = sim.MLP(d=3, width=64, depth=2, activation="relu", weight_var=2.0, bias_var=0.1)
    p64 = sim.init(m, 1, seed=3)
    p32 = jax.tree.map(lambda a: a.astype(jnp.float32), p64)
    k32 = ntk_gram.empirical_ntk(m, p32, X.astype(np.float32))
    assert k32.dtype == jnp.float32
    k64 = np.asarray(ntk_gram.empirical_ntk(m, p64, X))
    np.testing.assert_allclose(np.asarray(k32), k64, rtol=1e-5, atol=1e-5 * np.abs(k64).max())


def test_gemm_flops_counts_the_products():
    m = sim.MLP(d=3, width=4, depth=2, n_out=2)
    # forward 2 n (3*4 + 4*4), backward 2 n n_out (4*4), Grams n^2 (2 (3 + 4 + 4) + 2 n_out (4 + 4))
    n = 5
    expected = 2 * n * (12 + 16) + 2 * n * 2 * 16 + 2 * n * n * (3 + 4 + 4) + 2 * n * n * 2 * (4 + 4)
    assert ntk_gram.gemm_flops(m, n) == expected


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(x1=np.ones((3, 2))), "x1"),
        (dict(x2=np.full((2, 3), np.nan)), "x2"),
        (dict(batch_size=0), "batch_size"),
        (dict(block_size=1.5), "block_size"),
    ],
)
def test_bad_input(kwargs, match):
    m = sim.MLP(d=3, width=4, depth=1)
    p = sim.init(m, 1, seed=0)
    args = dict(x1=X) | kwargs
    with pytest.raises(ValueError, match=match):
        ntk_gram.empirical_ntk(m, p, **args)


def test_invalid_input_is_refused_naming_the_parameter():
    net = sim.MLP(d=2, width=3, depth=1)
    params = sim.init(net, 1, seed=0)
    x = np.ones((2, 2))
    for call, match in [
        (lambda: ntk_gram.empirical_ntk(1.0, params, x), "mlp must be"),
        (lambda: ntk_gram.empirical_ntk(net, None, x), "params must be"),
        (lambda: ntk_gram.empirical_ntk(net, params, x, block_size=0), "block_size"),
        (lambda: ntk_gram.empirical_ntk(net, params, x, batch_size=2.0), "batch_size"),
        (lambda: ntk_gram.gemm_flops(net, -1), "n1"),
        (lambda: ntk_gram.gemm_flops(net, 3, True), "n2"),
        (lambda: ntk_gram.gemm_flops("mlp", 3), "mlp must be"),
    ]:
        with pytest.raises(ValueError, match=match):
            call()
