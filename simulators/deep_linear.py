"""Full-batch gradient descent on deep linear networks y = W^D ... W^1 x (numba kernel + numpy reference).

Conventions (Saxe, McClelland & Ganguli 2014, arXiv:1312.6120, sec. 1 and eq. 13): loss
L = 1/2 E||y - W_tot x||^2 = 1/2 tr(W_tot S11 W_tot^T) - tr(S31^T W_tot) + const, with input correlation
S11 = E[x x^T] and input-output correlation S31 = E[y x^T] (means, not sums). One GD step with step size
``eta`` is W^l <- W^l + eta (W^D..W^{l+1})^T (S31 - W_tot S11) (W^{l-1}..W^1)^T, so the gradient-flow time
is t = eta * step (tau = 1/eta). Weights are a list [W^1, ..., W^D] with W^l of shape (n_l+1, n_l).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit
from numba.typed import List

from dltheory.simulators._seeding import rng

__all__ = [
    "LinearTask",
    "WeightTrajectory",
    "make_task",
    "random_orthogonal",
    "init_decoupled",
    "init_small_random",
    "init_balanced",
    "init_orthogonal",
    "train",
    "train_reference",
    "balancedness",
    "gaussian_product_sq_singular_values",
    "gaussian_product_moments",
    "orthogonal_product_singular_values",
]


@dataclass(frozen=True)
class LinearTask:
    """Input correlation S11 (n_in x n_in), input-output correlation S31 = U diag(s) V^T (n_out x n_in)."""

    S11: np.ndarray
    S31: np.ndarray
    U: np.ndarray
    s: np.ndarray
    V: np.ndarray


@dataclass(frozen=True)
class WeightTrajectory:
    """GD record. ``t = eta * steps``; ``W_tot[k]`` is the end-to-end map at ``steps[k]``.

    ``crossing_step[a]``: first step at which mode a's strength reached its target (-1: never / untracked).
    ``balancedness[k]``: max_l ||W^{l+1 T} W^{l+1} - W^l W^{l T}||_F at ``steps[k]``.
    """

    steps: np.ndarray
    t: np.ndarray
    W_tot: np.ndarray
    balancedness: np.ndarray
    crossing_step: np.ndarray
    weights: tuple[np.ndarray, ...]
    eta: float

    def mode_strengths(self, task: LinearTask) -> np.ndarray:
        """u_a(t) = u_a^T W_tot(t) v_a for the task's modes; shape (len(steps), len(task.s))."""
        r = task.s.size
        return np.einsum("oa,koi,ia->ka", task.U[:, :r], self.W_tot, task.V[:, :r])


def _check_positive(name: str, value, allowed: str = "> 0") -> None:
    if not np.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be finite and {allowed}, got {value!r}")


def random_orthogonal(n: int, m: int | None = None, *, seed) -> np.ndarray:
    """Haar-random n x m matrix with orthonormal columns (m <= n) or rows (m > n)."""
    m = n if m is None else m
    g = rng(seed).standard_normal((max(n, m), min(n, m)))
    q, r = np.linalg.qr(g)
    q = q * np.sign(np.diag(r))
    return q if n >= m else q.T


def make_task(s, n_in: int, n_out: int, *, seed, S11: np.ndarray | None = None) -> LinearTask:
    """A task with S31 = U diag(s) V^T for Haar-random U (n_out), V (n_in); S11 = I unless given."""
    s = np.asarray(s, dtype=float)
    if s.ndim != 1 or s.size == 0 or np.any(~np.isfinite(s)) or np.any(s <= 0):
        raise ValueError(f"s must be a non-empty 1-D array of finite values > 0, got {s!r}")
    if s.size > min(n_in, n_out):
        raise ValueError(f"len(s)={s.size} must be <= min(n_in, n_out)={min(n_in, n_out)}")
    g = rng(seed)
    U, V = random_orthogonal(n_out, seed=g), random_orthogonal(n_in, seed=g)
    S31 = (U[:, : s.size] * s) @ V[:, : s.size].T
    if S11 is None:
        S11 = np.eye(n_in)
    S11 = np.asarray(S11, dtype=float)
    if S11.shape != (n_in, n_in) or not np.allclose(S11, S11.T) or np.linalg.eigvalsh(S11).min() < 0:
        raise ValueError(f"S11 must be a symmetric PSD ({n_in} x {n_in}) matrix")
    return LinearTask(S11=S11, S31=S31, U=U, s=s, V=V)


