"""grok.three_stage: train_grokking against a numpy AdamW reference, the stage diagnostics of
dltheory.theory.modular_margin, and the claim's formulas against the statements its check evaluates."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import sympy as sp

from dltheory.simulators import modular_features as mf
from dltheory.theory import modular_margin as mm

SMALL = dict(n_seeds=2, seed=4)  # one network size for every training test: JAX compiles the block once


def _masked_ce_grad(theta, xi, mask, activation):
    """Naive numpy gradient of the mean CE over the training pairs of f(x, y)[j] = sum_m xi[m, j] s(theta[m, x] +
    theta[m, y])."""
    p = theta.shape[1]
    x = np.arange(p)
    z = theta[:, :, None] + theta[:, None, :]
    h, dh = (z**2, 2 * z) if activation == "quad" else (np.maximum(z, 0), (z > 0).astype(float))
    f = np.einsum("mxy,mj->xyj", h, xi)
    sm = np.exp(f - f.max(-1, keepdims=True))
    sm /= sm.sum(-1, keepdims=True)
    g = (sm - np.eye(p)[(x[:, None] + x[None, :]) % p]) * mask[..., None] / mask.sum()
    d_xi = np.einsum("xyj,mxy->mj", g, h)
    s = np.einsum("xyj,mj->mxy", g, xi) * dh
    return s.sum(axis=2) + s.sum(axis=1), d_xi, f


@pytest.mark.parametrize("activation", ["quad", "relu"])
def test_first_adamw_step_matches_numpy_reference(activation):
    lr, wd = 0.01, 0.5
    run = mf.train_grokking(
        5, 3, lr=lr, weight_decay=wd, init_scale=0.5, activation=activation, n_steps=1, record_every=1, **SMALL
    )
    for i in range(2):
        th0, xi0, mask = run.theta[i, 0], run.xi[i, 0], run.train_mask[i].astype(float)
        d_theta, d_xi, f0 = _masked_ce_grad(th0, xi0, mask, activation)
        # step 1 of AdamW: bias-corrected m = g, v = g^2, so the step is g / (|g| + eps) on top of the decay
        for w0, g, w1 in ((th0, d_theta, run.theta[i, 1]), (xi0, d_xi, run.xi[i, 1])):
            np.testing.assert_allclose(w1, w0 * (1 - lr * wd) - lr * g / (np.abs(g) + 1e-8), rtol=1e-9, atol=1e-12)
        y = (np.arange(5)[:, None] + np.arange(5)[None, :]) % 5
        np.testing.assert_array_equal(run.correct[i, 0], np.argmax(f0, -1) == y)
    assert run.train_loss.shape == (2, 2) and run.theta.dtype == np.float64


def test_split_records_symmetry_and_learning():
    run = mf.train_grokking(5, 3, train_fraction=0.5, lr=0.05, init_scale=0.5, n_steps=60, record_every=1, **SMALL)
    assert run.train_mask.shape == (2, 5, 5) and np.all(run.train_mask.sum(axis=(1, 2)) == round(0.5 * 25))
    assert len({m.tobytes() for m in run.train_mask}) == 2  # one split per network
    np.testing.assert_array_equal(run.steps, np.arange(61))
    assert run.theta.shape == run.xi.shape == (2, 61, 3, 5) and run.correct.shape == (2, 61, 5, 5)
    # the tied embedding makes f(x, y) = f(y, x) exactly, so every record's correctness table is symmetric
    np.testing.assert_array_equal(run.correct, np.swapaxes(run.correct, 2, 3))
    assert np.all(run.train_loss[:, -1] < 0.5 * run.train_loss[:, 0])
    again = mf.train_grokking(5, 3, train_fraction=0.5, lr=0.05, init_scale=0.5, n_steps=60, record_every=1, **SMALL)
    np.testing.assert_array_equal(run.theta, again.theta)


def test_train_grokking_invalid_input():
    with pytest.raises(TypeError, match="seed"):
        mf.train_grokking(5, 3, n_steps=2, record_every=1, seed=None)
    with pytest.raises(ValueError, match="multiple of record_every"):
        mf.train_grokking(5, 3, n_steps=3, record_every=2, seed=0)
    with pytest.raises(ValueError, match="lr \\* weight_decay"):
        mf.train_grokking(5, 3, lr=0.5, weight_decay=2.0, n_steps=2, record_every=1, seed=0)
    with pytest.raises(ValueError, match="activation"):
        mf.train_grokking(5, 3, activation="tanh", n_steps=2, record_every=1, seed=0)
    with pytest.raises(ValueError, match="train_fraction"):
        mf.train_grokking(5, 3, train_fraction=0.01, n_steps=2, record_every=1, seed=0)


def test_grokking_stages():
    steps = np.array([0, 10, 20, 30])
    assert mm.grokking_stages(steps, [0.1, 0.96, 1.0, 1.0], [0.0, 0.5, 0.7, 0.95]) == (10.0, 30.0)
    assert mm.grokking_stages(steps, [0.1, 0.5, 0.9, 0.9], [0, 0, 0, 0]) == (math.inf, math.inf)
    assert mm.grokking_stages(steps, [0.1, 0.5, 0.9, 0.9], [0, 0, 0, 0], level=0.9) == (20.0, math.inf)
    with pytest.raises(ValueError, match="increasing"):
        mm.grokking_stages([0, 0, 1], [0, 0, 0], [0, 0, 0])
    with pytest.raises(ValueError, match="train_accuracy and test_accuracy must have one nonzero length"):
        mm.grokking_stages([0, 1], [0, 0, 0], [0, 0, 0])
    with pytest.raises(ValueError, match="train_accuracy"):
        mm.grokking_stages([0, 1], [0, 1.5], [0, 0])


def test_memorisation_test_accuracy():
    # p = 3: train (0,1), (1,1), (2,0); test pairs 6, of which (1,0) and (0,2) have their transpose trained: q = 1/3
    m = np.zeros((3, 3), bool)
    m[0, 1] = m[1, 1] = m[2, 0] = True
    assert mm.memorisation_test_accuracy(m) == pytest.approx(1 / 3 + (2 / 3) / 3, rel=1e-15)
    # a symmetric split: no test pair has a trained transpose, so chance; near 3/4 at a random 75 % split
    assert mm.memorisation_test_accuracy(np.eye(4, dtype=bool)) == pytest.approx(0.25, rel=1e-15)
    g = np.random.default_rng(0)
    big = g.random((101, 101)) < 0.75
    assert mm.memorisation_test_accuracy(big) == pytest.approx(0.75 + 0.25 / 101, abs=0.02)
    with pytest.raises(ValueError, match="test pair"):
        mm.memorisation_test_accuracy(np.ones((3, 3), bool))
    with pytest.raises(TypeError, match="train_mask"):
        mm.memorisation_test_accuracy(np.ones((3, 3)))
    with pytest.raises(ValueError, match="shape"):
        mm.memorisation_test_accuracy(np.ones((3, 4), bool))


def test_formulas_are_the_statements_the_check_evaluates():
    """The formulas shown, evaluated at each network's diagnostics, hold all together exactly when the network's
    observed pattern is the prediction's (what the judge counts). Synthetic runs: random weights (so random IPR
    curves), random norms and accuracy tables with chosen stage boundaries, so that every pattern occurs."""
    from dltheory.verify.claims import grok_stages as gs

    g = np.random.default_rng(5)
    p, n_net, n_rec = 7, 40, 12
    mask = np.zeros((n_net, p, p), bool)
    mask[:, : p - 1] = True  # the last row is the test set
    correct = np.zeros((n_net, n_rec, p, p), bool)
    for n in range(n_net):
        t_i, t_ii = sorted(g.choice(np.arange(1, n_rec), 2, replace=False))
        correct[n, t_i:, : p - 1] = True
        correct[n, t_ii:, p - 1] = n % 5 != 0  # every fifth network never generalises
    run = SimpleNamespace(
        steps=np.arange(n_rec) * 10,
        train_mask=mask,
        correct=correct,
        theta=g.standard_normal((n_net, n_rec, 4, p)) * g.random((n_net, n_rec, 4, 1)),
        xi=g.standard_normal((n_net, n_rec, 4, p)),
    )
    d = gs._diagnostics(run)
    t1, t2, i1, i2, w_end, w_max = gs._formula_symbols()
    formulas, predictions = gs._formulas({}), gs._predictions({})
    assert list(formulas)[0] == "published" and set(formulas) == set(predictions)
    seen = set()
    for n in np.flatnonzero(d["grokked"]):
        i, j = np.searchsorted(d["steps"], (d["t_I"][n], d["t_II"][n]))
        values = {t1: d["t_I"][n], t2: d["t_II"][n], i1: d["ipr"][n][i], i2: d["ipr"][n][j]}
        values |= {w_end: d["norm"][n][-1], w_max: d["norm"][n][j:].max() * (1 - gs.NORM_RTOL)}
        observed = tuple(bool(x) for x in d["pattern"][n])
        seen.add(observed)
        for name, prediction in predictions.items():
            shown = [bool(sp.lambdify(list(values), e)(*values.values())) for e in formulas[name]]
            assert all(shown) == (observed == prediction["pattern"]), name
    assert len(seen) >= 4 and not d["grokked"][::5].any()
