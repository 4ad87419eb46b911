"""Exact unit tests for dltheory.theory.deep_linear (golden values from the reference notes, part A)."""

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import quad, solve_ivp

from dltheory.theory.deep_linear import (
    _learning_time_quad,
    _mode_strength_ode,
    balanced_riccati_solution,
    end_to_end_trajectory,
    end_to_end_velocity,
    fuss_catalan_moment,
    learning_time,
    learning_time_deep_correction,
    learning_time_deep_limit,
    learning_time_expr,
    mode_strength,
    mode_strength_expr,
)


def _psd_sqrt(A):
    w, U = np.linalg.eigh(A)
    return (U * np.sqrt(np.clip(w, 0.0, None))) @ U.T


def _orthonormal_columns(rng, rows, cols):
    return np.linalg.qr(rng.standard_normal((rows, cols)))[0]


def _balanced_chain(rng, widths, scale):
    """Factors W_1..W_N (W_j: widths[j] x widths[j-1]) with W_{j+1}^T W_{j+1} = W_j W_j^T."""
    factors = [scale * rng.standard_normal((widths[1], widths[0]))]
    for rows in widths[2:]:
        prev = factors[-1]
        factors.append(_orthonormal_columns(rng, rows, prev.shape[0]) @ _psd_sqrt(prev @ prev.T))
    return factors


# ----------------------------------------------------------------------------- A2 golden values


def test_two_layer_golden_values():
    assert mode_strength(1.0, 3.0, 1e-3) == pytest.approx(0.355712, abs=5e-7)
    assert learning_time(3.0, 1e-3, 1.5) == pytest.approx(1.334339, abs=5e-7)
    assert learning_time(3.0, 1e-3, 3.0 - 1e-3) == pytest.approx(2.668678, abs=5e-7)
    assert np.log(3.0 / 1e-3) / 3.0 == pytest.approx(2.668789, abs=5e-7)


def test_tau_rescales_time():
    t = np.array([0.3, 1.0, 2.5])
    assert np.allclose(
        mode_strength(4.0 * t, 2.0, 0.1, depth=3, tau=4.0), mode_strength(t, 2.0, 0.1, depth=3), rtol=1e-10
    )
    assert learning_time(2.0, 0.1, 1.0, depth=4, tau=4.0) == pytest.approx(
        4.0 * learning_time(2.0, 0.1, 1.0, depth=4), rel=1e-12
    )


# ----------------------------------------------------------------------------- A4 depth table


@pytest.mark.parametrize("D, expected", [(2, 1.648), (10, 1.547), (20, 1.545), (100, 1.546)])
def test_depth_table_fixed_u0(D, expected):
    assert D * learning_time(2.0, 0.5, 1.8, depth=D) == pytest.approx(expected, abs=5e-4)


@pytest.mark.parametrize(
    "D, expected, rel", [(2, 1.036, 5e-4), (10, 16.13, 5e-4), (20, 7282.0, 1e-4), (100, 1.6e27, 2e-2)]
)
def test_depth_table_fixed_per_layer_scale(D, expected, rel):
    assert learning_time(2.0, 0.5**D, 1.8, depth=D) == pytest.approx(expected, rel=rel)


def test_deep_limit_bracket_and_convergence():
    bracket = 4 * learning_time_deep_limit(2.0, 0.5, 1.8, n_layers=4)
    assert bracket == pytest.approx(0.25 * np.log(27.0) + 1.0 - 1.0 / 3.6, rel=1e-14)
    assert bracket == pytest.approx(1.5462, abs=5e-5)
    gaps = [abs(D * learning_time(2.0, 0.5, 1.8, depth=D) - bracket) for D in (10, 100, 1000)]
    assert gaps[2] < gaps[1] < gaps[0] < 2e-3
    assert gaps[2] < 1e-4  # the gap is O(1/D)


@pytest.mark.parametrize(
    "s, u0, uf, n_layers, tau", [(2.0, 0.5, 1.8, 4, 1.0), (3.0, 1e-3, 1.5, 7, 2.5), (0.5, 0.1, 0.49, 30, 1.0)]
)
def test_deep_limit_is_the_integral_of_eq16(s, u0, uf, n_layers, tau):
    """Eq. 17 against an independent quadrature of eq. 16, tau du/dt = N_l u^2 (s - u): catches any wrong constant."""
    integral, _ = quad(lambda u: 1.0 / (u**2 * (s - u)), u0, uf, epsabs=0.0, epsrel=1e-13, limit=200)
    assert learning_time_deep_limit(s, u0, uf, n_layers=n_layers, tau=tau) == pytest.approx(
        tau * integral / n_layers, rel=1e-10
    )


