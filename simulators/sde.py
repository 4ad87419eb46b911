"""Euler-Maruyama for scalar and matrix SDEs, many paths in parallel (numpy, vectorised over paths).

Scalar: x_{k+1} = x_k + b(x_k) dt + s(x_k) dW_k, clipped to [lo, hi] (e.g. a correlation in [-1, 1]); strong
order 1/2, weak order 1 for smooth coefficients (Kloeden & Platen 1992, Thms 10.2.2 and 14.5.1).

Matrix (symmetric m x m, PSD): V_{k+1} = Proj_PSD(V_k + b(V_k) dt + sqrt(dt) xi_k) with the structured noise

    xi = g_lin (H + H^T)/sqrt(2) + g_attn (Z P V + V P Z^T)/m,   H = L G1 L^T,  Z = L G2 L^T,  L L^T = V,

G1, G2 iid m x m N(0, 1), P = I - 1 1^T/m. Cov((H + H^T)/sqrt 2) = V(x)V + V(x)V swapped = Sigma_lin(V) and
Cov((Z P V + V P Z^T)/m) = Sigma_attn(V) exactly (Li, Nica & Roy 2022; Noci et al. 2023), so no m^2 x m^2 square
root is ever formed: O(m^3) per path-step. Paths whose max |V| exceeds ``blowup`` are frozen and flagged (counted,
never dropped); a non-finite value in a path that was not flagged raises.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from dltheory.simulators._seeding import rng
from dltheory.theory import _validate as V_

__all__ = [
    "euler_maruyama_scalar",
    "euler_maruyama_matrix",
    "euler_maruyama_matrix_pair",
    "MatrixPaths",
    "structured_noise",
]


def _steps(T, dt) -> int:
    """The number of steps T / dt: an integer <= MAX_STEPS (the cap of dltheory.theory._validate)."""
    T = V_.positive("T", T)
    dt = V_.positive("dt", dt)
    if dt > T:
        raise ValueError(f"dt must be <= T (at least one step), got dt={dt}, T={T}")
    ratio = T / dt
    if not ratio <= V_.MAX_STEPS:  # also catches an overflow to inf
        raise ValueError(f"T / dt (the number of steps) must be <= {V_.MAX_STEPS}, got T={T}, dt={dt}: {ratio:g} steps")
    n = round(ratio)
    if abs(n * dt - T) > 1e-9 * T:
        raise ValueError(f"T / dt must be an integer, got T={T}, dt={dt}")
    return n


def _n_paths(n_paths) -> int:
    return V_.integer("n_paths", n_paths, lower=1, upper=V_.MAX_SAMPLES)


def _bound(name: str, value) -> float:
    """A clipping bound: a real number, +-inf allowed, NaN refused."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        raise V_.InvalidType(f"{name} must be a real number (+-inf allowed), got {value!r}")
    if math.isnan(value):
        raise ValueError(f"{name} must be a real number (+-inf allowed), got nan")
    return float(value)


def euler_maruyama_scalar(
    x0,
    drift: Callable,
    diffusion: Callable,
    *,
    T: float,
    dt: float,
    n_paths: int | None = None,
    seed=None,
    increments: np.ndarray | None = None,
    lo: float = -np.inf,
    hi: float = np.inf,
) -> np.ndarray:
    """Terminal values of d x = drift(x) dt + diffusion(x) dW from x0 (scalar or per-path), shape (n_paths,).

    ``increments``: optional Brownian increments, shape (T/dt, n_paths) with variance dt each (for strong-order
    tests that reuse one Brownian path across step sizes); otherwise they are drawn from ``seed``.
    """
    V_.instance("drift", drift, Callable, "a callable")
    V_.instance("diffusion", diffusion, Callable, "a callable")
    n_steps = _steps(T, dt)
    lo, hi = _bound("lo", lo), _bound("hi", hi)
    if not lo < hi:
        raise ValueError(f"lo must be < hi, got lo={lo}, hi={hi}")
    if increments is None:
        n_paths = _n_paths(n_paths)
        g = rng(seed)
    else:
        increments = V_.real_array("increments", increments, shape=(n_steps, None))
        n_paths = increments.shape[1]
    x = V_.real_array("x0", x0, ndim=(0, 1))
    if x.size not in (1, n_paths):
        raise ValueError(f"x0 must be a scalar or have one value per path ({n_paths}), got shape {x.shape}")
    x = np.broadcast_to(x, (n_paths,)).copy()
    if np.any(x < lo) or np.any(x > hi):
        raise ValueError(f"x0 must lie in [lo, hi] = [{lo}, {hi}]")
    sq = math.sqrt(dt)
    for k in range(n_steps):
        dW = increments[k] if increments is not None else sq * g.standard_normal(n_paths)
        with np.errstate(over="ignore", invalid="ignore"):  # divergence is detected and raised just below
            x = np.clip(x + drift(x) * dt + diffusion(x) * dW, lo, hi)
        if not np.all(np.isfinite(x)):
            raise FloatingPointError(f"scalar EM produced a non-finite value at step {k + 1} (dt={dt})")
    return x


