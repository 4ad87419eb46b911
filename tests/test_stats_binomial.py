"""verify.stats.binomial_exceeds and binomial_within (exact one-sided binomial decisions, grok.frequency_lottery)."""

from __future__ import annotations

import pytest
from scipy import stats as sps

from dltheory.verify import stats


def test_binomial_exceeds_is_the_one_sided_exact_test():
    check = stats.binomial_exceeds("x", 40, 100, 0.2, alpha=1e-3)
    assert check.passed and check.statistic == pytest.approx(sps.binom.sf(39, 100, 0.2), rel=1e-12)
    assert not stats.binomial_exceeds("x", 25, 100, 0.2, alpha=1e-3).passed  # above chance, not significantly


def test_binomial_within_band():
    assert stats.binomial_within("x", 98, 100, 0.95, 1.0, alpha=1e-3, reason="r").passed
    assert not stats.binomial_within("x", 70, 100, 0.95, 1.0, alpha=1e-3, reason="r").passed  # too few
    assert not stats.binomial_within("x", 100, 100, 0.5, 0.6, alpha=1e-3, reason="r").passed  # too many
    check = stats.binomial_within("x", 90, 100, 0.85, 0.88, alpha=1e-3, reason="r")
    assert check.statistic == pytest.approx(min(sps.binom.cdf(90, 100, 0.85), sps.binom.sf(89, 100, 0.88)), rel=1e-12)
    with pytest.raises(ValueError, match="lower <= upper <= 1"):
        stats.binomial_within("x", 9, 10, 0.9, 1.1, alpha=1e-3, reason="r")
