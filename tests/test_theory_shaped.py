"""Exact unit tests for dltheory.theory.shaped: golden values, Ito consistency (sympy), quadrature, symmetries, bad input."""

import math

import numpy as np
import pytest
import sympy as sp
from hypothesis import given
from hypothesis import strategies as st
from scipy.integrate import quad
from scipy.special import polygamma, psi, roots_hermitenorm
from scipy.stats import binom

from dltheory.theory import shaped as th

V3 = np.array([[1.2, 0.3, 0.1], [0.3, 0.8, 0.5], [0.1, 0.5, 1.0]])


def _gauss2(f, V, nodes=80):
    """E f(z1, z2) for z ~ N(0, V) (2 x 2) by tensor Gauss-Hermite quadrature."""
    x, w = roots_hermitenorm(nodes)
    w = w / w.sum()
    L = np.linalg.cholesky(V)
    g1, g2 = np.meshgrid(x, x, indexing="ij")
    z1, z2 = L[0, 0] * g1, L[1, 0] * g1 + L[1, 1] * g2
    return float(np.einsum("i,j,ij->", w, w, f(z1, z2)))


# ----------------------------------------------------------------------------- shaped ReLU


def test_nu_golden_values_and_derivative():
    d2 = (1.0 - (-1.0)) ** 2
    assert th.relu_nu(1.0, 1, -1) == pytest.approx(0.0, abs=1e-15)
    assert th.relu_nu(0.0, 1, -1) == pytest.approx(d2 / (2 * math.pi), rel=1e-14)
    assert th.relu_nu(-1.0, 1, -1) == pytest.approx(d2 / 2, rel=1e-14)
    r, h = 0.3, 1e-6
    fd = (th.relu_nu(r + h, 1, -1) - th.relu_nu(r - h, 1, -1)) / (2 * h)
    assert fd == pytest.approx(-d2 / (2 * math.pi) * math.acos(r), rel=1e-8)


def test_only_difference_of_shaping_constants_enters_the_limit():
    rho = np.linspace(-1, 1, 11)
    a, b = th.relu_correlation_sde(0, -2), th.relu_correlation_sde(1, -1)
    np.testing.assert_allclose(a.drift(rho), b.drift(rho), atol=1e-15)
    np.testing.assert_allclose(a.diffusion(rho), 1 - rho**2)


def test_correlation_sde_fixed_point_and_ito_variant():
    s, s_noito = th.relu_correlation_sde(0, -2), th.relu_correlation_sde(0, -2, ito=False)
    assert s.drift(1.0) == pytest.approx(0.0, abs=1e-15) and s.diffusion(1.0) == 0.0
    assert s.drift(-1.0) > 0  # pushed inward at rho = -1
    rho = np.linspace(-0.9, 0.9, 7)
    np.testing.assert_allclose(s_noito.drift(rho) - s.drift(rho), 0.5 * rho * (1 - rho**2), atol=1e-15)


def test_correlation_sde_is_ito_image_of_covariance_sde():
    """Ito's formula on rho = V12 / sqrt(V11 V22) with b = nu sqrt(V11 V22) e_12 and Sigma_lin (sympy, exact)."""
    a, c, d, nu = sp.symbols("a c d nu", positive=True)
    V = {(0, 0): a, (0, 1): c, (1, 1): d}
    keys = list(V)
    rho = c / sp.sqrt(a * d)
    M = sp.Matrix([[a, c], [c, d]])
    Sig = {(p, q): M[p[0], q[0]] * M[p[1], q[1]] + M[p[0], q[1]] * M[p[1], q[0]] for p in keys for q in keys}
    drift = sp.diff(rho, c) * nu * sp.sqrt(a * d)
    drift += sp.Rational(1, 2) * sum(sp.diff(rho, V[p], V[q]) * Sig[p, q] for p in keys for q in keys)
    qv = sum(sp.diff(rho, V[p]) * sp.diff(rho, V[q]) * Sig[p, q] for p in keys for q in keys)
    r = sp.Symbol("r")
    sub = {c: r * sp.sqrt(a * d)}
    assert sp.simplify(drift.subs(sub) - (nu - r * (1 - r**2) / 2)) == 0
    assert sp.simplify(qv.subs(sub) - (1 - r**2) ** 2) == 0