def test_deep_limit_is_the_large_depth_limit_of_eq15():
    """N_l t(eq. 17) and D t(eq. 15, depth D) share the large-depth limit (their ratio tends to 1 as O(1/D))."""
    gaps = [
        abs(
            D
            * learning_time(2.0, 0.5, 1.8, depth=D)
            / ((D + 1) * learning_time_deep_limit(2.0, 0.5, 1.8, n_layers=D + 1))
            - 1
        )
        for D in (10, 100, 1000)
    ]
    assert gaps[0] > gaps[1] > gaps[2] and gaps[2] < 1e-4


def test_deep_limit_tau_and_array():
    uf = np.array([1.0, 1.5])
    out = learning_time_deep_limit(2.0, 0.5, uf, n_layers=5, tau=3.0)
    assert out.shape == (2,)
    assert out[1] == pytest.approx(learning_time_deep_limit(2.0, 0.5, 1.5, n_layers=5, tau=3.0))


# ----------------------------------------------------------------------------- sympy


def test_sympy_mode_strength_solves_eq10():
    u, (t, s, u0, tau) = mode_strength_expr()
    assert sp.simplify(tau * sp.diff(u, t) - 2 * u * (s - u)) == 0
    assert sp.simplify(u.subs(t, 0) - u0) == 0


def test_sympy_learning_time_inverts_mode_strength():
    u, (t, s, u0, tau) = mode_strength_expr()
    t_f, (s2, u02, uf, tau2) = learning_time_expr()
    assert (s, u0, tau) == (s2, u02, tau2)
    assert sp.simplify(u.subs(t, t_f) - uf) == 0


@settings(deadline=None, max_examples=60)
@given(s=st.floats(0.1, 5.0), frac=st.floats(1e-6, 0.999), t=st.floats(0.0, 10.0), tau=st.floats(0.5, 5.0))
def test_lambdified_sympy_matches_numpy(s, frac, t, tau):
    u, (t_s, s_s, u0_s, tau_s) = mode_strength_expr()
    t_f, (_, _, uf_s, _) = learning_time_expr()
    u0 = frac * s
    numeric_u = sp.lambdify((t_s, s_s, u0_s, tau_s), u, "numpy")(t, s, u0, tau)
    assert mode_strength(t, s, u0, tau=tau) == pytest.approx(numeric_u, rel=1e-10)
    uf = u0 + 0.5 * (s - u0)
    numeric_t = sp.lambdify((s_s, u0_s, uf_s, tau_s), t_f, "numpy")(s, u0, uf, tau)
    assert learning_time(s, u0, uf, tau=tau) == pytest.approx(numeric_t, rel=1e-10)


# ----------------------------------------------------------------------------- mode strength


@pytest.mark.parametrize("depth", [2, 3, 5])
def test_mode_strength_monotone_and_bounded(depth):
    s, u0 = 2.0, 0.01
    t = np.linspace(0.0, 30.0, 301)
    u = mode_strength(t, s, u0, depth=depth)
    assert u[0] == pytest.approx(u0, rel=1e-12)
    below = u < s * (1.0 - 1e-12)  # u rounds to s once s - u ~ ulp(s)
    assert np.all(np.diff(u) >= 0.0) and np.all(np.diff(u[below]) > 0.0)
    assert np.all((u >= u0) & (u <= s)) and np.all(u[1:] > u0) and below.sum() > 30
    assert u[-1] == pytest.approx(s, rel=1e-6)


def test_mode_strength_shape_and_order():
    t = np.array([[3.0, 0.0], [1.0, 3.0]])
    u = mode_strength(t, 1.5, 0.05, depth=4)
    assert u.shape == t.shape
    for idx in np.ndindex(t.shape):
        assert u[idx] == pytest.approx(mode_strength(np.array([t[idx]]), 1.5, 0.05, depth=4)[0], rel=1e-10)
    assert np.ndim(mode_strength(1.0, 1.5, 0.05)) == 0


def test_ode_path_matches_closed_form_at_depth_two():
    t = np.linspace(0.0, 5.0, 51)
    closed = mode_strength(t, 3.0, 1e-3)
    assert np.allclose(_mode_strength_ode(t, 3.0, 1e-3, 2, 1.0), closed, rtol=1e-9, atol=0.0)


