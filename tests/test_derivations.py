"""Derivation checks: the closed forms of theory/ solve the equations the papers derive them from.

Each check is made twice: on the published formula (the residual vanishes: symbolically, or to a stated
precision) and on a perturbed formula (a plausible slip: a factor 2, a wrong exponent), whose residual must not
vanish, so a check that cannot tell them apart fails here.
"""

from __future__ import annotations

import math

import mpmath
import numpy as np
import pytest
import sympy as sp

from dltheory.theory import deep_linear as dl
from dltheory.theory import neural_collapse as nc
from dltheory.theory import spec

# ----------------------------------------------------------------------------- Saxe et al. 2014, eq. 12


def _mode_ode_residual(u, t, s, tau):
    """tau du/dt - 2 u (s - u): [SMG14] eq. 15 at depth D = 2 (the mode ODE of eq. 12's derivation)."""
    return sp.simplify(tau * sp.diff(u, t) - 2 * u * (s - u))


def test_saxe_eq12_solves_the_mode_ode_with_its_initial_condition():
    u, (t, s, u0, tau) = dl.mode_strength_expr()
    assert _mode_ode_residual(u, t, s, tau) == 0
    assert sp.simplify(u.subs(t, 0) - u0) == 0


@pytest.mark.parametrize(
    "slip",
    [
        lambda u, t, s, u0, tau: u.subs(t, t / 2),  # e^(st/tau): the factor 2 of the two-layer ODE dropped
        lambda u, t, s, u0, tau: u.subs(u0, 2 * u0),  # wrong initial strength
        lambda u, t, s, u0, tau: u.subs(s, s**2) / s,  # s^2 in the exponent (a wrong singular-value power)
    ],
)
def test_perturbed_eq12_fails_the_mode_ode(slip):
    u, (t, s, u0, tau) = dl.mode_strength_expr()
    bad = slip(u, t, s, u0, tau)
    assert _mode_ode_residual(bad, t, s, tau) != 0 or sp.simplify(bad.subs(t, 0) - u0) != 0


def test_saxe_eq11_inverts_eq12():
    """eq. 11's learning time is the time at which eq. 12 reaches uf (symbolically)."""
    u, (t, s, u0, tau) = dl.mode_strength_expr()
    t_f, (_, _, uf, _) = dl.learning_time_expr()
    assert sp.simplify(sp.expand_log(u.subs(t, t_f) - uf, force=True)) == 0
    assert sp.simplify(u.subs(t, 2 * t_f) - uf) != 0  # eq. 11 without its 1/2 does not


# ----------------------------------------------------------------------------- the balanced Riccati solution


def test_riccati_closed_form_solves_the_scalar_riccati_ode():
    """Q = e^(2ft) z^2 / (1 + z^2 int_0^t e^(2fs) ds) solves dQ/dt = 2 f Q - Q^2 (the 1 x 1 case, symbolically).

    sympy cannot simplify the matrix case (non-commuting exponentials and an inverse); it is checked below at
    50 significant digits instead."""
    t, f, z, x = sp.symbols("t f z x", positive=True)
    Q = sp.exp(2 * f * t) * z**2 / (1 + z**2 * sp.integrate(sp.exp(2 * f * x), (x, 0, t)))
    assert sp.simplify(sp.diff(Q, t) - (2 * f * Q - Q**2)) == 0 and Q.subs(t, 0) == z**2
    bad = sp.exp(2 * f * t) * z**2 / (1 + z**2 * sp.integrate(sp.exp(f * x), (x, 0, t)))  # e^(Fs) in G
    assert sp.simplify(sp.diff(bad, t) - (2 * f * bad - bad**2)) != 0


def _riccati_mp(F, Z0, t, g_rate=2):
    """Q(t) = e^(Ft) Z0 [I + Z0^T G(t) Z0]^-1 Z0^T e^(Ft), G = int_0^t e^(g_rate F s) ds (mpmath, F symmetric)."""
    lam, V = mpmath.eigsy(F)
    n = F.rows

    def diag(fn):
        return V * mpmath.diag([fn(lam[i]) for i in range(n)]) * V.T

    E = diag(lambda x: mpmath.exp(x * t))
    G = diag(lambda x: t if x == 0 else mpmath.expm1(g_rate * x * t) / (g_rate * x))  # expm1: F has a null space
    B = mpmath.eye(Z0.cols) + Z0.T * G * Z0
    return E * Z0 * mpmath.inverse(B) * Z0.T * E