@pytest.mark.parametrize("c_plus, c_minus, n, rho", [(0, -2, 16, 0.3), (1, -1, 64, -0.5), (0.5, -3, 25, 0.9)])
def test_exact_one_layer_map_matches_quadrature(c_plus, c_minus, n, rho):
    """Polar coordinates: phi is positively homogeneous, so E[phi(z1) phi(z2)] = E[R^2]/(2 pi) int f(theta) dtheta
    with E R^2 = 2; the angular integrand is smooth between the kinks, which are passed to quad as breakpoints."""
    s_plus, s_minus, c = th.relu_slopes(c_plus, c_minus, n)
    phi = lambda x: s_plus * x if x > 0 else s_minus * x  # noqa: E731
    a = math.acos(rho)  # z1 = cos(t), z2 = cos(t - a) have unit variance and correlation rho
    f = lambda t: phi(math.cos(t)) * phi(math.cos(t - a))  # noqa: E731
    kinks = sorted({(k * math.pi / 2 + off) % (2 * math.pi) for k in (1, 3) for off in (0, a)})
    K = c * 2 / (2 * math.pi) * quad(f, 0, 2 * math.pi, points=kinks, limit=200, epsabs=1e-13)[0]
    assert th.relu_correlation_map(rho, c_plus, c_minus, n) == pytest.approx(K, abs=1e-11)


def test_kappa_tends_to_limit_strength_at_rate_one_over_sqrt_n():
    ns = np.array([1e2, 1e4, 1e6])
    rel = np.array([4 * n * th.relu_kappa(0, -2, int(n)) / 4 - 1 for n in ns])
    np.testing.assert_allclose(rel * np.sqrt(ns), 2.0, rtol=0.25)  # -(c+ + c-)/sqrt(n) = 2/sqrt(n) leading
    assert th.relu_correlation_sde(0, -2, n=10**8).strength == pytest.approx(4.0, rel=1e-3)


def test_covariance_drift_diagonal_zero_and_stacks():
    b = th.relu_covariance_drift(V3, 0, -2)
    assert np.all(np.diag(b) == 0) and np.allclose(b, b.T)
    np.testing.assert_allclose(th.relu_covariance_drift(np.stack([V3, 3 * V3]), 0, -2)[1], 3 * b, rtol=1e-13)


@given(st.lists(st.floats(-2, 2), min_size=6, max_size=6))
def test_wishart_diffusion_is_symmetric_psd_tensor(x):
    A = np.array(x).reshape(2, 3)
    V = A.T @ A + 0.1 * np.eye(3)
    S = th.wishart_diffusion(V)
    assert np.allclose(S, S.transpose(2, 3, 0, 1)) and np.allclose(S, S.transpose(1, 0, 2, 3))
    assert np.linalg.eigvalsh(S.reshape(9, 9)).min() > -1e-10


# ----------------------------------------------------------------------------- smooth activations


@pytest.mark.parametrize(
    "phi, phi2, phi3", [(np.tanh, 0.0, -2.0), (lambda x: np.tanh(x) + 0.5 * np.tanh(x) ** 2, 1.0, -2.0)]
)
def test_smooth_drift_matches_quadrature_at_large_n(phi, phi2, phi3):
    n, a = 10**6, 1.0
    s = a * math.sqrt(n)
    V = np.array([[1.1, 0.4], [0.4, 0.9]])
    b = th.smooth_drift(V, phi2, phi3, a)
    phi_s = lambda x: s * phi(x / s)  # noqa: E731
    for i, j in [(0, 0), (0, 1), (1, 1)]:
        val = _gauss2(lambda x, y: phi_s((x, y)[i]) * phi_s((x, y)[j]), V, nodes=60)
        # relative error O(1/n) = 1e-6 plus quadrature round-off of n * (E - V) ~ n * 1e-15 = 1e-9
        assert n * (val - V[i, j]) == pytest.approx(b[i, j], rel=2e-3, abs=1e-6)


def test_blow_up_criterion():
    assert th.smooth_norm_beta(0.0, -2.0, 2.0) == pytest.approx(-0.5)  # tanh: -2/a^2
    assert not th.smooth_norm_blows_up(0.0, -2.0, 1.0)
    assert th.smooth_norm_blows_up(2.0, 0.0, 1.0)  # phi''(0)^2 3/4 > 0


