"""Self-distillation in kernel ridge regression with ground-truth weighting (Borup & Andersen 2021).

Reference
---------
[BA21] K. Borup, L. N. Andersen, "Even your Teacher Needs Guidance: Ground-Truth Targets Dampen Regularization
Imposed by Self-Distillation", NeurIPS 2021, arXiv:2102.13088: sec. 3-4 (the weighted distillation objective,
the closed form of every step as a function of the initial fit, the limit of infinitely many steps as the
original problem with amplified regularisation lambda / alpha, and the optimal weighting per step).

Conventions
-----------
Kernel K with Gram matrix K = V diag(d) V^T on the n training inputs, labels y, ridge lambda. Step 1 is KRR on y;
step tau >= 2 fits f minimising alpha ||y - f(X)||^2 + (1 - alpha) ||f_{tau-1}(X) - f(X)||^2 + lambda ||f||_H^2
(alpha weights the ground truth: alpha = 1 is plain KRR, alpha = 0 pure self-distillation as in Mobahi et al.
2020). Equivalently KRR on the targets t_tau = alpha y + (1 - alpha) f_{tau-1}(X), so with a_i = d_i / (d_i +
lambda) the training predictions are f_tau(X) = V diag(b_tau) V^T y, b_1 = a, b_tau = a ((1 - alpha) b_{tau-1} +
alpha) [BA21, the recursion for B_tau]. As tau -> inf, b -> alpha a / (1 - (1 - alpha) a) = d / (d + lambda /
alpha): KRR with ridge lambda / alpha, at the training and at every test input. ``alpha`` may vary per step.
"""

from __future__ import annotations

import math

import numpy as np

from dltheory.theory._validate import integer_at_least, positive, real_scalar

__all__ = ["distillation_factors", "distilled_predictions", "limit_predictions", "optimal_alphas"]

MAX_N = 4000  # cap on the number of training points (one n x n eigendecomposition)
MAX_STEPS = 10**6
ALPHA_RANGE = 10.0  # |alpha| <= 10: the weights the paper uses lie in [0, 1], optima of the true risk a little outside


def _matrix(name: str, value, shape=None) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype.kind not in "iuf" or arr.ndim != 2:
        raise ValueError(f"{name} must be a real 2-D array, got dtype {arr.dtype}, shape {arr.shape}")
    arr = arr.astype(float)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite")
    if shape is not None and any(s is not None and s != a for s, a in zip(shape, arr.shape)):
        raise ValueError(f"{name} must have shape {shape}, got {arr.shape}")
    return arr


def _vector(name: str, value, n: int) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype.kind not in "iuf" or arr.shape != (n,):
        raise ValueError(f"{name} must be a real array of shape ({n},), got dtype {arr.dtype}, shape {arr.shape}")
    arr = arr.astype(float)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite")
    return arr


