"""Two-layer networks on Z_p x Z_p (JAX, float64, vmap over seeds): the feature-learning set-ups of Morwani et al.
2024 and He et al. 2026 (all pairs), and He et al.'s grokking set-up (a training fraction, weight decay).

- :func:`train_max_margin`: Morwani, Edelman, Oncescu, Zhao & Kakade 2024 (ICLR, arXiv:2311.07568), sec. 4:
  f(a, b)[c] = sum_i W[c, i] (U[i, a] + V[i, b])^2 with untied U, V (N x p) and W (p x N), L_{2,3} norm
  ||theta|| = (sum_i ||(u_i, v_i, w_i)||_2^3)^{1/3}. Trained as normalised GD at growing scale: the weights are kept
  on the unit L_{2,3} sphere and the loss is the mean cross-entropy over all p^2 pairs of the logits s f(a, b)
  (s = ||theta||^3, the inverse temperature a network of norm s^{1/3} sees), with s raised through ``temperatures``
  (Adam on the direction, renormalised after every step). As s grows the CE minimiser approaches the L_{2,3}
  max-margin direction (the regularisation path of Wei, Lee, Liu & Ma 2019, arXiv:1810.05369, Thm 4.1).
- :func:`train_lottery`: He, Wang, Chen & Yang 2026 (arXiv:2602.16849): f(x, y)[j] = sum_m xi[m, j]
  (theta[m, x] + theta[m, y])^2 with ONE input vector theta_m shared by both operands (N x p) and output xi (N x p),
  entries N(0, init_scale^2) at init, full-batch GD on the mean cross-entropy over all p^2 pairs, no weight decay.

- :func:`train_grokking`: He et al.'s network (quadratic or ReLU) on a random fraction of the p^2 pairs, full-batch
  AdamW with decoupled weight decay, recording the weights, the training loss and per-pair correctness.

All return the weights (not derived predictions); measurements live in dltheory.theory.modular_margin.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from dltheory.simulators._adamw import adamw_update
from dltheory.simulators._seeding import rng
from dltheory.theory import _validate as val

__all__ = ["MarginRun", "LotteryRun", "GrokRun", "train_max_margin", "train_lottery", "train_grokking"]

MAX_P = 199
"""Largest modulus (the logits table is p^3 per network)."""


@dataclass(frozen=True)
class MarginRun:
    """Final unit-L_{2,3} weights per seed: U, V (n_seeds, N, p), W (n_seeds, p, N); ``loss`` (n_seeds, n_stages): the
    CE at the end of each temperature stage; ``temperatures`` the stages' s."""

    U: np.ndarray
    V: np.ndarray
    W: np.ndarray
    loss: np.ndarray
    temperatures: np.ndarray


@dataclass(frozen=True)
class LotteryRun:
    """Initial and final weights per seed, theta0 / theta, xi0 / xi: (n_seeds, N, p); records (n_seeds, n_records) of
    the mean CE loss and accuracy at ``steps``."""

    theta0: np.ndarray
    xi0: np.ndarray
    theta: np.ndarray
    xi: np.ndarray
    steps: np.ndarray
    loss: np.ndarray
    accuracy: np.ndarray


def _norm23(U, V, W):
    sq = jnp.sum(U**2, -1) + jnp.sum(V**2, -1) + jnp.sum(W**2, -2)
    return jnp.sum(sq**1.5, -1) ** (1 / 3)


@jax.jit
def _unit(U, V, W):
    """The networks (stacked over seeds) scaled to unit L_{2,3} norm."""
    n = _norm23(U, V, W)[:, None, None]
    return U / n, V / n, W / n


def _labels(p: int):
    a = jnp.arange(p)
    return (a[:, None] + a[None, :]) % p


def _ce(logits, y):
    """Mean cross-entropy over the (p, p) pairs of logits (p, p, p) [a, b, c]."""
    lse = jax.scipy.special.logsumexp(logits, axis=-1)
    return jnp.mean(lse - jnp.take_along_axis(logits, y[..., None], -1)[..., 0])


def _morwani_logits(U, V, W):
    h = (U[:, :, None] + V[:, None, :]) ** 2  # (N, a, b)
    return jnp.einsum("iab,ci->abc", h, W)


