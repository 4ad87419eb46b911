"""Exact discrete gradient descent for the linear teacher-student model of Levi, Beck & Bar-Sinai (numpy).

Reference [LBB23]: N. Levi, A. Beck, Y. Bar-Sinai, ICLR 2024, arXiv:2310.16441, sec. 3, eqs. 1-3 and 14 (d_out = 1;
``n_teachers`` > 1: d_out outputs on one training set).
x ~ N(0, I_{d_in}); N_tr = round(d_in / lam) training points; teacher T and student init S_0 i.i.d.
N(0, 1/(2 d_in)); D = S - T. Full-batch GD with step ``lr`` and weight decay ``weight_decay`` (gamma):
D_{t+1} = D_t - 2 lr Sigma_tr D_t - lr gamma (D_t + T), Sigma_tr = X^T X / N_tr. The recursion is run exactly in
the eigenbasis of Sigma_tr (one multiply per mode and step, no time discretisation error). Recorded at every
step: L_tr = D^T Sigma_tr D, L_gen = |D|^2 (the population test loss), and the accuracies
mean[(D^T x)^2 < eps] on the training points and on ``n_test`` fresh test points.

``two_layer_teacher_student``: the two-layer linear network of [LBB23] sec. 4.1 (eqs. 17-18, App. E), trained by
exact full-batch GD on both layers through a closed recursion for (W = S0 S1, S0 S0^T, S1^T S1).

numpy, not JAX: per step the work is one d_in-vector multiply, and a jitted/vmapped JAX version spent ~5 s
compiling per problem shape (CPU eigh under vmap alone ~2 s) against < 1 s of running (measured on this box).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import brentq

from dltheory.theory import _validate as val

__all__ = [
    "LinearGrokkingRun",
    "linear_teacher_student",
    "TwoLayerRun",
    "two_layer_teacher_student",
    "SpectralRun",
    "linear_teacher_student_spectrum",
]

_BLOCK = 2**22  # entries per accuracy matmul block (records x points x teachers): 32 MB


def _lam(lam) -> float:
    return val.real_scalar("lam", lam, lower=0.0, strict=True, upper=1.0, upper_strict=True)


def _n_train(d_in: int, lam: float) -> int:
    """N_tr = round(d_in / lam), capped by MAX_WIDTH (a number of data points)."""
    n_tr = round(d_in / lam)
    if n_tr > val.MAX_WIDTH:
        raise ValueError(f"N_tr = d_in / lam must be <= {val.MAX_WIDTH} training points, got d_in={d_in}, lam={lam}")
    return int(n_tr)


def _memory(what: str, count: int) -> None:
    if count > val.MAX_ELEMENTS:
        raise ValueError(f"{what} must be <= {val.MAX_ELEMENTS} (memory cap), got {count}")


def _crossing_time(values: np.ndarray, threshold: float) -> np.ndarray:
    """Per row, the first step k with values <= threshold, refined by log-linear interpolation between steps k - 1
    and k (the step's fraction at which the geometric interpolant crosses); 0 if the first value is already below,
    -1 if never."""
    hit = values <= threshold
    k = np.where(hit.any(axis=1), hit.argmax(axis=1), -1)
    out = k.astype(float)
    inner = k > 0
    rows = np.flatnonzero(inner)
    lo, hi = np.log(values[rows, k[inner] - 1]), np.log(values[rows, k[inner]])
    out[inner] = k[inner] - 1 + (lo - np.log(threshold)) / (lo - hi)
    return out


@dataclass(frozen=True)
class LinearGrokkingRun:
    """Per-seed curves (averages over the seed's teachers). Losses: shape (n_seeds, n_steps + 1), entry k after k GD
    updates. Accuracies: shape (n_seeds, len(acc_steps)), recorded at the steps ``acc_steps`` = 0, every, 2 every,
    ..., n_steps."""

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

    def crossing_time(self, curve: str, threshold: float) -> np.ndarray:
        """Per seed, the (fractional) step at which the loss ``curve`` first reaches ``threshold``: the first step
        at or below it, refined by log-linear interpolation from the step before; -1 if never."""
        return _crossing_time(getattr(self, curve), threshold)


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
    k: int,
):
    """One training set and ``k`` teachers / student inits on it; losses and accuracies averaged over the teachers."""
    X = rng.standard_normal((n_tr, d_in))
    X_test = rng.standard_normal((n_test, d_in))
    T = rng.standard_normal((d_in, k)) / np.sqrt(2.0 * d_in)
    S0 = rng.standard_normal((d_in, k)) / np.sqrt(2.0 * d_in)
    nu, V = np.linalg.eigh(X.T @ X / n_tr)
    r = (1.0 - 2.0 * lr * (nu + gamma / 2))[:, None]
    drift = lr * gamma * (V.T @ T)
    C = V.T @ (S0 - T)  # D in the eigenbasis, one column per teacher
    loss = np.empty((n_steps + 1, 2))
    C_acc = np.empty((n_steps // every + 1 if every else 0, d_in, k))
    with np.errstate(over="ignore", invalid="ignore"):
        for step in range(n_steps + 1):  # eq. 14 in the eigenbasis: exact GD, one multiply per mode
            C2 = C**2
            loss[step] = nu @ C2.sum(axis=1) / k, C2.sum() / k
            if every and step % every == 0:
                C_acc[step // every] = C
            C = r * C - drift
        P = np.concatenate([X, X_test]) @ V
        hits = np.empty((C_acc.shape[0], 2))
        chunk = max(1, _BLOCK // (P.shape[0] * k))
        for i in range(0, C_acc.shape[0], chunk):
            inside = np.einsum("sdk,nd->snk", C_acc[i : i + chunk], P) ** 2 < eps
            hits[i : i + chunk, 0] = inside[:, :n_tr].mean(axis=(1, 2))
            hits[i : i + chunk, 1] = inside[:, n_tr:].mean(axis=(1, 2))
    return loss[:, 0], loss[:, 1], hits[:, 0], hits[:, 1]


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
    n_teachers: int = 1,
    seed: int,
) -> LinearGrokkingRun:
    """Run ``n_seeds`` independent teacher-student problems for ``n_steps`` exact GD steps.

    Losses are recorded every step, accuracies every ``accuracy_every`` steps (a divisor of ``n_steps``; None:
    no accuracies, which skips the data matmuls that dominate the cost). ``n_teachers`` > 1 trains that many
    independent teachers and student inits on each seed's training set and reports their average: the d_out-output
    model of [LBB23] eqs. 1-3 with every output at learning rate ``lr`` (eq. 3's 2 eta / d_out taken as 2 lr),
    which averages out the teacher-direction noise of the losses at the cost of one eigendecomposition.
    ``lam`` = d_in / N_tr in (0, 1); ``seed`` an int >= 0 (one SeedSequence child per problem).
    Raises FloatingPointError naming the first step where a loss is non-finite or exceeds 1e6 (divergence).
    """
    lam = _lam(lam)
    lr, eps = val.positive("lr", lr), val.positive("eps", eps)
    weight_decay = val.nonnegative("weight_decay", weight_decay)
    d_in = val.integer("d_in", d_in, lower=2, upper=val.MAX_WIDTH)
    n_steps = val.integer("n_steps", n_steps, lower=1, upper=val.MAX_STEPS)
    n_seeds = val.integer("n_seeds", n_seeds, lower=1, upper=val.MAX_SAMPLES)
    n_test = val.integer("n_test", n_test, lower=1, upper=val.MAX_WIDTH)
    n_teachers = val.integer("n_teachers", n_teachers, lower=1, upper=val.MAX_WIDTH)
    seed = val.integer("seed", seed, lower=0)
    if accuracy_every is not None:
        accuracy_every = val.integer("accuracy_every", accuracy_every, lower=1, upper=n_steps)
        if n_steps % accuracy_every:
            raise ValueError(f"accuracy_every must be a positive divisor of n_steps={n_steps}, got {accuracy_every}")
    n_tr = _n_train(d_in, lam)
    _memory(
        "(n_steps / accuracy_every) * d_in * n_teachers, (N_tr + n_test) * d_in and n_steps",
        max((n_steps // (accuracy_every or n_steps + 1) + 1) * d_in * n_teachers, (n_tr + n_test) * d_in, n_steps),
    )
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
            int(n_teachers),
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


@dataclass(frozen=True)
class TwoLayerRun:
    """Per-seed losses of a two-layer linear student, shape (n_seeds, n_steps + 1): L = Tr[D^T Q D] / d_out with
    Q = Sigma_tr (train) or I (population test loss), D = S0 S1 - T."""

    train_loss: np.ndarray
    gen_loss: np.ndarray

    def crossing_time(self, curve: str, threshold: float) -> np.ndarray:
        """Per seed, the (fractional) step at which ``curve`` first reaches ``threshold`` (log-linear interpolation
        from the step before the first step at or below it); -1 if never."""
        return _crossing_time(getattr(self, curve), threshold)


def _two_layer_seed(rng: np.random.Generator, lr: float, d_in: int, d_h: int, d_out: int, n_tr: int, n_steps: int):
    X = rng.standard_normal((n_tr, d_in))
    S0, T0 = rng.standard_normal((2, d_in, d_h)) / np.sqrt(2.0 * d_in * d_h)
    S1, T1 = rng.standard_normal((2, d_h, d_out)) / np.sqrt(2.0 * d_out * d_h)
    nu, V = np.linalg.eigh(X.T @ X / n_tr)
    # GD on L = Tr[D^T Sigma D] / d_out: S0 -= a Sigma D S1^T, S1 -= a S0^T Sigma D with a = 2 lr / d_out. In the
    # eigenbasis of Sigma (rows rotated by V) the products W = S0 S1, M0 = S0 S0^T, M1 = S1^T S1 obey the closed exact
    # recursion below (each a^2 term is the product of the two updates), so d_h only enters through the init.
    T = V.T @ (T0 @ T1)
    W = V.T @ (S0 @ S1)
    M0 = V.T @ (S0 @ S0.T) @ V
    M1 = S1.T @ S1
    a = np.float64(2.0 * lr / d_out)  # numpy: a**2 overflows to inf (detected as divergence), not OverflowError
    loss = np.empty((n_steps + 1, 2))
    with np.errstate(over="ignore", invalid="ignore"):
        for step in range(n_steps + 1):
            D = W - T
            loss[step] = nu @ np.sum(D**2, axis=1) / d_out, np.sum(D**2) / d_out
            G = nu[:, None] * D  # Sigma D
            M0G = M0 @ G
            W, M0, M1 = (
                W - a * (M0G + G @ M1) + a**2 * G @ (W.T @ G),
                M0 - a * (G @ W.T + W @ G.T) + a**2 * (G @ M1) @ G.T,
                M1 - a * (W.T @ G + G.T @ W) + a**2 * G.T @ M0G,
            )
    return loss[:, 0], loss[:, 1]


def two_layer_teacher_student(
    lam: float,
    lr: float,
    *,
    d_in: int,
    d_h: int,
    d_out: int,
    n_steps: int,
    n_seeds: int = 1,
    seed: int,
) -> TwoLayerRun:
    """Exact full-batch GD of a two-layer linear student x -> S1^T S0^T x on a two-layer linear teacher ([LBB23]
    sec. 4.1, eq. 17): weights N(0, 1/(2 d_in d_h)) (first layer) and N(0, 1/(2 d_out d_h)) (second), x ~ N(0, I),
    N_tr = round(d_in / lam), learning rate ``lr`` on the loss Tr[D^T Sigma_tr D] / d_out (eq. 38).

    Raises FloatingPointError naming the first step where a loss is non-finite or grows past 1e3 times its start.
    """
    lam = _lam(lam)
    lr = val.positive("lr", lr)
    d_in = val.integer("d_in", d_in, lower=2, upper=val.MAX_WIDTH)
    d_h = val.integer("d_h", d_h, lower=1, upper=val.MAX_WIDTH)
    d_out = val.integer("d_out", d_out, lower=1, upper=val.MAX_WIDTH)
    n_steps = val.integer("n_steps", n_steps, lower=1, upper=val.MAX_STEPS)
    n_seeds = val.integer("n_seeds", n_seeds, lower=1, upper=val.MAX_SAMPLES)
    seed = val.integer("seed", seed, lower=0)
    n_tr = _n_train(d_in, lam)
    _memory(
        "N_tr * d_in, d_in * max(d_h, d_in, d_out) and n_steps", max(n_tr * d_in, d_in * max(d_h, d_in, d_out), n_steps)
    )
    runs = [
        _two_layer_seed(np.random.default_rng(s), float(lr), int(d_in), int(d_h), int(d_out), n_tr, int(n_steps))
        for s in np.random.SeedSequence(int(seed)).spawn(int(n_seeds))
    ]
    tr, gen = (np.stack([run[k] for run in runs]) for k in range(2))
    bad = ~np.isfinite(gen) | (gen > 1e3 * gen[:, :1])
    if bad.any():
        step = int(np.argmax(bad.any(axis=0)))
        raise FloatingPointError(
            f"two-layer linear GD diverged at step {step} (lam={lam}, lr={lr}, d_in={d_in}, d_h={d_h}, d_out={d_out})"
        )
    return TwoLayerRun(train_loss=tr, gen_loss=gen)


@dataclass(frozen=True)
class SpectralRun:
    """Exact GD of the one-layer linear estimator ([LBB23] eq. 3, gamma = 0) in the eigenbasis of Sigma_tr, at any
    time. Per seed (rows): ``nu`` the d_in eigenvalues of Sigma_tr (ascending) and ``c2`` the squared coefficients of
    D_0 = alpha S_0 - T on its eigenvectors, summed over the d_out outputs and divided by d_out (eq. 1's and eq. 2's
    1/d_out); ``n_null`` = max(0, d_in - N_tr) exact zero modes (the lowest ones)."""

    nu: np.ndarray
    c2: np.ndarray
    d_out: int
    n_null: int

    def _log_factor(self, lr: float, discrete: bool) -> np.ndarray:
        rate = 2.0 * lr * self.nu / self.d_out  # eq. 3: D_{t+1} = (I - (2 lr / d_out) Sigma_tr) D_t
        if not discrete:
            return -rate
        if np.any(rate >= 1.0):
            raise ValueError(f"lr must keep 2 lr nu_max / d_out < 1 (monotone decay), got {rate.max():.4g}")
        return np.log1p(-rate)

    def losses(self, t, lr, *, discrete: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """(L_tr, L_gen) of shape (n_seeds, len(t)) after ``t`` GD steps (real t: the geometric interpolation
        (1 - 2 lr nu / d_out)^{2t} per mode; ``discrete=False``: gradient flow e^{-4 lr nu t / d_out})."""
        t = val.real_array("t", t, ndim=1, lower=0.0)
        lr, discrete = val.positive("lr", lr), val.flag("discrete", discrete)
        decay = np.exp(2.0 * t[None, :, None] * self._log_factor(lr, discrete)[:, None, :])  # (seed, t, mode)
        weighted = self.c2[:, None, :] * decay
        return np.sum(weighted * self.nu[:, None, :], axis=2), np.sum(weighted, axis=2)

    def gen_loss_limit(self) -> np.ndarray:
        """Per seed, L_gen at t = inf: the part of |D_0|^2 / d_out on the null space of Sigma_tr (0 if N_tr >= d_in)."""
        return self.c2[:, : self.n_null].sum(axis=1)

    def crossing_times(self, lr, level, *, discrete: bool = True) -> np.ndarray:
        """(n_seeds, 2): the real t at which L_tr, L_gen first reach ``level`` (exact root of the exact losses; the
        losses decrease monotonically); inf where the t = inf loss is at or above the level."""
        lr, discrete = val.positive("lr", lr), val.flag("discrete", discrete)
        level = val.positive("level", level)
        ell = self._log_factor(lr, discrete)
        out = np.empty((self.nu.shape[0], 2))
        for s in range(self.nu.shape[0]):
            live = np.arange(self.nu.shape[1]) >= self.n_null
            for k, q in enumerate((self.nu[s], np.ones_like(self.nu[s]))):
                logw = np.log(self.c2[s, live] * q[live])
                floor = 0.0 if k == 0 else float(np.sum(self.c2[s, ~live]))
                if floor >= level:
                    out[s, k] = np.inf
                    continue

                def excess(tt, logw=logw, s=s, floor=floor):
                    log_decaying = _logsumexp(logw + 2.0 * tt * ell[s, live])
                    if floor == 0.0:
                        return log_decaying - math.log(level)
                    return math.log(floor + math.exp(log_decaying)) - math.log(level)

                out[s, k] = _first_root(excess, 1.0 / lr)
        return out


def _logsumexp(x: np.ndarray) -> float:
    m = float(np.max(x))
    return m + math.log(float(np.sum(np.exp(x - m))))


def _first_root(f, scale: float) -> float:
    """Root of a decreasing f on [0, inf) (0 if f(0) <= 0); the bracket doubles from ``scale``."""
    if f(0.0) <= 0:
        return 0.0
    hi = scale
    while f(hi) > 0:
        hi *= 2.0
        if hi > 1e15 * scale:
            return math.inf
    return float(brentq(f, 0.0, hi, xtol=1e-12, rtol=1e-13))


def linear_teacher_student_spectrum(
    lam: float, *, d_in: int, d_out: int = 1, alpha: float = 1.0, n_seeds: int = 1, seed: int
) -> SpectralRun:
    """Draw ``n_seeds`` linear teacher-student problems of [LBB23] sec. 3 and return them in the eigenbasis of
    Sigma_tr (``SpectralRun``: exact GD losses at any time, no stepping).

    Per seed: N_tr = round(d_in / lam) points x ~ N(0, I_{d_in}) (any lam > 0: lam > 1 leaves d_in - N_tr null
    directions), teacher T and student init S_0 of shape (d_in, d_out) with i.i.d. N(0, 1/(2 d_in d_out)) entries
    (eq. 1, App. C), student scaled by ``alpha`` ([LBB23] sec. 3.1.3); D_0 = alpha S_0 - T. ``seed``: int >= 0.
    Only the eigenvalues of Sigma_tr are computed: S_0 and T are isotropic Gaussians independent of X, so their
    coefficients on its eigenvectors have the law of S_0 and T themselves and are drawn directly (exact in law).
    """
    lam = val.positive("lam", lam)
    d_in = val.integer("d_in", d_in, lower=2, upper=val.MAX_WIDTH)
    d_out = val.integer("d_out", d_out, lower=1, upper=val.MAX_WIDTH)
    alpha = val.real_scalar("alpha", alpha, lower=0.0)
    n_seeds = val.integer("n_seeds", n_seeds, lower=1, upper=val.MAX_SAMPLES)
    seed = val.integer("seed", seed, lower=0)
    n_tr = max(1, round(d_in / lam))
    if n_tr > val.MAX_WIDTH:
        raise ValueError(f"N_tr = d_in / lam must be <= {val.MAX_WIDTH} training points, got d_in={d_in}, lam={lam}")
    _memory(
        "N_tr * d_in, d_in^2, d_in * d_out and n_seeds * d_in",
        max(n_tr * d_in, d_in * d_in, d_in * d_out, n_seeds * d_in),
    )
    nu, c2 = np.empty((n_seeds, d_in)), np.empty((n_seeds, d_in))
    for i, s in enumerate(np.random.SeedSequence(int(seed)).spawn(int(n_seeds))):
        rng = np.random.default_rng(s)
        X = rng.standard_normal((n_tr, d_in))
        nu[i] = np.maximum(np.linalg.eigvalsh(X.T @ X / n_tr), 0.0)  # round-off below 0 on the null space
        # S_0, T are isotropic and independent of X, so their coefficients on the eigenvectors V of Sigma_tr are
        # distributed as S_0, T themselves (V^T G ~ G for an orthogonal V independent of a Gaussian G): drawn directly
        S0, T = rng.standard_normal((2, d_in, d_out)) / np.sqrt(2.0 * d_in * d_out)
        with np.errstate(over="ignore", invalid="ignore"):  # a huge alpha: caught below as FloatingPointError
            c2[i] = np.sum((alpha * S0 - T) ** 2, axis=1) / d_out
    if not np.all(np.isfinite(c2)):
        raise FloatingPointError(f"|D_0|^2 leaves the float64 range (alpha = {alpha})")
    return SpectralRun(nu=nu, c2=c2, d_out=int(d_out), n_null=max(0, int(d_in) - n_tr))
