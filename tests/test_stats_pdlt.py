"""Unit tests of the helpers the pdlt and sigprop claims appended to dltheory.verify.stats (exact and fast)."""

import numpy as np
import pytest

from dltheory.verify import stats


def test_moment_ratio_of_exactly_known_samples():
    """Two values 1 and 3 in equal numbers: E X^2 / (E X)^2 = 5 / 4 exactly, and the plug-in is exact too."""
    x = np.tile([1.0, 3.0], 50)[:, None] * np.array([1.0, 2.0])  # the ratio is scale-free
    rho, se, bias = stats.moment_ratio(x)
    np.testing.assert_allclose(rho, 1.25, rtol=1e-14)
    assert np.all(se > 0) and np.all(bias > 0) and np.all(bias < se)


def test_moment_ratio_standard_error_and_bias_are_calibrated():
    """X ~ Gamma(4): E X^2 / (E X)^2 = 5/4; over 2000 replicates of S = 1000 the spread of the estimate equals the
    delta-method SE (to 5 %). X ~ Exp(1) (ratio 2), S = 200: the mean deviation over 20000 replicates matches the
    first-order bias (to 20 %; Monte Carlo error of the mean about 10 %)."""
    g = np.random.default_rng(0)
    rho, se, _ = stats.moment_ratio(g.gamma(4.0, size=(1000, 2000)))
    assert rho.std() == pytest.approx(se.mean(), rel=0.05) and rho.mean() == pytest.approx(1.25, abs=1e-3)
    rho, _, bias = stats.moment_ratio(g.exponential(size=(200, 20000)))
    assert 2 - rho.mean() == pytest.approx(bias.mean(), rel=0.2)  # the plug-in ratio is biased low here


def test_log_slope_of_an_exact_exponential_and_its_se():
    """m(x) = 1 + e^{-x/5} with a per-sample random amplitude (correlated across x): slope -1/5 exactly for the
    noise-free curve; the delta-method SE matches the replicate spread."""
    x = np.arange(10.0)
    curve = 1 + np.exp(-x / 5)
    assert stats.log_slope(x, np.vstack([curve, curve]), 1.0) == pytest.approx((-0.2, 0.0), abs=1e-13)
    g = np.random.default_rng(1)
    reps = [stats.log_slope(x, 1 + np.exp(-x / 5) * (1 + 0.1 * g.standard_normal((400, 1))), 1.0) for _ in range(400)]
    slopes, ses = np.array(reps).T
    assert slopes.std() == pytest.approx(ses.mean(), rel=0.1)
    with pytest.raises(ValueError, match="offset"):
        stats.log_slope(x, np.vstack([curve, curve]), curve[3])


def test_limit_within_adds_the_bias_bound_to_the_tolerance():
    n = np.array([32.0, 64.0, 128.0, 256.0, 512.0])
    values = 2.0 + 3.0 / n
    se = np.full(n.shape, 1e-3)
    exact = stats.limit_within("l", 1 / n, values, se, 2.0, alpha=1e-3, bias=1e-4, bias_reason="r")
    assert exact.passed and exact.statistic < 1e-8
    sa = float(exact.detail.split("+- ")[1].split(" ")[0])  # SE of the extrapolated limit
    z = stats.z_two_sided(1e-3)
    off = 2.0 + 1.01 * (z * sa + 0.05)
    assert stats.limit_within(
        "l", 1 / n, values, se, 2.0 + 0.99 * (z * sa + 0.05), alpha=1e-3, bias=0.05, bias_reason="r"
    ).passed
    assert not stats.limit_within("l", 1 / n, values, se, off, alpha=1e-3, bias=0.05, bias_reason="r").passed
