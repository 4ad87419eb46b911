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
# Claims whose formulas another task adds (none now); the test fails once one of them has formulas, so that its entry
# is removed here.
PENDING: set[str] = set()


def _f(expr, *symbols, modules=("scipy", "numpy")):
    return sp.lambdify(symbols, expr, modules=list(modules))


def _expand_sums(e):
    """Finite sums (products) as explicit additions (multiplications), outermost first (Sum.doit tries symbolic summation first: minutes on
    rational summands)."""
    if isinstance(e, sp.Sum | sp.Product):  # Sum(f, (i, ...), (j, ...)): the last limit is the outermost
        kind, op = (sp.Sum, sp.Add) if isinstance(e, sp.Sum) else (sp.Product, sp.Mul)
        (i, lo, hi), inner = e.limits[-1], (kind(e.function, *e.limits[:-1]) if len(e.limits) > 1 else e.function)
        return op(*(_expand_sums(inner.subs(i, j)) for j in range(int(lo), int(hi) + 1)))
    if not e.args or not e.has(sp.Sum, sp.Product):
        return e
    return e.func(*(_expand_sums(a) for a in e.args))


def _num(expr, values: dict, arrays: dict | None = None, sizes: dict | None = None) -> float:
    """Evaluate ``expr`` in float64 with finite sums: ``sizes`` fixes the sums' upper limits, ``arrays`` maps an
    IndexedBase to a 1-based array (1-D or 2-D), ``values`` the remaining symbols."""
    e = _expand_sums(sp.sympify(expr).subs(sizes or {}))
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
    claims = _library_claims()
    missing = [c.id for c in claims if c.formulas is None and c.id not in EXEMPT and c.id not in PENDING]
    assert not missing, f"claims without formulas= (add them, or exempt them with a reason): {missing}"
    landed = sorted(c.id for c in claims if c.id in PENDING and c.formulas is not None)
    assert not landed, f"remove from PENDING (their formulas have landed): {landed}"
    for c in claims:
        if c.formulas is not None:
            # names against the predictions where these cost nothing (a mapping); registry.run checks the rest
            formulas = c.formulas_for(c.quick, None if callable(c.predictions) else c.predictions)
            assert next(iter(formulas)) == "published", c.id
            collapsed = [
                k for k, exprs in formulas.items() if any(isinstance(e, sp.logic.boolalg.BooleanAtom) for e in exprs)
            ]
            assert not collapsed, f"{c.id}: an equation evaluated to True/False: {collapsed}"


# ----------------------------------------------------------------------------- in-context learning


def test_in_context_formulas_are_the_theory_functions():
    from dltheory.simulators import in_context as sim
    from dltheory.verify.claims import in_context as claims

    N, d = claims._N, claims._d
    f = claims.optimum_formulas()  # the published ones against theory: over their domain, tests/test_formulas_domain.py
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
        step = _f(
            rec.rhs.subs(claims._b(claims._tau - 1), sp.Symbol("prev")),
            sp.Symbol("prev"),
            claims._d,
            claims._lam,
            claims._alpha,
        )
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
    for n, k, delta in [(4.0, 6.0, 0.05), (6.0, 3.0, 0.3)]:
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


# ----------------------------------------------------------------------------- continual learning


def _continual_eval(claims, eqs, w, n, sigma):
    """E G_T and E F_T from the formulas (L substituted into the sums) at truths ``w`` (T, p)."""
    L_eq, G_eq, F_eq = eqs
    T, p = w.shape
    sq = np.einsum("ij,ij->i", w, w)
    D = np.maximum(sq[:, None] + sq[None, :] - 2 * w @ w.T, 0.0)
    L = sp.Lambda((claims._t, claims._i), L_eq.rhs)
    values = {claims._n: n, claims._p: p, claims._sigma: sigma}
    arrays = {claims._w: sq, claims._D: D}
    sizes = {claims._T: T}
    return [_num(e.rhs.subs(sizes).replace(claims._L, L), values, arrays) for e in (G_eq, F_eq)]


def test_continual_formulas_are_theorem1():
    from dltheory.theory import continual as th
    from dltheory.verify.claims import continual as claims

    rng = np.random.default_rng(2)
    for T, p, n, sigma in [(3, 15, 10, 0.0), (4, 30, 10, 0.5)]:
        w = rng.standard_normal((T, p)) / math.sqrt(p)
        G, F = _continual_eval(claims, claims.theorem1(), w, n, sigma)
        assert G == pytest.approx(th.expected_generalization_error(w, n, sigma), rel=RTOL)
        assert F == pytest.approx(th.expected_forgetting(w, n, sigma), rel=RTOL)
    params = {"configs": [(3, 30, 10, 1.0, 0.5)]}
    preds = claims._predictions(params)
    for name, eqs in claims._formulas(params).items():
        for (T, p, n, dist, sigma), F_pred, G_pred in zip(params["configs"], preds[name]["F"], preds[name]["G"]):
            G, F = _continual_eval(claims, eqs, claims._truths(T, p, dist), n, sigma)
            assert (G, F) == pytest.approx((G_pred, F_pred), rel=1e-10), name


# ----------------------------------------------------------------------------- associative memories, memorisation


def test_associative_memory_formulas_are_the_theory_functions():
    from dltheory.theory import associative_memory as th
    from dltheory.verify.claims import associative_memory as claims

    a = claims._alpha
    for alpha in (1.5, 2.0, 3.0):
        assert float(claims.sample_exponent_formula().subs(a, alpha)) == pytest.approx(th.sample_exponent(alpha))
        assert float(claims.dimension_exponent_formula().subs(a, alpha)) == pytest.approx(
            th.frequency_memory_exponent(alpha), rel=RTOL
        )
    N, M = 12, 3
    probs = th.zipf(N, 2.0)
    x = np.arange(1, N + 1)
    np.testing.assert_allclose(
        [_num(claims.zipf_formula(), {claims._x: xi, a: 2.0}, sizes={claims._N: N}) for xi in x], probs, rtol=RTOL
    )
    E = claims.seen_error_formula().replace(sp.Function("p"), sp.Lambda(claims._x, claims.zipf_formula()))
    for T in (10.0, 300.0):
        got = _num(E, {a: 2.0, claims._T: T, claims._M: M}, sizes={claims._N: N})
        assert got == pytest.approx(float(th.seen_memory_error(T, probs, M)[0]), rel=1e-12)


