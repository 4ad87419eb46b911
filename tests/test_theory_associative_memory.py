"""Unit tests of dltheory.theory.associative_memory: exact sums, asymptotics, exponents, bad input."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import zeta

from dltheory.theory import associative_memory as th


def test_zipf_is_normalised_and_decreasing():
    p = th.zipf(50, 1.5)
    assert p.sum() == pytest.approx(1.0, abs=1e-14) and np.all(np.diff(p) < 0)
    assert p[0] / p[1] == pytest.approx(2**1.5, rel=1e-14)


def test_seen_memory_error_limits():
    p = th.zipf(30, 2.0)
    e = th.seen_memory_error([0, 1, 5], p, 4)
    assert e[0] == pytest.approx(0.75, rel=1e-14)  # nothing seen: right by chance 1/M
    assert e[1] == pytest.approx(0.75 * (1 - p @ p), rel=1e-12)  # one sample: missing mass 1 - sum p^2
    assert e[2] == pytest.approx(0.75 * sum(pi * (1 - pi) ** 5 for pi in p), rel=1e-12)


def test_missing_mass_asymptotics():
    """For N >> T^{1/alpha}, the exact missing mass approaches the Gamma-function law (relative error -> 0)."""
    alpha, T = 3.0, np.array([1e3, 1e6])
    p = th.zipf(100_000, alpha)
    ratio = th.seen_memory_error(T, p, 100) / 0.99 / th.missing_mass_asymptotic(T, alpha)
    assert abs(ratio[1] - 1) < abs(ratio[0] - 1) < 0.1 and abs(ratio[1] - 1) < 0.02


@settings(max_examples=20, deadline=None, derandomize=True)
@given(st.floats(1.1, 5.0))
def test_exponents(alpha):
    assert th.sample_exponent(alpha) == pytest.approx(-(alpha - 1) / alpha)
    assert th.frequency_memory_exponent(alpha) == pytest.approx(th.sample_exponent(alpha) / 2)


def test_frequency_memory_error_decays_with_the_predicted_slope():
    p = th.zipf(20000, 2.0)
    d = np.array([1e6, 1e8])
    e = th.frequency_memory_error(d, p)
    assert np.all(np.diff(e) < 0) and e[0] < 0.5
    slope = np.log(e[1] / e[0]) / np.log(d[1] / d[0])
    assert slope == pytest.approx(th.frequency_memory_exponent(2.0), abs=0.02)
    assert th.frequency_memory_error(1.0, np.array([0.5, 0.5]))[0] == pytest.approx(0.5 * (1 - 0.8413447460685429) * 2)


def test_zeta_constant_in_asymptotic_law():
    assert th.missing_mass_asymptotic(1.0, 2.0) == pytest.approx(np.sqrt(np.pi) / (2 * np.sqrt(zeta(2.0))))


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: th.zipf(1, 2.0), "N must"),
        (lambda: th.zipf(10, 1.0), "alpha"),
        (lambda: th.zipf(10.0, 2.0), "N must"),
        (lambda: th.sample_exponent(True), "alpha"),
        (lambda: th.frequency_memory_exponent(None), "alpha"),
        (lambda: th.seen_memory_error(10, [0.5, 0.6], 2), "sum to 1"),
        (lambda: th.seen_memory_error(-1, [0.5, 0.5], 2), "T"),
        (lambda: th.seen_memory_error(1, [0.5, 0.5], 1), "M must"),
        (lambda: th.missing_mass_asymptotic(0, 2.0), "T"),
        (lambda: th.frequency_memory_error(0.5, [0.5, 0.5]), "d"),
        (lambda: th.frequency_memory_error(10, [[0.5, 0.5]]), "p must"),
    ],
)
def test_bad_input_raises(call, match):
    with pytest.raises(ValueError, match=match):
        call()
