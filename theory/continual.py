"""Forgetting and generalisation of continual learning with overparameterised linear models.

Reference
---------
[LJLS23] S. Lin, P. Ju, Y. Liang, N. Shroff, "Theory on Forgetting and Generalization of Continual Learning",
ICML 2023, arXiv:2302.05836, Theorem 1 (the overparameterised case p >= n + 2).

Set-up and conventions
----------------------
Tasks t = 1..T with ground truths w*_t in R^p (rows of ``w_star``, in training order), n samples each:
features X_t in R^{p x n} with i.i.d. N(0, 1) entries, labels y_t = X_t^T w*_t + z_t, z_t ~ N(0, sigma^2 I_n).
Training starts at w_0 = 0 and task t moves to the closest interpolator,
w_t = argmin ||w - w_{t-1}||  subject to  X_t^T w = y_t   (what GD/SGD from w_{t-1} converges to).
The model error of task i is L_i(w) = ||w - w*_i||^2 (the test MSE on x ~ N(0, I_p) minus the noise floor
sigma^2). Forgetting F_T = 1/(T-1) sum_{i<T} [L_i(w_T) - L_i(w_i)], generalisation error
G_T = 1/T sum_{i<=T} L_i(w_T); expectations over the features and the noise, the ground truths fixed.

The paper's text could not be retrieved here (only its abstract); the statement below is derived exactly (see the
derivation) and is, to our knowledge, the form of their Theorem 1. With r = 1 - n/p and c = p sigma^2 / (p - n - 1):
E G_T = r^T/T sum_i ||w*_i||^2 + 1/T sum_i sum_j (1 - r) r^{T-j} ||w*_i - w*_j||^2 + c (1 - r^T),
E F_T = 1/(T-1) sum_{i<T} { (r^T - r^i) ||w*_i||^2 + sum_{j<=T} (1 - r) r^{T-j} ||w*_j - w*_i||^2
        - sum_{j<=i} (1 - r) r^{i-j} ||w*_j - w*_i||^2 + c (r^i - r^T) }.
Derivation (used to check the statement; it is exact, not asymptotic): w_t - v = (I - P_t)(w_{t-1} - v)
+ P_t (w*_t - v) + X_t (X_t^T X_t)^{-1} z_t with P_t the orthogonal projection onto the column span of X_t, a
uniformly random n-plane; the two first terms are orthogonal, E||(I - P)u||^2 = r ||u||^2, E||P u||^2 = (1 - r)
||u||^2, and E||X (X^T X)^{-1} z||^2 = sigma^2 E tr (X^T X)^{-1} = sigma^2 n / (p - n - 1) (inverse Wishart), so
E||w_T - v||^2 = r^T ||v||^2 + sum_j (1 - r) r^{T-j} ||w*_j - v||^2 + sigma^2 n/(p - n - 1) sum_j r^{T-j}.
"""

from __future__ import annotations

import numpy as np

from dltheory.theory._validate import MAX_WIDTH, integer_at_least, nonnegative, real_array

__all__ = ["expected_model_error", "expected_generalization_error", "expected_forgetting"]


def _inputs(w_star, n, sigma, min_tasks: int) -> tuple[np.ndarray, int, int, float]:
    w = real_array("w_star", w_star, ndim=2)
    n = integer_at_least("n", n, 1, upper=MAX_WIDTH)
    sigma = nonnegative("sigma", sigma, upper=1e100)  # sigma^2 stays finite in float64
    T, p = w.shape
    if T < min_tasks:
        raise ValueError(f"w_star must have >= {min_tasks} rows (tasks), got {T}")
    need = n + 2 if sigma > 0 else n + 1
    if p < need:
        raise ValueError(
            f"the overparameterised regime needs p >= {need} (p > n, and p >= n + 2 when sigma > 0), "
            f"got p = {p} (columns of w_star) and n = {n}"
        )
    return w, n, p, sigma


def _sq_dist(w: np.ndarray) -> np.ndarray:
    sq = np.einsum("ij,ij->i", w, w)
    return np.maximum(sq[:, None] + sq[None, :] - 2 * w @ w.T, 0.0)


def expected_model_error(w_star, n: int, sigma: float = 0.0) -> np.ndarray:
    """E L_i(w_t) = E||w_t - w*_i||^2 for t, i = 1..T: array (T, T), row t - 1 after training task t.

    [LJLS23] proof of Theorem 1 (see the module docstring): r^t ||w*_i||^2 + sum_{j<=t} (1 - r) r^{t-j}
    ||w*_j - w*_i||^2 + p sigma^2/(p - n - 1) (1 - r^t), r = 1 - n/p. ``w_star``: (T, p) ground truths in
    training order; ``n``: samples per task (p > n; p >= n + 2 when sigma > 0)."""
    w, n, p, sigma = _inputs(w_star, n, sigma, 1)
    T = w.shape[0]
    r = 1.0 - n / p
    t = np.arange(1, T + 1)
    D = _sq_dist(w)  # D[j, i] = ||w*_j - w*_i||^2
    weights = np.where(t[None, :] <= t[:, None], (1 - r) * r ** (t[:, None] - t[None, :]), 0.0)  # [t, j]
    noise = p * sigma**2 / (p - n - 1) * (1 - r**t) if sigma > 0 else np.zeros(T)
    return r ** t[:, None] * np.einsum("ij,ij->i", w, w)[None, :] + weights @ D + noise[:, None]


def expected_generalization_error(w_star, n: int, sigma: float = 0.0) -> float:
    """E G_T = 1/T sum_i E||w_T - w*_i||^2 after the last task ([LJLS23] Theorem 1, the generalisation error)."""
    return float(expected_model_error(w_star, n, sigma)[-1].mean())


def expected_forgetting(w_star, n: int, sigma: float = 0.0) -> float:
    """E F_T = 1/(T-1) sum_{i<T} E[||w_T - w*_i||^2 - ||w_i - w*_i||^2] ([LJLS23] Theorem 1, the forgetting);
    needs T >= 2 tasks."""
    w, n, _, sigma = _inputs(w_star, n, sigma, 2)
    L = expected_model_error(w, n, sigma)
    T = w.shape[0]
    return float(np.mean(L[-1, : T - 1] - np.diag(L)[: T - 1]))