def test_memorisation_formulas_are_the_construction():
    from dltheory.theory import memorisation as th
    from dltheory.verify.claims import memorisation as claims

    x = np.sort(np.random.default_rng(3).standard_normal(7))
    b = th.interleaved_biases(x)
    _, lo, hi, _ = claims.construction_formulas()
    j = claims._j
    for jj in range(1, x.size + 1):  # x_(j-1) < b_j < x_j (x_0 = -inf)
        values = {claims._xs[jj]: x[jj - 1], claims._bs[jj]: b[jj - 1]} | (
            {claims._xs[jj - 1]: x[jj - 2]} if jj > 1 else {claims._xs[0]: -np.inf}
        )
        assert bool(lo.subs(j, jj).subs(values)) and bool(hi.subs(j, jj).subs(values))
    c = claims.construction_formulas()[0].rhs
    A = th.first_layer_matrix(x, b)
    for i in (1, 4, 7):
        for jj in (2, 5):
            term = c.function.subs({claims._i: i, j: jj}) / claims._ws[jj]
            assert float(term.subs({claims._xs[i]: x[i - 1], claims._bs[jj]: b[jj - 1]})) == A[i - 1, jj - 1]
    preds = claims._rank_predictions({"n": 20})
    for name, eqs in claims._rank_formulas({"n": 20}).items():
        e = (eqs[0] if isinstance(eqs, tuple) else eqs).rhs
        n, m = 20, 17
        want = float(preds[name]["dof"](n, m)) * float(preds[name]["sigma2"])
        assert float(e.subs({claims._n: n, claims._m: m, sp.Symbol("sigma^2", positive=True): 1.0})) == pytest.approx(
            want
        )


def test_early_learning_formula_is_the_quadrature():
    """The integral shown equals first_step_flipped_accuracy to its stated quadrature error (1e-6)."""
    from scipy.integrate import dblquad

    from dltheory.theory import early_learning as th
    from dltheory.verify.claims import early_learning as claims

    f = _f(claims.accuracy_integrand(), claims._xi, claims._c, claims._n, claims._p, claims._sigma, claims._k)
    for n, p, sigma, Delta in [(100, 40, 0.5, 0.2), (20, 10, 0.3, 0.3)]:
        k = round(Delta * n)
        got, _ = dblquad(lambda xi, c: f(xi, c, n, p, sigma, k), 0, np.inf, -12, 12, epsabs=1e-10, epsrel=1e-9)
        assert got == pytest.approx(th.first_step_flipped_accuracy(n, p, sigma, Delta), abs=1e-6)


# ----------------------------------------------------------------------------- the delta rule


def test_delta_rule_formulas_are_the_theory_functions():
    from dltheory.theory import delta_rule as th
    from dltheory.verify.claims import delta_rule as claims

    g = np.random.default_rng(4)
    C, dk, dv = 4, 3, 2
    dims = {claims._C: C, claims._d_k: dk, claims._d_v: dv}
    k = g.standard_normal((C, dk))
    k /= np.linalg.norm(k, axis=1, keepdims=True)
    q, v, beta, S0 = (
        g.standard_normal((C, dk)),
        g.standard_normal((C, dv)),
        g.uniform(0, 2, C),
        g.standard_normal((dv, dk)),
    )
    # one delta step = the recurrence's first state
    step = sp.lambdify(
        [m.subs(dims) for m in (claims._S0, claims._kt, claims._vt)] + [claims._beta], claims.delta_step().subs(dims)
    )
    _, S1 = th.delta_rule_recurrent(q[:1], k[:1], v[:1], beta[:1], S0)
    np.testing.assert_allclose(step(S0, k[:1].T, v[:1].T, beta[0]), S1, rtol=RTOL, atol=1e-14)
    # one chunk of the chunkwise form from state S0
    T_eq, U_eq, O_eq, S_eq = (e.subs(dims) for e in claims.chunk_formulas())
    mats = [
        m.subs(dims) for m in (claims._K, claims._V, claims._Q, claims._B, claims._Lstrict, claims._Lincl, claims._S)
    ]
    num = (k, v, q, np.diag(beta), np.tril(np.ones((C, C)), -1), np.tril(np.ones((C, C))), S0)
    T = sp.lambdify(mats, T_eq.rhs)(*num)
    np.testing.assert_allclose(T, th.ut_transform(k, beta), rtol=1e-12, atol=1e-14)
    U = sp.lambdify(mats, U_eq.rhs)(*num)
    U_sym = U_eq.lhs
    O = sp.lambdify([*mats, U_sym], O_eq.rhs)(*num, U)
    S = sp.lambdify([*mats, U_sym], S_eq.rhs)(*num, U)
    O_ref, S_ref = th.delta_rule_chunkwise(q, k, v, beta, C, S0)
    np.testing.assert_allclose(O, O_ref, rtol=1e-12, atol=1e-13)
    np.testing.assert_allclose(S, S_ref, rtol=1e-12, atol=1e-13)
    lam1 = claims._spectrum_formulas({})["published"][0].rhs
    for b in (0.0, 0.7, 2.0):
        assert float(lam1.subs(sp.Symbol("beta", nonnegative=True), b)) == th.householder_eigenvalues(b, 4)[0]