def _check_widths(widths) -> list[int]:
    widths = [int(w) for w in widths]
    if len(widths) < 3:
        raise ValueError(f"widths must list >= 3 layer sizes (n_in, hidden..., n_out; depth >= 2), got {widths}")
    if min(widths) < 1:
        raise ValueError(f"widths must be >= 1, got {widths}")
    return widths


def init_decoupled(task: LinearTask, widths, a0, *, seed) -> list[np.ndarray]:
    """Decoupled init (Saxe et al. 2014, sec. 2/eq. 13): R_{l+1}^T W^l R_l = diag(a0), R_1 = V, R_{D+1} = U.

    ``a0``: per-layer strength, a scalar or one value per mode (len(task.s)); every hidden width must be
    >= the number of modes. Mode a then starts at u_a(0) = a0_a^D.
    """
    widths = _check_widths(widths)
    r = task.s.size
    if widths[0] != task.V.shape[0] or widths[-1] != task.U.shape[0]:
        raise ValueError(f"widths must start with n_in={task.V.shape[0]} and end with n_out={task.U.shape[0]}")
    if min(widths[1:-1]) < r:
        raise ValueError(f"hidden widths must be >= number of modes {r}, got {widths}")
    a0 = np.broadcast_to(np.asarray(a0, dtype=float), (r,))
    if np.any(~np.isfinite(a0)) or np.any(a0 <= 0):
        raise ValueError(f"a0 must be finite and > 0, got {a0}")
    g = rng(seed)
    R = [task.V] + [random_orthogonal(n, seed=g) for n in widths[1:-1]] + [task.U]
    return [(R[l + 1][:, :r] * a0) @ R[l][:, :r].T for l in range(len(widths) - 1)]


def init_small_random(widths, sigma0: float, *, seed) -> list[np.ndarray]:
    """I.i.d. N(0, sigma0^2) entries in every layer."""
    widths = _check_widths(widths)
    _check_positive("sigma0", sigma0)
    g = rng(seed)
    return [sigma0 * g.standard_normal((widths[l + 1], widths[l])) for l in range(len(widths) - 1)]


def init_balanced(widths, sigma, *, seed) -> list[np.ndarray]:
    """Balanced init (Arora, Cohen & Hazan 2018, sec. 3): W^{l+1 T} W^{l+1} = W^l W^{l T} for every l.

    Built as W^l = R_{l+1} diag(sigma)^{1/D} R_l^T from Haar frames R_l (n_l x k), so the end-to-end map is
    R_{D+1} diag(sigma) R_1^T with singular values ``sigma`` (k = len(sigma) <= every width).
    """
    widths = _check_widths(widths)
    sigma = np.atleast_1d(np.asarray(sigma, dtype=float))
    if np.any(~np.isfinite(sigma)) or np.any(sigma <= 0):
        raise ValueError(f"sigma must be finite and > 0, got {sigma}")
    if sigma.size > min(widths):
        raise ValueError(f"len(sigma)={sigma.size} must be <= min(widths)={min(widths)}")
    D, g = len(widths) - 1, rng(seed)
    R = [random_orthogonal(n, sigma.size, seed=g) for n in widths]
    root = sigma ** (1.0 / D)
    return [(R[l + 1] * root) @ R[l].T for l in range(D)]


def init_orthogonal(widths, scale: float = 1.0, *, seed) -> list[np.ndarray]:
    """Scaled Haar-orthogonal layers (orthonormal rows or columns when rectangular)."""
    widths = _check_widths(widths)
    _check_positive("scale", scale)
    g = rng(seed)
    return [scale * random_orthogonal(widths[l + 1], widths[l], seed=g) for l in range(len(widths) - 1)]


def balancedness(weights) -> float:
    """max_l ||W^{l+1 T} W^{l+1} - W^l W^{l T}||_F (zero for a balanced network)."""
    return max(float(np.linalg.norm(b.T @ b - a @ a.T)) for a, b in zip(weights[:-1], weights[1:]))


