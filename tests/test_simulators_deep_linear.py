"""Unit tests of dltheory.simulators.deep_linear: numba kernel vs numpy reference, inits, bad input, divergence."""

import numpy as np
import pytest

from dltheory.simulators import deep_linear as sim


@pytest.fixture(scope="module")
def task():
    return sim.make_task([3.0, 1.0, 0.5], 5, 4, seed=0)


@pytest.mark.parametrize("widths", [[5, 6, 4], [5, 7, 7, 4], [5, 3, 6, 2, 4]])
def test_kernel_matches_numpy_reference(task, widths):
    W0 = sim.init_small_random(widths, 0.3, seed=1)
    tr = sim.train(W0, task, eta=0.05, n_steps=60, record_every=7)
    ref = sim.train_reference(W0, task, eta=0.05, n_steps=60, record_every=7)
    np.testing.assert_allclose(tr.W_tot[: len(ref)], ref, atol=1e-13)
    assert tr.steps[-1] == 60 and np.allclose(tr.t, 0.05 * tr.steps)


def test_input_weights_not_modified(task):
    W0 = sim.init_small_random([5, 6, 4], 0.3, seed=1)
    copy = [w.copy() for w in W0]
    sim.train(W0, task, eta=0.05, n_steps=10)
    assert all(np.array_equal(a, b) for a, b in zip(W0, copy))


def test_decoupled_init_starts_at_u0_and_stays_diagonal(task):
    W0 = sim.init_decoupled(task, [5, 6, 6, 4], 0.2, seed=2)
    tr = sim.train(W0, task, eta=0.01, n_steps=200, record_every=50)
    u = tr.mode_strengths(task)
    np.testing.assert_allclose(u[0], 0.2**3, rtol=1e-12)
    M = np.einsum("oa,koi,ib->kab", task.U[:, :3], tr.W_tot, task.V[:, :3])
    off = M - np.einsum("kaa->ka", M)[:, :, None] * np.eye(3)
    assert np.abs(off).max() < 1e-13


@pytest.mark.parametrize("widths", [[5, 3, 4], [5, 4, 6, 4]])
def test_balanced_init_is_balanced_with_given_spectrum(widths):
    W = sim.init_balanced(widths, [1.0, 0.5, 0.1], seed=3)
    assert sim.balancedness(W) < 1e-13
    W_tot = np.linalg.multi_dot(W[::-1])
    np.testing.assert_allclose(np.linalg.svd(W_tot, compute_uv=False)[:3], [1.0, 0.5, 0.1], rtol=1e-12)


def test_orthogonal_init_and_products():
    W = sim.init_orthogonal([6, 6, 6], seed=4)
    assert all(np.allclose(w @ w.T, np.eye(6), atol=1e-14) for w in W)
    assert np.abs(sim.orthogonal_product_singular_values(32, 5, seed=5) - 1).max() < 1e-13


def test_crossing_steps_and_early_stop(task):
    W0 = sim.init_decoupled(task, [5, 6, 4], 0.05, seed=2)
    tr = sim.train(W0, task, eta=0.01, n_steps=10_000, record_every=100, targets=task.s / 2, stop_when_crossed=True)
    c = tr.crossing_step
    assert np.all(c > 0) and np.all(np.diff(c) > 0) and tr.steps[-1] == c.max()
    u = sim.train(W0, task, eta=0.01, n_steps=int(c[0]), record_every=1).mode_strengths(task)
    assert u[-1, 0] >= task.s[0] / 2 > u[-2, 0]


def test_gaussian_product_moments_match_the_svd_reference():
    sq = sim.gaussian_product_sq_singular_values(12, 3, 4, seed=3)
    moments = sim.gaussian_product_moments(12, 3, 4, (1, 2, 3, 5), seed=3)
    np.testing.assert_allclose(moments, np.stack([(sq**m).mean(axis=1) for m in (1, 2, 3, 5)], axis=1), rtol=1e-12)


