"""grok.droplets: the Langevin sampler of the modular quadratic network, the finite-P mean-field solution of Rubin,
Seroussi & Ringel's eqs. 16 / 38, and the claim's formulas."""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp

from dltheory.simulators import langevin_two_layer as L
from dltheory.theory import grokking_modular as th
from dltheory.verify.claims import grok_droplets as gd


def _energy(state, P, sigma2, sigma_a2, gamma):
    """U of the module docstring, written directly (numpy reference for the numba gradient)."""
    u, v, at = state
    N = u.shape[0]
    h = u.T[:, None, :] + v.T[None, :, :]
    f = math.sqrt(sigma_a2 / N) * (h**2) @ at
    y = np.eye(P)[(np.arange(P)[:, None] + np.arange(P)[None, :]) % P] - 1 / P
    sext = lambda w: gamma * P / 6 * np.sum(np.abs(np.fft.fft(w, axis=1) / P) ** 6)  # noqa: E731
    return np.sum((f - y) ** 2) / (2 * sigma2) + 0.5 * np.sum(state**2) + sext(u) + sext(v)


def test_gradient_matches_finite_differences():
    P, N, args = 5, 3, (0.3, 0.7, 0.4)
    state = np.random.default_rng(0).standard_normal((3, N, P))
    grad = np.empty_like(state)
    angle = 2 * np.pi * np.outer(np.arange(P), np.arange(P)) / P
    fy = L._grad(state, grad, P, args[0], math.sqrt(args[1] / N), args[2], np.cos(angle), np.sin(angle))
    num = np.zeros_like(state)
    for idx in np.ndindex(state.shape):
        e = np.zeros_like(state)
        e[idx] = 1e-6
        num[idx] = (_energy(state + e, P, *args) - _energy(state - e, P, *args)) / 2e-6
    assert np.max(np.abs(num - grad)) <= 1e-7 * np.max(np.abs(grad))
    u, v, at = state  # <f, y> returned alongside
    f = math.sqrt(args[1] / N) * ((u.T[:, None, :] + v.T[None, :, :]) ** 2) @ at
    y = np.eye(P)[(np.arange(P)[:, None] + np.arange(P)[None, :]) % P] - 1 / P
    assert fy == pytest.approx(np.sum(f * y), rel=1e-12)


def test_prior_limit_is_sampled():
    """sigma_a2 -> 0 and gamma = 0: the posterior is the N(0, 1) prior; E-M's stationary variance is 1/(1 - dt/2)."""
    run = L.sample_modular_quadratic(5, 4, 1.0, 1e-12, 0.0, n_chains=4, n_steps=3000, n_burn=500, dt=0.05, seed=3)
    power = run.mode_product  # |u_k|^2 |v_k|^2, each |w_k|^2 ~ Exp(mean var / P) for k != 0
    var = 1 / (1 - 0.05 / 2)
    assert power.mean() == pytest.approx((var / 5) ** 2, rel=0.25)  # 4 x 4 x 2 products, SE ~ 12 %
    assert np.all(np.abs(run.a_mean + 1) < 1e-4)  # nothing learned: f ~ sqrt(sigma_a2 / N) ~ 1e-6


def test_seeded_runs_repeat_and_shapes():
    kw = dict(n_chains=2, n_steps=50, n_burn=10, dt=0.01, record_every=5)
    a = L.sample_modular_quadratic(5, 3, 0.05, 0.01, 0.5, seed=11, **kw)
    b = L.sample_modular_quadratic(5, 3, 0.05, 0.01, 0.5, seed=11, **kw)
    np.testing.assert_array_equal(a.learned, b.learned)
    assert a.learned.shape == (2, 8) and a.mode_product.shape == (2, 3, 2) and a.a_mean.shape == (2,)
    np.testing.assert_allclose(a.a_mean, a.learned.mean(axis=1) - 1, rtol=1e-14)


def test_divergence_raises():
    with pytest.raises(FloatingPointError, match="step"):
        L.sample_modular_quadratic(5, 2, 1.0, 1.0, 1e6, n_chains=1, n_steps=100, n_burn=0, dt=1.0, seed=0)


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(P=9), "P"),
        (dict(P=True), "P"),
        (dict(N=0), "N"),
        (dict(sigma2=-1.0), "sigma2"),
        (dict(gamma=float("nan")), "gamma"),
        (dict(n_burn=50), "n_burn"),
        (dict(dt=2.0), "dt"),
        (dict(seed=None), "seed"),
    ],
)
def test_sampler_rejects_bad_input(kw, match):
    args = dict(P=5, N=2, sigma2=0.1, sigma_a2=0.1, gamma=0.5, n_chains=1, n_steps=50, n_burn=0, dt=0.01, seed=0)
    with pytest.raises((ValueError, TypeError), match=match):
        L.sample_modular_quadratic(**(args | kw))