# ----------------------------------------------------------------------------- steepest descent


def test_steepest_descent_formulas_are_the_theory_functions():
    from dltheory.theory import steepest_descent as th
    from dltheory.verify.claims import steepest_descent as claims

    G = np.random.default_rng(5).standard_normal((3, 4))
    s = np.linalg.svd(G, compute_uv=False)
    U, _, Vt = np.linalg.svd(G, full_matrices=False)
    arrays = {claims._g: G, claims._s: s}
    sizes = {claims._m: 3, claims._n: 4, sp.Symbol("rank"): s.size}
    eqs = claims.dual_formulas()
    for k, norm in enumerate(th.NORMS):
        direction, value = eqs[2 * k].rhs, eqs[2 * k + 1].rhs
        assert _num(value, {}, arrays, sizes) == pytest.approx(th.dual_norm(G, norm), rel=RTOL)
        T = th.steepest_direction(G, norm)
        for i, j in [(1, 1), (2, 3), (3, 4)]:
            e = direction.subs({claims._i: i, claims._j: j})
            want = (U @ Vt)[i - 1, j - 1] if norm == "spectral" else _num(e, {}, arrays, sizes)
            assert T[i - 1, j - 1] == pytest.approx(want, rel=1e-12)
    adam = claims._identity_formulas({})["published"][0].rhs
    for v in (-2.5, 0.3):
        assert float(adam.subs({claims._i: 1, claims._j: 1}).subs(claims._g[1, 1], v)) == np.sign(v)


# ----------------------------------------------------------------------------- finite width (PDLT)


def _gauss_value(integral: sp.Integral, subs: dict) -> float:
    """A Gaussian average shown as an Integral over z, by scipy quad (1e-12 relative)."""
    from scipy.integrate import quad

    ((z, lo, hi),) = integral.limits
    f = sp.lambdify(z, integral.function.subs(subs), "numpy")
    return quad(f, -np.inf, np.inf, epsabs=0, epsrel=1e-12, limit=200)[0]


def _eval_gauss(expr: sp.Expr, subs: dict) -> float:
    e = expr.subs(subs)
    return float(e.xreplace({I: sp.Float(_gauss_value(I, {})) for I in e.atoms(sp.Integral)}))


def test_pdlt_formulas_are_the_theory_functions():
    from dltheory.theory import finite_width as th
    from dltheory.verify.claims import pdlt as claims

    widths = [7, 12, 5, 30]
    f = claims._relu_formulas({})
    preds = claims._relu_predictions({})
    W = np.array(widths + [9])
    for name, (ratio, _) in f.items():
        got = [_num(ratio.rhs, {}, {claims._nw: W}, {claims._l: l}) for l in range(1, W.size + 1)]
        np.testing.assert_allclose(got, preds[name]["ratio"](W), rtol=RTOL)
    # the vertex and NLO recursions: the numeric recursions satisfy the equations shown (quadrature to 1e-10)
    K_rec, v_rec, _ = claims.vertex_recursion()
    r = th.four_point_recursion(0.8, [1, 1, 1], C_W=1.0, C_b=0.0, activation="tanh")
    nlo = th.nlo_kernel_recursion(0.8, 4, C_W=1.0, C_b=0.0, activation="tanh")
    G1_rec = claims.nlo_recursion()[0]
    n, l = claims._n, claims._l
    for ell in range(1, 4):
        base = {claims._C_W: 1.0, n: 1.0}
        assert _eval_gauss(K_rec.rhs.subs(l, ell), base | {claims._K(ell): r["K"][ell - 1]}) == pytest.approx(
            r["K"][ell], rel=1e-10
        )
        v_next = v_rec.rhs.subs(l, ell).subs({claims._K(ell): r["K"][ell - 1], claims._v(ell): r["v"][ell - 1]})
        assert _eval_gauss(v_next, base) == pytest.approx(r["v"][ell], rel=1e-10)
        G_next = G1_rec.rhs.subs(l, ell).subs(
            {claims._K(ell): nlo["K"][ell - 1], claims._G1(ell): nlo["G1"][ell - 1], claims._V(ell): nlo["V"][ell - 1]}
        )
        assert _eval_gauss(G_next, base) == pytest.approx(nlo["G1"][ell], rel=1e-9, abs=1e-14)
    np.testing.assert_allclose(claims._n_kappa({"K1": 0.8, "depth": 4}), 3 * r["v"] / r["K"] ** 2, rtol=RTOL)


# ----------------------------------------------------------------------------- signal propagation


def _integral(I: sp.Integral) -> float:
    """A Gaussian integral over one or two variables (the Gaussian weight is part of the integrand): quad on
    [-40, 0] and [0, 40] in 1-D (kinks only at 0; the tails beyond 40 are below e^-800), a 120 x 120 Gauss-Hermite
    product rule in 2-D (error < 1e-11 for the analytic integrands here)."""
    zs = [lim[0] for lim in I.limits]
    if len(zs) == 1:
        from scipy.integrate import quad

        g = sp.lambdify(zs, I.function, "math")
        return sum(quad(g, a, b, epsabs=0, epsrel=1e-13, limit=200)[0] for a, b in ((-40, 0), (0, 40)))
    f = sp.lambdify(zs, I.function, "numpy")
    x, w = np.polynomial.hermite_e.hermegauss(120)
    Z1, Z2 = np.meshgrid(x, x, indexing="ij")
    W = np.outer(w, w) * np.exp((Z1**2 + Z2**2) / 2)
    return float(np.sum(W * f(Z1, Z2)))


def _value(expr: sp.Expr, subs: dict) -> float:
    e = expr.subs(subs)
    return float(e.xreplace({I: sp.Float(_integral(I)) for I in e.atoms(sp.Integral)}))


