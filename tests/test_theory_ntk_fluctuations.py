"""Unit tests of dltheory.theory.ntk_fluctuations: exact values, first-order consistency, bad input."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dltheory.theory import ntk_fluctuations as th


def test_one_hidden_layer_by_hand():
    """L = 1: terms Theta_1 (backward only) and Theta_2 (forward only): ((1+5/n) + (1+5/n) + 2 (1+1/n)) / 4."""
    n = 7
    assert th.relu_ntk_ratio([n]) == pytest.approx((2 * (1 + 5 / n) + 2 * (1 + 1 / n)) / 4, rel=1e-14)


def test_equal_cross_and_same_constants_give_a_single_product():
    """c_cross = c_same: every pair carries prod (1 + c/n_i) over all layers."""
    w = [5, 9, 3]
    assert th.relu_ntk_ratio(w, c_cross=5.0) == pytest.approx(np.prod(1 + 5 / np.array(w)), rel=1e-13)


@given(st.integers(1, 40))
@settings(max_examples=30, deadline=None)
def test_coefficient_is_the_first_order_term_of_the_ratio(L):
    n = 10**6
    first_order = n * (th.relu_ntk_ratio([n] * L) - 1)
    assert first_order == pytest.approx(th.relu_ntk_variance_coefficient(L), rel=1e-4)


def test_coefficient_limits():
    assert th.relu_ntk_variance_coefficient(1) == pytest.approx(3.0, rel=1e-15)
    assert th.relu_ntk_variance_coefficient(10**5) / 10**5 == pytest.approx(11 / 3, rel=1e-4)
    assert th.relu_ntk_variance_coefficient(4, c_same=5.0, c_cross=5.0) == pytest.approx(20.0, rel=1e-15)


@given(st.lists(st.integers(1, 50), min_size=1, max_size=6))
@settings(max_examples=30, deadline=None)
def test_ratio_is_between_the_cross_and_same_products(widths):
    n = np.array(widths, float)
    r = th.relu_ntk_ratio(widths)
    assert np.prod(1 + 1 / n) - 1e-12 <= r <= np.prod(1 + 5 / n) + 1e-12


@pytest.mark.parametrize(
    "call",
    [
        lambda: th.relu_ntk_ratio([]),
        lambda: th.relu_ntk_ratio([0, 4]),
        lambda: th.relu_ntk_ratio([2.5]),
        lambda: th.relu_ntk_ratio([True]),
        lambda: th.relu_ntk_ratio([4], c_same=-1.0),
        lambda: th.relu_ntk_ratio([4], c_cross=math.nan),
        lambda: th.relu_ntk_variance_coefficient(0),
        lambda: th.relu_ntk_variance_coefficient(2.0),
        lambda: th.relu_ntk_variance_coefficient(None),
        lambda: th.relu_ntk_variance_coefficient(3, c_same="5"),
    ],
)
def test_bad_input_raises(call):
    with pytest.raises(ValueError):
        call()


def test_widths_must_be_a_sequence():
    with pytest.raises(TypeError):
        th.relu_ntk_ratio("16")
    with pytest.raises(TypeError):
        th.relu_ntk_ratio(16)