def _balanced_init(rng, n1, n2, n3, scale=0.3):
    """W1 = O1 diag(a) R^T (n2 x n1), W2 = R diag(a) O3^T (n3 x n2): W2^T W2 = W1 W1^T."""
    R = np.linalg.qr(rng.standard_normal((n2, n2)))[0]
    O1 = np.linalg.qr(rng.standard_normal((n1, n1)))[0][:, :n2]
    O3 = np.linalg.qr(rng.standard_normal((n3, n3)))[0][:, :n2]
    a = scale * (1 + rng.random(n2))
    return (R @ np.diag(a) @ O1.T), (O3 @ np.diag(a) @ R.T)


@pytest.fixture(scope="module")
def riccati_case():
    rng = np.random.default_rng(3)
    n1, n2, n3 = 3, 2, 2
    S31 = rng.standard_normal((n3, n1))
    W1, W2 = _balanced_init(rng, n1, n2, n3)
    F = np.zeros((n1 + n3, n1 + n3))
    F[:n1, n1:], F[n1:, :n1] = S31.T, S31
    return S31, W1, W2, F, np.vstack([W1.T, W2])


def test_riccati_solution_satisfies_the_matrix_ode_at_high_precision(riccati_case):
    """dQ/dt = F Q + Q F - Q^2 (tau = 1) for the closed form, residual < 1e-30 at 50 digits; G with e^(Fs) in
    place of e^(2Fs) leaves an O(1) residual."""
    _, _, _, F, Z0 = riccati_case
    with mpmath.workdps(50):
        Fm, Zm = mpmath.matrix(F.tolist()), mpmath.matrix(Z0.tolist())
        for t in (mpmath.mpf("0.3"), mpmath.mpf("1.7")):
            for g_rate, ok in ((2, True), (1, False)):
                Q = _riccati_mp(Fm, Zm, t, g_rate)
                dQ = mpmath.matrix(Q.rows, Q.cols)
                for i in range(Q.rows):
                    for j in range(Q.cols):
                        dQ[i, j] = mpmath.diff(lambda x, i=i, j=j: _riccati_mp(Fm, Zm, x, g_rate)[i, j], t)
                residual = mpmath.mnorm(dQ - (Fm * Q + Q * Fm - Q * Q), 1)
                assert (residual < mpmath.mpf("1e-30")) == ok, (float(t), g_rate, residual)


def test_balanced_riccati_solution_is_the_closed_form(riccati_case):
    """The float64 function the claims use equals the 50-digit closed form's W2 W1 block to 1e-11 relative."""
    S31, W1, W2, F, Z0 = riccati_case
    n1 = S31.shape[1]
    ts = np.array([0.0, 0.4, 2.5, 9.0])
    got = dl.balanced_riccati_solution(S31, W1, W2, ts)
    with mpmath.workdps(50):
        Fm, Zm = mpmath.matrix(F.tolist()), mpmath.matrix(Z0.tolist())
        for k, t in enumerate(ts):
            Q = _riccati_mp(Fm, Zm, mpmath.mpf(float(t)))
            ref = np.array([[float(Q[n1 + i, j]) for j in range(n1)] for i in range(S31.shape[0])])
            np.testing.assert_allclose(got[k], ref, rtol=1e-11, atol=1e-12 * np.abs(ref).max())


def test_riccati_reduction_needs_balance(riccati_case):
    """Q = Z Z^T, Z = [W1^T; W2] under the two-layer flow obeys dQ/dt = F Q + Q F - Q^2 exactly when the init is
    balanced (checked at t = 0 to round-off); an unbalanced init breaks it."""
    S31, W1, W2, F, _ = riccati_case

    def mismatch(W1, W2):
        E = S31 - W2 @ W1
        dW1, dW2 = W2.T @ E, E @ W1.T  # tau dW1/dt = W2^T (S31 - W2 W1), tau dW2/dt = (S31 - W2 W1) W1^T
        Z, dZ = np.vstack([W1.T, W2]), np.vstack([dW1.T, dW2])
        Q = Z @ Z.T
        return np.abs(dZ @ Z.T + Z @ dZ.T - (F @ Q + Q @ F - Q @ Q)).max()

    assert mismatch(W1, W2) < 1e-13
    assert mismatch(W1, 1.5 * W2) > 1e-3


