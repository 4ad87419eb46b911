"""Unit tests of dltheory.theory.dual_kernels: every activation's dual kernel (T, T') against nested kink-split
quadrature, the numba and JAX forms of each closed form against each other, Price's theorem T' = dT/dk, the
bivariate normal CDF, the arc-cosine J_n, and the Hermite truncation bound."""

import math
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate, special

from dltheory.theory import dual_kernels as dk
from dltheory.theory import infinite_width as iw
from dltheory.theory import spec
from dltheory.theory.gaussian import bivariate_expectation

# one registry drives the parametrised tests: name -> activation
CASES = {
    "relu": "relu",
    "abs": "abs",
    "linear": "linear",
    "leaky_relu": spec.leaky_relu(0.2),
    "ab_relu": spec.ab_relu(-0.3, 1.7),
    "erf": "erf",
    "scaled_erf": spec.scaled_erf(1.3, 0.7, 0.2),
    "gelu": "gelu",
    "sign": "sign",
    "step": "step",
    "sin": "sin",
    "cos": "cos",
    "sin_affine": spec.sin(1.2, 0.8, 0.3),
    "rbf": spec.rbf(0.5),
    "exp": spec.exponential(0.5, 0.3),
    "gaussian": spec.gaussian(1.1, -0.4),
    "monomial": spec.monomial(3),
    "polynomial": spec.polynomial([0.1, 1.0, -0.3, 0.2]),
    "rect_monomial2": spec.rectified_monomial(2),
    "rect_monomial3": spec.rectified_monomial(3),
    "selu": "selu",
    "elu": "elu",
    "elu_half": spec.elu(0.5),
    "tanh": "tanh",
    "softplus": "softplus",
    "silu": "silu",
    "swish2": spec.swish(2.0),
    "callable": iw.numerical(lambda x: jnp.tanh(x) + 0.1 * jnp.sin(2 * x), name="tanh+sin"),
}
# (q1, q2, k): generic, unequal variances, negative / near-extreme correlations, exactly rho = +-1
COVS = [(1.0, 1.0, 0.3), (2.5, 0.4, -0.6), (0.7, 1.9, 1.1), (1.5, 1.5, 1.45), (3.0, 2.0, -2.4), (1.2, 1.2, 1.2)]


def _quad_scale(f, q1, q2):
    return math.sqrt(bivariate_expectation(f, f, q1, q1, q1, (0.0,)) * bivariate_expectation(f, f, q2, q2, q2, (0.0,)))


@pytest.mark.parametrize("name", sorted(CASES))
def test_dual_kernel_matches_nested_quadrature(name):
    """|T - T_quad| <= 1e-10 sqrt(E phi(u)^2 E phi(v)^2), the same for T' (the quadrature is ~1e-13)."""
    act = spec.get_activation(CASES[name])
    q1, q2, k = (np.array(c) for c in zip(*COVS))
    T, Td = dk.dual_kernel(act, q1, q2, k)
    for i, (a, b, c) in enumerate(COVS):
        for f, val in ((act.phi, T[i]), (act.dphi, Td[i])):
            ref = bivariate_expectation(f, f, a, b, c, (0.0,))
            scale = _quad_scale(f, a, b)
            if name in ("sign", "step") and f is act.dphi:
                assert val == 0.0  # T' of a jump: the a.e. derivative (neural-tangents' convention)
                continue
            assert abs(val - ref) <= 1e-10 * max(scale, 1e-300), (name, (a, b, c), val, ref)


def test_method_classification():
    assert dk.method("relu") == "closed form"
    assert dk.method("selu") == "closed form"
    assert dk.method(spec.monomial(4)) == "hermite (exact)"
    assert dk.method("tanh") == "hermite"
    assert dk.method(iw.numerical(jax.nn.relu)) == "quadrature"  # kink at 0 found by one-sided differences
    assert dk.method(iw.numerical(jnp.sign)) == "quadrature"  # jump at 0
    with pytest.raises(ValueError, match="kinks"):
        dk.dual_kernel(iw.numerical(jax.nn.relu), 1.0, 1.0, 0.5)


