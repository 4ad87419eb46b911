"""Unit tests of dltheory.theory.early_learning: the first-step accuracy against its Monte Carlo definition, regime
conditions, bad input."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dltheory.theory import early_learning as th


@pytest.mark.parametrize("n, p, sigma, Delta", [(100, 400, 0.3, 0.2), (40, 7, 0.8, 0.1), (60, 300, 0.5, 0.3)])
def test_first_step_accuracy_matches_its_representation(n, p, sigma, Delta):
    """P(S a + sigma ||x|| sqrt(n - 1) Z > ||x||^2) by Monte Carlo (z at 4.4 SE)."""
    rng = np.random.default_rng(0)
    m = 200_000
    k = round(Delta * n)
    a = 1 + sigma * rng.standard_normal(m)
    norm2 = a**2 + sigma**2 * rng.chisquare(p - 1, m)
    hit = ((n - 1) - 2 * (k - 1)) * a + sigma * np.sqrt(norm2 * (n - 1)) * rng.standard_normal(m) > norm2
    se = np.sqrt(hit.mean() * (1 - hit.mean()) / m)
    assert abs(hit.mean() - th.first_step_flipped_accuracy(n, p, sigma, Delta)) < 4.4 * se + 1e-6


def test_first_step_accuracy_is_monotone():
    acc = [th.first_step_flipped_accuracy(100, 400, s, 0.2) for s in (0.1, 0.2, 0.3, 0.5, 1.0)]
    assert np.all(np.diff(acc) < 0) and acc[0] > 0.999 and acc[-1] < 0.1
    assert th.first_step_flipped_accuracy(400, 400, 0.5, 0.2) > th.first_step_flipped_accuracy(100, 400, 0.5, 0.2)


@settings(max_examples=30, deadline=None, derandomize=True)
@given(st.integers(50, 400), st.integers(5, 2000), st.floats(0.05, 1.5), st.floats(0.02, 0.45))
def test_condition_agrees_with_accuracy_away_from_the_boundary(n, p, sigma, Delta):
    ratio = sigma**2 * p / (n * (1 - 2 * Delta))
    if 0.5 < ratio < 2.0:
        return
    acc = th.first_step_flipped_accuracy(n, p, sigma, Delta)
    assert th.early_learning_condition(n, p, sigma, Delta) == (ratio < 1)
    assert (acc > 0.5) == (ratio < 1)


def test_memorization_guaranteed():
    assert th.memorization_guaranteed(10, 10) and th.memorization_guaranteed(10, 50)
    assert not th.memorization_guaranteed(50, 10)


@pytest.mark.parametrize(
    "args, match",
    [
        ((100, 400, 0.3, 0.5), "Delta"),
        ((100, 400, 0.3, 0.0), "Delta"),
        ((10, 400, 0.3, 0.01), "Delta \\* n"),
        ((100, 400, 0.0, 0.2), "sigma"),
        ((100, 400, True, 0.2), "sigma"),
        ((1, 400, 0.3, 0.2), "n must"),
        ((100, 1.5, 0.3, 0.2), "p must"),
        ((100, 400, float("nan"), 0.2), "sigma"),
    ],
)
def test_bad_input_raises(args, match):
    for fn in (th.first_step_flipped_accuracy, th.early_learning_condition):
        with pytest.raises(ValueError, match=match):
            fn(*args)
    with pytest.raises(ValueError, match="p must"):
        th.memorization_guaranteed(10, None)