@dataclass(frozen=True)
class MatrixPaths:
    """EM output: ``V`` (n_paths, records, m, m) at times ``t``; ``blown`` flags frozen paths; ``blowup_time`` is the
    time a path was frozen (+inf for a path that never exceeded ``blowup``)."""

    t: np.ndarray
    V: np.ndarray
    blown: np.ndarray
    blowup_time: np.ndarray

    @property
    def blowup_fraction(self) -> float:
        return float(self.blown.mean())


def _cholesky_small(V: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Batched Cholesky for small m by explicit loops over entries (vectorised over the stack); also returns a
    mask of the matrices that are not numerically positive definite (a pivot <= 0 or non-finite)."""
    m = V.shape[-1]
    L = np.zeros_like(V)
    bad = np.zeros(V.shape[0], dtype=bool)
    for i in range(m):
        for j in range(i + 1):
            s = V[:, i, j] - np.einsum("pk,pk->p", L[:, i, :j], L[:, j, :j])
            if i == j:
                bad |= ~(s > 0)
                L[:, i, i] = np.sqrt(np.where(s > 0, s, 1.0))
            else:
                L[:, i, j] = s / L[:, j, j]
    return L, bad


def _psd_split(V: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(projection of V onto the PSD cone, a square root L with L L^T = projection), batched.

    Positive definite matrices are their own projection (Cholesky factor as L); the rest are eigen-clipped.
    """
    L, bad = _cholesky_small(V)
    if np.any(bad):
        w, U = np.linalg.eigh(V[bad])
        L[bad] = U * np.sqrt(np.clip(w, 0, None))[..., None, :]
        V = V.copy()
        V[bad] = L[bad] @ np.swapaxes(L[bad], -1, -2)
    return V, L


def structured_noise(V, L, G1, G2, lin_scale: float, attn_scale: float) -> np.ndarray:
    """xi = lin_scale (H + H^T)/sqrt 2 + attn_scale (Z P V + V P Z^T)/m with H = L G1 L^T, Z = L G2 L^T (batched).

    ``V``, ``L`` (L L^T = V), ``G1``, ``G2``: finite real arrays of one shape (..., m, m); scales finite and >= 0.
    """
    arrays = {}
    for name, a in (("V", V), ("L", L), ("G1", G1), ("G2", G2)):
        arrays[name] = V_.real_array(name, a, ndim=tuple(range(2, 8)))
        if arrays[name].shape[-1] != arrays[name].shape[-2] or arrays[name].shape != arrays["V"].shape:
            raise ValueError(f"{name} must have the shape (..., m, m) of V, got {arrays[name].shape}")
    lin_scale, attn_scale = V_.nonnegative("lin_scale", lin_scale), V_.nonnegative("attn_scale", attn_scale)
    return _structured_noise(*arrays.values(), lin_scale, attn_scale)


def _structured_noise(V, L, G1, G2, lin_scale: float, attn_scale: float) -> np.ndarray:
    Lt = np.swapaxes(L, -1, -2)
    H = L @ G1 @ Lt
    xi = lin_scale / math.sqrt(2) * (H + np.swapaxes(H, -1, -2))
    if attn_scale:
        m = V.shape[-1]
        ZPV = L @ G2 @ Lt @ (np.eye(m) - 1.0 / m) @ V
        xi = xi + attn_scale / m * (ZPV + np.swapaxes(ZPV, -1, -2))
    return xi


def euler_maruyama_matrix(
    V0,
    drift: Callable,
    *,
    T: float,
    dt: float,
    n_paths: int,
    seed,
    lin_scale: float,
    attn_scale: float = 0.0,
    blowup: float = 1e2,
    record_every: int | None = None,
) -> MatrixPaths:
    """EM for dV = drift(V) dt + Sigma(V)^{1/2} dB with Sigma = lin_scale^2 Sigma_lin + attn_scale^2 Sigma_attn.

    ``drift`` maps a stack (N, m, m) of PSD matrices to (N, m, m). After each step V is symmetrised and projected onto
    the PSD cone (eigenvalue clipping). Records at steps 0, record_every, ... (default: start and end).
    """
    V0, n_steps, n_paths, record_every = _matrix_args(
        V0, drift, T, dt, n_paths, lin_scale, attn_scale, blowup, record_every
    )
    g = rng(seed)
    m = V0.shape[0]
    path = _MatrixEM(V0, n_paths, drift, dt, lin_scale, attn_scale, blowup)
    for k in range(n_steps):
        path.step(g.standard_normal((2, n_paths, m, m)), k + 1)
        if (k + 1) % record_every == 0:
            path.record()
    return path.result()


def euler_maruyama_matrix_pair(
    V0,
    drift: Callable,
    *,
    T: float,
    dt: float,
    n_paths: int,
    seed,
    lin_scale: float,
    attn_scale: float = 0.0,
    blowup: float = 1e2,
) -> tuple[MatrixPaths, MatrixPaths]:
    """EM at step ``dt`` and at ``2 dt`` on the SAME Brownian paths (the coarse increment is the sum of two fine
    ones), for Richardson extrapolation of weak errors: 2 E f(V^dt_T) - E f(V^2dt_T) = E f(V_T) + O(dt^2) for EM's
    weak order 1 (Talay & Tubaro 1990), with a small Monte Carlo SE because the pair is coupled path by path.

    Returns (fine, coarse) :class:`MatrixPaths` recorded at 0 and T; T / (2 dt) must be an integer.
    """
    dt = V_.positive("dt", dt)
    V0, n_steps, n_paths, _ = _matrix_args(V0, drift, T, 2 * dt, n_paths, lin_scale, attn_scale, blowup, None)
    g = rng(seed)
    m = V0.shape[0]
    fine = _MatrixEM(V0, n_paths, drift, dt, lin_scale, attn_scale, blowup)
    coarse = _MatrixEM(V0, n_paths, drift, 2 * dt, lin_scale, attn_scale, blowup)
    for k in range(n_steps):
        G = g.standard_normal((2, 2, n_paths, m, m))
        fine.step(G[0], 2 * k + 1)
        fine.step(G[1], 2 * k + 2)
        coarse.step((G[0] + G[1]) / math.sqrt(2), k + 1)
    fine.record()
    coarse.record()
    return fine.result(), coarse.result()


def _matrix_args(V0, drift, T, dt, n_paths, lin_scale, attn_scale, blowup, record_every):
    V0 = V_.psd_matrix("V0", V0)
    V_.instance("drift", drift, Callable, "a callable")
    n_steps, n_paths = _steps(T, dt), _n_paths(n_paths)
    V_.nonnegative("lin_scale", lin_scale)
    V_.nonnegative("attn_scale", attn_scale)
    blowup = V_.real_scalar("blowup", blowup, lower=float(np.abs(V0).max()), strict=True)
    record_every = (
        n_steps if record_every is None else V_.integer("record_every", record_every, lower=1, upper=V_.MAX_STEPS)
    )
    m = V0.shape[0]
    if n_paths * m * m * (n_steps // record_every + 2) > V_.MAX_ELEMENTS:
        raise ValueError(f"n_paths * m^2 * (records) must be <= {V_.MAX_ELEMENTS} (memory cap), got n_paths={n_paths}")
    return V0, n_steps, n_paths, record_every


class _MatrixEM:
    """State of one EM ensemble: live paths step, blown ones stay frozen (flagged with their blow-up time)."""

    def __init__(self, V0, n_paths, drift, dt, lin_scale, attn_scale, blowup):
        m = V0.shape[0]
        self.drift, self.dt, self.lin, self.attn, self.blowup = drift, dt, lin_scale, attn_scale, blowup
        self.V = np.broadcast_to(V0, (n_paths, m, m)).copy()
        self.blown = np.zeros(n_paths, dtype=bool)
        self.blowup_time = np.full(n_paths, np.inf)
        self.records, self.times = [self.V.copy()], [0.0]
        self.V, self.L = _psd_split(self.V)
        self.t = 0.0

    def step(self, G: np.ndarray, k: int) -> None:
        """One step with standard normals G (2, n_paths, m, m): G[0] drives Sigma_lin, G[1] Sigma_attn."""
        live = ~self.blown
        Vl, Ll = self.V[live], self.L[live]
        noise = _structured_noise(Vl, Ll, G[0][live], G[1][live], self.lin, self.attn)
        Vn = Vl + self.drift(Vl) * self.dt + math.sqrt(self.dt) * noise
        Vn = 0.5 * (Vn + np.swapaxes(Vn, -1, -2))
        big = ~np.all(np.isfinite(Vn), axis=(1, 2))
        big |= np.nanmax(np.abs(np.where(np.isfinite(Vn), Vn, np.inf)), axis=(1, 2)) > self.blowup
        idx = np.flatnonzero(live)
        self.blown[idx[big]] = True
        self.t = k * self.dt
        self.blowup_time[idx[big]] = self.t
        self.V[idx[~big]], self.L[idx[~big]] = _psd_split(Vn[~big])

    def record(self) -> None:
        self.records.append(self.V.copy())
        self.times.append(self.t)

    def result(self) -> MatrixPaths:
        if not np.all(np.isfinite(self.V)):
            raise FloatingPointError(f"matrix EM: non-finite value in an unflagged path (dt={self.dt})")
        return MatrixPaths(
            t=np.array(self.times), V=np.stack(self.records, axis=1), blown=self.blown, blowup_time=self.blowup_time
        )
