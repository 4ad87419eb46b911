"""Langevin posterior sampling of a two-layer quadratic network on addition mod P (numba, float64, many chains).

Model (Rubin, Seroussi & Ringel 2023, arXiv:2310.03789, model B, eqs. 3-6 and 16): inputs are the P^2 pairs
(n, m) of Z_P, x = (e_n, e_m) in R^{2P}; target y_p(n, m) = delta_{p, (n+m) mod P} - 1/P; network
f_p(n, m) = sum_i a_{ip} (u_i[n] + v_i[m])^2 with N hidden neurons (u_i, v_i) in R^P x R^P and readout a (N x P).
The chains sample the posterior exp(-U) with

    U = ||f - y||^2 / (2 sigma2) + sum_i (|u_i|^2 + |v_i|^2) / 2 + sum_i (Gamma(u_i) + Gamma(v_i))
        + N |a|^2 / (2 sigma_a2),
    Gamma(w) = (gamma P / 6) sum_{k in Z_P} |w_k|^6,  w_k = (1/P) sum_n w[n] e^{-2 pi i k n / P},

(||.||^2 summed over all P^2 pairs and P outputs; readout variance sigma_a2 / N, input-weight variance 1; Gamma
is the sextic regulariser of eq. 16), by Euler-Maruyama Langevin dynamics theta <- theta - dt grad U +
sqrt(2 dt) xi (time in units of the unit prior's relaxation time; the stationary law is exp(-U) up to O(dt)).
The readout is sampled in the whitened coordinate a~ = a sqrt(N / sigma_a2) (a change of variables: same
posterior, better conditioned steps). All P^2 pairs are training data (no test set: the posterior mean f-bar is
the quantity of interest). Recorded: the learned fraction <f, y> / <y, y> of the target and the per-neuron
Fourier products |u_k|^2 |v_k|^2 (k = 1 .. (P-1)/2) at the end of each chain.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numba import njit

from dltheory.theory import _validate as val

__all__ = ["ModularLangevinRun", "sample_modular_quadratic"]

MAX_P = 31
"""Largest modulus (a step costs O(P^3 N) per chain)."""
MAX_N = 2000
"""Largest width."""
MAX_WORK = 10**12
"""Cap on n_chains * n_steps * P^3 * N (bounded work: ~1 ns per unit)."""
_NOISE_BLOCK = 2_000_000
"""Normal draws per noise block (memory ~16 MB)."""
_MAX_ABS = 1e8
"""A coordinate beyond this is a divergence (FloatingPointError)."""


@dataclass(frozen=True)
class ModularLangevinRun:
    """``learned`` (n_chains, n_records): <f, y>/<y, y> after burn-in, every ``record_every`` steps;
    ``mode_product`` (n_chains, N, (P-1)/2): |u_k|^2 |v_k|^2 per neuron and frequency at the last step;
    ``a_mean`` (n_chains,): the time average of ``learned`` minus 1 (Rubin et al.'s a: minus the unlearned
    fraction); ``seed``: the seed passed (int, SeedSequence or Generator; None is refused)."""

    learned: np.ndarray
    mode_product: np.ndarray
    a_mean: np.ndarray
    seed: object


def _is_prime(p: int) -> bool:
    return p >= 2 and all(p % d for d in range(2, math.isqrt(p) + 1))


@njit(cache=True)
def _grad(state, grad, P, sigma2, s_a, gamma, cos_t, sin_t):
    """grad U for one chain; state/grad (3, N, P): u, v, a~ (a~[i, p]). Returns <f, y>."""
    N = state.shape[1]
    u = state[0]
    v = state[1]
    at = state[2]
    for i in range(N):
        for n in range(P):
            grad[0, i, n] = u[i, n]
            grad[1, i, n] = v[i, n]
            grad[2, i, n] = at[i, n]
    h = np.empty(N)
    r = np.empty(P)
    fy = 0.0
    inv = 1.0 / sigma2
    for n in range(P):
        for m in range(P):
            q = (n + m) % P
            for i in range(N):
                h[i] = u[i, n] + v[i, m]
            for p in range(P):
                f = 0.0
                for i in range(N):
                    f += at[i, p] * h[i] * h[i]
                f *= s_a
                y = (1.0 if p == q else 0.0) - 1.0 / P
                fy += f * y
                r[p] = (f - y) * inv
            for i in range(N):
                h2 = h[i] * h[i]
                g = 0.0
                for p in range(P):
                    grad[2, i, p] += s_a * r[p] * h2
                    g += r[p] * at[i, p]
                d = 2.0 * h[i] * g * s_a
                grad[0, i, n] += d
                grad[1, i, m] += d
    # sextic regulariser: dGamma/dw[n] = gamma sum_k |w_k|^4 Re(conj(w_k) e^{-i omega k n})
    re = np.empty(P)
    im = np.empty(P)
    for b in range(2):
        for i in range(N):
            for k in range(P):
                sr = 0.0
                si = 0.0
                for n in range(P):
                    sr += state[b, i, n] * cos_t[k, n]
                    si -= state[b, i, n] * sin_t[k, n]
                re[k] = sr / P
                im[k] = si / P
            for k in range(P):
                w4 = (re[k] * re[k] + im[k] * im[k]) ** 2
                re[k] *= w4
                im[k] *= w4
            for n in range(P):
                s = 0.0
                for k in range(P):
                    # Re(conj(w_k) e^{-i t}) = re cos t - im sin t
                    s += re[k] * cos_t[k, n] - im[k] * sin_t[k, n]
                grad[b, i, n] += gamma * s
    return fy


@njit(cache=True)
def _run_block(states, noise, P, sigma2, s_a, gamma, dt, cos_t, sin_t, fy_out):
    """Advance every chain by noise.shape[0] steps; fy_out[c, t] = <f, y> before step t. Returns -1 or the first
    bad step index (non-finite or |coordinate| > _MAX_ABS)."""
    C = states.shape[0]
    T = noise.shape[0]
    grad = np.empty_like(states[0])
    root = math.sqrt(2.0 * dt)
    for c in range(C):
        st = states[c]
        for t in range(T):
            fy_out[c, t] = _grad(st, grad, P, sigma2, s_a, gamma, cos_t, sin_t)
            bad = False
            for b in range(3):
                for i in range(st.shape[1]):
                    for n in range(P):
                        x = st[b, i, n] - dt * grad[b, i, n] + root * noise[t, c, b, i, n]
                        st[b, i, n] = x
                        if not (abs(x) <= _MAX_ABS):
                            bad = True
            if bad:
                return t
    return -1


def _mode_product(states: np.ndarray, P: int) -> np.ndarray:
    """|u_k|^2 |v_k|^2 for k = 1 .. (P-1)/2, w_k = fft(w) / P; shape (C, N, (P-1)/2)."""
    Fu = np.abs(np.fft.fft(states[:, 0], axis=-1) / P) ** 2
    Fv = np.abs(np.fft.fft(states[:, 1], axis=-1) / P) ** 2
    return (Fu * Fv)[..., 1 : (P - 1) // 2 + 1]


def sample_modular_quadratic(
    P, N, sigma2, sigma_a2, gamma, *, n_chains, n_steps, n_burn, dt, record_every=10, seed
) -> ModularLangevinRun:
    """Run ``n_chains`` independent Langevin chains of the posterior in the module docstring.

    Initialisation: u, v, a~ i.i.d. N(0, 1) (the prior without the sextic term). ``n_steps`` steps of size ``dt``;
    the first ``n_burn`` are discarded; ``learned`` is recorded every ``record_every`` steps after that. Raises
    FloatingPointError naming the step if a coordinate becomes non-finite or exceeds 1e8 in size.
    """
    P = val.integer("P", P, lower=3, upper=MAX_P)
    if not _is_prime(P):
        raise ValueError(f"P must be a prime in [3, {MAX_P}], got {P}")
    N = val.integer_at_least("N", N, 1, upper=MAX_N)
    sigma2 = val.positive("sigma2", sigma2)
    sigma_a2 = val.positive("sigma_a2", sigma_a2)
    gamma = val.nonnegative("gamma", gamma)
    n_chains = val.integer_at_least("n_chains", n_chains, 1, upper=10**5)
    n_steps = val.integer_at_least("n_steps", n_steps, 1, upper=10**9)
    n_burn = val.integer("n_burn", n_burn, lower=0, upper=n_steps - 1)
    dt = val.positive("dt", dt, upper=1.0)
    record_every = val.integer_at_least("record_every", record_every, 1, upper=10**9)
    if n_chains * n_steps * P**3 * N > MAX_WORK:
        raise ValueError(f"n_chains * n_steps * P^3 * N must be <= {MAX_WORK:.0e}, got {n_chains * n_steps * P**3 * N}")
    rng = val.generator("seed", seed)

    states = rng.standard_normal((n_chains, 3, N, P))
    s_a = math.sqrt(sigma_a2 / N)
    angle = 2 * np.pi * np.outer(np.arange(P), np.arange(P)) / P
    cos_t, sin_t = np.cos(angle), np.sin(angle)
    yy = P * (P - 1.0)
    rec = []
    done = 0
    block = max(1, _NOISE_BLOCK // (n_chains * 3 * N * P))
    while done < n_steps:
        T = min(block, n_steps - done)
        noise = rng.standard_normal((T, n_chains, 3, N, P))
        fy = np.empty((n_chains, T))
        bad = _run_block(states, noise, P, sigma2, s_a, gamma, dt, cos_t, sin_t, fy)
        if bad >= 0:
            raise FloatingPointError(f"Langevin chain diverged at step {done + bad} (dt={dt} too large?)")
        t = done + np.arange(T)
        keep = (t >= n_burn) & ((t - n_burn) % record_every == 0)
        rec.append(fy[:, keep] / yy)
        done += T
    learned = np.concatenate(rec, axis=1)
    return ModularLangevinRun(
        learned=learned,
        mode_product=_mode_product(states, P),
        a_mean=learned.mean(axis=1) - 1.0,
        seed=seed,
    )
