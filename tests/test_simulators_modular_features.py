"""dltheory.simulators.modular_features against naive numpy references and the exact theory it is tested with."""

from __future__ import annotations

import numpy as np
import pytest

from dltheory.simulators import modular_features as mf
from dltheory.theory import grokking_modular as gm
from dltheory.theory import modular_margin as mm


def _ce_sum_grad(theta, xi, p):
    """Naive numpy gradient of the mean CE of He et al.'s tied network over all p^2 pairs."""
    x = np.arange(p)
    h = theta[:, :, None] + theta[:, None, :]  # (N, x, y)
    f = np.einsum("mxy,mj->xyj", h**2, xi)
    sm = np.exp(f - f.max(-1, keepdims=True))
    sm /= sm.sum(-1, keepdims=True)
    g = (sm - np.eye(p)[(x[:, None] + x[None, :]) % p]) / p**2  # dL/df
    d_xi = np.einsum("xyj,mxy->mj", g, h**2)
    s = np.einsum("xyj,mj->mxy", g, xi) * 2 * h
    return s.sum(axis=2) + s.sum(axis=1), d_xi


def test_lottery_gd_step_matches_numpy_reference():
    run = mf.train_lottery(5, 3, init_scale=0.5, lr=0.7, n_steps=1, record_every=1, n_seeds=2, seed=3)
    for i in range(2):
        d_theta, d_xi = _ce_sum_grad(run.theta0[i], run.xi0[i], 5)
        np.testing.assert_allclose(run.theta[i], run.theta0[i] - 0.7 * d_theta, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(run.xi[i], run.xi0[i] - 0.7 * d_xi, rtol=1e-12, atol=1e-14)
    assert run.loss.dtype == np.float64 and run.theta.dtype == np.float64 and run.loss.shape == (2, 2)


def test_lottery_learns_and_is_reproducible():
    a = mf.train_lottery(5, 3, init_scale=0.5, lr=0.7, n_steps=300, record_every=1, n_seeds=2, seed=0)
    b = mf.train_lottery(5, 3, init_scale=0.5, lr=0.7, n_steps=300, record_every=1, n_seeds=2, seed=0)
    np.testing.assert_array_equal(a.theta, b.theta)
    assert np.all(a.accuracy[:, -1] == 1.0) and np.all(a.loss[:, -1] < 0.1 * a.loss[:, 0])
    np.testing.assert_array_equal(a.steps, np.arange(301))


def test_max_margin_training_stays_on_the_unit_sphere_and_below_gamma_star():
    run = mf.train_max_margin(5, 16, temperatures=(30.0, 100.0), n_steps=200, lr=0.01, n_seeds=2, seed=0)
    margins = []
    for U, V, W in zip(run.U, run.V, run.W):
        assert mm.l23_norm(U, V, W) == pytest.approx(1.0, rel=1e-12)
        margins.append(mm.normalised_margin(U, V, W))
    assert max(margins) <= gm.max_margin_quadratic(5) * (1 + 1e-9)  # Thm 7 is an upper bound
    assert max(margins) >= 0.9 * gm.max_margin_quadratic(5)  # and training gets close to it
    assert run.loss.shape == (2, 2) and np.all(np.diff(run.loss, axis=1) < 0)


def test_invalid_input_raises():
    with pytest.raises(TypeError, match="seed"):
        mf.train_lottery(5, 3, n_steps=2, record_every=1, seed=None)
    with pytest.raises(ValueError, match="multiple of record_every"):
        mf.train_lottery(5, 3, n_steps=3, record_every=2, seed=0)
    with pytest.raises(ValueError, match="temperatures"):
        mf.train_max_margin(5, 4, temperatures=(0.0,), seed=0)
    with pytest.raises(FloatingPointError, match="diverged"):
        mf.train_lottery(5, 3, init_scale=5.0, lr=1e5, n_steps=20, record_every=1, n_seeds=2, seed=0)
