"""Gaussian averages by kink-split Gauss-Legendre quadrature (numpy): the engine of the finite-width and
signal-propagation predictions.

- :func:`gaussian_expectation`: <f(z)>_K = E f(z), z ~ N(0, K), one variable;
- :func:`standard_normal_rule`: the nodes and weights behind it, for several averages in one pass;
- :func:`bivariate_expectation`: E f(u1) g(u2) over a correlated Gaussian pair (nested panels).

z/sqrt(K) is integrated over [-Z_MAX, Z_MAX] (the Gaussian tail beyond is < 1e-32) with one 160-point
Gauss-Legendre panel between consecutive cuts (0 and the kinks of the integrand), so piecewise-smooth integrands
such as ReLU, SELU and their step derivatives are integrated to ~1e-14 where plain Gauss-Hermite converges only
algebraically. dltheory.theory.infinite_width has its own rule, in JAX: a polar bivariate quadrature compiled with
the NNGP/NTK recursion over whole Gram matrices, which never evaluates a one-variable average.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np

from dltheory.theory._validate import function, positive, real_array, real_scalar

__all__ = ["Z_MAX", "legendre_panels", "standard_normal_rule", "gaussian_expectation", "bivariate_expectation"]

Z_MAX = 12.0
_NODES, _WEIGHTS = np.polynomial.legendre.leggauss(160)


def legendre_panels(lo: float, hi: float, cuts: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Legendre nodes/weights on [lo, hi] split at ``cuts`` (kinks), one 160-point panel each."""
    lo = real_scalar("lo", lo)
    hi = real_scalar("hi", hi, lower=lo, strict=True)
    cuts = real_array("cuts", cuts, ndim=1, min_size=0)
    edges = [lo, *sorted(c for c in cuts if lo < c < hi), hi]
    t, w = [], []
    for a, b in zip(edges[:-1], edges[1:]):
        t.append((b - a) / 2 * _NODES + (a + b) / 2)
        w.append((b - a) / 2 * _WEIGHTS)
    return np.concatenate(t), np.concatenate(w)


def standard_normal_rule(scale: float, kinks: Sequence[float] = ()) -> tuple[np.ndarray, np.ndarray]:
    """Nodes t and weights g with sum g f(scale t) = E f(scale Z), Z ~ N(0, 1), f kinked at ``kinks``.

    The weights include the density: g = w exp(-t^2/2) / sqrt(2 pi); panels split at 0 and kinks / scale.
    ``scale`` > 0 (callers handle the degenerate scale 0 themselves).
    """
    scale = positive("scale", scale)
    kinks = real_array("kinks", kinks, ndim=1, min_size=0)
    t, w = legendre_panels(-Z_MAX, Z_MAX, [0.0, *(k / scale for k in kinks)])
    return t, w * np.exp(-t * t / 2) / math.sqrt(2 * math.pi)


def gaussian_expectation(f: Callable[[np.ndarray], np.ndarray], K: float, kinks: Sequence[float] = ()) -> float:
    """<f(z)>_K = E f(z), z ~ N(0, K), by Gauss-Legendre panels split at 0 and at the kinks of f.

    Exact to ~1e-14 for f smooth on each panel with at most polynomial/exponential-linear growth; the
    split makes it exact for kinked f (ReLU, SELU), where plain Gauss-Hermite is not. K = 0 gives f(0).
    """
    function("f", f)
    K = real_scalar("K", K, lower=0.0)
    kinks = real_array("kinks", kinks, ndim=1, min_size=0)
    if K == 0.0:
        return float(f(np.zeros(1))[0])
    s = math.sqrt(K)
    t, w = legendre_panels(-Z_MAX, Z_MAX, [0.0, *(k / s for k in kinks)])
    return float(np.sum(w * np.exp(-t * t / 2) * f(s * t)) / math.sqrt(2 * math.pi))


def bivariate_expectation(f: Callable, g: Callable, q11: float, q22: float, q12: float, kinks: tuple = ()) -> float:
    """E f(u1) g(u2), (u1, u2) ~ N(0, [[q11, q12], [q12, q22]]), by Gauss-Legendre panels.

    u1 = sqrt(q11) z1, u2 = sqrt(q22) (c z1 + s z2), c = q12/sqrt(q11 q22), s = sqrt(1 - c^2). The outer
    z1 panels split at 0 and the kinks of f and g; the inner z2 panels split where u2 crosses a kink, so
    kinked or jumping integrands (ReLU and its step derivative) are integrated exactly to ~1e-13.
    """
    function("f", f), function("g", g)
    q11, q22 = real_scalar("q11", q11, lower=0.0, strict=True), real_scalar("q22", q22, lower=0.0, strict=True)
    c = real_scalar("q12", q12) / math.sqrt(q11) / math.sqrt(q22)  # two square roots: q11 q22 may underflow
    if abs(c) > 1 + 1e-12:
        raise ValueError(f"q12 must satisfy |q12| <= sqrt(q11 q22), got correlation {c}")
    kinks = tuple(real_array("kinks", kinks, ndim=1, min_size=0))
    c = min(1.0, max(-1.0, c))
    s = math.sqrt(max(0.0, 1 - c * c))
    r1, r2 = math.sqrt(q11), math.sqrt(q22)
    z1, g1 = standard_normal_rule(r1, kinks)
    if s < 1e-14:
        return float(g1 @ (f(r1 * z1) * g(r2 * c * z1)))
    cuts = np.sort(np.clip([(k / r2 - c * z1) / s for k in (0.0, *kinks)], -Z_MAX, Z_MAX), axis=0)  # (m, n1)
    edges = np.vstack([np.full_like(z1, -Z_MAX), cuts, np.full_like(z1, Z_MAX)])
    lo, hi = edges[:-1, :, None], edges[1:, :, None]  # (panels, n1, 1)
    z2 = (hi - lo) / 2 * _NODES + (hi + lo) / 2
    w2 = (hi - lo) / 2 * _WEIGHTS * np.exp(-z2 * z2 / 2) / math.sqrt(2 * math.pi)
    inner = np.sum(w2 * g(r2 * (c * z1[None, :, None] + s * z2)), axis=(0, 2))
    return float(g1 @ (f(r1 * z1) * inner))
