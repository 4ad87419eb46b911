"""Derivation checks for the new areas (issue 18, item 2): each closed form solves the equation it is derived from.

As in tests/test_derivations.py each check is made twice: on the formula the claim shows (the residual vanishes,
symbolically) and on a perturbed formula (a plausible slip), whose residual must not vanish.
"""

from __future__ import annotations

import pytest
import sympy as sp

# ----------------------------------------------------------------------------- in-context learning (LSA)


@pytest.mark.parametrize(
    "name, ok",
    [
        ("published", True),
        ("E S^2 = (N + d)/N I (the Wishart fourth moment's +1 dropped): step N/(N+d), risk d^2/(N+d)", False),
        ("the token dimension d + 1 used for d: step N/(N+d+2), risk (d+1)(d+2)/(N+d+2)", False),
    ],
)
def test_lsa_optimal_step_minimises_its_risk(name, ok):
    """d R / d eta = 0 at eta* = N/(N + d + 1) (R convex: R'' = 2d(N + d + 1)/N > 0), and R(eta*) = d(d+1)/(N+d+1)."""
    from dltheory.verify.claims import in_context as claims

    R, eta = claims.risk_formula(), claims._eta
    step, risk = (e.rhs for e in claims.optimum_formulas()[name][:2])
    assert (sp.simplify(sp.diff(R, eta).subs(eta, step)) == 0) == ok
    assert (sp.simplify(R.subs(eta, step) - risk) == 0) == ok
    assert sp.simplify(sp.diff(R, eta, 2)).is_positive


def test_lsa_risk_halved_is_not_the_minimum():
    from dltheory.verify.claims import in_context as claims

    R, eta = claims.risk_formula(), claims._eta
    step, risk = (e.rhs for e in claims.optimum_formulas()["risk with the squared loss's 1/2: d(d+1)/(2(N+d+1))"])
    assert sp.simplify(sp.diff(R, eta).subs(eta, step)) == 0 and sp.simplify(R.subs(eta, step) - risk) != 0


# ----------------------------------------------------------------------------- self-distillation


@pytest.mark.parametrize(
    "name, ok",
    [
        ("published", True),
        ("ridge lambda / (1 - alpha) (alpha and 1 - alpha swapped)", False),
        ("fixed point without the ground-truth weight alpha (K_test (alpha K + lambda)^-1 y)", False),
    ],
)
def test_self_distillation_limit_is_the_fixed_point_of_its_recursion(name, ok):
    """b_inf = d / (d + lambda/alpha) solves b = a ((1 - alpha) b + alpha), a = d/(d + lambda) ([BA21] sec. 4); the
    recursion contracts (|a (1 - alpha)| < 1), so it is the limit of every b_tau."""
    from dltheory.verify.claims import self_distillation as claims

    rec, b = claims.recursion(), claims._b
    b_inf = claims._limit_formulas({})[name][1].rhs
    residual = rec.rhs.subs(b(claims._tau - 1), b_inf) - b_inf
    assert (sp.simplify(residual) == 0) == ok


def _alpha_risk_derivative(star, n_modes: int, values: dict | None = None):
    """R'(alpha*) for R(alpha) = sum_i (f_i - a_i (b_i + alpha (1 - b_i)) y_i)^2, a_i = d_i / (d_i + lambda) (the
    step's true risk: its prediction is V [a b + alpha a (1 - b)] V^T y), with ``values`` substituted first."""
    from dltheory.verify.claims import self_distillation as claims

    alpha, n, i = claims._alpha, claims._n, claims._i
    d, b, y, f = claims._dv, claims._bv, claims._yv, claims._fv
    a = d[i] / (d[i] + claims._lam)
    R = sp.Sum((f[i] - a * (b[i] + alpha * (1 - b[i])) * y[i]) ** 2, (i, 1, n)).subs(n, n_modes).doit()
    star = star.subs(n, n_modes).doit()
    if values:
        R, star = R.xreplace(values), star.xreplace(values)
    return sp.diff(R, alpha).subs(alpha, star)


def test_self_distillation_optimal_alpha_zeroes_the_risk_derivative():
    """alpha* is the vertex of the step's true risk, a parabola in alpha: R'(alpha*) = 0 symbolically (two
    eigen-directions; the numerator after clearing denominators expands to 0)."""
    from dltheory.verify.claims import self_distillation as claims

    num, _ = sp.fraction(sp.together(_alpha_risk_derivative(claims.alpha_star_formula(), 2)))
    assert sp.expand(num) == 0


@pytest.mark.parametrize("swapped, target", [(True, "f"), (False, "y")])
def test_perturbed_optimal_alpha_does_not(swapped, target):
    """The controls' alpha (factor lambda / (d + lambda), or the noisy labels as target) leave R'(alpha) != 0 at
    a rational point (exact arithmetic)."""
    from dltheory.verify.claims import self_distillation as claims

    R = sp.Rational
    d, b, y, f = claims._dv, claims._bv, claims._yv, claims._fv
    values = {claims._lam: R(3, 2)}
    for k, (dk, bk, yk, fk) in enumerate([(R(1, 3), R(1, 5), R(2), R(1)), (R(4), R(3, 4), R(-1), R(1, 2))], 1):
        values |= {d[k]: dk, b[k]: bk, y[k]: yk, f[k]: fk}
    published = _alpha_risk_derivative(claims.alpha_star_formula(), 2, values)
    slip = _alpha_risk_derivative(claims.alpha_star_formula(swapped, f if target == "f" else y), 2, values)
    assert published == 0 and slip != 0


