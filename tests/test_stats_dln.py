"""Unit tests of the helpers the dln claims appended to dltheory.verify.stats (exact and fast)."""

import numpy as np
import pytest

from dltheory.verify import stats

ETAS = 0.02 / 2.0 ** np.arange(6)


def _expansion(limit, a, b, c=0.0):
    """Deterministic values limit + a eta + b eta^2 + c eta^3 at ETAS, three points per size."""
    e = ETAS[:, None]
    return limit + a * e + b * e**2 + c * e**3


def test_richardson_limit_of_a_quadratic_expansion_is_exact_to_its_bound():
    limit, a, b = np.array([0.0, 1.0, -2.0]), np.array([3.0, -1.0, 0.5]), np.array([40.0, 5.0, -7.0])
    check = stats.richardson_limit_matches("limit", ETAS, _expansion(limit, a, b), limit, atol=1e-15, atol_reason="x")
    # one Richardson step leaves -2 b eta_f^2, which the two finest steps estimate exactly: statistic 1/2
    assert check.passed and check.statistic == pytest.approx(0.5, rel=1e-6)
    assert stats.richardson_limit_matches(
        "o(eta^2)", ETAS, _expansion(limit, a, b, c=-300.0), limit, atol=1e-15, atol_reason="x"
    ).passed


def test_richardson_limit_rejects_an_offset_far_below_the_finest_error():
    limit, a, b = 0.0, 1.0, 1.0
    values = _expansion(limit, a, b)
    bound = 2 * 2 * b * ETAS[-1] ** 2  # twice the next-order estimate 2 b eta_f^2
    assert values[-1] > 100 * bound  # the finest error itself is O(eta): a direct comparison could not see this
    offset = 3 * bound
    assert not stats.richardson_limit_matches("off", ETAS, values, limit + offset, atol=1e-15, atol_reason="x").passed
    assert not stats.richardson_limit_matches("off", ETAS, values, limit - offset, atol=1e-15, atol_reason="x").passed


def test_richardson_limit_rejects_the_wrong_order():
    values = 0.1 * np.sqrt(ETAS)  # O(eta^1/2): removing an eta^1 term leaves O(eta^1/2), larger than its bound
    assert not stats.richardson_limit_matches("sqrt", ETAS, values, 0.0, atol=1e-15, atol_reason="x").passed


def test_richardson_limit_bad_input():
    with pytest.raises(ValueError, match="one ratio"):
        stats.richardson_limit_matches("r", [1.0, 0.5, 0.25, 0.2, 0.1], np.zeros(5), 0.0, atol=1e-9, atol_reason="x")
    with pytest.raises(ValueError, match="atol"):
        stats.richardson_limit_matches("r", ETAS, np.zeros(6), 0.0, atol=0.0, atol_reason="x")
    with pytest.raises(ValueError, match="one row per size"):
        stats.richardson_limit_matches("r", ETAS, np.zeros(5), 0.0, atol=1e-9, atol_reason="x")
    with pytest.raises(ValueError, match=">= 5"):
        stats.richardson_limit_matches("r", ETAS[:4], np.zeros(4), 0.0, atol=1e-9, atol_reason="x")


def test_linear_slope_matches_with_known_ses():
    x = np.linspace(10.0, 20.0, 6)
    se = np.full(6, 0.1)
    noise = np.array([0.05, -0.08, 0.02, 0.11, -0.04, -0.06])
    values = 3.0 + 0.5 * x + noise
    check = stats.linear_slope_matches("slope", x, values, se, 0.5, alpha=1e-3)
    fitted, slope_se = np.polyfit(x, values, 1)[0], 0.1 / np.sqrt(np.sum((x - x.mean()) ** 2))
    assert check.passed
    assert check.statistic == pytest.approx(abs(fitted - 0.5) / (stats.z_two_sided(1e-3) * slope_se), rel=1e-9)
    assert not stats.linear_slope_matches("slope", x, values, se, 0.6, alpha=1e-3).passed
    assert stats.linear_slope_matches("slope", x, values, se, 0.6, alpha=1e-3, bias=0.11).passed


def test_linear_slope_scatter_beyond_the_ses_widens_the_test():
    x = np.linspace(0.0, 4.0, 5)
    values = 2 * x + np.array([0.0, 1.0, -1.0, 1.0, 0.0])  # scatter ~1 with claimed SE 0.01
    tight = stats.linear_slope_matches("slope", x, values, 0.01, 2.3, alpha=1e-3)
    assert "reduced chi2" in tight.detail and tight.passed  # chi^2 inflation: the claimed SEs were too small


def test_linear_slope_bad_input():
    with pytest.raises(ValueError, match=">= 5 distinct"):
        stats.linear_slope_matches("s", [1.0, 2.0, 3.0, 4.0], np.ones(4), 0.1, 0.0, alpha=1e-3)
    with pytest.raises(ValueError, match="se"):
        stats.linear_slope_matches("s", np.arange(5.0), np.ones(5), 0.0, 0.0, alpha=1e-3)
