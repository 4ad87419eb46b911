"""Infinite-width MSE training dynamics in the kernel regime (linearised networks).

References
----------
- [JGH18] A. Jacot, F. Gabriel, C. Hongler, "Neural tangent kernel", NeurIPS 2018, arXiv:1806.07572, sec. 5.
- [LXS19] J. Lee, L. Xiao, S. Schoenholz, Y. Bahri, R. Novak, J. Sohl-Dickstein, J. Pennington, "Wide neural
  networks of any depth evolve as linear models under gradient descent", NeurIPS 2019, arXiv:1902.06720,
  sec. 2.2 (eqs. for f_t, mu_t and Sigma_t of the linearised network).

Conventions (neural-tangents' ``predict.gradient_descent_mse[_ensemble]``)
------------------------------------------------------------------------
Loss L = 1/(2N) ||f(X) - Y||^2 with N = Y.size (points x outputs). Gradient flow d theta/dt = -dL/dtheta, so GD
with step eta is at time t = eta * steps, and the train outputs obey df/dt = -(1/N) Theta (f - Y):

    f_t(X) = Y + e^{-Theta t/N} (f_0(X) - Y),
    f_t(x) = f_0(x) + Theta(x, X) A_t (Y - f_0(X)),   A_t = Theta^{-1} (I - e^{-Theta t/N}).

(Lee et al. write e^{-eta Theta t} with t counting steps and their own loss normalisation.) With ``eta`` given,
the GD recursion of the linearised model replaces e^{-Theta t/N} by (I - eta Theta/N)^{t/eta}.
Over random initialisations f_0 ~ GP(0, K) (the NNGP), so f_t = M_t f_0 + Theta(., X) A_t Y is Gaussian with
mean mu_t = Theta(., X) A_t Y and covariance M_t K M_t^T, M_t = I - Theta(., X) A_t P_X ([LXS19] eqs. for
mu and Sigma; at t = infinity the mean is kernel regression Theta(x, X) Theta^{-1} Y). Outputs are independent
across channels (kernel Theta (x) I), so Y may have several columns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dltheory.theory._validate import integer, integer_at_least, positive, psd_matrix, real_array

__all__ = ["propagator", "mean_prediction", "Gaussian", "ensemble_prediction", "max_learning_rate"]


def _times(t) -> np.ndarray:
    return np.atleast_1d(real_array("t", t, ndim=(0, 1), lower=0.0))


def _square_psd(name: str, K) -> np.ndarray:
    K = psd_matrix(name, K)  # symmetric PSD to round-off (PSD_RTOL of max |K|)
    return (K + K.T) / 2


def _eta(eta):
    return None if eta is None else positive("eta", eta)


def max_learning_rate(ntk_train_train, n_outputs: int = 1) -> float:
    """2N / lambda_max(Theta): GD on the linearised model diverges above it (N = n_train * n_outputs)."""
    K = _square_psd("ntk_train_train", ntk_train_train)
    n_outputs = integer_at_least("n_outputs", n_outputs, 1)
    lam_max = float(np.linalg.eigvalsh(K)[-1])
    if lam_max <= 0:
        raise ValueError("ntk_train_train must have a positive eigenvalue (GD is stable at any rate on a zero kernel)")
    return 2.0 * K.shape[0] * n_outputs / lam_max


def propagator(ntk_train_train, t, *, n_outputs: int = 1, eta: float | None = None) -> np.ndarray:
    """A_t = Theta^{-1}(I - e^{-Theta t/N}) for each t: shape (len(t), n, n). GD (eta given): the
    (I - eta Theta/N)^{t/eta} version; t/eta must then be whole steps. Eigen-decomposed, so Theta may be
    singular (A_t -> t/N on its null space)."""
    K = _square_psd("ntk_train_train", ntk_train_train)
    t = _times(t)
    N = K.shape[0] * integer_at_least("n_outputs", n_outputs, 1)
    lam, U = np.linalg.eigh(K)
    lam = np.clip(lam, 0.0, None)
    eta = _eta(eta)
    if eta is None:
        # (1 - e^{-lam t/N}) / lam, stable as lam -> 0 via expm1
        g = -np.expm1(-np.outer(t, lam) / N) / np.where(lam > 0, lam, 1.0)
        g = np.where(lam > 0, g, t[:, None] / N)
    else:
        steps = t / eta
        if not np.allclose(steps, np.round(steps), rtol=0, atol=1e-9 * max(1.0, steps.max())):
            raise ValueError(f"with eta given, t / eta must be whole GD steps, got t/eta = {steps}")
        steps = np.round(steps)
        x = eta * lam / N
        g = np.where(
            lam > 0, (1 - (1 - x[None, :]) ** steps[:, None]) / np.where(lam > 0, lam, 1.0), steps[:, None] * eta / N
        )
    return np.einsum("ia,ta,ja->tij", U, g, U)


def _split(K, n_train: int, name: str) -> tuple[np.ndarray, np.ndarray]:
    K = _square_psd(name, K)
    n_train = integer("n_train", n_train, lower=1, upper=K.shape[0])
    return K, K[:, :n_train]


def _targets(y_train, n_train: int) -> np.ndarray:
    Y = real_array("y_train", y_train, ndim=(1, 2))
    if Y.shape[0] != n_train:
        raise ValueError(f"y_train must have n_train = {n_train} rows, got shape {Y.shape}")
    return Y


def mean_prediction(ntk, y_train, t, f0, *, n_train: int, eta: float | None = None) -> np.ndarray:
    """Outputs of the linearised network started at ``f0``: f_t = f0 + Theta(., X) A_t (Y - f0(X)).

    ``ntk``: Theta over all points, training points first (n_all x n_all); ``f0``: (n_all,) or
    (n_all, n_out) initial outputs, or (n_nets, n_all[, n_out]) for many networks. Returns
    (len(t), *f0.shape). Time convention: module docstring.
    """
    Th, Th_X = _split(ntk, n_train, "ntk")
    Y = _targets(y_train, Th_X.shape[1])
    f0 = real_array("f0", f0, ndim=(1, 2, 3, 4))
    n_out = 1 if Y.ndim == 1 else Y.shape[1]
    axis = f0.ndim - Y.ndim  # position of the points axis in f0
    if axis < 0 or f0.shape[axis] != Th.shape[0] or f0.shape[axis + 1 :] != Y.shape[1:]:
        raise ValueError(
            f"f0 must be ([n_nets,] {Th.shape[0]}{', n_out' if Y.ndim > 1 else ''}) to match "
            f"ntk and y_train, got shape {f0.shape}"
        )
    A = propagator(Th[:n_train, :n_train], t, n_outputs=n_out, eta=eta)
    resid = np.moveaxis(Y - np.take(f0, np.arange(n_train), axis=axis), axis, -1)  # points last
    delta = np.moveaxis(np.einsum("ni,tij,...j->t...n", Th_X, A, resid), -1, axis + 1)
    return f0[None] + delta


@dataclass(frozen=True)
class Gaussian:
    """Mean (len(t), n_all[, n_out]) and covariance (len(t), n_all, n_all) of the outputs over initialisations."""

    mean: np.ndarray
    covariance: np.ndarray


def ensemble_prediction(nngp, ntk, y_train, t, *, n_train: int, eta: float | None = None) -> Gaussian:
    """Infinite-width ensemble ([LXS19] sec. 2.2): f_t = M_t f_0 + Theta(., X) A_t Y with f_0 ~ N(0, K).

    mean = Theta(., X) A_t Y, covariance = M_t K M_t^T with M_t = I - Theta(., X) A_t P_X (the same for every
    output channel). ``nngp`` K and ``ntk`` Theta over all points, training points first.
    """
    K, _ = _split(nngp, n_train, "nngp")
    Th, Th_X = _split(ntk, n_train, "ntk")
    if K.shape != Th.shape:
        raise ValueError(f"nngp and ntk must have the same shape, got {K.shape} and {Th.shape}")
    Y = _targets(y_train, Th_X.shape[1])
    n_out = 1 if Y.ndim == 1 else Y.shape[1]
    A = propagator(Th[:n_train, :n_train], t, n_outputs=n_out, eta=eta)
    B = np.einsum("ni,tij->tnj", Th_X, A)  # Theta(., X) A_t: (len(t), n_all, n_train)
    mean = np.einsum("tnj,j...->tn...", B, Y)
    M = np.broadcast_to(np.eye(K.shape[0]), B.shape[:1] + K.shape).copy()
    M[:, :, :n_train] -= B
    cov = M @ K @ np.swapaxes(M, 1, 2)
    return Gaussian(mean=mean, covariance=(cov + np.swapaxes(cov, 1, 2)) / 2)
