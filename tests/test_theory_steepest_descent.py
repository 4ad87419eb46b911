"""Unit tests of dltheory.theory.steepest_descent: directions, dual norms, Prop. 1's step, Shampoo's form, bad input."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from dltheory.theory import steepest_descent as th

NORM = {
    "l_inf": lambda T: np.abs(T).max(),
    "frobenius": np.linalg.norm,
    "spectral": lambda T: np.linalg.norm(T, 2),
}
MATRICES = hnp.arrays(
    float, st.tuples(st.integers(1, 5), st.integers(1, 5)), elements=st.floats(-10, 10, allow_subnormal=False)
)


@pytest.mark.parametrize("shape", [(4, 6), (6, 6), (7, 3), (1, 5)])
def test_directions_attain_the_dual_norm_on_the_unit_sphere(shape):
    G = np.random.default_rng(sum(shape)).standard_normal(shape)
    s = np.linalg.svd(G, compute_uv=False)
    expected = {"l_inf": np.abs(G).sum(), "frobenius": np.linalg.norm(G), "spectral": s.sum()}
    for norm in th.NORMS:
        T = th.steepest_direction(G, norm)
        assert abs(NORM[norm](T) - 1) < 1e-13
        assert abs(np.sum(G * T) - th.dual_norm(G, norm)) < 1e-12 * th.dual_norm(G, norm)
        assert abs(th.dual_norm(G, norm) - expected[norm]) < 1e-12 * expected[norm]


@pytest.mark.parametrize("shape", [(4, 6), (6, 6), (7, 3)])
def test_shampoo_form_is_u_vt(shape):
    G = np.random.default_rng(7).standard_normal(shape)
    U, _, Vt = np.linalg.svd(G, full_matrices=False)
    np.testing.assert_allclose(th.shampoo_direction(G), U @ Vt, atol=1e-12)
    np.testing.assert_allclose(th.steepest_direction(G, "spectral"), U @ Vt, atol=1e-13)
    # (G G^T)^(-1/2) G is U V^T as well (full row rank): no mistake, hence not a control of the claim
    lam, Q = np.linalg.eigh(G @ G.T) if shape[0] <= shape[1] else (None, None)
    if lam is not None:
        np.testing.assert_allclose((Q * lam**-0.5) @ Q.T @ G, U @ Vt, atol=1e-12)


def test_rank_deficient_spectral_direction():
    g = np.random.default_rng(8)
    G = g.standard_normal((5, 2)) @ g.standard_normal((2, 6))  # rank 2
    U, _, Vt = np.linalg.svd(G, full_matrices=False)
    for T in (th.steepest_direction(G, "spectral"), th.shampoo_direction(G)):
        np.testing.assert_allclose(T, U[:, :2] @ Vt[:2], atol=1e-10)
        assert abs(np.sum(G * T) - th.dual_norm(G, "spectral")) < 1e-10


def test_zero_gradient():
    Z = np.zeros((2, 3))
    for norm in th.NORMS:
        assert not np.any(th.steepest_direction(Z, norm)) and th.dual_norm(Z, norm) == 0
    assert not np.any(th.shampoo_direction(Z))


@settings(max_examples=40)
@given(MATRICES, st.sampled_from(th.NORMS), st.floats(0.1, 10), st.integers(0, 2**31))
def test_steepest_step_minimises_the_model(G, norm, lam, seed):
    """Prop. 1: dW* = -(||G||_dual / lam) T minimises <G, dW> + lam/2 ||dW||^2; random dW and rescalings do no better."""
    step = th.steepest_step(G, norm, lam)
    model = lambda D: np.sum(G * D) + lam / 2 * NORM[norm](D) ** 2
    best = model(step)
    assert abs(best + th.dual_norm(G, norm) ** 2 / (2 * lam)) <= 1e-9 * (1 + th.dual_norm(G, norm) ** 2 / lam)
    g = np.random.default_rng(seed)
    scale = th.dual_norm(G, norm) / lam + 1
    for D in scale * g.standard_normal((20,) + G.shape):
        assert model(D) >= best - 1e-9 * (1 + abs(best))
    for c in (0.5, 0.9, 1.1, 2.0):
        assert model(c * step) >= best - 1e-9 * (1 + abs(best))


@settings(max_examples=40)
@given(MATRICES)
def test_sign_direction(G):
    assert np.array_equal(th.steepest_direction(G, "l_inf"), np.sign(G))


@pytest.mark.parametrize(
    "call",
    [
        lambda: th.dual_norm(np.ones((2, 2)), "l2"),
        lambda: th.dual_norm(np.ones(3), "l_inf"),
        lambda: th.steepest_direction(np.array([[np.nan, 1.0]]), "spectral"),
        lambda: th.steepest_direction(None, "spectral"),
        lambda: th.steepest_direction(np.ones((2, 2), bool), "spectral"),
        lambda: th.steepest_direction(np.ones((2, 2), complex), "spectral"),
        lambda: th.steepest_step(np.ones((2, 2)), "frobenius", 0.0),
        lambda: th.steepest_step(np.ones((2, 2)), "frobenius", True),
        lambda: th.shampoo_direction(np.ones((0, 2))),
        lambda: th.shampoo_direction("G"),
    ],
)
def test_invalid_input_raises(call):
    with pytest.raises((ValueError, TypeError)):
        call()
