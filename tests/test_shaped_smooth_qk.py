"""Unit tests of the shaped-smooth exit law and the attention weight gradients (theory, simulators, claim formulas)."""

import math

import mpmath
import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from dltheory.simulators import shaped as sim
from dltheory.theory import shaped as th
from dltheory.verify.claims import shaped as claims

V2 = np.array([[4.0, 2.0], [2.0, 3.2]])
V3 = np.array([[1.0, 0.3, 0.1], [0.3, 1.0, 0.5], [0.1, 0.5, 1.0]])


# ----------------------------------------------------------------------------- theory: the norm SDE's exit law


def test_scale_function_solves_the_generator_equation():
    """beta V^2 s' + V^2 s'' = 0 for s(V) = (1 - e^{-beta V}) / beta (symbolically), and th.smooth_norm_scale is it."""
    V, beta = sp.symbols("V beta", positive=True)
    s = claims.smooth_scale_formula(V).subs(claims._beta, beta)
    assert sp.simplify(beta * V**2 * sp.diff(s, V) + V**2 * sp.diff(s, V, 2)) == 0
    bad = (1 - sp.exp(-beta * V / 2)) / beta  # the generator with sigma^2 = 2 V^2 not halved
    assert sp.simplify(beta * V**2 * sp.diff(bad, V) + V**2 * sp.diff(bad, V, 2)) != 0
    x = np.linspace(0.0, 9.0, 19)
    for b in (-0.7, 0.3, 2.0):
        np.testing.assert_allclose(th.smooth_norm_scale(x, b), sp.lambdify(V, s.subs(beta, b))(x), rtol=1e-13, atol=0)
    np.testing.assert_array_equal(th.smooth_norm_scale(x, 0.0), x)


@given(
    beta=st.floats(-5, 5),
    l=st.floats(0.1, 3),
    w1=st.floats(0.01, 0.99),
    width=st.floats(0.1, 5),
)
@settings(max_examples=40, deadline=None)
def test_exit_probability_is_the_scale_function_ratio(beta, l, w1, width):
    u = l + width
    V0 = l + w1 * width
    p = th.smooth_norm_exit_probability(beta, V0, l, u)
    with mpmath.workdps(50):  # the scale-function ratio in 50 digits (its float64 form cancels for large beta)
        s = lambda v: v if beta == 0 else -mpmath.expm1(-mpmath.mpf(beta) * v) / beta  # noqa: E731
        ref = float((s(mpmath.mpf(V0)) - s(mpmath.mpf(l))) / (s(mpmath.mpf(u)) - s(mpmath.mpf(l))))
    assert 0 <= p <= 1
    assert p == pytest.approx(ref, rel=1e-12, abs=1e-300)


def test_exit_probability_limits_and_criterion():
    assert th.smooth_norm_exit_probability(0.0, 2.0, 1.0, 4.0) == pytest.approx(1 / 3, rel=1e-15)
    assert th.smooth_norm_exit_probability(1e-12, 2.0, 1.0, 4.0) == pytest.approx(1 / 3, rel=1e-9)
    assert th.smooth_norm_exit_probability(-1e-12, 2.0, 1.0, 4.0) == pytest.approx(1 / 3, rel=1e-9)
    # explosion: lower -> 0, upper -> inf gives 1 - e^{-beta V0} for beta > 0 and 0 for beta <= 0
    assert th.smooth_norm_exit_probability(0.5, 2.0, 1e-12, 1e4) == pytest.approx(1 - math.exp(-1.0), rel=1e-9)
    assert th.smooth_norm_exit_probability(-0.5, 2.0, 1e-12, 1e3) < 1e-100
    assert th.smooth_norm_exit_probability(-800.0, 2.0, 1.0, 4.0) == 0.0  # no overflow
    betas = np.linspace(-3, 3, 13)
    assert np.all(np.diff([th.smooth_norm_exit_probability(b, 2.0, 1.0, 4.0) for b in betas]) > 0)


