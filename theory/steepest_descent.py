"""Steepest descent under a norm: the update directions of sign descent, SGD and Shampoo.

References
----------
- [BN24] J. Bernstein, L. Newhouse, "Old Optimizer, New Norm: An Anthology", arXiv:2409.20325 (2024). Prop. 1
  (steepest descent: argmin_dW [<G, dW> + lambda/2 ||dW||^2] = -(||G||_dual / lambda) argmax_{||T|| = 1} <G, T>);
  Adam with its moving averages switched off (beta1 = beta2 = 0) is sign descent, steepest descent under the l_inf
  norm of the flattened weights (for one matrix: the l1 -> l_inf operator norm, max |W_ij|; over layers: their
  "max-of-max" norm); Shampoo without accumulation, (G G^T)^(-1/4) G (G^T G)^(-1/4) = U V^T, is steepest descent
  under the spectral norm (a projection onto the semi-orthogonal matrices).

Conventions
-----------
- <A, B> = tr(A^T B) (Frobenius inner product). ``norm`` names the norm of the update dW (the norms themselves are
  evaluated by dltheory.simulators.steepest_descent.ball_norm, which samples their unit balls):
  "l_inf" (max_ij |dW_ij|, dual: the entrywise l1 norm), "frobenius" (dual: itself; SGD), "spectral"
  (largest singular value, dual: the nuclear norm, the sum of singular values).
- :func:`steepest_direction` returns a maximiser T of <G, T> over the unit ball ||T|| <= 1; it lies on the unit
  sphere and <G, T> = ||G||_dual. It is unique for "frobenius" (G != 0), for "l_inf" when no entry of G vanishes and
  for "spectral" when G has full rank (else T = U_r V_r^T on G's range is one maximiser).
"""

from __future__ import annotations

import numpy as np

from dltheory.theory._validate import positive

__all__ = ["NORMS", "dual_norm", "steepest_direction", "steepest_step", "shampoo_direction"]

NORMS = ("l_inf", "frobenius", "spectral")


def _matrix(name: str, value) -> np.ndarray:
    if value is None or isinstance(value, bool | str | bytes):
        raise TypeError(f"{name} must be a real array, got {value!r}")
    arr = np.asarray(value)
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be a real array, got dtype {arr.dtype}")
    if arr.ndim != 2 or 0 in arr.shape:
        raise ValueError(f"{name} must be a non-empty 2-D array, got shape {arr.shape}")
    arr = arr.astype(float)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite")
    return arr


def _norm_name(value) -> str:
    if not isinstance(value, str) or value not in NORMS:
        raise ValueError(f"norm must be one of {NORMS}, got {value!r}")
    return value


def dual_norm(G, norm: str) -> float:
    """||G||_dual = max_{||T|| <= 1} <G, T>: the entrywise l1 norm (l_inf), Frobenius (frobenius), nuclear (spectral)."""
    G, kind = _matrix("G", G), _norm_name(norm)
    if kind == "l_inf":
        return float(np.abs(G).sum())
    if kind == "frobenius":
        return float(np.linalg.norm(G))
    return float(np.linalg.svd(G, compute_uv=False).sum())


def steepest_direction(G, norm: str) -> np.ndarray:
    """argmax_{||T|| <= 1} <G, T> ([BN24] Prop. 1): sign(G) (l_inf), G / ||G||_F (frobenius), U V^T from the reduced
    SVD G = U S V^T (spectral; singular values below max(m, n) eps S_max treated as zero). G = 0 gives T = 0."""
    G, kind = _matrix("G", G), _norm_name(norm)
    if kind == "l_inf":
        return np.sign(G)
    if kind == "frobenius":
        n = np.linalg.norm(G)
        return G / n if n > 0 else np.zeros_like(G)
    U, s, Vt = np.linalg.svd(G, full_matrices=False)
    r = int(np.sum(s > max(G.shape) * np.finfo(float).eps * s[0])) if s[0] > 0 else 0
    return U[:, :r] @ Vt[:r]


def steepest_step(G, norm: str, sharpness) -> np.ndarray:
    """[BN24] Prop. 1: argmin_dW [<G, dW> + (sharpness/2) ||dW||^2] = -(||G||_dual / sharpness) steepest_direction."""
    lam = positive("sharpness", sharpness)
    with np.errstate(over="ignore"):
        step = -dual_norm(G, norm) / lam * steepest_direction(G, norm)
    if not np.all(np.isfinite(step)):
        raise FloatingPointError(f"the step overflowed: sharpness = {lam} is too small for float64")
    return step


def shampoo_direction(G) -> np.ndarray:
    """(G G^T)^(-1/4) G (G^T G)^(-1/4), inverse fourth roots on the ranges (pseudo-inverse), by eigendecomposition.

    With G = U S V^T: (G G^T)^(-1/4) = U S^(-1/2) U^T and (G^T G)^(-1/4) = V S^(-1/2) V^T, so the product is U V^T
    ([BN24], Shampoo without accumulation). Eigenvalues below max(m, n) eps lambda_max count as zero. Note that a single
    inverse square root already gives (G G^T)^(-1/2) G = U V^T as well; the two quarter powers are Shampoo's form.
    """
    G = _matrix("G", G)

    def inv_quarter(S: np.ndarray) -> np.ndarray:
        lam, Q = np.linalg.eigh(S)
        top = lam.max()
        keep = lam > max(S.shape) * np.finfo(float).eps * top if top > 0 else np.zeros(lam.shape, bool)
        return (Q[:, keep] * lam[keep] ** -0.25) @ Q[:, keep].T

    return inv_quarter(G @ G.T) @ G @ inv_quarter(G.T @ G)
