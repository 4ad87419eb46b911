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

Proximity to the central path (derived here; [HPD22] report from experiments that the L_perp term of the
decomposition is negligible along training, and state no bound). Joint gradient descent with step lr on the
weight-decayed loss 1/(2N) sum_i ||W h_i + b - e_{y_i}||^2 + lam/2 (||W||^2 + ||b||^2) moves the augmented
classifier W~ = [W, b] by W~_{k+1} = W~_k - (W~_k - W~_LS(H_k)) M_k with M_k = lr A(H_k), A the Hessian in W~
(classifier_hessian). So D_k = W~_k - W~_LS(H_k) obeys
    D_{k+1} = D_k (I - M_k) - Delta_k,     Delta_k = W~_LS(H_{k+1}) - W~_LS(H_k) (the least-squares classifier's
                                                                               drift as the features move).
With features frozen (Delta = 0), D contracts by ||I - lr A||_2 = max(1 - lr lambda_min(A), lr lambda_max(A) - 1)
<= 1 - lr lam per step (lambda_min(A) >= lam; when lr lambda_max(A) <= 2 - lr lam), so L_perp = 1/2 tr(D A D^T)
falls at least like (1 - lr lam)^(2k). With moving features, writing D_k = -U_k + E_k with U_k = Delta_k M_k^{-1}
turns the recursion into E_{k+1} = E_k (I - M_k) + (U_{k+1} - U_k): the same one with drift -(U_{k+1} - U_k).
Iterating gives the classifier's lag as an adiabatic series (classifier_lag),
    D_k = sum_{j >= 0} (-1)^(j+1) U^(j)_k + transient,   U^(0) = Delta M^{-1},
    U^(j+1)_k = (U^(j)_{k+1} - U^(j)_k) M_k^{-1},
whose terms shrink by (relative change of the drift per step) x (relaxation time 1/(lr lambda_min(A))). At leading
order L_perp = 1/(2 lr^2) tr(Delta A^{-1} Delta^T) <= ||Delta||_F^2 / (2 lr^2 lambda_min(A)): the classifier
approaches the central path up to the drift per step over the slowest relaxation rate.
"""

from __future__ import annotations

import numpy as np
from scipy import linalg

from dltheory.theory._validate import integer, integer_at_least, labels, nonnegative, overflow_guard, real_array

__all__ = [
    "snr_singular_values",
    "central_path_loss",
    "central_path_rate",
    "central_path_clock",
    "central_path_omega",
    "classifier_hessian",
    "classifier_lag",
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


@overflow_guard
def classifier_hessian(H, lam: float) -> np.ndarray:
    """Hessian A = X^T X/N + lam I, X = [H, 1], of the weight-decayed MSE loss in W~ = [W, b] [HPD22]:
    [[Sigma_T + mu_G mu_G^T + lam I, mu_G], [mu_G^T, 1 + lam]] ((d + 1) x (d + 1); loss of the module docstring,
    weight decay lam on W and b). H: N x d features."""
    H = real_array("H", H, ndim=2)
    lam = nonnegative("lam", lam)
    X = np.hstack([H, np.ones((H.shape[0], 1))])
    return X.T @ X / H.shape[0] + lam * np.eye(H.shape[1] + 1)


@overflow_guard
def classifier_lag(Wt_LS, M, order: int) -> np.ndarray:
    """Terms T_j = (-1)^(j+1) U^(j)_0, j = 0..order, of the adiabatic series of the classifier's lag
    D_0 = W~_0 - W~_LS(H_0) = sum_j T_j + transient behind the drifting least-squares classifier (module docstring;
    derived here, [HPD22]'s proximity to the central path).

    Wt_LS: (m + 1, C, d + 1) least-squares classifiers [W_LS, b_LS] at m + 1 consecutive steps 0..m; M: (m, d + 1,
    d + 1) the relaxation matrices at steps 0..m - 1 (per-step contraction I - M; joint GD: M = lr A); order <= m - 1.
    Returns (order + 1, C, d + 1)."""
    Wt_LS = real_array("Wt_LS", Wt_LS, ndim=3)
    m = Wt_LS.shape[0] - 1
    if m < 1:
        raise ValueError(f"Wt_LS must hold >= 2 consecutive classifiers, got {m + 1}")
    M = real_array("M", M, shape=(m, Wt_LS.shape[2], Wt_LS.shape[2]))
    order = integer("order", order, lower=0, upper=m - 1)
    try:
        Minv = np.linalg.inv(M)
    except np.linalg.LinAlgError:
        raise ValueError("M: every relaxation matrix must be invertible") from None
    U = np.diff(Wt_LS, axis=0) @ Minv  # U^(0)_k, k = 0..m-1
    terms = [-U[0]]
    for j in range(1, order + 1):
        U = np.diff(U, axis=0) @ Minv[: m - j]
        terms.append((-1) ** (j + 1) * U[0])
    return np.array(terms)


def _sizes(N, C) -> tuple[int, int]:
    N = integer_at_least("N", N, 2, upper=10**9)
    C = integer_at_least("C", C, 2, upper=N)
    return N, C
