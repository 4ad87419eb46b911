"""Random-feature ridge regression on a Gaussian task with a known eigenstructure.

Inputs x ~ N(0, I_M): the coordinates phi_i(x) = x_i are orthonormal eigenfunctions of the kernel
K(x, x') = sum_i lambda_i x_i x'_i. k random features g(x) = F x with F_ji = z_ji sqrt(lambda_i / k), z ~ N(0, 1)
(so E_F g(x) . g(x') = K(x, x')); target y = v . x + sigma eps, eps ~ N(0, 1). Ridge regression on n samples
with the unnormalised ridge delta: a = G^T (G G^T + delta I)^-1 y, G = X F^T (n x k). The predictor is linear,
f_hat(x) = x . w with w = F^T a = H y, so its test risk given the draws is ||w - v||^2 + sigma^2 exactly.
(This is the Gaussian setting of Simon, Karkada, Ghosh & Belkin 2023, arXiv:2311.14646, sec. 4 experiments.)

Variance reduction (exact conditional expectations, no bias): the label noise is averaged analytically,
E_eps ||w - v||^2 = ||(H X - I) v||^2 + sigma^2 ||H||_F^2; and the target's direction is averaged within each
eigenspace (coordinates of one eigenvalue): the law of (X, F) is invariant under rotations R within an eigenspace,
so the risk of v and of R v have the same expectation, and averaging over uniform R replaces v v^T by the
block-diagonal matrix D with D_ii = mean of v_j^2 over the eigenspace of i (Rao-Blackwellisation; for a simple
eigenvalue R = +-1, which drops the cross terms v_i v_j):
risk = sum_i D_ii ||(H X - I)[:, i]||^2 + sigma^2 ||H||_F^2 + sigma^2, evaluated for all ridges from one SVD of G
(traces of r x r matrices, r = min(n, k)).
"""

from __future__ import annotations

import numpy as np

from dltheory.simulators._seeding import rng as _rng
from dltheory.theory._validate import integer_at_least, nonnegative

__all__ = ["rf_ridge_risks"]


def _vector(name: str, value, positive_entries: bool) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype.kind not in "iuf" or arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty real 1-D array, got dtype {arr.dtype}, shape {arr.shape}")
    arr = arr.astype(float)
    if not np.all(np.isfinite(arr)) or (positive_entries and np.any(arr <= 0)):
        raise ValueError(f"{name} must be finite{' and > 0' if positive_entries else ''}")
    return arr


def rf_ridge_risks(eigvals, eigcoeffs, n, k, ridges, sigma2=0.0, *, n_trials: int, seed) -> np.ndarray:
    """Test risks of RF ridge regression, shape (n_trials, len(ridges)): each trial draws a fresh training set
    (n samples) and fresh features (k); every ridge in ``ridges`` (> 0) is fitted on the same draws (common random
    numbers: one SVD of G per trial). ``seed``: int >= 0, numpy SeedSequence or Generator."""
    lam = _vector("eigvals", eigvals, True)
    v = _vector("eigcoeffs", eigcoeffs, False)
    if v.shape != lam.shape:
        raise ValueError(f"eigcoeffs must have the shape of eigvals {lam.shape}, got {v.shape}")
    n = integer_at_least("n", n, 1)
    k = integer_at_least("k", k, 1)
    deltas = _vector("ridges", np.atleast_1d(ridges), True)
    sigma2 = nonnegative("sigma2", sigma2)
    n_trials = integer_at_least("n_trials", n_trials, 1)
    if n * k * lam.size * n_trials > 5e10:
        raise ValueError(f"n * k * len(eigvals) * n_trials = {n * k * lam.size * n_trials:.3g} exceeds the cap 5e10")
    rng = _rng(seed)
    m = lam.size
    _, group = np.unique(lam, return_inverse=True)
    power = (np.bincount(group, weights=v * v) / np.bincount(group))[group]  # D_ii: v^2 averaged per eigenspace
    out = np.empty((n_trials, deltas.size))
    for t in range(n_trials):
        X = rng.standard_normal((n, m))
        F = rng.standard_normal((k, m)) * np.sqrt(lam / k)
        U, s, Vt = np.linalg.svd(X @ F.T, full_matrices=False)  # G = U diag(s) V^T
        P, B = F.T @ Vt.T, U.T @ X  # H = P diag(c) U^T, c = s / (s^2 + delta); H X = P diag(c) B
        PtP = P.T @ P
        BD = B * power
        cross = np.einsum("rm,mr->r", BD, P)  # diag(B D P): tr(H X D) = c . cross
        quad = PtP * (BD @ B.T)  # tr((H X)^T H X D) = c^T quad c
        c = s[:, None] / (s[:, None] ** 2 + deltas[None, :])  # r x len(ridges)
        out[t] = (
            power.sum()
            - 2 * (cross @ c)
            + np.einsum("rj,rq,qj->j", c, quad, c)
            + sigma2 * (np.einsum("rj,r->j", c * c, np.diag(PtP)) + 1.0)
        )
    if not np.all(np.isfinite(out)):
        raise FloatingPointError("rf_ridge_risks: a non-finite risk (ill-conditioned G at a tiny ridge?)")
    return out