@partial(jax.jit, static_argnums=(3, 4))
def _margin_stage(params, s, lr, p: int, n_steps: int):
    """n_steps Adam steps (bias-corrected, restarted per stage) on CE(s f(theta / ||theta||)), vmapped over seeds."""
    y = _labels(p)

    def loss(th):
        n = _norm23(*th)
        return _ce(s * _morwani_logits(*(t / n for t in th)), y)

    grad = jax.value_and_grad(loss)

    def one(th):
        def step(carry, t):
            th, m, v = carry
            val_, g = grad(th)
            m = tuple(0.9 * a + 0.1 * b for a, b in zip(m, g))
            v = tuple(0.999 * a + 0.001 * b * b for a, b in zip(v, g))
            th = tuple(
                x - lr * (a / (1 - 0.9**t)) / (jnp.sqrt(b / (1 - 0.999**t)) + 1e-30) for x, a, b in zip(th, m, v)
            )
            n = _norm23(*th)
            return (tuple(x / n for x in th), m, v), val_

        zeros = tuple(jnp.zeros_like(x) for x in th)
        (th, _, _), losses = jax.lax.scan(step, (th, zeros, zeros), jnp.arange(1, n_steps + 1, dtype=th[0].dtype))
        return th, losses[-1]

    return jax.vmap(one)(params)


def train_max_margin(
    p, width, *, temperatures=(30.0, 100.0, 300.0), n_steps=500, lr=0.01, n_seeds=4, seed
) -> MarginRun:
    """Morwani et al.'s quadratic network (untied U, V) trained on all p^2 pairs by normalised GD at the inverse
    temperatures ``temperatures`` in turn, ``n_steps`` Adam steps each with step ``lr`` / stage number (module
    docstring). Init: i.i.d. N(0, 1) entries, then scaled to unit L_{2,3} norm. Raises FloatingPointError if the
    weights leave the float64 range."""
    p = val.integer("p", p, lower=3, upper=MAX_P)
    width = val.integer("width", width, lower=1, upper=4096)
    temps = val.real_array("temperatures", temperatures, ndim=1, lower=0.0, strict=True, max_size=64)
    n_steps = val.integer("n_steps", n_steps, lower=1, upper=1_000_000)
    lr = val.real_scalar("lr", lr, lower=0.0, strict=True, upper=1.0)
    n_seeds = val.integer("n_seeds", n_seeds, lower=1, upper=4096)
    if n_seeds * width * p**3 > val.MAX_ELEMENTS:
        raise ValueError(f"n_seeds * width * p^3 = {n_seeds * width * p**3} exceeds the cap {val.MAX_ELEMENTS}")
    g = rng(seed)
    init = g.standard_normal((3, n_seeds, width, p))
    with jax.enable_x64(True):
        params, losses = _unit(init[0], init[1], np.swapaxes(init[2], 1, 2)), []
        for i, s in enumerate(temps):
            params, last = _margin_stage(params, float(s), lr / (i + 1), p, n_steps)
            losses.append(np.asarray(last))
        U, V, W = (np.asarray(x) for x in params)
    if not all(np.all(np.isfinite(x)) for x in (U, V, W)):
        raise FloatingPointError(f"train_max_margin: weights left the float64 range (p={p}, lr={lr})")
    return MarginRun(U=U, V=V, W=W, loss=np.stack(losses, axis=1), temperatures=temps)


def _he_logits(theta, xi):
    h = (theta[:, :, None] + theta[:, None, :]) ** 2  # (N, x, y)
    return jnp.einsum("mxy,mj->xyj", h, xi)


@partial(jax.jit, static_argnums=(3, 4))
def _lottery_block(theta, xi, lr, p: int, every: int):
    """``every`` GD steps on the mean CE, vmapped over seeds; returns the weights and (loss, accuracy) after them."""
    y = _labels(p)
    grad = jax.grad(lambda ps: _ce(_he_logits(*ps), y))

    def one(theta, xi):
        def step(ps, _):
            return tuple(a - lr * b for a, b in zip(ps, grad(ps))), None

        (theta, xi), _ = jax.lax.scan(step, (theta, xi), None, length=every)
        return (theta, xi), _record(theta, xi, y)

    return jax.vmap(one)(theta, xi)


def _record(theta, xi, y):
    f = _he_logits(theta, xi)
    return _ce(f, y), jnp.sum(jnp.argmax(f, -1) == y) / y.size


@partial(jax.jit, static_argnums=(2,))
def _records(theta, xi, p: int):
    return jax.vmap(_record, (0, 0, None))(theta, xi, _labels(p))


