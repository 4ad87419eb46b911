"""theory.linear_cnn and simulators.linear_cnn: the circular linear CNN, its per-frequency Saxe reduction, and the
formula shown by the dln.linear_cnn claim."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from dltheory.simulators import linear_cnn as sim
from dltheory.theory import deep_linear as dl
from dltheory.theory import linear_cnn as th
from dltheory.verify import registry
from dltheory.verify.claims import dln as claims


def _circ(z):
    """The circulant matrix with first column z (naive reference: (circ z) x = z (*) x)."""
    return np.stack([np.roll(z, j) for j in range(z.size)], axis=1)


def _naive_loss(w, v, a):
    B = sum(_circ(vc) @ _circ(wc) for wc, vc in zip(w, v))
    return 0.5 * np.sum((_circ(a) - B) ** 2)


def test_circulant_reference_is_circular_convolution():
    g = np.random.default_rng(0)
    z, x = g.standard_normal(6), g.standard_normal(6)
    np.testing.assert_allclose(_circ(z) @ x, np.fft.ifft(np.fft.fft(z) * np.fft.fft(x)).real, atol=1e-12)


def test_loss_and_one_gd_step_match_the_naive_network():
    g = np.random.default_rng(1)
    N, C, k = 6, 2, 3
    w, v, a = g.standard_normal((C, N)), g.standard_normal((C, N)), g.standard_normal(N)
    w[:, k:] = 0.0
    assert sim.loss(w, v, a) == pytest.approx(_naive_loss(w, v, a), rel=1e-12)
    eta, eps = 1e-3, 1e-6
    out = sim.train(w, v, a, eta=eta, n_steps=1, k=k)
    grad_w, grad_v = np.zeros_like(w), np.zeros_like(v)
    for idx in np.ndindex(w.shape):
        for P, G in ((w, grad_w), (v, grad_v)):
            d = np.zeros_like(P)
            d[idx] = eps
            plus = _naive_loss(w + d, v, a) if P is w else _naive_loss(w, v + d, a)
            minus = _naive_loss(w - d, v, a) if P is w else _naive_loss(w, v - d, a)
            G[idx] = (plus - minus) / (2 * eps)
    grad_w[:, k:] = 0.0
    np.testing.assert_allclose(out["w"], w - eta * grad_w, atol=1e-8)
    np.testing.assert_allclose(out["v"], v - eta * grad_v, atol=1e-8)


def test_balanced_init_is_aligned_and_each_frequency_follows_saxe():
    N, C = 8, 3
    w, v = sim.init_balanced(N, C, 0.05, seed=2)
    np.testing.assert_allclose(np.fft.fft(v, axis=1), np.conj(np.fft.fft(w, axis=1)), atol=1e-14)
    s = np.zeros(N)
    s[[1, 7]], s[[2, 6]] = 2.0, 1.0
    a = np.fft.ifft(s).real
    np.testing.assert_allclose(th.frequency_strengths(a), s, atol=1e-12)
    eta = 1e-4
    out = sim.train(w, v, a, eta=eta, n_steps=4000, record_every=100)
    tau = th.cnn_time_constant(N, eta)
    for omega in (1, 2):
        beta = out["beta"][:, omega]
        assert np.max(np.abs(beta.imag)) < 1e-12
        predicted = dl.mode_strength(out["steps"], s[omega], beta[0].real, tau=tau)
        np.testing.assert_allclose(beta.real, predicted, rtol=2 * eta * N * s[omega])  # GD's O(eta N s) lag


def test_half_time_formula_equals_the_numeric_prediction():
    expr, syms = claims.cnn_half_time_formula()
    f = sp.lambdify(syms, expr, "numpy")
    s, u0 = np.array([3.0, 0.5]), np.array([[0.1, 0.05]])
    published = claims._cnn_predictions(registry.get("dln.linear_cnn").quick)["published"]["t_half"]
    np.testing.assert_allclose(f(s, u0[0], 1e-3, 16.0), published(s, u0, 16, 1e-3)[0], rtol=1e-12)


def test_bad_input():
    with pytest.raises(ValueError, match="symmetric"):
        th.frequency_strengths([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="eta"):
        th.cnn_time_constant(8, 0.0)
    w, v = sim.init_balanced(4, 1, 0.1, seed=0)
    with pytest.raises(ValueError, match="kernel size"):
        sim.train(w, v, np.zeros(4), eta=0.1, n_steps=1, k=2)
    with pytest.raises(FloatingPointError, match="diverged"):
        sim.train(w, v, np.array([50.0, 0, 0, 0]), eta=10.0, n_steps=200)


def test_early_growth_rate_limits_and_formula():
    eta, N = 1e-3, 16
    assert th.early_growth_rate(2.0, 3, N, N, eta) == pytest.approx(2 * eta * N * 2.0, rel=1e-12)  # full kernel
    assert th.early_growth_rate(1.0, 1, N, 1, eta) == pytest.approx(2 * eta * np.sqrt(2 * N), rel=1e-12)  # |D_1| = 1
    assert th.early_growth_rate(1.0, 1, N, 8, eta) == pytest.approx(2 * eta * np.sqrt(8 * N), rel=1e-12)  # D_8(2) = 0
    rate, syms = claims.cnn_growth_formula()
    f = sp.lambdify(syms, rate, "numpy")
    for k in (1, 2, 3, 5, 12):
        for omega in (1, 3, 7):
            assert f(eta, 0.7, N, k, omega) == pytest.approx(th.early_growth_rate(0.7, omega, N, k, eta), rel=1e-12)
    with pytest.raises(ValueError, match="omega"):
        th.early_growth_rate(1.0, 8, N, 4, eta)  # 2 omega = N: the frequency is its own conjugate


def test_early_growth_rate_matches_gd_with_a_small_kernel():
    N, k, omega, eta = 16, 3, 1, 2e-3
    s = np.zeros(N)
    s[[omega, N - omega]] = 1.0
    g = np.random.default_rng(4)
    w, v = 1e-7 * g.standard_normal((2, N)), 1e-7 * g.standard_normal((2, N))
    w[:, k:] = 0.0
    beta = np.abs(sim.train(w, v, np.fft.ifft(s).real, eta=eta, n_steps=700, k=k)["beta"][:, omega])
    per_step = np.log(beta[700] / beta[400]) / 300
    assert 2 * np.expm1(per_step / 2) == pytest.approx(th.early_growth_rate(1.0, omega, N, k, eta), rel=1e-3)