# ----------------------------------------------------------------------------- norms


def test_log_norm_law():
    assert th.shaped_log_norm_law(1.5, 2.0) == pytest.approx((math.log(2) - 1.5, 3.0))


def test_log_factor_moments_linear_case_closed_form():
    m, v = th.relu_log_factor_moments(1.3, 1.3, 20)
    assert m == pytest.approx(psi(10) - math.log(10), abs=1e-13)
    assert v == pytest.approx(polygamma(1, 10), abs=1e-13)


def test_log_factor_mean_matches_laplace_integral():
    """E log F = int_0^inf (e^-t - M(t)^n)/t dt, M the Laplace transform of one unit (reference note sec. 1.5)."""
    n, s_plus, s_minus = 12, 1.3, 0.6
    c = 2 / (s_plus**2 + s_minus**2)
    M = lambda t: 0.5 * (1 + 2 * t * c * s_plus**2 / n) ** -0.5 + 0.5 * (1 + 2 * t * c * s_minus**2 / n) ** -0.5  # noqa
    val = quad(lambda t: (math.exp(-t) - M(t) ** n) / t, 0, np.inf, limit=200, epsabs=1e-12)[0]
    assert th.relu_log_factor_moments(s_plus, s_minus, n)[0] == pytest.approx(val, abs=1e-9)


@pytest.mark.parametrize(
    "n, mean, var",
    [(32, -2.641, 5.680), (64, -2.567, 5.312), (128, -2.533, 5.150), (256, -2.516, 5.074), (1024, -2.504, 5.018)],
)
def test_hanin_nica_golden_values(n, mean, var):
    m, v = th.hanin_nica_log_norm_moments([n] * n)
    assert (m, v) == (pytest.approx(mean, abs=6e-4), pytest.approx(var, abs=6e-4))


def test_hanin_nica_moment_ratio_from_the_exact_law():
    for n in (4, 10, 33):
        N = np.arange(n + 1)
        EF2 = (2 / n) ** 2 * float(binom.pmf(N, n, 0.5) @ (N**2 + 2 * N))  # E (chi^2_N)^2 = N^2 + 2N
        assert EF2 == pytest.approx(1 + 5 / n, rel=1e-13)
    assert th.hanin_nica_moment_ratio([10, 20]) == pytest.approx(1.5 * 1.25)
    assert th.hanin_nica_log_normal_limit([4, 4]) == pytest.approx((-1.25, 2.5))


# ----------------------------------------------------------------------------- attention


def test_attention_drift_equals_softmax_expansion_moments():
    """b = (gamma^2/tau0^2)(E[D1 V D1^T] + E[D2] V + V E[D2]^T), with the Gaussian moments written out."""
    g, t0, m = math.sqrt(0.5), 1.3, 3
    P = np.eye(m) - 1 / m
    d = np.diag(P @ V3 @ P)
    E2 = np.outer(np.diag(V3), d - d.mean()) / (2 * m)
    expect = g**2 / t0**2 * (np.trace(P @ V3 @ P @ V3) / m**2 * V3 + E2 @ V3 + V3 @ E2.T)
    np.testing.assert_allclose(th.attention_drift(V3, g, t0), expect, rtol=1e-13)


def test_attention_homogeneity_degrees():
    """Drift is degree 3 in V; Sigma_lin degree 2, Sigma_attn degree 4 (the note's 'degree 2' is wrong)."""
    g, t0 = 0.8, 1.0
    np.testing.assert_allclose(th.attention_drift(2 * V3, g, t0), 8 * th.attention_drift(V3, g, t0), rtol=1e-13)
    S1, S2 = th.attention_diffusion(V3, g, t0), th.attention_diffusion(2 * V3, g, t0)
    lin = g**2 * (2 - g**2) * th.wishart_diffusion(V3)
    np.testing.assert_allclose(S2 - 4 * lin, 16 * (S1 - lin), rtol=1e-12)


def test_attention_diffusion_symmetries_and_psd():
    S = th.attention_diffusion(V3, 0.7, 0.9)
    assert np.allclose(S, S.transpose(2, 3, 0, 1)) and np.allclose(S, S.transpose(1, 0, 2, 3))
    assert np.linalg.eigvalsh(S.reshape(9, 9)).min() > -1e-12