def train_lottery(p, width, *, init_scale=0.1, lr=1.0, n_steps=2000, record_every=100, n_seeds=2, seed) -> LotteryRun:
    """He et al.'s tied-embedding quadratic network trained by full-batch GD (step ``lr``) on the mean CE over all
    p^2 pairs for ``n_steps`` steps (a multiple of ``record_every``), no weight decay; entries N(0, init_scale^2) at
    init. Raises FloatingPointError if training diverges."""
    p = val.integer("p", p, lower=3, upper=MAX_P)
    width = val.integer("width", width, lower=1, upper=4096)
    init_scale = val.real_scalar("init_scale", init_scale, lower=0.0, strict=True, upper=10.0)
    lr = val.real_scalar("lr", lr, lower=0.0, strict=True, upper=1e6)
    n_steps = val.integer("n_steps", n_steps, lower=1, upper=val.MAX_STEPS)
    record_every = val.integer("record_every", record_every, lower=1, upper=n_steps)
    if n_steps % record_every:
        raise ValueError(f"n_steps ({n_steps}) must be a multiple of record_every ({record_every})")
    n_seeds = val.integer("n_seeds", n_seeds, lower=1, upper=4096)
    if n_seeds * width * p**2 > val.MAX_ELEMENTS:
        raise ValueError(f"n_seeds * width * p^2 = {n_seeds * width * p**2} exceeds the cap {val.MAX_ELEMENTS}")
    g = rng(seed)
    theta0, xi0 = init_scale * g.standard_normal((2, n_seeds, width, p))
    with jax.enable_x64(True):
        theta, xi = jnp.asarray(theta0), jnp.asarray(xi0)
        records = [_records(theta, xi, p)]
        for _ in range(n_steps // record_every):
            (theta, xi), rec = _lottery_block(theta, xi, lr, p, record_every)
            records.append(rec)
        loss, acc = (np.stack([np.asarray(r[i]) for r in records], axis=1) for i in range(2))
        theta, xi = np.asarray(theta), np.asarray(xi)
    if not (np.all(np.isfinite(theta)) and np.all(np.isfinite(xi)) and np.all(np.isfinite(loss))):
        raise FloatingPointError(f"train_lottery: training diverged (p={p}, lr={lr}, init_scale={init_scale})")
    return LotteryRun(
        theta0=theta0,
        xi0=xi0,
        theta=theta,
        xi=xi,
        steps=np.arange(0, n_steps + 1, record_every),
        loss=loss,
        accuracy=acc,
    )


# ---------------------------------------------------------------------------------------------------
# He et al.'s grokking set-up: a fraction of the pairs, weight decay, the diagnostics recorded along training


@dataclass(frozen=True)
class GrokRun:
    """Per seed: ``train_mask`` (n_seeds, p, p) the training pairs (x, y); along training, at ``steps``
    (n_records,), the weights ``theta`` / ``xi`` (n_seeds, n_records, N, p), the mean training cross-entropy
    ``train_loss`` (n_seeds, n_records) and ``correct`` (n_seeds, n_records, p, p): whether argmax_j f(x, y)[j]
    = x + y mod p for every pair (train and test accuracies are its means over the mask and its complement)."""

    train_mask: np.ndarray
    steps: np.ndarray
    theta: np.ndarray
    xi: np.ndarray
    train_loss: np.ndarray
    correct: np.ndarray


_ACTIVATIONS = ("quad", "relu")


def _he_sigma_logits(theta, xi, activation: str):
    z = theta[:, :, None] + theta[:, None, :]  # (N, x, y)
    h = z**2 if activation == "quad" else jnp.maximum(z, 0.0)
    return jnp.einsum("mxy,mj->xyj", h, xi)


def _masked_ce(logits, y, mask):
    lse = jax.scipy.special.logsumexp(logits, axis=-1)
    nll = lse - jnp.take_along_axis(logits, y[..., None], -1)[..., 0]
    return jnp.sum(nll * mask) / jnp.sum(mask)


@partial(jax.jit, static_argnums=(5, 6, 7))
def _grok_block(state, mask, lr, weight_decay, first, p: int, every: int, activation: str):
    """``every`` AdamW steps (vmapped over seeds) from step ``first``; returns the state, the training CE and the
    per-pair correctness after them."""
    y = _labels(p)

    def one(state, mask):
        grad = jax.grad(lambda ps: _masked_ce(_he_sigma_logits(*ps, activation), y, mask))

        def step(carry, _):
            ps, m, v, t = carry
            return adamw_update(ps, m, v, t, grad(ps), lr, weight_decay, 0.9, 0.98), None

        (ps, m, v, _), _ = jax.lax.scan(step, (*state, first), None, length=every)
        state = (ps, m, v)
        f = _he_sigma_logits(*ps, activation)
        return state, _masked_ce(f, y, mask), jnp.argmax(f, -1) == y

    return jax.vmap(one)(state, mask)


def train_grokking(
    p,
    width,
    *,
    train_fraction=0.75,
    weight_decay=1.0,
    lr=1e-3,
    init_scale=0.03,
    activation="quad",
    n_steps=3000,
    record_every=100,
    n_seeds=4,
    seed,
) -> GrokRun:
    """He, Wang, Chen & Yang 2026 (arXiv:2602.16849), grokking set-up: f(x, y)[j] = sum_m xi[m, j]
    sigma(theta[m, x] + theta[m, y]) (sigma = x^2, the network their theory analyses, or ReLU, the one of their
    grokking figures), trained on a uniformly random ``train_fraction`` of the p^2 ordered pairs (one split per
    seed) by full-batch AdamW as in their experiments: betas (0.9, 0.98), eps 1e-8, decoupled weight decay
    w <- w (1 - lr weight_decay) - lr m_hat / (sqrt(v_hat) + eps) on the mean training cross-entropy (no learning-rate
    warm-up). Entries N(0, init_scale^2) at init. Records the weights, the training loss and the per-pair
    correctness every ``record_every`` steps (``n_steps`` a multiple of it) and at step 0. Raises
    FloatingPointError if training diverges."""
    p = val.integer("p", p, lower=3, upper=MAX_P)
    width = val.integer("width", width, lower=1, upper=4096)
    train_fraction = val.real_scalar("train_fraction", train_fraction, lower=0.0, strict=True, upper=1.0)
    weight_decay = val.real_scalar("weight_decay", weight_decay, lower=0.0)
    lr = val.real_scalar("lr", lr, lower=0.0, strict=True, upper=1.0)
    if lr * weight_decay >= 1:
        raise ValueError(
            f"lr * weight_decay must be < 1 (a decay factor 1 - lr weight_decay <= 0), got {lr * weight_decay}"
        )
    init_scale = val.real_scalar("init_scale", init_scale, lower=0.0, strict=True, upper=10.0)
    activation = val.choice("activation", activation, _ACTIVATIONS)
    n_steps = val.integer("n_steps", n_steps, lower=1, upper=val.MAX_STEPS)
    record_every = val.integer("record_every", record_every, lower=1, upper=n_steps)
    if n_steps % record_every:
        raise ValueError(f"n_steps ({n_steps}) must be a multiple of record_every ({record_every})")
    n_seeds = val.integer("n_seeds", n_seeds, lower=1, upper=4096)
    n_records = n_steps // record_every + 1
    if n_seeds * width * p**2 * max(p, n_records) > val.MAX_ELEMENTS:
        raise ValueError(
            f"n_seeds * width * p^2 * max(p, n_records) = {n_seeds * width * p**2 * max(p, n_records)} exceeds the "
            f"cap {val.MAX_ELEMENTS}"
        )
    n_train = int(round(train_fraction * p * p))
    if n_train < 1:
        raise ValueError(f"train_fraction * p^2 must round to >= 1 training pair, got {train_fraction} * {p}^2")
    g = rng(seed)
    theta0, xi0 = init_scale * g.standard_normal((2, n_seeds, width, p))
    masks = np.zeros((n_seeds, p * p), bool)
    for i in range(n_seeds):
        masks[i, g.permutation(p * p)[:n_train]] = True
    masks = masks.reshape(n_seeds, p, p)
    with jax.enable_x64(True):
        ps = (jnp.asarray(theta0), jnp.asarray(xi0))
        zeros = tuple(jnp.zeros_like(x) for x in ps)
        state = (ps, zeros, zeros)
        mask = jnp.asarray(masks, dtype=ps[0].dtype)
        y = _labels(p)
        f0 = jax.vmap(lambda th, xi: _he_sigma_logits(th, xi, activation))(*ps)
        thetas, xis = [theta0], [xi0]
        losses = [np.asarray(jax.vmap(_masked_ce, (0, None, 0))(f0, y, mask))]
        correct = [np.asarray(jnp.argmax(f0, -1) == y)]
        for b in range(n_steps // record_every):
            state, loss, ok = _grok_block(
                state, mask, lr, weight_decay, float(b * record_every), p, record_every, activation
            )
            thetas.append(np.asarray(state[0][0]))
            xis.append(np.asarray(state[0][1]))
            losses.append(np.asarray(loss))
            correct.append(np.asarray(ok))
    theta, xi, loss = np.stack(thetas, 1), np.stack(xis, 1), np.stack(losses, 1)
    if not (np.all(np.isfinite(theta)) and np.all(np.isfinite(xi)) and np.all(np.isfinite(loss))):
        raise FloatingPointError(f"train_grokking: training diverged (p={p}, lr={lr}, init_scale={init_scale})")
    return GrokRun(
        train_mask=masks,
        steps=np.arange(0, n_steps + 1, record_every),
        theta=theta,
        xi=xi,
        train_loss=loss,
        correct=np.stack(correct, 1),
    )
