"""Exact unit tests for dltheory.theory.signal_propagation (golden values: references/ntk.md sec. 6)."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dltheory.theory import signal_propagation as sp
from dltheory.theory.gaussian import bivariate_expectation, gaussian_expectation
from dltheory.theory.spec import SELU_ALPHA, SELU_LAMBDA


@pytest.mark.parametrize(
    "sigma_b2, sigma_w2", [(0.01, 1.424205), (0.05, 1.760955), (0.1, 1.986073), (0.3, 2.505127), (0.0, 1.0)]
)
def test_tanh_edge_of_chaos_golden(sigma_b2, sigma_w2):
    assert sp.edge_of_chaos(sigma_b2, activation="tanh") == pytest.approx(sigma_w2, abs=2e-6)


def test_tanh_depth_scales_golden():
    ds = sp.depth_scales(sigma_w2=1.5, sigma_b2=0.05, activation="tanh")
    assert ds["q_star"] == pytest.approx(0.418037, abs=1e-6)
    assert ds["chi_1"] == pytest.approx(0.938636, abs=1e-6)
    assert ds["xi_q"] == pytest.approx(1.6828, abs=1e-4)
    assert ds["xi_c"] == pytest.approx(15.791, abs=1e-3)
    assert ds["c_star"] == 1.0


def test_chaotic_fixed_point_and_chi_par_are_consistent():
    ds = sp.depth_scales(sigma_w2=4.0, sigma_b2=0.05, activation="tanh")
    q = ds["q_star"]
    assert ds["chi_1"] > 1 and 0 < ds["c_star"] < 1
    assert sp.c_map(ds["c_star"], q_star=q, sigma_w2=4.0, sigma_b2=0.05, activation="tanh") == pytest.approx(
        ds["c_star"], abs=1e-12
    )
    h = 1e-5
    F = lambda x: sp.q_map(x, sigma_w2=4.0, sigma_b2=0.05, activation="tanh")
    assert ds["chi_par"] == pytest.approx((F(q + h) - F(q - h)) / (2 * h), rel=1e-7)
    assert ds["xi_q"] == pytest.approx(-1 / math.log(ds["chi_par"]), rel=1e-12)


@given(st.floats(-0.999, 0.999), st.floats(0.1, 5.0))
def test_relu_c_map_equals_split_quadrature(c, q):
    assert sp.c_map(c, q_star=q, sigma_w2=2.0, sigma_b2=0.0, activation="relu") == pytest.approx(
        float(sp.relu_c_map(c)), abs=1e-12
    )


@given(st.floats(0.1, 3.0), st.floats(0.1, 3.0), st.floats(-0.99, 0.99))
def test_bivariate_expectation_moments(q11, q22, c):
    q12 = c * math.sqrt(q11 * q22)
    assert bivariate_expectation(lambda u: u, lambda u: u, q11, q22, q12) == pytest.approx(q12, abs=1e-12)
    step = lambda u: (u > 0).astype(float)
    # P(u1 > 0, u2 > 0) = 1/4 + arcsin(c)/(2 pi) (Sheppard): exact only with the kink-split inner panels
    assert bivariate_expectation(step, step, q11, q22, q12, (0.0,)) == pytest.approx(
        0.25 + math.asin(c) / (2 * math.pi), abs=1e-12
    )


def test_degenerate_correlation_reduces_to_one_dimension():
    f = lambda u: np.tanh(u) ** 2
    assert bivariate_expectation(np.tanh, np.tanh, 0.7, 0.7, 0.7) == pytest.approx(
        gaussian_expectation(f, 0.7), abs=1e-14
    )


def test_relu_critical_rate():
    """(1 - c^l) l^2 -> 9 pi^2/2 on the ReLU edge of chaos; expansion f(1 - u) = 1 - u + (2u)^{3/2}/(3 pi) + O(u^{5/2})."""
    c = sp.relu_critical_correlation(0.0, 10_000)
    assert (1 - c[-1]) * 10_000**2 == pytest.approx(sp.RELU_CRITICAL_CONSTANT, rel=5e-3)
    assert sp.RELU_CRITICAL_CONSTANT == pytest.approx(44.41321980490211, rel=1e-15)
    for u in (1e-2, 1e-3, 1e-4):
        rem = float(sp.relu_c_map(1 - u)) - (1 - u + (2 * u) ** 1.5 / (3 * math.pi))
        assert abs(rem) < 0.1 * u**2.5


def test_relu_and_tanh_edges():
    assert sp.edge_of_chaos(0.0, activation="relu") == pytest.approx(2.0, rel=1e-13)
    with pytest.raises(ValueError, match="sigma_b2 = 0"):
        sp.edge_of_chaos(0.1, activation="relu")
    with pytest.raises(ValueError, match="fixed point"):
        sp.q_fixed_point(sigma_w2=3.0, sigma_b2=0.0, activation="relu")


def test_selu_constants_solved_from_defining_equations():
    lam, alpha = sp.selu_parameters()
    assert lam == pytest.approx(1.0507009873555, abs=1e-12) and alpha == pytest.approx(1.6732632423544, abs=1e-12)
    assert (lam, alpha) == pytest.approx((SELU_LAMBDA, SELU_ALPHA), abs=1e-13)
    act = sp.selu(lam, alpha)
    assert gaussian_expectation(act.phi, 1.0, act.kinks) == pytest.approx(0.0, abs=1e-14)
    assert sp.q_fixed_point(sigma_w2=1.0, sigma_b2=0.0, activation=act, q0=3.0) == pytest.approx(1.0, abs=1e-12)
    assert sp.chi_1(sigma_w2=1.0, sigma_b2=0.0, activation=act) == pytest.approx(1.07157, abs=1e-5)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: sp.q_map(1.0, sigma_w2=-1.0, sigma_b2=0.0, activation="tanh"), "sigma_w2"),
        (lambda: sp.q_map(1.0, sigma_w2=1.0, sigma_b2=-0.1, activation="tanh"), "sigma_b2"),
        (lambda: sp.q_map(float("nan"), sigma_w2=1.0, sigma_b2=0.0, activation="tanh"), "q"),
        (lambda: sp.q_map(1.0, sigma_w2=1.0, sigma_b2=0.0, activation="swish"), "activation"),
        (lambda: sp.kernel_iterates(1.0, 1.0, 0.5, 0, sigma_w2=1.0, sigma_b2=0.0, activation="tanh"), "depth"),
        (lambda: bivariate_expectation(np.tanh, np.tanh, 1.0, 1.0, 1.5), "q12"),
        (lambda: sp.relu_critical_correlation(1.5, 3), "c0"),
        (lambda: sp.selu(-1.0, 1.0), "lam"),
    ],
)
def test_bad_input_raises(call, match):
    with pytest.raises(ValueError, match=match):
        call()


def _gauss(f, q=1.0) -> float:
    """int Dz f(sqrt(q) z) by scipy's adaptive quadrature (independent of theory.gaussian's fixed rules)."""
    from scipy.integrate import quad

    dens = lambda z: math.exp(-z * z / 2) / math.sqrt(2 * math.pi)
    s = math.sqrt(q)
    return sum(
        quad(lambda z: f(s * z) * dens(z), lo, hi, epsabs=1e-14, epsrel=1e-13, limit=200)[0]
        for lo, hi in ((-40, 0), (0, 40))
    )


@pytest.mark.parametrize("sigma_b2", [0.01, 0.05, 0.3])
def test_edge_of_chaos_has_chi_1_equal_one_by_independent_quadrature(sigma_b2):
    """At the returned sigma_w2: q* from the q-map iterated with scipy quad, then chi_1 = sigma_w2 <sech^4> = 1."""
    sw = sp.edge_of_chaos(sigma_b2, activation="tanh")
    q = 1.0
    for _ in range(300):  # the q-map contracts (chi_par < 1): ~50 steps to round-off
        q, previous = sigma_b2 + sw * _gauss(lambda u: math.tanh(u) ** 2, q), q
        if abs(q - previous) <= 1e-15:
            break
    chi_1 = sw * _gauss(lambda u: 1 / math.cosh(u) ** 4, q)
    assert chi_1 == pytest.approx(1.0, abs=1e-9)


def test_selu_constants_from_the_defining_equations_solved_independently():
    """Solve E selu(Z) = 0 and E selu(Z)^2 = 1 (Klambauer et al. 2017, sec. 3) for (lambda, alpha) with scipy quad
    and fsolve; compare with spec's closed forms (eq. 14) and with theory.signal_propagation.selu_parameters."""
    from scipy.optimize import fsolve

    pos1, pos2 = _gauss(lambda u: max(u, 0.0)), _gauss(lambda u: max(u, 0.0) ** 2)
    neg1, neg2 = _gauss(lambda u: math.expm1(min(u, 0.0))), _gauss(lambda u: math.expm1(min(u, 0.0)) ** 2)

    def equations(v):
        lam, alpha = v
        return [lam * (pos1 + alpha * neg1), lam**2 * (pos2 + alpha**2 * neg2) - 1]

    lam, alpha = fsolve(equations, [1.0, 1.5], xtol=1e-14)
    assert (lam, alpha) == pytest.approx((SELU_LAMBDA, SELU_ALPHA), abs=1e-11)
    assert sp.selu_parameters() == pytest.approx((SELU_LAMBDA, SELU_ALPHA), abs=1e-11)