# ----------------------------------------------------------------------------- SELU (Klambauer et al. 2017)


def _selu_moments(lam, alpha):
    """(E selu(z), E selu(z)^2) for z ~ N(0, 1), by mpmath quadrature at 40 digits."""
    with mpmath.workdps(40):
        lam, alpha = mpmath.mpf(lam), mpmath.mpf(alpha)
        pdf = lambda z: mpmath.exp(-(z**2) / 2) / mpmath.sqrt(2 * mpmath.pi)  # noqa: E731
        act = lambda z: lam * z if z > 0 else lam * alpha * (mpmath.exp(z) - 1)  # noqa: E731
        m1 = mpmath.quad(lambda z: act(z) * pdf(z), [-mpmath.inf, 0, mpmath.inf])
        m2 = mpmath.quad(lambda z: act(z) ** 2 * pdf(z), [-mpmath.inf, 0, mpmath.inf])
        return float(m1), float(m2)


def test_selu_constants_solve_the_fixed_point_equations():
    """[Klambauer et al. 2017, eqs. 4-5 at (mu, nu) = (0, 1)]: E selu(z) = 0 and E selu(z)^2 = 1 for z ~ N(0, 1);
    the float64 constants leave residuals at round-off (1e-15)."""
    m1, m2 = _selu_moments(spec.SELU_LAMBDA, spec.SELU_ALPHA)
    assert abs(m1) < 1e-15 and abs(m2 - 1) < 1e-15


@pytest.mark.parametrize("lam_factor, alpha_factor", [(1 + 1e-6, 1.0), (1.0, 1 + 1e-6), (1.0, 1.6733 / 1.6732632)])
def test_perturbed_selu_constants_fail(lam_factor, alpha_factor):
    m1, m2 = _selu_moments(spec.SELU_LAMBDA * lam_factor, spec.SELU_ALPHA * alpha_factor)
    assert abs(m1) > 1e-9 or abs(m2 - 1) > 1e-9


# ----------------------------------------------------------------------------- UFM optima


def test_mse_ufm_per_class_optimum_is_stationary_symbolically():
    """M = 1: s^2 = sqrt(n_k lH/lW) - N lH makes f_k'(s) = 0 for f_k(s) = (n_k lH/2)/(s^2 + N lH) + (lW/2) s^2
    [DTO23; ZLD22]; N lH/2 in its place does not."""
    s, n_k, N, lW, lH = sp.symbols("s n_k N lambda_W lambda_H", positive=True)
    f = n_k * lH / 2 / (s**2 + N * lH) + lW / 2 * s**2
    for s_sq, ok in ((sp.sqrt(n_k * lH / lW) - N * lH, True), (sp.sqrt(n_k * lH / lW) - N * lH / 2, False)):
        assert (sp.simplify(sp.diff(f, s).subs(s, sp.sqrt(s_sq))) == 0) == ok


def test_ce_ufm_norm_is_stationary_symbolically():
    """On the simplex ETF with h_k = sqrt(lW/(n lH)) w_k and a = ||w_k||^2 the CE UFM objective reduces to
    g(a) = ln(1 + (K-1) e^(-c a)) + K lW a, c = (K/(K-1)) sqrt(lW/(n lH)) [ZDZ21 structure; reduction in
    ce_ufm_weight_norm_sq]; a* = ((K-1)/K) sqrt(n lH/lW) ln[(1 - (K-1) rho)/rho], rho = sqrt(n lW lH), zeroes g'
    symbolically, and the same with K rho in place of (K-1) rho does not."""
    a, K, n, lW, lH = sp.symbols("a K n lambda_W lambda_H", positive=True)
    rho = sp.sqrt(n * lW * lH)
    g = sp.log(1 + (K - 1) * sp.exp(-K / (K - 1) * sp.sqrt(lW / (n * lH)) * a)) + K * lW * a
    for inner, ok in ((K - 1, True), (K, False)):
        a_star = (K - 1) / K * sp.sqrt(n * lH / lW) * sp.log((1 - inner * rho) / rho)
        assert (sp.simplify(sp.diff(g, a).subs(a, a_star)) == 0) == ok
    a_num = nc.ce_ufm_weight_norm_sq(5, 4, 1e-3, 3e-3)  # the numeric function is the same expression
    a_sym = ((K - 1) / K * sp.sqrt(n * lH / lW) * sp.log((1 - (K - 1) * rho) / rho)).subs(
        {K: 4, n: 5, lW: sp.Rational(1, 1000), lH: sp.Rational(3, 1000)}
    )
    assert a_num == pytest.approx(float(a_sym), rel=1e-13)