def test_sigprop_formulas_are_the_theory_functions():
    from dltheory.theory import signal_propagation as th
    from dltheory.theory import spec
    from dltheory.verify.claims import sigprop as claims

    sw2, sb2 = claims._sw2, claims._sb2
    for w, b in [(1.5, 0.05), (3.0, 0.3)]:
        k = th.kernel_iterates(0.9, 0.9, 0.5, 3, sigma_w2=w, sigma_b2=b, activation="tanh")
        for l in range(2):
            q, c = k[l, 0], k[l, 2] / k[l, 0]
            vals = {sw2: w, sb2: b, claims._q: q, claims._c: c}
            assert _value(claims.q_map_formula(sp.tanh), vals) == pytest.approx(k[l + 1, 0], rel=1e-11)
            assert _value(claims.c_map_formula(sp.tanh), vals) == pytest.approx(k[l + 1, 2] / k[l + 1, 0], rel=1e-9)
        ds = th.depth_scales(sigma_w2=w, sigma_b2=b, activation="tanh")
        vals = {sw2: w, claims._qs: ds["q_star"], claims._c_star: ds["c_star"]}
        # xi = -1/ln chi amplifies chi's quadrature error (~1e-9) by 1/|ln chi| (~13 here): 1e-7
        assert -1 / math.log(_value(claims.chi_c_formula(sp.tanh), vals)) == pytest.approx(ds["xi_c"], rel=1e-7)
        assert -1 / math.log(_value(claims.chi_q_formula(sp.tanh), vals)) == pytest.approx(ds["xi_q"], rel=1e-7)
    lam, alpha = spec.SELU_LAMBDA, spec.SELU_ALPHA
    for q, w in [(0.1, 1.0), (6.0, 1.1)]:
        want = th.q_map(q, sigma_w2=w, sigma_b2=0.0, activation=th.selu())
        got = _value(claims.q_map_formula(claims.selu_formula, w, 0, q), {claims._lam: lam, claims._alpha: alpha})
        assert got == pytest.approx(want, rel=1e-10)
    back = claims._backward_formulas({})["published"]
    c_next = _f(back[1].rhs.subs(claims._cf(claims._l), sp.Symbol("c_l")), sp.Symbol("c_l"))
    c = np.linspace(-0.9, 0.99, 7)
    np.testing.assert_allclose(c_next(c), th.relu_c_map(c), rtol=RTOL)
    assert float(back[3].rhs) == pytest.approx(th.RELU_CRITICAL_CONSTANT, rel=RTOL)
    assert float(back[4].rhs) == th.RELU_CRITICAL_LOG_COEFFICIENT
    w, b, L = 1.5, 0.05, 5
    ds = th.depth_scales(sigma_w2=w, sigma_b2=b, activation="tanh")
    chi1 = _value(back[0].rhs.base, {sw2: w, claims._qs: ds["q_star"]})
    np.testing.assert_allclose(
        th.gradient_second_moments(ds["q_star"], L, sigma_w2=w, sigma_b2=b, activation="tanh"),
        chi1 ** (L + 1 - np.arange(1, L + 1)),
        rtol=1e-9,
    )


# ----------------------------------------------------------------------------- deep linear networks


