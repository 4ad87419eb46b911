"""Online gradient descent on the per-token regression loss of a fast-weight memory (JAX, float64).

The memory S (d_v x d_k) sees, at token t, micro-steps j = 0..n_h-1 with key k[t, j], value v[t, j] and step
size beta[t, j], and takes one gradient step on the loss 1/2 ||S k - v||^2 per micro-step, the gradient taken
by automatic differentiation (jax.grad), not from a formula. The read-out is o_t = S_t q_t after token t's
steps. n_h = 1 is the setting of DeltaNet, n_h > 1 that of DeltaProduct (Yang et al. 2024, arXiv:2406.06484;
Siems et al. 2025, arXiv:2502.10297). Computes in float64 inside ``jax.enable_x64(True)`` (the global flag is
left alone).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from dltheory.theory._validate import integer_at_least

__all__ = ["online_gd", "token_transition"]

MAX_ELEMENTS = 10**8  # cap on L * n_h * d_v * d_k work per call


def _array(name: str, value, ndim: int) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype.kind not in "iuf" or arr.ndim != ndim:
        raise ValueError(f"{name} must be a real {ndim}-D array, got dtype {arr.dtype}, shape {arr.shape}")
    arr = arr.astype(float)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite")
    return arr


def _loss(S, k, v):
    r = S @ k - v
    return 0.5 * jnp.dot(r, r)


_grad = jax.grad(_loss)


@functools.partial(jax.jit, static_argnums=(4,))
def _run(S0, k, v, beta, n_h):
    def step(S, kvb):
        kt, vt, bt = kvb
        S = S - bt * _grad(S, kt, vt)
        return S, S

    S, states = jax.lax.scan(step, S0, (k, v, beta))
    return S, states[n_h - 1 :: n_h]


def online_gd(k, v, beta, q=None, S0=None) -> tuple[np.ndarray, np.ndarray]:
    """Run online GD over a sequence. ``k`` (L, n_h, d_k), ``v`` (L, n_h, d_v), ``beta`` (L, n_h) (any real
    steps), ``q`` (L, d_k) or None, ``S0`` (d_v, d_k) or None (zeros). Returns (states after each token,
    shape (L, d_v, d_k); outputs o_t = S_t q_t, shape (L, d_v), or None when q is None)."""
    k, v, beta = _array("k", k, 3), _array("v", v, 3), _array("beta", beta, 2)
    L, n_h, d_k = k.shape
    if min(L, n_h, d_k, v.shape[-1]) == 0:
        raise ValueError(f"k and v must be non-empty, got shapes {k.shape}, {v.shape}")
    if v.shape[:2] != (L, n_h) or beta.shape != (L, n_h):
        raise ValueError(f"k {k.shape}, v {v.shape} and beta {beta.shape} must share the axes (L, n_h)")
    d_v = v.shape[-1]
    if L * n_h * d_v * d_k > MAX_ELEMENTS:
        raise ValueError(f"L * n_h * d_v * d_k = {L * n_h * d_v * d_k} exceeds the cap {MAX_ELEMENTS}")
    if q is not None:
        q = _array("q", q, 2)
        if q.shape != (L, d_k):
            raise ValueError(f"q must have shape (L, d_k) = {(L, d_k)}, got {q.shape}")
    S0 = np.zeros((d_v, d_k)) if S0 is None else _array("S0", S0, 2)
    if S0.shape != (d_v, d_k):
        raise ValueError(f"S0 must have shape (d_v, d_k) = {(d_v, d_k)}, got {S0.shape}")
    with jax.enable_x64(True):
        _, states = _run(
            jnp.asarray(S0),
            jnp.asarray(k.reshape(L * n_h, d_k)),
            jnp.asarray(v.reshape(L * n_h, d_v)),
            jnp.asarray(beta.reshape(-1)),
            n_h,
        )
        states = np.asarray(states)
    if not np.all(np.isfinite(states)):
        raise FloatingPointError("online_gd: the memory diverged (steps beta outside the stable range?)")
    return states, (None if q is None else np.einsum("tvk,tk->tv", states, q))


def token_transition(k, beta) -> np.ndarray:
    """The linear part A of one token's map S -> S A + c under online GD with micro-step keys ``k`` (n_h, d_k)
    and steps ``beta`` (n_h,), measured as the Jacobian (jax.jacfwd) of that map for a single memory row."""
    k, beta = _array("k", k, 2), _array("beta", beta, 1)
    n_h = integer_at_least("n_h (rows of k)", k.shape[0], 1)
    if beta.shape != (n_h,) or k.shape[1] == 0:
        raise ValueError(f"beta must have shape (n_h,) = {(n_h,)} and k a non-empty row length, got {beta.shape}")
    with jax.enable_x64(True):
        J = np.asarray(_jacobian(jnp.asarray(k), jnp.asarray(beta), n_h))  # J[j, i] = d s'_j / d s_i = A[i, j]
    return J.T


@functools.partial(jax.jit, static_argnums=(2,))
def _jacobian(k, beta, n_h):
    def token_map(s):
        return _run(s[None, :], k, jnp.zeros((n_h, 1), k.dtype), beta, n_h)[0][0]

    return jax.jacfwd(token_map)(jnp.zeros(k.shape[1], k.dtype))
