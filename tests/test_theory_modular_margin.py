"""Exact properties of dltheory.theory.modular_margin (Morwani et al.'s margin, He et al.'s lottery flow)."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from dltheory.theory import grokking_modular as gm
from dltheory.theory import modular_margin as mm
from dltheory.verify.claims import grok

PRIMES = (3, 5, 7, 11, 13, 23)


@pytest.mark.parametrize("p", PRIMES)
def test_construction_attains_gamma_star_with_single_frequency_neurons(p):
    U, V, W = mm.max_margin_construction(p)
    assert U.shape == (4 * (p - 1), p) and W.shape == (p, 4 * (p - 1))
    np.testing.assert_allclose(mm.normalised_margin(U, V, W), gm.max_margin_quadratic(p), rtol=1e-12)
    f = gm.modular_addition_logits(U, V, W)
    y = (np.arange(p)[:, None] + np.arange(p)[None, :]) % p
    np.testing.assert_allclose(f, 2 * p * (np.arange(p) == y[..., None]) - 2, atol=1e-10)  # 2p [c = a+b] - 2
    share, weight = mm.top_frequency_share(U, V, W)
    np.testing.assert_allclose(share, 1.0, rtol=1e-12)
    np.testing.assert_allclose(weight, 1 / U.shape[0], rtol=1e-12)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1), st.floats(0.1, 10.0))
def test_margin_is_scale_and_permutation_invariant_and_norm_homogeneous(seed, c):
    rng = np.random.default_rng(seed)
    U, V, W = rng.standard_normal((5, 7)), rng.standard_normal((5, 7)), rng.standard_normal((7, 5))
    perm = rng.permutation(5)
    np.testing.assert_allclose(mm.l23_norm(c * U, c * V, c * W), c * mm.l23_norm(U, V, W), rtol=1e-12)
    g = mm.normalised_margin(U, V, W)
    np.testing.assert_allclose(mm.normalised_margin(c * U, c * V, c * W), g, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(mm.normalised_margin(U[perm], V[perm], W[:, perm]), g, rtol=1e-10, atol=1e-14)
    assert g <= gm.max_margin_quadratic(7) * (1 + 1e-12)  # Thm 7: no network beats gamma*


def test_l23_norm_by_hand():
    U = np.array([[3.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    V = np.array([[0.0, 4.0, 0.0], [1.0, 0.0, 0.0]])
    W = np.zeros((3, 2))
    assert mm.l23_norm(U, V, W) == pytest.approx((125.0 + 1.0) ** (1 / 3), rel=1e-14)


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**32 - 1), st.sampled_from([3, 5, 7, 11]))
def test_fourier_modes_reconstruct_rows(seed, p):
    w = np.random.default_rng(seed).standard_normal((4, p))
    alpha, phi = mm.fourier_modes(w)
    k, x = np.arange(1, (p - 1) // 2 + 1), np.arange(p)
    rebuilt = w.mean(axis=1, keepdims=True) + np.einsum(
        "nk,nkx->nx", alpha, np.cos(2 * np.pi * k[None, :, None] * x / p + phi[..., None])
    )
    np.testing.assert_allclose(rebuilt, w, atol=1e-12)


def test_misalignment_wraps_to_half_open_interval():
    d = mm.misalignment(np.array([0.0, np.pi / 2, 3.0, -3.0]), np.array([0.0, 0.0, 0.0, np.pi]))
    assert np.all(d > -np.pi) and np.all(d <= np.pi)
    np.testing.assert_allclose(np.exp(1j * d), np.exp(1j * np.array([0.0, np.pi, 6.0, -6.0 - np.pi])), atol=1e-12)


def test_flow_conserves_alpha2_minus_2beta2_and_aligns_phase():
    rng = np.random.default_rng(0)
    a, b, d = rng.uniform(0.1, 1, 50), rng.uniform(0.1, 1, 50), rng.uniform(-3, 3, 50)
    da, db, dd = mm.decoupled_flow_rhs(a, b, d, 11)
    np.testing.assert_allclose(2 * a * da - 4 * b * db, 0, atol=1e-12)
    assert np.all(dd * np.sin(d) <= 0)  # D is driven towards 0 (pi repels)


def test_flow_is_the_gradient_of_the_summed_ce_at_uniform_logits():
    """Derivation check: -grad of sum_{x,y} CE at uniform softmax, projected on frequency k, gives the ODE."""
    p, k = 11, 3
    rng = np.random.default_rng(1)
    x = np.arange(p)
    amp = rng.uniform(0.2, 1.0, 2)
    ph = rng.uniform(-np.pi, np.pi, 2)
    theta = amp[0] * np.cos(2 * np.pi * k * x / p + ph[0])
    xi = amp[1] * np.cos(2 * np.pi * k * x / p + ph[1])
    g = 1 / p - np.eye(p)[(x[:, None] + x[None, :]) % p]  # dCE/dlogit at uniform softmax, (x, y, j)
    h = theta[:, None] + theta[None, :]
    d_xi = -np.einsum("xyj,xy->j", g, h**2)
    s = np.einsum("xyj,j->xy", g, xi) * 2 * h
    d_theta = -(s.sum(axis=1) + s.sum(axis=0))

    def project(dw, a, phase):  # d/dt of (alpha, phi) of the frequency-k mode
        c = 2 * np.sum(dw * np.exp(-2j * np.pi * k * x / p)) / p * np.exp(-1j * phase)
        return c.real, c.imag / a

    (da, dphi), (db, dpsi) = project(d_theta, amp[0], ph[0]), project(d_xi, amp[1], ph[1])
    want = mm.decoupled_flow_rhs(amp[0], amp[1], mm.misalignment(ph[0], ph[1]), p)
    np.testing.assert_allclose([da, db, 2 * dphi - dpsi], [w.item() for w in want], rtol=1e-10)


def test_blowup_time_of_the_aligned_balanced_flow():
    """D = 0, alpha^2 = 2 beta^2: alpha' = sqrt 2 p alpha^2, T = 1 / (sqrt 2 p alpha0) exactly."""
    a0 = np.array([0.1, 0.3, 1.0])
    T = mm.blowup_times(a0, a0 / np.sqrt(2), np.zeros(3), 7)
    np.testing.assert_allclose(T, 1 / (np.sqrt(2) * 7 * a0), rtol=1e-6)
    later = mm.blowup_times(np.full(4, 0.3), np.full(4, 0.2), np.array([0.0, 0.5, 1.5, 2.5]), 7)
    assert np.all(np.diff(later) > 0)  # more misaligned: later
    assert np.isinf(mm.blowup_times(np.array([0.3]), np.array([0.1]), np.array([np.pi]), 7, max_steps=50)[0])


