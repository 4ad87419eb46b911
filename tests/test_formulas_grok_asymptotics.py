"""grok.linear_asymptotics: every formula the report shows equals the numeric function its prediction evaluates."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from dltheory.theory import grokking_linear as th
from dltheory.verify.claims import grok

LAMS = [0.05, 0.25, 0.5, 0.9]


def _f(expr, *symbols):
    return sp.lambdify(symbols, expr, modules=["scipy", "numpy"])


def test_delay_and_rate_formulas():
    lam, eta = grok._lam, grok._eta
    rate, rate_26 = _f(grok.delay_rate_formula(), lam), _f(grok.delay_rate_formula(kappa_26=True), lam)
    wrong = _f(grok.delay_wrong_log_formula(), lam, eta)
    for la in LAMS:
        assert rate(la) == pytest.approx(th.linear_estimator_delay_rate(la), rel=1e-13)
        assert rate_26(la) == 1.5
        assert wrong(la, 0.01) == pytest.approx(grok._num["delay_wrong_log"](la, 0.01), rel=1e-13)


def test_gen_limit_init_and_dout_formulas():
    lam, eps, alpha, eta, d_out = grok._lam, grok._eps, grok._alpha, grok._eta, grok._d_out
    pub, no_atom, spanned = (_f(g, lam) for g in grok.gen_limit_formulas())
    for la in [1.25, 1.5, 4.0]:
        assert pub(la) == pytest.approx(th.linear_estimator_gen_loss_limit(la), rel=1e-15)
        assert no_atom(la) == grok._num["gen_no_atom"](la)
        assert spanned(la) == pytest.approx(grok._num["gen_spanned"](la), rel=1e-15)
    e_pub, e_teacher, e_same = (_f(g, eps, alpha) for g in grok.init_threshold_formulas())
    for a in [0.25, 0.5, 2.0, 4.0]:
        assert e_pub(1e-3, a) == pytest.approx(1e-3 / th.init_scale_loss_factor(a), rel=1e-15)
        assert e_teacher(1e-3, a) == pytest.approx(grok._num["eps_teacher_dropped"](1e-3, a), rel=1e-15)
        assert e_same(1e-3, a) == grok._num["eps_unchanged"](1e-3, a)
    lr_pub, lr_sq = (_f(g, eta, d_out) for g in grok.dout_rate_formulas())
    for d in [1, 2, 8]:
        assert lr_sq(0.02, d) == pytest.approx(grok._num["lr_dout_squared"](0.02, d), rel=1e-15)
        # eq. 13's published times are the one-output MP roots at eta / d_out (and d_out x the eq. 13 level)
        level = d * th.loss_at_accuracy(th.ACCURACY_AT_EPS_OVER_4, 1e-3, d)
        np.testing.assert_allclose(
            th.linear_estimator_grokking_times(0.3, 0.02, 1e-3, d_out=d, discrete=True),
            th.linear_estimator_crossing_times(0.3, lr_pub(0.02, d), level, discrete=True),
            rtol=1e-12,
        )


def test_every_prediction_has_its_formula():
    from dltheory.verify import registry

    claim = registry.get("grok.linear_asymptotics")
    assert set(claim.formulas_for(claim.quick)) == set(claim.predictions_for(claim.quick))
