"""Unit tests of theory.central_path, simulators.central_path and the nc.central_path claim's formulas."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from dltheory.simulators import central_path as sim
from dltheory.theory import central_path as th
from dltheory.theory import neural_collapse as nc

RTOL = 1e-12


def _features(seed: int, n: int = 6, C: int = 3, d: int = 4, scale: float = 1.0):
    g = np.random.default_rng(seed)
    y = np.repeat(np.arange(C), n)
    return scale * g.standard_normal((C, d))[y] + g.standard_normal((n * C, d)), y


# ----------------------------------------------------------------------------- theory


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_snr_is_affine_invariant_and_matches_the_definition(seed):
    H, y = _features(seed)
    C = 3
    omega = th.snr_singular_values(H, y)
    assert omega.shape == (C - 1,) and np.all(np.diff(omega) <= 0)
    M = np.stack([H[y == c].mean(0) for c in range(C)])
    R, Mc = H - M[y], M - H.mean(0)
    ev = np.linalg.eigvals(np.linalg.solve(R.T @ R / len(y), Mc.T @ Mc / C))
    np.testing.assert_allclose(omega, np.sqrt(np.sort(ev.real)[::-1][: C - 1]), rtol=1e-10)
    A = np.random.default_rng(seed + 10).standard_normal((4, 4)) + 3 * np.eye(4)
    np.testing.assert_allclose(th.snr_singular_values(H @ A + 5.0, y), omega, rtol=1e-9)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_central_path_loss_is_the_least_squares_loss(seed):
    """(1/(2C)) sum 1/(1 + omega^2) = min_{W, b} 1/(2N)||H W^T + b - Y||^2 (mse_decomposition at lambda = 0)."""
    H, y = _features(seed)
    r = nc.mse_decomposition(H, y, np.zeros((3, 4)), np.zeros(3), 0.0)
    ls = r["L_NC1"] + r["L_NC23"]
    assert th.central_path_loss(th.snr_singular_values(H, y), 3) == pytest.approx(ls, rel=1e-10)


def test_rate_is_the_inverse_clock_derivative():
    w = sp.Symbol("w", positive=True)
    N, C = 20, 4
    G = N * C * (sp.log(w) + w**2 + w**4 / 4)
    for x in (0.05, 0.6, 1.0, 3.0):
        assert float(th.central_path_rate(x, N, C)) == pytest.approx(1 / float(sp.diff(G, w).subs(w, x)), rel=RTOL)


@pytest.mark.parametrize("seed", [5, 6])
def test_rate_is_the_simulated_renormalised_flow(seed):
    """One projected step of size h moves omega by h * rate(omega) + O(h^2) (the derivation, checked numerically)."""
    n, C, d, h = 4, 3, 3, 1e-3
    r = sim.train_central_path(n, C, d, mean_scale=0.7, lr=h, n_steps=1, record_every=1, seed=seed)
    w0, w1 = (th.snr_singular_values(H, r.y) for H in r.H)
    np.testing.assert_allclose((w1 - w0) / h, th.central_path_rate(w0, n * C, C), rtol=1e-4)


@settings(max_examples=50, deadline=None, derandomize=True)
@given(
    t=st.floats(0.0, 1e6),
    omega0=st.floats(1e-3, 30.0),
    N=st.integers(2, 200),
)
def test_omega_inverts_the_clock(t, omega0, N):
    C = 2
    w = th.central_path_omega(t, omega0, N, C)
    assert w >= omega0 * (1 - 1e-15)
    G = th.central_path_clock(np.array([w, omega0]), N, C)
    assert G[0] - G[1] == pytest.approx(t, rel=1e-10, abs=1e-9 * max(1.0, abs(G[1])))


def test_omega_broadcasts_and_starts_at_omega0():
    omega0 = np.array([0.1, 1.0, 4.0])
    np.testing.assert_allclose(th.central_path_omega(0.0, omega0, 10, 2), omega0, rtol=1e-14)
    out = th.central_path_omega(np.array([[0.0], [50.0], [5000.0]]), omega0, 10, 2)
    assert out.shape == (3, 3) and np.all(np.diff(out, axis=0) > 0)


@pytest.mark.parametrize(
    "call",
    [
        lambda: th.central_path_clock(0.0, 10, 2),
        lambda: th.central_path_clock(1.0, 10, 11),
        lambda: th.central_path_rate(-1.0, 10, 2),
        lambda: th.central_path_omega(-1.0, 1.0, 10, 2),
        lambda: th.central_path_omega(np.ones(2), np.ones(3), 10, 2),
        lambda: th.central_path_loss(np.ones(3), 3),
        lambda: th.snr_singular_values(np.ones((4, 3)), np.array([0, 0, 1, 1])),
        lambda: th.snr_singular_values(np.ones((4, 3)), np.array([0, 0, 2, 2])),
        lambda: th.classifier_hessian(np.ones((4, 3)), -0.1),
        lambda: th.classifier_lag(np.ones((1, 2, 3)), np.ones((0, 3, 3)), 0),
        lambda: th.classifier_lag(np.ones((3, 2, 3)), np.ones((2, 2, 2)), 0),
        lambda: th.classifier_lag(np.ones((3, 2, 3)), np.broadcast_to(np.eye(3), (2, 3, 3)), 2),
        lambda: th.classifier_lag(np.ones((3, 2, 3)), np.zeros((2, 3, 3)), 0),
    ],
)
def test_invalid_input_raises(call):
    with pytest.raises(ValueError):
        call()


@pytest.mark.parametrize("seed", [0, 1])
def test_classifier_hessian_is_the_hessian_of_the_loss(seed):
    """L(W~ + E) - L(W~) - <grad, E> = 1/2 tr(E A E^T) for the weight-decayed MSE loss, and A is mse_decomposition's
    quadratic form (L_perp of a classifier W~_LS + E)."""
    H, y = _features(seed)
    lam, (N, d), C = 0.07, H.shape, 3
    Y = np.eye(C)[y]
    g = np.random.default_rng(seed + 20)
    Wt, E = g.standard_normal((C, d + 1)), g.standard_normal((C, d + 1))
    X = np.hstack([H, np.ones((N, 1))])

    def loss(Wt):
        return 0.5 / N * np.sum((X @ Wt.T - Y) ** 2) + 0.5 * lam * np.sum(Wt**2)

    grad = (X @ Wt.T - Y).T @ X / N + lam * Wt
    A = th.classifier_hessian(H, lam)
    assert loss(Wt + E) - loss(Wt) - np.sum(grad * E) == pytest.approx(0.5 * np.trace(E @ A @ E.T), rel=1e-10)
    r = nc.mse_decomposition(H, y, np.zeros((C, d)), np.zeros(C), lam)
    Wt_LS = np.hstack([r["W_LS"], r["b_LS"][:, None]]) + E
    r = nc.mse_decomposition(H, y, Wt_LS[:, :d], Wt_LS[:, d], lam)
    assert r["L_perp"] == pytest.approx(0.5 * np.trace(E @ A @ E.T), rel=1e-10)


def test_classifier_lag_is_exact_for_a_constant_drift():
    """Constant drift Delta and relaxation M: D = -Delta M^{-1} is the recursion's fixed point; higher terms vanish."""
    g = np.random.default_rng(3)
    Delta, B = g.standard_normal((2, 3)), g.standard_normal((3, 3))
    M = 0.3 * (B @ B.T / 3 + np.eye(3))
    Wt_LS = g.standard_normal((2, 3)) + np.arange(5)[:, None, None] * Delta
    T = th.classifier_lag(Wt_LS, np.broadcast_to(M, (4, 3, 3)), 3)
    D = -Delta @ np.linalg.inv(M)
    np.testing.assert_allclose(T[0], D, rtol=1e-12)
    np.testing.assert_allclose(D @ (np.eye(3) - M) - Delta, D, rtol=1e-12)
    np.testing.assert_allclose(T[1:], 0.0, atol=1e-12)


