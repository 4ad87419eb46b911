"""A bias-free one-hidden-layer ReLU MLP trained by full-batch GD with MSE and weight decay, one run per weight
decay from a common initialisation (JAX, float64, vmapped over the weight decays).

Model f(x) = W relu(A x) (A: m x D, W: K x m, no biases); objective
    1/(2N) ||relu(X A^T) W^T - Y||_F^2 + (lambda/2) (||A||_F^2 + ||W||_F^2),   Y one-hot,
heavy ball v <- momentum v - lr grad, p <- p + v (momentum 0: plain GD). He initialisation A ~ N(0, 2/D),
W ~ N(0, 1/m). Runs inside a scoped ``jax.enable_x64(True)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from dltheory.simulators._seeding import rng
from dltheory.theory import _validate as val

__all__ = ["orthonormal_inputs", "DecaySweep", "train_relu_mlp_decay"]


def _counts(n_per_class) -> np.ndarray:
    n = np.asarray(n_per_class, dtype=object if isinstance(n_per_class, str | bytes) else None)
    if not (n.ndim == 1 and n.dtype.kind in "iu" and n.size >= 2 and np.all(n >= 1) and n.sum() <= val.MAX_WIDTH):
        raise ValueError(
            f"n_per_class must be a 1-D integer array of >= 2 classes with >= 1 sample each and <= {val.MAX_WIDTH} "
            f"in all, got {n_per_class!r}"
        )
    return n.astype(int)


def orthonormal_inputs(n_per_class, dim: int, *, seed) -> tuple[np.ndarray, np.ndarray]:
    """N = sum n_k inputs with orthonormal rows in R^dim (dim >= N; a Haar-random orthonormal set from the QR of a
    Gaussian matrix) and class-sorted labels y (class k has n_k rows)."""
    n = _counts(n_per_class)
    N = int(n.sum())
    dim = val.integer("dim", dim, lower=N, upper=val.MAX_WIDTH)
    if N * dim > val.MAX_ELEMENTS:
        raise ValueError(f"N * dim must be <= {val.MAX_ELEMENTS} (memory cap), got {N * dim}")
    Q, R = np.linalg.qr(rng(seed).standard_normal((dim, N)))
    return (Q * np.sign(np.diag(R))).T, np.repeat(np.arange(n.size), n)


@dataclass(frozen=True)
class DecaySweep:
    """GD runs, one per weight decay (axis 0 of every array): weight_decays (L,); A (L, m, D) and W (L, K, m) at the
    end; features (L, R, N, m): relu(X A^T) at each of the R records; classifier (L, R, K, m): W at each record;
    objective (L, R); steps (R,): the step count of each record; y: labels (N,)."""

    weight_decays: np.ndarray
    A: np.ndarray
    W: np.ndarray
    features: np.ndarray
    classifier: np.ndarray
    objective: np.ndarray
    steps: np.ndarray
    y: np.ndarray


def _objective(p, lam, X, Y):
    A, W = p
    H = jax.nn.relu(X @ A.T)
    return 0.5 / X.shape[0] * jnp.sum((H @ W.T - Y) ** 2) + 0.5 * lam * (jnp.sum(A**2) + jnp.sum(W**2))


@partial(jax.jit, static_argnames=("n_chunks", "every"))
def _sweep(A0, W0, lams, X, Y, lr, momentum, *, n_chunks, every):
    grad = jax.grad(_objective)

    def one(lam):
        def step(_, carry):
            p, v = carry
            v = jax.tree_util.tree_map(lambda vi, gi: momentum * vi - lr * gi, v, grad(p, lam, X, Y))
            return jax.tree_util.tree_map(jnp.add, p, v), v

        def chunk(carry, _):
            carry = jax.lax.fori_loop(0, every, step, carry)
            p = carry[0]
            return carry, (jax.nn.relu(X @ p[0].T), p[1], _objective(p, lam, X, Y))

        p0 = (A0, W0)
        (p, _), rec = jax.lax.scan(chunk, (p0, jax.tree_util.tree_map(jnp.zeros_like, p0)), None, length=n_chunks)
        return p, rec

    return jax.vmap(one)(lams)


def train_relu_mlp_decay(
    X,
    y,
    weight_decays,
    *,
    width: int = 16,
    lr: float = 1.0,
    momentum: float = 0.0,
    n_steps: int = 5000,
    record_every: int | None = None,
    seed,
) -> DecaySweep:
    """Train the module's MLP on (X, y) once per weight decay (each lambda >= 0), all from the same He
    initialisation drawn from ``seed``; ``record_every`` (a divisor of n_steps; None: the last step only) sets
    when features, W and the objective are recorded. Raises FloatingPointError naming the first non-finite record.
    """
    X = val.real_array("X", X, ndim=2)
    N, D = X.shape
    y = val.labels("y", y, length=N)
    K = int(y.max()) + 1
    if K < 2 or np.any(np.bincount(y, minlength=K) == 0):
        raise ValueError(f"y must use every class 0..K-1 with K >= 2, got counts {np.bincount(y).tolist()}")
    lams = val.real_array("weight_decays", weight_decays, ndim=1, lower=0.0)
    width = val.integer("width", width, lower=1, upper=val.MAX_WIDTH)
    lr = val.positive("lr", lr)
    momentum = val.real_scalar("momentum", momentum, lower=0.0, upper=1.0, upper_strict=True)
    n_steps = val.integer("n_steps", n_steps, lower=1, upper=val.MAX_STEPS)
    every = n_steps if record_every is None else val.integer("record_every", record_every, lower=1, upper=n_steps)
    if n_steps % every:
        raise ValueError(f"record_every must divide n_steps = {n_steps}, got {record_every}")
    n_chunks = n_steps // every
    if lams.size * n_chunks * N * width + lams.size * width * (D + K) > val.MAX_ELEMENTS:
        raise ValueError(f"weight decays x records x N x width must be <= {val.MAX_ELEMENTS}; raise record_every")
    g = rng(seed)
    A0 = g.standard_normal((width, D)) * np.sqrt(2.0 / D)
    W0 = g.standard_normal((K, width)) * np.sqrt(1.0 / width)
    with jax.enable_x64(True):
        (A, W), (H, Wr, obj) = _sweep(
            A0, W0, jnp.asarray(lams), jnp.asarray(X), jnp.eye(K)[y], lr, momentum, n_chunks=n_chunks, every=every
        )
        A, W, H, Wr, obj = (np.asarray(a) for a in (A, W, H, Wr, obj))
    bad = np.argwhere(~np.isfinite(obj))
    if bad.size:
        j, r = bad[0]
        raise FloatingPointError(
            f"ReLU MLP GD diverged (non-finite objective) by step {(r + 1) * every} at weight decay {lams[j]} (lr={lr})"
        )
    return DecaySweep(lams, A, W, H, Wr, obj, every * np.arange(1, n_chunks + 1), y)
