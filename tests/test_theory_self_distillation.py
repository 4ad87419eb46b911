"""Unit tests of dltheory.theory.self_distillation: the closed forms against explicit iterated KRR solves, the
limit, the optimal weight's optimality, bad input."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dltheory.theory import self_distillation as th

TOL = 1e-10  # float64 solves with condition <= ~1e3 over <= 60 contracting steps


def _task(seed, n=12, m=7):
    rng = np.random.default_rng(seed)
    X, Xt = rng.uniform(-1, 1, (n, 2)), rng.uniform(-1, 1, (m, 2))
    rbf = lambda A, B: np.exp(-2.0 * ((A[:, None] - B[None]) ** 2).sum(-1))  # noqa: E731
    f = np.sin(3 * X[:, 0])
    return rbf(X, X), rbf(Xt, X), f, f + 0.3 * rng.standard_normal(n)


def _iterate(K, Kt, y, lam, alphas, steps):
    """Explicit KRR on the targets alpha y + (1 - alpha) f_{tau-1}(X), by linear solves."""
    n = len(y)
    t, train, test = y, [], []
    for s in range(steps):
        c = np.linalg.solve(K + lam * np.eye(n), t)
        train.append(K @ c)
        test.append(Kt @ c)
        if s < steps - 1:
            t = alphas[s] * y + (1 - alphas[s]) * train[-1]
    return np.array(train), np.array(test)


@settings(max_examples=20, deadline=None, derandomize=True)
@given(st.floats(0.0, 1.0), st.floats(0.01, 2.0), st.integers(1, 8), st.integers(0, 10**6))
def test_closed_form_equals_iterated_krr(alpha, lam, steps, seed):
    K, Kt, _, y = _task(seed)
    train, test = _iterate(K, Kt, y, lam, [alpha] * steps, steps)
    np.testing.assert_allclose(th.distilled_predictions(K, y, lam, alpha, steps), train, atol=TOL)
    np.testing.assert_allclose(th.distilled_predictions(K, y, lam, alpha, steps, Kt), test, atol=TOL)


def test_per_step_alphas_and_the_matrix_recursion():
    K, Kt, _, y = _task(1)
    alphas = [0.1, 0.5, 0.9]
    train, _ = _iterate(K, Kt, y, 0.3, alphas, 4)
    np.testing.assert_allclose(th.distilled_predictions(K, y, 0.3, alphas, 4), train, atol=TOL)
    d, V = np.linalg.eigh(K)
    A = np.diag(d / (d + 0.3))
    B = A.copy()  # B_tau = A ((1 - alpha) B_{tau-1} + alpha I), B_1 = A
    for a, b in zip(alphas, th.distillation_factors(d, 0.3, alphas, 4)[1:]):
        B = A @ ((1 - a) * B + a * np.eye(len(d)))
        np.testing.assert_allclose(np.diag(B), b, atol=1e-14)


def test_limit_is_krr_with_amplified_ridge():
    K, Kt, _, y = _task(2)
    for alpha in (0.3, 0.8):
        lim = th.limit_predictions(K, y, 0.5, alpha, Kt)
        np.testing.assert_allclose(th.distilled_predictions(K, y, 0.5, alpha, 300, Kt)[-1], lim, atol=TOL)
        np.testing.assert_allclose(lim, Kt @ np.linalg.solve(K + 0.5 / alpha * np.eye(len(y)), y), atol=TOL)
    np.testing.assert_allclose(th.limit_predictions(K, y, 0.5, 1.0), th.distilled_predictions(K, y, 0.5, 1.0, 1)[0])


def test_optimal_alphas_minimise_the_true_risk_step_by_step():
    K, _, f, y = _task(3)
    lam, steps = 0.2, 5
    alphas = th.optimal_alphas(K, y, f, lam, steps)
    for s in range(steps - 1):

        def risk(a):
            return np.sum((f - th.distilled_predictions(K, y, lam, [*alphas[:s], a], s + 2)[-1]) ** 2)

        r0 = risk(alphas[s])
        assert r0 <= risk(alphas[s] + 1e-3) and r0 <= risk(alphas[s] - 1e-3)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda K, y: th.distilled_predictions(K[:, :-1], y, 0.1, 0.5, 2), "square"),
        (lambda K, y: th.distilled_predictions(K - 10 * np.eye(len(y)), y, 0.1, 0.5, 2), "semi-definite"),
        (lambda K, y: th.distilled_predictions(K + np.triu(K, 1), y, 0.1, 0.5, 2), "symmetric"),
        (lambda K, y: th.distilled_predictions(K, y[:-1], 0.1, 0.5, 2), "y must"),
        (lambda K, y: th.distilled_predictions(K, y, 0.0, 0.5, 2), "lam"),
        (lambda K, y: th.distilled_predictions(K, y, 0.1, [0.5, 0.5], 2), "alpha"),
        (lambda K, y: th.distilled_predictions(K, y, 0.1, 0.5, 0), "steps"),
        (lambda K, y: th.distilled_predictions(K, y, 0.1, 0.5, 2, K[:, :-1]), "K_test"),
        (lambda K, y: th.limit_predictions(K, y, 0.1, 0.0), "alpha"),
        (lambda K, y: th.optimal_alphas(K, y, y, 0.1, 1), "steps"),
        (lambda K, y: th.distillation_factors([-1.0], 0.1, 0.5, 2), "eigvals"),
    ],
)
def test_invalid_input(call, match):
    K, _, _, y = _task(4)
    with pytest.raises(ValueError, match=match):
        call(K, y)
