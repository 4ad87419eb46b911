"""Neural-collapse simulators (JAX, float64): heavy-ball GD on (deep linear) unconstrained-features models,
projected GD on the layer-peeled model, and a small nonlinear MLP trained into the terminal phase.

Conventions (as dltheory.theory.neural_collapse): features H are d x N with class-sorted columns (class k has n_k
columns), layers W_1 (d x d), ..., W_M (K x d), bias b unregularised. Objectives:
  CE:  (1/N) sum_i CE(W_M...W_1 h_i + b, y_i) + lW/2 sum_j ||W_j||^2 + lH/2 ||H||^2,
  MSE: 1/(2N) ||W_M...W_1 H + b 1^T - Y||_F^2 + the same penalties.
Heavy ball: v <- momentum v - lr grad, p <- p + v (full batch). Every routine runs inside a scoped
``jax.enable_x64(True)`` so it computes in float64 without flipping the global flag at import.
Initialisation matters for depth >= 2: W = H = 0 is a local minimum there (Dang et al. 2023), so GD from a
too-small init (std << 0.1) converges to the trivial point; the default init std is 0.1 (their code's).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np
from scipy.linalg import eigh

from dltheory.simulators._seeding import rng
from dltheory.theory import _validate as val

__all__ = [
    "UFMRun",
    "train_ufm",
    "LPMRun",
    "train_layer_peeled",
    "Certificate",
    "ufm_certificate",
    "lpm_certificate",
    "gaussian_mixture",
    "FeatureHistory",
    "train_mlp",
]


def _check(name: str, value, allowed: str, ok) -> None:
    if not ok:
        raise ValueError(f"{name} must be {allowed}, got {value!r}")


def _counts(n_per_class) -> np.ndarray:
    n = np.asarray(n_per_class, dtype=object if isinstance(n_per_class, str | bytes) else None)
    _check(
        "n_per_class",
        n_per_class,
        f"a 1-D integer array of >= 2 classes with >= 1 sample each and <= {val.MAX_WIDTH} in all",
        n.ndim == 1 and n.dtype.kind in "iu" and n.size >= 2 and np.all(n >= 1) and n.sum() <= val.MAX_WIDTH,
    )
    return n.astype(int)


def _momentum(momentum) -> float:
    return val.real_scalar("momentum", momentum, lower=0.0, upper=1.0, upper_strict=True)


def _schedule(n_steps: int, record_every: int | None, name: str = "n_steps") -> tuple[int, int]:
    n_steps = val.integer(name, n_steps, lower=1, upper=val.MAX_STEPS)
    every = n_steps if record_every is None else val.integer("record_every", record_every, lower=1, upper=n_steps)
    _check("record_every", record_every, f"an integer in [1, {name}] dividing {name} = {n_steps}", n_steps % every == 0)
    return int(n_steps // every), int(every)


def _heavy_ball(value_and_grad, params, hyper, lr, momentum, n_chunks: int, every: int, record=None):
    """Run n_chunks * every heavy-ball steps; returns final params, the objective after each chunk and
    ``record(params)`` after each chunk (None if not given)."""

    def step(_, carry):
        p, v = carry
        _, g = value_and_grad(p, hyper)
        v = jax.tree_util.tree_map(lambda vi, gi: momentum * vi - lr * gi, v, g)
        return jax.tree_util.tree_map(jnp.add, p, v), v

    def chunk(carry, _):
        carry = jax.lax.fori_loop(0, every, step, carry)
        return carry, (value_and_grad(carry[0], hyper)[0], None if record is None else record(carry[0]))

    v0 = jax.tree_util.tree_map(jnp.zeros_like, params)
    (p, _), (values, recorded) = jax.lax.scan(chunk, (params, v0), None, length=n_chunks)
    return p, values, recorded


def _raise_if_diverged(values: np.ndarray, every: int, what: str) -> None:
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        raise FloatingPointError(f"{what} diverged (non-finite objective) by step {(bad[0] + 1) * every}")


# ----------------------------------------------------------------------------- unconstrained features


@dataclass(frozen=True)
class UFMRun:
    """GD result. layers: (W_1, ..., W_M); W: end-to-end K x d; H: d x N; b: (K,) or None; y: labels (N,);
    objective: value after each record; steps: the step counts of the records; grad_norm: final ||grad||;
    H_history, W_history: the features H and the end-to-end W at each record (records x d x N, records x K x d)
    when asked for, else None; hyper: the settings
    (lambda_W, lambda_H, loss, bias) the run minimised (for :func:`ufm_certificate`)."""

    layers: tuple[np.ndarray, ...]
    W: np.ndarray
    H: np.ndarray
    b: np.ndarray | None
    y: np.ndarray
    objective: np.ndarray
    steps: np.ndarray
    grad_norm: float
    H_history: np.ndarray | None = None
    W_history: np.ndarray | None = None
    hyper: tuple = ()

    @property
    def H_mean(self) -> np.ndarray:
        """Class means, d x K."""
        K = self.W.shape[0]
        return np.stack([self.H[:, self.y == k].mean(axis=1) for k in range(K)], axis=1)


def _end_to_end(layers):
    W = layers[0]
    for Wj in layers[1:]:
        W = Wj @ W
    return W


def _ufm_objective(params, hyper, *, y, K: int, loss: str):
    layers, H, b = params
    lW, lH = hyper
    Z = _end_to_end(layers) @ H + b[:, None]
    N = H.shape[1]
    if loss == "ce":
        data = jnp.mean(jax.nn.logsumexp(Z, axis=0) - Z[y, jnp.arange(N)])
    else:
        data = 0.5 / N * jnp.sum((Z - jax.nn.one_hot(y, K).T) ** 2)
    return data + 0.5 * lW * sum(jnp.sum(Wj**2) for Wj in layers) + 0.5 * lH * jnp.sum(H**2)


@partial(jax.jit, static_argnames=("K", "loss", "bias", "n_chunks", "every", "history"))
def _ufm_run(params, y, lW, lH, lr, momentum, *, K, loss, bias, n_chunks, every, history):
    obj = partial(_ufm_objective, y=y, K=K, loss=loss)
    vg = jax.value_and_grad(obj)
    if not bias:  # keep b at 0: zero its gradient

        def vg(p, h, _vg=vg):
            val, (gl, gH, _) = _vg(p, h)
            return val, (gl, gH, jnp.zeros_like(p[2]))

    record = (lambda p: (p[1], _end_to_end(p[0]))) if history else None
    p, values, hist = _heavy_ball(vg, params, (lW, lH), lr, momentum, n_chunks, every, record)
    _, g = vg(p, (lW, lH))
    gnorm = jnp.sqrt(sum(jnp.sum(x**2) for x in jax.tree_util.tree_leaves(g)))
    return p, values, gnorm, hist


def train_ufm(
    n_per_class,
    lambda_W: float,
    lambda_H: float,
    *,
    loss: str = "ce",
    depth: int = 1,
    bias: bool = False,
    d: int | None = None,
    lr: float = 0.5,
    momentum: float = 0.9,
    n_steps: int = 20_000,
    init_std: float = 0.1,
    init=None,
    record_every: int | None = None,
    history: bool = False,
    seed,
) -> UFMRun:
    """Heavy-ball GD on the (deep linear) UFM from iid N(0, init_std^2) layers and features (b = 0).

    ``init``: optional (layers, H) or (layers, H, b) to start from instead (shapes as below); the
    N(0, init_std^2) draw is then *added* to layers and H (init_std = 0 for an exact start). Hidden and feature
    widths are all ``d`` (default 2K). ``history``: keep H at every record. Raises FloatingPointError if the
    objective becomes non-finite (naming the step).
    """
    n = _counts(n_per_class)
    K, N = n.size, int(n.sum())
    val.choice("loss", loss, ("ce", "mse"))
    depth = val.integer("depth", depth, lower=1, upper=val.MAX_DEPTH)
    d = 2 * K if d is None else val.integer("d", d, lower=1, upper=val.MAX_WIDTH)
    if d * (d * (depth - 1) + K + N) > val.MAX_ELEMENTS:
        raise ValueError(f"d * (d (depth - 1) + K + N) parameters must be <= {val.MAX_ELEMENTS} (memory cap)")
    lambda_W, lambda_H = val.nonnegative("lambda_W", lambda_W), val.nonnegative("lambda_H", lambda_H)
    init_std = val.nonnegative("init_std", init_std)
    lr, momentum = val.positive("lr", lr), _momentum(momentum)
    bias, history = val.flag("bias", bias), val.flag("history", history)
    n_chunks, every = _schedule(n_steps, record_every)
    if history and n_chunks * d * (N + K) > val.MAX_ELEMENTS:
        raise ValueError(
            f"history of {n_chunks} records x d (N + K) floats exceeds {val.MAX_ELEMENTS}; raise record_every"
        )
    if init is not None:
        val.instance("init", init, list | tuple, "a (layers, H) or (layers, H, b) tuple")
        _check("init", init, "a (layers, H) or (layers, H, b) tuple", len(init) in (2, 3))
        val.instance("init[0]", init[0], list | tuple, "a sequence of layer matrices")
        for i, a in enumerate([*init[0], *init[1:]]):
            val.real_array(f"init entry {i}", a, ndim=(1, 2))
    g = rng(seed)
    shapes = [(d, d)] * (depth - 1) + [(K, d)]
    layers0 = tuple(init_std * g.standard_normal(s) for s in shapes)
    H0 = init_std * g.standard_normal((d, N))
    b0 = np.zeros(K)
    if init is not None:
        L_init, H_init, *b_init = init
        _check(
            "init",
            "shapes",
            f"(layers with shapes {shapes}, H of shape {(d, N)}[, b of shape {(K,)}])",
            len(L_init) == depth
            and all(np.shape(a) == s for a, s in zip(L_init, shapes))
            and np.shape(H_init) == (d, N)
            and len(b_init) <= 1
            and all(np.shape(v) == (K,) for v in b_init),
        )
        layers0 = tuple(np.asarray(a, float) + b0 for a, b0 in zip(L_init, layers0))
        H0 = np.asarray(H_init, float) + H0
        b0 = np.asarray(b_init[0], float) if b_init and bias else b0
    y = np.repeat(np.arange(K), n)
    with jax.enable_x64(True):
        p, values, gnorm, hist = _ufm_run(
            (layers0, H0, b0),
            jnp.asarray(y),
            lambda_W,
            lambda_H,
            lr,
            momentum,
            K=K,
            loss=loss,
            bias=bool(bias),
            n_chunks=n_chunks,
            every=every,
            history=bool(history),
        )
        values = np.asarray(values)
        _raise_if_diverged(
            values, every, f"UFM GD (loss={loss}, depth={depth}, lr={lr}, lambda_W={lambda_W}, lambda_H={lambda_H})"
        )
        layers = tuple(np.asarray(Wj) for Wj in p[0])
        W = np.asarray(_end_to_end(layers))
        return UFMRun(
            layers,
            W,
            np.asarray(p[1]),
            np.asarray(p[2]) if bias else None,
            y,
            values,
            every * np.arange(1, n_chunks + 1),
            float(gnorm),
            np.asarray(hist[0]) if history else None,
            np.asarray(hist[1]) if history else None,
            (float(lambda_W), float(lambda_H), loss, bool(bias)),
        )


# ----------------------------------------------------------------------------- layer-peeled model


@dataclass(frozen=True)
class LPMRun:
    """Projected GD on the collapsed-feature LPM: W (K x d), H_mean (d x K), objective after each record;
    n: samples per class, E: the budgets (E_W, E_H) (for :func:`lpm_certificate`)."""

    W: np.ndarray
    H_mean: np.ndarray
    objective: np.ndarray
    n: np.ndarray
    E: tuple[float, float]


def _project(x, E, axis):
    """Scale x so that mean over classes of squared norms <= E (the LPM's energy constraints)."""
    energy = jnp.mean(jnp.sum(x**2, axis=axis))
    return x * jnp.minimum(1.0, jnp.sqrt(E / energy))


def _lpm_objective(p, pi):
    Wp, Hp = p
    Z = Wp @ Hp  # K x K: column k = logits of class k's feature
    return jnp.sum(pi * (jax.nn.logsumexp(Z, axis=0) - jnp.diag(Z)))


@partial(jax.jit, static_argnames=("n_chunks", "every"))
def _lpm_run(W, Hm, pi, E_W, E_H, lr, momentum, *, n_chunks, every):
    def obj(p, _):
        return _lpm_objective(p, pi)

    def step(_, carry):
        (Wp, Hp), (vW, vH) = carry
        _, (gW, gH) = jax.value_and_grad(obj)((Wp, Hp), None)
        vW, vH = momentum * vW - lr * gW, momentum * vH - lr * gH
        Wn, Hn = _project(Wp + vW, E_W, 1), _project(Hp + vH, E_H, 0)
        return (Wn, Hn), (Wn - Wp, Hn - Hp)  # velocity = the projected displacement

    def chunk(carry, _):
        carry = jax.lax.fori_loop(0, every, step, carry)
        return carry, obj(carry[0], None)

    ((W, Hm), _), values = jax.lax.scan(
        chunk, ((W, Hm), (jnp.zeros_like(W), jnp.zeros_like(Hm))), None, length=n_chunks
    )
    return W, Hm, values


def train_layer_peeled(
    n_per_class,
    E_W: float,
    E_H: float,
    *,
    d: int | None = None,
    lr: float = 0.1,
    momentum: float = 0.9,
    n_steps: int = 20_000,
    record_every: int | None = None,
    seed,
) -> LPMRun:
    """Projected heavy-ball GD on the layer-peeled model with collapsed features (Fang et al. 2021, PNAS):
    min sum_k (n_k/N) CE(W h_k, k) s.t. (1/K) sum ||w_k||^2 <= E_W, (1/K) sum ||h_k||^2 <= E_H.

    Collapsed features lose no generality: CE is convex in h and the constraint is convex, so replacing each
    class's features by their mean never increases the objective (Jensen). Init: iid N(0, 1/d), projected.
    """
    n = _counts(n_per_class)
    K = n.size
    d = K if d is None else val.integer("d", d, lower=max(1, K - 1), upper=val.MAX_WIDTH)
    E_W, E_H, lr = val.positive("E_W", E_W), val.positive("E_H", E_H), val.positive("lr", lr)
    momentum = _momentum(momentum)
    n_chunks, every = _schedule(n_steps, record_every)
    g = rng(seed)
    W0, H0 = g.standard_normal((K, d)) / np.sqrt(d), g.standard_normal((d, K)) / np.sqrt(d)
    with jax.enable_x64(True):
        W, Hm, values = _lpm_run(W0, H0, n / n.sum(), E_W, E_H, lr, momentum, n_chunks=n_chunks, every=every)
        values = np.asarray(values)
        _raise_if_diverged(values, every, f"LPM projected GD (lr={lr}, E_W={E_W}, E_H={E_H})")
        return LPMRun(np.asarray(W), np.asarray(Hm), values, n, (float(E_W), float(E_H)))


# ----------------------------------------------------------------------------- convergence certificates


@dataclass(frozen=True)
class Certificate:
    """How far an optimiser's last iterate can be from a strict local minimiser, modulo the model's symmetries.

    residual: ||r||, the gradient (UFM) or the KKT residual g + sum_i lambda_i grad c_i over the active
    constraints (LPM) at the iterate; multipliers: those lambda_i; curvature: mu, the smallest eigenvalue of the
    (Lagrangian) Hessian on the directions orthogonal to the symmetry orbit and to the active constraints'
    normals; roundoff: a bound on the float64 error of the computed gradient, P eps (||Hess|| ||x|| + ||g||)
    (sums of P terms, Higham 2002, Sec. 3.1); distance: 2 (residual + roundoff)/mu, the Newton-step bound on the
    Frobenius distance from the flattened parameters to the minimiser set (valid while the Hessian changes by
    less than mu/2 over that distance); inf when mu <= 0 or a multiplier is negative (no strict minimiser).
    """

    residual: float
    multipliers: tuple[float, ...]
    curvature: float
    roundoff: float
    distance: float


_ORBIT_RANK_RTOL = 1e-10  # symmetry tangents with singular value below this fraction of the largest move nothing


def _skew_basis(d: int) -> list[np.ndarray]:
    out = []
    for p in range(d):
        for q in range(p + 1, d):
            A = np.zeros((d, d))
            A[p, q], A[q, p] = 1.0, -1.0
            out.append(A)
    return out


def _unflatten(z, shapes):
    out, i = [], 0
    for shp in shapes:
        size = int(np.prod(shp))
        out.append(z[i : i + size].reshape(shp))
        i += size
    return out


@partial(jax.jit, static_argnames=("shapes", "K", "loss", "bias"))
def _ufm_derivatives(z, y, lW, lH, *, shapes, K, loss, bias):
    """Gradient and Hessian of the UFM objective in the flattened (W_1, ..., W_M, H[, b])."""

    def f(z):
        parts = _unflatten(z, shapes)
        b = parts.pop() if bias else jnp.zeros(K)
        return _ufm_objective((tuple(parts[:-1]), parts[-1], b), (lW, lH), y=y, K=K, loss=loss)

    return jax.grad(f)(z), jax.hessian(f)(z)


@partial(jax.jit, static_argnames=("shapes",))
def _lpm_derivatives(z, pi, *, shapes):
    def f(z):
        return _lpm_objective(tuple(_unflatten(z, shapes)), pi)

    return jax.grad(f)(z), jax.hessian(f)(z)


def _flat(arrays) -> np.ndarray:
    return np.concatenate([np.ravel(a) for a in arrays])


def _certify(x, g, hess, tangents, normals=(), normal_hessians=()) -> Certificate:
    """Certificate at the flattened point ``x`` from the objective's gradient ``g`` and Hessian ``hess``, the
    symmetry ``tangents`` and the active constraints' gradients ``normals`` and Hessians ``normal_hessians``."""
    lam = np.zeros(0)
    r = g
    if len(normals):
        Nm = np.stack(normals, axis=1)
        lam = np.linalg.lstsq(Nm, -g, rcond=None)[0]
        r = g + Nm @ lam
        hess = hess + sum(li * Hc for li, Hc in zip(lam, normal_hessians))
    T = np.stack([*tangents, *normals], axis=1)
    U, sv, _ = np.linalg.svd(T, full_matrices=True)
    B = U[:, int(np.sum(sv > _ORBIT_RANK_RTOL * sv.max())) :]
    mu = float(eigh(B.T @ hess @ B, eigvals_only=True, subset_by_index=[0, 0])[0])
    roundoff = x.size * np.finfo(float).eps * (np.linalg.norm(hess) * np.linalg.norm(x) + np.linalg.norm(g))
    ok = mu > 0 and np.all(lam >= 0)
    dist = 2 * (np.linalg.norm(r) + roundoff) / mu if ok else np.inf
    return Certificate(float(np.linalg.norm(r)), tuple(float(v) for v in lam), mu, float(roundoff), float(dist))


def ufm_certificate(run: UFMRun) -> Certificate:
    """:class:`Certificate` of a :func:`train_ufm` run. Symmetries: H -> Q_0 H, W_1 -> Q_1 W_1 Q_0^T, ...,
    W_M -> W_M Q_{M-1}^T (Q_j orthogonal), and b -> b + c 1 for CE with a bias (softmax shift)."""
    _check("run", type(run).__name__, "a UFMRun from train_ufm", isinstance(run, UFMRun) and len(run.hyper) == 4)
    lW, lH, loss, bias = run.hyper
    K = run.W.shape[0]
    layers, H = list(run.layers), run.H
    parts = [*layers, H] + ([run.b] if bias else [])
    shapes = tuple(a.shape for a in parts)
    x = _flat(parts)
    with jax.enable_x64(True):
        g, hess = _ufm_derivatives(x, jnp.asarray(run.y), lW, lH, shapes=shapes, K=K, loss=loss, bias=bias)
    zeros = [np.zeros_like(a) for a in parts]
    tangents = []
    for A in _skew_basis(H.shape[0]):
        for j in range(len(layers)):
            t = list(zeros)
            t[j] = -layers[j] @ A
            if j == 0:
                t[len(layers)] = A @ H
            else:
                t[j - 1] = A @ layers[j - 1]
            tangents.append(_flat(t))
    if bias and loss == "ce":
        tangents.append(_flat([*zeros[:-1], np.ones(K)]))
    return _certify(x, np.asarray(g), np.asarray(hess), tangents)


def lpm_certificate(run: LPMRun) -> Certificate:
    """:class:`Certificate` of a :func:`train_layer_peeled` run (KKT form; an energy constraint counts as
    active when within 1e-12 relative of its bound). Symmetry: W -> W Q^T, H_mean -> Q H_mean."""
    _check("run", type(run).__name__, "an LPMRun from train_layer_peeled", isinstance(run, LPMRun))
    W, Hm = run.W, run.H_mean
    K = W.shape[0]
    x = _flat([W, Hm])
    with jax.enable_x64(True):
        g, hess = _lpm_derivatives(x, jnp.asarray(run.n / run.n.sum()), shapes=(W.shape, Hm.shape))
    normals, curvatures = [], []
    for block, (value, E) in enumerate(((W, run.E[0]), (Hm, run.E[1]))):
        if np.sum(value**2) / K >= E * (1 - 1e-12):  # c = (1/K) ||block||_F^2 - E: gradient 2 block/K
            mask = np.r_[np.full(W.size, block == 0), np.full(Hm.size, block == 1)]
            normals.append(np.where(mask, 2 * x / K, 0.0))
            curvatures.append(np.diag(2.0 * mask / K))
    tangents = [_flat([-W @ A, A @ Hm]) for A in _skew_basis(W.shape[1])]
    return _certify(x, np.asarray(g), np.asarray(hess), tangents, normals, curvatures)


# ----------------------------------------------------------------------------- nonlinear MLP, terminal phase


def gaussian_mixture(K: int, n: int, dim: int, *, separation: float = 3.0, seed) -> tuple[np.ndarray, np.ndarray]:
    """n points per class around K random centres (norm ``separation``) in R^dim with unit isotropic noise."""
    K = val.integer("K", K, lower=2, upper=val.MAX_WIDTH)
    n = val.integer("n", n, lower=1, upper=val.MAX_WIDTH)
    dim = val.integer("dim", dim, lower=1, upper=val.MAX_WIDTH)
    if K * n * dim > val.MAX_ELEMENTS:
        raise ValueError(f"K * n * dim must be <= {val.MAX_ELEMENTS} (memory cap), got {K * n * dim}")
    separation = val.nonnegative("separation", separation)
    g = rng(seed)
    centres = g.standard_normal((K, dim))
    centres *= separation / np.linalg.norm(centres, axis=1, keepdims=True)
    y = np.repeat(np.arange(K), n)
    return centres[y] + g.standard_normal((K * n, dim)), y


@dataclass(frozen=True)
class FeatureHistory:
    """Per-record history: epochs, training error, loss; features (last hidden layer, N x width) and the
    classifier (W, b) at each record, for NC metrics."""

    epochs: np.ndarray
    train_error: np.ndarray
    loss: np.ndarray
    features: np.ndarray
    W: np.ndarray
    b: np.ndarray


def _mlp_forward(params, X):
    *hidden, (W, b) = params
    h = X
    for A, c in hidden:
        h = jax.nn.relu(h @ A.T + c)
    return h, h @ W.T + b


@partial(jax.jit, static_argnames=("n_chunks", "every"))
def _mlp_run(params, X, y, wd, lr, momentum, *, n_chunks, every):
    def obj(p, _):
        _, Z = _mlp_forward(p, X)
        ce = jnp.mean(jax.nn.logsumexp(Z, axis=1) - Z[jnp.arange(X.shape[0]), y])
        return ce + 0.5 * wd * sum(jnp.sum(A**2) for A, _ in p)

    def chunk(carry, _):
        carry = jax.lax.fori_loop(0, every, lambda i, c: step(c), carry)
        h, Z = _mlp_forward(carry[0], X)
        return carry, (obj(carry[0], None), jnp.mean(jnp.argmax(Z, axis=1) != y), h, carry[0][-1][0], carry[0][-1][1])

    def step(carry):
        p, v = carry
        g = jax.grad(obj)(p, None)
        v = jax.tree_util.tree_map(lambda vi, gi: momentum * vi - lr * gi, v, g)
        return jax.tree_util.tree_map(jnp.add, p, v), v

    v0 = jax.tree_util.tree_map(jnp.zeros_like, params)
    _, out = jax.lax.scan(chunk, (params, v0), None, length=n_chunks)
    return out


def train_mlp(
    X,
    y,
    *,
    widths=(64, 64),
    weight_decay: float = 5e-4,
    lr: float = 0.05,
    momentum: float = 0.9,
    n_epochs: int = 3000,
    record_every: int = 50,
    seed,
) -> FeatureHistory:
    """Full-batch heavy-ball GD (one step = one epoch) on a ReLU MLP with CE loss and weight decay on the
    weights (not the biases); He init. Records training error, loss and last-hidden-layer features every
    ``record_every`` epochs (a divisor of ``n_epochs``; None: at the last epoch only)."""
    X = val.real_array("X", X, ndim=2)
    y = val.labels("y", y, length=X.shape[0])
    _check("y", "labels", "integers in [0, K-1] with K >= 2", y.max() >= 1)
    val.instance("widths", widths, list | tuple | np.ndarray, "a non-empty sequence of hidden widths")
    if np.asarray(widths, dtype=object).ndim != 1 or len(widths) == 0:
        raise ValueError(f"widths must be a non-empty flat sequence of hidden widths, got {widths!r}")
    widths = [val.integer(f"widths[{i}]", w, lower=1, upper=val.MAX_WIDTH) for i, w in enumerate(widths)]
    weight_decay, lr = val.nonnegative("weight_decay", weight_decay), val.positive("lr", lr)
    momentum = _momentum(momentum)
    n_chunks, every = _schedule(n_epochs, record_every, "n_epochs")
    K = int(y.max()) + 1
    g = rng(seed)
    dims = [X.shape[1], *widths, K]
    params = tuple((g.standard_normal((o, i)) * np.sqrt(2.0 / i), np.zeros(o)) for i, o in zip(dims[:-1], dims[1:]))
    with jax.enable_x64(True):
        loss, err, feats, W, b = (
            np.asarray(a)
            for a in _mlp_run(params, X, jnp.asarray(y), weight_decay, lr, momentum, n_chunks=n_chunks, every=every)
        )
    _raise_if_diverged(loss, every, f"MLP GD (lr={lr}, weight_decay={weight_decay})")
    return FeatureHistory(every * np.arange(1, n_chunks + 1), err, loss, feats, W, b)