@njit(cache=True)
def _gd_kernel(Ws, S11, S31, Ut, Vt, eta, n_steps, every, targets, stop_early, W_rec, bal_rec, crossing):
    """GD loop. Returns (number of records, divergence step or -1, last step run)."""
    D = len(Ws)
    n_out, n_in = S31.shape
    n_track = targets.shape[0]
    k = 0
    step = 0
    while True:
        pre = List()  # pre[l] = W^l ... W^1 (pre[0] = I)
        pre.append(np.eye(n_in))
        for l in range(D):
            pre.append(Ws[l] @ pre[l])
        W_tot = pre[D]
        if not np.all(np.isfinite(W_tot)) or np.max(np.abs(W_tot)) > 1e100:
            return k, step, step
        n_open = 0
        for a in range(n_track):
            if crossing[a] < 0 and not np.isnan(targets[a]):
                if Ut[a] @ W_tot @ Vt[a] >= targets[a]:
                    crossing[a] = step
                else:
                    n_open += 1
        done = step == n_steps or (stop_early and n_open == 0)
        if step % every == 0 or done:
            W_rec[k] = W_tot
            b = 0.0
            for l in range(D - 1):
                diff = Ws[l + 1].T @ Ws[l + 1] - Ws[l] @ Ws[l].T
                b = max(b, np.sqrt(np.sum(diff * diff)))
            bal_rec[k] = b
            k += 1
        if done:
            return k, -1, step
        G = S31 - W_tot @ S11
        suf = np.eye(n_out)  # suf = W^D ... W^{l+2} while updating layer l+1 (0-based index l)
        new = List()
        for l in range(D - 1, -1, -1):
            # contiguous transposes: numba's BLAS path is ~2x slower on transposed views
            new.append(Ws[l] + eta * (np.ascontiguousarray(suf.T) @ G @ np.ascontiguousarray(pre[l].T)))
            suf = suf @ Ws[l]
        for l in range(D):
            Ws[l] = new[D - 1 - l]
        step += 1


def _validate_run(weights, task: LinearTask, eta: float, n_steps: int, record_every: int) -> list[np.ndarray]:
    _check_positive("eta", eta)
    if int(n_steps) != n_steps or n_steps < 0:
        raise ValueError(f"n_steps must be an integer >= 0, got {n_steps!r}")
    if int(record_every) != record_every or record_every < 1:
        raise ValueError(f"record_every must be an integer >= 1, got {record_every!r}")
    Ws = [np.ascontiguousarray(w, dtype=float) for w in weights]
    if len(Ws) < 1:
        raise ValueError("weights must hold at least one matrix")
    n_out, n_in = task.S31.shape
    if Ws[0].shape[1] != n_in or Ws[-1].shape[0] != n_out:
        raise ValueError(f"weights map {Ws[0].shape[1]} -> {Ws[-1].shape[0]} but the task needs {n_in} -> {n_out}")
    for l in range(len(Ws) - 1):
        if Ws[l + 1].shape[1] != Ws[l].shape[0]:
            raise ValueError(
                f"weights[{l + 1}] has {Ws[l + 1].shape[1]} inputs but weights[{l}] has {Ws[l].shape[0]} outputs"
            )
    if any(not np.all(np.isfinite(w)) for w in Ws):
        raise ValueError("weights must be finite")
    return Ws


def train(
    weights,
    task: LinearTask,
    *,
    eta: float,
    n_steps: int,
    record_every: int = 1,
    targets=None,
    stop_when_crossed: bool = False,
) -> WeightTrajectory:
    """Run ``n_steps`` of full-batch GD from ``weights`` (not modified) on ``task``.

    Records W_tot and balancedness every ``record_every`` steps (and at the last step). ``targets``
    (one value per mode of ``task``, NaN = untracked) records the first step with u_a >= target, checked
    every step; with ``stop_when_crossed`` the run stops once every tracked mode has crossed.
    Raises FloatingPointError naming eta and the step if the iterates diverge.
    """
    Ws = _validate_run(weights, task, eta, n_steps, record_every)
    r = task.s.size
    targets = np.full(r, np.nan) if targets is None else np.asarray(targets, dtype=float).reshape(-1)
    if targets.size != r:
        raise ValueError(f"targets must have one entry per mode ({r}), got {targets.size}")
    n_rec = n_steps // record_every + 2
    n_out, n_in = task.S31.shape
    W_rec, bal_rec = np.empty((n_rec, n_out, n_in)), np.empty(n_rec)
    crossing = np.full(r, -1, dtype=np.int64)
    typed = List(Ws)
    Ut, Vt = np.ascontiguousarray(task.U[:, :r].T), np.ascontiguousarray(task.V[:, :r].T)
    k, diverged, last = _gd_kernel(
        typed,
        task.S11,
        task.S31,
        Ut,
        Vt,
        float(eta),
        int(n_steps),
        int(record_every),
        targets,
        bool(stop_when_crossed),
        W_rec,
        bal_rec,
        crossing,
    )
    if diverged >= 0:
        raise FloatingPointError(
            f"gradient descent diverged at step {diverged} with eta={eta} "
            f"(|W_tot| non-finite or > 1e100); lower eta below ~1/(depth * s_max)"
        )
    steps = np.arange(0, last + 1, record_every)
    if steps[-1] != last:
        steps = np.append(steps, last)
    return WeightTrajectory(
        steps=steps,
        t=eta * steps,
        W_tot=W_rec[:k],
        balancedness=bal_rec[:k],
        crossing_step=crossing,
        weights=tuple(typed),
        eta=float(eta),
    )


