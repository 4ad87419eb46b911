"""Unit tests of dltheory.simulators.continual: against a naive pseudo-inverse loop, interpolation, seeds, bad input."""

import numpy as np
import pytest

from dltheory.simulators import continual as sim


def test_matches_naive_pseudoinverse_loop_and_interpolates():
    rng = np.random.default_rng(0)
    w_star, n, sigma = rng.standard_normal((3, 12)), 5, 0.4
    run = sim.sequential_min_norm(w_star, n, sigma=sigma, n_runs=1, seed=7)
    draws = np.random.default_rng(7)
    w = np.zeros(12)
    for t in range(3):
        X = draws.standard_normal((1, 12, n))[0]
        y = X.T @ w_star[t] + sigma * draws.standard_normal((1, n))[0]
        w_new = w + np.linalg.pinv(X.T) @ (y - X.T @ w)
        np.testing.assert_allclose(X.T @ w_new, y, atol=1e-10)  # task t fitted exactly
        assert np.linalg.norm(w_new - w) <= np.linalg.norm(np.linalg.lstsq(X.T, y - X.T @ w, rcond=None)[0]) + 1e-10
        w = w_new
        np.testing.assert_allclose(run.errors[0, t], ((w - w_star) ** 2).sum(1), rtol=1e-10)


def test_forgetting_and_generalization_definitions():
    run = sim.sequential_min_norm(np.eye(3, 8), 2, n_runs=4, seed=1)
    E = run.errors
    np.testing.assert_allclose(run.generalization, E[:, 2, :].mean(1))
    np.testing.assert_allclose(run.forgetting, ((E[:, 2, 0] - E[:, 0, 0]) + (E[:, 2, 1] - E[:, 1, 1])) / 2)
    assert np.isnan(sim.sequential_min_norm(np.eye(1, 8), 2, n_runs=2, seed=1).forgetting).all()


def test_mean_of_one_projection():
    """One noiseless task: E||w_1 - w*||^2 = (1 - n/p) ||w*||^2 (z at 4.4 SE)."""
    e = sim.sequential_min_norm(np.eye(1, 20), 5, n_runs=4000, seed=2).errors[:, 0, 0]
    assert abs(e.mean() - 0.75) < 4.4 * e.std(ddof=1) / np.sqrt(e.size)


def test_seed_reproducible():
    a = sim.sequential_min_norm(np.eye(2, 6), 3, sigma=0.1, n_runs=3, seed=np.random.SeedSequence(5))
    b = sim.sequential_min_norm(np.eye(2, 6), 3, sigma=0.1, n_runs=3, seed=np.random.SeedSequence(5))
    assert np.array_equal(a.errors, b.errors)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(w_star=np.eye(2, 5), n=5, n_runs=1, seed=0), "p > n"),
        (dict(w_star=np.eye(2, 5), n=2, n_runs=0, seed=0), "n_runs"),
        (dict(w_star=np.eye(2, 5), n=2, n_runs=1, seed=None), "seed"),
        (dict(w_star=np.eye(2, 5), n=2.0, n_runs=1, seed=0), "n must"),
        (dict(w_star=np.eye(2, 5), n=2, n_runs=1, seed=0, sigma=np.inf), "sigma"),
        (dict(w_star=[[1j, 0, 0]], n=1, n_runs=1, seed=0), "w_star"),
    ],
)
def test_bad_input_raises(kwargs, match):
    with pytest.raises(ValueError, match=match):
        sim.sequential_min_norm(**kwargs)
