"""Unit tests of dltheory.theory.random_features: the fixed-point equations, limits (k -> inf, delta -> 0), a
closed-form golden case, the replication invariance the claims use, monotonicity (Theorem 1), bad input."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dltheory.theory import random_features as th

LAM = np.arange(1, 31, dtype=float) ** -1.5
V = np.sqrt(np.arange(1, 31, dtype=float) ** -1.2)


@settings(max_examples=30, deadline=None, derandomize=True)
@given(st.floats(0.5, 60.0), st.floats(0.5, 60.0), st.floats(1e-6, 10.0))
def test_fixed_point_solves_both_equations(n, k, delta):
    kappa, gamma = th.rf_fixed_point(LAM, n, k, delta)
    z = np.sum(LAM / (LAM + gamma))
    assert z + delta / kappa == pytest.approx(n, rel=1e-10)
    assert z + k * kappa / gamma == pytest.approx(k, rel=1e-10)


def test_infinite_features_is_krr():
    for n, delta in ((5.0, 0.1), (40.0, 1e-3)):
        assert th.rf_risk(LAM, V, n, 1e12, delta, 0.1) == pytest.approx(th.krr_risk(LAM, V, n, delta, 0.1), rel=1e-8)


@pytest.mark.parametrize("n, k", [(5.0, 12.0), (12.0, 5.0)])
def test_ridgeless_is_the_small_ridge_limit(n, k):
    assert th.rf_risk(LAM, V, n, k, 1e-11, 0.2) == pytest.approx(th.rf_risk(LAM, V, n, k, 0.0, 0.2), rel=1e-6)
    assert th.rf_risk(LAM, V, 7.0, 7.0, 0.0, 0.2) == math.inf


def test_isotropic_ridgeless_golden_value():
    """lambda_i = 1/M: min-norm regression risk (1 - n/M) |v|^2 + sigma^2 M / (M - n) (n < M)."""
    M, n, s2 = 50, 20.0, 0.3
    v = np.linspace(0.1, 1.0, M)
    expected = (1 - n / M) * v @ v + s2 * M / (M - n)
    assert th.krr_risk(np.full(M, 1 / M), v, n, 0.0, s2) == pytest.approx(expected, rel=1e-10)


def test_replication_invariance():
    """Each eigenvalue split into s copies of lambda / s, target power likewise, n and k times s: same risk."""
    for s in (2, 5):
        lam, v = np.repeat(LAM / s, s), np.repeat(V / np.sqrt(s), s)
        assert th.rf_risk(lam, v, 4 * s, 9 * s, 0.05, 0.1) == pytest.approx(
            th.rf_risk(LAM, V, 4, 9, 0.05, 0.1), rel=1e-10
        )


def test_optimal_ridge_risk_falls_with_n_and_k():
    """[SKGB23] Theorem 1 on a grid."""
    tuned = lambda n, k: th.rf_optimal_ridge(LAM, V, n, k, 0.1)[1]  # noqa: E731
    along_k = [tuned(8, k) for k in (2, 4, 8, 16, 32)]
    along_n = [tuned(n, 8) for n in (2, 4, 8, 16, 32)]
    assert np.all(np.diff(along_k) < 0) and np.all(np.diff(along_n) < 0)
    delta, risk = th.rf_optimal_ridge(LAM, V, 8, 8, 0.1)
    assert risk <= min(th.rf_risk(LAM, V, 8, 8, d, 0.1) for d in np.geomspace(1e-4, 10, 30)) + 1e-12
    assert risk == pytest.approx(th.rf_risk(LAM, V, 8, 8, delta, 0.1), rel=1e-12)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: th.rf_risk(LAM, V[:-1], 4, 4, 0.1), "eigcoeffs"),
        (lambda: th.rf_risk(-LAM, V, 4, 4, 0.1), "eigvals"),
        (lambda: th.rf_risk(LAM, V, 0, 4, 0.1), "n"),
        (lambda: th.rf_risk(LAM, V, 4, True, 0.1), "k"),
        (lambda: th.rf_risk(LAM, V, 4, 4, -0.1), "delta"),
        (lambda: th.rf_risk(LAM, V, 4, 4, 0.1, np.nan), "sigma2"),
        (lambda: th.rf_fixed_point(LAM, 40, 50, 0.0), "min"),
        (lambda: th.krr_risk(LAM, V, 4, "0.1"), "delta"),
        (lambda: th.rf_optimal_ridge(LAM, V, 4, 4, 0.1, log10_bounds=(2.0, 1.0)), "log10_bounds"),
    ],
)
def test_invalid_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()
