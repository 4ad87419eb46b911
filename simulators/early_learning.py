"""Gradient descent on logistic regression with flipped labels (the linear model of Liu, Niles-Weed, Razavian &
Fernandez-Granda 2020, arXiv:2007.00151, Section 3).

x_i = y*_i v + sigma z_i in R^p with v = e_1, z_i ~ N(0, I_p), balanced random y*_i; exactly round(Delta n) labels
flipped; loss (1/n) sum_i log(1 + exp(-y~_i theta^T x_i)); full-batch GD from theta_0 = 0 with step eta (default
1/L_F with L_F = ||X||_F^2 / (4n) >= the loss's smoothness ||X||_2^2 / (4n), so the step is stable). Records, after every step, the accuracy on the mislabelled points
with respect to their TRUE labels and the training accuracy on the given labels; stops once every given label is
fitted (memorisation) or after ``max_steps``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dltheory.theory._validate import (
    MAX_STEPS,
    MAX_WIDTH,
    generator,
    integer_at_least,
    positive,
    probability,
)

__all__ = ["NoisyLabelRun", "gd_noisy_labels"]


@dataclass(frozen=True)
class NoisyLabelRun:
    """``flipped_accuracy[t]`` / ``train_accuracy[t]``: after step t + 1 (ties count 1/2); ``memorized``: every given
    label fitted within the steps run; ``eta``: the step used; ``seed``: as given."""

    flipped_accuracy: np.ndarray
    train_accuracy: np.ndarray
    memorized: bool
    eta: float
    seed: object


def _accuracy(margins: np.ndarray) -> float:
    return float(np.mean((margins > 0) + 0.5 * (margins == 0)))


def gd_noisy_labels(
    n: int, p: int, sigma: float, Delta: float, *, max_steps: int, seed, eta: float | None = None
) -> NoisyLabelRun:
    """One data set and one GD run (see the module docstring)."""
    n = integer_at_least("n", n, 2, upper=MAX_WIDTH)
    p = integer_at_least("p", p, 2, upper=MAX_WIDTH)
    sigma = positive("sigma", sigma, upper=1e100)  # squares stay finite in float64
    Delta = probability("Delta", Delta, open_lower=True)
    if Delta >= 0.5 or not 1 <= round(Delta * n) < n / 2:
        raise ValueError(f"Delta must lie in (0, 1/2) with 1 <= round(Delta * n) < n/2, got Delta={Delta}, n={n}")
    max_steps = integer_at_least("max_steps", max_steps, 1, upper=MAX_STEPS)
    if n * p > 10**8:
        raise ValueError(f"n * p must be <= 1e8, got {n * p}")
    if eta is not None:
        eta = positive("eta", eta)
    rng = generator("seed", seed)
    y_true = rng.choice(np.array([-1.0, 1.0]), n)
    X = sigma * rng.standard_normal((n, p))
    X[:, 0] += y_true
    flipped = np.zeros(n, dtype=bool)
    flipped[rng.choice(n, round(Delta * n), replace=False)] = True
    y = np.where(flipped, -y_true, y_true)
    if eta is None:
        eta = 4 * n / float(np.sum(X * X))
    theta = np.zeros(p)
    flipped_acc, train_acc = [], []
    for t in range(max_steps):
        with np.errstate(over="ignore", invalid="ignore"):
            scores = X @ theta
            theta = theta + eta / n * X.T @ (y * 0.5 * (1 - np.tanh(y * scores / 2)))  # sigmoid(-m) = (1 - tanh(m/2))/2
            scores = X @ theta
        if not (np.all(np.isfinite(theta)) and np.all(np.isfinite(scores))):
            raise FloatingPointError(f"gd_noisy_labels: non-finite weights at step {t + 1} (eta = {eta:g} too large?)")
        flipped_acc.append(_accuracy(y_true[flipped] * scores[flipped]))
        train_acc.append(_accuracy(y * scores))
        if train_acc[-1] == 1.0:
            break
    return NoisyLabelRun(
        np.array(flipped_acc), np.array(train_acc), memorized=train_acc[-1] == 1.0, eta=float(eta), seed=seed
    )