def _ce_grads(W, H, y, lW, lH):
    """Gradients of (1/N) sum_i CE(W h_i, y_i) + lW/2 ||W||^2 + lH/2 ||H||^2 (H: d x N)."""
    N = H.shape[1]
    Z = W @ H
    P = np.exp(Z - Z.max(axis=0))
    P /= P.sum(axis=0)
    P[y, np.arange(N)] -= 1.0
    return P @ H.T / N + lW * W, W.T @ P / N + lH * H


def _mse_grads(layers, H, y, lW, lH):
    """Gradients of 1/(2N) ||W_M..W_1 H - Y||^2 + lW/2 sum ||W_j||^2 + lH/2 ||H||^2 (bias-free)."""
    N, K = H.shape[1], layers[-1].shape[0]
    Y = np.zeros((K, N))
    Y[y, np.arange(N)] = 1.0
    acts = [H]
    for Wj in layers:
        acts.append(Wj @ acts[-1])
    back = (acts[-1] - Y) / N
    grads = [None] * len(layers)
    for j in range(len(layers) - 1, -1, -1):
        grads[j] = back @ acts[j].T + lW * layers[j]
        back = layers[j].T @ back
    return grads, back + lH * H


def _features(opt, n_per_class):
    y = np.repeat(np.arange(len(n_per_class)), n_per_class)
    return opt.H_mean[:, y], y


@pytest.mark.parametrize("scale", [1.0, 1.02])
def test_ce_ufm_optimum_is_stationary(scale):
    """[ZDZ21]'s simplex-ETF optimum zeroes both gradients of the CE UFM (1e-12); scaled by 2 % it does not."""
    n, lW, lH = [4, 4, 4, 4], 2e-3, 5e-3
    opt = nc.ufm_optimum(n, lW, lH, loss="ce")
    H, y = _features(opt, n)
    gW, gH = _ce_grads(scale * opt.W, H, y, lW, lH)
    size = max(np.abs(gW).max(), np.abs(gH).max())
    assert (size < 1e-12) == (scale == 1.0), size


@pytest.mark.parametrize("depth", [1, 2])
@pytest.mark.parametrize("scale", [1.0, 1.02])
def test_mse_ufm_optimum_is_stationary(depth, scale):
    """[DTO23] (imbalanced, bias-free, depth M): every gradient vanishes at the orthogonal-frame optimum (1e-12);
    the features scaled by 2 % leave a gradient."""
    n, lW, lH = [6, 3, 2], 1e-3, 2e-3
    opt = nc.ufm_optimum(n, lW, lH, loss="mse", depth=depth)
    assert opt.geometry == "orthogonal"
    H, y = _features(opt, n)
    grads, gH = _mse_grads(opt.layers, scale * H, y, lW, lH)
    size = max(max(np.abs(g).max() for g in grads), np.abs(gH).max())
    assert (size < 1e-12) == (scale == 1.0), size
    assert math.isfinite(size)


# ----------------------------------------------------------------------------- formulas shown == numbers used
# The report shows each claim's sympy formulas; here each is lambdified and compared with the theory function the
# claim's check evaluates, at a few points (1e-12 relative unless stated).


def _claims_with_formulas():
    from dltheory.verify import registry

    return [c for c in registry.all_claims() if c.formulas is not None]


def test_claim_formulas_name_predictions_and_render():
    from dltheory.verify.report import formula_mathml

    claims = _claims_with_formulas()
    assert {"grok.linear_times", "nc.ufm_gd", "shaped.hanin_nica", "mup.coord_check"} <= {c.id for c in claims}
    for c in claims:
        formulas = c.formulas_for(c.quick)  # registry.run checks the names against the predictions (claim suite)
        assert next(iter(formulas)) == "published", c.id
        for exprs in formulas.values():
            assert all(formula_mathml(e).startswith('<math display="block">') for e in exprs)
            assert all(sp.pretty(e) for e in exprs)


