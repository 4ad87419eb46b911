"""The numeric fast paths equal the lambdified sympy formulas shown in the report, over each formula's domain
(issue 18, item 1).

tests/test_formulas_claims.py and tests/test_derivations.py compare formula and function at a few chosen points;
here hypothesis draws the parameters from the whole domain each formula is stated on (the ranges are written next to
each test), so a fast path that is right at the chosen points and wrong elsewhere (a branch, a clipped range, a
rewritten expression for numerical stability) fails. Tolerance: RTOL relative, plus an absolute floor of ATOL times
the formula's natural scale where the value can cross zero; both are float64 round-off bounds for expressions of a
few dozen operations (the condition numbers of the ranges drawn stay below ~1e4).
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp
from hypothesis import given, settings
from hypothesis import strategies as st

RTOL = 1e-10
ATOL = 1e-13
EXAMPLES = settings(max_examples=60, deadline=None, derandomize=True)


def _unit(lo: float = 0.0, hi: float = 1.0, **kw):
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False, **kw)


def _log_uniform(lo: float, hi: float):
    """Floats spread evenly in log scale on [lo, hi]."""
    return st.floats(np.log(lo), np.log(hi)).map(np.exp)


def _close(got, want, scale: float = 1.0):
    np.testing.assert_allclose(np.asarray(got, float), np.asarray(want, float), rtol=RTOL, atol=ATOL * scale)


def _lam(expr, *symbols, modules=("scipy", "numpy")):
    return sp.lambdify(symbols, expr, modules=list(modules))


# ----------------------------------------------------------------------------- Saxe et al. 2014, eqs. 11 and 12


def _saxe():
    from dltheory.theory import deep_linear as dl

    u, args = dl.mode_strength_expr()
    t_learn, targs = dl.learning_time_expr()
    return dl, _lam(u, *args), _lam(t_learn, *targs)


@EXAMPLES
@given(s=_log_uniform(0.05, 20.0), frac0=_log_uniform(1e-6, 0.99), x=_unit(0.0, 12.0), tau=_log_uniform(0.1, 10.0))
def test_mode_strength_is_eq12_over_its_domain(s, frac0, x, tau):
    """0 < u0 < s (a mode that grows), t up to 12 tau / s (past the sigmoid's end)."""
    dl, eq12, _ = _saxe()
    u0, t = frac0 * s, x * tau / s
    _close(dl.mode_strength(t, s, u0, tau=tau), eq12(t, s, u0, tau), scale=s)


@EXAMPLES
@given(s=_log_uniform(0.05, 20.0), a=_log_uniform(1e-6, 0.9), b=_unit(0.05, 0.95), tau=_log_uniform(0.1, 10.0))
def test_learning_time_is_eq11_over_its_domain(s, a, b, tau):
    """0 < u0 < uf < s: uf between u0 and s (b of the way, kept 5 % from both ends: eq. 11's log(s - uf) and
    log(uf/u0) lose digits as uf -> s or uf -> u0)."""
    dl, _, eq11 = _saxe()
    u0 = a * s
    uf = u0 + b * (s - u0)
    _close(dl.learning_time(s, u0, uf, tau=tau), eq11(s, u0, uf, tau), scale=tau / s)


# ----------------------------------------------------------------------------- Levi, Beck & Bar-Sinai 2023


def _grok():
    from dltheory.theory import grokking as th
    from dltheory.verify.claims import grok

    return th, grok


@EXAMPLES
@given(eps=_log_uniform(1e-8, 0.5), ratio=_log_uniform(1e-3, 1e3))
def test_accuracy_is_eq10_over_its_domain(eps, ratio):
    """A = erf(sqrt(eps / 2L)) for eps in [1e-8, 0.5] and L from 1e-3 eps to 1e3 eps (accuracy ~1 to ~0.02)."""
    th, grok = _grok()
    loss = ratio * eps
    _close(th.accuracy_from_loss(loss, eps), _lam(grok.accuracy_formula(), grok._eps, grok._loss)(eps, loss))


@EXAMPLES
@given(lam=_unit(1e-4, 0.98), eta=_log_uniform(1e-3, 10.0))
def test_delay_asymptote_is_eq12_over_its_domain(lam, eta):
    """lam = d/N in (0, 1) (eq. 12 diverges at 1), any step eta > 0."""
    th, grok = _grok()
    want = _lam(grok.delay_asymptote_formula(), grok._lam, grok._eta)(lam, eta)
    _close(th.linear_estimator_delay_asymptote(lam, eta), want, scale=want)


@EXAMPLES
@given(lam=_unit(1e-4, 0.98))
def test_delay_rate_is_the_shown_kappa_over_its_domain(lam):
    th, grok = _grok()
    _close(th.linear_estimator_delay_rate(lam), _lam(grok.delay_rate_formula(), grok._lam)(lam))


@EXAMPLES
@given(lam=_unit(1.0001, 50.0))
def test_gen_loss_limit_is_the_shown_one_over_its_domain(lam):
    """lam > 1: L_gen(t = inf) = 1 - 1/lam."""
    th, grok = _grok()
    _close(th.linear_estimator_gen_loss_limit(lam), _lam(grok.gen_limit_formulas()[0], grok._lam)(lam))


# ----------------------------------------------------------------------------- neural collapse (UFM optima)


def _nc():
    from dltheory.theory import neural_collapse as th
    from dltheory.verify.claims import nc

    return th, nc


@EXAMPLES
@given(n=st.integers(1, 500), K=st.integers(2, 50), lW=_log_uniform(1e-6, 1.0), ratio=_log_uniform(1e-2, 1e2))
def test_ce_ufm_norm_is_the_shown_formula_over_its_domain(n, K, lW, ratio):
    """Both sides of the collapse threshold sqrt(n lW lH) = 1/K (the Piecewise's two branches)."""
    th, nc = _nc()
    lH = ratio * lW
    f = _lam(nc.ce_norm_formula(), nc._n, nc._K, nc._lW, nc._lH, modules=("math",))
    want = float(f(n, K, lW, lH))
    _close(th.ce_ufm_weight_norm_sq(n, K, lW, lH), want, scale=max(want, np.sqrt(n * lH / lW)))


@EXAMPLES
@given(n_k=st.integers(1, 500), K=st.integers(2, 50), lW=_log_uniform(1e-6, 1.0), ratio=_log_uniform(1e-2, 1e2))
def test_mse_ufm_norm_and_rate_are_the_shown_formulas_over_their_domain(n_k, K, lW, ratio):
    """Depth-1 bias-free MSE UFM: s^2 = (sqrt(n_k lH/lW) - N lH)_+, and the terminal NC1 rate a = lH + s_w^2/N,
    on both sides of the collapse threshold."""
    th, nc = _nc()
    lH, N = ratio * lW, n_k * K
    mse = _lam(nc.mse_norm_formula(), nc._n_k, nc._N, nc._lW, nc._lH, modules=("math",))
    want = float(mse(n_k, N, lW, lH))
    scale = np.sqrt(n_k * lH / lW)
    _close(th.deep_ufm_singular_value(n_k, N, lW, lH, 1) ** 2, want, scale=scale)
    rate = _lam(nc.terminal_rate_formula(), nc._n, nc._K, nc._lW, nc._lH, modules=("math",))
    _close(th.mse_ufm_within_class_rate(n_k, K, lW, lH), float(rate(n_k, K, lW, lH)), scale=lH + scale / N)


@EXAMPLES
@given(n=st.integers(1, 200), K=st.integers(2, 30), eps=_log_uniform(1e-4, 1e2))
def test_nc1_noise_is_the_shown_formula_over_its_domain(n, K, eps):
    th, nc = _nc()
    f = _lam(nc.nc1_noise_formula(), nc._eps, nc._N, nc._K)
    _close(th.nc1_within_class_noise([n] * K, eps, 1.0), f(eps, n * K, K), scale=eps**2)


# ----------------------------------------------------------------------------- shaped networks


def _shaped():
    from dltheory.theory import shaped as th
    from dltheory.verify.claims import shaped

    return th, shaped


@EXAMPLES
@given(
    rho=_unit(-1.0, 1.0),
    c_plus=_unit(-3.0, 3.0),
    c_minus=_unit(-3.0, 3.0),
    ito=st.booleans(),
)
def test_relu_correlation_sde_is_the_shown_drift_and_diffusion(rho, c_plus, c_minus, ito):
    """rho in [-1, 1] (the endpoints included: arccos's branch points), any shaping slopes c_+, c_-."""
    th, shaped = _shaped()
    sde = th.relu_correlation_sde(c_plus, c_minus, ito=ito)
    drift = _lam(shaped.relu_drift_formula(ito=ito), shaped._rho, shaped._c_plus, shaped._c_minus)
    diffusion = _lam(shaped.relu_diffusion_formula(), shaped._rho)
    _close(sde.drift(np.array([rho])), [drift(rho, c_plus, c_minus)], scale=1 + (c_plus - c_minus) ** 2)
    _close(sde.diffusion(np.array([rho])), [diffusion(rho)])


@EXAMPLES
@given(
    phi2=_unit(-3.0, 3.0),
    phi3=_unit(-5.0, 5.0),
    a=_log_uniform(0.1, 10.0),
    v=st.tuples(_log_uniform(0.01, 10.0), _log_uniform(0.01, 10.0), _unit(-0.999, 0.999)),
)
def test_smooth_drift_and_beta_are_the_shown_formulas(phi2, phi3, a, v):
    """Any phi''(0), phi'''(0), a > 0 and any 2 x 2 covariance V (variances 0.01-10, correlation in (-1, 1))."""
    th, shaped = _shaped()
    v11, v22, c = v
    V = np.array([[v11, c * np.sqrt(v11 * v22)], [c * np.sqrt(v11 * v22), v22]])
    V = (V + V.T) / 2
    symbols = (shaped._phi2, shaped._phi3, shaped._a, *shaped._V.free_symbols)
    values = {shaped._phi2: phi2, shaped._phi3: phi3, shaped._a: a}
    values |= {shaped._V[i, j]: V[i, j] for i in range(2) for j in range(2)}
    got = th.smooth_drift(V, phi2, phi3, a)
    scale = (phi2**2 + abs(phi3)) * np.max(V) ** 2 / a**2
    for i in range(2):
        for j in range(2):
            want = float(shaped.smooth_drift_formula(i, j).subs(values))
            _close(got[i, j], want, scale=scale)
    beta = _lam(shaped.smooth_beta_formula(), shaped._phi2, shaped._phi3, shaped._a)
    _close(th.smooth_norm_beta(phi2, phi3, a), beta(phi2, phi3, a), scale=(phi2**2 + abs(phi3)) / a**2)
    assert symbols  # the formula's symbols are the claim module's (a renamed symbol fails the subs above)


@EXAMPLES
@given(T=_log_uniform(1e-3, 50.0))
def test_shaped_log_norm_law_is_the_shown_formula(T):
    th, shaped = _shaped()
    mean, var = (e.rhs for e in shaped._relu_norm_formulas({})["published"])
    _close(th.shaped_log_norm_law(T), [float(mean.subs(shaped._T, T)), float(var.subs(shaped._T, T))], scale=T)


@EXAMPLES
@given(widths=st.lists(st.integers(2, 4096), min_size=1, max_size=40))
def test_hanin_nica_limit_is_the_shown_formula(widths):
    """Widths n_l >= 2 (the library's domain for hidden widths)."""
    th, shaped = _shaped()
    beta = sum(1 / w for w in widths)
    published = shaped._hanin_nica_formulas({})["published"]
    want = [float(e.rhs.subs(shaped._beta, beta)) for e in published[:2]]
    _close(th.hanin_nica_log_normal_limit(widths), want, scale=beta)


# ----------------------------------------------------------------------------- dual kernels (ReLU, erf)


def _dual(activation):
    from dltheory.verify.claims import ntk

    T, Tdot = ntk.dual_kernels(activation)
    return _lam(T, ntk._K11, ntk._K22, ntk._K12), _lam(Tdot, ntk._K11, ntk._K22, ntk._K12)


@EXAMPLES
@given(k11=_log_uniform(1e-3, 1e3), k22=_log_uniform(1e-3, 1e3), c=_unit(-0.999, 0.999))
def test_relu_and_erf_dual_kernels_are_the_shown_closed_forms(k11, k22, c):
    """Any PSD 2 x 2 covariance (variances 1e-3-1e3, correlation within 1e-3 of +-1: arccos' derivative at +-1 is
    infinite, so T' = (pi - theta)/(2 pi) loses digits there in any evaluation)."""
    from dltheory.theory.infinite_width import gaussian_expectations

    k12 = c * np.sqrt(k11 * k22)
    for activation in ("relu", "erf"):
        T, Tdot = _dual(activation)
        got = gaussian_expectations(k11, k22, k12, activation)
        np.testing.assert_allclose(float(got[0]), T(k11, k22, k12), rtol=1e-9, atol=ATOL * np.sqrt(k11 * k22))
        np.testing.assert_allclose(float(got[1]), Tdot(k11, k22, k12), rtol=1e-9, atol=ATOL)


# ----------------------------------------------------------------------------- in-context learning, modular margin


@EXAMPLES
@given(N=st.integers(1, 10_000), d=st.integers(1, 500), eta=_unit(0.0, 3.0))
def test_lsa_step_and_risks_are_the_shown_formulas(N, d, eta):
    from dltheory.theory import in_context as th
    from dltheory.verify.claims import in_context as claims

    step, risk, R = (e.rhs for e in claims.optimum_formulas()["published"])
    values = {claims._N: N, claims._d: d}
    _close(th.lsa_optimal_step(N, d), float(step.subs(values)))
    _close(th.lsa_optimal_risk(N, d), float(risk.subs(values)), scale=d)
    _close(th.lsa_gd_risk(eta, N, d), float(R.subs(values | {claims._eta: eta})), scale=d * (1 + eta**2 * d))


@EXAMPLES
@given(p=st.sampled_from(list(sp.primerange(3, 20_000))))
def test_max_margin_is_the_shown_formula(p):
    """Every odd prime below 20,000 is a possible draw."""
    from dltheory.theory import grokking_modular as gm
    from dltheory.verify.claims import grok

    p_sym, _ = grok._margin_symbols()
    want = float(grok.max_margin_formulas()["published"].subs(p_sym, p))
    _close(gm.max_margin_quadratic(p), want, scale=want)


@pytest.mark.parametrize("slip", [1.0 + 1e-8, 1.0 - 1e-8])
def test_the_comparison_resolves_a_relative_slip_of_1e_8(slip):
    """The tolerance above is tight enough to see a 1e-8 relative change (so these tests can fail)."""
    with pytest.raises(AssertionError):
        _close(1.0 * slip, 1.0)
