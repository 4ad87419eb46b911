"""Unit tests of theory.nc_weight_decay, simulators.nc_weight_decay and the formulas of claim nc.nc4_and_decay."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from dltheory.simulators import nc_weight_decay as sim
from dltheory.theory import nc_weight_decay as th
from dltheory.theory.neural_collapse import deep_ufm_collapse_lambda, ufm_optimum
from dltheory.verify import registry
from dltheory.verify.claims import nc_decay

counts = st.lists(st.integers(1, 30), min_size=2, max_size=6)
decays = st.floats(1e-4, 0.5)


# ----------------------------------------------------------------------------- theory


@settings(max_examples=40, deadline=None)
@given(counts, decays)
def test_norms_are_the_closed_form(n, lam):
    w, mu = th.relu_mlp_collapse_norms(n, lam, lam)
    s2 = np.maximum(np.sqrt(n) - sum(n) * lam, 0.0)
    np.testing.assert_allclose(w, s2, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(mu, s2 / np.array(n), rtol=1e-12, atol=1e-14)


@settings(max_examples=30, deadline=None)
@given(counts, decays, decays)
def test_norms_are_the_bias_free_mse_ufm_optimum(n, lW, lA):
    w, mu = th.relu_mlp_collapse_norms(n, lW, lA)
    opt = ufm_optimum(np.array(n), lW, lA, loss="mse", bias=False)
    np.testing.assert_allclose(w, np.sum(opt.W**2, axis=1), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(mu, np.sum(opt.H_mean**2, axis=0), rtol=1e-10, atol=1e-14)


def test_class_collapses_to_zero_at_its_threshold():
    n = np.array([12, 8, 6, 6])
    for k, nk in enumerate(n):
        lam = deep_ufm_collapse_lambda(int(nk), int(n.sum()), 1)
        assert lam == pytest.approx(np.sqrt(nk) / n.sum(), rel=1e-14)
        assert th.relu_mlp_collapse_norms(n, lam * (1 - 1e-6), lam * (1 - 1e-6))[0][k] > 0
        assert th.relu_mlp_collapse_norms(n, lam * (1 + 1e-6), lam * (1 + 1e-6))[0][k] == 0


@pytest.mark.parametrize(
    "args, match",
    [
        (([3, 3], 0.0, 0.1), "lambda_W"),
        (([3, 3], 0.1, -1.0), "lambda_A"),
        (([3, 3], True, 0.1), "lambda_W"),
        (([3], 0.1, 0.1), "n_per_class"),
        (([3, 0], 0.1, 0.1), "n_per_class"),
        (([3.0, 2.0], 0.1, 0.1), "n_per_class"),
    ],
)
def test_theory_invalid_input(args, match):
    with pytest.raises((ValueError, TypeError), match=match):
        th.relu_mlp_collapse_norms(*args)


# ----------------------------------------------------------------------------- simulator


def test_orthonormal_inputs():
    X, y = sim.orthonormal_inputs([3, 2, 4], 12, seed=1)
    assert X.shape == (9, 12)
    np.testing.assert_allclose(X @ X.T, np.eye(9), atol=1e-14)
    np.testing.assert_array_equal(y, [0, 0, 0, 1, 1, 2, 2, 2, 2])
    np.testing.assert_array_equal(X, sim.orthonormal_inputs([3, 2, 4], 12, seed=1)[0])


def _reference(X, y, lam, A, W, lr, steps):
    """Naive numpy GD on 1/(2N)||relu(X A^T) W^T - Y||^2 + lam/2 (||A||^2 + ||W||^2)."""
    N, K = X.shape[0], y.max() + 1
    Y = np.eye(K)[y]
    for _ in range(steps):
        Z = X @ A.T
        H = np.maximum(Z, 0)
        E = (H @ W.T - Y) / N
        gW = E.T @ H + lam * W
        gA = ((E @ W) * (Z > 0)).T @ X + lam * A
        A, W = A - lr * gA, W - lr * gW
    return A, W


# One compiled signature (shapes, n_steps, record_every) for every sweep below: each new one costs a JIT compile.
N_PER_CLASS, STEPS = [4, 4, 4], 3000


def _sweep(lams, lr=2.0, seed=3):
    X, y = sim.orthonormal_inputs(N_PER_CLASS, 12, seed=2)
    return (
        X,
        y,
        sim.train_relu_mlp_decay(X, y, lams, width=32, lr=lr, n_steps=STEPS, record_every=STEPS // 2, seed=seed),
    )


def test_sweep_matches_the_numpy_reference_from_a_shared_init():
    # lr 0.05: a smooth path; at lr 2 the lambda > 0 arm passes a saddle (objective plateau 0.2655, then 0.255 at the
    # optimum) whose exit amplifies round-off, so the two implementations reach different points of the optimal set.
    lams, lr = np.array([0.0, 0.05]), 0.05
    X, y, run = _sweep(lams, lr=lr)
    g = np.random.default_rng(3)
    A0, W0 = g.standard_normal((32, 12)) * np.sqrt(2 / 12), g.standard_normal((3, 32)) * np.sqrt(1 / 32)
    for j, lam in enumerate(lams):
        A, W = _reference(X, y, lam, A0, W0, lr, STEPS)
        np.testing.assert_allclose(run.A[j], A, rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(run.W[j], W, rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(run.features[j, -1], np.maximum(X @ A.T, 0), rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(run.classifier[j, -1], W, rtol=1e-10, atol=1e-13)
    assert run.features.shape == (2, 2, 12, 32) and run.objective.shape == (2, 2)
    np.testing.assert_array_equal(run.steps, [STEPS // 2, STEPS])


def test_sweep_reaches_the_ufm_optimum():
    X, y, run = _sweep(np.array([0.0, 0.05]))
    w, mu = th.relu_mlp_collapse_norms(N_PER_CLASS, 0.05, 0.05)
    np.testing.assert_allclose(np.sum(run.W[1] ** 2, axis=1), w, rtol=1e-6)
    H = run.features[1, -1]
    np.testing.assert_allclose([np.sum(H[y == k].mean(0) ** 2) for k in range(3)], mu, rtol=1e-6)


def test_divergence_raises():
    with pytest.raises(FloatingPointError, match="weight decay"):
        _sweep(np.array([0.0, 0.05]), lr=1e6)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(weight_decays=[-0.1]), "weight_decays"),
        (dict(weight_decays=[np.nan]), "weight_decays"),
        (dict(width=0), "width"),
        (dict(lr=0.0), "lr"),
        (dict(momentum=1.0), "momentum"),
        (dict(n_steps=10, record_every=3), "record_every"),
        (dict(seed=None), "seed"),
        (dict(y=np.array([0, 0, 0, 0])), "y"),
        (dict(y=np.array([0, 2, 2, 0])), "y"),
    ],
)
def test_simulator_invalid_input(kwargs, match):
    X, y = sim.orthonormal_inputs([2, 2], 4, seed=0)
    args = dict(X=X, y=y, weight_decays=[0.1], width=2, lr=0.1, n_steps=10, seed=0) | kwargs
    with pytest.raises((ValueError, TypeError), match=match):
        sim.train_relu_mlp_decay(args.pop("X"), args.pop("y"), args.pop("weight_decays"), **args)


def test_orthonormal_inputs_invalid():
    with pytest.raises(ValueError, match="dim"):
        sim.orthonormal_inputs([3, 3], 5, seed=0)
    with pytest.raises(ValueError, match="n_per_class"):
        sim.orthonormal_inputs([3], 5, seed=0)
    with pytest.raises(TypeError, match="seed"):
        sim.orthonormal_inputs([3, 3], 6, seed=None)


# ----------------------------------------------------------------------------- the claim's formulas


def test_formulas_are_the_theory_function():
    c = registry.get("nc.nc4_and_decay")
    p = c.quick
    n = np.asarray(p["n"])
    shown = c.formulas_for(p)
    preds = nc_decay._predictions(p)
    lams = np.asarray(p["lambdas"])
    lam_pos = lams[lams > 0]
    args = (nc_decay._lam, nc_decay._nk, nc_decay._Nn)
    for name in list(preds)[:4]:  # the norm predictions (the last two controls change NC1 / NC4 only)
        w = sp.lambdify(args, shown[name][0].rhs, modules="numpy")
        mu = sp.lambdify(args, shown[name][1].rhs, modules="numpy")
        for j, lam in enumerate(lam_pos):
            for k, nk in enumerate(n):
                assert w(lam, nk, n.sum()) == pytest.approx(preds[name]["w_sq"][j, k], rel=1e-12, abs=1e-15), name
                assert mu(lam, nk, n.sum()) == pytest.approx(preds[name]["mu_sq"][j, k], rel=1e-12, abs=1e-15), name
    assert shown["published"][2].rhs == 0 and shown["published"][3].rhs == 0
    assert list(shown) == list(preds)