def _f(expr, *symbols, modules=("scipy", "numpy")):
    return sp.lambdify(symbols, expr, modules=list(modules))


def test_grok_formulas_are_the_theory_functions():
    from scipy.integrate import quad

    from dltheory.theory import grokking as th
    from dltheory.verify.claims import grok

    lam, eta, eps, gamma, nu = grok._lam, grok._eta, grok._eps, grok._gamma, grok._nu
    # eq. 10 and eq. 12 themselves: over their domains in tests/test_formulas_domain.py
    _, (lo, hi) = grok.mp_density_formula()
    integrands = [_f(g, nu, lam, gamma) for g in grok.floor_integrands()]
    small = [_f(x, lam, gamma, eps) for x in grok.small_gamma_floor_formulas()]
    for la, g in [(0.1, 0.03), (0.3, 0.11), (0.5, 0.01)]:
        a, b = float(lo.subs(lam, la)), float(hi.subs(lam, la))
        exact = [quad(f, a, b, args=(la, g), epsabs=0, epsrel=1e-12, limit=200)[0] for f in integrands]
        np.testing.assert_allclose(exact, th.linear_estimator_loss_floors(la, g), rtol=1e-9)  # quadrature: 1e-9
        np.testing.assert_allclose(
            [f(la, g, 1e-3) for f in small[:2]], th.linear_estimator_loss_floors_small_gamma(la, g)
        )
    assert small[2](0.3, 0.0, 1e-3) == pytest.approx(math.sqrt(2e-3 * 0.7**3), rel=1e-14)
    eff = grok._two_layer_formulas({})["published"].rhs
    assert float(eff.subs({eta: 0.16, sp.Symbol("d_out", positive=True, integer=True): 2})) == pytest.approx(
        th.two_layer_learning_rate(0.16, 2), rel=1e-15
    )


def test_nc_formulas_are_the_theory_functions():
    from dltheory.theory import neural_collapse as th
    from dltheory.verify.claims import nc as claims

    lW, lH, n_k, N = claims._lW, claims._lH, claims._n_k, claims._N
    # the NC1 noise, UFM norm and rate formulas: over their domains in tests/test_formulas_domain.py
    f2 = _f(claims.per_class_objective(2), claims._s, n_k, N, lW, lH)
    for nn, NN, lam in [(5, 20, 0.05), (10, 20, 0.062), (10, 20, 0.08)]:
        s_star = th.deep_ufm_singular_value(nn, NN, lam, lam, 2)
        grid = np.linspace(0.0, 3.0, 30001)
        assert f2(s_star, nn, NN, lam, lam) <= f2(grid, nn, NN, lam, lam).min() + 1e-12  # the global minimiser


def test_shaped_formulas_are_the_theory_functions():
    """The Hanin-Nica sum shown is the theory's beta (the drift, diffusion, log-norm law and limit law themselves:
    over their domains in tests/test_formulas_domain.py)."""
    from dltheory.verify.claims import shaped as claims

    published = claims._hanin_nica_formulas({})["published"]
    for widths in ([16] * 8, [8, 32, 64, 16]):
        beta = sum(1 / w for w in widths)
        l_sym = published[2].rhs.limits[0]
        assert float(
            published[2]
            .rhs.subs(l_sym[2], len(widths))
            .doit()
            .subs({sp.IndexedBase("n")[i + 1]: w for i, w in enumerate(widths)})
        ) == pytest.approx(beta, rel=1e-14)


def test_mup_formulas_are_the_theory_exponents():
    from dltheory.theory import mup as th
    from dltheory.verify.claims import mup as claims

    p = {"L": 2, "rows": claims.ROWS}
    r_1, r, symbols = claims.exponent_formulas(p["L"])
    for label in claims.ROWS:
        abc = claims._abc(label, p)
        values = dict(zip(symbols, (*abc.a, abc.b[-1], abc.c)))
        assert r_1.subs(values) == th.first_step_exponent(abc), label
        assert r.subs(values) == th.r_exponent(abc), label
