"""The delta rule of linear transformers (DeltaNet) and its products of Householder matrices (DeltaProduct).

References
----------
- [YWZSK24] S. Yang, B. Wang, Y. Zhang, Y. Shen, Y. Kim, "Parallelizing Linear Transformers with the Delta Rule over
  Sequence Length", NeurIPS 2024, arXiv:2406.06484: sec. 2 (DeltaNet: S_t = S_{t-1}(I - beta_t k_t k_t^T)
  + beta_t v_t k_t^T, one step of online gradient descent on 1/2 ||S k_t - v_t||^2 with step beta_t), sec. 3.1
  (WY representation: prod_t (I - beta_t k_t k_t^T) = I - sum_t w_t k_t^T, S_t = sum_i u_i k_i^T), sec. 3.2
  (chunkwise parallel form; UT transform T = (I + tril(diag(beta) K K^T, -1))^-1 diag(beta), W = T K, U = T V).
- [SCFGHZ25] J. Siems et al., "DeltaProduct: Improving State-Tracking in Linear RNNs via Householder Products",
  2025, arXiv:2502.10297: n_h delta steps per token, so the token's transition is a product of n_h generalised
  Householder matrices; with ||k|| = 1 and beta in [0, 2] each factor has eigenvalues {1 - beta, 1} in [-1, 1]
  (Grazzi et al. 2024, arXiv:2411.12537, extend beta to [0, 2] for negative eigenvalues).

Conventions
-----------
Column vectors; the state S is d_v x d_k and the output o_t = S_t q_t. Sequences are row-stacked: q, k of shape
(L, d_k), v of shape (L, d_v), beta of shape (L,); DeltaProduct adds a micro-step axis: k (L, n_h, d_k),
v (L, n_h, d_v), beta (L, n_h). Products of transitions act from the right in time order:
S_t = S_0 A_1 ... A_t + ..., A_t = I - beta_t k_t k_t^T. The chunkwise form reproduces the recurrence exactly in
exact arithmetic; in float64 both agree to round-off that grows at most linearly in L (each transition is
non-expansive when ||k|| = 1, beta in [0, 2], so earlier round-off is not amplified).
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import solve_triangular

from dltheory.theory._validate import integer_at_least, real_scalar

__all__ = [
    "delta_rule_recurrent",
    "deltaproduct_recurrent",
    "delta_rule_chunkwise",
    "ut_transform",
    "wy_representation",
    "householder_product",
    "householder_eigenvalues",
]

MAX_ELEMENTS = 10**8  # cap on L * d_v * d_k work per call


def _array(name: str, value, ndim: int) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype.kind not in "iuf" or arr.ndim != ndim:
        raise ValueError(f"{name} must be a real {ndim}-D array, got dtype {arr.dtype}, shape {arr.shape}")
    arr = arr.astype(float)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite")
    return arr


def _sequence(q, k, v, beta, S0, micro: bool):
    """Validate (q, k, v, beta, S0); micro: k, v, beta carry an n_h axis."""
    extra = 1 if micro else 0
    k = _array("k", k, 2 + extra)
    v = _array("v", v, 2 + extra)
    beta = _array("beta", beta, 1 + extra)
    L, d_k = k.shape[0], k.shape[-1]
    if L == 0 or d_k == 0 or v.shape[-1] == 0 or (micro and k.shape[1] == 0):
        raise ValueError(f"k and v must be non-empty, got shapes {k.shape}, {v.shape}")
    if v.shape[:-1] != k.shape[:-1] or beta.shape != k.shape[:-1]:
        raise ValueError(f"k {k.shape}, v {v.shape} and beta {beta.shape} must share their leading axes")
    q = _array("q", q, 2)
    if q.shape != (L, d_k):
        raise ValueError(f"q must have shape (L, d_k) = {(L, d_k)}, got {q.shape}")
    d_v = v.shape[-1]
    S0 = np.zeros((d_v, d_k)) if S0 is None else _array("S0", S0, 2)
    if S0.shape != (d_v, d_k):
        raise ValueError(f"S0 must have shape (d_v, d_k) = {(d_v, d_k)}, got {S0.shape}")
    if k.size // d_k * d_v * d_k > MAX_ELEMENTS:
        raise ValueError(f"L * n_h * d_v * d_k = {k.size // d_k * d_v * d_k} exceeds the cap {MAX_ELEMENTS}")
    return q, k, v, beta, S0


def _keys(k, beta) -> tuple[np.ndarray, np.ndarray]:
    """Keys (C, d_k) and steps (C,) of one chunk or token."""
    k, beta = _array("k", k, 2), _array("beta", beta, 1)
    if k.size == 0:
        raise ValueError(f"k must be non-empty, got shape {k.shape}")
    if beta.shape != k.shape[:1]:
        raise ValueError(f"beta must have shape (rows of k,) = {k.shape[:1]}, got {beta.shape}")
    if k.size * k.shape[1] > MAX_ELEMENTS:
        raise ValueError(f"k.size * d_k = {k.size * k.shape[1]} exceeds the cap {MAX_ELEMENTS}")
    return k, beta


def _steps(k: np.ndarray, v: np.ndarray, beta: np.ndarray, S: np.ndarray):
    """Yield the state after each delta step S <- S (I - beta k k^T) + beta v k^T (S is updated in place)."""
    for kt, vt, bt in zip(k, v, beta):
        S += np.outer(bt * (vt - S @ kt), kt)
        yield S


def delta_rule_recurrent(q, k, v, beta, S0=None) -> tuple[np.ndarray, np.ndarray]:
    """DeltaNet, sequentially [YWZSK24, sec. 2]: S_t = S_{t-1} (I - beta_t k_t k_t^T) + beta_t v_t k_t^T,
    o_t = S_t q_t. Returns (O of shape (L, d_v), final state S_L of shape (d_v, d_k)); S0 defaults to 0."""
    q, k, v, beta, S = _sequence(q, k, v, beta, S0, micro=False)
    O = np.array([St @ qt for St, qt in zip(_steps(k, v, beta, S), q)])
    return O, S


def deltaproduct_recurrent(q, k, v, beta, S0=None) -> tuple[np.ndarray, np.ndarray]:
    """DeltaProduct [SCFGHZ25]: token t applies n_h delta steps with keys k[t, j], values v[t, j], steps
    beta[t, j] (j = 0..n_h-1), so S_t = S_{t-1} A_t + (terms in v) with A_t = prod_j (I - beta_tj k_tj k_tj^T);
    o_t = S_t q_t. n_h = 1 is DeltaNet. Returns (O (L, d_v), S_L)."""
    q, k, v, beta, S = _sequence(q, k, v, beta, S0, micro=True)
    L, n_h, d_k = k.shape
    states = _steps(k.reshape(L * n_h, d_k), v.reshape(L * n_h, -1), beta.reshape(-1), S)
    O = np.empty((L, v.shape[-1]))
    for i, St in enumerate(states):
        if i % n_h == n_h - 1:
            O[i // n_h] = St @ q[i // n_h]
    return O, S


def ut_transform(k, beta) -> np.ndarray:
    """T = (I + tril(diag(beta) K K^T, -1))^-1 diag(beta) [YWZSK24, sec. 3.2], K = ``k`` (C, d_k): the UT
    transform of a chunk, by a unit lower-triangular solve."""
    k, beta = _keys(k, beta)
    C = k.shape[0]
    A = np.tril(beta[:, None] * (k @ k.T), -1)
    return solve_triangular(np.eye(C) + A, np.diag(beta), lower=True, unit_diagonal=True)


def wy_representation(k, beta) -> np.ndarray:
    """W (rows w_t) with prod_{t=1..C} (I - beta_t k_t k_t^T) = I - sum_t w_t k_t^T [YWZSK24, sec. 3.1]:
    w_t = beta_t (k_t - sum_{i<t} (k_i^T k_t) w_i), i.e. W = T K with T the UT transform."""
    k, beta = _keys(k, beta)
    return ut_transform(k, beta) @ k


def delta_rule_chunkwise(q, k, v, beta, chunk_size: int, S0=None) -> tuple[np.ndarray, np.ndarray]:
    """DeltaNet in the chunkwise parallel form [YWZSK24, sec. 3.2]. Per chunk (rows K, V, Q, steps beta, state S
    at its start): T = UT transform, W = T K, U = T V, U' = U - W S^T (pseudo-values),
    O = Q S^T + (Q K^T * M) U' with M the inclusive causal mask, S <- S + U'^T K. Equal to
    :func:`delta_rule_recurrent` in exact arithmetic. Returns (O (L, d_v), S_L)."""
    q, k, v, beta, S = _sequence(q, k, v, beta, S0, micro=False)
    C = integer_at_least("chunk_size", chunk_size, 1)
    O = np.empty((k.shape[0], v.shape[1]))
    for c0 in range(0, k.shape[0], C):
        Kc, Vc, Qc, bc = k[c0 : c0 + C], v[c0 : c0 + C], q[c0 : c0 + C], beta[c0 : c0 + C]
        T = ut_transform(Kc, bc)
        U = T @ Vc - (T @ Kc) @ S.T
        O[c0 : c0 + C] = Qc @ S.T + np.tril(Qc @ Kc.T) @ U
        S = S + U.T @ Kc
    return O, S


def householder_product(k, beta) -> np.ndarray:
    """prod_{j} (I - beta_j k_j k_j^T) in the order given (the right factor last): the transition of one
    DeltaProduct token with micro-step keys ``k`` (n_h, d_k) and steps ``beta`` (n_h,) [SCFGHZ25]."""
    k, beta = _keys(k, beta)
    P = np.eye(k.shape[1])
    for kj, bj in zip(k, beta):
        P = P - bj * np.outer(P @ kj, kj)
    return P


def householder_eigenvalues(beta, d_k: int) -> np.ndarray:
    """Eigenvalues of I - beta k k^T with ||k|| = 1 in dimension d_k: 1 - beta (eigenvector k) and 1 (d_k - 1 times,
    the complement of k), ascending when beta > 0. For beta in [0, 2] they lie in [-1, 1] [SCFGHZ25; Grazzi et al.
    2024]."""
    beta = real_scalar("beta", beta)
    d_k = integer_at_least("d_k", d_k, 1)
    if d_k > MAX_ELEMENTS:
        raise ValueError(f"d_k must be <= {MAX_ELEMENTS}, got {d_k}")
    return np.array([1.0 - beta] + [1.0] * (d_k - 1))