def test_attention_gradient_log_slopes():
    np.testing.assert_allclose(
        th.attention_gradient_log_slopes(math.sqrt(0.5), shaped=False), [2 * math.log(0.5)] * 2 + [0]
    )
    np.testing.assert_array_equal(th.attention_gradient_log_slopes(0.3, shaped=True), np.zeros(3))


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: th.smooth_norm_exit_probability(0.1, 5.0, 1.0, 4.0), "lower <= V0 <= upper"),
        (lambda: th.smooth_norm_exit_probability(0.1, 2.0, 4.0, 4.0), "lower < upper"),
        (lambda: th.smooth_norm_exit_probability("1", 2.0, 1.0, 4.0), "beta"),
        (lambda: th.smooth_norm_scale([1.0, -1.0], 0.5), "V"),
        (lambda: th.attention_gradient_log_slopes(1.0, shaped=False), "lam"),
        (lambda: th.attention_gradient_log_slopes(0.5, shaped="no"), "shaped"),
    ],
)
def test_theory_bad_input(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


# ----------------------------------------------------------------------------- simulators: shaped smooth layers


def test_smooth_step_pairs_and_linear_control():
    Vn, Vlin = sim.smooth_step(V2, 16, "tanh", 2.0, n_samples=6, seed=1)
    assert Vn.shape == Vlin.shape == (6, 2, 2)
    np.testing.assert_array_equal(Vlin[0::2], Vlin[1::2])  # (z, -z) give the same linear Gram
    assert np.allclose(Vn, np.swapaxes(Vn, -1, -2))
    np.testing.assert_allclose(Vn[0::2], Vn[1::2], rtol=1e-14)  # tanh_s is odd: both pair members agree
    Vs, _ = sim.smooth_step(V2, 16, "softplus", 2.0, n_samples=6, seed=1)
    assert not np.allclose(Vs[0::2], Vs[1::2])
    # as a -> inf the shaped activation is the identity: V_{l+1} = V_lin
    Vn, Vlin = sim.smooth_step(V2, 16, "gelu", 1e7, n_samples=4, seed=2)
    np.testing.assert_allclose(Vn, Vlin, rtol=1e-6)


def test_smooth_step_mean_matches_quadrature():
    """E V_{l+1} = E phi_s(z) phi_s(z)^T (2-D Gauss-Hermite) at n = 8, a = 1 (z-test, alpha = 1e-3 per entry)."""
    n, a = 8, 1.0
    Vn, _ = sim.smooth_step(V2, n, "softplus", a, n_samples=20000, seed=3)
    pair = 0.5 * (Vn[0::2] + Vn[1::2])
    s = a * math.sqrt(n)
    phi = lambda x: 2 * s * (np.logaddexp(0.0, x / s) - math.log(2))  # noqa: E731
    x, w = np.polynomial.hermite_e.hermegauss(60)
    w = w / w.sum()
    L = np.linalg.cholesky(V2)
    g1, g2 = np.meshgrid(x, x, indexing="ij")
    z1, z2 = L[0, 0] * g1, L[1, 0] * g1 + L[1, 1] * g2
    ww = np.outer(w, w)
    exact = [np.sum(ww * phi(z1) ** 2), np.sum(ww * phi(z1) * phi(z2)), np.sum(ww * phi(z2) ** 2)]
    z = stats.norm.isf(1e-3 / 6)
    for q, (i, j) in enumerate([(0, 0), (0, 1), (1, 1)]):
        se = pair[:, i, j].std(ddof=1) / math.sqrt(pair.shape[0])
        assert abs(pair[:, i, j].mean() - exact[q]) < z * se


def test_smooth_norm_exit_is_the_one_input_chain():
    """Exit layers and values are reproducible; exited paths lie outside (lower, upper), unexited ones inside."""
    kw = dict(lower=1.0, upper=4.0, max_depth=6, n_paths=400, seed=4)
    layer, value = sim.smooth_norm_exit(2.0, 12, "gelu", 2.0, **kw)
    again = sim.smooth_norm_exit(2.0, 12, "gelu", 2.0, **kw)
    np.testing.assert_array_equal(layer, again[0]) and np.testing.assert_array_equal(value, again[1])
    out = layer > 0
    assert np.all((value[out] <= 1.0) | (value[out] >= 4.0)) and np.all((value[~out] > 1.0) & (value[~out] < 4.0))
    assert out.any() and (~out).any() and layer.max() <= 6
    # one layer of the exit chain has the law of smooth_step's V^00 (KS, alpha = 1e-3)
    _, v1 = sim.smooth_norm_exit(2.0, 12, "tanh", 2.0, lower=1e-9, upper=1e9, max_depth=1, n_paths=3000, seed=5)
    Vn, _ = sim.smooth_step(np.array([[2.0]]), 12, "tanh", 2.0, n_samples=3000, seed=6)
    assert stats.ks_2samp(v1, Vn[:, 0, 0]).pvalue > 1e-3


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: sim.smooth_step(V2, 8, "relu", 1.0, n_samples=4, seed=0), "activation"),
        (lambda: sim.smooth_step(V2, 8, "tanh", 0.0, n_samples=4, seed=0), "a must be"),
        (lambda: sim.smooth_step(V2, 8, "tanh", 1.0, n_samples=5, seed=0), "even"),
        (lambda: sim.smooth_norm_exit(5.0, 8, "tanh", 1.0, lower=1, upper=4, max_depth=3, n_paths=2, seed=0), "lower"),
        (
            lambda: sim.smooth_norm_exit(2.0, 8, "tanh", 1.0, lower=1, upper=4, max_depth=0, n_paths=2, seed=0),
            "max_depth",
        ),
        (
            lambda: sim.attention_weight_gradients(
                np.ones((3, 2)), 2, 2, lam=0.6, gamma=0.8, tau0=1, n_samples=2, seed=0
            ),
            "tokens",
        ),
        (
            lambda: sim.attention_weight_gradients(np.eye(2, 4), 2, 2, lam=0.6, gamma=0.6, tau0=1, n_samples=2, seed=0),
            "lam",
        ),
    ],
)
def test_simulator_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ----------------------------------------------------------------------------- simulators: attention gradients