def test_dln_formulas_are_the_theory_functions():
    from scipy.integrate import quad
    from scipy.linalg import fractional_matrix_power

    from dltheory.theory import deep_linear as th
    from dltheory.verify.claims import dln as claims

    t, s, a0, D = claims._t, claims._s, claims._a0, claims._D
    ts = np.linspace(0.0, 5.0, 11)
    preds = {
        "published": lambda tt, ss, aa: th.mode_strength(tt, ss, aa**2),
        "eq. 12 with the factor 2 in the exponent dropped (rate s, not 2s)": lambda tt, ss, aa: th.mode_strength(
            tt, ss, aa**2, tau=2.0
        ),
        "1/2 of the loss dropped (tau = 1/(2 eta))": lambda tt, ss, aa: th.mode_strength(tt, ss, aa**2, tau=0.5),
        "per-layer strength a0 used as u0 (not a0^2)": lambda tt, ss, aa: th.mode_strength(tt, ss, aa),
    }
    for name, eq in claims._two_layer_formulas({}).items():
        f = _f(eq.rhs, t, s, a0)
        for ss, aa in [(3.0, 0.03), (0.5, 0.2)]:
            np.testing.assert_allclose(f(ts, ss, aa), preds[name](ts, ss, aa), rtol=RTOL)
    lt = claims._learning_time_formulas({})
    for ss, v in [(2.0, 1e-8), (0.5, 1e-3)]:
        got = float(lt["published"].rhs.subs({s: ss, claims._sigma0: math.sqrt(v)}))
        assert got == pytest.approx(th.learning_time(ss, v, ss / 2), rel=RTOL)
        got = float(
            lt["weight scale taken as the initial strength (u0 ~ sigma0, not sigma0^2)"].rhs.subs(
                {s: ss, claims._sigma0: v}
            )
        )
        assert got == pytest.approx(th.learning_time(ss, v, ss / 2), rel=RTOL)
    # eq. 15: the numeric solution satisfies the ODE shown (central differences, h = 1e-4: truncation ~1e-8
    # relative, cancellation ~eps u / h < 1e-10 absolute) and u(0) = u0
    ode, init = claims._depth_formulas["published"]
    u = sp.Function("u")
    rhs = _f(ode.rhs.subs(u(t), sp.Symbol("U")), sp.Symbol("U"), s, D)
    for depth, ss in [(3, 2.0), (6, 1.0)]:
        u0 = 0.6**depth
        tt = np.array([0.5, 1.5, 3.0])
        h = 1e-4
        du = (th.mode_strength(tt + h, ss, u0, depth=depth) - th.mode_strength(tt - h, ss, u0, depth=depth)) / (2 * h)
        np.testing.assert_allclose(du, rhs(th.mode_strength(tt, ss, u0, depth=depth), ss, depth), rtol=1e-6, atol=1e-10)
        assert float(init.rhs.subs({a0: 0.6, D: depth})) == pytest.approx(u0, rel=RTOL)
    # the Riccati formula's time constant: the tau = 1/2 control is the published solution at t / tau
    g = np.random.default_rng(6)
    S31 = g.standard_normal((2, 3))
    R = np.linalg.qr(g.standard_normal((2, 2)))[0]
    W1 = 0.1 * R @ np.linalg.qr(g.standard_normal((3, 3)))[0][:2]  # balanced: W1 W1^T = W2^T W2 = 0.01 I
    W2 = np.linalg.qr(g.standard_normal((2, 2)))[0] @ (0.1 * np.eye(2)) @ R.T
    np.testing.assert_allclose(
        th.balanced_riccati_solution(S31, W1, W2, ts, tau=0.5),
        th.balanced_riccati_solution(S31, W1, W2, 2 * ts),
        rtol=1e-12,
    )
    # end-to-end flow: the velocity is the sum shown (fractional powers by scipy, independently of theory/)
    W = g.standard_normal((3, 3))
    grad = g.standard_normal((3, 3))
    for N in (2, 3):
        want = -sum(
            fractional_matrix_power(W @ W.T, (j - 1) / N) @ grad @ fractional_matrix_power(W.T @ W, (N - j) / N)
            for j in range(1, N + 1)
        )
        np.testing.assert_allclose(th.end_to_end_velocity(W, grad, N=N), np.real(want), rtol=1e-10, atol=1e-12)
    L = claims._L
    for name, (m2, m3) in claims._isometry_formulas({}).items():
        preds = claims._isometry_predictions({"Ls": [1, 2, 4]})[name]
        assert [int(m2.rhs.subs(L, ll)) for ll in (1, 2, 4)] == list(preds["m2"])
        assert [int(m3.rhs.subs(L, ll)) for ll in (1, 2, 4)] == list(preds["m3"])
    B = _f(claims.deep_bracket(), s, claims._u0, claims._uf)
    c1 = claims.deep_correction()
    for ss, u0, uf in [(3.0, 0.03, 2.7), (1.0, 0.1, 0.5)]:
        assert B(ss, u0, uf) == pytest.approx(3 * th.learning_time_deep_limit(ss, u0, uf, n_layers=3), rel=RTOL)
        integrand = _f(c1.args[1].function, claims._u, s)
        got = 2 * quad(integrand, u0, uf, args=(ss,), epsabs=0, epsrel=1e-13, limit=200)[0]
        assert got == pytest.approx(th.learning_time_deep_correction(ss, u0, uf), rel=1e-10)
    preds = claims._orth_gauss_predictions({})
    for name, eqs in claims._orth_gauss_formulas({}).items():
        assert float(eqs[1].rhs) == float(preds[name]["orth_exponent"])


# ----------------------------------------------------------------------------- NTK


def _kernel_by_formulas(ntk_claims, x, act, par, depth, sw2, sb2, width, train_bias=True):
    """NNGP and NTK matrices over the rows of x from the recursions shown (T, Tdot closed forms, entry by entry)."""
    c = ntk_claims
    s1, s_next, t1, t_next = c.kernel_recursion_formulas(par, train_bias)
    T, Tdot = (_f(e, c._K11, c._K22, c._K12) for e in c.dual_kernels(act))
    G, d = x @ x.T, x.shape[1]
    tt, dd, th_l, n = sp.Symbol("TT"), sp.Symbol("DD"), sp.Symbol("TH"), sp.Symbol("n", positive=True)
    common = (c._sw2, c._sb2, c._xx, sp.Symbol("x.x'"), n)

    def lam(e):
        e = e.subs({c._T(c._Sig(c._l)): tt, c._Tdot(c._Sig(c._l)): dd, c._Th(c._l): th_l})
        return _f(e, tt, dd, th_l, *common)

    S = lam(s1.rhs)(0, 0, 0, sw2, sb2, G / d, G, width)
    Th = lam(t1.rhs)(0, 0, 0, sw2, sb2, G / d, G, width) * np.ones_like(G)
    for _ in range(depth):
        q = np.diag(S)
        Tm, Dm = T(q[:, None], q[None, :], S), Tdot(q[:, None], q[None, :], S)
        S, Th = (
            lam(s_next.rhs)(Tm, Dm, Th, sw2, sb2, G / d, G, width),
            lam(t_next.rhs)(Tm, Dm, Th, sw2, sb2, G / d, G, width),
        )
    return S, Th