@pytest.mark.parametrize("depth", [2, 3, 4, 6])
def test_learning_time_inverts_mode_strength(depth):
    s, u0 = 2.5, 1e-3
    uf = np.array([2e-3, 0.1, 1.25, 2.4, 2.5 - 1e-6])
    t = learning_time(s, u0, uf, depth=depth)
    assert t.shape == uf.shape and np.all(np.diff(t) > 0)
    assert np.allclose(mode_strength(t[::-1], s, u0, depth=depth)[::-1], uf, rtol=1e-8, atol=0.0)


def test_learning_time_integral_matches_eq11():
    for u0, uf in [(1e-3, 1.5), (1e-8, 3.0 - 1e-9), (1.0, 1.0001)]:
        assert _learning_time_quad(3.0, u0, uf, 2, 1.0) == pytest.approx(learning_time(3.0, u0, uf), rel=1e-10)


# ----------------------------------------------------------------------------- Riccati (A3)


def _two_layer_flow(S31, W1, W2, t):
    n2, n1 = W1.shape

    def rhs(_, y):
        A, B = y[: n2 * n1].reshape(n2, n1), y[n2 * n1 :].reshape(-1, n2)
        err = S31 - B @ A
        return np.concatenate([(B.T @ err).ravel(), (err @ A.T).ravel()])

    sol = solve_ivp(
        rhs, (0.0, t[-1]), np.concatenate([W1.ravel(), W2.ravel()]), method="DOP853", t_eval=t, rtol=1e-13, atol=1e-14
    )
    assert sol.success
    return np.array([y[n2 * n1 :].reshape(-1, n2) @ y[: n2 * n1].reshape(n2, n1) for y in sol.y.T])


def test_riccati_matches_two_layer_flow():
    rng = np.random.default_rng(0)
    n1, n2, n3 = 6, 4, 5
    s = np.array([3.0, 2.0, 1.0, 0.5, 0.25])
    S31 = _orthonormal_columns(rng, n3, 5) @ np.diag(s) @ _orthonormal_columns(rng, n1, 5).T
    W1, W2 = _balanced_chain(rng, [n1, n2, n3], 0.05)
    t = np.linspace(0.0, 8.0, 33)
    exact = balanced_riccati_solution(S31, W1, W2, t)
    assert exact.shape == (33, n3, n1)
    assert np.max(np.abs(exact - _two_layer_flow(S31, W1, W2, t))) < 1e-7
    shuffled = balanced_riccati_solution(S31, W1, W2, t[::-1].reshape(3, 11), tau=1.0)
    assert np.allclose(shuffled.reshape(33, n3, n1)[::-1], exact, rtol=0, atol=1e-12)
    assert np.allclose(balanced_riccati_solution(S31, W1, W2, 2.0 * t, tau=2.0), exact, rtol=0, atol=1e-12)


def test_riccati_decoupled_init_reduces_to_eq12():
    rng = np.random.default_rng(1)
    s, u0 = np.array([3.0, 1.0, 0.4]), np.array([1e-3, 2e-2, 0.1])
    U, V, R = (_orthonormal_columns(rng, n, 3) for n in (4, 5, 3))
    S31 = U @ np.diag(s) @ V.T
    W1, W2 = R @ np.diag(np.sqrt(u0)) @ V.T, U @ np.diag(np.sqrt(u0)) @ R.T
    t = np.array([0.0, 0.7, 2.0, 6.0])
    modes = np.einsum("ia,kij,ja->ka", U, balanced_riccati_solution(S31, W1, W2, t), V)
    expected = np.stack([mode_strength(t, sa, ua) for sa, ua in zip(s, u0)], axis=1)
    assert np.allclose(modes, expected, rtol=1e-10, atol=1e-13)


# ----------------------------------------------------------------------------- Arora et al. (A7)


def test_end_to_end_velocity_golden():
    assert end_to_end_velocity(0.5, -1.5, N=3) == pytest.approx(3 * 0.5 ** (4 / 3) * 1.5, rel=1e-13)
    assert end_to_end_velocity(0.5, -1.5, N=3) == pytest.approx(1.78583, abs=5e-6)
    assert end_to_end_velocity(np.array([[0.0]]), np.array([[1.0]]), N=1) == pytest.approx(-1.0)


@pytest.mark.parametrize("weight_decay", [0.0, 0.3])
def test_end_to_end_velocity_matches_factor_flow(weight_decay):
    rng = np.random.default_rng(2)
    W = _balanced_chain(rng, [5, 3, 3, 4], 0.7)
    W_e = W[2] @ W[1] @ W[0]
    grad = rng.standard_normal(W_e.shape)
    eye = [np.eye(5), np.eye(3), np.eye(3)]
    above = [W[2] @ W[1], W[2], np.eye(4)]  # prod_{i>j} W_i
    below = [eye[0], W[0], W[1] @ W[0]]  # prod_{i<j} W_i
    velocity = np.zeros_like(W_e)
    for j in range(3):
        dW = -above[j].T @ grad @ below[j].T - weight_decay * W[j]
        velocity += above[j] @ dW @ below[j]
    got = end_to_end_velocity(W_e, grad, N=3, weight_decay=weight_decay)
    assert np.max(np.abs(got - velocity)) < 1e-10