def test_classifier_lag_matches_the_recursion_it_solves():
    """Iterating D_{k+1} = D_k (I - M_k) - Delta_k along a smooth drift and slowly varying M from far back: the
    truncated series matches D at the end, its error shrinking with the order."""
    g = np.random.default_rng(4)
    C, d1, K, m = 2, 3, 4000, 6
    B = g.standard_normal((d1, d1))
    A0, A1 = B @ B.T / d1 + 0.2 * np.eye(d1), np.diag([0.3, 0.1, 0.2])
    c0, c1, c2 = (g.standard_normal((C, d1)) for _ in range(3))
    k = np.arange(K + m + 1)[:, None, None]
    s = k / 500.0
    Wt_LS = c0 + c1 * np.sin(s) + c2 * s**2 / 4
    M = 0.5 * (A0 + A1 * np.cos(k[:-1] / 300.0))
    D = np.zeros((C, d1))
    for j in range(K):
        D = D @ (np.eye(d1) - M[j]) - (Wt_LS[j + 1] - Wt_LS[j])
    T = th.classifier_lag(Wt_LS[K:], M[K:], m - 1)
    errors = [np.linalg.norm(T[: j + 1].sum(0) - D) / np.linalg.norm(D) for j in range(m - 1)]
    # each order gains a factor (relative change of the drift per step) x (relaxation time): ~1/20-1/70 here
    assert errors[0] > 1e-3 and errors[-1] < 1e-8
    assert all(e1 < e0 / 10 for e0, e1 in zip(errors, errors[1:]))


