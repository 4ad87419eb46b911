"""Unit tests of stats.limit_matches_reference (a limit compared with a Monte Carlo reference value)."""

import numpy as np
import pytest

from dltheory.verify import stats

X = 1 / np.array([8.0, 16, 32, 64, 128])


def test_reference_se_enters_the_tolerance_in_quadrature():
    values = 2.0 + 3.0 * X  # exact line: SE(a) is the propagated 0.01
    se = np.full(X.size, 0.01)
    a_se = float(
        np.sqrt(
            np.linalg.inv((np.column_stack([np.ones(5), X]) / 0.01).T @ (np.column_stack([np.ones(5), X]) / 0.01))[0, 0]
        )
    )
    z = stats.z_two_sided(1e-3)
    for ref_se in (0.0, 0.05):
        check = stats.limit_matches_reference("l", X, values, se, 2.1, ref_se, alpha=1e-3)
        assert check.statistic == pytest.approx(0.1 / (z * np.hypot(a_se, ref_se)), rel=1e-9)
    assert not stats.limit_matches_reference("l", X, values, se, 2.1, 0.0, alpha=1e-3).passed
    assert stats.limit_matches_reference("l", X, values, se, 2.1, 0.05, alpha=1e-3).passed


def test_reference_bad_input():
    with pytest.raises(ValueError, match="prediction_se"):
        stats.limit_matches_reference("l", X, X, X, 0.0, -1.0, alpha=1e-3)
    with pytest.raises(ValueError, match="5 positive sizes"):
        stats.limit_matches_reference("l", X[:3], X[:3], X[:3], 0.0, 0.1, alpha=1e-3)
