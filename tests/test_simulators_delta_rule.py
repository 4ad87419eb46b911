"""Unit tests of dltheory.simulators.delta_rule: autodiff online GD against the hand-written gradient, the token
transition's Jacobian, bad input."""

import numpy as np
import pytest

from dltheory.simulators import delta_rule as sim


def _data(seed, L, n_h, d_k, d_v):
    rng = np.random.default_rng(seed)
    return (
        rng.standard_normal((L, d_k)),
        rng.standard_normal((L, n_h, d_k)) / np.sqrt(d_k),
        rng.standard_normal((L, n_h, d_v)),
        rng.uniform(0, 1, (L, n_h)),
    )


def test_online_gd_matches_the_hand_written_gradient():
    q, k, v, b = _data(0, 20, 2, 4, 3)
    S0 = np.random.default_rng(1).standard_normal((3, 4))
    states, O = sim.online_gd(k, v, b, q, S0)
    S, ref = S0.copy(), []
    for t in range(20):
        for j in range(2):
            S = S - b[t, j] * np.outer(S @ k[t, j] - v[t, j], k[t, j])  # grad of 1/2 ||S k - v||^2
        ref.append(S.copy())
    np.testing.assert_allclose(states, np.array(ref), atol=1e-13)
    np.testing.assert_allclose(O, np.einsum("tvk,tk->tv", states, q), atol=1e-13)
    assert sim.online_gd(k, v, b)[1] is None


def test_token_transition_is_the_product_in_time_order():
    _, k, _, b = _data(2, 1, 3, 5, 1)
    A = np.eye(5)
    for kj, bj in zip(k[0], b[0]):
        A = A @ (np.eye(5) - bj * np.outer(kj, kj))
    np.testing.assert_allclose(sim.token_transition(k[0], b[0]), A, atol=1e-14)


def test_divergence_raises():
    k = np.full((400, 1, 2), 1.0)
    with pytest.raises(FloatingPointError):
        sim.online_gd(k, np.ones((400, 1, 1)), np.full((400, 1), 1e3))


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda q, k, v, b: sim.online_gd(k[:, 0], v, b), "k must be a real 3-D"),
        (lambda q, k, v, b: sim.online_gd(k, v[:-1], b), "share"),
        (lambda q, k, v, b: sim.online_gd(k, v, b, q[:, :1]), "q must"),
        (lambda q, k, v, b: sim.online_gd(k, v, b, None, np.ones((1, 1))), "S0"),
        (lambda q, k, v, b: sim.online_gd(k, v, b * np.inf), "beta must be finite"),
        (lambda q, k, v, b: sim.token_transition(k[0], b[0, :1]), "beta"),
        (lambda q, k, v, b: sim.token_transition(k[0, :, :0], b[0]), "beta"),
    ],
)
def test_invalid_input(call, match):
    q, k, v, b = _data(3, 3, 2, 3, 2)
    with pytest.raises(ValueError, match=match):
        call(q, k, v, b)