def test_ntk_formulas_are_the_theory_functions():
    from dltheory.theory import infinite_width as th
    from dltheory.theory import kernel_dynamics as kd
    from dltheory.theory import ntk_fluctuations, scale_mixture
    from dltheory.verify.claims import ntk as claims

    x = claims.X4
    for act, par, train_bias in [("relu", "ntk", True), ("erf", "standard", True), ("relu", "standard", False)]:
        for depth in (1, 2):
            S, Th = _kernel_by_formulas(claims, x, act, par, depth, 2.0, 0.1, 64.0, train_bias)
            k = th.kernels(
                x,
                depth=depth,
                activation=act,
                weight_var=2.0,
                bias_var=0.1,
                parameterization=par,
                width=64.0,
                train_bias=train_bias,
            )
            np.testing.assert_allclose(S, k.nngp, rtol=1e-12)
            np.testing.assert_allclose(Th, k.ntk, rtol=1e-12)
    L = claims._L_ntk
    preds = claims._depth_to_width_predictions({"depths": [1, 2, 5]})
    for name, eqs in claims._depth_to_width_formulas({}).items():
        got = [float(eqs[2].rhs.subs(L, ll)) for ll in (1, 2, 5)]
        np.testing.assert_allclose(got, preds[name]["coef"], rtol=RTOL)
    assert float(claims.depth_to_width_coefficient().subs(L, 3)) == pytest.approx(
        ntk_fluctuations.relu_ntk_variance_coefficient(3) / 3, rel=RTOL
    )
    nu, Sig = scale_mixture.student_t_process(2.0, 1.5, np.eye(2))
    pub = claims._scale_mixture_formulas({})["published"]
    a, b = sp.symbols("a b", positive=True)
    assert (
        float(pub[0].rhs.subs(a, 2.0)) == nu
        and float(pub[1].rhs.subs({a: 2.0, b: 1.5}) / sp.Symbol("K_NNGP")) == Sig[0, 0]
    )
    # the linearised GD dynamics: mu_t and Sigma_t from the formulas (A_t as shown) = kernel_dynamics
    p = claims.GD_TASK | dict(depth=1, eta=0.67, n_steps=40, record_every=20)
    k = claims._gd_kernels(p)
    _, y = claims._gd_task(p)
    nt, eta, steps = p["n_train"], p["eta"], 40
    Th, K = k.ntk[:nt, :nt], k.nngp[:nt, :nt]
    A = np.linalg.solve(Th, np.eye(nt) - np.linalg.matrix_power(np.eye(nt) - eta * Th / nt, steps))
    ens = kd.ensemble_prediction(k.nngp, k.ntk, y, np.array([eta * steps]), n_train=nt, eta=eta)
    _, mu_eq, sig_eq = claims._gd_formulas({})["published"]
    syms = sorted(sig_eq.rhs.free_symbols | mu_eq.rhs.free_symbols, key=str)
    N, m = sp.symbols("N m", positive=True, integer=True)
    dims = {N: nt, m: k.ntk.shape[0] - nt}
    mats = {
        "A_t": A,
        "K": K,
        "K(x,X)": k.nngp[nt:, :nt],
        "K(x,x)": k.nngp[nt:, nt:],
        "Theta": Th,
        "Theta(x,X)": k.ntk[nt:, :nt],
        "Y": y[:, None],
    }
    used = [s_ for s_ in syms if str(s_) in mats]
    ident = {s_: sp.MatrixSymbol(f"M{i}", *s_.subs(dims).shape) for i, s_ in enumerate(used)}  # valid names

    def evaluate(e):
        return sp.lambdify(list(ident.values()), e.xreplace(ident).subs(dims))(*(mats[str(s_)] for s_ in used))

    mu, cov = evaluate(mu_eq.rhs), evaluate(sig_eq.rhs)
    np.testing.assert_allclose(mu.ravel(), ens.mean[0, nt:], rtol=1e-10)
    np.testing.assert_allclose(cov, ens.covariance[0, nt:, nt:], rtol=1e-9, atol=1e-12)


# ----------------------------------------------------------------------------- grokking, neural collapse


def test_grok_fourier_formulas_are_the_lazy_values():
    from dltheory.verify.claims import grok as claims

    K = sp.Symbol("K", positive=True, integer=True)
    for name, eqs in claims._fourier_formulas({}).items():
        got = [_num(e.rhs, {}, sizes={K: 11}) for e in eqs[1:]]
        want = [float(claims._fourier_predictions({"p": 23})[name][f"q{k}"]) for k in range(3)]
        np.testing.assert_allclose(got, want, rtol=RTOL)


def test_nc_deep_linear_and_minority_formulas():
    from dltheory.theory import neural_collapse as th
    from dltheory.verify.claims import nc as claims

    f_sym = claims._deep_linear_formulas({})
    s = claims._s
    for name, (fk, *_) in f_sym.items():
        f = _f(fk.rhs, s, claims._n_k, claims._N, claims._lW, claims._lH, claims._M)
        grid = np.linspace(0.0, 3.0, 30001)
        for nk, N, lW, lH, M in [(20, 40, 5e-4, 5e-3, 3), (5, 40, 5e-4, 5e-3, 2)]:
            kw = {
                "published": (nk, N, lW, lH, M),
                "depth ignored: the depth-1 law s_k^2 = (sqrt(n_k lH/lW) - N lH)_+ at every depth": (nk, N, lW, lH, 1),
                "lambda_W and lambda_H swapped": (nk, N, lH, lW, M),
                "n_k in place of N in the per-class objective": (nk, nk, lW, lH, M),
            }[name]
            s_star = th.deep_ufm_singular_value(*kw)
            assert f(s_star, nk, N, lW, lH, M) <= f(grid, nk, N, lW, lH, M).min() + 1e-12  # the global minimiser
    *_, condition, _ = claims._minority_formulas({})[
        "onset from the balanced multiplier: K n_B/N = mu(R = 1) at R* = (K/mu_1 - K_B)/K_A"
    ]
    R_star, mu_1 = sp.Symbol("R^*", positive=True), sp.Symbol("mu_1")
    sol = sp.solve(condition.subs(condition.lhs, mu_1), R_star)[0]
    K_A, K_B = sp.Symbol("K_A"), sp.Symbol("K_B")
    assert float(sol.subs({K_A: 5, K_B: 3, mu_1: 0.7})) == pytest.approx((8 / 0.7 - 3) / 5, rel=RTOL)


# ----------------------------------------------------------------------------- shaped attention and blocks


def _random_covariance(g, m: int) -> np.ndarray:
    A = g.standard_normal((m, m))
    return A @ A.T / m + 0.1 * np.eye(m)


