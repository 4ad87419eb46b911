"""Continual learning by sequential minimum-norm least squares (the set-up of Lin, Ju, Liang & Shroff 2023,
arXiv:2302.05836): task t fits its n samples exactly with the smallest change from the previous weights,
w_t = w_{t-1} + X_t (X_t^T X_t)^{-1} (y_t - X_t^T w_{t-1}), from w_0 = 0; X_t (p x n) has i.i.d. N(0, 1) entries
and y_t = X_t^T w*_t + z_t with z_t ~ N(0, sigma^2 I_n). Runs are batched (one LAPACK solve per task for all runs).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dltheory.theory._validate import (
    MAX_ELEMENTS,
    MAX_SAMPLES,
    MAX_WIDTH,
    generator,
    integer_at_least,
    nonnegative,
    real_array,
)

__all__ = ["ContinualRun", "sequential_min_norm"]


@dataclass(frozen=True)
class ContinualRun:
    """``errors[r, t, i]`` = ||w_{t+1} - w*_{i+1}||^2 in run r after training task t + 1 (model error of task i + 1).

    ``forgetting`` (runs,): F_T = 1/(T-1) sum_{i<T} [L_i(w_T) - L_i(w_i)] (NaN when T = 1); ``generalization``
    (runs,): G_T = 1/T sum_i L_i(w_T)."""

    errors: np.ndarray
    seed: object

    @property
    def generalization(self) -> np.ndarray:
        return self.errors[:, -1, :].mean(axis=1)

    @property
    def forgetting(self) -> np.ndarray:
        T = self.errors.shape[1]
        if T < 2:
            return np.full(self.errors.shape[0], np.nan)
        diag = np.diagonal(self.errors, axis1=1, axis2=2)[:, : T - 1]
        return (self.errors[:, -1, : T - 1] - diag).mean(axis=1)


def sequential_min_norm(w_star, n: int, *, sigma: float = 0.0, n_runs: int, seed) -> ContinualRun:
    """Train tasks 1..T (rows of ``w_star``, shape (T, p), p > n) in order, ``n_runs`` independent runs (fresh
    features and noise per run, the ground truths fixed); returns every task's model error after every task."""
    w = real_array("w_star", w_star, ndim=2)
    n = integer_at_least("n", n, 1, upper=MAX_WIDTH)
    sigma = nonnegative("sigma", sigma, upper=1e100)  # squares stay finite in float64
    n_runs = integer_at_least("n_runs", n_runs, 1, upper=MAX_SAMPLES)
    rng = generator("seed", seed)
    T, p = w.shape
    if p <= n:
        raise ValueError(f"the overparameterised regime needs p > n, got p = {p} (columns of w_star), n = {n}")
    if n_runs * p * n > MAX_ELEMENTS:
        raise ValueError(f"n_runs * p * n must be <= {MAX_ELEMENTS}, got {n_runs * p * n}")
    cur = np.zeros((n_runs, p))
    errors = np.empty((n_runs, T, T))
    for t in range(T):
        X = rng.standard_normal((n_runs, p, n))
        y = X.transpose(0, 2, 1) @ w[t] + sigma * rng.standard_normal((n_runs, n))
        resid = y - np.einsum("rpn,rp->rn", X, cur)
        coef = np.linalg.solve(X.transpose(0, 2, 1) @ X, resid[..., None])[..., 0]
        cur = cur + np.einsum("rpn,rn->rp", X, coef)
        if not np.all(np.isfinite(cur)):
            raise FloatingPointError(f"sequential_min_norm: non-finite weights after task {t + 1}")
        diff = cur[:, None, :] - w[None, :, :]
        errors[:, t, :] = np.einsum("rip,rip->ri", diff, diff)
    return ContinualRun(errors=errors, seed=seed)