def test_mean_field_tends_to_the_closed_form_at_large_p():
    """The paper's parameters (P = 401, N = 1000, sigma_a^2 = 0.002 / N, gamma = 1e-4): the finite-P solution is the
    saddle point's a = -sigma^2 / sigma_c^2 to 1e-4 in the mixed phase and -1 (up to the O(sigma_a^2 / sigma^2) GP part)
    above sigma_c^2."""
    P, N, sa2, gamma = 401, 1000, 0.002 / 1000, 1e-4
    sc2, _ = th.rubin_modular_phase_boundaries(P, N, sa2, gamma)
    s2 = np.array([0.8, 1.3]) * sc2
    np.testing.assert_allclose(
        th.rubin_modular_mean_field_a(s2, P, N, sa2, gamma), gd.published_a(s2, P, N, sa2, gamma), atol=1e-4
    )


def test_mean_field_solves_eq_38_and_is_monotone():
    P, N, sa2, gamma = 7, 40, 0.003 / 40, 0.5
    s2 = np.array([0.004, 0.008, 0.02])
    a = th.rubin_modular_mean_field_a(s2, P, N, sa2, gamma)
    assert np.all((a > -1) & (a < 0)) and np.all(np.diff(a) < 0)
    for s, ai in zip(s2, a):  # a = -sigma^2 / (lambda + sigma^2), lambda / sigma^2 from the mode density
        lam = th._rubin_mode_lambda_ratio(ai, s, P, N, sa2, gamma)
        assert ai == pytest.approx(-1 / (lam + 1), abs=1e-10)
    assert th.rubin_modular_mean_field_a(0.01, P, N, sa2, gamma).shape == ()


def test_mean_field_quadrature_against_a_fine_grid():
    """lambda / sigma^2 by composite Gauss-Legendre against a brute-force 2-D trapezoid grid (relative 1e-3: the
    grid's O(h^2) error)."""
    P, N, sa2, gamma, s2, a = 7, 40, 0.003 / 40, 0.5, 0.008, -0.6
    g = 2 * sa2 * P**2 / (N * s2**2) * a * a
    s = np.linspace(0, 12, 2401)
    one = s / 2 + gamma / 6 * s**3
    expo = -2 * P * (one[:, None] + one[None, :] - g * np.outer(s, s))
    rho = np.exp(expo - expo.max())
    w = np.full(s.size, s[1])
    w[[0, -1]] /= 2
    rho *= np.outer(w, w)
    ref = 4 * sa2 * P**2 * np.sum(rho * np.outer(s, s)) / rho.sum() / s2
    assert th._rubin_mode_lambda_ratio(a, s2, P, N, sa2, gamma) == pytest.approx(ref, rel=1e-3)


@pytest.mark.parametrize("kw", [dict(P=8), dict(N=-1.0), dict(sigma2=[0.0]), dict(gamma=True)])
def test_mean_field_rejects_bad_input(kw):
    args = dict(sigma2=0.01, P=7, N=40, sigma_a2=1e-4, gamma=0.5)
    with pytest.raises((ValueError, TypeError), match=next(iter(kw))):
        th.rubin_modular_mean_field_a(**(args | kw))


def test_published_formula_is_the_theory_function():
    s2, P, N, sa2, g = gd._symbols()
    fn = sp.lambdify((s2, P, N, sa2, g), gd.droplet_formulas()["published"], "numpy")
    for point in [(0.001, 7, 64, 0.003 / 64, 0.5), (0.02, 7, 64, 0.003 / 64, 0.5), (0.2, 401, 1000, 2e-6, 1e-4)]:
        assert fn(*point) == pytest.approx(float(gd.published_a(*point)), rel=1e-12)
        sc2, _ = th.rubin_modular_phase_boundaries(*point[1:])
        assert float(gd.published_a(*point)) == pytest.approx(-min(1.0, point[0] / sc2), rel=1e-12)
    # the claim's prediction objects evaluate the formulas shown
    params = dict(P=7, N=64, gamma=0.5, sigma_a2_N=0.003)
    preds = gd._predictions(params)
    x = np.array([0.004, 0.006, 0.014])
    for name, expr in gd.droplet_formulas().items():
        ref = sp.lambdify((s2, P, N, sa2, g), expr, "numpy")(x, 7, 64, 0.003 / 64, 0.5)
        np.testing.assert_allclose(preds[name]["a"](x), ref, rtol=1e-12)
