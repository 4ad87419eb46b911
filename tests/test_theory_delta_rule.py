"""Unit tests of dltheory.theory.delta_rule: the recurrence against explicit matrices, the chunkwise form, the WY
representation and UT transform, DeltaProduct, the Householder spectrum, bad input."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dltheory.theory import delta_rule as th

TOL = 1e-12  # float64 round-off over <= 40 non-expansive steps of dimension <= 6


def _data(seed, L, d_k, d_v, n_h=None):
    rng = np.random.default_rng(seed)
    shape = (L,) if n_h is None else (L, n_h)
    k = rng.standard_normal((*shape, d_k))
    k /= np.linalg.norm(k, axis=-1, keepdims=True)
    return rng.standard_normal((L, d_k)), k, rng.standard_normal((*shape, d_v)), rng.uniform(0, 2, shape)


def _naive(q, k, v, beta, S):
    O = []
    for qt, kt, vt, bt in zip(q, k, v, beta):
        S = S @ (np.eye(k.shape[1]) - bt * np.outer(kt, kt)) + bt * np.outer(vt, kt)
        O.append(S @ qt)
    return np.array(O), S


def test_recurrent_matches_explicit_householder_matrices():
    q, k, v, b = _data(0, 30, 5, 3)
    S0 = np.random.default_rng(1).standard_normal((3, 5))
    O, S = th.delta_rule_recurrent(q, k, v, b, S0)
    On, Sn = _naive(q, k, v, b, S0)
    np.testing.assert_allclose(O, On, atol=TOL)
    np.testing.assert_allclose(S, Sn, atol=TOL)


@settings(max_examples=30, deadline=None, derandomize=True)
@given(st.integers(1, 40), st.integers(1, 6), st.integers(1, 4), st.integers(1, 50), st.integers(0, 10**6))
def test_chunkwise_equals_recurrent(L, d_k, d_v, C, seed):
    q, k, v, b = _data(seed, L, d_k, d_v)
    S0 = np.random.default_rng(seed + 1).standard_normal((d_v, d_k))
    O, S = th.delta_rule_chunkwise(q, k, v, b, C, S0)
    Or, Sr = th.delta_rule_recurrent(q, k, v, b, S0)
    np.testing.assert_allclose(O, Or, atol=TOL)
    np.testing.assert_allclose(S, Sr, atol=TOL)


def test_wy_representation_and_ut_transform():
    _, k, _, b = _data(2, 7, 5, 1)
    W = th.wy_representation(k, b)
    np.testing.assert_allclose(np.eye(5) - W.T @ k, th.householder_product(k, b), atol=TOL)
    T = th.ut_transform(k, b)
    np.testing.assert_allclose((np.eye(7) + np.tril(b[:, None] * (k @ k.T), -1)) @ T, np.diag(b), atol=TOL)
    w = np.zeros_like(k)  # the paper's recursion w_t = beta_t (k_t - sum_{i<t} (k_i . k_t) w_i)
    for t in range(7):
        w[t] = b[t] * (k[t] - sum((k[i] @ k[t]) * w[i] for i in range(t)))
    np.testing.assert_allclose(W, w, atol=TOL)


def test_householder_product_order():
    _, k, _, b = _data(3, 3, 4, 1)
    A = [np.eye(4) - bj * np.outer(kj, kj) for kj, bj in zip(k, b)]
    np.testing.assert_allclose(th.householder_product(k, b), A[0] @ A[1] @ A[2], atol=TOL)


def test_deltaproduct_is_the_delta_rule_on_micro_steps():
    q, k, v, b = _data(4, 12, 5, 3, n_h=3)
    O, S = th.deltaproduct_recurrent(q, k, v, b)
    flat_q = np.repeat(q, 3, axis=0)
    Of, Sf = th.delta_rule_recurrent(flat_q, k.reshape(36, 5), v.reshape(36, 3), b.reshape(36))
    np.testing.assert_allclose(O, Of[2::3], atol=TOL)
    np.testing.assert_allclose(S, Sf, atol=TOL)
    O1, _ = th.deltaproduct_recurrent(q, k[:, :1], v[:, :1], b[:, :1])
    np.testing.assert_allclose(O1, th.delta_rule_recurrent(q, k[:, 0], v[:, 0], b[:, 0])[0], atol=TOL)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(st.floats(0.0, 2.0), st.integers(1, 6), st.integers(0, 10**6))
def test_householder_eigenvalues(beta, d_k, seed):
    k = np.random.default_rng(seed).standard_normal((1, d_k))
    k /= np.linalg.norm(k)
    ev = np.linalg.eigvalsh(th.householder_product(k, [beta]))
    np.testing.assert_allclose(ev, np.sort(th.householder_eigenvalues(beta, d_k)), atol=1e-13)
    assert np.all(np.abs(ev) <= 1 + 1e-13)


def test_products_are_non_expansive():
    _, k, _, b = _data(5, 1, 6, 1, n_h=5)
    assert np.linalg.norm(th.householder_product(k[0], b[0]), 2) <= 1 + 1e-13


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda q, k, v, b: th.delta_rule_recurrent(q, k, v[:-1], b), "share"),
        (lambda q, k, v, b: th.delta_rule_recurrent(q[:, :-1], k, v, b), "q must"),
        (lambda q, k, v, b: th.delta_rule_recurrent(q, k, v, b * np.nan), "beta must be finite"),
        (lambda q, k, v, b: th.delta_rule_recurrent(q, k, v, b, np.zeros((2, 2))), "S0"),
        (lambda q, k, v, b: th.delta_rule_chunkwise(q, k, v, b, 0), "chunk_size"),
        (lambda q, k, v, b: th.delta_rule_chunkwise(q, k, v, b, True), "chunk_size"),
        (lambda q, k, v, b: th.deltaproduct_recurrent(q, k, v, b), "k must be a real 3-D"),
        (lambda q, k, v, b: th.householder_eigenvalues("1", 3), "beta"),
        (lambda q, k, v, b: th.householder_eigenvalues(1.0, 0), "d_k"),
        (lambda q, k, v, b: th.ut_transform(k.astype(complex), b), "k must be a real"),
    ],
)
def test_invalid_input(call, match):
    q, k, v, b = _data(6, 4, 3, 2)
    with pytest.raises(ValueError, match=match):
        call(q, k, v, b)