def _exact_second_moment(N: int, L: int) -> float:
    """E (1/N) tr((P^T P)^2) for P = W_L ... W_1, N(0, 1/N) entries, at finite N (Wick). With B = P P^T before a
    layer W: E tr((W^T W B)^2) = (1 + 1/N) tr(B^2) + (tr B)^2 / N and E (tr W^T W B)^2 = (tr B)^2 + 2 tr(B^2) / N."""
    z, y = float(N), float(N) ** 2  # E tr(B^2), E (tr B)^2 at B = I
    for _ in range(L):
        z, y = (1 + 1 / N) * z + y / N, y + 2 * z / N
    return z / N


def test_exact_second_moment_tends_to_fuss_catalan():
    assert _exact_second_moment(5, 1) == pytest.approx(2 + 1 / 5, rel=1e-14)
    assert [round(_exact_second_moment(10**7, L), 4) for L in (1, 2, 4)] == [2.0, 3.0, 5.0]


@pytest.mark.parametrize("N, L", [(8, 1), (8, 3), (32, 2)])
def test_gaussian_product_moments_at_finite_width(N, L):
    """E (1/N) tr(P^T P) = 1 at every N (the 1/N normalisation), and the second moment is the exact finite-N value.
    z-test at 4.4 SE (alpha ~ 1e-5 per moment)."""
    m = sim.gaussian_product_moments(N, L, 2000, (1, 2), seed=11)
    se = m.std(axis=0, ddof=1) / np.sqrt(m.shape[0])
    assert abs(m[:, 0].mean() - 1.0) < 4.4 * se[0]
    assert abs(m[:, 1].mean() - _exact_second_moment(N, L)) < 4.4 * se[1]


def test_seeds_reproduce():
    a = sim.gaussian_product_sq_singular_values(8, 2, 3, seed=7)
    b = sim.gaussian_product_sq_singular_values(8, 2, 3, seed=np.random.SeedSequence(7))
    assert np.array_equal(a, b)
    with pytest.raises(TypeError, match="seed"):
        sim.make_task([1.0], 2, 2, seed=-1)


def test_divergence_raises_with_eta_and_step(task):
    W0 = sim.init_small_random([5, 6, 4], 0.3, seed=1)
    with pytest.raises(FloatingPointError, match=r"diverged at step \d+ with eta=3.0"):
        sim.train(W0, task, eta=3.0, n_steps=10_000)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(eta=0.0), "eta"),
        (dict(eta=np.nan), "eta"),
        (dict(n_steps=-1), "n_steps"),
        (dict(record_every=0), "record_every"),
        (dict(targets=[1.0]), "targets"),
    ],
)
def test_train_rejects_bad_arguments(task, kwargs, match):
    W0 = sim.init_small_random([5, 6, 4], 0.1, seed=1)
    args = dict(eta=0.01, n_steps=10) | kwargs
    with pytest.raises(ValueError, match=match):
        sim.train(W0, task, **args)


def test_bad_shapes_and_parameters(task):
    with pytest.raises(ValueError, match="weights"):
        sim.train([np.zeros((3, 5)), np.zeros((4, 2))], task, eta=0.1, n_steps=1)
    with pytest.raises(ValueError, match="task needs"):
        sim.train([np.zeros((3, 2)), np.zeros((4, 3))], task, eta=0.1, n_steps=1)
    with pytest.raises(ValueError, match="s must"):
        sim.make_task([1.0, -1.0], 3, 3, seed=0)
    with pytest.raises(ValueError, match="len"):
        sim.make_task([1.0, 1.0, 1.0], 2, 3, seed=0)
    with pytest.raises(ValueError, match="hidden widths"):
        sim.init_decoupled(task, [5, 2, 4], 0.1, seed=0)
    with pytest.raises(ValueError, match="a0"):
        sim.init_decoupled(task, [5, 6, 4], -0.1, seed=0)
    with pytest.raises(ValueError, match="widths"):
        sim.init_small_random([5, 4], 0.1, seed=0)
    with pytest.raises(ValueError, match="sigma0"):
        sim.init_small_random([5, 6, 4], 0.0, seed=0)
    with pytest.raises(ValueError, match="N must"):
        sim.gaussian_product_sq_singular_values(0, 1, 1, seed=0)
    with pytest.raises(ValueError, match="L must"):
        sim.gaussian_product_moments(4, 0, 1, seed=0)
    with pytest.raises(ValueError, match="orders"):
        sim.gaussian_product_moments(4, 1, 1, (0, 2), seed=0)
