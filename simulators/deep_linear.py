"""Full-batch gradient descent on deep linear networks y = W^D ... W^1 x (numba kernel + numpy reference).

Conventions (Saxe, McClelland & Ganguli 2014, arXiv:1312.6120, sec. 1 and eq. 13): loss
L = 1/2 E||y - W_tot x||^2 = 1/2 tr(W_tot S11 W_tot^T) - tr(S31^T W_tot) + const, with input correlation
S11 = E[x x^T] and input-output correlation S31 = E[y x^T] (means, not sums). One GD step with step size
``eta`` is W^l <- W^l + eta (W^D..W^{l+1})^T (S31 - W_tot S11) (W^{l-1}..W^1)^T, so the gradient-flow time
is t = eta * step (tau = 1/eta). Weights are a list [W^1, ..., W^D] with W^l of shape (n_l+1, n_l).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit
from numba.typed import List

from dltheory.simulators._seeding import rng
from dltheory.theory import _validate as V

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
    "crossing_time",
    "orthogonal_layers",
    "gaussian_layers",
    "steps_to_learn",
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


def _size(name: str, value) -> int:
    """A layer width / matrix size: an int in [1, MAX_WIDTH] (theory._validate caps)."""
    return V.integer(name, value, lower=1, upper=V.MAX_WIDTH)


def random_orthogonal(n: int, m: int | None = None, *, seed) -> np.ndarray:
    """Haar-random n x m matrix with orthonormal columns (m <= n) or rows (m > n)."""
    n = _size("n", n)
    m = n if m is None else _size("m", m)
    if n * m > V.MAX_ELEMENTS:
        raise ValueError(f"n * m must be <= {V.MAX_ELEMENTS} (memory cap), got n={n}, m={m}")
    g = rng(seed).standard_normal((max(n, m), min(n, m)))
    q, r = np.linalg.qr(g)
    q = q * np.sign(np.diag(r))
    return q if n >= m else q.T


def make_task(s, n_in: int, n_out: int, *, seed, S11: np.ndarray | None = None) -> LinearTask:
    """A task with S31 = U diag(s) V^T for Haar-random U (n_out), V (n_in); S11 = I unless given."""
    s = V.real_array("s", s, ndim=1, lower=0.0, strict=True)
    n_in, n_out = _size("n_in", n_in), _size("n_out", n_out)
    if s.size > min(n_in, n_out):
        raise ValueError(f"len(s)={s.size} must be <= min(n_in, n_out)={min(n_in, n_out)}")
    S11 = np.eye(n_in) if S11 is None else V.psd_matrix("S11", S11, size=n_in)
    g = V.generator("seed", seed)
    U, Vr = random_orthogonal(n_out, seed=g), random_orthogonal(n_in, seed=g)
    S31 = (U[:, : s.size] * s) @ Vr[:, : s.size].T
    return LinearTask(S11=S11, S31=S31, U=U, s=s, V=Vr)


def _check_widths(widths) -> list[int]:
    if isinstance(widths, str | bytes) or not isinstance(widths, list | tuple | np.ndarray):
        raise V.InvalidType(f"widths must be a sequence of integers in [1, {V.MAX_WIDTH}], got {widths!r}")
    if np.asarray(widths, dtype=object).ndim != 1:
        raise ValueError(f"widths must be a flat sequence of layer sizes, got {widths!r}")
    widths = [_size(f"widths[{i}]", w) for i, w in enumerate(widths)]
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
    V.instance("task", task, LinearTask, "a LinearTask from make_task")
    widths = _check_widths(widths)
    r = task.s.size
    if widths[0] != task.V.shape[0] or widths[-1] != task.U.shape[0]:
        raise ValueError(f"widths must start with n_in={task.V.shape[0]} and end with n_out={task.U.shape[0]}")
    if min(widths[1:-1]) < r:
        raise ValueError(f"hidden widths must be >= number of modes {r}, got {widths}")
    a0 = V.real_array("a0", a0, ndim=(0, 1), lower=0.0, strict=True)
    if a0.size not in (1, r):
        raise ValueError(f"a0 must be a scalar or one value per mode ({r}), got shape {a0.shape}")
    a0 = np.broadcast_to(a0, (r,))
    g = rng(seed)
    R = [task.V] + [random_orthogonal(n, seed=g) for n in widths[1:-1]] + [task.U]
    return [(R[l + 1][:, :r] * a0) @ R[l][:, :r].T for l in range(len(widths) - 1)]


def init_small_random(widths, sigma0: float, *, seed) -> list[np.ndarray]:
    """I.i.d. N(0, sigma0^2) entries in every layer."""
    widths = _check_widths(widths)
    sigma0 = V.positive("sigma0", sigma0)
    g = rng(seed)
    return [sigma0 * g.standard_normal((widths[l + 1], widths[l])) for l in range(len(widths) - 1)]


def init_balanced(widths, sigma, *, seed) -> list[np.ndarray]:
    """Balanced init (Arora, Cohen & Hazan 2018, sec. 3): W^{l+1 T} W^{l+1} = W^l W^{l T} for every l.

    Built as W^l = R_{l+1} diag(sigma)^{1/D} R_l^T from Haar frames R_l (n_l x k), so the end-to-end map is
    R_{D+1} diag(sigma) R_1^T with singular values ``sigma`` (k = len(sigma) <= every width).
    """
    widths = _check_widths(widths)
    sigma = np.atleast_1d(V.real_array("sigma", sigma, ndim=(0, 1), lower=0.0, strict=True))
    if sigma.size > min(widths):
        raise ValueError(f"len(sigma)={sigma.size} must be <= min(widths)={min(widths)}")
    D, g = len(widths) - 1, rng(seed)
    R = [random_orthogonal(n, sigma.size, seed=g) for n in widths]
    root = sigma ** (1.0 / D)
    return [(R[l + 1] * root) @ R[l].T for l in range(D)]


def init_orthogonal(widths, scale: float = 1.0, *, seed) -> list[np.ndarray]:
    """Scaled Haar-orthogonal layers (orthonormal rows or columns when rectangular)."""
    widths = _check_widths(widths)
    scale = V.positive("scale", scale)
    g = rng(seed)
    return [scale * random_orthogonal(widths[l + 1], widths[l], seed=g) for l in range(len(widths) - 1)]


def balancedness(weights) -> float:
    """max_l ||W^{l+1 T} W^{l+1} - W^l W^{l T}||_F (zero for a balanced network); needs >= 2 layers."""
    weights = _check_weights(weights, min_layers=2)
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


def _check_weights(weights, min_layers: int = 1) -> list[np.ndarray]:
    """``weights`` as a list of finite 2-D float arrays [W^1, ..., W^D] whose shapes chain (W^{l+1} takes W^l's
    outputs), at least ``min_layers`` of them."""
    if not isinstance(weights, list | tuple):
        raise V.InvalidType(f"weights must be a list of 2-D arrays [W^1, ..., W^D], got {weights!r}")
    if len(weights) < min_layers:
        raise ValueError(f"weights must hold at least {min_layers} matrices, got {len(weights)}")
    Ws = [np.ascontiguousarray(V.real_array(f"weights[{i}]", w, ndim=2)) for i, w in enumerate(weights)]
    for l in range(len(Ws) - 1):
        if Ws[l + 1].shape[1] != Ws[l].shape[0]:
            raise ValueError(
                f"weights[{l + 1}] has {Ws[l + 1].shape[1]} inputs but weights[{l}] has {Ws[l].shape[0]} outputs"
            )
    return Ws


def _validate_run(weights, task: LinearTask, eta: float, n_steps: int, record_every: int) -> list[np.ndarray]:
    V.instance("task", task, LinearTask, "a LinearTask from make_task")
    Ws = _check_weights(weights)
    eta = V.positive("eta", eta)
    V.integer("n_steps", n_steps, lower=0, upper=V.MAX_STEPS)
    V.integer("record_every", record_every, lower=1, upper=V.MAX_STEPS)
    n_out, n_in = task.S31.shape
    if Ws[0].shape[1] != n_in or Ws[-1].shape[0] != n_out:
        raise ValueError(f"weights map {Ws[0].shape[1]} -> {Ws[-1].shape[0]} but the task needs {n_in} -> {n_out}")
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
    stop_when_crossed = V.flag("stop_when_crossed", stop_when_crossed)
    r = task.s.size
    if targets is None:
        targets = np.full(r, np.nan)
    else:  # NaN entries mean "untracked", so only +-inf is refused
        targets = np.asarray(V.instance("targets", targets, list | tuple | np.ndarray, "a 1-D array (NaN: untracked)"))
        if targets.dtype.kind not in "iuf" or targets.shape != (r,) or np.any(np.isinf(targets)):
            raise ValueError(
                f"targets must be a real 1-D array of {r} values (one per mode, NaN: untracked), got {targets!r}"
            )
        targets = targets.astype(float)
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
        with np.errstate(over="ignore", invalid="ignore"):
            W_tot = product(Ws, n_in)
        if not np.all(np.isfinite(W_tot)) or np.max(np.abs(W_tot)) > 1e100:
            raise FloatingPointError(f"gradient descent diverged at step {step} with eta={eta} (|W_tot| > 1e100)")
        if step % record_every == 0:
            out.append(W_tot)
        G = task.S31 - W_tot @ task.S11
        with np.errstate(over="ignore", invalid="ignore"):  # divergence is detected and raised at the next step
            Ws = [W + eta * product(Ws[l + 1 :], W.shape[0]).T @ G @ product(Ws[:l], n_in).T for l, W in enumerate(Ws)]
    return np.array(out)


def _product_sizes(N, L, n_samples) -> tuple[int, int, int]:
    """Validate matrix size N (N^2 <= MAX_ELEMENTS), depth L <= MAX_DEPTH and n_samples <= MAX_SAMPLES."""
    N = V.integer("N", N, lower=1, upper=math.isqrt(V.MAX_ELEMENTS))
    L = V.integer("L", L, lower=1, upper=V.MAX_DEPTH)
    n_samples = V.integer("n_samples", n_samples, lower=1, upper=V.MAX_SAMPLES)
    if n_samples * N > V.MAX_ELEMENTS:
        raise ValueError(f"n_samples * N must be <= {V.MAX_ELEMENTS} (memory cap), got {n_samples} * {N}")
    return N, L, n_samples


def gaussian_product_sq_singular_values(N: int, L: int, n_samples: int, *, seed) -> np.ndarray:
    """Squared singular values of W_L ... W_1 with i.i.d. N(0, 1/N) entries (N x N); shape (n_samples, N)."""
    N, L, n_samples = _product_sizes(N, L, n_samples)
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
    N, L, n_samples = _product_sizes(N, L, n_samples)
    if isinstance(orders, str | bytes) or not isinstance(orders, list | tuple | range | np.ndarray):
        raise V.InvalidType(f"orders must be a non-empty sequence of integers in [1, 64], got {orders!r}")
    if np.asarray(orders, dtype=object).ndim != 1 or len(orders) == 0:
        raise ValueError(f"orders must be a non-empty flat sequence of integers in [1, 64], got {orders!r}")
    orders = [V.integer(f"orders[{i}]", m, lower=1, upper=64) for i, m in enumerate(orders)]
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
    N, L, _ = _product_sizes(N, L, 1)
    g = rng(seed)
    P = np.eye(N)
    for _ in range(L):
        P = random_orthogonal(N, seed=g) @ P
    return np.linalg.svd(P, compute_uv=False)


# ----------------------------------------------------------------------------- learning times of deep networks


@njit(cache=True)
def _cubic_crossing(u, level):
    """Fractional position x in [0, 1] where the cubic through (-2, u[0]), (-1, u[1]), (0, u[2]), (1, u[3]) reaches
    ``level`` on the last interval (u[2] < level <= u[3]): Newton from the linear guess, bisection as a fallback."""
    nodes = (-2.0, -1.0, 0.0, 1.0)
    lo, hi = 0.0, 1.0
    x = (level - u[2]) / (u[3] - u[2])
    for _ in range(60):
        p, dp = -level, 0.0
        for i in range(4):
            li, dli = 1.0, 0.0
            for j in range(4):
                if j != i:
                    denom = nodes[i] - nodes[j]
                    dli = dli * (x - nodes[j]) / denom + li / denom
                    li *= (x - nodes[j]) / denom
            p += u[i] * li
            dp += u[i] * dli
        if p < 0:
            lo = x
        else:
            hi = x
        step = p / dp if dp != 0 else 0.0
        new = x - step
        if dp == 0 or not (lo <= new <= hi):
            new = 0.5 * (lo + hi)
        if abs(new - x) < 1e-15:
            return new
        x = new
    return x


def crossing_time(t, u, level: float) -> float:
    """First time the record ``u`` (at equally spaced times ``t``, >= 4 records) reaches ``level``: cubic
    interpolation through the two records before and the two around the crossing (error O(dt^4) for smooth u; the
    first intervals use the first four records). Raises ValueError if ``u`` never reaches ``level``."""
    t = V.real_array("t", t, ndim=1, min_size=4)
    u = V.real_array("u", u, shape=(t.size,))
    level = V.real_scalar("level", level)
    dt = np.diff(t)
    if not (np.all(dt > 0) and np.allclose(dt, dt[0], rtol=1e-9, atol=0.0)):
        raise ValueError("t must be increasing and equally spaced")
    if u[0] >= level:
        return float(t[0])
    above = np.flatnonzero(u >= level)
    if above.size == 0:
        raise ValueError(f"u never reaches level={level} (max u = {u.max():.6g})")
    k = int(above[0])  # u[k-1] < level <= u[k]
    start = min(max(k - 3, 0), t.size - 4)
    window = np.ascontiguousarray(u[start : start + 4])
    shift = k - (start + 3)  # 0 normally; < 0 when the crossing lies in one of the first two intervals
    if shift == 0:
        return float(t[k - 1] + _cubic_crossing(window, level) * dt[0])
    # crossing in an earlier interval of the window: reuse the cubic on the shifted nodes by bisection
    poly = np.polyfit(np.arange(4.0), window, 3)
    a, b = k - 1 - start, k - start
    lo, hi = float(a), float(b)
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if np.polyval(poly, mid) < level else (lo, mid)
    return float(t[start] + 0.5 * (lo + hi) * dt[0])


def _layer_stack_sizes(N, D, n_nets) -> tuple[int, int, int]:
    N = _size("N", N)
    D = V.integer_at_least("D", D, 1, upper=V.MAX_DEPTH)
    n_nets = V.integer_at_least("n_nets", n_nets, 1, upper=V.MAX_SAMPLES)
    if n_nets * D * N * N > V.MAX_ELEMENTS:
        raise ValueError(f"n_nets * D * N^2 must be <= {V.MAX_ELEMENTS}, got {n_nets * D * N * N}")
    return N, D, n_nets


def orthogonal_layers(N: int, D: int, n_nets: int, *, seed, product=None) -> np.ndarray:
    """Haar-orthogonal N x N layers W^1..W^D for ``n_nets`` networks; shape (n_nets, D, N, N).

    ``product`` (n_nets, N, N orthogonal, optional): the last layer is set to product (W^{D-1}..W^1)^T, so the
    end-to-end map equals ``product``; for a Haar ``product`` drawn independently this is the same joint law as
    independent Haar layers (W^D is then Haar and independent of the others), which lets networks of different
    depths share their end-to-end map (paired comparisons across depth).
    """
    N, D, n_nets = _layer_stack_sizes(N, D, n_nets)
    g = rng(V.seed("seed", seed))
    if product is not None:
        product = V.real_array("product", product, shape=(n_nets, N, N))
        eye = np.broadcast_to(np.eye(N), product.shape)
        if not np.allclose(product @ np.swapaxes(product, 1, 2), eye, atol=1e-10):
            raise ValueError("product must hold orthogonal N x N matrices (P P^T = I to 1e-10)")
    out = np.empty((n_nets, D, N, N))
    for k in range(n_nets):
        P = np.eye(N)
        for l in range(D):
            out[k, l] = random_orthogonal(N, seed=g)  # drawn even when replaced: the stream does not depend on product
            if product is not None and l == D - 1:
                out[k, l] = product[k] @ P.T
            P = out[k, l] @ P
    return out


def gaussian_layers(N: int, D: int, n_nets: int, *, seed) -> np.ndarray:
    """I.i.d. N(0, 1/N) entries in every N x N layer (norm-preserving on average); shape (n_nets, D, N, N)."""
    N, D, n_nets = _layer_stack_sizes(N, D, n_nets)
    return rng(V.seed("seed", seed)).standard_normal((n_nets, D, N, N)) / math.sqrt(N)


@njit(cache=True)
def _steps_to_learn_kernel(layers, s, eta, level, max_steps, out):
    """GD on 1/2 ||s e1 e1^T - W^D..W^1||_F^2 per network; out[k] = fractional step at which (W_tot)_11 >= level,
    -1 if not within max_steps, -2 - step if the iterates diverged."""
    n_nets, D, N, _ = layers.shape
    for k in range(n_nets):
        Ws = [np.ascontiguousarray(layers[k, l]) for l in range(D)]
        hist = np.zeros(4)
        out[k] = -1.0
        for step in range(max_steps + 1):
            pre = [np.eye(N)]
            for l in range(D):
                pre.append(Ws[l] @ pre[l])
            W_tot = pre[D]
            if not np.all(np.isfinite(W_tot)) or np.max(np.abs(W_tot)) > 1e100:
                out[k] = -2.0 - step
                break
            u = W_tot[0, 0]
            hist[0], hist[1], hist[2], hist[3] = hist[1], hist[2], hist[3], u
            if u >= level:
                if step == 0:
                    out[k] = 0.0
                elif step < 3:
                    out[k] = step - 1 + (level - hist[2]) / (u - hist[2])
                else:
                    out[k] = step - 1 + _cubic_crossing(hist, level)
                break
            if step == max_steps:
                break
            G = -W_tot
            G[0, 0] += s
            suf = np.eye(N)
            new = [Ws[l] for l in range(D)]
            for l in range(D - 1, -1, -1):
                new[l] = Ws[l] + eta * (np.ascontiguousarray(suf.T) @ G @ np.ascontiguousarray(pre[l].T))
                suf = suf @ Ws[l]
            Ws = new


def steps_to_learn(layers, s: float, *, eta: float, fraction: float, max_steps: int) -> np.ndarray:
    """Full-batch GD from each network of ``layers`` (n_nets, D, N, N) on the rank-one target S31 = s e1 e1^T with
    white inputs (S11 = I; loss 1/2 ||S31 - W_tot||_F^2, the convention of :func:`train`), step size ``eta``.

    Returns, per network, the (fractional, cubic-interpolated) number of steps until the mode strength
    u = e1^T W_tot e1 first reaches ``fraction`` * s. Both random initialisations used with it are rotation
    invariant, so a fixed target direction loses no generality. Raises RuntimeError if a network has not learned
    within ``max_steps`` and FloatingPointError (naming the network and step) if the iterates diverge.
    """
    layers = V.real_array("layers", layers, ndim=4)
    n_nets, D, N, N2 = layers.shape
    if N2 != N:
        raise ValueError(f"layers must be square (n_nets, D, N, N), got shape {layers.shape}")
    s = V.positive("s", s)
    eta = V.positive("eta", eta)
    fraction = V.real_scalar("fraction", fraction, lower=0.0, strict=True, upper=1.0, upper_strict=True)
    max_steps = V.integer_at_least("max_steps", max_steps, 1, upper=V.MAX_STEPS)
    out = np.empty(n_nets)
    _steps_to_learn_kernel(np.ascontiguousarray(layers), s, eta, fraction * s, max_steps, out)
    if np.any(out <= -2):
        k = int(np.argmax(out <= -2))
        raise FloatingPointError(
            f"gradient descent diverged for network {k} at step {int(-out[k] - 2)} with eta={eta} (|W_tot| > 1e100)"
        )
    if np.any(out < 0):
        raise RuntimeError(f"{int(np.sum(out < 0))} network(s) did not learn within max_steps={max_steps}")
    return out
