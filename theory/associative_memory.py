"""Scaling laws of outer-product associative memories with Zipf-distributed inputs.

Reference
---------
[CDB23] V. Cabannes, E. Dohmatob, A. Bietti, "Scaling laws for associative memories", arXiv:2310.02984 (ICLR 2024),
Section 3: the memory W = sum_x q(x) u_{f(x)} e_x^T with random embeddings e_x, u_y in R^d, the prediction
f_q(x) = argmax_y u_y^T W e_x, the generalisation error E(f_q) = P_x(f_q(x) != f(x)) for x ~ p(x) ∝ x^{-alpha}
(alpha > 1), and its scaling in the number of samples T and in d for the estimators they compare.

The paper's theorem statements could not be retrieved here (only its abstract); the exponents below are derived in
the docstrings, in the regimes the claims use, and are the ones the paper reports to the best of our knowledge:
E ~ T^{-1 + 1/alpha} when every seen token is stored with q(x) = 1{x seen} in a memory large enough to recall them
(d >> T^{1/alpha}), and E ~ d^{-(alpha - 1) / (2 alpha)} for q = p (infinite data, frequency weights).

Conventions: tokens x = 1..N (N finite; the sums include the truncation exactly), p a probability vector, M output
classes with f(x) uniform, embeddings i.i.d. N(0, I_d / d) (uniform on the sphere gives the same laws).
"""

from __future__ import annotations

import numpy as np
from scipy.special import gamma, zeta
from scipy.stats import norm

from dltheory.theory._validate import MAX_WIDTH, integer_at_least, real_array, real_scalar

__all__ = [
    "zipf",
    "seen_memory_error",
    "sample_exponent",
    "missing_mass_asymptotic",
    "frequency_memory_error",
    "frequency_memory_exponent",
]


def _alpha(alpha) -> float:
    return real_scalar("alpha", alpha, lower=1.0, strict=True)


def _probabilities(p) -> np.ndarray:
    p = real_array("p", p, ndim=1, min_size=2, lower=0.0)
    if abs(p.sum() - 1.0) > 1e-9:
        raise ValueError(f"p must sum to 1 (to 1e-9), got {p.sum()!r}")
    return p


def zipf(N: int, alpha: float) -> np.ndarray:
    """Zipf law on x = 1..N: p(x) = x^{-alpha} / sum_{x' <= N} x'^{-alpha} ([CDB23] eq. for the data model)."""
    N = integer_at_least("N", N, 2, upper=MAX_WIDTH)
    alpha = _alpha(alpha)
    w = np.arange(1, N + 1, dtype=float) ** -alpha
    return w / w.sum()


def seen_memory_error(T, p, M: int) -> np.ndarray:
    """E(f_q) for q(x) = 1{x among T i.i.d. samples} as d -> infinity: (1 - 1/M) sum_x p(x) (1 - p(x))^T.

    Derivation: with d -> infinity every stored token is recalled (cross-talk e_x'^T e_x -> 0); an unseen token's
    scores do not involve f(x), which is uniform and independent, so it is right with probability 1/M exactly.
    The sum is the expected missing mass (Good-Turing). ``T`` may be an array of sample sizes."""
    T = real_array("T", T, ndim=(0, 1), lower=0.0)
    p = _probabilities(p)
    M = integer_at_least("M", M, 2, upper=MAX_WIDTH)
    return (1 - 1 / M) * np.exp(np.log1p(-np.minimum(p, 1 - 1e-300))[None, :] * np.atleast_1d(T)[:, None]) @ p


def sample_exponent(alpha: float) -> float:
    """[CDB23]: E(f_q) ~ T^{-1 + 1/alpha} for q = 1{seen} with d large (the missing mass of a Zipf law)."""
    return -1.0 + 1.0 / _alpha(alpha)


def missing_mass_asymptotic(T, alpha: float) -> np.ndarray:
    """Leading term of sum_x p(x)(1 - p(x))^T for N = infinity: Gamma(1 - 1/alpha) / (alpha zeta(alpha)^{1/alpha})
    T^{-1 + 1/alpha} (substitute v = T x^{-alpha} / zeta(alpha) in the integral; relative error O(T^{-1/alpha}))."""
    T = real_array("T", T, ndim=(0, 1), lower=0.0, strict=True)
    alpha = _alpha(alpha)
    return gamma(1 - 1 / alpha) / (alpha * zeta(alpha) ** (1 / alpha)) * T ** (-1 + 1 / alpha)


def frequency_memory_error(d, p) -> np.ndarray:
    """E(f_q) for q = p (infinite data), M = 2 classes, in the Gaussian approximation:
    sum_x p(x) Phi_bar(p(x) sqrt(d) / ||p_{-x}||).

    Derivation: the score margin of x is p(x) |u_f(x)|^2 |e_x|^2 (1 + O(d^{-1/2})) plus the cross-talk
    sum_{x' != x} p(x') (+-1) e_x'^T e_x, Gaussian given e_x with variance ||p_{-x}||^2 / d (+-1: f(x') equals f(x) or
    the other class). The relative error of the argument is O(d^{-1/2}). ``d`` may be an array."""
    d = real_array("d", d, ndim=(0, 1), lower=1.0)
    p = _probabilities(p)
    rest = np.sqrt(np.maximum(p @ p - p**2, np.finfo(float).tiny))
    return norm.sf(np.sqrt(np.atleast_1d(d))[:, None] * (p / rest)[None, :]) @ p


def frequency_memory_exponent(alpha: float) -> float:
    """[CDB23]: E(f_q) ~ d^{-(alpha - 1) / (2 alpha)} for q = p with a fixed number of classes.

    From frequency_memory_error: x is recalled iff p(x) >~ ||p|| / sqrt(d), i.e. x <~ d^{1/(2 alpha)}, and the
    Zipf tail beyond it has mass ~ (d^{1/(2 alpha)})^{1 - alpha}."""
    alpha = _alpha(alpha)
    return -(alpha - 1) / (2 * alpha)
