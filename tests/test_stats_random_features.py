"""Unit tests of the two stats helpers added for the random-feature claims: extrapolated_limit, non_increasing."""

import numpy as np
import pytest

from dltheory.verify import stats


def test_extrapolated_limit_recovers_an_exact_polynomial():
    x = 1 / np.array([2.0, 3, 4, 6, 9, 13, 20])
    a, se, chi2 = stats.extrapolated_limit(x, 1.5 + 0.3 * x - 0.2 * x**2, 0.01, orders=(1.0, 2.0))
    assert a == pytest.approx(1.5, abs=1e-12) and se > 0 and chi2 < 1e-20
    with pytest.raises(ValueError, match="decade"):
        stats.extrapolated_limit(x[:3], x[:3], 0.1)


def test_non_increasing():
    se = np.full(5, 0.01)
    assert stats.non_increasing("falls", [5.0, 4, 3, 2, 1], se, alpha=1e-3).passed
    assert stats.non_increasing("flat within noise", [1.0, 1.01, 1.0, 0.99, 1.0], se, alpha=1e-3).passed
    check = stats.non_increasing("rises", [1.0, 1.2, 1.3, 1.1, 1.0], se, alpha=1e-3)
    assert not check.passed and "1 -> 2" not in check.detail and "0 -> 1" in check.detail
    with pytest.raises(ValueError, match="positive SEs"):
        stats.non_increasing("x", [1.0, 2.0], [0.0, 1.0], alpha=1e-3)