def test_attention_gradients_are_jax_autodiff():
    """The written-out backward pass equals jax.grad of the same network and loss (float64 round-off), unshaped and
    shaped (one jit-compiled gradient: the shaping enters as a number)."""
    import jax
    import jax.numpy as jnp

    m, n, n_k, depth, lam, gamma, tau0 = 3, 6, 2, 3, 0.6, 0.8, 0.7
    X0 = np.random.default_rng(1).standard_normal((m, n))
    tau = tau0 * math.sqrt(n * n_k)

    def loss(params, R, shaped):
        X = jnp.asarray(X0)
        for wq, wk, wv in params:
            A = jax.nn.softmax((X @ wq) @ (X @ wk).T / tau, axis=-1) + shaped * (jnp.eye(m) - 1 / m)
            X = lam * X + gamma * A @ X @ wv / math.sqrt(n)
        return jnp.sum(R * X) / math.sqrt(m * n)

    with jax.enable_x64(True):
        grad = jax.jit(jax.grad(loss))
        for shaped in (False, True):
            got = sim.attention_weight_gradients(
                X0, n_k, depth, lam=lam, gamma=gamma, tau0=tau0, n_samples=2, seed=5, shaped=shaped
            )
            g = np.random.default_rng(5)  # the simulator's draws: per layer W^Q, W^K, W^V, then R
            W = [
                (
                    g.standard_normal((2, n, n_k)) / n**0.5,
                    g.standard_normal((2, n, n_k)) / n**0.5,
                    g.standard_normal((2, n, n)),
                )
                for _ in range(depth)
            ]
            R = g.standard_normal((2, m, n))
            for s in range(2):
                grads = grad([tuple(jnp.asarray(w[s]) for w in layer) for layer in W], jnp.asarray(R[s]), float(shaped))
                ref = np.array([[float(jnp.sum(w**2)) for w in layer] for layer in grads])
                np.testing.assert_allclose(got[s], ref, rtol=1e-11)


