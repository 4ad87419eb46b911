"""Unit tests of dltheory.simulators.in_context: the LSA layer, the autodiff GD step, training and its read-out."""

import numpy as np
import pytest

from dltheory.simulators import in_context as sim


def _construction(d, eta, N, w0):
    """Prop. 1's weights, written out here (the simulator never sees dltheory.theory)."""
    KQ = np.diag(np.r_[np.ones(d), 0.0])
    V = np.zeros((d + 1, d + 1))
    V[d, :d], V[d, d] = w0, -1.0
    return KQ, KQ.copy(), V, eta / N * np.eye(d + 1)


def test_layer_with_construction_is_gd_step():
    N, d, eta = 6, 3, 0.7
    t = sim.sample_tasks(50, N, d, seed=0)
    w0 = np.array([0.5, -1.0, 0.2])
    context = np.concatenate([t.x, t.y[..., None]], axis=-1)
    query = np.concatenate([t.x_q, -(t.x_q @ w0)[:, None]], axis=-1)
    out = sim.lsa_layer(context, query, *_construction(d, eta, N, w0))
    gd = sim.gd_step(t.x, t.y, t.x_q, eta, w0)
    np.testing.assert_allclose(-out[:, d], gd, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(out[:, :d], t.x_q)


def test_layer_matches_naive_sum_and_query_term():
    g = np.random.default_rng(1)
    D, N = 4, 5
    context, query = g.standard_normal((2, N, D)), g.standard_normal((2, D))
    W = g.standard_normal((4, D, D))
    out = sim.lsa_layer(context, query, *W)
    out_q = sim.lsa_layer(context, query, *W, include_query=True)
    for m in range(2):
        naive = query[m] + sum(W[3] @ W[2] @ e * ((W[0] @ e) @ (W[1] @ query[m])) for e in context[m])
        np.testing.assert_allclose(out[m], naive, rtol=1e-12)
        self_term = W[3] @ W[2] @ query[m] * ((W[0] @ query[m]) @ (W[1] @ query[m]))
        np.testing.assert_allclose(out_q[m], naive + self_term, rtol=1e-12)


def test_gd_step_matches_closed_form():
    t = sim.sample_tasks(20, 8, 2, seed=2)
    w1 = 0.3 * np.einsum("mi,mik->mk", t.y, t.x) / 8  # from w0 = 0: w1 = (eta/N) sum_i y_i x_i
    np.testing.assert_allclose(sim.gd_step(t.x, t.y, t.x_q, 0.3), np.einsum("mk,mk->m", w1, t.x_q), rtol=1e-12)


def test_sample_tasks_is_noiseless_linear_and_seeded():
    t = sim.sample_tasks(30, 6, 4, seed=3)
    w = np.linalg.lstsq(t.x[0], t.y[0], rcond=None)[0]  # N > d: w recovered exactly
    assert abs(t.x_q[0] @ w - t.y_q[0]) < 1e-10
    assert all(np.array_equal(a, b) for a, b in zip(t, sim.sample_tasks(30, 6, 4, seed=3)))


def test_effective_preconditioner_of_construction():
    W_K, W_Q, W_V, P = _construction(3, 0.6, 10, np.zeros(3))
    e = sim.effective_preconditioner((P @ W_V)[None], (W_K.T @ W_Q)[None], 10)
    np.testing.assert_allclose(e["Gamma"][0], 0.6 * np.eye(3), rtol=1e-14)
    assert not any(np.any(e[k]) for k in ("vx_A", "vy_b", "vx_b"))


def test_training_reaches_a_stationary_point_padding_invariant():
    """Training converges (gradient ~ 0, risk below the zero predictor's E y_q^2 = d) and zero-padding the inputs to
    d_pad = 3 changes nothing but round-off; the squared errors read out through the layer agree with the risk."""
    kw = dict(n_tasks=2048, n_seeds=2, seed=4, n_restarts=8)
    r = sim.train_lsa(10, 2, **kw)
    r_pad = sim.train_lsa(10, 2, d_pad=3, **kw)
    assert r.V.shape == r.Q.shape == (2, 3, 3) and np.all(r.grad_norm < 1e-8)
    assert np.all(r.train_risk < 2.0)
    np.testing.assert_allclose(r_pad.train_risk, r.train_risk, rtol=1e-8)
    test = sim.sample_tasks(4000, 10, 2, seed=5)
    err = sim.lsa_squared_errors(r.V[0], r.Q[0], test)
    assert err.shape == (4000,) and abs(err.mean() - r.train_risk[0]) < 0.15 * r.train_risk[0]


@pytest.mark.parametrize(
    "call",
    [
        lambda: sim.sample_tasks(0, 3, 2, seed=0),
        lambda: sim.sample_tasks(5, 3, 2, seed=None),
        lambda: sim.sample_tasks(5, 3.0, 2, seed=0),
        lambda: sim.lsa_layer(np.ones((2, 3, 3)), np.ones((2, 4)), *np.ones((4, 3, 3))),
        lambda: sim.lsa_layer(np.ones((2, 3, 3)), np.ones((2, 3)), *np.ones((4, 3, 3)), include_query=1),
        lambda: sim.gd_step(np.ones((2, 3, 2)), np.ones((2, 3)), np.ones((2, 2)), 0.0),
        lambda: sim.gd_step(np.ones((2, 3, 2)), np.ones((2, 3)), np.ones((2, 2)), 1.0, w0=[1.0]),
        lambda: sim.train_lsa(5, 2, n_tasks=1, n_seeds=1, seed=0),
        lambda: sim.train_lsa(5, 2, n_tasks=10, n_seeds=1, seed=0, d_pad=1),
        lambda: sim.train_lsa(5, 2, n_tasks=10, n_seeds=1, seed=0, lr=-1.0),
        lambda: sim.effective_preconditioner(np.ones((3, 3)), np.ones((2, 2)), 4),
        lambda: sim.lsa_squared_errors(np.ones((3, 3)), np.ones((2, 2)), sim.sample_tasks(3, 2, 2, seed=0)),
    ],
)
def test_invalid_input_raises(call):
    with pytest.raises((ValueError, TypeError)):
        call()