def test_end_to_end_velocity_single_row():
    rng = np.random.default_rng(3)
    w, g = rng.standard_normal((1, 4)), rng.standard_normal((1, 4))
    N, norm2 = 4, float(np.sum(w**2))
    expected = -(norm2 ** (1 - 1 / N)) * (g + (N - 1) * (w @ g.T) / norm2 * w)
    assert np.allclose(end_to_end_velocity(w, g, N=N), expected, rtol=1e-12, atol=1e-14)


def test_end_to_end_trajectory_reduces_to_eq15():
    s, u0 = np.array([2.0, 1.0, 0.5]), np.array([0.05, 0.1, 0.2])
    M = np.diag(s)
    t = np.array([4.0, 0.0, 1.0, 2.5])
    traj = end_to_end_trajectory(np.diag(u0), lambda W: W - M, t, N=3)
    assert traj.shape == (4, 3, 3)
    assert np.array_equal(traj[1], np.diag(u0))
    diag = np.diagonal(traj, axis1=1, axis2=2)
    expected = np.stack([mode_strength(t, sa, ua, depth=3) for sa, ua in zip(s, u0)], axis=1)
    assert np.allclose(diag, expected, rtol=1e-8, atol=0.0)
    assert np.max(np.abs(traj - np.einsum("ka,ab->kab", diag, np.eye(3)))) < 1e-12


# ----------------------------------------------------------------------------- Fuss-Catalan (A5)


def test_fuss_catalan():
    assert [fuss_catalan_moment(1, m) for m in range(5)] == [1, 1, 2, 5, 14]
    assert [fuss_catalan_moment(2, m) for m in range(5)] == [1, 1, 3, 12, 55]
    assert all(fuss_catalan_moment(0, m) == 1 for m in range(6))
    for L in range(8):
        assert fuss_catalan_moment(L, 1) == 1
        assert fuss_catalan_moment(L, 2) == L + 1


# ----------------------------------------------------------------------------- bad input

_S31 = np.eye(3, 2)
_W1 = 0.1 * np.eye(2)
_W2 = 0.1 * np.eye(3, 2)

