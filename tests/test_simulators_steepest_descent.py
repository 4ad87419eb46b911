"""Unit tests of dltheory.simulators.steepest_descent: Adam and Shampoo against naive loops, the ball samplers."""

import numpy as np
import pytest

from dltheory.simulators import steepest_descent as sim


def test_adam_without_moving_averages_is_sign():
    G = np.random.default_rng(0).standard_normal((3, 4, 5))
    np.testing.assert_array_equal(sim.adam_updates(G, beta1=0.0, beta2=0.0, eps=0.0), np.sign(G))
    # Adam's first step is sign(g) for any betas (bias correction), later steps are not
    u = sim.adam_updates(G, beta1=0.9, beta2=0.999, eps=0.0)
    np.testing.assert_allclose(u[0], np.sign(G[0]), rtol=1e-12)
    m = 0.9 * 0.1 * G[0] + 0.1 * G[1]
    v = 0.999 * 0.001 * G[0] ** 2 + 0.001 * G[1] ** 2
    np.testing.assert_allclose(u[1], (m / (1 - 0.81)) / np.sqrt(v / (1 - 0.999**2)), rtol=1e-12)


def test_shampoo_without_accumulation_and_with():
    G = np.random.default_rng(1).standard_normal((2, 4, 6))
    U, _, Vt = np.linalg.svd(G[1], full_matrices=False)
    np.testing.assert_allclose(sim.shampoo_updates(G, beta=0.0, eps=1e-12)[1], U @ Vt, atol=1e-9)
    L, R = G[0] @ G[0].T + G[1] @ G[1].T + 1e-3 * np.eye(4), G[0].T @ G[0] + G[1].T @ G[1] + 1e-3 * np.eye(6)

    def root(S):
        lam, Q = np.linalg.eigh(S)
        return (Q * lam**-0.25) @ Q.T

    np.testing.assert_allclose(sim.shampoo_updates(G, beta=1.0, eps=1e-3)[1], root(L) @ G[1] @ root(R), rtol=1e-10)


@pytest.mark.parametrize("norm", sim.BALLS)
@pytest.mark.parametrize("shape", [(3, 5), (5, 3), (4, 4)])
def test_samples_lie_in_the_ball(norm, shape):
    g = np.random.default_rng(2)
    G = g.standard_normal(shape)
    v = sim.unit_ball_values(G, norm, n_samples=600, seed=3)
    assert v.shape == (600,)
    dual = {"l_inf": np.abs(G).sum(), "frobenius": np.linalg.norm(G), "spectral": np.linalg.norm(G, "nuc")}[norm]
    assert v.max() <= dual * (1 + 1e-12)  # Hoelder: no feasible direction beats the dual norm
    np.testing.assert_array_equal(v, sim.unit_ball_values(G, norm, n_samples=600, seed=3))


def test_ball_norm():
    T = np.array([[3.0, -4.0], [0.0, 0.0]])
    assert sim.ball_norm(T, "l_inf") == 4 and sim.ball_norm(T, "frobenius") == 5 and sim.ball_norm(T, "spectral") == 5


@pytest.mark.parametrize(
    "call",
    [
        lambda: sim.ball_norm(np.ones((2, 2)), "nuclear"),
        lambda: sim.ball_norm(np.ones(2), "l_inf"),
        lambda: sim.adam_updates(np.ones((1, 2, 2)), beta1=1.0, beta2=0.0, eps=0.0),
        lambda: sim.adam_updates(np.ones((1, 2, 2)), beta1=0.0, beta2=0.0, eps=-1.0),
        lambda: sim.adam_updates(np.ones((2, 2)), beta1=0.0, beta2=0.0, eps=0.0),
        lambda: sim.shampoo_updates(np.ones((1, 2, 2)), beta=1.5, eps=1e-6),
        lambda: sim.shampoo_updates(np.ones((1, 2, 2)), beta=0.0, eps=0.0),
        lambda: sim.shampoo_updates(np.full((1, 2, 2), np.inf), beta=0.0, eps=1e-6),
        lambda: sim.unit_ball_values(np.ones((2, 2)), "l_inf", n_samples=2, seed=0),
        lambda: sim.unit_ball_values(np.ones((2, 2)), "l_inf", n_samples=30, seed=None),
        lambda: sim.unit_ball_values(None, "l_inf", n_samples=30, seed=0),
    ],
)
def test_invalid_input_raises(call):
    with pytest.raises((ValueError, TypeError)):
        call()
