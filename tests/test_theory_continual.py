"""Unit tests of dltheory.theory.continual: exact special cases, invariances, bad input."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dltheory.theory import continual as th


def _truths(T, p, seed):
    return np.random.default_rng(seed).standard_normal((T, p))


def test_single_task_is_one_projection():
    """T = 1: E||w_1 - w*||^2 = (1 - n/p) ||w*||^2 + n sigma^2 / (p - n - 1) (projection and inverse Wishart)."""
    w = _truths(1, 30, 0)
    got = th.expected_model_error(w, 10, sigma=0.7)[0, 0]
    assert got == pytest.approx((1 - 10 / 30) * w[0] @ w[0] + 10 * 0.49 / 19, rel=1e-12)


def test_identical_tasks_decay_geometrically_and_forgetting_is_negative():
    w = np.tile(_truths(1, 20, 1), (4, 1))
    L = th.expected_model_error(w, 5)
    r = 1 - 5 / 20
    np.testing.assert_allclose(L, np.outer(r ** np.arange(1, 5), w[:, 0] * 0 + w[0] @ w[0]), rtol=1e-12)
    assert th.expected_forgetting(w, 5) < 0  # repeating a task only helps (backward transfer)


def test_generalization_and_forgetting_from_the_error_matrix():
    w = _truths(5, 40, 2)
    L = th.expected_model_error(w, 12, sigma=0.3)
    assert th.expected_generalization_error(w, 12, 0.3) == pytest.approx(L[-1].mean(), rel=1e-14)
    assert th.expected_forgetting(w, 12, 0.3) == pytest.approx(np.mean(L[-1, :4] - np.diag(L)[:4]), rel=1e-14)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(st.integers(1, 5), st.integers(1, 6), st.integers(2, 9), st.floats(0.0, 2.0))
def test_rotation_invariance_and_order_of_noise(T, n, extra, sigma):
    p = n + extra
    w = _truths(T, p, T * 100 + p)
    Q, _ = np.linalg.qr(np.random.default_rng(p).standard_normal((p, p)))
    a = th.expected_model_error(w, n, sigma)
    np.testing.assert_allclose(a, th.expected_model_error(w @ Q, n, sigma), rtol=1e-10, atol=1e-12)
    assert np.all(a >= th.expected_model_error(w, n, 0.0) - 1e-12)  # noise only adds error


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(w_star=np.ones((3, 10)), n=10), "p >= 11"),
        (dict(w_star=np.ones((3, 11)), n=10, sigma=0.1), "p >= 12"),
        (dict(w_star=np.ones((3, 10)), n=True), "n must"),
        (dict(w_star=None, n=2), "w_star"),
        (dict(w_star=np.ones(10), n=2), "w_star"),
        (dict(w_star=np.full((2, 10), np.nan), n=2), "w_star"),
        (dict(w_star=np.ones((2, 10)), n=2, sigma=-1.0), "sigma"),
        (dict(w_star=np.ones((2, 10)), n=2, sigma="0"), "sigma"),
    ],
)
def test_bad_input_raises(kwargs, match):
    for fn in (th.expected_model_error, th.expected_generalization_error, th.expected_forgetting):
        with pytest.raises(ValueError, match=match):
            fn(**kwargs)


def test_forgetting_needs_two_tasks():
    with pytest.raises(ValueError, match=">= 2 rows"):
        th.expected_forgetting(np.ones((1, 10)), 2)
