"""Unit tests of simulators.grokking: exact GD vs a plain iteration, bad input, divergence."""

import numpy as np
import pytest

from simulators import grokking as sim


def _plain_gd(lam, lr, eps, d_in, n_steps, n_test, gamma, seed):
    """Iterate D_{t+1} = D_t - 2 lr Sigma D_t - lr gamma (D_t + T) in the original basis, same draws."""
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])
    n_tr = int(round(d_in / lam))
    X, X_test = rng.standard_normal((n_tr, d_in)), rng.standard_normal((n_test, d_in))
    T = rng.standard_normal(d_in) / np.sqrt(2.0 * d_in)
    S0 = rng.standard_normal(d_in) / np.sqrt(2.0 * d_in)
    Sigma, D = X.T @ X / n_tr, S0 - T
    out = []
    for _ in range(n_steps + 1):
        out.append((D @ Sigma @ D, D @ D, np.mean((X @ D) ** 2 < eps), np.mean((X_test @ D) ** 2 < eps)))
        D = D - 2 * lr * Sigma @ D - lr * gamma * (D + T)
    return np.array(out).T


@pytest.mark.parametrize("gamma", [0.0, 0.02])
def test_eigenbasis_gd_matches_plain_gd(gamma):
    run = sim.linear_teacher_student(0.5, 0.05, 1e-3, d_in=20, n_steps=60, n_test=50, weight_decay=gamma, seed=3)
    ref = _plain_gd(0.5, 0.05, 1e-3, 20, 60, 50, gamma, 3)
    np.testing.assert_allclose(run.train_loss[0], ref[0], rtol=1e-10)
    np.testing.assert_allclose(run.gen_loss[0], ref[1], rtol=1e-10)
    np.testing.assert_array_equal(run.train_acc[0], ref[2])
    np.testing.assert_array_equal(run.test_acc[0], ref[3])


def test_accuracy_every_and_first_step():
    run = sim.linear_teacher_student(0.3, 0.05, 1e-3, d_in=30, n_steps=400, n_seeds=2, n_test=200, accuracy_every=4,
                                     seed=1)
    assert run.train_acc.shape == (2, 101) and np.array_equal(run.acc_steps, np.arange(0, 401, 4))
    first = run.first_step("gen_loss", 2.5e-4, below=True)
    assert np.all(first > 0) and np.all(run.gen_loss[np.arange(2), first] <= 2.5e-4)
    assert np.all(run.gen_loss[np.arange(2), first - 1] > 2.5e-4)
    assert np.all(run.first_step("test_acc", 0.9545, below=False) % 4 == 0)
    none = sim.linear_teacher_student(0.3, 0.05, 1e-3, d_in=30, n_steps=10, accuracy_every=None, seed=1)
    assert none.train_acc.shape == (1, 0) and none.acc_steps.size == 0


def test_diverging_run_raises():
    with pytest.raises(FloatingPointError, match="diverged at step"):
        sim.linear_teacher_student(0.5, 1.5, 1e-3, d_in=20, n_steps=200, seed=0)


@pytest.mark.parametrize("kwargs, name", [(dict(lam=1.2), "lam"), (dict(lr=-1.0), "lr"), (dict(eps=0.0), "eps"),
                                          (dict(weight_decay=-0.1), "weight_decay"), (dict(d_in=1), "d_in"),
                                          (dict(accuracy_every=3), "accuracy_every")])
def test_bad_input(kwargs, name):
    args = dict(lam=0.5, lr=0.01, eps=1e-3, d_in=20, n_steps=10, seed=0) | kwargs
    with pytest.raises(ValueError, match=name):
        sim.linear_teacher_student(args.pop("lam"), args.pop("lr"), args.pop("eps"), **args)
