"""Unit tests of dltheory.simulators.early_learning: against a naive GD loop, memorisation, seeds, bad input."""

import numpy as np
import pytest

from dltheory.simulators import early_learning as sim


def test_matches_naive_gd_loop():
    n, p, sigma, Delta, steps = 30, 50, 0.4, 0.2, 6
    run = sim.gd_noisy_labels(n, p, sigma, Delta, max_steps=steps, seed=3, eta=0.5)
    rng = np.random.default_rng(3)
    y_true = rng.choice(np.array([-1.0, 1.0]), n)
    X = sigma * rng.standard_normal((n, p))
    X[:, 0] += y_true
    flipped = np.zeros(n, bool)
    flipped[rng.choice(n, 6, replace=False)] = True
    y = np.where(flipped, -y_true, y_true)
    theta = np.zeros(p)
    for t in range(len(run.flipped_accuracy)):
        grad = -(X.T @ (y / (1 + np.exp(y * (X @ theta))))) / n
        theta -= 0.5 * grad
        s = X @ theta
        assert run.flipped_accuracy[t] == pytest.approx(np.mean(y_true[flipped] * s[flipped] > 0))
        assert run.train_accuracy[t] == pytest.approx(np.mean(y * s > 0))


def test_overparameterised_run_memorises():
    run = sim.gd_noisy_labels(20, 80, 0.5, 0.25, max_steps=5000, seed=1)
    assert run.memorized and run.train_accuracy[-1] == 1.0 and run.flipped_accuracy[-1] == 0.0
    assert run.eta > 0 and len(run.train_accuracy) <= 5000


def test_seed_reproducible():
    a = sim.gd_noisy_labels(20, 10, 0.5, 0.2, max_steps=5, seed=np.random.SeedSequence(2))
    b = sim.gd_noisy_labels(20, 10, 0.5, 0.2, max_steps=5, seed=np.random.SeedSequence(2))
    assert np.array_equal(a.flipped_accuracy, b.flipped_accuracy) and a.memorized == b.memorized


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(Delta=0.5), "Delta"),
        (dict(Delta=0.01), "Delta"),
        (dict(sigma=-1.0), "sigma"),
        (dict(max_steps=0), "max_steps"),
        (dict(seed=None), "seed"),
        (dict(eta=0.0), "eta"),
        (dict(n=True), "n must"),
    ],
)
def test_bad_input_raises(kwargs, match):
    args = dict(n=20, p=10, sigma=0.5, Delta=0.2, max_steps=5, seed=0) | kwargs
    with pytest.raises(ValueError, match=match):
        sim.gd_noisy_labels(**args)