BAD_CALLS = [
    (lambda: mode_strength(1.0, 0.0, 0.1), r"^s "),
    (lambda: mode_strength(1.0, -1.0, 0.1), r"^s "),
    (lambda: mode_strength(1.0, np.inf, 0.1), r"^s "),
    (lambda: mode_strength(1.0, np.nan, 0.1), r"^s "),
    (lambda: mode_strength(1.0, 3.0, 0.0), r"^u0 "),
    (lambda: mode_strength(1.0, 3.0, 3.0), r"^u0 "),
    (lambda: mode_strength(1.0, 3.0, 4.0, depth=3), r"^u0 "),
    (lambda: mode_strength(1.0, 3.0, 0.1, depth=1), r"^depth "),
    (lambda: mode_strength(1.0, 3.0, 0.1, depth=2.5), r"^depth "),
    (lambda: mode_strength(1.0, 3.0, 0.1, depth=3.0), r"^depth "),
    (lambda: mode_strength(1.0, 3.0, 0.1, tau=0.0), r"^tau "),
    (lambda: mode_strength(1.0, 3.0, 0.1, tau=-1.0), r"^tau "),
    (lambda: mode_strength(-1.0, 3.0, 0.1), r"^t "),
    (lambda: mode_strength([0.0, np.nan], 3.0, 0.1, depth=3), r"^t "),
    (lambda: mode_strength(np.inf, 3.0, 0.1), r"^t "),
    (lambda: learning_time(0.0, 0.1, 0.2), r"^s "),
    (lambda: learning_time(3.0, -0.1, 0.2), r"^u0 "),
    (lambda: learning_time(3.0, 0.1, 0.1), r"^uf "),
    (lambda: learning_time(3.0, 0.1, 3.0, depth=3), r"^uf "),
    (lambda: learning_time(3.0, 0.1, [0.2, 0.05]), r"^uf "),
    (lambda: learning_time(3.0, 0.1, 0.2, depth=1), r"^depth "),
    (lambda: learning_time(3.0, 0.1, 0.2, tau=0.0), r"^tau "),
    (lambda: learning_time_deep_limit(3.0, 0.1, 0.2, n_layers=2), r"^n_layers "),
    (lambda: learning_time_deep_limit(3.0, 0.1, 5.0, n_layers=4), r"^uf "),
    (lambda: learning_time_deep_limit(3.0, 0.1, 0.2, n_layers=4, tau=-2.0), r"^tau "),
    (lambda: balanced_riccati_solution(_S31, np.eye(2, 3), _W2, [1.0]), r"^W1_0 "),
    (lambda: balanced_riccati_solution(_S31, _W1, np.eye(2), [1.0]), r"^W2_0 "),
    (lambda: balanced_riccati_solution(np.ones(3), _W1, _W2, [1.0]), r"^S31 "),
    (lambda: balanced_riccati_solution(_S31, _W1, 2.0 * _W2, [1.0]), r"W2_0 must be balanced"),
    (lambda: balanced_riccati_solution(_S31, _W1, _W2, [-1.0]), r"^t "),
    (lambda: balanced_riccati_solution(_S31, _W1, _W2, [1.0], tau=0.0), r"^tau "),
    (lambda: end_to_end_velocity(np.eye(2), np.eye(3), N=2), r"^grad "),
    (lambda: end_to_end_velocity(np.eye(2), np.eye(2), N=0), r"^N "),
    (lambda: end_to_end_velocity(np.eye(2), np.eye(2), N=2, weight_decay=-1.0), r"^weight_decay "),
    (lambda: end_to_end_trajectory(np.eye(2), lambda W: W, [-1.0], N=2), r"^t "),
    (lambda: end_to_end_trajectory(np.eye(2), lambda W: W, [1.0], N=1.5), r"^N "),
    (lambda: end_to_end_trajectory(np.eye(2), lambda W: W, [1.0], N=2, rtol=0.0), r"^rtol "),
    (lambda: fuss_catalan_moment(-1, 2), r"^L "),
    (lambda: fuss_catalan_moment(1.5, 2), r"^L "),
    (lambda: fuss_catalan_moment(1, -1), r"^m "),
]


@pytest.mark.parametrize("call, match", BAD_CALLS)
def test_bad_input_raises(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ----------------------------------------------------------------------------- approach to the deep limit (eq. 17)


@settings(max_examples=25, deadline=None)
@given(
    s=st.floats(0.2, 5.0),
    a=st.floats(0.02, 0.9),
    b=st.floats(0.05, 0.95),
    tau=st.floats(0.5, 3.0),
)
def test_deep_correction_matches_quadrature(s, a, b, tau):
    u0, uf = s * a, s * (a + (1 - a) * b)
    want = 2 * tau * quad(lambda u: np.log(u) / (u * u * (s - u)), u0, uf, epsabs=0, epsrel=1e-12, limit=200)[0]
    assert learning_time_deep_correction(s, u0, uf, tau=tau) == pytest.approx(want, rel=1e-9, abs=1e-12)


def test_deep_correction_is_the_1_over_D_coefficient_of_eq15():
    """D (D t_D - B) -> c1: the remainder is O(1/D), so Richardson on D, 2D leaves O(1/D^2)."""
    s, u0, uf = 1.0, 0.25, 0.9
    B = 3 * learning_time_deep_limit(s, u0, uf, n_layers=3)
    c1 = learning_time_deep_correction(s, u0, uf)
    g = lambda D: D * (D * learning_time(s, u0, uf, depth=D) - B)  # noqa: E731
    assert abs(2 * g(800) - g(400) - c1) < 1e-3 * abs(c1)
    assert abs(g(400) - c1) > 1e-3 * abs(c1)  # the O(1/D) remainder is really there


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: learning_time_deep_correction(1.0, 1.0, 0.5), r"^u0 "),
        (lambda: learning_time_deep_correction(1.0, 0.5, 0.4), r"^uf "),
        (lambda: learning_time_deep_correction(1.0, 0.5, 1.0), r"^uf "),
        (lambda: learning_time_deep_correction(True, 0.5, 0.9), r"^s "),
        (lambda: learning_time_deep_correction(1.0, None, 0.9), r"^u0 "),
        (lambda: learning_time_deep_correction(1.0, 0.5, [0.6, 0.7]), r"^uf "),
        (lambda: learning_time_deep_correction(1.0, 0.5, 0.9, tau=0.0), r"^tau "),
    ],
)
def test_deep_correction_bad_input(call, match):
    with pytest.raises(ValueError, match=match):
        call()
