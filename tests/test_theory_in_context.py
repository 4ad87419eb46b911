"""Unit tests of dltheory.theory.in_context: Prop. 1's construction, the GD-step risk (sympy, Monte Carlo), bad input."""

import math

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from dltheory.theory import in_context as th

Z_TEST = 4.4  # two-sided alpha ~ 1e-5 per Monte Carlo comparison


def _lsa_naive(tokens, query, W):
    """Eq. 4 of von Oswald et al. token by token: query + P W_V sum_i e_i (W_K e_i)^T (W_Q query)."""
    out = query.copy()
    for e in tokens:
        out += W.P @ W.W_V @ e * float((W.W_K @ e) @ (W.W_Q @ query))
    return out


@pytest.mark.parametrize("w0_random", [False, True])
def test_construction_is_one_gd_step(w0_random):
    g = np.random.default_rng(0)
    N, d, eta = 7, 3, 0.4
    w0 = g.standard_normal(d) if w0_random else None
    W = th.lsa_gd_weights(d, eta, N, w0)
    w0v = np.zeros(d) if w0 is None else w0
    for _ in range(5):
        x, w, x_q = g.standard_normal((N, d)), g.standard_normal(d), g.standard_normal(d)
        y = x @ w
        tokens = np.column_stack([x, y])
        out = _lsa_naive(tokens, np.append(x_q, -w0v @ x_q), W)
        assert np.allclose(out[:d], x_q, rtol=0, atol=1e-14)  # the x-slot is untouched
        assert math.isclose(-out[d], float(th.gd_step_prediction(x, y, x_q, eta, w0)), rel_tol=1e-12, abs_tol=1e-12)


def test_weights_structure():
    W = th.lsa_gd_weights(2, 0.5, 4, [1.0, -2.0])
    assert np.array_equal(W.W_K, W.W_Q) and np.array_equal(W.W_K, np.diag([1.0, 1.0, 0.0]))
    assert np.array_equal(W.W_V, [[0, 0, 0], [0, 0, 0], [1, -2, -1]])
    assert np.array_equal(W.P, 0.125 * np.eye(3))


def test_gd_step_prediction_matches_explicit_step():
    g = np.random.default_rng(1)
    x, y, x_q, w0 = g.standard_normal((3, 6, 2)), g.standard_normal((3, 6)), g.standard_normal((3, 2)), [0.3, -0.1]
    for m in range(3):
        grad = (x[m] @ w0 - y[m]) @ x[m] / 6
        expected = (np.asarray(w0) - 0.9 * grad) @ x_q[m]
        assert math.isclose(th.gd_step_prediction(x, y, x_q, 0.9, w0)[m], expected, rel_tol=1e-13)


def test_risk_formula_sympy_minimum():
    R, (eta, N, d) = th.lsa_gd_risk_expr()
    eta_star = sp.solve(sp.diff(R, eta), eta)
    assert len(eta_star) == 1 and sp.simplify(eta_star[0] - N / (N + d + 1)) == 0
    assert sp.simplify(R.subs(eta, eta_star[0]) - d * (d + 1) / (N + d + 1)) == 0
    for n, dd, e in [(5, 2, 0.3), (20, 4, 1.0)]:
        assert math.isclose(float(R.subs({eta: e, N: n, d: dd})), th.lsa_gd_risk(e, n, dd), rel_tol=1e-14)
        assert math.isclose(
            th.lsa_gd_risk(th.lsa_optimal_step(n, dd), n, dd), th.lsa_optimal_risk(n, dd), rel_tol=1e-14
        )


@pytest.mark.parametrize("N, d, eta", [(5, 3, "optimal"), (5, 3, 1.0), (12, 2, "optimal")])
def test_risk_monte_carlo(N, d, eta):
    """E[(y_hat - y_q)^2] over 40000 tasks vs lsa_gd_risk (z-test at 4.4 SE)."""
    eta = th.lsa_optimal_step(N, d) if eta == "optimal" else eta
    g = np.random.default_rng(N * 10 + d)
    M = 40000
    w, x, x_q = g.standard_normal((M, d)), g.standard_normal((M, N, d)), g.standard_normal((M, d))
    err = (th.gd_step_prediction(x, np.einsum("mik,mk->mi", x, w), x_q, eta) - np.einsum("mk,mk->m", x_q, w)) ** 2
    assert abs(err.mean() - th.lsa_gd_risk(eta, N, d)) < Z_TEST * err.std(ddof=1) / math.sqrt(M)


def test_wishart_second_moment_monte_carlo():
    """E tr S^2 = d (N + d + 1)/N, S = X^T X / N (the +1 the derivation needs)."""
    g = np.random.default_rng(3)
    N, d, M = 4, 3, 40000
    X = g.standard_normal((M, N, d))
    S = np.einsum("mia,mib->mab", X, X) / N
    t = np.einsum("mab,mba->m", S, S)
    assert abs(t.mean() - d * (N + d + 1) / N) < Z_TEST * t.std(ddof=1) / math.sqrt(M)


@settings(max_examples=30)
@given(st.integers(1, 200), st.integers(1, 50), st.floats(-3, 3))
def test_optimal_step_minimises_risk(N, d, eta):
    assert 0 < th.lsa_optimal_step(N, d) < 1
    assert th.lsa_optimal_risk(N, d) <= th.lsa_gd_risk(eta, N, d) * (1 + 1e-12)
    assert th.lsa_optimal_risk(N, d) < d


@pytest.mark.parametrize(
    "call",
    [
        lambda: th.lsa_gd_weights(0, 1.0, 3),
        lambda: th.lsa_gd_weights(2, 0.0, 3),
        lambda: th.lsa_gd_weights(2, 1.0, 2.5),
        lambda: th.lsa_gd_weights(True, 1.0, 3),
        lambda: th.lsa_gd_weights(2, 1.0, 3, [1.0]),
        lambda: th.lsa_gd_weights(2, 1.0, 3, [1.0, np.nan]),
        lambda: th.lsa_optimal_step(None, 2),
        lambda: th.lsa_optimal_risk(3, "2"),
        lambda: th.lsa_gd_risk(np.inf, 3, 2),
        lambda: th.gd_step_prediction(np.ones((3, 2)), np.ones(2), np.ones(2), 1.0),
        lambda: th.gd_step_prediction(np.ones((3, 2)), np.ones(3), np.ones(2), -1.0),
        lambda: th.gd_step_prediction(np.ones((3, 2)), np.full(3, np.nan), np.ones(2), 1.0),
    ],
)
def test_invalid_input_raises(call):
    with pytest.raises((ValueError, TypeError)):
        call()