def _attention_matrices(claims, V: np.ndarray) -> dict:
    """P, C, v, d, w from the definitions shown (centring_formula, attention_vector_formulas, C = V P V P V)."""
    m = V.shape[0]
    vals = {claims._Vm: V}

    def ev(e):
        e = e.subs(claims._m, m).xreplace({k.subs(claims._m, m): sp.ImmutableMatrix(x) for k, x in vals.items()})
        return np.array(e.doit().as_explicit(), float)

    v_eq, d_eq, w_eq, P_eq = claims.attention_vector_formulas()
    C_eq = claims.attention_diffusion_formulas()[-1]
    for eq in (P_eq, v_eq, d_eq, w_eq, C_eq):
        vals[eq.lhs] = ev(eq.rhs)
    return vals


def _matrix_value(claims, expr, mats: dict, scalars: dict) -> np.ndarray | float:
    """A matrix (or trace) expression of the formulas at explicit matrices ``mats`` and numbers ``scalars``."""
    m = mats[claims._Vm].shape[0]
    e = expr.subs(claims._m, m).subs(scalars)
    e = e.xreplace({k.subs(claims._m, m): sp.ImmutableMatrix(x) for k, x in mats.items()}).doit()
    return np.array(e.as_explicit(), float) if isinstance(e, sp.MatrixBase | sp.MatrixExpr) else float(e)


def _sigma_tensor(claims, eqs, mats: dict, scalars: dict) -> np.ndarray:
    """Sigma[i, j, k, l] over all indices from attention_diffusion_formulas' equations (Sigma_lin, Sigma_attn
    substituted), with V and C given."""
    from sympy.matrices.expressions.matexpr import MatrixElement

    sig, lin, attn, _ = eqs
    e = sig.rhs.subs({lin.lhs: lin.rhs, attn.lhs: attn.rhs})
    m = mats[claims._Vm].shape[0]
    Vb, Cb = sp.IndexedBase("Vn"), sp.IndexedBase("Cn")
    e = e.subs(claims._m, m).subs(scalars)
    e = e.replace(lambda x: isinstance(x, MatrixElement), lambda x: {"V": Vb, "C": Cb}[x.parent.name][x.i, x.j])
    idx = (claims._i, claims._j, claims._k, claims._l)
    f = sp.lambdify((Vb, Cb, *idx), e, "numpy")
    grid = np.meshgrid(*(np.arange(m),) * 4, indexing="ij")
    return np.broadcast_to(f(mats[claims._Vm], mats[claims._Cm], *grid), (m,) * 4)


def test_attention_generator_formulas_are_the_theory_functions():
    from dltheory.theory import shaped as th
    from dltheory.verify.claims import shaped as claims

    g = np.random.default_rng(18)
    gam, tau = claims._gam, claims._tau0
    for m, gamma, tau0 in [(3, 0.7, 0.7), (4, 0.4, 1.3)]:
        V = _random_covariance(g, m)
        mats, sc = _attention_matrices(claims, V), {gam: gamma, tau: tau0}
        first, second = th.attention_drift_parts(V, gamma, tau0)
        b = _matrix_value(claims, claims.attention_drift_formula(), mats, sc)
        np.testing.assert_allclose(b, th.attention_drift(V, gamma, tau0), rtol=RTOL)
        b2 = _matrix_value(claims, claims.attention_drift_formula(second=2), mats, sc)
        np.testing.assert_allclose(b2, first + 2 * second, rtol=RTOL)
        S = _sigma_tensor(claims, claims.attention_diffusion_formulas(), mats, sc)
        np.testing.assert_allclose(S, th.attention_diffusion(V, gamma, tau0), rtol=RTOL)
        S = _sigma_tensor(claims, claims.attention_diffusion_formulas(gam**2 * (4 - gam**2)), mats, sc)
        np.testing.assert_allclose(S, th.block_diffusion(V, gamma, tau0), rtol=RTOL)
    # every prediction of the claim (the b and Sigma entries its check compares) from its formulas
    p = registry.get("shaped.attention_generator").quick
    V, sc = np.array(p["V"]), {gam: math.sqrt(p["gamma2"]), tau: p["tau0"]}
    mats = _attention_matrices(claims, V)
    ent = claims._sym_pairs(V.shape[0])
    cov_idx = [(a, c) for a in range(len(ent)) for c in range(a, len(ent))]
    preds = claims._attention_generator_predictions(p)
    for name, eqs in claims._attention_generator_formulas(p).items():
        b = _matrix_value(claims, eqs[0].rhs, mats, sc)
        S = _sigma_tensor(claims, eqs[1:5], mats, sc)
        np.testing.assert_allclose([b[i, j] for i, j in ent], preds[name]["b"], rtol=RTOL, err_msg=name)
        got = [S[(*ent[a], *ent[c])] for a, c in cov_idx]
        np.testing.assert_allclose(got, preds[name]["Sigma"], rtol=RTOL, err_msg=name)


