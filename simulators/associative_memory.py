"""Outer-product associative memories with random embeddings (the model of Cabannes, Dohmatob & Bietti 2023,
arXiv:2310.02984): W = sum_x q(x) u_{f(x)} e_x^T, prediction argmax_y u_y^T W e_x, error sum_x p(x) 1{wrong}.

Embeddings e_x (x = 1..N) and u_y (y = 1..M) are i.i.d. N(0, I_d / d). The scores u_y^T W e_x = sum_x'
(U^T U)[y, f(x')] q(x') (E^T E)[x', x] depend on the embeddings only through their Gram matrices, which are
Wishart(d, I / d); they are sampled exactly in law by the Bartlett decomposition when d >= N (cost O(N^3), free of
d), else from explicit embeddings. :func:`memory_error_naive` builds W from explicit embeddings (the reference).
"""

from __future__ import annotations

import numpy as np

from dltheory.theory._validate import (
    MAX_ELEMENTS,
    MAX_SAMPLES,
    MAX_WIDTH,
    generator,
    integer_at_least,
    real_array,
)

__all__ = ["sample_counts", "wishart_gram", "memory_error", "memory_error_naive"]


def _probabilities(p) -> np.ndarray:
    p = real_array("p", p, ndim=1, min_size=2, lower=0.0)
    if abs(p.sum() - 1.0) > 1e-9:
        raise ValueError(f"p must sum to 1 (to 1e-9), got {p.sum()!r}")
    return p


def sample_counts(p, T: int, *, n_sets: int, seed) -> np.ndarray:
    """Token counts of ``n_sets`` independent data sets of T i.i.d. draws from p: int array (n_sets, N)."""
    p = _probabilities(p)
    T = integer_at_least("T", T, 0, upper=MAX_SAMPLES)
    n_sets = integer_at_least("n_sets", n_sets, 1, upper=MAX_SAMPLES)
    if n_sets * p.size > MAX_ELEMENTS:
        raise ValueError(f"n_sets * N must be <= {MAX_ELEMENTS}, got {n_sets * p.size}")
    return generator("seed", seed).multinomial(T, p / p.sum(), size=n_sets)


def wishart_gram(n: int, d: int, *, seed) -> np.ndarray:
    """The Gram matrix E^T E of n embeddings in R^d with i.i.d. N(0, 1/d) entries, exact in law (Bartlett
    decomposition L L^T / d, L_ii^2 ~ chi^2_{d-i}, L_ij ~ N(0, 1) below the diagonal, when d >= n)."""
    n = integer_at_least("n", n, 1, upper=MAX_WIDTH)
    d = integer_at_least("d", d, 1, upper=10**9)
    rng = generator("seed", seed)
    if d >= n:
        L = np.tril(rng.standard_normal((n, n)), -1)
        L[np.diag_indices(n)] = np.sqrt(rng.chisquare(d - np.arange(n)))
        return L @ L.T / d
    if d * n > MAX_ELEMENTS:
        raise ValueError(f"d * n must be <= {MAX_ELEMENTS} when d < n, got {d * n}")
    E = rng.standard_normal((d, n)) / np.sqrt(d)
    return E.T @ E


def _validated(p, q, d, M, n_memories):
    p = _probabilities(p)
    q = real_array("q", q, ndim=(1, 2), lower=0.0)
    if q.shape[-1] != p.size:
        raise ValueError(f"q must have N = {p.size} entries per memory (last axis), got shape {q.shape}")
    d = integer_at_least("d", d, 1, upper=10**9)
    M = integer_at_least("M", M, 2, upper=MAX_WIDTH)
    n_memories = integer_at_least("n_memories", n_memories, 1, upper=MAX_SAMPLES)
    if q.ndim == 2 and q.shape[0] != n_memories:
        raise ValueError(f"q of shape {q.shape} needs one row per memory (n_memories = {n_memories})")
    return p, np.broadcast_to(q, (n_memories, p.size)), d, M, n_memories


def memory_error(p, q, d: int, M: int, *, n_memories: int, seed) -> np.ndarray:
    """Errors sum_x p(x) 1{argmax_y u_y^T W e_x != f(x)} of ``n_memories`` independent memories (fresh embeddings and
    a fresh uniform f: [N] -> [M] each). ``q``: weights (N,) shared, or (n_memories, N), e.g. 1{seen} per data set.
    Ties (e.g. all-zero scores) go to the lowest class, like numpy's argmax."""
    p, q, d, M, n_memories = _validated(p, q, d, M, n_memories)
    N = p.size
    rng = generator("seed", seed)
    out = np.empty(n_memories)
    for m in range(n_memories):
        f = rng.integers(0, M, N)
        G, H = wishart_gram(N, d, seed=rng), wishart_gram(M, d, seed=rng)
        scores = H[:, f] @ (q[m][:, None] * G)  # (M, N): u_y^T W e_x
        out[m] = p @ (scores.argmax(axis=0) != f)
    return out


def memory_error_naive(p, q, d: int, M: int, *, n_memories: int, seed) -> np.ndarray:
    """The same errors from explicit embeddings and W (d x d): the O(d^2 N) reference for memory_error."""
    p, q, d, M, n_memories = _validated(p, q, d, M, n_memories)
    N = p.size
    if d * (N + M + d) > MAX_ELEMENTS:
        raise ValueError(f"d * (N + M + d) must be <= {MAX_ELEMENTS}, got {d * (N + M + d)}")
    rng = generator("seed", seed)
    out = np.empty(n_memories)
    for m in range(n_memories):
        f = rng.integers(0, M, N)
        E = rng.standard_normal((d, N)) / np.sqrt(d)
        U = rng.standard_normal((d, M)) / np.sqrt(d)
        W = (U[:, f] * q[m]) @ E.T
        out[m] = p @ ((U.T @ W @ E).argmax(axis=0) != f)
    return out