@pytest.mark.parametrize(
    "name", sorted(n for n, a in CASES.items() if dk.plan(spec.get_activation(a)).kind != dk.HERMITE)
)
def test_jax_form_equals_numba_form(name):
    """The one source of each closed form, compiled by numba and re-bound to jax.numpy, gives the same numbers."""
    kind, P = dk.plan(spec.get_activation(CASES[name])).kind, dk.plan(spec.get_activation(CASES[name])).P
    g = np.random.default_rng(0)
    q1, q2 = g.uniform(0.1, 3.0, 50), g.uniform(0.1, 3.0, 50)
    k = np.sqrt(q1 * q2) * g.uniform(-1, 1, 50)
    k[:3] = np.sqrt(q1[:3] * q2[:3]) * np.array([1.0, -1.0, 0.0])
    T, Td = dk._pairs(kind, P, q1, q2, k, False)
    s1, s2 = np.sqrt(q1), np.sqrt(q2)
    rho = np.clip(k / (s1 * s2), -1, 1)
    with jax.enable_x64(True):
        Tj, Tdj = dk.jax_pair(kind, P)(q1, q2, s1, s2, k, rho)
    np.testing.assert_allclose(np.asarray(Tj), T, rtol=1e-13, atol=1e-14 * np.abs(T).max())
    np.testing.assert_allclose(np.asarray(Tdj), Td, rtol=1e-13, atol=1e-14 * np.abs(Td).max())


@pytest.mark.parametrize(
    "name", ["relu", "erf", "gelu", "sin_affine", "exp", "gaussian", "rect_monomial3", "selu", "tanh"]
)
def test_price_theorem(name):
    """T' = dT/dk (Price 1958): central differences of T against T'."""
    act = spec.get_activation(CASES[name])
    q1, q2, k, h = 1.3, 0.8, 0.4, 1e-5
    Tp, _ = dk.dual_kernel(act, q1, q2, k + h)
    Tm, _ = dk.dual_kernel(act, q1, q2, k - h)
    _, Td = dk.dual_kernel(act, q1, q2, k)
    assert (Tp - Tm) / (2 * h) == pytest.approx(float(Td), rel=1e-7, abs=1e-9)


def _bvn_reference(h, k, r):
    """P(X > h, Y > k) = int_h^inf pdf(x) P(Y > k | x) dx, adaptive, split where the integrand turns."""
    if abs(r) == 1.0:
        return (
            max(0.0, 0.5 * special.erfc(max(h, k) / math.sqrt(2)))
            if r > 0
            else max(0.0, 0.5 * special.erfc(h / math.sqrt(2)) - 0.5 * special.erfc(-k / math.sqrt(2)))
        )
    s = math.sqrt(1 - r * r)
    f = lambda x: math.exp(-x * x / 2) / math.sqrt(2 * math.pi) * 0.5 * special.erfc((k - r * x) / s / math.sqrt(2))  # noqa: E731
    c = k / r if r else h  # where P(Y > k | x) steps, over a width ~ s / |r|
    w = 10 * s / abs(r) if r else 0.0
    pts = sorted({max(h, p) for p in (h, 0.0, c - w, c, c + w)})
    edges = pts + [max(pts) + 40.0]
    with warnings.catch_warnings():  # QUADPACK flags round-off at these tolerances; the result is still ~1e-16
        warnings.simplefilter("ignore", integrate.IntegrationWarning)
        return sum(
            integrate.quad(f, a, b, epsabs=1e-16, epsrel=1e-14, limit=200)[0] for a, b in zip(edges[:-1], edges[1:])
        )


@pytest.mark.parametrize("r", [-1.0, -0.9999999, -0.95, -0.5, 0.0, 0.3, 0.9, 0.925, 0.99, 0.9999999, 1.0])
def test_bvn_upper_against_adaptive_integral(r):
    g = np.random.default_rng(int(abs(r) * 1e7) % 2**31)
    for h, k in g.normal(scale=1.5, size=(6, 2)):
        assert dk.bvn_upper(h, k, r) == pytest.approx(_bvn_reference(h, k, r), abs=2e-15)


