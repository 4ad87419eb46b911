"""In-context learning by one gradient-descent step in a linear self-attention layer.

References
----------
- [vO23] J. von Oswald, E. Niklasson, E. Randazzo, J. Sacramento, A. Mordvintsev, A. Zhmoginov, M. Vladymyrov,
  "Transformers learn in-context by gradient descent", ICML 2023, arXiv:2212.07677, Prop. 1 (the construction).
- [A23] K. Ahn, X. Cheng, H. Daneshmand, S. Sra, "Transformers learn to implement preconditioned gradient descent
  for in-context learning", NeurIPS 2023, arXiv:2306.00297, Thm. 1 (the optimal single layer: preconditioned GD
  with preconditioner ((1 + 1/N) Sigma + tr(Sigma)/N I)^(-1), which is N/(N + d + 1) I for Sigma = I).

Conventions
-----------
- A task: w ~ N(0, I_d); context x_i ~ N(0, I_d), y_i = w . x_i (i = 1..N, noiseless); query x_q ~ N(0, I_d),
  target y_q = w . x_q. Tokens e_i = (x_i, y_i) in R^(d+1); the query token is (x_q, -w0 . x_q).
- In-context loss L(w) = 1/(2N) sum_i (w . x_i - y_i)^2 ([vO23]'s least-squares loss, scalar output); one GD step
  from w0:
  w1 = w0 - eta grad L(w0) = w0 - (eta/N) sum_i (w0 . x_i - y_i) x_i, prediction y_hat = w1 . x_q.
- Linear self-attention (LSA) as in [vO23], one head: e_j <- e_j + P W_V sum_{i=1..N} e_i (W_K e_i)^T (W_Q e_j),
  the sum over the N context tokens. The prediction is read out as MINUS the query token's updated y-slot.
- Risk: E[(y_hat - y_q)^2] over tasks, contexts and queries (no factor 1/2; E[y_q^2] = d sets its scale).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import sympy as sp

from dltheory.theory._validate import integer_at_least, positive, real_scalar

__all__ = [
    "LSAWeights",
    "lsa_gd_weights",
    "gd_step_prediction",
    "lsa_gd_risk",
    "lsa_optimal_step",
    "lsa_optimal_risk",
    "lsa_gd_risk_expr",
]


class LSAWeights(NamedTuple):
    """The four (d+1) x (d+1) matrices of a one-head LSA layer (key, query, value, projection)."""

    W_K: np.ndarray
    W_Q: np.ndarray
    W_V: np.ndarray
    P: np.ndarray


MAX_D = 10_000  # lsa_gd_weights builds (d+1) x (d+1) matrices


def _finite(value, name: str):
    """Raise FloatingPointError naming ``name`` when a result overflowed."""
    if not np.all(np.isfinite(value)):
        raise FloatingPointError(f"the result overflowed; {name} is too large for float64")
    return value


def _w0(w0, d: int) -> np.ndarray:
    if w0 is None:
        return np.zeros(d)
    arr = np.asarray(w0)
    if arr.dtype.kind not in "iuf" or arr.shape != (d,):
        raise ValueError(f"w0 must be a real vector of shape ({d},) or None, got {w0!r}")
    arr = arr.astype(float)
    if not np.all(np.isfinite(arr)):
        raise ValueError("w0 must be finite")
    return arr


def lsa_gd_weights(d, eta, N, w0=None) -> LSAWeights:
    """[vO23] Prop. 1: LSA weights whose layer output is one GD step on the in-context loss (module conventions).

    W_K = W_Q = [[I_d, 0], [0, 0]], W_V = [[0, 0], [w0^T, -1]], P = (eta/N) I_{d+1}. Then the y-slot of
    P W_V sum_i e_i (W_K e_i)^T W_Q e_j is (eta/N) sum_i (w0 . x_i - y_i) x_i . x_j = -(w1 - w0) . x_j, so the query
    token (x_q, -w0 . x_q) leaves with y-slot -w1 . x_q = -y_hat. ``d`` >= 1 input dimension, ``eta`` > 0 step,
    ``N`` >= 1 context length, ``w0`` the initial weights (default 0).
    """
    d = integer_at_least("d", d, 1)
    if d > MAX_D:
        raise ValueError(f"d must be an integer in [1, {MAX_D}], got {d}")
    eta = positive("eta", eta)
    N = integer_at_least("N", N, 1)
    w0 = _w0(w0, d)
    W_KQ = np.zeros((d + 1, d + 1))
    W_KQ[:d, :d] = np.eye(d)
    W_V = np.zeros((d + 1, d + 1))
    W_V[d, :d] = w0
    W_V[d, d] = -1.0
    return LSAWeights(W_KQ, W_KQ.copy(), W_V, eta / N * np.eye(d + 1))


def gd_step_prediction(x, y, x_q, eta, w0=None) -> np.ndarray:
    """One GD step from w0 on L(w) = 1/(2N) sum_i (w . x_i - y_i)^2, evaluated at the queries ([vO23]'s loss).

    ``x``: (..., N, d) contexts, ``y``: (..., N) labels, ``x_q``: (..., d) queries (leading axes: tasks).
    Returns y_hat = (w0 - (eta/N) sum_i (w0 . x_i - y_i) x_i) . x_q with shape x_q.shape[:-1].
    """
    eta = positive("eta", eta)
    x, y, x_q = (np.asarray(v) for v in (x, y, x_q))
    for name, v in (("x", x), ("y", y), ("x_q", x_q)):
        if v.dtype.kind not in "iuf" or not np.all(np.isfinite(v)):
            raise ValueError(f"{name} must be a finite real array")
    if x.ndim < 2 or 0 in x.shape:
        raise ValueError(f"x must be a non-empty array of shape (..., N, d), got {x.shape}")
    if y.shape != x.shape[:-1]:
        raise ValueError(f"y must have shape x.shape[:-1] = {x.shape[:-1]} (x: {x.shape}), got {y.shape}")
    if x_q.shape != x.shape[:-2] + x.shape[-1:]:
        raise ValueError(f"x_q must have shape {x.shape[:-2] + x.shape[-1:]} to match x {x.shape}, got {x_q.shape}")
    w0 = _w0(w0, x.shape[-1])
    N = x.shape[-2]
    residual = x @ w0 - y
    w1 = w0 - eta / N * np.einsum("...i,...ik->...k", residual, x)
    return _finite(np.einsum("...k,...k->...", w1, x_q), "eta")


def lsa_gd_risk(eta, N, d) -> float:
    """Risk E[(y_hat - y_q)^2] of one GD step of size ``eta`` from w0 = 0 (module conventions).

    Derivation. y_hat - y_q = x_q^T (eta S - I) w with S = (1/N) sum_i x_i x_i^T; averaging over x_q and w
    (independent, identity covariances) gives E tr[(eta S - I)^2] = eta^2 E tr S^2 - 2 eta E tr S + d. E S = I, and
    N S = X^T X is Wishart(N, I_d) (X: N x d, i.i.d. N(0, 1)): E[(X^T X)^2]_{jk} = sum_{l,a,b} E[x_aj x_al x_bl x_bk].
    Rows a = b contribute sum_a sum_l E[x_aj x_al^2 x_ak] = N (d + 2) delta_jk (E x^4 = 3); rows a != b contribute
    sum_{a != b} E[x_aj x_al] E[x_bl x_bk] = N (N - 1) delta_jk. So E (X^T X)^2 = N (N + d + 1) I_d,
    E tr S^2 = d (N + d + 1)/N and R(eta) = d [eta^2 (N + d + 1)/N - 2 eta + 1]. The +1 (the fourth moment's extra
    pairing) is what the plain-GD intuition eta = 1 and the slip E S^2 = (N + d)/N I miss.
    """
    eta = real_scalar("eta", eta)
    N = integer_at_least("N", N, 1)
    d = integer_at_least("d", d, 1)
    with np.errstate(over="ignore"):
        return float(_finite(d * (np.float64(eta) ** 2 * (N + d + 1) / N - 2 * eta + 1), "eta"))


def lsa_optimal_step(N, d) -> float:
    """Risk-minimising GD step eta* = N / (N + d + 1) (minimiser of :func:`lsa_gd_risk`; [A23] Thm. 1 at
    Sigma = I: the optimal single LSA layer is this GD step, preconditioner N/(N + d + 1) I)."""
    N = integer_at_least("N", N, 1)
    d = integer_at_least("d", d, 1)
    return N / (N + d + 1)


def lsa_optimal_risk(N, d) -> float:
    """Minimal risk R(eta*) = d - d N/(N + d + 1) = d (d + 1) / (N + d + 1) (normalisation E[(y_hat - y_q)^2],
    so R -> d = E[y_q^2] as N -> 0 and R ~ d (d + 1)/N for N >> d)."""
    N = integer_at_least("N", N, 1)
    d = integer_at_least("d", d, 1)
    return d * (d + 1) / (N + d + 1)


def lsa_gd_risk_expr() -> tuple[sp.Expr, tuple[sp.Symbol, sp.Symbol, sp.Symbol]]:
    """The risk d [eta^2 (N + d + 1)/N - 2 eta + 1] as a sympy expression in (eta, N, d)."""
    eta, N, d = sp.symbols("eta N d", positive=True)
    return d * (eta**2 * (N + d + 1) / N - 2 * eta + 1), (eta, N, d)