def _gram(K) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvalues (clipped at 0) and eigenvectors of a symmetric PSD Gram matrix."""
    K = _matrix("K", K)
    n = K.shape[0]
    if K.shape != (n, n) or n == 0:
        raise ValueError(f"K must be a non-empty square matrix, got shape {K.shape}")
    if n > MAX_N:
        raise ValueError(f"K has {n} rows; the cap is {MAX_N}")
    if not np.allclose(K, K.T, rtol=1e-10, atol=1e-12 * np.abs(K).max()):
        raise ValueError("K must be symmetric")
    d, V = np.linalg.eigh((K + K.T) / 2)
    if d.min() < -1e-8 * max(d.max(), 0.0):
        raise ValueError(f"K must be positive semi-definite, got eigenvalue {d.min():.3g}")
    return np.clip(d, 0.0, None), V


def _alphas(alpha, steps: int) -> np.ndarray:
    """alpha as one weight per distillation step tau = 2..steps (a scalar is repeated)."""
    arr = np.asarray(alpha)
    if arr.dtype.kind not in "iuf" or arr.ndim > 1:
        raise ValueError(f"alpha must be a real scalar or 1-D array, got {alpha!r}")
    arr = np.broadcast_to(arr.astype(float), (steps - 1,)) if arr.ndim == 0 else arr.astype(float)
    if arr.shape != (steps - 1,):
        raise ValueError(f"alpha must be a scalar or have steps - 1 = {steps - 1} entries, got {arr.shape}")
    if not np.all(np.isfinite(arr)) or np.any(np.abs(arr) > ALPHA_RANGE):
        raise ValueError(f"alpha must lie in [-{ALPHA_RANGE:g}, {ALPHA_RANGE:g}], got {alpha!r}")
    return arr


def _steps(steps, lower: int) -> int:
    steps = integer_at_least("steps", steps, lower)
    if steps > MAX_STEPS:
        raise ValueError(f"steps must be <= {MAX_STEPS}, got {steps}")
    return steps


def distillation_factors(eigvals, lam, alpha, steps: int) -> np.ndarray:
    """b_tau (tau = 1..steps) in the eigenbasis of the Gram matrix, shape (steps, len(eigvals)) [BA21]:
    b_1 = a, b_tau = a ((1 - alpha_tau) b_{tau-1} + alpha_tau), a = d / (d + lambda)."""
    d = np.asarray(eigvals)
    if d.dtype.kind not in "iuf" or d.ndim != 1 or d.size == 0 or not np.all(np.isfinite(d)) or np.any(d < 0):
        raise ValueError(f"eigvals must be a non-empty finite 1-D array >= 0, got {eigvals!r}")
    lam = positive("lam", lam)
    steps = _steps(steps, 1)
    al = _alphas(alpha, steps)
    a = d / (d + lam)
    out = np.empty((steps, d.size))
    out[0] = a
    for t in range(1, steps):
        out[t] = a * ((1 - al[t - 1]) * out[t - 1] + al[t - 1])
    return out


def distilled_predictions(K, y, lam, alpha, steps: int, K_test=None) -> np.ndarray:
    """Predictions of steps tau = 1..steps from the closed form [BA21]: f_tau(X) = V diag(b_tau) V^T y at the
    training inputs, or, given K_test (m x n, k(x_test, x_train)), f_tau(x) = K_test V diag((alpha_tau +
    (1 - alpha_tau) b_{tau-1}) / (d + lambda)) V^T y (KRR on the step's targets). Shape (steps, n or m)."""
    d, V = _gram(K)
    y = _vector("y", y, d.size)
    b = distillation_factors(d, lam, alpha, steps)
    yt = V.T @ y
    if K_test is None:
        return (b * yt) @ V.T
    K_test = _matrix("K_test", K_test, (None, d.size))
    al = _alphas(alpha, steps)
    targets = np.vstack([np.ones(d.size), al[:, None] + (1 - al[:, None]) * b[:-1]])  # V^T t_tau = targets * yt
    return (targets * yt / (d + lam)) @ (K_test @ V).T


def limit_predictions(K, y, lam, alpha, K_test=None) -> np.ndarray:
    """The tau -> inf limit of constant-alpha distillation [BA21]: KRR with the amplified ridge lambda / alpha,
    K_test (K + lambda / alpha I)^-1 y (K_test = K for the training inputs); alpha in (0, 1]."""
    d, V = _gram(K)
    y = _vector("y", y, d.size)
    lam = positive("lam", lam)
    alpha = real_scalar("alpha", alpha)
    if not 0 < alpha <= 1:
        raise ValueError(f"alpha must lie in (0, 1] for the limit to exist, got {alpha}")
    K_test = (V * d) @ V.T if K_test is None else _matrix("K_test", K_test, (None, d.size))
    return (K_test @ V) @ ((V.T @ y) / (d + lam / alpha))


def optimal_alphas(K, y, f_star, lam, steps: int) -> np.ndarray:
    """The weights alpha_tau (tau = 2..steps) that, chosen greedily step by step, minimise the true risk
    ||f*(X) - f_tau(X)||^2 at the training inputs (noise-free targets f*). Step tau's prediction is affine in
    alpha: V [a b + alpha a (1 - b)] V^T y with b = b_{tau-1}, so the minimiser is the closed form
    alpha* = <c, f~ - a b y~> / <c, c>, c = a (1 - b) y~, in the eigenbasis (y~ = V^T y, f~ = V^T f*).
    Unconstrained (it may leave [0, 1]). Shape (steps - 1,)."""
    d, V = _gram(K)
    y = _vector("y", y, d.size)
    f_star = _vector("f_star", f_star, d.size)
    lam = positive("lam", lam)
    steps = _steps(steps, 2)
    a = d / (d + lam)
    yt, ft = V.T @ y, V.T @ f_star
    b, out = a, np.empty(steps - 1)
    for t in range(steps - 1):
        c = a * (1 - b) * yt
        cc = float(c @ c)
        if not (math.isfinite(cc) and cc > 1e-300):
            raise ValueError(
                f"step {t + 2}: the risk does not depend on alpha at lam = {lam:g} (a = d / (d + lam) "
                "is 0 or 1 to float precision, or y has no component where 0 < a < 1)"
            )
        out[t] = c @ (ft - a * b * yt) / cc
        b = a * ((1 - out[t]) * b + out[t])
    return out
