"""Unit tests of the statistics helpers added for the infinite-width claims: control_variate_mean, mean_std,
corrected_rate_matches (dltheory.verify.stats)."""

import numpy as np
import pytest
from scipy import stats as sps

from dltheory.verify import stats


def _replicate(reps: int, S: int, p: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """control_variate_mean of y = D1^2 + D2 (E y = 1; not linear in the zero-mean controls D) over replications."""
    g = np.random.default_rng(seed)
    out = np.empty((reps, 2))
    for r in range(reps):
        D = g.standard_normal((S, p))
        out[r] = stats.control_variate_mean(D[:, 0] ** 2 + D[:, 1], D)
    return out[:, 0], out[:, 1]


def test_control_variate_mean_is_unbiased_for_a_nonlinear_target():
    # at S = 60, p = 8 the in-sample regression estimator is biased by ~ -0.035 (8 of these SEs); cross-fitting is not
    est, _ = _replicate(2000, 60, 8, seed=0)
    assert abs(est.mean() - 1.0) < 4 * est.std() / np.sqrt(2000)


def test_control_variate_mean_se_is_calibrated():
    est, se = _replicate(1000, 300, 6, seed=1)
    beyond = int(np.sum(np.abs(est - 1.0) / se > sps.norm.isf(0.025)))
    assert sps.binomtest(beyond, 1000, 0.05).pvalue > 1e-3


def test_control_variate_mean_removes_linear_noise_exactly():
    g = np.random.default_rng(1)
    D = g.standard_normal((500, 3))
    y = np.column_stack([2.5 + D @ [1.0, -2.0, 0.5], -1.0 + 3 * D[:, 2]])
    est, se = stats.control_variate_mean(y, D)
    np.testing.assert_allclose(est, [2.5, -1.0], rtol=1e-13)
    np.testing.assert_allclose(se, 1e-12 * np.abs(est), rtol=1e-6)  # only the round-off floor is left


def test_control_variate_mean_drops_degenerate_controls_and_reduces_to_the_mean():
    g = np.random.default_rng(2)
    y = g.standard_normal(300)
    zero = np.zeros((300, 2))
    est, se = stats.control_variate_mean(y, zero)
    assert est == pytest.approx(y.mean(), abs=1e-15)
    assert se == pytest.approx(float(stats.standard_error(y)), rel=1e-9)
    D = g.standard_normal((300, 1))
    a = stats.control_variate_mean(y + D[:, 0], D)
    b = stats.control_variate_mean(y + D[:, 0], np.column_stack([D, 2 * D, np.zeros(300)]))  # collinear copies
    np.testing.assert_allclose(a, b, rtol=1e-10)


def test_control_variate_mean_bad_input():
    y = np.ones(20)
    with pytest.raises(ValueError, match="controls"):
        stats.control_variate_mean(y, np.ones((19, 2)))
    with pytest.raises(ValueError, match="folds"):
        stats.control_variate_mean(y, np.ones((20, 2)), folds=1)
    with pytest.raises(ValueError, match="samples"):
        stats.control_variate_mean(y, np.random.default_rng(0).standard_normal((20, 15)))


def test_mean_std_value_and_se():
    g = np.random.default_rng(3)
    x = g.standard_normal((400, 3)) * [1.0, 2.0, 0.5]
    value, se = stats.mean_std(x)
    assert value == pytest.approx(x.std(axis=0, ddof=1).mean(), rel=1e-14)
    # SE against the spread over replications (Gaussian columns: SE of a std ~ sigma / sqrt(2 S))
    reps = np.array([stats.mean_std(g.standard_normal((400, 3)) * [1.0, 2.0, 0.5])[0] for _ in range(400)])
    assert se == pytest.approx(reps.std(), rel=0.15)
    with pytest.raises(ValueError, match="spread"):
        stats.mean_std(np.ones((10, 2)))


def test_corrected_rate_matches_fits_the_next_order():
    n = np.array([32.0, 64, 128, 256, 512, 1024])
    v = 3.0 * n**-0.5 * (1 + 2.0 / n)  # a 1/n correction that biases the plain log-log slope to -0.516
    se = 1e-3 * v
    assert not stats.rate_matches("plain", n, v, se, -0.5, alpha=1e-3).passed
    ok = stats.corrected_rate_matches("rate", n, v, se, -0.5, alpha=1e-3)
    assert ok.passed and ok.statistic < 0.2
    assert not stats.corrected_rate_matches("rate", n, v, se, -0.505, alpha=1e-3).passed
    with pytest.raises(ValueError, match="sizes"):
        stats.corrected_rate_matches("rate", n[:5], v[:5], se[:5], -0.5, corrections=(-1.0, -2.0, -3.0), alpha=1e-3)
    with pytest.raises(ValueError, match="positive"):
        stats.corrected_rate_matches("rate", n, -v, se, -0.5, alpha=1e-3)