def test_arccos_j_terms_match_cho_saul():
    """J_0 = pi - t, J_1 = sin t + (pi - t) cos t, J_2 = 3 sin t cos t + (pi - t)(1 + 2 cos^2 t) [Cho & Saul 2009]."""
    t = np.linspace(0.01, 3.1, 7)

    def J(n):
        return sum(c * (np.pi - t) ** e * np.sin(t) ** p * np.cos(t) ** r for e, p, r, c in dk.arccos_j_terms(n))

    np.testing.assert_allclose(J(0), np.pi - t, rtol=1e-14)
    np.testing.assert_allclose(J(1), np.sin(t) + (np.pi - t) * np.cos(t), rtol=1e-14, atol=1e-15)
    J2 = 3 * np.sin(t) * np.cos(t) + (np.pi - t) * (1 + 2 * np.cos(t) ** 2)
    np.testing.assert_allclose(J(2), J2, rtol=1e-13, atol=1e-15)  # J_2 ~ (pi - t)^5 / 5 cancels near pi
    assert all(p >= 0 for _, p, _, _ in dk.arccos_j_terms(5))


def test_hermite_series_is_exact_for_polynomials():
    A, B, EA, EB = dk.hermite_coefficients(spec.polynomial([0.5, 0.0, -1.0, 2.0]), np.array([0.3, 1.0, 4.0]))
    assert A.shape[0] == 4  # degree 3: K = 3, no truncation
    np.testing.assert_allclose(np.sum(A * A, 0), EA, rtol=1e-14)
    np.testing.assert_allclose(np.sum(B * B, 0), EB, rtol=1e-14)


@pytest.mark.parametrize("tol", [1e-4, 1e-8, 1e-13])
def test_hermite_truncation_bound_holds(tol):
    """For any rho in [-1, 1]: |T_K - T| <= |rho|^{K+1} sqrt(R(s1) R(s2)) <= tol sqrt(E1 E2) (module docstring)."""
    act = spec.get_activation("tanh")
    q = np.array([0.5, 3.0])
    A, B, EA, EB = dk.hermite_coefficients(act, q, tol=tol)
    for rho in (1.0, 0.97, -0.6):
        k = rho * math.sqrt(q[0] * q[1])
        T_K = np.sum(A[:, 0] * A[:, 1] * rho ** np.arange(A.shape[0]))
        ref = bivariate_expectation(act.phi, act.phi, q[0], q[1], k)
        assert abs(T_K - ref) <= tol * math.sqrt(EA[0] * EA[1]) + 1e-14


def test_hermite_gives_up_on_steep_activations():
    with pytest.raises(dk.HermiteDidNotConverge, match="did not decay"):
        dk.hermite_coefficients(spec.get_activation("tanh"), np.array([400.0]))


@pytest.mark.parametrize(
    "factory, kwargs, match",
    [
        (spec.gaussian, dict(b=0.1), "b must"),
        (spec.polynomial, dict(coef=[]), "coef"),
        (spec.rectified_monomial, dict(degree=-1), "degree"),
        (spec.monomial, dict(degree=1.5), "degree"),
        (spec.swish, dict(beta=float("nan")), "beta"),
        (spec.elu, dict(alpha=-1.0), "alpha"),
        (spec.rbf, dict(gamma=0.0), "gamma"),
        (spec.sin, dict(a="x"), "a must"),
    ],
)
def test_activation_factories_reject_bad_parameters(factory, kwargs, match):
    with pytest.raises(ValueError, match=match):
        factory(**kwargs)


@pytest.mark.parametrize(
    "args, err, match",
    [
        (("relu", -1.0, 1.0, 0.0), ValueError, "q1 and q2"),
        (("relu", 1.0, 1.0, 1.5), ValueError, "k must"),
        (("relu", np.nan, 1.0, 0.0), ValueError, "q1 must be finite"),
        (("relu", 1.0, "a", 0.0), TypeError, "q2"),
        (("swish", 1.0, 1.0, 0.0), ValueError, "activation"),
    ],
)
def test_dual_kernel_rejects_bad_input(args, err, match):
    with pytest.raises(err, match=match):
        dk.dual_kernel(*args)


def test_hermite_coefficients_reject_bad_input():
    with pytest.raises(ValueError, match="variances"):
        dk.hermite_coefficients(spec.get_activation("tanh"), [-1.0])
    with pytest.raises(ValueError, match="tol"):
        dk.hermite_coefficients(spec.get_activation("tanh"), [1.0], tol=2.0)
