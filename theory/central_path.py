"""Dynamics on the central path of the MSE loss: the signal-to-noise singular values of the features and their
closed-form clock under renormalised gradient flow.

References
----------
- [HPD22] X. Y. Han, V. Papyan, D. L. Donoho, "Neural collapse under MSE loss: proximity to and dynamics on the
  central path", ICLR 2022, arXiv:2106.02073. Central path: the classifier equals the least-squares classifier
  W_LS(H) of the current features (the L_perp term of ``neural_collapse.mse_decomposition`` vanishes). On it the
  loss depends on the features only through the signal-to-noise (SNR) matrix, and the continually renormalised
  gradient flow moves each non-zero SNR singular value omega_j along a closed-form curve
  c1 log(omega_j) + c2 omega_j^2 + c3 omega_j^4 = a_j + t (the paper's dynamics theorem; its section and equation
  numbers could not be read here, only this form, quoted in summaries of the paper).

What is derived here (the paper's constants c1, c2, c3 could not be read; they depend on its loss and time
conventions), with the conventions below:

- Features H are N x d, balanced labels y (n = N/C per class), classifier W (C x d) and bias b, no weight decay:
  L(H) = min_{W, b} 1/(2N) sum_i ||W h_i + b - e_{y_i}||^2 (the central path at lambda = 0).
- Sigma_W = (1/N) sum_i (h_i - mu_{y_i})(h_i - mu_{y_i})^T, Sigma_B = (1/C) sum_c (mu_c - mu_G)(mu_c - mu_G)^T;
  the SNR singular values omega_j are the square roots of the C - 1 eigenvalues of Sigma_W^{-1} Sigma_B.
- The LS loss is invariant under invertible affine maps of the features, and equals
  L = (1/(2C)) (C - 1 - tr(Sigma_T^{-1} Sigma_B)) = (1/(2C)) sum_j 1/(1 + omega_j^2)      (central_path_loss).
- Renormalised flow: gradient flow dH/dt = -P_T grad_H L on the manifold {Sigma_W = I} (P_T the Euclidean
  projection onto its tangent space; time t in units of that flow). The gradient on the within-class part,
  (1/N) W_LS^T W_LS eps_i, is normal to the manifold, so only the class means move; with
  M~ = U diag(s) V^T their centred SVD, W_LS = (1/C) V diag(s/(1 + omega^2)) U^T and
  dM~/dt = (1/(NC)) U diag(s/(1 + omega^2)^2) V^T, i.e. (omega = s/sqrt(C))
      d omega_j/dt = omega_j / (N C (1 + omega_j^2)^2)                                        (central_path_rate),
      N C [log omega_j + omega_j^2 + omega_j^4/4] = a_j + t                                     (central_path_clock),
  the paper's closed form with c1 = c2 = N C, c3 = N C/4 in these conventions. omega_j grows without bound and
  the loss tends to 0 (on the manifold NC1 = tr(Sigma_W Sigma_B^+)/C = sum_j omega_j^{-2}/C -> 0).
- Renormalising by whitening *after* a plain gradient step instead (a retraction without the projection) adds
  the within-class shrinkage to the signal: d omega/dt = omega/(N C (1 + omega^2)), clock N C (log omega +
  omega^2/2): no quartic term (derived the same way, not simulated; a control of the claim).
"""

from __future__ import annotations

import numpy as np
from scipy import linalg

from dltheory.theory._validate import integer_at_least, labels, overflow_guard, real_array

__all__ = [
    "snr_singular_values",
    "central_path_loss",
    "central_path_rate",
    "central_path_clock",
    "central_path_omega",
]

_NEWTON_MAX = 200


