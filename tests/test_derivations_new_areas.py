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
