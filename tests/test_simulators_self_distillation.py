"""Unit tests of dltheory.simulators.self_distillation: the lstsq steps against ridge normal equations, the greedy
weights' optimality, bad input."""

import numpy as np
import pytest

from dltheory.simulators import self_distillation as sim


def _task(seed, n=10, p=16):
    rng = np.random.default_rng(seed)
    Phi = rng.standard_normal((n, p)) / np.sqrt(p)
    f = Phi @ rng.standard_normal(p)
    return Phi, f, f + 0.3 * rng.standard_normal(n)


def test_steps_are_ridge_fits_of_the_weighted_targets():
    Phi, _, y = _task(0)
    lam, alpha = 0.3, 0.4
    preds = sim.distill(Phi, y, lam, alpha, 4)
    H = Phi @ np.linalg.solve(Phi.T @ Phi + lam * np.eye(Phi.shape[1]), Phi.T)
    t, ref = y, []
    for _ in range(4):
        ref.append(H @ t)
        t = alpha * y + (1 - alpha) * ref[-1]
    np.testing.assert_allclose(preds, np.array(ref), atol=1e-12)
    np.testing.assert_allclose(sim.distill(Phi, y, lam, 1.0, 3), np.array([ref[0]] * 3), atol=1e-12)
    assert sim.distill(Phi, y, lam, alpha, 2, Phi[:3]).shape == (2, 3)


def test_greedy_alphas_are_local_minima_within_bounds():
    Phi, f, y = _task(1)
    out = sim.greedy_alphas(Phi, y, f, 0.3, 4, bounds=(-2.0, 3.0))
    assert set(out) == {"alpha", "risk", "curvature"} and out["alpha"].shape == (3,)
    assert np.all((out["alpha"] >= -2) & (out["alpha"] <= 3)) and np.all(out["curvature"] > 0)
    step = sim.distill(Phi, y, 0.3, out["alpha"][0], 2)[-1]
    assert np.mean((f - step) ** 2) == pytest.approx(out["risk"][0], rel=1e-12)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda Phi, f, y: sim.distill(Phi[0], y, 0.1, 0.5, 2), "Phi"),
        (lambda Phi, f, y: sim.distill(Phi, y[:-1], 0.1, 0.5, 2), "y must"),
        (lambda Phi, f, y: sim.distill(Phi, y, -0.1, 0.5, 2), "lam"),
        (lambda Phi, f, y: sim.distill(Phi, y, 0.1, np.nan, 2), "alpha"),
        (lambda Phi, f, y: sim.distill(Phi, y, 0.1, 0.5, 2, Phi[:, :-1]), "Phi_test"),
        (lambda Phi, f, y: sim.greedy_alphas(Phi, y, f[:-1], 0.1, 2), "f_star"),
        (lambda Phi, f, y: sim.greedy_alphas(Phi, y, f, 0.1, 2, bounds=(1.0, 0.0)), "bounds"),
        (lambda Phi, f, y: sim.distill(Phi, y, 0.1, 0.5, 10**9), "cap"),
    ],
)
def test_invalid_input(call, match):
    Phi, f, y = _task(2)
    with pytest.raises(ValueError, match=match):
        call(Phi, f, y)
