"""Linear self-attention (LSA) on in-context linear regression: the layer, one GD step by autodiff, and training.

Conventions (as dltheory.theory.in_context): tasks w ~ N(0, I_d), x_i, x_q ~ N(0, I_d), y = w . x (noiseless);
tokens e_i = (x_i, y_i), query token (x_q, y_q0). One-head LSA (von Oswald et al. 2023, arXiv:2212.07677):
e_j <- e_j + P W_V sum_{i=1..N} e_i (W_K e_i)^T (W_Q e_j) over the N context tokens (``include_query=True`` adds the
query token itself to the sum, as the authors' code does); the prediction is minus the query's updated y-slot.

Training (``train_lsa``) fits the merged matrices V = P W_V and Q = W_K^T W_Q (each (d+1) x (d+1), the layer depends
on the four matrices only through them) to the empirical risk (1/M) sum_m (y_hat_m - y_q,m)^2 of M tasks with query
y-slot 0: full-batch Adam (JAX, float64), then alternating exact least squares (the prediction is linear in V given Q
and in Q given V) to the empirical risk minimiser. Only V's y-row and Q's x-columns reach the prediction; the other
entries receive zero gradient and keep their initial values. The loss is evaluated through the sufficient statistics
phi_m = Z_m (x) x_q,m, Z_m = sum_i e_i e_i^T (y_hat = -<phi_m, v (x) Q_x>), identical to the per-task sum.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from dltheory.simulators._seeding import rng
from dltheory.theory._validate import integer_at_least, positive

__all__ = [
    "Tasks",
    "sample_tasks",
    "lsa_layer",
    "gd_step",
    "TrainedLSA",
    "train_lsa",
    "lsa_squared_errors",
    "effective_preconditioner",
]


class Tasks(NamedTuple):
    """M in-context regression tasks: contexts x (M, N, d), labels y (M, N), queries x_q (M, d), targets y_q (M,)."""

    x: np.ndarray
    y: np.ndarray
    x_q: np.ndarray
    y_q: np.ndarray


MAX_ENTRIES = 10**8  # n_tasks N d numbers per call
MAX_D = 64  # train_lsa's sufficient statistics have (d+1)^4 d^2 entries


def _capped(name: str, value, lower: int, upper: int) -> int:
    out = integer_at_least(name, value, lower)
    if out > upper:
        raise ValueError(f"{name} must be an integer in [{lower}, {upper:g}], got {out}")
    return out


def sample_tasks(n_tasks, N, d, *, seed) -> Tasks:
    """``n_tasks`` tasks with N context points in d dimensions (module conventions; n_tasks N d <= 1e8)."""
    n_tasks = _capped("n_tasks", n_tasks, 1, MAX_ENTRIES)
    N = _capped("N", N, 1, MAX_ENTRIES)
    d = _capped("d", d, 1, MAX_ENTRIES)
    if n_tasks * (N + 1) * d > MAX_ENTRIES:
        raise ValueError(f"n_tasks (N + 1) d = {n_tasks * (N + 1) * d} exceeds the cap {MAX_ENTRIES:g} (n_tasks, N, d)")
    g = rng(seed)
    w = g.standard_normal((n_tasks, d))
    x = g.standard_normal((n_tasks, N, d))
    x_q = g.standard_normal((n_tasks, d))
    return Tasks(x, np.einsum("mik,mk->mi", x, w), x_q, np.einsum("mk,mk->m", x_q, w))


def _real(name: str, value, shape: tuple | None = None, ndim: int | None = None) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype.kind not in "iuf":
        raise ValueError(f"{name} must be a real array, got dtype {arr.dtype}")
    if 0 in arr.shape:
        raise ValueError(f"{name} must be non-empty, got shape {arr.shape}")
    if (shape is not None and arr.shape != shape) or (ndim is not None and arr.ndim != ndim):
        raise ValueError(f"{name} must have shape {shape if shape is not None else f'of {ndim} axes'}, got {arr.shape}")
    arr = arr.astype(float)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite")
    return arr


def lsa_layer(context, query, W_K, W_Q, W_V, P, *, include_query: bool = False) -> np.ndarray:
    """The query token after one LSA layer: query + P W_V sum_i e_i (W_K e_i)^T (W_Q query).

    ``context``: (M, N, d+1) tokens, ``query``: (M, d+1); the four matrices (d+1) x (d+1). Returns (M, d+1).
    """
    context = _real("context", context, ndim=3)
    D = context.shape[-1]
    query = _real("query", query, shape=(context.shape[0], D))
    W_K, W_Q, W_V, P = (_real(n, m, shape=(D, D)) for n, m in zip(("W_K", "W_Q", "W_V", "P"), (W_K, W_Q, W_V, P)))
    if not isinstance(include_query, bool):
        raise ValueError(f"include_query must be a bool, got {include_query!r}")
    tokens = np.concatenate([context, query[:, None]], axis=1) if include_query else context
    keys = tokens @ W_K.T  # (M, n, D): W_K e_i
    values = tokens @ (P @ W_V).T  # (M, n, D): P W_V e_i
    scores = np.einsum("mik,mk->mi", keys, query @ W_Q.T)  # (W_K e_i)^T (W_Q e_q)
    return query + np.einsum("mi,mik->mk", scores, values)


def gd_step(x, y, x_q, eta, w0=None) -> np.ndarray:
    """One GD step on L(w) = 1/(2N) sum_i (w . x_i - y_i)^2 from w0 (default 0), gradient by JAX autodiff in float64;
    returns the prediction w1 . x_q per task. ``x`` (M, N, d), ``y`` (M, N), ``x_q`` (M, d)."""
    x = _real("x", x, ndim=3)
    M, N, d = x.shape
    y = _real("y", y, shape=(M, N))
    x_q = _real("x_q", x_q, shape=(M, d))
    eta = positive("eta", eta)
    w0 = np.zeros(d) if w0 is None else _real("w0", w0, shape=(d,))

    with jax.enable_x64(True):
        w1 = w0 - eta * np.asarray(_grads(jnp.asarray(w0), jnp.asarray(x), jnp.asarray(y)))
    out = np.einsum("mk,mk->m", w1, x_q)
    if not np.all(np.isfinite(out)):
        raise FloatingPointError(f"the GD step overflowed: eta = {eta} is too large for float64")
    return out


def _in_context_loss(w, x, y):
    """L(w) = 1/(2N) sum_i (w . x_i - y_i)^2 for one task."""
    return 0.5 * jnp.mean((x @ w - y) ** 2)


_grads = jax.jit(jax.vmap(jax.grad(_in_context_loss), in_axes=(None, 0, 0)))


class TrainedLSA(NamedTuple):
    """Trained merged weights per seed: V = P W_V and Q = W_K^T W_Q, shape (n_seeds, d+1, d+1); the final empirical
    risk and the gradient norm of the empirical risk in the y-row of V and the x-columns of Q (n_seeds,)."""

    V: np.ndarray
    Q: np.ndarray
    train_risk: np.ndarray
    grad_norm: np.ndarray


def _features(tasks: Tasks) -> np.ndarray:
    """phi_m = Z_m (x) x_q,m flattened (M, (d+1)^2 d), Z_m = sum_i e_i e_i^T: y_hat = -<phi_m, v (x) Q_x>."""
    e = np.concatenate([tasks.x, tasks.y[..., None]], axis=-1)
    Z = np.matmul(e.transpose(0, 2, 1), e)
    return (Z.reshape(len(Z), -1, 1) * tasks.x_q[:, None, :]).reshape(len(Z), -1)


def _adam(V0, Q0, G, h, c, lr, decay, n_steps: int):
    """Full-batch Adam (beta1 0.9, beta2 0.999, eps 1e-12) on risk(V, Q) = T G T + 2 T h + c, T = v (x) Q_x, with the
    step size lr * decay^(t / n_steps); vmapped over seeds by the caller."""
    d = V0.shape[0] - 1

    def risk(p):
        theta = jnp.outer(p[0][d], p[1][:, :d]).reshape(-1)
        return theta @ G @ theta + 2 * theta @ h + c

    def step(state, t):
        p, m, s = state
        g = jax.grad(risk)(p)
        m = jax.tree_util.tree_map(lambda a, b: 0.9 * a + 0.1 * b, m, g)
        s = jax.tree_util.tree_map(lambda a, b: 0.999 * a + 0.001 * b * b, s, g)
        k = t + 1.0
        rate = lr * decay ** (t / n_steps)
        p = jax.tree_util.tree_map(
            lambda w, a, b: w - rate * (a / (1 - 0.9**k)) / (jnp.sqrt(b / (1 - 0.999**k)) + 1e-12), p, m, s
        )
        return (p, m, s), None

    zeros = (jnp.zeros_like(V0), jnp.zeros_like(Q0))
    (p, _, _), _ = jax.lax.scan(step, ((V0, Q0), zeros, zeros), jnp.arange(n_steps, dtype=V0.dtype))
    return p


_adam_batch = jax.jit(
    jax.vmap(jax.vmap(_adam, in_axes=(0, 0) + 6 * (None,)), in_axes=5 * (0,) + 3 * (None,)), static_argnums=(7,)
)


def _als(v: np.ndarray, q: np.ndarray, G: np.ndarray, h: np.ndarray, c: float, n_polish: int):
    """Alternating exact least squares on risk(T) = T G T + 2 T h + c with T = v (x) q (v: V's y-row, q: Q's x-columns
    flattened): quadratic in v given q and in q given v. Returns v, q, the risk and the norm of its gradient."""
    D, K = v.size, q.size
    G4, h2 = G.reshape(D, K, D, K), h.reshape(D, K)
    Gv, Gq = G4.transpose(0, 2, 1, 3), G4.transpose(1, 3, 0, 2)
    for _ in range(n_polish):
        v = np.linalg.lstsq(Gv @ q @ q, -h2 @ q, rcond=None)[0]  # sum_jk q_j G[a j, b k] q_k
        q = np.linalg.lstsq(Gq @ v @ v, -v @ h2, rcond=None)[0]  # sum_ab v_a G[a j, b k] v_b
    theta = np.outer(v, q).reshape(-1)
    g = (2 * (G @ theta + h)).reshape(D, K)  # d risk / d theta
    grad = np.concatenate([g @ q, v @ g])
    return v, q, float(theta @ G @ theta + 2 * theta @ h + c), float(np.linalg.norm(grad))


def train_lsa(
    N,
    d,
    *,
    n_tasks,
    n_seeds,
    seed,
    n_restarts=24,
    n_steps=200,
    lr=0.2,
    decay=1e-2,
    n_polish=50,
    init_scale=0.3,
    d_pad=None,
):
    """Train ``n_seeds`` LSA layers, each on its own ``n_tasks`` tasks (module docstring); returns a TrainedLSA.

    Per seed: ``n_restarts`` random initialisations (entries N(0, init_scale^2 / (d+1))) trained by ``n_steps`` Adam
    steps at ``lr`` decaying geometrically to ``lr * decay`` (vmapped over seeds and restarts), the restart with the
    lowest training risk kept and polished by ``n_polish`` rounds of alternating least squares. Restarts are needed:
    the empirical risk has spurious local minima in (V, Q): at N = 10, d = 2 (M = 4096 to 8192 tasks) about 57 % of
    initialisations at lr = 0.2, and 85 % at lr = 0.05, ended at a training risk 2.3 times the minimum. ``d_pad`` >= d pads the inputs with zero coordinates (the padded weights get zero
    gradient; returned matrices are unpadded) so that several d share one compiled training loop.
    Raises FloatingPointError when a training risk is not finite.
    """
    N = _capped("N", N, 1, 10**5)
    d = _capped("d", d, 1, MAX_D)
    n_tasks = _capped("n_tasks", n_tasks, 2, 10**7)
    n_seeds = _capped("n_seeds", n_seeds, 1, 10**4)
    n_restarts = _capped("n_restarts", n_restarts, 1, 10**4)
    n_steps = _capped("n_steps", n_steps, 0, 10**6)
    n_polish = _capped("n_polish", n_polish, 0, 10**5)
    lr, decay, init_scale = positive("lr", lr), positive("decay", decay), positive("init_scale", init_scale)
    dp = d if d_pad is None else _capped("d_pad", d_pad, d, MAX_D)
    D = dp + 1
    keep = np.r_[0:d, dp]  # unpadded coordinates (x_1..x_d, y)
    sub = ((keep[:, None, None] * D + keep[None, :, None]) * dp + np.arange(d)[None, None, :]).reshape(-1)  # theta
    streams = np.random.SeedSequence(rng(seed).integers(2**63)).spawn(n_seeds)
    data, inits = [], []
    for s in streams:
        g = np.random.default_rng(s)
        t = sample_tasks(n_tasks, N, d, seed=g)
        phi = _features(t)
        Gs, hs = np.zeros(2 * [D * D * dp]), np.zeros(D * D * dp)
        Gs[np.ix_(sub, sub)], hs[sub] = phi.T @ phi / n_tasks, phi.T @ t.y_q / n_tasks  # zero rows: padded weights
        data.append((Gs, hs, float(np.mean(t.y_q**2))))
        init = np.zeros((2, n_restarts, D, D))
        init[np.ix_(range(2), range(n_restarts), keep, keep)] = (
            init_scale / np.sqrt(d + 1) * g.standard_normal((2, n_restarts, d + 1, d + 1))
        )
        inits.append(init)
    G, h, c = (np.array([x[k] for x in data]) for k in range(3))
    inits = np.array(inits)  # (S, 2, R, D, D)
    with jax.enable_x64(True):
        batch = map(jnp.asarray, (inits[:, 0], inits[:, 1], G, h, c))
        Vs, Qs = (np.array(a) for a in _adam_batch(*batch, lr, decay, n_steps))
    with np.errstate(over="ignore", invalid="ignore"):  # a diverged run is reported just below
        theta = np.einsum("sra,srbk->srabk", Vs[:, :, dp], Qs[:, :, :, :dp]).reshape(n_seeds, n_restarts, -1)
        risks = np.einsum("srp,spq,srq->sr", theta, G, theta) + 2 * np.einsum("srp,sp->sr", theta, h) + c[:, None]
    if not np.all(np.isfinite(risks)):
        raise FloatingPointError(
            f"LSA training diverged (N={N}, d={d}; lr={lr}, decay={decay}, init_scale={init_scale}): risks {risks}"
        )
    V, Q, final, gnorms = [], [], [], []
    for i in range(n_seeds):
        best = int(np.argmin(risks[i]))
        Vt, Qt = Vs[i, best][np.ix_(keep, keep)], Qs[i, best][np.ix_(keep, keep)]
        v, q, risk, gnorm = _als(Vt[d], Qt[:, :d].reshape(-1), G[i][np.ix_(sub, sub)], h[i][sub], c[i], n_polish)
        Vt[d], Qt[:, :d] = v, q.reshape(d + 1, d)
        V.append(Vt)
        Q.append(Qt)
        final.append(risk)
        gnorms.append(gnorm)
    return TrainedLSA(np.array(V), np.array(Q), np.array(final), np.array(gnorms))


def lsa_squared_errors(V, Q, tasks: Tasks) -> np.ndarray:
    """Per-task squared errors (y_hat - y_q)^2 of the layer with merged weights V = P W_V, Q = W_K^T W_Q (one layer,
    (d+1) x (d+1)) on ``tasks`` (query y-slot 0, prediction minus the updated y-slot), through :func:`lsa_layer`."""
    if not isinstance(tasks, Tasks):
        raise TypeError(f"tasks must be a Tasks (from sample_tasks), got {type(tasks).__name__}")
    x = _real("tasks.x", tasks.x, ndim=3)
    M, N, d = x.shape
    V, Q = _real("V", V, shape=(d + 1, d + 1)), _real("Q", Q, shape=(d + 1, d + 1))
    context = np.concatenate([x, np.asarray(tasks.y, float)[..., None]], axis=-1)
    query = np.concatenate([np.asarray(tasks.x_q, float), np.zeros((M, 1))], axis=-1)
    out = lsa_layer(context, query, np.eye(d + 1), Q, V, np.eye(d + 1))
    return (-out[:, d] - np.asarray(tasks.y_q, float)) ** 2


def effective_preconditioner(V, Q, N) -> dict:
    """What a trained layer computes, read off its merged weights (V = P W_V, Q = W_K^T W_Q, leading seed axis).

    With v = V's y-row = (v_x, v_y) and Q's x-columns (A; b^T), the prediction -y-slot for query y-slot 0 is
    y_hat = -sum_i (v_x . x_i + v_y y_i)(x_i^T A x_q + y_i b . x_q), and its GD part is x_q^T Gamma^T (sum_i y_i x_i / N)
    with Gamma = -N v_y A (the construction: Gamma = eta I). Returns Gamma (.., d, d) and the couplings that a GD step
    lacks: v_x (x) A scaled by N (the x_i x_i^T term), N v_y b (the y_i^2 term) and N v_x (x) b (shape-matched).
    """
    V = _real("V", V)
    Q = _real("Q", Q)
    N = integer_at_least("N", N, 1)
    if V.ndim < 2 or V.shape[-1] != V.shape[-2] or V.shape[-1] < 2:
        raise ValueError(f"V must have shape (..., d+1, d+1) with d >= 1, got {V.shape}")
    if Q.shape != V.shape:
        raise ValueError(f"Q must have V's shape {V.shape}, got {Q.shape}")
    d = V.shape[-1] - 1
    vx, vy = V[..., d, :d], V[..., d, d]
    A, b = Q[..., :d, :d], Q[..., d, :d]
    return dict(
        Gamma=-N * vy[..., None, None] * A,
        vx_A=N * np.einsum("...a,...ak->...ak", vx, A),
        vy_b=N * vy[..., None] * b,
        vx_b=N * np.einsum("...a,...k->...ak", vx, b),
    )
