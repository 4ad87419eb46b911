"""Optimizer updates and random searches over norm balls, for steepest descent under a norm.

Adam (Kingma & Ba 2015, arXiv:1412.6980, Algorithm 1) and Shampoo (Gupta, Koren & Singer 2018, arXiv:1802.09568,
Algorithm 1, matrix case) as written by their authors, run on a sequence of gradients; both return the update
direction u_t of W_t = W_{t-1} - lr u_t. ``ball_norm`` evaluates the norms whose unit balls ``unit_ball_values``
samples: "l_inf" (max |T_ij|), "frobenius", "spectral" (largest singular value).
"""

from __future__ import annotations

import numpy as np

from dltheory.simulators._seeding import rng
from dltheory.theory._validate import integer_at_least, nonnegative, positive, real_scalar

__all__ = ["BALLS", "ball_norm", "adam_updates", "shampoo_updates", "unit_ball_values"]

BALLS = ("l_inf", "frobenius", "spectral")


def _array(name: str, value, ndim: int) -> np.ndarray:
    if value is None or isinstance(value, bool | str | bytes):
        raise TypeError(f"{name} must be a real array, got {value!r}")
    arr = np.asarray(value)
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be a real array, got dtype {arr.dtype}")
    if arr.ndim != ndim or 0 in arr.shape:
        raise ValueError(f"{name} must be a non-empty {ndim}-D array, got shape {arr.shape}")
    arr = arr.astype(float)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite")
    return arr


def _ball(value) -> str:
    if not isinstance(value, str) or value not in BALLS:
        raise ValueError(f"norm must be one of {BALLS}, got {value!r}")
    return value


def _norms(T: np.ndarray, kind: str) -> np.ndarray:
    """Norms of a stack of matrices (..., m, n)."""
    if kind == "l_inf":
        return np.abs(T).max(axis=(-2, -1))
    if kind == "frobenius":
        return np.sqrt((T * T).sum(axis=(-2, -1)))
    return np.linalg.norm(T, 2, axis=(-2, -1))


def ball_norm(T, norm: str) -> float:
    """||T|| of one matrix in the named norm."""
    return float(_norms(_array("T", T, 2), _ball(norm)))


def adam_updates(grads, *, beta1, beta2, eps) -> np.ndarray:
    """Adam's directions m_hat / (sqrt(v_hat) + eps) for gradients ``grads`` (T, m, n), moments from zero, bias-corrected
    by 1 - beta^t; ``beta1``, ``beta2`` in [0, 1), ``eps`` >= 0. Returns (T, m, n)."""
    G = _array("grads", grads, 3)
    b1, b2 = real_scalar("beta1", beta1, lower=0.0), real_scalar("beta2", beta2, lower=0.0)
    if b1 >= 1 or b2 >= 1:
        raise ValueError(f"beta1 and beta2 must lie in [0, 1), got {b1}, {b2}")
    eps = nonnegative("eps", eps)
    m, v, out = np.zeros_like(G[0]), np.zeros_like(G[0]), np.empty_like(G)
    for t, g in enumerate(G, 1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        out[t - 1] = (m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
    return out


def _inverse_root(S: np.ndarray, p: int) -> np.ndarray:
    lam, Q = np.linalg.eigh(S)
    if lam[0] <= 0:
        raise FloatingPointError(
            f"a Shampoo preconditioner has eigenvalue {lam[0]:.3g} <= 0: eps is below its round-off (raise eps)"
        )
    return (Q * lam ** (-1.0 / p)) @ Q.T


def shampoo_updates(grads, *, beta, eps) -> np.ndarray:
    """Shampoo's directions L_t^(-1/4) G_t R_t^(-1/4), L_0 = eps I_m, R_0 = eps I_n, L_t = eps I + beta (L_{t-1} - eps I)
    + G_t G_t^T (beta = 1: the authors' accumulated sums; beta = 0: no accumulation), likewise R_t with G_t^T G_t;
    inverse roots by symmetric eigendecomposition. ``grads`` (T, m, n), ``beta`` in [0, 1], ``eps`` > 0."""
    G = _array("grads", grads, 3)
    beta = real_scalar("beta", beta, lower=0.0)
    if beta > 1:
        raise ValueError(f"beta must lie in [0, 1], got {beta}")
    eps = positive("eps", eps)
    m, n = G.shape[1:]
    L, R, out = np.zeros((m, m)), np.zeros((n, n)), np.empty_like(G)
    for t, g in enumerate(G):
        L, R = beta * L + g @ g.T, beta * R + g.T @ g
        out[t] = _inverse_root(L + eps * np.eye(m), 4) @ g @ _inverse_root(R + eps * np.eye(n), 4)
    return out


def _extreme_points(shape: tuple, kind: str, count: int, g: np.random.Generator) -> np.ndarray:
    """Random extreme points of the unit ball: sign matrices (l_inf), Haar partial isometries (spectral: Q from the QR
    of a Gaussian matrix, sign-corrected), Gaussian directions on the sphere (frobenius)."""
    m, n = shape
    if kind == "l_inf":
        return g.choice([-1.0, 1.0], size=(count, m, n))
    Z = g.standard_normal((count, m, n))
    if kind == "frobenius":
        return Z / _norms(Z, kind)[:, None, None]
    tall = m >= n
    Q, Rm = np.linalg.qr(Z if tall else np.swapaxes(Z, 1, 2))
    Q = Q * np.sign(np.diagonal(Rm, axis1=1, axis2=2))[:, None, :]
    return Q if tall else np.swapaxes(Q, 1, 2)


def unit_ball_values(G, norm: str, *, n_samples, seed) -> np.ndarray:
    """<G, T> for ``n_samples`` random T on the unit sphere of ``norm``, three families in equal parts: Gaussian
    directions rescaled to the sphere, random extreme points of the ball, and the gradient perturbed,
    (G + s ||G||_F Z / sqrt(mn)) rescaled to the sphere with s log-uniform in [1e-3, 3] (directions near G)."""
    G = _array("G", G, 2)
    kind = _ball(norm)
    n_samples = integer_at_least("n_samples", n_samples, 3, upper=10**7)
    if n_samples * G.size > 10**8:
        raise ValueError(f"n_samples x G.size = {n_samples * G.size} exceeds the cap 1e8 (n_samples, G)")
    g = rng(seed)
    k = n_samples // 3
    Z = g.standard_normal((k,) + G.shape)
    near = G + (10.0 ** g.uniform(-3, np.log10(3), k))[:, None, None] * np.linalg.norm(G) / np.sqrt(G.size) * Z
    Y = g.standard_normal((n_samples - 2 * k,) + G.shape)
    T = np.concatenate(
        [
            Y / _norms(Y, kind)[:, None, None],
            _extreme_points(G.shape, kind, k, g),
            near / _norms(near, kind)[:, None, None],
        ]
    )
    return np.einsum("sij,ij->s", T, G)