# ----------------------------------------------------------------------------- backpropagation and the ReLU law


def test_gradient_second_moments_at_q_star_are_powers_of_chi_1():
    kw = dict(sigma_w2=1.5, sigma_b2=0.05, activation="tanh")
    q = sp.q_fixed_point(**kw)
    g = sp.gradient_second_moments(q, 7, **kw)
    np.testing.assert_allclose(g, sp.chi_1(**kw) ** np.arange(7, 0, -1), rtol=1e-10)


@given(q1=st.floats(0.05, 5.0), sw=st.floats(0.5, 4.0), sb=st.floats(0.0, 0.5))
def test_gradient_second_moments_recursion(q1, sw, sb):
    kw = dict(sigma_w2=sw, sigma_b2=sb, activation="tanh")
    g = sp.gradient_second_moments(q1, 4, **kw)
    q = sp.kernel_iterates(q1, q1, q1, 4, **kw)[:, 0]
    chi = [sw * gaussian_expectation(lambda z: (1 - np.tanh(z) ** 2) ** 2, qk) for qk in q]
    np.testing.assert_allclose(g[-1], chi[-1], rtol=1e-10)  # the readout's own factor: chi^L, not 1
    np.testing.assert_allclose(g[:-1] / g[1:], chi[:-1], rtol=1e-10)


