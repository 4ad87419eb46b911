"""Unit tests of dltheory.theory.memorisation: Zhang et al.'s construction, its round-off bound, bad input."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dltheory.theory import memorisation as th


@settings(max_examples=30)
@given(st.integers(1, 60), st.integers(1, 8), st.integers(0, 2**31))
def test_interpolates_random_labels_within_the_bound(n, d, seed):
    g = np.random.default_rng(seed)
    z, y = g.standard_normal((n, d)), g.standard_normal(n)
    net = th.memorising_network(z, y)
    assert net.n_weights == 2 * n + d
    err = np.abs(th.relu_network(z, *net) - y)
    assert np.all(err <= th.interpolation_error_bound(z, *net))


def test_structure_of_the_construction():
    g = np.random.default_rng(1)
    z, y = g.standard_normal((20, 3)), g.standard_normal(20)
    net = th.memorising_network(z, y)
    xs = np.sort(z @ net.a)
    assert np.all(net.b < xs) and np.all(xs[:-1] < net.b[1:])  # b_1 < x_1 < b_2 < ... < b_n < x_n
    A = th.first_layer_matrix(xs, net.b)
    assert np.array_equal(A, np.tril(A)) and np.all(np.diag(A) > 0)
    np.testing.assert_allclose(A @ net.w, y[np.argsort(z @ net.a)], atol=1e-12)
    assert abs(np.linalg.norm(net.a) - 1) < 1e-15 and np.array_equal(net.a, th.generic_direction(3))


def test_custom_direction_and_one_point():
    net = th.memorising_network([[2.0, 0.0]], [3.0], a=[1.0, 0.0])
    assert net.b[0] == 1.5 and th.relu_network([[2.0, 0.0]], *net)[0] == pytest.approx(3.0, rel=1e-15)


def test_interleaved_biases_midpoints():
    np.testing.assert_array_equal(th.interleaved_biases([0.0, 1.0, 3.0]), [-0.5, 0.5, 2.0])


@pytest.mark.parametrize(
    "call",
    [
        lambda: th.memorising_network([[1.0, 2.0], [1.0, 2.0]], [0.0, 1.0]),  # repeated points
        lambda: th.memorising_network([[1.0, 0.0], [0.0, 1.0]], [0.0, 1.0], a=[1.0, 1.0]),  # colliding projections
        lambda: th.memorising_network([[1.0, 2.0]], [0.0, 1.0]),
        lambda: th.memorising_network([[1.0, 2.0]], [0.0], a=[0.0, 0.0]),
        lambda: th.memorising_network([1.0, 2.0], [0.0, 1.0]),
        lambda: th.memorising_network([[np.nan, 2.0]], [0.0]),
        lambda: th.memorising_network(None, [0.0]),
        lambda: th.memorising_network([[True, False]], [0.0]),
        lambda: th.interleaved_biases([1.0, 1.0]),
        lambda: th.relu_network([[1.0, 2.0]], [1.0], [0.0], [1.0]),
        lambda: th.generic_direction(0),
        lambda: th.interpolation_error_bound([[1.0]], [1.0], [0.0, 1.0], [1.0]),
    ],
)
def test_invalid_input_raises(call):
    with pytest.raises((ValueError, TypeError)):
        call()