@overflow_guard
def snr_singular_values(H, y) -> np.ndarray:
    """SNR singular values omega_1 >= ... >= omega_{C-1} of features H (N x d), labels y in {0..C-1} [HPD22]:
    square roots of the C - 1 largest eigenvalues of Sigma_W^{-1} Sigma_B (module docstring's conventions; the
    global mean is the sample mean, equal to the mean of class means for balanced classes).

    Raises ValueError unless every class has a sample and Sigma_W is positive definite (N - C >= d needed)."""
    H = real_array("H", H, ndim=2)
    N, d = H.shape
    y = labels("y", y, length=N)
    C = int(y.max()) + 1
    if C < 2:
        raise ValueError(f"y must contain at least 2 classes, got {C}")
    n = np.bincount(y, minlength=C)
    if np.any(n == 0):
        raise ValueError(f"y: every class in 0..{C - 1} needs >= 1 sample; empty: {np.flatnonzero(n == 0).tolist()}")
    M = np.stack([H[y == c].mean(axis=0) for c in range(C)])
    R = H - M[y]
    Sigma_W = R.T @ R / N
    Mc = M - H.mean(axis=0)
    Sigma_B = Mc.T @ Mc / C
    try:
        ev = linalg.eigh(Sigma_B, Sigma_W, eigvals_only=True)
    except linalg.LinAlgError:
        raise ValueError(
            f"H: the within-class covariance Sigma_W ({d} x {d}) must be positive definite "
            f"(needs N - C = {N - C} >= d = {d} and within-class spread in every direction)"
        ) from None
    return np.sqrt(np.clip(ev[::-1][: C - 1], 0.0, None))


def _omega(name: str, omega, *, positive: bool) -> np.ndarray:
    return real_array(name, omega, lower=0.0, strict=positive, ndim=(0, 1, 2))


@overflow_guard
def central_path_loss(omega, C: int) -> float:
    """LS (central-path) loss at lambda = 0 from the SNR singular values [HPD22]:
    (1/(2C)) (C - 1 - sum_j omega_j^2/(1 + omega_j^2)); omega: 1-d, at most C - 1 values (missing ones are 0)."""
    omega = real_array("omega", omega, ndim=1, lower=0.0)
    C = integer_at_least("C", C, 2, upper=10**7)
    if omega.size > C - 1:
        raise ValueError(f"omega must have at most C - 1 = {C - 1} entries, got {omega.size}")
    return float((C - 1 - np.sum(omega**2 / (1 + omega**2))) / (2 * C))


@overflow_guard
def central_path_rate(omega, N: int, C: int):
    """d omega/dt = omega/(N C (1 + omega^2)^2) on the central path under renormalised gradient flow (module
    docstring; the derivative form of [HPD22]'s closed-form dynamics). omega >= 0, any shape."""
    omega = _omega("omega", omega, positive=False)
    N, C = _sizes(N, C)
    return omega / (N * C * (1 + omega**2) ** 2)


@overflow_guard
def central_path_clock(omega, N: int, C: int):
    """G(omega) = N C [log omega + omega^2 + omega^4/4]: along the renormalised central-path flow
    G(omega_j(t)) = a_j + t [HPD22, closed form c1 log omega + c2 omega^2 + c3 omega^4 = a_j + t, constants
    derived in the module docstring]. omega > 0, any shape."""
    omega = _omega("omega", omega, positive=True)
    N, C = _sizes(N, C)
    return N * C * (np.log(omega) + omega**2 + omega**4 / 4)


@overflow_guard
def central_path_omega(t, omega0, N: int, C: int):
    """omega(t) from omega(0) = omega0 on the renormalised central-path flow: the root of
    G(omega) = G(omega0) + t (central_path_clock); t >= 0 and omega0 > 0 broadcast together.

    Newton in u = log omega on g(u) = u + e^{2u} + e^{4u}/4 - target (increasing and convex, g' = (1 + omega^2)^2),
    started right of the root, so the iterates decrease monotonically to it."""
    t = real_array("t", t, lower=0.0, ndim=(0, 1, 2))
    omega0 = _omega("omega0", omega0, positive=True)
    N, C = _sizes(N, C)
    try:
        t, omega0 = np.broadcast_arrays(t, omega0)
    except ValueError:
        raise ValueError(f"t and omega0 must broadcast together, got shapes {t.shape} and {omega0.shape}") from None
    target = np.log(omega0) + omega0**2 + omega0**4 / 4 + t / (N * C)
    # a start right of the root: g(target) > 0 when target <= 1; g(log(4 target)/4) > 0 when target > 1
    u = np.where(target <= 1, target, np.log(4 * np.maximum(target, 1.0)) / 4)
    for _ in range(_NEWTON_MAX):
        w2 = np.exp(2 * u)
        step = (u + w2 + w2**2 / 4 - target) / (1 + w2) ** 2
        u = u - step
        if np.all(np.abs(step) <= 4 * np.finfo(float).eps * np.maximum(1.0, np.abs(u))):
            break
    return np.exp(u)


def _sizes(N, C) -> tuple[int, int]:
    N = integer_at_least("N", N, 2, upper=10**9)
    C = integer_at_least("C", C, 2, upper=N)
    return N, C