def test_uniform_attention_kills_query_key_gradients():
    """tau0 -> inf: uniform attention, dL/dW^{Q,K} = O(1/tau) while dL/dW^V stays O(1)."""
    X0 = math.sqrt(8) * np.linalg.cholesky(V3) @ np.eye(3, 8)
    g = sim.attention_weight_gradients(X0, 4, 3, lam=0.6, gamma=0.8, tau0=1e8, n_samples=4, seed=7, shaped=False)
    assert np.all(g[..., :2] < 1e-12) and np.all(g[..., 2] > 1e-6)


# ----------------------------------------------------------------------------- claim formulas = theory functions


def _f(expr, *symbols):
    return sp.lambdify(symbols, expr, modules=["numpy"])


def test_smooth_taylor_coefficients():
    assert claims.smooth_taylor("tanh") == pytest.approx((0.0, -2.0), abs=1e-9)
    assert claims.smooth_taylor("softplus") == pytest.approx((0.5, 0.0), abs=1e-9)
    assert claims.smooth_taylor("gelu") == pytest.approx((4 / math.sqrt(2 * math.pi), 0.0), abs=1e-9)


@pytest.mark.parametrize("kw", [{}, {"phi2_scale": 2 / math.sqrt(3)}, {"phi3_sign": -1}, {"a_power": 1}])
def test_smooth_formulas_are_the_theory_functions(kw):
    syms = (claims._phi2, claims._phi3, claims._a, claims._V[0, 0], claims._V[0, 1], claims._V[1, 1])
    beta = _f(claims.smooth_beta_formula(**kw), *syms[:3])
    drift = [_f(claims.smooth_drift_formula(i, j, **kw), *syms) for i, j in claims.DRIFT_ENTRIES]
    for phi2, phi3, a, V in [
        (0.5, 0.0, 2.0, V2),
        (0.0, -2.0, 0.7, V2),
        (1.3, 0.4, 1.0, np.array([[1.0, -0.2], [-0.2, 2.0]])),
    ]:
        f2, f3 = phi2 * kw.get("phi2_scale", 1), phi3 * kw.get("phi3_sign", 1)
        a_eff = a ** (kw.get("a_power", 2) / 2)
        assert beta(phi2, phi3, a) == pytest.approx(th.smooth_norm_beta(f2, f3, a_eff), rel=1e-13, abs=1e-15)
        b = th.smooth_drift(V, f2, f3, a_eff)
        for q, (i, j) in enumerate(claims.DRIFT_ENTRIES):
            assert drift[q](phi2, phi3, a, V[0, 0], V[0, 1], V[1, 1]) == pytest.approx(b[i, j], rel=1e-13, abs=1e-15)
    # the claim's prediction uses the same functions: tanh's published drift at a = 2 is -(1/a^2) V^ab (V^aa + V^bb)
    pred = claims._smooth_prediction(claims.SMOOTH_QUICK)
    np.testing.assert_allclose(pred["drift"][0], [-0.25 * 4 * 8, -0.25 * 2 * 7.2, -0.25 * 3.2 * 6.4], rtol=1e-9)


def test_qk_formulas_are_the_theory_slopes():
    p = claims.QK_QUICK
    formulas = claims._qk_formulas(p)
    for name, pred in claims._qk_predictions(p).items():
        got = np.array([float(e.rhs.subs(claims._lam, math.sqrt(p["lam2"]))) for e in formulas[name]]).reshape(2, 3)
        np.testing.assert_allclose(got, pred["slopes"], rtol=1e-14, atol=1e-15)
    published = np.stack([th.attention_gradient_log_slopes(math.sqrt(p["lam2"]), shaped=s) for s in (False, True)])
    np.testing.assert_allclose(claims._qk_predictions(p)["published"]["slopes"], published, rtol=1e-15)
