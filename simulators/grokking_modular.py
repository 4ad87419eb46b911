"""Full-batch training of a two-layer MLP on addition mod p (JAX: jit, vmap over seeds).

Model ([Gromov 2023, arXiv:2301.02679] eqs. 1-4, mean-field scaling): x = (e_a, e_b) in R^{2p}, weights
W1 = [U | V] (N x 2p) and W2 (p x N), all N(0, 1) at init; f(x) = W2 phi(W1 x / sqrt(2p)) / N with
phi(h) = h^2 ("quadratic") or max(h, 0) ("relu"). Loss = mean over training pairs of ||f(x) - e_{(a+b) mod p}||^2.
A seed draws the weights and the training set: a uniformly random subset of round(fraction p^2) of the p^2
ordered pairs; the rest is the test set. Optimisers (full batch, one step per update):
- "gd": w <- w - lr grad;
- "adamw": Adam (beta1, beta2, eps = 1e-8, bias-corrected) with decoupled weight decay
  w <- w (1 - lr weight_decay) - lr m_hat / (sqrt(v_hat) + eps) (Loshchilov & Hutter 2019).
Recorded every ``record_every`` steps: train/test accuracy and loss, total squared weight norm, the mean
inverse participation ratio of U's non-DC Fourier spectrum (Gromov eqs. 20-21), the median share of each neuron's
non-DC power in its top frequency, the median phase-constraint residual |phi_U + phi_V - phi_W| at that frequency
(Gromov eq. 7; phases from the DFT sum_x w[x] e^{-2 pi i k x / p}), and an excluded loss (``_excluded_loss``).
Training runs in float32 whatever jax_enable_x64 says (twice as fast on CPU; accuracies and step counts, the
quantities the claims use, are insensitive to it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from dltheory.simulators._adamw import adamw_update
from dltheory.theory import _validate as val

__all__ = [
    "ModularMLPRun",
    "train_modular_addition",
    "modular_addition_trainer_spec",
    "PHASES",
    "classify_phase",
    "phase_point",
    "phase_diagram",
    "EmbeddedMLPRun",
    "train_embedded_modular_addition",
]

_ACTIVATIONS = ("quadratic", "relu")
_OPTIMIZERS = ("gd", "adamw")


@dataclass(frozen=True)
class ModularMLPRun:
    """Records of shape (n_seeds, n_records) at ``steps``; final weights per seed; the training masks (p, p)."""

    steps: np.ndarray
    train_acc: np.ndarray
    test_acc: np.ndarray
    train_loss: np.ndarray
    test_loss: np.ndarray
    weight_norm: np.ndarray
    ipr: np.ndarray
    top_share: np.ndarray
    phase_residual: np.ndarray
    excluded_loss: np.ndarray
    U: np.ndarray
    V: np.ndarray
    W: np.ndarray
    train_mask: np.ndarray

    def first_step(self, curve: str, threshold: float) -> np.ndarray:
        """Per seed, the first recorded step with ``curve`` >= threshold; -1 if never."""
        hit = getattr(self, curve) >= threshold
        return np.where(hit.any(axis=1), self.steps[hit.argmax(axis=1)], -1)


def _is_prime(p: int) -> bool:
    return p >= 2 and all(p % d for d in range(2, math.isqrt(p) + 1))


def modular_addition_trainer_spec(
    p, width, fraction, lr, weight_decay, n_steps, record_every, activation, optimizer
) -> None:
    """Validate trainer arguments (ValueError naming the parameter and its allowed range).

    Caps (dltheory.theory._validate): width <= MAX_WIDTH, p^2 width <= MAX_ELEMENTS (the network's outputs on all
    pairs), n_steps <= MAX_STEPS."""
    p, p_max = val.integer("p", p), math.isqrt(val.MAX_ELEMENTS)
    if not (5 <= p <= p_max and _is_prime(p)):
        raise ValueError(f"p must be a prime in [5, {p_max}], got {p}")
    width = val.integer("width", width, lower=1, upper=val.MAX_WIDTH)
    if p * p * width > val.MAX_ELEMENTS:
        raise ValueError(f"p^2 * width must be <= {val.MAX_ELEMENTS} (memory cap), got p={p}, width={width}")
    n_steps = val.integer("n_steps", n_steps, lower=1, upper=val.MAX_STEPS)
    record_every = val.integer("record_every", record_every, lower=1, upper=n_steps)
    if n_steps % record_every:
        raise ValueError(f"record_every must divide n_steps={n_steps}, got {record_every}")
    fraction = val.real_scalar("fraction", fraction, lower=0.0, strict=True, upper=1.0)
    if round(fraction * p * p) < 1:
        raise ValueError(f"fraction={fraction} leaves no training pair for p={p}")
    val.positive("lr", lr)
    weight_decay = val.nonnegative("weight_decay", weight_decay)
    val.choice("activation", activation, _ACTIVATIONS)
    val.choice("optimizer", optimizer, _OPTIMIZERS)
    if optimizer == "gd" and weight_decay > 0:
        raise ValueError("weight_decay must be 0 with optimizer='gd' (use 'adamw' for decoupled weight decay)")


def _forward(params, p: int, activation: str):
    W1, W2 = params
    h = (W1[:, :p].T[:, None, :] + W1[:, p:].T[None, :, :]) / jnp.sqrt(2.0 * p)  # (a, b, N)
    z = h**2 if activation == "quadratic" else jnp.maximum(h, 0.0)
    return z @ W2.T / W1.shape[0]  # (a, b, q)


def _metrics(params, mask, targets, labels, p: int, activation: str):
    f = _forward(params, p, activation)
    err = jnp.sum((f - targets) ** 2, axis=-1)
    correct = (jnp.argmax(f, axis=-1) == labels).astype(f.dtype)
    n_tr, n_te = mask.sum(), (1 - mask).sum()
    safe_te = jnp.maximum(n_te, 1.0)
    return (
        jnp.sum(mask * err) / n_tr,
        jnp.sum((1 - mask) * err) / safe_te,
        jnp.sum(mask * correct) / n_tr,
        jnp.sum((1 - mask) * correct) / safe_te,
    )


def _fourier(params, p: int):
    """(mean IPR_2 of U, median top-frequency power share of U, median |phi_U + phi_V - phi_W| at U's top frequency)."""
    W1, W2 = params
    F = [jnp.fft.rfft(w, axis=1)[:, 1 : (p - 1) // 2 + 1] for w in (W1[:, :p], W1[:, p:], W2.T)]
    P = jnp.abs(F[0]) ** 2
    P = P / jnp.sum(P, axis=1, keepdims=True)
    k = jnp.argmax(P, axis=1)
    phase = [jnp.angle(jnp.take_along_axis(f, k[:, None], axis=1)[:, 0]) for f in F]
    residual = jnp.abs(jnp.angle(jnp.exp(1j * (phase[0] + phase[1] - phase[2]))))
    return jnp.mean(jnp.sum(P**2, axis=1)), jnp.median(jnp.max(P, axis=1)), jnp.median(residual)


def _excluded_loss(params, mask, targets, p: int, activation: str):
    """Training MSE of f minus its projection on functions of (a + b) mod p (the per-class mean kept): the
    memorising part alone ([Nanda et al. 2023] excluded loss with every frequency as key, MSE instead of CE)."""
    f = _forward(params, p, activation)
    idx = (jnp.arange(p)[:, None] + jnp.arange(p)[None, :]) % p
    by_sum = jnp.zeros((p, p), f.dtype).at[idx].add(f) / p  # mean of f over the p pairs with each a + b
    excluded = f - by_sum[idx] + f.mean(axis=(0, 1))
    return jnp.sum(mask * jnp.sum((excluded - targets) ** 2, axis=-1)) / mask.sum()


@partial(jax.jit, static_argnames=("p", "width", "n_records", "record_every", "activation", "optimizer"))
def _train(keys, n_train, lr, weight_decay, beta1, beta2, *, p, width, n_records, record_every, activation, optimizer):
    labels = (jnp.arange(p)[:, None] + jnp.arange(p)[None, :]) % p
    targets = jax.nn.one_hot(labels, p, dtype=jnp.float32)
    lr, weight_decay, beta1, beta2 = (jnp.float32(x) for x in (lr, weight_decay, beta1, beta2))

    def one(key):
        k1, k2, k3 = jax.random.split(key, 3)
        params = (jax.random.normal(k1, (width, 2 * p), jnp.float32), jax.random.normal(k2, (p, width), jnp.float32))
        rank = jnp.argsort(jax.random.permutation(k3, p * p))  # a uniformly random ranking of the p^2 pairs
        mask = (rank < n_train).astype(params[0].dtype).reshape(p, p)

        def loss(prm):
            f = _forward(prm, p, activation)
            return jnp.sum(mask * jnp.sum((f - targets) ** 2, axis=-1)) / n_train

        grad = jax.grad(loss)
        zeros = jax.tree_util.tree_map(jnp.zeros_like, params)

        def step(state, _):
            prm, m, v, t = state
            g = grad(prm)
            if optimizer == "gd":
                return (jax.tree_util.tree_map(lambda w, gi: w - lr * gi, prm, g), m, v, t + 1), None
            return adamw_update(prm, m, v, t, g, lr, weight_decay, beta1, beta2), None

        def record(state, _):
            state, _ = jax.lax.scan(step, state, None, length=record_every)
            prm = state[0]
            return state, _all_metrics(prm)

        def _all_metrics(prm):
            return (
                *_metrics(prm, mask, targets, labels, p, activation),
                sum(jnp.sum(w**2) for w in prm),
                *_fourier(prm, p),
                _excluded_loss(prm, mask, targets, p, activation),
            )

        state0 = (params, zeros, zeros, jnp.zeros((), params[0].dtype))
        first = _all_metrics(params)
        state, recs = jax.lax.scan(record, state0, None, length=n_records)
        recs = tuple(jnp.concatenate([jnp.atleast_1d(f0), r]) for f0, r in zip(first, recs))
        return recs, state[0], mask

    return jax.vmap(one)(keys)


def train_modular_addition(
    p: int,
    width: int,
    fraction: float,
    *,
    lr: float,
    n_steps: int,
    record_every: int = 100,
    weight_decay: float = 0.0,
    activation: str = "quadratic",
    optimizer: str = "adamw",
    betas: tuple[float, float] = (0.9, 0.98),
    n_seeds: int = 1,
    seed: int,
) -> ModularMLPRun:
    """Train ``n_seeds`` independent networks (vmapped; each its own init and training split) for ``n_steps``.

    Raises FloatingPointError naming the first record (step) with a non-finite loss or weight norm.
    """
    modular_addition_trainer_spec(p, width, fraction, lr, weight_decay, n_steps, record_every, activation, optimizer)
    betas = val.real_array("betas", betas, shape=(2,), lower=0.0, upper=1.0)
    if np.any(betas >= 1.0):
        raise ValueError(f"betas entries must be in [0, 1), got {tuple(betas)}")
    seed = val.integer("seed", seed, lower=0)
    n_seeds = val.integer("n_seeds", n_seeds, lower=1, upper=val.MAX_SAMPLES)
    if n_seeds * p * p * width > val.MAX_ELEMENTS:
        raise ValueError(f"n_seeds * p^2 * width must be <= {val.MAX_ELEMENTS} (memory cap), got n_seeds={n_seeds}")
    keys = jax.random.split(jax.random.PRNGKey(int(seed)), int(n_seeds))
    recs, (W1, W2), mask = _train(
        keys,
        int(round(fraction * p * p)),
        float(lr),
        float(weight_decay),
        float(betas[0]),
        float(betas[1]),
        p=int(p),
        width=int(width),
        n_records=int(n_steps // record_every),
        record_every=int(record_every),
        activation=activation,
        optimizer=optimizer,
    )
    tr_loss, te_loss, tr_acc, te_acc, norm, ipr, share, residual, excluded = (np.asarray(r, float) for r in recs)
    steps = np.arange(0, n_steps + 1, record_every)
    bad = ~np.isfinite(tr_loss) | ~np.isfinite(norm)
    if bad.any():
        k = int(np.argmax(bad.any(axis=0)))
        raise FloatingPointError(
            f"modular-addition training diverged by step {steps[k]} (p={p}, width={width}, "
            f"fraction={fraction}, lr={lr}, weight_decay={weight_decay}, optimizer={optimizer})"
        )
    W1, W2 = np.asarray(W1, float), np.asarray(W2, float)
    return ModularMLPRun(
        steps=steps,
        train_acc=tr_acc,
        test_acc=te_acc,
        train_loss=tr_loss,
        test_loss=te_loss,
        weight_norm=norm,
        ipr=ipr,
        top_share=share,
        phase_residual=residual,
        excluded_loss=excluded,
        U=W1[:, :, :p],
        V=W1[:, :, p:],
        W=W2,
        train_mask=np.asarray(mask) > 0.5,
    )


PHASES = ("confusion", "memorisation", "grokking", "comprehension")


def classify_phase(t_train, t_test, *, lag_ratio: float = 2.0) -> np.ndarray:
    """Phase code per run from the first steps at 99 % train / test accuracy (-1: never), after Liu et al. 2022
    (arXiv:2205.10343) Table 1: 0 confusion (train never), 1 memorisation (test never), 2 grokking
    (t_test >= lag_ratio t_train), 3 comprehension (otherwise). Names in ``PHASES``."""
    t_train = val.real_array("t_train", t_train, ndim=(0, 1), lower=-1.0)
    t_test = val.real_array("t_test", t_test, ndim=(0, 1), lower=-1.0)
    if t_test.shape != t_train.shape:
        raise ValueError(f"t_train and t_test must have one shape, got {t_train.shape} and {t_test.shape}")
    lag_ratio = val.positive("lag_ratio", lag_ratio)
    return np.where(
        t_train < 0, 0, np.where(t_test < 0, 1, np.where(t_test >= lag_ratio * np.maximum(t_train, 1), 2, 3))
    )


def phase_point(
    *,
    p: int,
    width: int,
    fraction: float,
    weight_decay: float,
    lr: float,
    n_steps: int,
    record_every: int,
    n_seeds: int,
    lag_ratio: float = 2.0,
    seed: int,
) -> dict:
    """One phase-diagram cell: train ``n_seeds`` AdamW networks; steps to 99 % accuracy and phase codes per seed."""
    val.positive("lag_ratio", lag_ratio)
    run = train_modular_addition(
        p,
        width,
        fraction,
        lr=lr,
        weight_decay=weight_decay,
        n_steps=n_steps,
        record_every=record_every,
        n_seeds=n_seeds,
        seed=seed,
    )
    t_tr, t_te = run.first_step("train_acc", 0.99), run.first_step("test_acc", 0.99)
    return dict(
        fraction=fraction,
        weight_decay=weight_decay,
        t_train=t_tr,
        t_test=t_te,
        final_test_acc=run.test_acc[:, -1],
        phase=classify_phase(t_tr, t_te, lag_ratio=lag_ratio),
    )


def phase_diagram(
    fractions,
    weight_decays,
    *,
    p: int,
    width: int,
    lr: float,
    n_steps: int,
    record_every: int,
    n_seeds: int,
    seed: int,
    executor=None,
) -> list[dict]:
    """Every (fraction, weight decay) cell through ``dltheory.simulators.sweep.sweep`` (any concurrent.futures executor,
    "inline", or None for local processes); one spawned seed per cell. Cells are ordered fraction-major."""
    from dltheory.simulators.sweep import sweep

    fractions = val.real_array("fractions", fractions, ndim=1)
    weight_decays = val.real_array("weight_decays", weight_decays, ndim=1)
    points = [
        dict(
            p=p,
            width=width,
            fraction=float(f),
            weight_decay=float(w),
            lr=lr,
            n_steps=n_steps,
            record_every=record_every,
            n_seeds=n_seeds,
        )
        for f in fractions
        for w in weight_decays
    ]
    for pt in points:
        modular_addition_trainer_spec(
            p, width, pt["fraction"], lr, pt["weight_decay"], n_steps, record_every, "quadratic", "adamw"
        )
    return sweep(phase_point, points, seed=seed, executor=executor)


# ---------------------------------------------------------------------------------------------------
# Embed -> quadratic MLP -> unembed, cross-entropy: the setting of Nanda et al.'s progress measures without attention


@dataclass(frozen=True)
class EmbeddedMLPRun:
    """Records at ``steps`` (shape (n_seeds, n_records)): cross-entropy losses and accuracies on the training and test
    pairs; ``logits`` (n_seeds, n_records, p, p, p) [a, b, q] (float32) at every record; the final embedding ``E``
    (n_seeds, d_embed, p); the training masks (n_seeds, p, p)."""

    steps: np.ndarray
    train_loss: np.ndarray
    test_loss: np.ndarray
    train_acc: np.ndarray
    test_acc: np.ndarray
    logits: np.ndarray
    E: np.ndarray
    train_mask: np.ndarray


def _embedded_logits(params, p: int):
    E, W1, W2 = params
    d = E.shape[0]
    h = ((W1[:, :d] @ E).T[:, None, :] + (W1[:, d:] @ E).T[None, :, :]) / jnp.sqrt(2.0 * d)  # (a, b, N)
    return (h**2) @ W2.T / jnp.sqrt(1.0 * W1.shape[0])  # (a, b, q)


@partial(jax.jit, static_argnames=("p", "d_embed", "width", "n_records", "record_every"))
def _train_embedded(keys, n_train, lr, weight_decay, beta1, beta2, *, p, d_embed, width, n_records, record_every):
    labels = (jnp.arange(p)[:, None] + jnp.arange(p)[None, :]) % p
    onehot = jax.nn.one_hot(labels, p, dtype=jnp.float32)
    lr, weight_decay, beta1, beta2 = (jnp.float32(x) for x in (lr, weight_decay, beta1, beta2))

    def one(key):
        k1, k2, k3, k4 = jax.random.split(key, 4)
        params = (
            jax.random.normal(k1, (d_embed, p), jnp.float32),
            jax.random.normal(k2, (width, 2 * d_embed), jnp.float32),
            jax.random.normal(k3, (p, width), jnp.float32),
        )
        rank = jnp.argsort(jax.random.permutation(k4, p * p))  # a uniformly random ranking of the p^2 pairs
        mask = (rank < n_train).astype(jnp.float32).reshape(p, p)

        def nll(prm):
            return -jnp.sum(jax.nn.log_softmax(_embedded_logits(prm, p), axis=-1) * onehot, axis=-1)

        grad = jax.grad(lambda prm: jnp.sum(mask * nll(prm)) / n_train)
        zeros = jax.tree_util.tree_map(jnp.zeros_like, params)

        def metrics(prm):
            f = _embedded_logits(prm, p)
            ce = -jnp.sum(jax.nn.log_softmax(f, axis=-1) * onehot, axis=-1)
            correct = (jnp.argmax(f, axis=-1) == labels).astype(jnp.float32)
            n_te = jnp.maximum((1 - mask).sum(), 1.0)
            return (
                jnp.sum(mask * ce) / mask.sum(),
                jnp.sum((1 - mask) * ce) / n_te,
                jnp.sum(mask * correct) / mask.sum(),
                jnp.sum((1 - mask) * correct) / n_te,
                f,
            )

        def step(state, _):
            prm, m, v, t = state
            return adamw_update(prm, m, v, t, grad(prm), lr, weight_decay, beta1, beta2), None

        def record(state, _):
            state, _ = jax.lax.scan(step, state, None, length=record_every)
            return state, metrics(state[0])

        state0 = (params, zeros, zeros, jnp.zeros((), jnp.float32))
        first = metrics(params)
        state, recs = jax.lax.scan(record, state0, None, length=n_records)
        recs = tuple(jnp.concatenate([r0[None], r]) for r0, r in zip(first, recs))
        return recs, state[0][0], mask

    return jax.vmap(one)(keys)


def train_embedded_modular_addition(
    p: int,
    d_embed: int,
    width: int,
    fraction: float,
    *,
    lr: float,
    weight_decay: float,
    n_steps: int,
    record_every: int,
    betas: tuple[float, float] = (0.9, 0.98),
    n_seeds: int = 1,
    seed: int,
) -> EmbeddedMLPRun:
    """Train ``n_seeds`` networks f(a, b) = W2 (W1 [E e_a; E e_b] / sqrt(2 d_embed))^2 / sqrt(width) on addition mod
    p with full-batch AdamW (this module's update) and cross-entropy on a random ``fraction`` of the p^2 pairs.

    A shared embedding E (d_embed x p) feeds a quadratic MLP (Gromov 2023, arXiv:2301.02679, eq. 4) and a linear
    unembedding: Nanda et al. 2023 (arXiv:2301.05217)'s one-layer transformer without attention, trained with their
    loss (cross-entropy) and decoupled weight decay, which favours a few key frequencies in E. All weights N(0, 1) at
    init, float32. Records every ``record_every`` steps (a divisor of ``n_steps``), including step 0.
    Raises FloatingPointError naming the first record with a non-finite loss.
    """
    modular_addition_trainer_spec(p, width, fraction, lr, weight_decay, n_steps, record_every, "quadratic", "adamw")
    d_embed = val.integer("d_embed", d_embed, lower=1, upper=val.MAX_WIDTH)
    betas = val.real_array("betas", betas, shape=(2,), lower=0.0, upper=1.0)
    if np.any(betas >= 1.0):
        raise ValueError(f"betas entries must be in [0, 1), got {tuple(betas)}")
    n_seeds = val.integer("n_seeds", n_seeds, lower=1, upper=val.MAX_SAMPLES)
    seed = val.integer("seed", seed, lower=0)
    n_records = n_steps // record_every
    if n_seeds * (n_records + 1) * p**3 > val.MAX_ELEMENTS or n_seeds * p * p * max(width, d_embed) > val.MAX_ELEMENTS:
        raise ValueError(
            f"n_seeds * (n_steps / record_every + 1) * p^3 and n_seeds * p^2 * max(width, d_embed) must be <= "
            f"{val.MAX_ELEMENTS} (memory cap of the recorded logits), got n_seeds={n_seeds}, p={p}"
        )
    keys = jax.random.split(jax.random.PRNGKey(int(seed)), int(n_seeds))
    (tr_loss, te_loss, tr_acc, te_acc, logits), E, mask = _train_embedded(
        keys,
        int(round(fraction * p * p)),
        float(lr),
        float(weight_decay),
        float(betas[0]),
        float(betas[1]),
        p=int(p),
        d_embed=int(d_embed),
        width=int(width),
        n_records=int(n_records),
        record_every=int(record_every),
    )
    tr_loss, te_loss, tr_acc, te_acc = (np.asarray(x, float) for x in (tr_loss, te_loss, tr_acc, te_acc))
    steps = np.arange(0, n_steps + 1, record_every)
    bad = ~np.isfinite(tr_loss) | ~np.isfinite(te_loss)
    if bad.any():
        k = int(np.argmax(bad.any(axis=0)))
        raise FloatingPointError(
            f"embedded modular-addition training diverged by step {steps[k]} (p={p}, d_embed={d_embed}, "
            f"width={width}, lr={lr}, weight_decay={weight_decay})"
        )
    return EmbeddedMLPRun(
        steps=steps,
        train_loss=tr_loss,
        test_loss=te_loss,
        train_acc=tr_acc,
        test_acc=te_acc,
        logits=np.asarray(logits),
        E=np.asarray(E, float),
        train_mask=np.asarray(mask) > 0.5,
    )
