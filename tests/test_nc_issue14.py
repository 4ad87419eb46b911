"""Issue 14 (neural collapse): the deep linear CE UFM's ETF scales (theory.deep_ce_ufm_etf) and the claims'
formulas equal the numeric functions the claims use."""

import math

import numpy as np
import pytest
import sympy as sp

from dltheory.theory import neural_collapse as th


def _etf_point(n, K, M, s, eta, d=None):
    """Layers and features of the ETF family at per-layer value s and feature scale eta (d = K)."""
    d = K if d is None else d
    E = np.linalg.svd(np.eye(K) - 1.0 / K)[0][:, : K - 1]
    F = np.eye(d)[:, : K - 1]
    layers = [s * F @ F.T] * (M - 1) + [s * E @ F.T]
    return layers, np.repeat(eta * F @ E.T, n, axis=1), np.repeat(np.arange(K), n)


CASES = [(5, 4, 5e-3, 5e-3, M) for M in (1, 2, 3, 4)] + [(10, 3, 1e-3, 4e-3, 2), (4, 6, 2e-3, 1e-3, 3)]


@pytest.mark.parametrize("n, K, lW, lH, M", CASES)
def test_etf_point_objective_is_the_mode_objective(n, K, lW, lH, M):
    x, s, eta = th.deep_ce_ufm_etf(n, K, lW, lH, M)
    assert x > 0 and s**M * eta == pytest.approx(x, rel=1e-14)
    layers, H, y = _etf_point(n, K, M, s, eta)
    full = th.ufm_objective(layers, H, y, lW, lH, loss="ce")
    assert full == pytest.approx(float(th.deep_ce_ufm_mode_objective(x, n, K, lW, lH, M)), rel=1e-13)


@pytest.mark.parametrize("n, K, lW, lH, M", CASES)
def test_etf_point_is_a_minimum_of_the_family(n, K, lW, lH, M):
    """x minimises f on a fine grid (global on the family); moving s or eta by 1e-3 at fixed x or along the
    family raises the full UFM objective (the AM-GM split is optimal)."""
    x, s, eta = th.deep_ce_ufm_etf(n, K, lW, lH, M)
    grid = np.linspace(1e-9, 4 * x, 40001)
    assert (
        th.deep_ce_ufm_mode_objective(x, n, K, lW, lH, M)
        <= th.deep_ce_ufm_mode_objective(grid, n, K, lW, lH, M).min() + 1e-13
    )
    base = th.ufm_objective(*_etf_point(n, K, M, s, eta), lW, lH, loss="ce")
    for ds, de in [(1.001, 1.0), (0.999, 1.0), (1.0, 1.001), (1.0, 0.999), (1.001, 1.001**-M), (0.999, 0.999**-M)]:
        assert th.ufm_objective(*_etf_point(n, K, M, s * ds, eta * de), lW, lH, loss="ce") > base


def test_depth_one_is_zhu_et_al():
    for n, K, lW, lH in [(5, 4, 5e-3, 5e-3), (25, 4, 5e-3, 5e-3), (10, 6, 1e-3, 2e-3)]:
        x, s, eta = th.deep_ce_ufm_etf(n, K, lW, lH, 1)
        assert s**2 * (K - 1) / K == pytest.approx(th.ce_ufm_weight_norm_sq(n, K, lW, lH), rel=1e-13)
        assert eta / s == pytest.approx(math.sqrt(lW / (n * lH)), rel=1e-13)  # h_k = sqrt(lW/(n lH)) w_k


def test_trivial_point_beyond_the_threshold():
    assert th.deep_ce_ufm_etf(100, 4, 0.025, 0.025, 1) == (0.0, 0.0, 0.0)  # rho = 1/K [ZDZ21]
    assert th.deep_ce_ufm_etf(5, 4, 0.5, 0.5, 3) == (0.0, 0.0, 0.0)
    # first-order jump at depth >= 2: just below it x is bounded away from 0
    lams = np.geomspace(5e-3, 0.3, 60)
    xs = np.array([th.deep_ce_ufm_etf(5, 4, lam, lam, 2)[0] for lam in lams])
    last = np.flatnonzero(xs > 0)[-1]
    assert xs[last] > 1.0 and np.all(xs[last + 1 :] == 0) and np.all(np.diff(xs[: last + 1]) < 0)


def test_mode_objective_vectorised_and_at_zero():
    x = np.array([0.0, 1.0, 2.0])
    v = th.deep_ce_ufm_mode_objective(x, 5, 4, 1e-3, 1e-3, 2)
    assert v.shape == (3,) and v[0] == pytest.approx(math.log(4), rel=1e-15)
    with pytest.raises(ValueError, match="x"):
        th.deep_ce_ufm_mode_objective(-1.0, 5, 4, 1e-3, 1e-3, 2)


# ----------------------------------------------------------------------------- formulas == numeric functions


def test_deep_ce_formula_is_the_theory_function():
    from dltheory.verify.claims import nc as claims

    for M in (1, 2, 3):
        f = sp.lambdify((claims._x, claims._n, claims._K, claims._lW, claims._lH), claims.deep_ce_mode_formula(M))
        for n, K, lW, lH in [(5, 4, 5e-3, 5e-3), (10, 3, 1e-3, 4e-3)]:
            x = np.linspace(0.0, 12.0, 25)
            np.testing.assert_allclose(
                f(x, n, K, lW, lH), th.deep_ce_ufm_mode_objective(x, n, K, lW, lH, M), rtol=1e-13
            )


def test_minority_threshold_formulas_are_the_theory_functions():
    """K/(K_A R + K_B) is the solver's critical multiplier (per-class budget); at R* the collapsed problem's
    multiplier equals it; the balanced-multiplier control solves the same formula at mu(R = 1)."""
    from dltheory.verify.claims import nc as claims

    crit = sp.lambdify((claims._KA, claims._KB, claims._R), claims.threshold_critical_multiplier_formula())
    for K_A, K_B, R in [(5, 5, 1.0), (5, 5, 7.5), (6, 4, 3.0), (3, 2, 20.0)]:
        lpm = th._LPM(K_A, K_B, R, (1.0, 1.0))
        assert crit(K_A, K_B, R) == pytest.approx(lpm.mu_collapse[1], rel=1e-14)
    K_A, K_B, E_W, E_H = 5, 5, 1.0, 3.0
    R_star = th.layer_peeled_minority_threshold(K_A, K_B, E_W, E_H)
    lpm = th._LPM(K_A, K_B, R_star, (1.0, 1.0))
    x, mu = lpm.solve(math.sqrt(E_W * E_H))
    assert mu == pytest.approx(crit(K_A, K_B, R_star), rel=1e-8)
    mu_1 = th.layer_peeled_optimum(K_A, K_B, 1.0, E_W, E_H).multiplier
    assert claims.threshold_balanced_formula_value(K_A, K_B, mu_1) == pytest.approx(
        ((K_A + K_B) / mu_1 - K_B) / K_A, rel=1e-14
    )