def test_lottery_rules_pick_the_planted_frequency():
    p, k = 11, 4
    rng = np.random.default_rng(2)
    x = np.arange(p)
    theta = 0.01 * rng.standard_normal((6, p)) + np.cos(2 * np.pi * k * x / p + 0.3)
    xi = 0.01 * rng.standard_normal((6, p)) + np.cos(2 * np.pi * k * x / p + 0.6)  # D = 0
    for rule in mm.RULES:
        np.testing.assert_array_equal(mm.lottery_winner(theta, xi, rule=rule), k)
    assert mm.lottery_scores(theta, xi).shape == (6, 5)


def test_claim_formulas_equal_the_numeric_functions():
    """The report's formulas are the ones the claims evaluate (grok.max_margin, grok.frequency_lottery)."""
    p = sp.Symbol("p", positive=True, integer=True)
    published = sp.lambdify(p, grok.max_margin_formulas()["published"])
    for q in PRIMES:
        assert published(q) == pytest.approx(gm.max_margin_quadratic(q), rel=1e-14)
    (alpha, beta, D), rhs, _, psym = grok.lottery_flow_formulas()
    a, b, d = sp.symbols("a b d")
    fns = [sp.lambdify((a, b, d, psym), r.subs({alpha: a, beta: b, D: d})) for r in rhs]
    vals = np.array([0.3, 0.7]), np.array([0.2, 0.1]), np.array([0.4, -2.0])
    for fn, want in zip(fns, mm.decoupled_flow_rhs(*vals, 13)):
        np.testing.assert_allclose(fn(*vals, 13), want, rtol=1e-14)


def test_invalid_input_raises():
    U, V, W = mm.max_margin_construction(5)
    with pytest.raises(ValueError, match="W"):
        mm.normalised_margin(U, V, W.T)
    with pytest.raises(ValueError, match="zero"):
        mm.normalised_margin(0 * U, 0 * V, 0 * W)
    with pytest.raises(ValueError, match="p must be a prime"):
        mm.max_margin_construction(9)
    with pytest.raises(ValueError, match="weights"):
        mm.fourier_modes(np.ones((2, 4)))
    with pytest.raises(ValueError, match="rule"):
        mm.lottery_scores(U, V, rule="largest")
    with pytest.raises(ValueError, match="alpha and beta"):
        mm.blowup_times(np.array([0.0]), np.array([1.0]), np.array([0.0]), 5)
    with pytest.raises(TypeError, match="phase"):
        mm.decoupled_flow_rhs(1.0, 1.0, 0.0, 5, phase="yes")