def test_rank_collapse_and_block_diffusion_formulas_are_the_theory_functions():
    from dltheory.theory import shaped as th
    from dltheory.verify.claims import shaped as claims

    g = np.random.default_rng(19)
    gam, tau = claims._gam, claims._tau0
    for m, lam2, tau0, n in [(3, 0.5, 0.5, 7), (4, 0.8, 1.3, 64)]:
        V = _random_covariance(g, m)
        lam, gamma = math.sqrt(lam2), math.sqrt(1 - lam2)
        mats, sc = _attention_matrices(claims, V), {gam: gamma, tau: tau0}
        excess = _matrix_value(claims, claims.collapse_excess_formula(), mats, sc)
        factor = th.unshaped_attention_collapse_factor(V, lam, gamma, tau0, n)  # lam^2 + excess / n, exactly
        assert excess == pytest.approx(n * (factor - lam2), rel=1e-10)  # n (factor - lam^2): cancellation ~1e-14
        trace = _matrix_value(claims, claims.block_trace_formula(), mats, sc)
        assert trace == pytest.approx(np.einsum("ijij->", th.block_diffusion(V, gamma, tau0)), rel=RTOL)
    # every prediction of the two claims from its formulas
    p = registry.get("shaped.rank_collapse").quick
    V, lam2, tau0 = np.array(p["V0"]), p["lam2"], p["tau0"]
    lam_a = claims._lam_a
    mats, sc = _attention_matrices(claims, V), {gam: math.sqrt(1 - lam2), tau: tau0, lam_a: math.sqrt(lam2)}
    preds = claims._rank_collapse_predictions(p)
    ns = np.array(p["ns"], float)
    for name, (rate, excess, gamma_eq, _) in claims._rank_collapse_formulas(p).items():
        r = rate.lhs.args[0]  # Limit(r(n) - log_rate, n, oo) = 0: the check's r(n) - prediction -> 0
        log_rate = sp.lambdify(claims._n_w, (sp.Function("r")(claims._n_w) - r).subs(sc), "numpy")
        want = preds[name]["log_contraction"](ns)
        np.testing.assert_allclose(log_rate(ns) * np.ones_like(ns), want, rtol=RTOL, err_msg=name)
        got = _matrix_value(claims, excess.rhs, mats, sc)
        assert got == pytest.approx(float(preds[name]["excess"]), rel=1e-10), name
        assert float(gamma_eq.lhs.subs(sc)) == pytest.approx(float(gamma_eq.rhs.subs(sc)), rel=RTOL)
    p = registry.get("shaped.block_diffusion").quick
    V = np.array(p["V"])
    mats, sc = _attention_matrices(claims, V), {gam: math.sqrt(p["gamma2"]), tau: p["tau0"]}
    preds = claims._block_diffusion_predictions(p)
    for name, eqs in claims._block_diffusion_formulas(p).items():
        assert _matrix_value(claims, eqs[0].rhs, mats, sc) == pytest.approx(float(preds[name]["trace"]), rel=RTOL)


def _recorded_sdes(claims, predictions, p: dict, monkeypatch) -> dict:
    """name -> (V0, drift, lin, attn, T) as the claim passes them to the SDE integrator (_sde_prediction)."""
    monkeypatch.setattr(claims, "_sde_prediction", lambda V0, drift, lin, attn, T, p: (V0, drift, lin, attn, T))
    return predictions(p)


def test_trajectory_formulas_are_the_integrated_sdes(monkeypatch):
    """The SDE each trajectory prediction integrates (drift function, noise scales, horizon) is the one shown: the
    structured noise sqrt(dt)[g_lin (H + H^T)/sqrt 2 + g_attn (Z P V + V P Z^T)/m] has covariance
    g_lin^2 Sigma_lin + g_attn^2 Sigma_attn (theory.attention_noise_scales), so g_lin^2 and g_attn^2 are the
    weights of Sigma_lin and Sigma_attn in the formula."""
    from dltheory.verify.claims import shaped as claims

    g = np.random.default_rng(20)
    gam, tau, T = claims._gam, claims._tau0, claims._T
    cp, cm = claims._c_plus, claims._c_minus
    for cid, predictions, formulas, gamma_of in [
        ("shaped.attention_trajectory", "_attention_predictions", "_attention_trajectory_formulas", "gamma"),
        ("shaped.block_trajectory", "_block_predictions", "_block_trajectory_formulas", "gamma2"),
    ]:
        p = registry.get(cid).quick
        gamma = p["gamma"] if gamma_of == "gamma" else math.sqrt(p["gamma2"])
        shaping = p.get("shaping", [0.0, 0.0])
        sc = {gam: gamma, tau: p["tau0"], T: p["T"], cp: shaping[0], cm: shaping[1]}
        recorded = _recorded_sdes(claims, getattr(claims, predictions), p, monkeypatch)
        monkeypatch.undo()
        for name, eqs in getattr(claims, formulas)(p).items():
            V0, drift, lin, attn, horizon = recorded[name]
            assert np.array_equal(V0, np.array(p["V0"]))
            by_lhs = {str(e.lhs): e for e in eqs}
            assert float(by_lhs["t_end"].rhs.subs(sc)) == pytest.approx(horizon, rel=RTOL), name
            sigma = by_lhs["Sigma[i, j, k, l]"].rhs
            idx = (claims._i, claims._j, claims._k, claims._l)
            assert float(sigma.coeff(claims._S_lin[idx]).subs(sc)) == pytest.approx(lin**2, rel=RTOL), name
            assert float(sigma.coeff(claims._S_attn[idx]).subs(sc)) == pytest.approx(attn**2, rel=RTOL), name
            for m in (3, 4):
                V = _random_covariance(g, m)
                mats = _attention_matrices(claims, V)
                if "b" in by_lhs:  # attention: b = attention drift
                    b = _matrix_value(claims, by_lhs["b"].rhs, mats, sc)
                else:  # block: b^{ij} = b_attn^{ij} + gamma^2 nu(rho^{ij}) sqrt(V^ii V^jj)
                    b_attn = _matrix_value(claims, by_lhs["b_attn"].rhs, mats, sc)
                    nu = sp.lambdify(claims._rho, by_lhs["nu(rho)"].rhs.subs(sc), "numpy")
                    s = np.sqrt(np.diag(V))
                    rho = np.clip(V / np.outer(s, s), -1, 1)
                    b = b_attn + gamma**2 * nu(rho) * np.outer(s, s)
                    rho_eq = by_lhs["rho[i, j]"].rhs.subs({claims._i: 0, claims._j: 1}).subs(claims._m, m)
                    assert float(rho_eq.xreplace({claims._Vm.subs(claims._m, m): sp.ImmutableMatrix(V)})) == (
                        pytest.approx(rho[0, 1], rel=RTOL)
                    )
                np.testing.assert_allclose(b, drift(V), rtol=RTOL, atol=1e-15, err_msg=name)