def test_attention_terms_vanish_on_collapsed_set():
    C = 1.7 * np.ones((3, 3))  # V = c 1 1^T: P V = 0
    assert np.allclose(th.attention_drift(C, 0.7, 1.0), 0)
    S = th.attention_diffusion(C, 0.7, 1.0)
    np.testing.assert_allclose(S, 0.7**2 * (2 - 0.7**2) * th.wishart_diffusion(C), atol=1e-14)


def test_rank_collapse_factors():
    lam = math.sqrt(0.5)
    assert th.uniform_attention_difference_energy(V3, lam, 4) == pytest.approx(
        0.5**4 * np.trace((np.eye(3) - 1 / 3) @ V3 @ (np.eye(3) - 1 / 3))
    )
    f = th.unshaped_attention_collapse_factor(V3, lam, lam, 1.0, 100)
    assert 0.5 < f < 0.5 + 1e-2


# ----------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: th.relu_covariance_drift([[1, 0.2], [0.3, 1]], 0, -2), "symmetric"),
        (lambda: th.relu_covariance_drift([[1, 2], [2, 1]], 0, -2), "positive semi-definite"),
        (lambda: th.attention_drift([[1, 0], [0, -1]], 0.5, 1), "positive semi-definite"),
        (lambda: th.shaped_log_norm_law(0.0), "T must be"),
        (lambda: th.shaped_log_norm_law(-1.0), "T must be"),
        (lambda: th.relu_slopes(0, -2, 1), "n must be an integer >= 2"),
        (lambda: th.relu_slopes(0, -5, 16), "c_plus, c_minus > -sqrt"),
        (lambda: th.relu_correlation_sde(np.nan, 0), "c_plus"),
        (lambda: th.relu_nu(1.5, 0, -2), "rho must lie"),
        (lambda: th.hanin_nica_moment_ratio([1, 4]), "n must be an integer >= 2"),
        (lambda: th.attention_diffusion(V3, 1.5, 1.0), "gamma must lie"),
        (lambda: th.attention_diffusion(V3, 0.5, 0.0), "tau0"),
        (lambda: th.unshaped_attention_collapse_factor(V3, 0.5, 0.5, 1.0, 10), "lam\\^2 \\+ gamma\\^2"),
        (lambda: th.smooth_drift(V3, 0, -2, -1), "a must be"),
    ],
)
def test_bad_input_raises(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def test_block_coefficients_add_sublayers():
    g, t0 = math.sqrt(0.5), 0.9
    np.testing.assert_allclose(
        th.block_drift(V3, g, t0, 1, -1),
        th.attention_drift(V3, g, t0) + 0.5 * th.relu_covariance_drift(V3, 1, -1),
        rtol=1e-14,
    )
    lin, attn = th.block_noise_scales(g, t0)
    S = th.block_diffusion(V3, g, t0)
    np.testing.assert_allclose(S - th.attention_diffusion(V3, g, t0), 2 * g**2 * th.wishart_diffusion(V3), atol=1e-14)
    assert lin**2 == pytest.approx(g**2 * (2 - g**2) + 2 * g**2) and attn == pytest.approx(g**2 / t0)


# ----------------------------------------------------------------------------- added: exact checks of constants


@pytest.mark.parametrize("phi2, phi3, a", [(1.0, -2.0, 1.0), (0.5, 0.3, 2.0), (2.0, 0.0, 1.5)])
def test_smooth_norm_beta_from_the_second_moment_of_a_polynomial_activation(phi2, phi3, a):
    """phi(x) = x + phi2 x^2/2 + phi3 x^3/6, phi_s(z) = s phi(z/s), s = a sqrt(n): n (E phi_s(z)^2 - v) =
    (3 phi2^2/4 + phi3) v^2 / a^2 + O(1/n) (Gauss-Hermite quadrature is exact for this polynomial). phi2 != 0
    separates 3/4 phi2^2 from phi2^2/4 and from phi2^4."""
    n, v = 10**6, 1.3
    s = a * math.sqrt(n)
    x, w = roots_hermitenorm(8)
    z = math.sqrt(v) * x
    phi_s = z + phi2 * z**2 / (2 * s) + phi3 * z**3 / (6 * s**2)
    slope = n * (float(w @ phi_s**2) / float(w.sum()) - v)
    assert slope == pytest.approx(th.smooth_norm_beta(phi2, phi3, a) * v**2, rel=1e-4)  # O(1/n) = 1e-6 relative
    assert th.smooth_drift(np.array([[v]]), phi2, phi3, a)[0, 0] == pytest.approx(
        th.smooth_norm_beta(phi2, phi3, a) * v**2
    )


def test_hanin_nica_moment_ratio_equals_the_exact_product_law_for_mixed_widths():
    widths = [4, 10, 33, 7]
    ratio = 1.0
    for n in widths:  # F = (2/n) chi^2_N, N ~ Bin(n, 1/2): E F = 1, E F^2 = (2/n)^2 E[N^2 + 2N]
        N = np.arange(n + 1)
        p = binom.pmf(N, n, 0.5)
        assert (2 / n) * float(p @ N) == pytest.approx(1.0, rel=1e-13)
        ratio *= (2 / n) ** 2 * float(p @ (N**2 + 2 * N))
    assert th.hanin_nica_moment_ratio(widths) == pytest.approx(ratio, rel=1e-13)


def test_attention_drift_parts_are_the_first_and_second_order_softmax_terms():
    g, t0, m = 0.8, 0.7, 3
    P = np.eye(m) - 1 / m
    d = np.diag(P @ V3 @ P)
    E2 = np.outer(np.diag(V3), d - d.mean()) / (2 * m)  # E[D2] with the Taylor 1/2
    first, second = th.attention_drift_parts(V3, g, t0)
    np.testing.assert_allclose(first, g**2 / t0**2 * np.trace(P @ V3 @ P @ V3) / m**2 * V3, rtol=1e-13)
    np.testing.assert_allclose(second, g**2 / t0**2 * (E2 @ V3 + V3 @ E2.T), rtol=1e-13)
    np.testing.assert_allclose(first + second, th.attention_drift(V3, g, t0), rtol=1e-14)


def test_backward_kolmogorov_solver_against_jacobi_diffusion_moments():
    """dX = -theta X dt + sqrt(theta (1 - X^2)) dW on [-1, 1]: E X_t = x0 e^{-theta t},
    E X_t^2 = 1/3 + (x0^2 - 1/3) e^{-3 theta t} (closed moment equations)."""
    theta, T, x0 = 1.3, 0.7, np.array([0.5, -0.3, 0.9])
    got = th._backward_kolmogorov_moments(
        lambda x: -theta * x,
        lambda x: np.sqrt(np.clip(theta * (1 - x**2), 0, None)),
        x0,
        T,
        (1, 2),
        grid=401,
        steps=400,
    )
    exact = np.stack([x0 * np.exp(-theta * T), 1 / 3 + (x0**2 - 1 / 3) * np.exp(-3 * theta * T)], axis=1)
    np.testing.assert_allclose(got, exact, atol=2e-5)  # O(h^2 + dt^2): 6e-6 measured at this grid


def test_correlation_moments_short_time_generator_and_fixed_point():
    """(E f(rho_t) - f(rho0))/t -> L f(rho0) = b f' + (1/2)(1 - rho^2)^2 f'' for f = rho, rho^2; rho0 = 1 stays."""
    s, t, r0 = th.relu_correlation_sde(0, -2), 1e-3, np.array([-0.6, 0.2, 0.7])
    m = th.relu_correlation_moments(s, r0, t, grid=2001, steps=50)
    b, q = s.drift(r0), s.diffusion(r0) ** 2
    np.testing.assert_allclose((m[:, 0] - r0) / t, b, rtol=1e-2, atol=1e-3)  # O(t) = 1e-3 relative remainder
    np.testing.assert_allclose((m[:, 1] - r0**2) / t, 2 * r0 * b + q, rtol=1e-2, atol=1e-3)
    np.testing.assert_allclose(th.relu_correlation_moments(s, 1.0, 0.5), [[1.0, 1.0]], atol=1e-12)
    with pytest.raises(TypeError, match="ReluCorrelationSDE"):
        th.relu_correlation_moments(lambda r: r, 0.3, 1.0)
    with pytest.raises(ValueError, match="rho0"):
        th.relu_correlation_moments(s, 1.5, 1.0)
