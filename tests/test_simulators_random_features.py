"""Unit tests of dltheory.simulators.random_features: the Rao-Blackwellised risk against an explicit fit, limits,
seeds, bad input."""

import numpy as np
import pytest

from dltheory.simulators import random_features as sim

LAM = np.arange(1, 9, dtype=float) ** -1.0
V = np.linspace(1.0, 0.2, 8)


def test_risk_matches_an_explicit_fit():
    """Distinct eigenvalues: the eigenspace average is over the signs of v's coordinates (it drops the cross terms
    of ||(H X - I) v||^2), plus E_eps ||H eps||^2 = sigma^2 ||H||_F^2, for the fit on the same draws."""
    n, k, deltas, s2 = 6, 5, [0.01, 1.0], 0.3
    risks = sim.rf_ridge_risks(LAM, V, n, k, deltas, s2, n_trials=2, seed=3)
    rng = np.random.default_rng(3)
    for t in range(2):
        X = rng.standard_normal((n, 8))
        F = rng.standard_normal((k, 8)) * np.sqrt(LAM / k)
        G = X @ F.T
        for j, d in enumerate(deltas):
            H = F.T @ G.T @ np.linalg.inv(G @ G.T + d * np.eye(n))
            A = H @ X - np.eye(8)
            expected = V**2 @ np.sum(A**2, axis=0) + s2 * (np.sum(H**2) + 1)
            signs = np.array(np.meshgrid(*[[-1.0, 1.0]] * 8)).reshape(8, -1).T  # all 2^8 sign patterns of v
            assert np.mean(np.sum((A @ (signs * V).T) ** 2, axis=0)) == pytest.approx(
                expected - s2 * (np.sum(H**2) + 1)
            )
            assert risks[t, j] == pytest.approx(expected, rel=1e-10)


def test_eigenspace_average_and_limits():
    lam = np.repeat([1.0, 0.1], 4)
    v = np.array([1.0, 0, 0, 0, 0.5, 0.5, 0, 0])
    power = np.repeat([0.25, 0.125], 4)  # v^2 averaged over each eigenspace
    a = sim.rf_ridge_risks(lam, v, 5, 6, [0.3], n_trials=3, seed=1)
    b = sim.rf_ridge_risks(lam, np.sqrt(power), 5, 6, [0.3], n_trials=3, seed=1)
    np.testing.assert_allclose(a, b, rtol=1e-12)
    huge = sim.rf_ridge_risks(LAM, V, 6, 5, [1e12], 0.2, n_trials=2, seed=0)
    np.testing.assert_allclose(huge, V @ V + 0.2, rtol=1e-9)  # infinite ridge: w = 0


def test_seeds_reproduce():
    a = sim.rf_ridge_risks(LAM, V, 4, 4, [0.1], n_trials=3, seed=np.random.SeedSequence(5))
    b = sim.rf_ridge_risks(LAM, V, 4, 4, [0.1], n_trials=3, seed=np.random.SeedSequence(5))
    assert np.array_equal(a, b) and a.shape == (3, 1)


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        (dict(eigvals=-LAM), ValueError, "eigvals"),
        (dict(eigcoeffs=V[:-1]), ValueError, "eigcoeffs"),
        (dict(n=0), ValueError, "n must"),
        (dict(k=2.5), ValueError, "k must"),
        (dict(ridges=[0.0]), ValueError, "ridges"),
        (dict(sigma2=-1.0), ValueError, "sigma2"),
        (dict(n_trials=0), ValueError, "n_trials"),
        (dict(seed=None), TypeError, "seed"),
        (dict(n=10**6, k=10**6), ValueError, "cap"),
    ],
)
def test_invalid_input(kwargs, exc, match):
    call = dict(eigvals=LAM, eigcoeffs=V, n=4, k=4, ridges=[0.1], n_trials=1, seed=0) | kwargs
    with pytest.raises(exc, match=match):
        sim.rf_ridge_risks(**call)
