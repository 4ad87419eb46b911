"""Unit tests of the Levi et al. asymptotics (theory) and of the exact spectral GD simulator."""

from __future__ import annotations

import math

import numpy as np
import pytest

from dltheory.simulators import grokking_linear as sim
from dltheory.theory import grokking_linear as th


def test_delay_rate_value_and_limit_of_the_mp_roots():
    assert th.linear_estimator_delay_rate(0.25) == pytest.approx(1.5 * (1 + 1 / (2 * math.log(2))), rel=1e-15)
    # the exact gradient-flow MP delays approach eq. 12 as 1 - kappa x: one Richardson step on x = 0.02, 0.01
    lam, lr = 0.25, 0.01
    a2 = (1 - math.sqrt(lam)) ** 2
    ratio = []
    for x in (0.02, 0.01):
        level = float(th.linear_estimator_losses(1 / (4 * lr * a2 * x), lam, lr)[0][()])
        t_tr, t_gen = th.linear_estimator_crossing_times(lam, lr, level)
        ratio.append((t_gen - t_tr) / th.linear_estimator_delay_asymptote(lam, lr))
    kappa_hat = ((1 - ratio[1]) / 0.01 * 2 - (1 - ratio[0]) / 0.02) / 1  # Richardson: 2 f(x/2) - f(x)
    assert kappa_hat == pytest.approx(th.linear_estimator_delay_rate(lam), rel=5e-3)
    assert 2 * ratio[1] - ratio[0] == pytest.approx(1.0, abs=3e-3)


def test_gen_loss_limit_and_init_factor():
    assert th.linear_estimator_gen_loss_limit(0.5) == 0.0
    assert th.linear_estimator_gen_loss_limit(1.0) == 0.0
    assert th.linear_estimator_gen_loss_limit(4.0) == 0.75
    assert th.init_scale_loss_factor(1.0) == 1.0
    assert th.init_scale_loss_factor(0.0) == 0.5
    assert th.init_scale_loss_factor(3.0) == 5.0
    for bad in (0.0, -1.0, float("nan"), None, True):
        with pytest.raises((ValueError, TypeError)):
            th.linear_estimator_gen_loss_limit(bad)
    for bad in (1.0, 0.0, 2.0):
        with pytest.raises(ValueError, match="lam"):
            th.linear_estimator_delay_rate(bad)
    with pytest.raises(ValueError, match="alpha"):
        th.init_scale_loss_factor(-0.1)


def test_spectral_losses_are_exact_gd():
    """SpectralRun's closed form equals GD run step by step in the full space (eq. 3, d_out = 2)."""
    rng = np.random.default_rng(0)
    d, n, d_out, lr = 12, 30, 2, 0.05
    X = rng.standard_normal((n, d))
    Sigma = X.T @ X / n
    D = rng.standard_normal((d, d_out)) / np.sqrt(2 * d * d_out)
    nu, V = np.linalg.eigh(Sigma)
    run = sim.SpectralRun(nu=nu[None], c2=np.sum((V.T @ D) ** 2, axis=1)[None] / d_out, d_out=d_out, n_null=0)
    steps = np.arange(6.0)
    tr, gen = run.losses(steps, lr)
    for k in range(6):
        assert tr[0, k] == pytest.approx(np.trace(D.T @ Sigma @ D) / d_out, rel=1e-12)
        assert gen[0, k] == pytest.approx(np.sum(D**2) / d_out, rel=1e-12)
        D = D - 2 * lr / d_out * Sigma @ D
    flow_tr, _ = run.losses(np.array([3.0]), lr, discrete=False)
    assert flow_tr[0, 0] == pytest.approx(np.sum(run.c2 * nu * np.exp(-4 * lr * nu * 3.0 / d_out)), rel=1e-12)


def test_spectrum_crossings_null_space_and_init_scale():
    run = sim.linear_teacher_student_spectrum(0.5, d_in=40, n_seeds=3, seed=1)
    t = run.crossing_times(0.05, 1e-3)
    tr, gen = run.losses(t[:, 0], 0.05)
    np.testing.assert_allclose(np.diag(tr), 1e-3, rtol=1e-9)
    assert np.all(t[:, 1] > t[:, 0])
    over = sim.linear_teacher_student_spectrum(4.0, d_in=40, n_seeds=200, seed=2)
    assert over.n_null == 30 and np.all(over.nu[:, :30] < 1e-10)
    limit = over.gen_loss_limit()
    assert limit.mean() == pytest.approx(0.75, abs=4 * limit.std() / np.sqrt(200))
    np.testing.assert_allclose(over.losses(np.array([1e7]), 0.02)[1][:, 0], limit, rtol=1e-9)
    assert np.all(over.crossing_times(0.02, 0.5 * limit.min())[:, 1] == np.inf)
    scaled = sim.linear_teacher_student_spectrum(0.5, d_in=50, alpha=2.0, d_out=3, n_seeds=300, seed=3)
    total = scaled.c2.sum(axis=1)  # L_gen(0) = |D_0|_F^2 / d_out, E |D_0|_F^2 = (1 + alpha^2)/2 (eq. 2, App. C)
    assert total.mean() == pytest.approx(th.init_scale_loss_factor(2.0) / 3, abs=4 * total.std() / np.sqrt(300))


def test_spectrum_rejects_bad_input():
    for kwargs in (dict(lam=0.0), dict(lam=-1.0), dict(d_in=1), dict(alpha=-1.0), dict(n_seeds=0), dict(seed=-1)):
        args = dict(lam=0.5, d_in=8, n_seeds=1, seed=0) | kwargs
        with pytest.raises(ValueError, match=next(iter(kwargs))):
            sim.linear_teacher_student_spectrum(**args)
    run = sim.linear_teacher_student_spectrum(0.5, d_in=8, seed=0)
    with pytest.raises(ValueError, match="lr"):
        run.losses(np.array([1.0]), 10.0)
    with pytest.raises(ValueError, match="level"):
        run.crossing_times(0.05, 0.0)
