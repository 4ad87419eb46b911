"""Unit tests of Li_2's energy ascent (dltheory.theory.grokking_modular.tian_energy_gradient / tian_energy_ascent),
of the Li_2 network simulator (dltheory.simulators.tian_li2) and of grok.energy_features' formula and helpers."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from dltheory.simulators.tian_li2 import train_li2
from dltheory.theory import grokking_modular as gm
from dltheory.verify.claims import grok_energy as ge

RTOL = 1e-10  # float64 identities of sums over <= M^2 terms


def _random_w(M, seed=0, n=None):
    shape = (2 * M,) if n is None else (n, 2 * M)
    return np.random.default_rng(seed).standard_normal(shape)


def _fourier_energy(w, M):
    """E = (2/M) sum_{k != 0} |u^_k|^2 |v^_k|^2 on the full table (u * v is a convolution; centring drops k = 0)."""
    u, v = np.fft.fft(w[:M]), np.fft.fft(w[M:])
    return 2 / M * np.sum(np.abs(u[1:]) ** 2 * np.abs(v[1:]) ** 2)


@pytest.mark.parametrize("M", [5, 11])
def test_gradient_energy_matches_tian_energy_and_fourier_form(M):
    w = _random_w(M)
    E, g = gm.tian_energy_gradient(w, M)
    assert E == pytest.approx(gm.tian_energy(w, M), rel=RTOL)
    assert E == pytest.approx(_fourier_energy(w, M), rel=RTOL)
    assert g.shape == (2 * M,)


def test_gradient_matches_finite_differences_and_euler_identity():
    M, w = 7, _random_w(7, seed=1)
    E, g = gm.tian_energy_gradient(w, M)
    h = 1e-6
    fd = np.array([(gm.tian_energy(w + h * e, M) - gm.tian_energy(w - h * e, M)) / (2 * h) for e in np.eye(2 * M)])
    assert np.max(np.abs(fd - g)) <= 1e-6 * np.max(np.abs(g))
    assert w @ g == pytest.approx(4 * E, rel=RTOL)  # E is homogeneous of degree 4
    E2, g2 = gm.tian_energy_gradient(2.0 * w, M)
    assert E2 == pytest.approx(16 * E, rel=RTOL) and np.allclose(g2, 8 * g, rtol=RTOL, atol=0)


def test_gradient_batch_pairs_and_uncentred():
    M = 5
    W = _random_w(M, seed=2, n=3)
    E, G = gm.tian_energy_gradient(W, M)
    for i in range(3):
        Ei, gi = gm.tian_energy_gradient(W[i], M)
        assert E[i] == pytest.approx(Ei, rel=RTOL) and np.allclose(G[i], gi, rtol=RTOL, atol=1e-12)
    all_pairs = np.array([(a, b) for a in range(M) for b in range(M)])[::-1]  # same table, another order
    assert gm.tian_energy_gradient(W, M, pairs=all_pairs)[0] == pytest.approx(E, rel=RTOL)
    pairs = all_pairs[:7]
    a, b = pairs[:, 0], pairs[:, 1]
    Y = np.eye(M)[(a + b) % M]
    act = (W[0, a] + W[0, M + b]) ** 2
    for centred, Yt in ((True, Y - Y.mean(axis=0)), (False, Y)):
        naive = 0.5 * np.sum((Yt.T @ act) ** 2)
        assert gm.tian_energy_gradient(W[0], M, pairs=pairs, centred=centred)[0] == pytest.approx(naive, rel=RTOL)


def test_single_frequency_vectors_are_critical_maxima():
    M = 11
    for k, phase, sign in ((1, 0.0, 1.0), (3, 0.7, -1.0), (5, 2.0, 1.0)):
        w = gm.tian_single_frequency(M, k, phase=phase, sign=sign)
        E, g = gm.tian_energy_gradient(w, M)
        assert E == pytest.approx(M / 4, rel=RTOL)
        assert np.max(np.abs(g - (w @ g) * w)) <= 1e-10 * M  # no tangential gradient: a critical point on the sphere


def test_ascent_shapes_monotone_and_reaches_a_single_frequency_maximum():
    M = 11
    W0 = _random_w(M, seed=3, n=6)
    xs, Es = gm.tian_energy_ascent(W0, M, step=0.02, n_steps=400, record_every=4)
    assert xs.shape == (101, 6, 2 * M) and Es.shape == (101, 6)
    assert np.allclose(np.linalg.norm(xs, axis=2), 1.0, rtol=0, atol=1e-12)
    assert np.all(np.diff(Es, axis=0) >= -1e-12 * M)  # ascent
    assert np.allclose(Es[-1], M / 4, rtol=1e-9)
    P = gm.frequency_power(xs[-1][:, :M]) + gm.frequency_power(xs[-1][:, M:])
    assert np.all(P[:, 1:].max(axis=1) / P.sum(axis=1) > 1 - 1e-9)
    x1, E1 = gm.tian_energy_ascent(W0[2], M, step=0.02, n_steps=400, record_every=4)
    assert x1.shape == (101, 2 * M) and np.allclose(x1, xs[:, 2], atol=1e-12) and np.allclose(E1, Es[:, 2])


def test_ascent_winner_is_the_largest_logarithmic_mean():
    """Per frequency the flow is d|u^_k|^2/dt ~ |u^_k|^2 |v^_k|^2 = d|v^_k|^2/dt (phases fixed), whose blow-up time
    is ln(a/b)/(a - b): the frequency with the largest logarithmic mean (a - b)/ln(a/b) of its initial powers wins."""
    M = 11
    W0 = _random_w(M, seed=4, n=40)
    xs, _ = gm.tian_energy_ascent(W0, M, step=0.02, n_steps=600, record_every=600)
    a = np.abs(np.fft.rfft(W0[:, :M], axis=1)[:, 1:]) ** 2
    b = np.abs(np.fft.rfft(W0[:, M:], axis=1)[:, 1:]) ** 2
    logmean = (a - b) / np.log(a / b)
    order = np.sort(logmean, axis=1)
    clear = order[:, -1] > 1.05 * order[:, -2]
    end = (
        np.abs(np.fft.rfft(xs[-1][:, :M], axis=1)[:, 1:]) ** 2 + np.abs(np.fft.rfft(xs[-1][:, M:], axis=1)[:, 1:]) ** 2
    )
    assert clear.sum() >= 30
    assert np.array_equal(end.argmax(axis=1)[clear], logmean.argmax(axis=1)[clear])
    k = end.argmax(axis=1)  # the winner's phases in u and v are those of the initial weights
    n = np.arange(40)
    for part in (slice(0, M), slice(M, 2 * M)):
        before = np.angle(np.fft.rfft(W0[:, part], axis=1)[n, k + 1])
        after = np.angle(np.fft.rfft(xs[-1][:, part], axis=1)[n, k + 1])
        assert np.allclose(np.angle(np.exp(1j * (after - before))), 0, atol=1e-9)


def test_ascent_rejects_a_zero_node():
    with pytest.raises(ValueError, match="w0"):
        gm.tian_energy_ascent(np.zeros(10), 5)


def _loss(W, V, X, Y, eta):
    n = Y.shape[0]
    P = np.eye(n) - np.ones((n, n)) / n
    R = P @ (Y - (X @ W) ** 2 @ V)
    return 0.5 * np.sum(R**2) + 0.5 * eta * (np.sum(W**2) + np.sum(V**2))


def test_simulator_step_is_gradient_descent_on_the_centred_loss():
    M, K, eta, lr_W, lr_V = 5, 3, 0.05, 1e-3, 2e-3
    run = train_li2(
        M, K, 20, weight_decay=eta, lr_W=lr_W, lr_V=lr_V, n_steps=2, record_every=1, init_scale_W=0.3,
        init_scale_V=0.2, seed=7,
    )  # fmt: skip
    a, b = run.pairs[:, 0], run.pairs[:, 1]
    X = np.concatenate([np.eye(M)[a], np.eye(M)[b]], axis=1)
    Y = np.eye(M)[(a + b) % M]
    W0, V0 = run.W0[0], run.V0[0]
    h = 1e-6

    def num_grad(f, Z):
        G = np.zeros_like(Z)
        for idx in np.ndindex(Z.shape):
            E = np.zeros_like(Z)
            E[idx] = h
            G[idx] = (f(Z + E) - f(Z - E)) / (2 * h)
        return G

    gW = num_grad(lambda Z: _loss(Z, V0, X, Y, eta), W0)
    assert np.allclose(run.W[0, 1], W0 - lr_W * gW, rtol=0, atol=1e-9)
    assert np.array_equal(run.W[0, 0], W0)
    assert run.pairs.shape == (20, 2) and len({tuple(p) for p in run.pairs}) == 20
    assert run.W.shape == (1, 3, 2 * M, K) and run.V.shape == (1, K, M) and run.residual.shape == (1, 3)


def test_simulator_seeded_batched_and_residual():
    kw = dict(weight_decay=0.01, lr_W=0.006, lr_V=5.0, n_steps=50, record_every=10, init_scale_W=0.015)
    r1 = train_li2(7, 8, 49, n_nets=2, seed=3, **kw)
    r2 = train_li2(7, 8, 49, n_nets=2, seed=3, **kw)
    assert np.array_equal(r1.W, r2.W) and np.array_equal(r1.steps, [0, 10, 20, 30, 40, 50])
    assert np.allclose(r1.residual[:, 0], 1.0, rtol=0, atol=1e-15)  # V0 = 0: nothing fitted
    assert np.all(r1.residual <= 1.0 + 1e-12) and not np.array_equal(r1.W[0], r1.W[1])


def test_simulator_divergence_raises():
    with pytest.raises(FloatingPointError, match="lr_W"):
        train_li2(
            5, 4, 25, weight_decay=0.0, lr_W=1e5, lr_V=1e5, n_steps=200, record_every=10, init_scale_W=1.0, seed=0
        )


def test_published_formula_equals_the_theory_value_the_check_uses():
    f = sp.lambdify(ge._M, ge.energy_max_formula(), "numpy")
    quarter = sp.lambdify(ge._M, ge.energy_max_formula(sp.Rational(1, 16)), "numpy")
    for M in (5, 11, 13, 23):
        assert f(M) == pytest.approx(ge.energy_max(M), rel=1e-12)
        assert quarter(M) == pytest.approx(ge.energy_max(M) / 4, rel=1e-12)
        pred = ge._predictions({})["published"]["E_star"](M)
        assert float(np.asarray(pred).reshape(-1)[0]) == pytest.approx(f(M), rel=1e-12)


def test_nearest_point_on_a_piecewise_linear_path():
    path = np.array([[[0.0, 0.0]], [[1.0, 0.0]], [[1.0, 1.0]]])  # (records, N = 1, 2)
    d, p = ge._nearest_on_path(path, np.array([[0.5, 0.3]]))
    assert d[0] == pytest.approx(0.3) and np.allclose(p[0], [0.5, 0.0])
    d, p = ge._nearest_on_path(path, np.array([[1.4, 0.6]]))
    assert d[0] == pytest.approx(0.4) and np.allclose(p[0], [1.0, 0.6])
    d, _ = ge._nearest_on_path(path[:1], np.array([[3.0, 4.0]]))
    assert d[0] == pytest.approx(5.0)
