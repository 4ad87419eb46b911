"""muTransfer pieces: the stable / optimal learning-rate exponents of theory.mup, the lr sweep of
simulators.abc_mlp, the argmin estimators of verify.stats, and the formulas shown by the mup.transfer claim."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest
import sympy as sp

from dltheory.simulators import abc_mlp as sim
from dltheory.theory import mup as th
from dltheory.verify import stats
from dltheory.verify.claims import mup as claims

half = sp.Rational(1, 2)


@pytest.mark.parametrize(
    "name, L, c, c_star",
    [
        ("SP", 1, 0, 1),
        ("SP", 2, 0, 1),
        ("SP", 3, 1, 1),
        ("NTP", 2, None, 0),
        ("muP", 1, None, 0),
        ("muP", 3, None, 0),
        ("MFP", 1, None, -1),
    ],
)
def test_stable_lr_exponent_of_the_table_rows(name, L, c, c_star):
    p = th.parametrization(name, L, c=c)
    assert th.stable_lr_exponent(p) == c_star
    assert th.optimal_lr_exponent(p) == p.c - c_star


def _init_stable_rows():
    """abc rows meeting the init conditions of [TP4] Thm 3.3 (L = 1, 2) over a grid of a's and readout b's."""
    grid = [sp.Rational(k, 2) for k in range(-1, 2)]
    for L in (1, 2):
        for a in itertools.product(grid, repeat=L + 1):
            for b_out in (half - a[-1], 1 - a[-1], sp.Rational(3, 2) - a[-1]):
                b = (-a[0], *[half - x for x in a[1:-1]], b_out)
                yield th.ABC("row", tuple(a), b, sp.Integer(0))


def test_stable_lr_exponent_is_the_smallest_stable_c():
    for p in _init_stable_rows():
        c_star = th.stable_lr_exponent(p)
        assert th.is_stable(dataclasses.replace(p, c=c_star))
        assert not th.is_stable(dataclasses.replace(p, c=c_star - sp.Rational(1, 8)))
        if th.is_nontrivial(dataclasses.replace(p, c=c_star)):
            assert th.optimal_lr_exponent(p) == p.c - c_star
        else:  # only r >= 0 binds: the limit's output is frozen and no optimum is predicted
            with pytest.raises(ValueError, match="trivial"):
                th.optimal_lr_exponent(p)


def test_lr_formulas_equal_the_theory_functions():
    """The formula the claim shows, lambdified, equals theory.mup.optimal_lr_exponent on every row it predicts."""
    for L in (1, 2):
        e, e_dropped, syms = claims.lr_exponent_formulas(L)
        f, g = sp.lambdify(syms, e, "numpy"), sp.lambdify(syms, e_dropped, "numpy")
        for p in (q for q in _init_stable_rows() if q.L == L):
            for c in (0, 1):
                q = dataclasses.replace(p, c=sp.Rational(c))
                args = [float(v) for v in (*q.a, q.b[-1], q.c)]
                assert f(*args) == pytest.approx(float(q.c - th.stable_lr_exponent(q)), abs=1e-12)
                assert g(*args) >= f(*args) - 1e-12  # dropping a condition can only lower c*
    sp0 = th.parametrization("SP", 1, c=0)
    e, e_dropped, syms = claims.lr_exponent_formulas(1)
    values = dict(zip(syms, (*sp0.a, sp0.b[-1], sp0.c)))
    assert e.subs(values) == th.optimal_lr_exponent(sp0) == -1
    assert e_dropped.subs(values) == -sp.Rational(1, 4)


def test_optimal_lr_exponent_refuses_bad_input():
    with pytest.raises(TypeError):
        th.optimal_lr_exponent("muP")
    bad = dataclasses.replace(th.parametrization("SP", 2), b=(1, half, half))  # a_1 + b_1 != 0
    with pytest.raises(ValueError, match="initialisation"):
        th.stable_lr_exponent(bad)


def _naive_loss(n, a, b, c, X, y, eta, K, g):
    """One L = 1 network by hand (the reference for lr_sweep): f = n^-a2 v . relu(n^-a1 W x)."""
    d = X.shape[1]
    W = n ** -b[0] / np.sqrt(d) * g.standard_normal((n, d))
    v = n ** -b[1] * g.standard_normal(n)

    def out(W, v):
        h = n ** -a[0] * X @ W.T
        return n ** -a[1] * np.maximum(h, 0) @ v, h

    f0, _ = out(W, v)
    for _ in range(K):
        f, h = out(W, v)
        r = (f - f0 - y) / len(y)
        gv = n ** -a[1] * np.maximum(h, 0).T @ r
        gW = n ** -a[0] * ((r[:, None] * n ** -a[1] * v[None, :]) * (h > 0)).T @ X
        W, v = W - eta * n**-c * gW, v - eta * n**-c * gv
    return 0.5 * np.mean((out(W, v)[0] - f0 - y) ** 2)


def test_lr_sweep_matches_a_naive_network():
    g = np.random.default_rng(0)
    X, y = g.standard_normal((5, 3)), g.standard_normal(5)
    a, b = (-0.5, 0.5), (0.5, 0.5)
    etas = np.array([0.1, 0.7])
    loss = sim.lr_sweep(16, a=a, b=b, c=0.0, X=X, y=y, etas=etas, n_steps=3, n_seeds=2, seed=1)
    ref_g = np.random.default_rng(1)  # the same draws in the same order: w^1 then w^2 for both seeds at once
    W = ref_g.standard_normal((2, 16, 3))
    v = ref_g.standard_normal((2, 1, 16))
    for s, (e, eta) in itertools.product(range(2), enumerate(etas)):
        seeded = _FixedDraws([W[s], v[s, 0]])
        assert loss[s, e] == pytest.approx(_naive_loss(16, a, b, 0.0, X, y, eta, 3, seeded), rel=1e-12)


class _FixedDraws:
    """Hands out pre-drawn standard normal arrays in order (to replay lr_sweep's initialisation)."""

    def __init__(self, arrays):
        self._arrays = list(arrays)

    def standard_normal(self, shape):
        out = self._arrays.pop(0)
        assert out.shape == tuple(np.atleast_1d(shape))
        return out


def test_lr_sweep_columns_are_common_random_numbers_and_divergence_is_inf():
    g = np.random.default_rng(3)
    X, y = g.standard_normal((4, 2)), g.standard_normal(4)
    kw = dict(a=(0.0, 0.0), b=(0.0, 0.5), c=0.0, X=X, y=y, n_steps=4, n_seeds=3, seed=7)
    both = sim.lr_sweep(32, etas=[1e-3, 1e3], **kw)
    alone = sim.lr_sweep(32, etas=[1e-3], **kw)
    np.testing.assert_array_equal(both[:, :1], alone)
    assert np.all(np.isinf(both[:, 1]))
    tiny = sim.lr_sweep(32, etas=[1e-12], **kw)
    np.testing.assert_allclose(tiny, 0.5 * np.mean(y**2), rtol=1e-9)


def test_lr_sweep_refuses_bad_input():
    X, y = np.ones((2, 2)), np.ones(2)
    kw = dict(a=(0.0, 0.0), b=(0.0, 0.5), c=0.0, X=X, y=y, n_steps=1, n_seeds=1, seed=0)
    with pytest.raises(ValueError, match="etas"):
        sim.lr_sweep(4, etas=[0.1, 0.0], **kw)
    with pytest.raises(ValueError, match="memory cap"):
        sim.lr_sweep(4096, **{**kw, "n_seeds": 10_000}, etas=[0.1] * 10)


def test_parabolic_argmin_is_exact_on_a_parabola_and_nan_at_the_edge():
    x = np.linspace(-1, 1, 9)
    assert stats.parabolic_argmin(x, 3 * (x - 0.13) ** 2 + 1) == pytest.approx(0.13, abs=1e-12)
    assert np.isnan(stats.parabolic_argmin(x, x))  # minimum at the edge
    y = 3 * (x - 0.13) ** 2
    y[5] = np.inf
    assert np.isnan(stats.parabolic_argmin(x, y))  # a diverged neighbour
    est, se = stats.bootstrap_argmin(x, np.exp(np.tile((x - 0.2) ** 2, (4, 1))), n_boot=10, seed=0)
    assert est == pytest.approx(0.2, abs=1e-12) and se == pytest.approx(0.0, abs=1e-12)
