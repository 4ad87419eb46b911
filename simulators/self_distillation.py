"""Iterated self-distillation of ridge regression on explicit features, by solving each step's objective.

Features Phi (n x p) for the training inputs (the kernel is K = Phi Phi^T). Step 1 fits w minimising
||y - Phi w||^2 + lambda ||w||^2; step tau >= 2 fits the weighted objective of Borup & Andersen 2021
(arXiv:2102.13088)

    alpha ||y - Phi w||^2 + (1 - alpha) ||y_teacher - Phi w||^2 + lambda ||w||^2,  y_teacher = Phi w_{tau-1},

each as one least-squares problem: the two data terms differ from ||m - Phi w||^2, m = alpha y + (1 - alpha)
y_teacher, by a constant (expand both quadratics), for any real alpha, so the step solves the stacked system
[Phi; sqrt(lambda) I] w = [m; 0] by numpy.linalg.lstsq (QR-based; no eigendecomposition, no closed form). The
objective is strictly convex for every alpha (its Hessian is 2 (Phi^T Phi + lambda I)), so weights outside [0, 1]
are allowed.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import minimize_scalar

from dltheory.theory._validate import integer_at_least, positive, real_scalar

__all__ = ["distill", "greedy_alphas"]

MAX_ELEMENTS = 10**8  # cap on steps * (n + p) * p


def _matrix(name: str, value) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype.kind not in "iuf" or arr.ndim != 2 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty real 2-D array, got dtype {arr.dtype}, shape {arr.shape}")
    arr = arr.astype(float)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite")
    return arr


def _vector(name: str, value, n: int) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype.kind not in "iuf" or arr.shape != (n,):
        raise ValueError(f"{name} must be a real array of shape ({n},), got dtype {arr.dtype}, shape {arr.shape}")
    arr = arr.astype(float)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite")
    return arr


ALPHA_RANGE = 10.0  # |alpha| <= 10 (the paper's weights lie in [0, 1]; true-risk optima a little outside)


def _alpha(value, name: str = "alpha") -> float:
    a = real_scalar(name, value)
    if abs(a) > ALPHA_RANGE:
        raise ValueError(f"{name} must lie in [-{ALPHA_RANGE:g}, {ALPHA_RANGE:g}], got {a}")
    return a


def _step(Phi: np.ndarray, y: np.ndarray, teacher: np.ndarray, lam: float, alpha: float) -> np.ndarray:
    p = Phi.shape[1]
    A = np.vstack([Phi, math.sqrt(lam) * np.eye(p)])
    rhs = np.concatenate([alpha * y + (1 - alpha) * teacher, np.zeros(p)])
    return np.linalg.lstsq(A, rhs, rcond=None)[0]


def _check(Phi, y, lam, steps, min_steps: int = 1):
    Phi = _matrix("Phi", Phi)
    y = _vector("y", y, Phi.shape[0])
    lam = positive("lam", lam)
    steps = integer_at_least("steps", steps, min_steps)
    if steps * (Phi.shape[0] + Phi.shape[1]) * Phi.shape[1] > MAX_ELEMENTS:
        raise ValueError(f"steps * (n + p) * p exceeds the cap {MAX_ELEMENTS}")
    return Phi, y, lam, steps


def distill(Phi, y, lam, alpha, steps: int, Phi_test=None) -> np.ndarray:
    """Weights w_tau of steps tau = 1..steps with constant real ``alpha``; returns the predictions
    Phi_test w_tau (Phi_test defaults to Phi: training predictions), shape (steps, rows of Phi_test)."""
    Phi, y, lam, steps = _check(Phi, y, lam, steps)
    alpha = _alpha(alpha)
    Phi_test = Phi if Phi_test is None else _matrix("Phi_test", Phi_test)
    if Phi_test.shape[1] != Phi.shape[1]:
        raise ValueError(f"Phi_test must have {Phi.shape[1]} columns, got {Phi_test.shape[1]}")
    w = _step(Phi, y, y, lam, 1.0)
    out = [Phi_test @ w]
    for _ in range(steps - 1):
        w = _step(Phi, y, Phi @ w, lam, alpha)
        out.append(Phi_test @ w)
    return np.array(out)


def greedy_alphas(Phi, y, f_star, lam, steps: int, *, bounds=(0.0, 1.0), xatol: float = 1e-12) -> dict:
    """At each step tau = 2..steps, the alpha in ``bounds`` minimising the true risk R(alpha) = ||f* - Phi
    w_tau(alpha)||^2 / n at the training inputs (noise-free targets ``f_star``) by bounded Brent search (scipy,
    ``xatol``), the teacher being the previous step's optimum. Returns dict(alpha, risk, curvature), each of shape
    (steps - 1,): the minimisers, R at them and R'' = 2 ||Phi (w(1) - w(0))||^2 / n (the prediction is affine in
    alpha, so R is a parabola), which sets how precisely a minimiser can be located under round-off."""
    Phi, y, lam, steps = _check(Phi, y, lam, steps, 2)
    f_star = _vector("f_star", f_star, Phi.shape[0])
    xatol = positive("xatol", xatol)
    b = np.asarray(bounds) if isinstance(bounds, list | tuple | np.ndarray) else np.asarray(None)
    if b.shape != (2,) or b.dtype.kind not in "iuf" or not np.all(np.abs(b) <= ALPHA_RANGE):
        raise ValueError(f"bounds must be two reals in [-{ALPHA_RANGE:g}, {ALPHA_RANGE:g}], got {bounds!r}")
    lo, hi = float(b[0]), float(b[1])
    if not lo < hi:
        raise ValueError(f"bounds must be increasing, got {bounds!r}")
    teacher = Phi @ _step(Phi, y, y, lam, 1.0)
    out = {key: np.empty(steps - 1) for key in ("alpha", "risk", "curvature")}
    for t in range(steps - 1):

        def risk(a, teacher=teacher):
            return float(np.mean((f_star - Phi @ _step(Phi, y, teacher, lam, a)) ** 2))

        res = minimize_scalar(risk, bounds=(lo, hi), method="bounded", options={"xatol": xatol, "maxiter": 500})
        slope = Phi @ (_step(Phi, y, teacher, lam, 1.0) - _step(Phi, y, teacher, lam, 0.0))
        out["alpha"][t], out["risk"][t], out["curvature"][t] = res.x, res.fun, 2 * np.mean(slope**2)
        teacher = Phi @ _step(Phi, y, teacher, lam, res.x)
    return out