# ----------------------------------------------------------------------------- simulators


def test_central_path_run_stays_on_the_manifold_with_the_ls_classifier():
    n, C, d = 5, 3, 4
    r = sim.train_central_path(n, C, d, mean_scale=0.5, lr=2.0, n_steps=60, record_every=20, seed=3)
    assert r.H.shape == (4, n * C, d) and np.allclose(r.t, [0, 40, 80, 120])
    Y = np.eye(C)[r.y]
    for H, W, b in zip(r.H, r.W, r.b):
        M = Y.T @ H / n
        E = H - M[r.y]
        np.testing.assert_allclose(E.T @ E / (n * C), np.eye(d), atol=1e-10)  # Sigma_W = I
        np.testing.assert_allclose(H.mean(0), r.H[0].mean(0), atol=1e-12)  # global mean fixed
        X = np.hstack([H, np.ones((n * C, 1))])
        sol = np.linalg.solve(X.T @ X, X.T @ Y)
        np.testing.assert_allclose(np.vstack([W.T, b]), sol, atol=1e-10)
    # only the class means move: the within-class deviations are unchanged (their gradient is normal)
    E0, E1 = (H - (Y @ (Y.T @ H / n)) for H in (r.H[0], r.H[-1]))
    np.testing.assert_allclose(E1, E0, atol=1e-9)
    w = np.array([th.snr_singular_values(H, r.y) for H in r.H])
    assert np.all(np.diff(w, axis=0) > 0)  # the SNR grows


def test_regularised_mse_step_is_the_gradient():
    n, C, d, lam, lam_H, lr = 3, 2, 3, 0.1, 0.05, 1e-3
    r = sim.train_regularised_mse(n, C, d, lam=lam, lam_H=lam_H, lr=lr, n_steps=1, record_every=1, seed=4)
    Y = np.eye(C)[r.y]

    def loss(H, W, b):
        return (
            0.5 / (n * C) * np.sum((H @ W.T + b - Y) ** 2) + lam / 2 * (np.sum(W**2) + b @ b) + lam_H / 2 * np.sum(H**2)
        )

    H, W, b = r.H[0], r.W[0], r.b[0]
    h = 1e-6
    for arr, new, i in ((W, r.W[1], (1, 2)), (H, r.H[1], (4, 0)), (b, r.b[1], (1,))):
        up, dn = arr.copy(), arr.copy()
        up[i] += h
        dn[i] -= h
        args_up = [up if a is arr else a for a in (H, W, b)]
        args_dn = [dn if a is arr else a for a in (H, W, b)]
        fd = (loss(*args_up) - loss(*args_dn)) / (2 * h)
        assert (arr[i] - new[i]) / lr == pytest.approx(fd, rel=1e-6, abs=1e-9)
    out = sim.train_regularised_mse(n, C, d, lam=lam, lam_H=lam_H, lr=0.5, n_steps=400, record_every=400, seed=4)
    assert loss(out.H[1], out.W[1], out.b[1]) < loss(out.H[0], out.W[0], out.b[0])


