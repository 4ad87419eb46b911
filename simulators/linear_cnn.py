"""Two-layer linear CNN with circular convolutions trained by full-batch gradient descent on the population loss.

Network: C channels, h_c = w_c (*) x, f(x) = sum_c v_c (*) h_c ((*) circular convolution on N positions; kernels
w_c of size k, i.e. entries j >= k held at 0, and v_c of size N). Data: E[x x^T] = I and E[y x^T] = A circulant
with first column ``a``, so the loss is L = (1/2) ||A - B||_F^2 + const with B = circ(b), b = sum_c v_c (*) w_c
(the population loss: no sampling). Gradients are computed from the real-space convolutions (numpy FFTs of the
kernels); the end-to-end filter's DFT, beta = fft(b), is recorded. Cf. Pinson, Lenaerts & Ginis 2023,
arXiv:2303.02034 (two-layer linear CNNs).
"""

from __future__ import annotations

import numpy as np

from dltheory.simulators._seeding import rng
from dltheory.theory import _validate as V

__all__ = ["init_balanced", "train", "loss"]


def init_balanced(N: int, C: int, scale: float, *, seed) -> tuple[np.ndarray, np.ndarray]:
    """Kernels w (C, N) with i.i.d. N(0, scale^2) entries and v = w time-reversed (v_c[j] = w_c[-j mod N]), so
    fft(v_c) = conj(fft(w_c)): the balanced, per-frequency aligned init (full-size kernels)."""
    N = V.integer("N", N, lower=2, upper=V.MAX_WIDTH)
    C = V.integer("C", C, lower=1, upper=V.MAX_WIDTH)
    scale = V.positive("scale", scale)
    if N * C > V.MAX_ELEMENTS:
        raise ValueError(f"N * C must be <= {V.MAX_ELEMENTS} (memory cap)")
    w = scale * rng(seed).standard_normal((C, N))
    return w, np.roll(w[:, ::-1], 1, axis=1)


def _product(w: np.ndarray, v: np.ndarray) -> np.ndarray:
    """beta = fft(sum_c v_c (*) w_c) = sum_c fft(v_c) fft(w_c)."""
    return np.sum(np.fft.fft(v, axis=1) * np.fft.fft(w, axis=1), axis=0)


def loss(w, v, a) -> float:
    """(1/2) ||circ(a) - circ(sum_c v_c (*) w_c)||_F^2 = (1/2) sum_omega |fft(a) - beta|^2 (Parseval:
    ||circ(z)||_F^2 = N ||z||^2 = sum_omega |fft(z)|^2)."""
    w, v, a = _check(w, v, a)
    return 0.5 * float(np.sum(np.abs(np.fft.fft(a) - _product(w, v)) ** 2))


def _check(w, v, a):
    w = V.real_array("w", w, ndim=2)
    v = V.real_array("v", v, shape=w.shape)
    a = V.real_array("a", a, shape=(w.shape[1],))
    return w, v, a


def train(w, v, a, *, eta: float, n_steps: int, k: int | None = None, record_every: int = 1) -> dict:
    """``n_steps`` GD steps of learning rate ``eta`` on (w, v) from the given kernels (copied); ``k`` the first
    layer's kernel size (None: N; entries j >= k of w must be 0 and stay 0). Returns ``beta`` (records, N) complex,
    the end-to-end filter's DFT at steps 0, record_every, ... (``steps``), and the final ``w``, ``v``.
    Raises FloatingPointError naming the step if the kernels leave the float64 range."""
    w, v, a = _check(w, v, a)
    C, N = w.shape
    k = N if k is None else V.integer("k", k, lower=1, upper=N)
    eta = V.positive("eta", eta)
    n_steps = V.integer("n_steps", n_steps, lower=0, upper=V.MAX_STEPS)
    record_every = V.integer("record_every", record_every, lower=1, upper=V.MAX_STEPS)
    if np.any(w[:, k:] != 0):
        raise ValueError(f"w must be 0 beyond the kernel size k={k} (entries j >= k)")
    if (n_steps // record_every + 1) * N > V.MAX_ELEMENTS:
        raise ValueError(f"(n_steps / record_every + 1) * N must be <= {V.MAX_ELEMENTS} (memory cap)")
    s = np.fft.fft(a)
    w, v = w.copy(), v.copy()
    records, steps = [], []
    with np.errstate(over="ignore", invalid="ignore"):  # divergence is detected and raised below
        for t in range(n_steps + 1):
            W, Vh = np.fft.fft(w, axis=1), np.fft.fft(v, axis=1)
            beta = np.sum(Vh * W, axis=0)
            if not np.all(np.isfinite(beta)):
                raise FloatingPointError(f"linear CNN training diverged at step {t} (eta={eta}, N={N})")
            if t % record_every == 0:
                records.append(beta)
                steps.append(t)
            if t == n_steps:
                break
            r = np.conj(s - beta)  # dL/dw_c[j] = -Re sum_omega conj(r) v^_c e^{-2 pi i omega j / N} = -Re fft(.)[j]
            gw, gv = -np.fft.fft(r * Vh, axis=1).real, -np.fft.fft(r * W, axis=1).real
            gw[:, k:] = 0.0
            w -= eta * gw
            v -= eta * gv
    return {"beta": np.array(records), "steps": np.array(steps), "w": w, "v": v}