# ----------------------------------------------------------------------------- the delta rule


@pytest.mark.parametrize("factor, ok", [(1, True), (2, False)])
def test_delta_rule_is_the_gd_step_on_the_half_squared_loss(factor, ok):
    """S - beta grad_S 1/2 ||S k - v||^2 = S (I - beta k k^T) + beta v k^T (explicit 2 x 3 matrices, symbolic);
    the step of the loss without its 1/2 (2 beta) is not."""
    from dltheory.verify.claims import delta_rule as claims

    S = sp.Matrix(2, 3, lambda i, j: sp.Symbol(f"S_{i}{j}"))
    k, v = sp.Matrix(sp.symbols("k_0:3")), sp.Matrix(sp.symbols("v_0:2"))
    beta = claims._beta
    loss = ((S * k - v).T * (S * k - v))[0] / 2
    gd = S - beta * sp.Matrix(2, 3, lambda i, j: sp.diff(loss, S[i, j]))
    dims = {claims._d_k: 3, claims._d_v: 2}
    shown = claims.delta_step(factor * beta).subs(dims)
    shown = shown.xreplace(
        {claims._S0.subs(dims): S, claims._kt.subs({claims._d_k: 3}): k, claims._vt.subs({claims._d_v: 2}): v}
    )
    assert (sp.simplify(sp.Matrix(shown.doit()) - gd) == sp.zeros(2, 3)) == ok


@pytest.mark.parametrize(
    "name, ok",
    [
        ("published", True),
        ("1 - 2 beta (the reflection convention I - 2 k k^T, or the loss without its 1/2)", False),
        ("|1 - beta| (singular values for eigenvalues: no negative eigenvalue)", False),
    ],
)
def test_householder_eigenvalue_is_a_root_of_the_characteristic_polynomial(name, ok):
    """det(I - beta k k^T - lambda I) = (1 - lambda)^2 (1 - beta - lambda) for ||k|| = 1 (d_k = 3, symbolic): the
    shown lambda_1 is a root for every beta; 1 - 2 beta and |1 - beta| are not (at beta = 3/2, exactly)."""
    from dltheory.verify.claims import delta_rule as claims

    k = sp.Matrix(sp.symbols("k_0:3", real=True))
    beta, lam = sp.Symbol("beta", nonnegative=True), sp.Symbol("lambda")
    poly = (sp.eye(3) - beta * k * k.T - lam * sp.eye(3)).det()
    poly = sp.expand(poly).subs(k[2] ** 2, 1 - k[0] ** 2 - k[1] ** 2)  # ||k|| = 1
    lam1 = claims._spectrum_formulas({})[name][0].rhs
    assert (sp.simplify(poly.subs(lam, lam1).subs(beta, sp.Rational(3, 2))) == 0) == ok
    if ok:
        assert sp.simplify(poly.subs(lam, lam1)) == 0


# ----------------------------------------------------------------------------- continual learning


@pytest.mark.parametrize(
    "shift, noise, ok",
    [(0, "published", True), (-1, "published", False), (0, "no p/(p-n-1)", False), (0, "last task", False)],
)
def test_continual_model_error_solves_the_projection_recursion(shift, noise, ok):
    """Training task t projects w onto {w : X_t w = y_t}; averaged over Gaussian X_t (rank n of p, E P = (n/p) I)
    and the noise, E||w_t - w*_i||^2 = r E||w_(t-1) - w*_i||^2 + (1 - r) ||w*_t - w*_i||^2 + n sigma^2 / (p - n - 1),
    r = 1 - n/p, from w_0 = 0 ([LJLS23] proof of Thm. 1). The shown L(t, i) solves it with L(0, i) = ||w*_i||^2
    (symbolic, t = 1..3); the controls do not."""
    from dltheory.verify.claims import continual as claims

    n, p, sigma, i = claims._n, claims._p, claims._sigma, claims._i
    r = 1 - n / p
    L = sp.Lambda((claims._t, i), claims.model_error(shift, noise))

    def at(t):
        return L(t, i).doit()

    residuals = [at(0) - claims._w[i]]
    for t in (1, 2, 3):
        step = r * at(t - 1) + (1 - r) * claims._D[t, i] + n * sigma**2 / (p - n - 1)
        residuals.append(at(t) - step)
    assert all(sp.simplify(res) == 0 for res in residuals) == ok


# ----------------------------------------------------------------------------- deep linear networks


@pytest.mark.parametrize(
    "name, ok",
    [
        ("published", True),
        ("eq. 11 (two layers) carried to depth D with eta0/D: D t_D = ln(uf (s - u0) / (u0 (s - uf))) / s", False),
    ],
)
def test_deep_bracket_integrates_eq16(name, ok):
    """[SMG14] eq. 16, tau du/dt = N_l u^2 (s - u), gives N_l t = int_(u0)^(uf) du / (u^2 (s - u)) = B (eq. 17): dB/duf
    is the integrand and B(uf = u0) = 0 (symbolic); eq. 11's bracket is not."""
    from dltheory.verify.claims import dln as claims

    s, u0, uf = claims._s, claims._u0, claims._uf
    B = claims._deep_limit_formulas({})[name][1].rhs
    assert (sp.simplify(sp.diff(B, uf) - 1 / (uf**2 * (s - uf))) == 0) == ok
    assert sp.simplify(B.subs(uf, u0)) == 0