@pytest.mark.parametrize(
    "call",
    [
        lambda: sim.train_central_path(2, 3, 4, mean_scale=1.0, lr=1.0, n_steps=2, record_every=1, seed=0),
        lambda: sim.train_central_path(3, 2, 2, mean_scale=1.0, lr=1.0, n_steps=2, record_every=1, seed=None),
        lambda: sim.train_central_path(3, 2, 2, mean_scale=1.0, lr=1.0, n_steps=2, record_every=3, seed=0),
        lambda: sim.train_regularised_mse(3, 2, 2, lam=-1.0, lam_H=0.0, lr=1.0, n_steps=2, record_every=1, seed=0),
        lambda: sim.train_regularised_mse(3, 2, 2, lam=0.1, lam_H=0.0, lr=True, n_steps=2, record_every=1, seed=0),
    ],
)
def test_simulator_invalid_input_raises(call):
    with pytest.raises(ValueError):
        call()


def test_regularised_mse_records_bursts():
    kw = dict(lam=0.1, lam_H=0.01, lr=0.5, n_steps=25, seed=7)
    r = sim.train_regularised_mse(3, 2, 2, record_every=10, burst=3, **kw)
    steps = np.rint(r.t / 0.5).astype(int)
    assert steps.tolist() == [0, 1, 2, 10, 11, 12, 20, 21, 22]
    every = sim.train_regularised_mse(3, 2, 2, record_every=1, **kw)
    np.testing.assert_array_equal(r.H, every.H[steps])
    np.testing.assert_array_equal(r.W, every.W[steps])
    with pytest.raises(ValueError, match="burst"):
        sim.train_regularised_mse(3, 2, 2, record_every=2, burst=3, **kw)


def test_diverging_runs_raise():
    with pytest.raises(FloatingPointError, match="step"):
        sim.train_regularised_mse(3, 2, 2, lam=0.0, lam_H=0.0, lr=1e5, n_steps=200, record_every=200, seed=0)
    with pytest.raises(FloatingPointError, match="step"):
        sim.train_central_path(5, 3, 4, mean_scale=1.0, lr=1e200, n_steps=50, record_every=50, seed=0)


# ----------------------------------------------------------------------------- the claim's formulas


def test_shown_formulas_are_the_checked_functions():
    from dltheory.verify.claims import nc_central_path as claims

    p = dict(n=5, C=4, d=3, lam=0.01, lr_joint=0.5)
    forms = claims._formulas(p)
    preds = claims._predictions(p)
    assert next(iter(forms)) == "published" and set(forms) == set(preds)
    omega = np.array([0.07, 0.5, 1.3, 4.0])
    N, C = p["n"] * p["C"], p["C"]
    for name, (clock, *_rest) in forms.items():
        f = sp.lambdify(claims._w, clock.lhs.subs({claims._N: N, claims._C: C}), "numpy")
        np.testing.assert_allclose(f(omega), preds[name]["clock"](omega), rtol=RTOL)
    np.testing.assert_allclose(preds["published"]["clock"](omega), th.central_path_clock(omega, N, C), rtol=RTOL)


def test_shown_relaxation_is_the_checked_one():
    """The relaxation matrix M each prediction shows (lambdified block formula) is the one its check uses."""
    from dltheory.verify.claims import nc_central_path as claims

    p = dict(n=5, C=4, d=3, lam=0.03, lr_joint=0.5)
    forms, preds = claims._formulas(p), claims._predictions(p)
    H, _ = _features(8, n=6, C=3, d=p["d"])
    A = th.classifier_hessian(H, p["lam"])
    mu = H.mean(0)[:, None]
    Sigma_T = (H - mu.T).T @ (H - mu.T) / len(H)
    S, m = claims._hessian_blocks(p["d"])
    checked = 0
    for name, (_clock, _ridge, relaxation, *_lag) in forms.items():
        rhs = relaxation.rhs.subs({claims._lam: p["lam"], claims._lr: p["lr_joint"]})
        if rhs.free_symbols - {S, m}:  # lambda_max(A): a spectral function, checked below
            continue
        f = sp.lambdify([S, m], sp.Matrix(rhs.as_explicit()), "numpy")
        np.testing.assert_allclose(f(Sigma_T, mu), preds[name]["relaxation"](A), rtol=RTOL, atol=1e-15)
        checked += 1
    assert checked == len(forms) - 1
    fastest = preds[claims.CONTROL_FASTEST]["relaxation"](A)
    np.testing.assert_allclose(fastest, p["lr_joint"] * np.linalg.eigvalsh(A)[-1] * np.eye(p["d"] + 1), rtol=RTOL)
    np.testing.assert_allclose(preds["published"]["relaxation"](A), p["lr_joint"] * A, rtol=RTOL)
