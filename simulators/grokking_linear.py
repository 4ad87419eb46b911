"""Exact discrete gradient descent for the linear teacher-student model of Levi, Beck & Bar-Sinai (numpy).

Reference: N. Levi, A. Beck, Y. Bar-Sinai, ICLR 2024, arXiv:2310.16441, sec. 3, eqs. 1-3 and 14 (d_out = 1).
x ~ N(0, I_{d_in}); N_tr = round(d_in / lam) training points; teacher T and student init S_0 i.i.d.
N(0, 1/(2 d_in)); D = S - T. Full-batch GD with step ``lr`` and weight decay ``weight_decay`` (gamma):
D_{t+1} = D_t - 2 lr Sigma_tr D_t - lr gamma (D_t + T), Sigma_tr = X^T X / N_tr. The recursion is run exactly in
the eigenbasis of Sigma_tr (one multiply per mode and step, no time discretisation error). Recorded at every
step: L_tr = D^T Sigma_tr D, L_gen = |D|^2 (the population test loss), and the accuracies
mean[(D^T x)^2 < eps] on the training points and on ``n_test`` fresh test points.

numpy, not JAX: per step the work is one d_in-vector multiply, and a jitted/vmapped JAX version spent ~5 s
compiling per problem shape (CPU eigh under vmap alone ~2 s) against < 1 s of running (measured on this box).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["LinearGrokkingRun", "linear_teacher_student"]

_CHUNK = 128  # time steps per accuracy matmul block


@dataclass(frozen=True)
class LinearGrokkingRun:
    """Per-seed curves. Losses: shape (n_seeds, n_steps + 1), entry k after k GD updates. Accuracies: shape
    (n_seeds, len(acc_steps)), recorded at the steps ``acc_steps`` = 0, every, 2 every, ..., n_steps."""

    train_loss: np.ndarray
    gen_loss: np.ndarray
    train_acc: np.ndarray
    test_acc: np.ndarray
    acc_steps: np.ndarray
    eps: float

    def first_step(self, curve: str, threshold: float, *, below: bool) -> np.ndarray:
        """Per seed, the first recorded step with curve <= threshold (``below``) or >= threshold; -1 if never."""
        values = getattr(self, curve)
        steps = np.arange(values.shape[1]) if curve.endswith("loss") else self.acc_steps
        hit = values <= threshold if below else values >= threshold
        return np.where(hit.any(axis=1), steps[hit.argmax(axis=1)], -1)


def _one_seed(
    rng: np.random.Generator,
    lr: float,
    gamma: float,
    eps: float,
    d_in: int,
    n_tr: int,
    n_test: int,
    n_steps: int,
    every: int,
):
    X = rng.standard_normal((n_tr, d_in))
    X_test = rng.standard_normal((n_test, d_in))
    T = rng.standard_normal(d_in) / np.sqrt(2.0 * d_in)
    S0 = rng.standard_normal(d_in) / np.sqrt(2.0 * d_in)
    nu, V = np.linalg.eigh(X.T @ X / n_tr)
    r = 1.0 - 2.0 * lr * (nu + gamma / 2)
    drift = lr * gamma * (V.T @ T)
    C = np.empty((n_steps + 1, d_in))
    C[0] = V.T @ (S0 - T)
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(n_steps):  # eq. 14 in the eigenbasis: exact GD, one multiply per mode
            C[k + 1] = r * C[k] - drift
        C_acc = C[::every] if every else C[:0]
        P = np.concatenate([X, X_test]) @ V
        hits = np.empty((C_acc.shape[0], 2))
        for i in range(0, C_acc.shape[0], _CHUNK):
            inside = (C_acc[i : i + _CHUNK] @ P.T) ** 2 < eps
            hits[i : i + _CHUNK] = np.column_stack([inside[:, :n_tr].mean(axis=1), inside[:, n_tr:].mean(axis=1)])
        C2 = C**2
    return C2 @ nu, C2.sum(axis=1), hits[:, 0], hits[:, 1]


def linear_teacher_student(
    lam: float,
    lr: float,
    eps: float,
    *,
    d_in: int,
    n_steps: int,
    n_seeds: int = 1,
    n_test: int = 4000,
    weight_decay: float = 0.0,
    accuracy_every: int | None = 1,
    seed: int,
) -> LinearGrokkingRun:
    """Run ``n_seeds`` independent teacher-student problems (vmapped) for ``n_steps`` exact GD steps.

    Losses are recorded every step, accuracies every ``accuracy_every`` steps (a divisor of ``n_steps``; None:
    no accuracies, which skips the data matmuls that dominate the cost).
    ``lam`` = d_in / N_tr in (0, 1); ``seed`` an int >= 0 (one SeedSequence child per problem).
    Raises FloatingPointError naming the first step where a loss is non-finite or exceeds 1e6 (divergence).
    """
    for name, v, lo in (("lr", lr, 0.0), ("eps", eps, 0.0)):
        if not np.isfinite(v) or v <= lo:
            raise ValueError(f"{name} must be finite and > 0, got {v!r}")
    if not np.isfinite(weight_decay) or weight_decay < 0:
        raise ValueError(f"weight_decay must be finite and >= 0, got {weight_decay!r}")
    if not np.isfinite(lam) or not 0.0 < lam < 1.0:
        raise ValueError(f"lam = d_in/N_tr must lie in the open interval (0, 1), got {lam!r}")
    for name, v, lo in (("d_in", d_in, 2), ("n_steps", n_steps, 1), ("n_seeds", n_seeds, 1), ("n_test", n_test, 1)):
        if not isinstance(v, int | np.integer) or isinstance(v, bool) or v < lo:
            raise ValueError(f"{name} must be an integer >= {lo}, got {v!r}")
    if not isinstance(seed, int | np.integer) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be an int >= 0, got {seed!r}")
    if accuracy_every is not None and (
        not isinstance(accuracy_every, int | np.integer) or accuracy_every < 1 or n_steps % accuracy_every
    ):
        raise ValueError(f"accuracy_every must be a positive divisor of n_steps={n_steps}, got {accuracy_every!r}")
    n_tr = int(round(d_in / lam))
    runs = [
        _one_seed(
            np.random.default_rng(s),
            float(lr),
            float(weight_decay),
            float(eps),
            int(d_in),
            n_tr,
            int(n_test),
            int(n_steps),
            int(accuracy_every or 0),
        )
        for s in np.random.SeedSequence(int(seed)).spawn(int(n_seeds))
    ]
    tr, gen, acc_tr, acc_te = (np.stack([run[k] for run in runs]) for k in range(4))
    bad = ~np.isfinite(tr) | ~np.isfinite(gen) | (gen > 1e6)
    if bad.any():
        step = int(np.argmax(bad.any(axis=0)))
        raise FloatingPointError(
            f"linear teacher-student GD diverged at step {step} (lam={lam}, lr={lr}, "
            f"weight_decay={weight_decay}, d_in={d_in}); need 2 lr (lam_+ + gamma/2) < 2"
        )
    return LinearGrokkingRun(
        train_loss=tr,
        gen_loss=gen,
        train_acc=acc_tr,
        test_acc=acc_te,
        acc_steps=np.arange(0, n_steps + 1, accuracy_every or n_steps + 1)[: acc_tr.shape[1]],
        eps=float(eps),
    )
