"""Unit tests for dltheory.simulators.neural_collapse: float64, gradients, determinism, projections, certificates,
bad input."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from dltheory.simulators import neural_collapse as sim


def _numpy_objective(layers, H, y, b, lW, lH, loss):
    W = layers[0]
    for Wj in layers[1:]:
        W = Wj @ W
    Z = W @ H + b[:, None]
    N = H.shape[1]
    if loss == "ce":
        zmax = Z.max(axis=0)
        data = np.mean(zmax + np.log(np.exp(Z - zmax).sum(axis=0)) - Z[y, np.arange(N)])
    else:
        Y = np.eye(W.shape[0])[:, y]
        data = 0.5 / N * np.sum((Z - Y) ** 2)
    return data + 0.5 * lW * sum(np.sum(Wj**2) for Wj in layers) + 0.5 * lH * np.sum(H**2)


@pytest.mark.parametrize("loss", ["ce", "mse"])
def test_objective_matches_numpy_and_gradient_matches_finite_differences(loss):
    rng = np.random.default_rng(0)
    K, d = 3, 4
    y = np.repeat(np.arange(K), [3, 2, 4])
    layers = (rng.standard_normal((d, d)), rng.standard_normal((K, d)))
    H, b = rng.standard_normal((d, y.size)), rng.standard_normal(K)
    with jax.enable_x64(True):
        f = lambda p: sim._ufm_objective(p, (0.01, 0.02), y=jnp.asarray(y), K=K, loss=loss)
        val = float(f((layers, H, b)))
        g = jax.grad(f)((layers, H, b))
    assert val == pytest.approx(_numpy_objective(layers, H, y, b, 0.01, 0.02, loss), rel=1e-13)
    E = np.zeros_like(H)
    E[1, 2] = 1e-6
    fd = (
        _numpy_objective(layers, H + E, y, b, 0.01, 0.02, loss)
        - _numpy_objective(layers, H - E, y, b, 0.01, 0.02, loss)
    ) / 2e-6
    assert float(g[1][1, 2]) == pytest.approx(fd, rel=1e-7)


def test_train_ufm_float64_deterministic_and_bias_frozen_when_absent():
    a = sim.train_ufm([3, 4], 1e-2, 1e-2, loss="mse", d=3, lr=0.1, n_steps=50, record_every=10, seed=5)
    b = sim.train_ufm([3, 4], 1e-2, 1e-2, loss="mse", d=3, lr=0.1, n_steps=50, record_every=10, seed=5)
    assert a.H.dtype == np.float64 and a.W.dtype == np.float64
    assert np.array_equal(a.W, b.W) and np.array_equal(a.H, b.H)
    assert a.b is None and a.objective.shape == (5,) and a.steps.tolist() == [10, 20, 30, 40, 50]
    assert a.H_mean.shape == (3, 2) and a.y.tolist() == [0] * 3 + [1] * 4


def test_train_ufm_decreases_objective_and_matches_plain_gd():
    rng_seed = 3
    run = sim.train_ufm([2, 2], 1e-2, 1e-2, loss="mse", d=2, lr=0.05, momentum=0.0, n_steps=1, seed=rng_seed)
    g = np.random.default_rng(rng_seed)
    W0 = 0.1 * g.standard_normal((2, 2))
    H0 = 0.1 * g.standard_normal((2, 4))
    y = np.array([0, 0, 1, 1])
    Y = np.eye(2)[:, y]
    R = (W0 @ H0 - Y) / 4
    W1 = W0 - 0.05 * (R @ H0.T + 1e-2 * W0)
    H1 = H0 - 0.05 * (W0.T @ R + 1e-2 * H0)
    assert np.allclose(run.W, W1, atol=1e-15) and np.allclose(run.H, H1, atol=1e-15)
    long = sim.train_ufm([2, 2], 1e-2, 1e-2, loss="ce", d=2, lr=0.5, n_steps=200, record_every=20, seed=0)
    assert long.objective[-1] < long.objective[0]


def test_train_ufm_init_is_used():
    layers = [np.eye(3)[:2]]
    H = np.ones((3, 4))
    run = sim.train_ufm(
        [2, 2], 1e-2, 1e-2, loss="mse", d=3, lr=1e-12, n_steps=1, init=(layers, H), init_std=0.0, seed=0
    )
    assert np.allclose(run.W, layers[0], atol=1e-10) and np.allclose(run.H, H, atol=1e-10)
    with pytest.raises(ValueError, match="init"):
        sim.train_ufm([2, 2], 1e-2, 1e-2, d=3, init=([np.eye(3)], H), n_steps=1, seed=0)


def test_train_ufm_history_and_bias_init():
    b0 = np.array([0.3, -0.1])
    init = ([np.eye(3)[:2]], np.ones((3, 4)), b0)
    run = sim.train_ufm(
        [2, 2],
        1e-2,
        1e-2,
        loss="mse",
        bias=True,
        d=3,
        lr=1e-12,
        n_steps=4,
        record_every=2,
        init=init,
        init_std=0.0,
        history=True,
        seed=0,
    )
    assert np.allclose(run.b, b0, atol=1e-10)
    assert run.H_history.shape == (2, 3, 4) and run.W_history.shape == (2, 2, 3)
    assert np.allclose(run.W_history[-1], run.W) and np.allclose(run.H_history[-1], run.H)
    assert sim.train_ufm([2, 2], 1e-2, 1e-2, d=3, n_steps=2, seed=0).H_history is None
    with pytest.raises(ValueError, match="init"):
        sim.train_ufm([2, 2], 1e-2, 1e-2, d=3, init=([np.eye(3)[:2]], np.ones((3, 4)), np.zeros(3)), n_steps=1, seed=0)


@pytest.mark.parametrize("loss, bias, depth", [("mse", False, 1), ("ce", True, 1), ("mse", True, 2)])
def test_ufm_certificate_bounds_the_distance(loss, bias, depth):
    """Converged: a tiny bound. Perturbed by a known step: the bound covers the step's component transverse to
    the symmetry orbit (||grad|| ~ ||Hess delta|| >= mu ||delta_perp||)."""
    run = sim.train_ufm(
        [5, 4, 3], 1e-2, 2e-2, loss=loss, bias=bias, depth=depth, d=4, lr=0.3, n_steps=20000, init_std=0.4, seed=1
    )
    c = sim.ufm_certificate(run)
    assert c.curvature > 0 and c.distance < 1e-8 and c.multipliers == ()
    delta = 1e-6 * np.random.default_rng(2).standard_normal(run.H.shape)
    moved = sim.ufm_certificate(dataclasses.replace(run, H=run.H + delta))
    # delta (48 entries) has at most 6 orbit directions to lose: its transverse part exceeds half its norm
    assert np.isfinite(moved.distance) and moved.distance >= 0.5 * np.linalg.norm(delta)


def test_ufm_certificate_refuses_a_saddle():
    # W = H = 0 is a critical point of the depth-1 MSE UFM; below the collapse threshold it is a saddle
    zero = sim.train_ufm(
        [5, 5],
        1e-3,
        1e-3,
        loss="mse",
        d=3,
        lr=1e-12,
        n_steps=1,
        init=([np.zeros((2, 3))], np.zeros((3, 10))),
        init_std=0.0,
        seed=0,
    )
    c = sim.ufm_certificate(zero)
    assert c.curvature < 0 and c.distance == np.inf


def test_lpm_certificate_kkt():
    run = sim.train_layer_peeled([30, 30, 10, 10], 1.0, 5.0, lr=0.1, n_steps=20000, seed=0)
    c = sim.lpm_certificate(run)
    assert len(c.multipliers) == 2 and min(c.multipliers) > 0  # both budgets active
    assert c.curvature > 0 and c.distance < 1e-8


def test_divergence_raises_naming_the_step():
    with pytest.raises(FloatingPointError, match="diverged.*step"):
        sim.train_ufm([5, 5], 1e-3, 1e-3, loss="mse", d=4, lr=500.0, init_std=3.0, n_steps=200, record_every=10, seed=0)


def test_layer_peeled_respects_constraints():
    r = sim.train_layer_peeled([30, 30, 10, 10], 1.0, 5.0, lr=0.1, n_steps=500, record_every=100, seed=0)
    assert np.mean(np.sum(r.W**2, axis=1)) <= 1.0 + 1e-12
    assert np.mean(np.sum(r.H_mean**2, axis=0)) <= 5.0 + 1e-12
    assert r.objective.shape == (5,) and r.objective[-1] < np.log(4)


def test_gaussian_mixture_and_mlp():
    X, y = sim.gaussian_mixture(3, 10, 5, separation=4.0, seed=0)
    assert X.shape == (30, 5) and np.bincount(y).tolist() == [10, 10, 10]
    run = sim.train_mlp(X, y, widths=(16,), n_epochs=200, record_every=50, seed=1)
    assert run.features.shape == (4, 30, 16) and run.W.shape == (4, 3, 16) and run.b.shape == (4, 3)
    assert run.train_error[-1] == 0.0 and run.loss[-1] < run.loss[0]
    assert np.all(run.features >= 0)  # ReLU features


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(n_per_class=[5]), "n_per_class"),
        (dict(n_per_class=[5, 0]), "n_per_class"),
        (dict(n_per_class=[5, 5], lambda_W=-1.0), "lambda_W"),
        (dict(n_per_class=[5, 5], lambda_H=np.nan), "lambda_H"),
        (dict(n_per_class=[5, 5], loss="hinge"), "loss"),
        (dict(n_per_class=[5, 5], depth=0), "depth"),
        (dict(n_per_class=[5, 5], lr=0.0), "lr"),
        (dict(n_per_class=[5, 5], momentum=1.0), "momentum"),
        (dict(n_per_class=[5, 5], n_steps=10, record_every=3), "record_every"),
        (dict(n_per_class=[5, 5], n_steps=0), "n_steps"),
    ],
)
def test_train_ufm_bad_input(kwargs, match):
    base = dict(lambda_W=1e-3, lambda_H=1e-3, n_steps=10, seed=0)
    with pytest.raises(ValueError, match=match):
        sim.train_ufm(**{**base, **kwargs})


def test_other_bad_input():
    with pytest.raises(ValueError, match="run must be a UFMRun"):
        sim.ufm_certificate(sim.train_layer_peeled([5, 5], 1.0, 1.0, n_steps=10, seed=0))
    with pytest.raises(ValueError, match="run must be an LPMRun"):
        sim.lpm_certificate(sim.train_ufm([2, 2], 1e-2, 1e-2, d=2, n_steps=2, seed=0))
    with pytest.raises(ValueError, match="d must be"):
        sim.train_layer_peeled([5, 5, 5], 1.0, 1.0, d=1, n_steps=10, seed=0)
    with pytest.raises(ValueError, match="E_W"):
        sim.train_layer_peeled([5, 5], 0.0, 1.0, n_steps=10, seed=0)
    with pytest.raises(ValueError, match="K must be"):
        sim.gaussian_mixture(1, 5, 2, seed=0)
    with pytest.raises(ValueError, match="y must be .* of length 4"):
        sim.train_mlp(np.zeros((4, 2)), np.array([0, 1, 0]), n_epochs=10, record_every=10, seed=0)
    with pytest.raises(ValueError, match="y must be"):
        sim.train_mlp(np.zeros((3, 2)), np.array([0, 0, 0]), n_epochs=10, record_every=10, seed=0)


def test_float64_is_scoped_not_global():
    """The simulators compute in float64 through a scoped jax.enable_x64; the global flag stays untouched."""
    import subprocess
    import sys

    code = (
        "import jax, jax.numpy as jnp\n"
        "from simulators import neural_collapse as sim\n"
        "r = sim.train_ufm([2, 2], 1e-2, 1e-2, d=2, n_steps=2, seed=0)\n"
        "print(r.W.dtype, jnp.ones(1).dtype, jax.config.jax_enable_x64)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=__import__("pathlib").Path(__file__).resolve().parents[1],
    )
    assert out.stdout.split() == ["float64", "float32", "False"]


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: sim.train_ufm([2, 2], "0.1", 0.1, n_steps=2, seed=0), "lambda_W"),
        (lambda: sim.train_ufm([2, 2], 0.1, 0.1, n_steps=10**300, seed=0), "n_steps"),
        (lambda: sim.train_ufm([2, 2], 0.1, 0.1, n_steps=2, bias="no", seed=0), "bias"),
        (lambda: sim.train_ufm([2, 2], 0.1, 0.1, n_steps=2, momentum=None, seed=0), "momentum"),
        (lambda: sim.train_ufm([2, 2], 0.1, 0.1, n_steps=2, init=1.0, seed=0), "init"),
        (lambda: sim.train_layer_peeled([2, 2], 1.0, True, n_steps=2, seed=0), "E_H"),
        (lambda: sim.gaussian_mixture(2, 2, 2, separation=np.nan, seed=0), "separation"),
        (lambda: sim.train_mlp(np.eye(2), [0, 1], widths="3", n_epochs=2, record_every=1, seed=0), "widths"),
        (lambda: sim.train_mlp(np.eye(2), [0, 1], n_epochs=0, record_every=1, seed=0), "n_epochs"),
    ],
)
def test_invalid_input_is_refused_naming_the_parameter(call, match):
    with pytest.raises(ValueError, match=match):
        call()
