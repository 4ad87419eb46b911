"""Unconstrained features trained with the MSE loss: on the central path (renormalised, classifier = least
squares at every step) and jointly with a weight-decayed classifier (Han, Papyan & Donoho 2022, ICLR,
arXiv:2106.02073).

- :func:`train_central_path`: features H (N x d, balanced classes) on the manifold {Sigma_W = I}; at every step
  the classifier (W, b) is the least-squares fit of the one-hot labels on [H, 1] (np.linalg.lstsq), the gradient
  of 1/(2N) ||H W^T + 1 b^T - Y||^2 in H is projected on the manifold's tangent space (the normal part
  {eps_i -> S eps_i, S symmetric} removed by a Lyapunov solve) and, after the step, the within-class deviations
  are re-whitened (the retraction). Projected gradient descent on the renormalised feature manifold.
- :func:`train_regularised_mse`: plain gradient descent on (W, b, H) for
  1/(2N) ||H W^T + 1 b^T - Y||^2 + lam/2 (||W||^2 + ||b||^2) + lam_H/2 ||H||^2 (Han et al.'s weight decay on the
  classifier, the UFM's on the features).

Both record (t, H, W, b) every ``record_every`` steps (t = step * lr); :func:`train_regularised_mse` can record a
burst of consecutive steps at each (what a finite-difference drift of the least-squares classifier needs). Numpy
float64; sizes are tiny.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import linalg

from dltheory.simulators._seeding import rng
from dltheory.theory import _validate as val

__all__ = ["FeatureRun", "train_central_path", "train_regularised_mse"]

_MAX_RECORD = 10**6  # floats kept in the recorded history


@dataclass(frozen=True)
class FeatureRun:
    """Recorded training history: times t (R,), features H (R, N, d), classifier W (R, C, d), bias b (R, C),
    labels y (N,) and the settings."""

    t: np.ndarray
    H: np.ndarray
    W: np.ndarray
    b: np.ndarray
    y: np.ndarray
    settings: dict


def _args(n, C, d, lr, n_steps, record_every, burst=1):
    n = val.integer("n", n, lower=2, upper=10**5)
    C = val.integer("C", C, lower=2, upper=10**4)
    d = val.integer("d", d, lower=1, upper=val.MAX_WIDTH)
    lr = val.positive("lr", lr)
    n_steps = val.integer("n_steps", n_steps, lower=1, upper=10**7)
    record_every = val.integer("record_every", record_every, lower=1, upper=n_steps)
    burst = val.integer("burst", burst, lower=1, upper=record_every)
    N = n * C
    if (n_steps // record_every + 1) * burst * (N + C) * (d + 1) > _MAX_RECORD:
        raise ValueError(
            f"the history (n_steps/record_every bursts of {burst} records of (N + C)(d + 1) floats) exceeds "
            f"{_MAX_RECORD}"
        )
    return n, C, d, N, lr, n_steps, record_every, burst


def _inv_sqrt(S: np.ndarray) -> np.ndarray:
    ev, V = np.linalg.eigh(S)
    return (V / np.sqrt(ev)) @ V.T


def _class_means(H: np.ndarray, Y: np.ndarray, n: int) -> np.ndarray:
    return Y.T @ H / n


def _least_squares(H: np.ndarray, Y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    X = np.hstack([H, np.ones((H.shape[0], 1))])
    sol = np.linalg.lstsq(X, Y, rcond=None)[0]
    return sol[:-1].T, sol[-1]


def train_central_path(
    n: int, C: int, d: int, *, mean_scale: float, lr: float, n_steps: int, record_every: int, seed
) -> FeatureRun:
    """Projected gradient descent on the renormalised feature manifold {Sigma_W = I} with the least-squares
    classifier at every step (module docstring). Start: class means iid N(0, mean_scale^2 I_d), within-class
    deviations iid N(0, I_d), class-centred and whitened. Needs N - C >= d (Sigma_W invertible).

    Raises FloatingPointError if the features become non-finite (naming the step)."""
    n, C, d, N, lr, n_steps, record_every, _ = _args(n, C, d, lr, n_steps, record_every)
    mean_scale = val.positive("mean_scale", mean_scale, upper=1e6)
    if N - C < d:
        raise ValueError(f"d must be <= N - C = {N - C} (Sigma_W must be invertible), got d = {d}")
    g = rng(seed)
    y = np.repeat(np.arange(C), n)
    Y = np.eye(C)[y]
    E = g.standard_normal((N, d))
    E -= _class_means(E, Y, n)[y]
    E = E @ _inv_sqrt(E.T @ E / N)
    H = mean_scale * g.standard_normal((C, d))[y] + E
    rec: dict[str, list] = dict(t=[], H=[], W=[], b=[])
    with np.errstate(over="ignore", invalid="ignore"):  # a blow-up is caught below, naming the step
        try:
            _central_path_loop(H, Y, y, n, N, lr, n_steps, record_every, rec)
        except (np.linalg.LinAlgError, ValueError) as e:  # a least-squares / eigen solve of overflowed features
            step = (len(rec["t"]) - 1) * record_every
            raise FloatingPointError(
                f"train_central_path: the features left the float64 range after step {step} (lr={lr}): {e}"
            ) from None
    return FeatureRun(
        **{k: np.array(v) for k, v in rec.items()},
        y=y,
        settings=dict(n=n, C=C, d=d, lr=lr, mean_scale=mean_scale, lam=0.0),
    )


def _central_path_loop(H, Y, y, n, N, lr, n_steps, record_every, rec) -> None:
    for step in range(n_steps + 1):
        W, b = _least_squares(H, Y)
        if step % record_every == 0:
            for k, v in zip(rec, (step * lr, H.copy(), W, b)):
                rec[k].append(v)
        if step == n_steps:
            break
        G = (H @ W.T + b - Y) @ W / N
        Gm = _class_means(G, Y, n)
        M = _class_means(H, Y, n)
        E = H - M[y]
        Ge = G - Gm[y]
        # normal part {E S}: S Sigma_W + Sigma_W S = (Ge^T E + E^T Ge)/N (least-squares fit over symmetric S)
        S = linalg.solve_continuous_lyapunov(E.T @ E / N, (Ge.T @ E + E.T @ Ge) / N)
        H = H - lr * (Gm[y] + Ge - E @ S)
        if not np.all(np.isfinite(H)):
            raise FloatingPointError(f"train_central_path: non-finite features at step {step + 1} (lr={lr})")
        M = _class_means(H, Y, n)
        E = H - M[y]
        H = M[y] + E @ _inv_sqrt(E.T @ E / N)
        if not np.all(np.isfinite(H)):
            raise FloatingPointError(f"train_central_path: non-finite features at step {step + 1} (lr={lr})")


def train_regularised_mse(
    n: int,
    C: int,
    d: int,
    *,
    lam: float,
    lam_H: float,
    lr: float,
    n_steps: int,
    record_every: int,
    burst: int = 1,
    init_std: float = 0.3,
    seed,
) -> FeatureRun:
    """Gradient descent on (W, b, H) for the regularised MSE loss of the module docstring, from iid
    N(0, init_std^2) entries (b = 0). Records the steps s <= n_steps with s mod record_every < burst (a burst of
    ``burst`` consecutive steps from every multiple of record_every). Raises FloatingPointError if the parameters
    become non-finite (naming the step)."""
    n, C, d, N, lr, n_steps, record_every, burst = _args(n, C, d, lr, n_steps, record_every, burst)
    lam, lam_H = val.nonnegative("lam", lam, upper=1e6), val.nonnegative("lam_H", lam_H, upper=1e6)
    init_std = val.positive("init_std", init_std, upper=1e3)
    g = rng(seed)
    y = np.repeat(np.arange(C), n)
    Y = np.eye(C)[y]
    H, W = (init_std * g.standard_normal(s) for s in ((N, d), (C, d)))
    b = np.zeros(C)
    rec: dict[str, list] = dict(t=[], H=[], W=[], b=[])
    with np.errstate(over="ignore", invalid="ignore"):  # a blow-up is caught below, naming the step
        _joint_loop(H, W, b, Y, N, lam, lam_H, lr, n_steps, record_every, burst, rec)
    return FeatureRun(
        **{k: np.array(v) for k, v in rec.items()},
        y=y,
        settings=dict(
            n=n, C=C, d=d, lr=lr, lam=lam, lam_H=lam_H, init_std=init_std, record_every=record_every, burst=burst
        ),
    )


def _joint_loop(H, W, b, Y, N, lam, lam_H, lr, n_steps, record_every, burst, rec) -> None:
    for step in range(n_steps + 1):
        if step % record_every < burst:
            for k, v in zip(rec, (step * lr, H.copy(), W.copy(), b.copy())):
                rec[k].append(v)
        if step == n_steps:
            break
        R = (H @ W.T + b - Y) / N
        gW, gb, gH = R.T @ H + lam * W, R.sum(axis=0) + lam * b, R @ W + lam_H * H
        W, b, H = W - lr * gW, b - lr * gb, H - lr * gH
        if not (np.all(np.isfinite(H)) and np.all(np.isfinite(W)) and np.all(np.isfinite(b))):
            raise FloatingPointError(f"train_regularised_mse: non-finite parameters at step {step + 1} (lr={lr})")
