"""Tian's Li_2 set-up: a two-layer quadratic network on modular addition trained by full-batch gradient descent.

Tian 2025, "Provable Scaling Laws of Feature Emergence from Learning Dynamics of Grokking", arXiv:2509.21519, sec. 2:
inputs X (n x 2M) hold the two one-hots of each training pair (a, b) of Z_M, the target Y (n x M) the one-hot of
(a + b) mod M; the network is Y^ = sigma(X W) V with sigma(x) = x^2, W (2M x K), V (K x M), and the loss is

    L = 1/2 ||P_perp (Y - sigma(X W) V)||_F^2 + eta/2 (||W||_F^2 + ||V||_F^2),   P_perp = I - 1 1^T / n

(a sum over the n pairs, not a mean). Gradient descent with separate learning rates for W and V (two time scales).
Column j of W is hidden node j, w_j = [u_j; v_j]. The simulator returns weights only (no prediction).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dltheory.simulators._seeding import rng
from dltheory.theory import _validate as val

__all__ = ["Li2Run", "train_li2"]

MAX_M = 199
"""Largest modulus (the pair table is M^2 x 2M)."""
MAX_NODES = 4096
"""Largest number of hidden nodes K."""
MAX_STEPS = 1_000_000
"""Largest number of gradient steps."""


@dataclass(frozen=True)
class Li2Run:
    """``pairs`` (n, 2): the training pairs (shared by the networks); per network: ``W0`` (n_nets, 2M, K), ``V0``
    (n_nets, K, M): the initialisation; ``W`` (n_nets, records, 2M, K): the first layer at ``steps``; ``V``
    (n_nets, K, M): the final top layer; ``residual`` (n_nets, records): the fraction
    ||P_perp (Y - sigma(X W) V)||^2 / ||P_perp Y||^2 of the centred target not yet fitted at ``steps``."""

    pairs: np.ndarray
    W0: np.ndarray
    V0: np.ndarray
    steps: np.ndarray
    W: np.ndarray
    V: np.ndarray
    residual: np.ndarray


def train_li2(
    M,
    K,
    n_train,
    *,
    weight_decay: float,
    lr_W: float,
    lr_V: float,
    n_steps: int,
    record_every: int,
    init_scale_W: float,
    init_scale_V: float = 0.0,
    n_nets: int = 1,
    seed,
) -> Li2Run:
    """Train ``n_nets`` independent copies of Tian's two-layer quadratic network (module docstring) on ``n_train``
    distinct pairs of Z_M drawn uniformly without replacement (all M^2 when n_train = M^2; one set for all copies),
    from W ~ N(0, init_scale_W^2) and V ~ N(0, init_scale_V^2) entries (``init_scale_V`` = 0: V starts at zero).

    Full-batch GD: W <- W - lr_W dL/dW, V <- V - lr_V dL/dV with dL/dV = -F~^T R + eta V and
    dL/dW = -X^T (R V^T * 2 X W) + eta W, R = P_perp (Y - F V), F = (X W)^2, F~ = P_perp F. Records W every
    ``record_every`` steps (and at steps 0 and n_steps). Raises FloatingPointError when the weights leave the float64
    range (a learning rate too large)."""
    M = val.integer("M", M, lower=2, upper=MAX_M)
    K = val.integer("K", K, lower=1, upper=MAX_NODES)
    n_train = val.integer("n_train", n_train, lower=2, upper=M * M)
    eta = val.nonnegative("weight_decay", weight_decay, upper=1e6)
    lr_W = val.positive("lr_W", lr_W, upper=1e6)
    lr_V = val.positive("lr_V", lr_V, upper=1e6)
    n_steps = val.integer("n_steps", n_steps, lower=1, upper=MAX_STEPS)
    record_every = val.integer("record_every", record_every, lower=1, upper=n_steps)
    init_scale_W = val.positive("init_scale_W", init_scale_W, upper=1e3)
    init_scale_V = val.nonnegative("init_scale_V", init_scale_V, upper=1e3)
    n_nets = val.integer("n_nets", n_nets, lower=1, upper=MAX_NODES)
    gen = rng(seed)

    idx = np.sort(gen.choice(M * M, size=n_train, replace=False))
    pairs = np.column_stack([idx // M, idx % M])
    a, b = pairs[:, 0], pairs[:, 1]
    X = np.concatenate([np.eye(M)[a], np.eye(M)[b]], axis=1)  # (n, 2M): the two one-hots
    Y = np.eye(M)[(a + b) % M]
    Yc = Y - Y.mean(axis=0)
    norm_Yc = float(np.sum(Yc * Yc))
    W0 = gen.normal(0.0, init_scale_W, (n_nets, 2 * M, K))
    V0 = gen.normal(0.0, init_scale_V, (n_nets, K, M)) if init_scale_V > 0 else np.zeros((n_nets, K, M))
    W, V = W0.copy(), V0.copy()
    steps, Ws, residual = [], [], []
    with np.errstate(over="raise", invalid="raise"):
        for t in range(n_steps + 1):
            try:
                H = X @ W  # (nets, n, K)
                F = H * H
                Fc = F - F.mean(axis=1, keepdims=True)
                R = Yc - Fc @ V  # P_perp (Y - F V): P_perp Y = Yc and P_perp F V = Fc V
                if t % record_every == 0 or t == n_steps:
                    steps.append(t)
                    Ws.append(W.copy())
                    residual.append(np.sum(R * R, axis=(1, 2)) / norm_Yc)
                if t == n_steps:
                    break
                gW = X.T @ ((R @ V.transpose(0, 2, 1)) * (2 * H)) - eta * W  # -dL/dW
                gV = Fc.transpose(0, 2, 1) @ R - eta * V  # -dL/dV
                W = W + lr_W * gW
                V = V + lr_V * gV
            except FloatingPointError:
                raise FloatingPointError(
                    f"train_li2: weights left the float64 range at step {t} (lr_W={lr_W}, lr_V={lr_V}); lower them"
                ) from None
    return Li2Run(
        pairs=pairs,
        W0=W0,
        V0=V0,
        steps=np.array(steps),
        W=np.stack(Ws, axis=1),
        V=V,
        residual=np.stack(residual, axis=1),
    )