def test_gradient_second_moments_linear_and_relu_exact():
    np.testing.assert_allclose(
        sp.gradient_second_moments(0.7, 5, sigma_w2=1.3, sigma_b2=0.2, activation="linear"), 1.3 ** np.arange(5, 0, -1)
    )
    np.testing.assert_allclose(
        sp.gradient_second_moments(2.0, 4, sigma_w2=2.0, sigma_b2=0.0, activation="relu"), np.ones(4), rtol=1e-12
    )


def test_relu_law_log_correction():
    """(1 - c^l) l^2 = K (1 - 3 ln l / l + O(1/l)): with the log term removed the remainder is O(1/l)."""
    ls = np.array([1024, 2048, 4096])
    c = sp.relu_critical_correlation(0.0, int(ls.max()))[ls - 1]
    v = (1 - c) * ls**2
    corrected = v * (1 + sp.RELU_CRITICAL_LOG_COEFFICIENT * np.log(ls) / ls)
    err = np.abs(corrected - sp.RELU_CRITICAL_CONSTANT)
    assert np.all(err[1:] / err[:-1] == pytest.approx(0.5, abs=0.02))  # O(1/l): halves as l doubles
    raw = np.abs(v - sp.RELU_CRITICAL_CONSTANT)
    assert np.all(raw[1:] / raw[:-1] > 0.52)  # ln(l)/l: shrinks more slowly than 1/l (ratio 0.54 here)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(q1=0.0), "q1"),
        (dict(q1=None), "q1"),
        (dict(depth=0), "depth"),
        (dict(depth=2.0), "depth"),
        (dict(sigma_w2=-1.0), "sigma_w2"),
        (dict(sigma_b2=True), "sigma_b2"),
        (dict(activation="nope"), "activation"),
    ],
)
def test_gradient_second_moments_bad_input(kwargs, match):
    args = dict(q1=1.0, depth=3, sigma_w2=1.5, sigma_b2=0.05, activation="tanh") | kwargs
    with pytest.raises(ValueError, match=match):
        sp.gradient_second_moments(**args)