def train_reference(weights, task: LinearTask, *, eta: float, n_steps: int, record_every: int = 1) -> np.ndarray:
    """Plain-numpy GD (same update as :func:`train`), returning W_tot at steps 0, every, 2 every, ..."""
    Ws = _validate_run(weights, task, eta, n_steps, record_every)
    out = []

    def product(ms, n):
        p = np.eye(n)
        for m in ms:
            p = m @ p
        return p

    n_in = task.S31.shape[1]
    for step in range(n_steps + 1):
        W_tot = product(Ws, n_in)
        if step % record_every == 0:
            out.append(W_tot)
        G = task.S31 - W_tot @ task.S11
        Ws = [W + eta * product(Ws[l + 1 :], W.shape[0]).T @ G @ product(Ws[:l], n_in).T for l, W in enumerate(Ws)]
    return np.array(out)


def gaussian_product_sq_singular_values(N: int, L: int, n_samples: int, *, seed) -> np.ndarray:
    """Squared singular values of W_L ... W_1 with i.i.d. N(0, 1/N) entries (N x N); shape (n_samples, N)."""
    for name, v, lo in (("N", N, 1), ("L", L, 1), ("n_samples", n_samples, 1)):
        if int(v) != v or v < lo:
            raise ValueError(f"{name} must be an integer >= {lo}, got {v!r}")
    g = rng(seed)
    out = np.empty((n_samples, N))
    for k in range(n_samples):
        P = np.eye(N)
        for _ in range(L):
            P = g.standard_normal((N, N)) @ P / np.sqrt(N)
        out[k] = np.linalg.svd(P, compute_uv=False) ** 2
    return out


def gaussian_product_moments(N: int, L: int, n_samples: int, orders=(1, 2, 3), *, seed) -> np.ndarray:
    """Spectral moments (1/N) tr((P^T P)^m) of P = W_L ... W_1, i.i.d. N(0, 1/N) entries; shape (n_samples, len(orders)).

    The same draws as :func:`gaussian_product_sq_singular_values` (same seed, same order), so that function is its
    reference: its squared singular values x give mean(x^m). Traces of powers of the symmetric A = P^T P, no SVD.
    """
    for name, v in (("N", N), ("L", L), ("n_samples", n_samples)):
        if int(v) != v or v < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {v!r}")
    orders = [int(m) for m in orders]
    if not orders or min(orders) < 1:
        raise ValueError(f"orders must be integers >= 1, got {orders}")
    g = rng(seed)
    out = np.empty((n_samples, len(orders)))
    for k in range(n_samples):
        P = np.eye(N)
        for _ in range(L):
            P = g.standard_normal((N, N)) @ P / np.sqrt(N)
        powers = [np.eye(N), P.T @ P]  # A^0, A^1, ... up to A^ceil(max/2); tr A^m = sum(A^ceil(m/2) * A^floor(m/2))
        while len(powers) <= (max(orders) + 1) // 2:
            powers.append(powers[-1] @ powers[1])
        out[k] = [np.sum(powers[(m + 1) // 2] * powers[m // 2]) / N for m in orders]
    return out


def orthogonal_product_singular_values(N: int, L: int, *, seed) -> np.ndarray:
    """Singular values of a product of L Haar-orthogonal N x N matrices (exactly 1 in exact arithmetic)."""
    g = rng(seed)
    P = np.eye(N)
    for _ in range(L):
        P = random_orthogonal(N, seed=g) @ P
    return np.linalg.svd(P, compute_uv=False)
