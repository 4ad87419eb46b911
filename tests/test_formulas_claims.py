"""The formulas each claim shows are the ones its check evaluates (issue 18, item 1).

Every library claim declares ``formulas=``; here each closed form is lambdified (or evaluated) and compared with the
numeric theory function the claim's check uses, at a few parameter points (1e-12 relative unless stated). Where the
prediction is a numerical solver's output (an ODE, a recursion, a fixed point, a Gaussian integral) the formula shown
is the defining equation, and the test checks that the numeric function satisfies it.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import sympy as sp

from dltheory.verify import registry

RTOL = 1e-12

# Claims whose predictions are not formulas of the claim's parameters: none (pure identities show the identity).
EXEMPT: dict[str, str] = {}


def _f(expr, *symbols, modules=("scipy", "numpy")):
    return sp.lambdify(symbols, expr, modules=list(modules))


def _num(expr, values: dict, arrays: dict | None = None, sizes: dict | None = None) -> float:
    """Evaluate ``expr`` in float64 with finite sums: ``sizes`` fixes the sums' upper limits, ``arrays`` maps an
    IndexedBase to a 1-based array (1-D or 2-D), ``values`` the remaining symbols."""
    e = sp.sympify(expr).subs(sizes or {}).doit()
    values = dict(values)
    for base, arr in (arrays or {}).items():
        arr = np.asarray(arr, float)
        for a in e.atoms(sp.Indexed):
            if a.base == base:
                values[a] = float(arr[tuple(int(i) - 1 for i in a.indices)])
    keys = [k for k in values if e.has(k)]
    dummies = [sp.Dummy() for _ in keys]
    fn = sp.lambdify(dummies, e.xreplace(dict(zip(keys, dummies))), modules=["scipy", "numpy"])
    return float(fn(*(values[k] for k in keys)))


def _library_claims():
    return [c for c in registry.all_claims() if c.judge.__module__.startswith("dltheory.verify.claims.")]


def test_every_library_claim_shows_its_formulas():
    missing = [c.id for c in _library_claims() if c.formulas is None and c.id not in EXEMPT]
    assert not missing, f"claims without formulas= (add them, or exempt them with a reason): {missing}"
    for c in _library_claims():
        if c.formulas is not None:
            formulas = c.formulas_for(c.quick, c.predictions_for(c.quick))
            assert next(iter(formulas)) == "published", c.id


# ----------------------------------------------------------------------------- in-context learning


def test_in_context_formulas_are_the_theory_functions():
    from dltheory.simulators import in_context as sim
    from dltheory.theory import in_context as th
    from dltheory.verify.claims import in_context as claims

    N, d = claims._N, claims._d
    f = claims.optimum_formulas()
    eta_star, R_star, R = (e.rhs for e in f["published"])
    for n, dd in [(5, 2), (20, 3), (40, 7)]:
        assert float(eta_star.subs({N: n, d: dd})) == pytest.approx(th.lsa_optimal_step(n, dd), rel=RTOL)
        assert float(R_star.subs({N: n, d: dd})) == pytest.approx(th.lsa_optimal_risk(n, dd), rel=RTOL)
        for eta in (0.3, 1.0, 1.7):
            assert float(R.subs({N: n, d: dd, claims._eta: eta})) == pytest.approx(th.lsa_gd_risk(eta, n, dd), rel=RTOL)
    preds = claims._optimum_predictions({})
    for name, (step, risk) in ((k, v[:2]) for k, v in f.items()):
        for n, dd in [(5, 2), (20, 3)]:
            assert float(step.rhs.subs({N: n, d: dd})) == pytest.approx(float(preds[name]["step"](n, dd)), rel=RTOL)
            assert float(risk.rhs.subs({N: n, d: dd})) == pytest.approx(float(preds[name]["risk"](n, dd)), rel=RTOL)
    # the identity's formulas: the LSA layer with each prediction's weights (sim.lsa_layer) on random tasks
    g = np.random.default_rng(0)
    n, dd, eta = 6, 3, 0.7
    tasks = sim.sample_tasks(4, n, dd, seed=g)
    w0 = g.standard_normal(dd)
    ident = claims.identity_formulas()
    preds = claims._identity_predictions({})
    for name, eq in ident.items():
        sizes = {N: n, d: dd}
        args = [m.subs(sizes) for m in (claims._X, claims._y, claims._w0, claims._x_q)]
        fn = sp.lambdify((*args, claims._eta), eq.rhs.subs(sizes))
        want = fn(tasks.x[0], tasks.y[0][:, None], w0[:, None], tasks.x_q[0][:, None], eta)
        W_K, W_Q, W_V, P = preds[name]["weights"](dd, eta, n, w0)
        context = np.concatenate([tasks.x, tasks.y[..., None]], axis=-1)
        query = np.concatenate([tasks.x_q, -(tasks.x_q @ w0)[:, None]], axis=-1)
        lsa = -sim.lsa_layer(context, query, W_K, W_Q, W_V, P, include_query=bool(preds[name]["query_in_sum"]))
        assert float(np.asarray(want).ravel()[0]) == pytest.approx(lsa[0, dd], rel=1e-12), name


# ----------------------------------------------------------------------------- self-distillation


def test_self_distillation_formulas_are_the_theory_functions():
    from dltheory.theory import self_distillation as th
    from dltheory.verify.claims import self_distillation as claims

    d = np.array([0.0, 0.05, 0.3, 2.0, 40.0])
    lam, T = 0.2, 6
    a = _f(claims.factor(), claims._d, claims._lam)
    for alpha in (0.0, 0.35, 0.7):
        b = th.distillation_factors(d, lam, alpha, T)
        np.testing.assert_allclose(b[0], a(d, lam), rtol=RTOL)  # b_1 = a
        rec = claims.recursion()
        step = _f(rec.rhs.subs(claims._b(claims._tau - 1), sp.Symbol("prev")), sp.Symbol("prev"), claims._d, claims._lam, claims._alpha)
        for t in range(1, T):
            np.testing.assert_allclose(b[t], step(b[t - 1], d, lam, alpha), rtol=RTOL)  # the recursion shown
        if alpha > 0:  # the limit shown is the numeric one (KRR with ridge lambda / alpha) ...
            K = np.diag(d)
            y = np.arange(1.0, d.size + 1)
            lim = _f(claims.limit_formula(), claims._d, claims._lam, claims._alpha)
            np.testing.assert_allclose(th.limit_predictions(K, y, lam, alpha), lim(d, lam, alpha) * y, rtol=RTOL)
    g = np.random.default_rng(1)
    A = g.standard_normal((5, 5))
    K, y, f_star = A @ A.T, g.standard_normal(5), g.standard_normal(5)
    dk, V = np.linalg.eigh(K)
    got = th.optimal_alphas(K, y, f_star, 1.5, 3)
    b = dk / (dk + 1.5)
    for t in range(2):
        arrays = {claims._dv: dk, claims._bv: b, claims._yv: V.T @ y, claims._fv: V.T @ f_star}
        want = _num(claims.alpha_star_formula(), {claims._lam: 1.5}, arrays, {claims._n: 5})
        assert want == pytest.approx(got[t], rel=1e-10)  # the eigenbasis itself is known to ~1e-13
        b = dk / (dk + 1.5) * ((1 - got[t]) * b + got[t])


# ----------------------------------------------------------------------------- random features


def test_random_features_formulas_are_the_theory_functions():
    from dltheory.theory import random_features as th
    from dltheory.verify.claims import random_features as claims

    lam = np.arange(1, 9, dtype=float) ** -1.5
    v = np.sqrt(np.arange(1, 9, dtype=float) ** -1.2)
    v /= np.linalg.norm(v)
    arrays, sizes = {claims._lam: lam, claims._v: v}, {claims._M: lam.size}
    n_eq, k_eq = claims.rf_equations()
    for n, k, delta in [(4.0, 6.0, 0.05), (6.0, 3.0, 0.05), (5.0, 5.0, 0.3)]:
        kappa, gamma = th.rf_fixed_point(lam, n, k, delta)
        values = {claims._n: n, claims._k: k, claims._delta: delta, claims._kappa: kappa, claims._gamma: gamma}
        for eq in (n_eq, k_eq):  # the fixed point satisfies the equations shown (brentq to 1e-15 in log gamma)
            assert _num(eq.rhs, values, arrays, sizes) == pytest.approx(_num(eq.lhs, values), rel=1e-10)
        values[claims._sigma2] = 0.1
        risk = _num(claims.rf_risk_formula(), values, arrays, sizes)
        assert risk == pytest.approx(th.rf_risk(lam, v, n, k, delta, 0.1), rel=RTOL)
    n_eq, e_eq = claims.krr_formulas()
    n, delta = 4.0, 0.05
    from scipy.optimize import brentq

    kappa = brentq(lambda x: np.sum(lam / (lam + x)) + delta / x - n, 1e-12, 10.0, xtol=1e-300, rtol=1e-15)
    values = {claims._n: n, claims._delta: delta, claims._kappa: kappa, claims._sigma2: 0.1}
    assert _num(e_eq.rhs, values, arrays, sizes) == pytest.approx(th.krr_risk(lam, v, n, delta, 0.1), rel=1e-10)
