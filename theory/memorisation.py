"""Memorisation by construction: a depth-2 ReLU network with 2n + d weights that fits any n labels in d dimensions.

References
----------
- [Z17] C. Zhang, S. Bengio, M. Hardt, B. Recht, O. Vinyals, "Understanding deep learning requires rethinking
  generalization", ICLR 2017, arXiv:1611.03530, Thm. 1 and its proof (appendix): project the points to
  x_i = <a, z_i> (distinct), sort them, interleave biases b_1 < x_1 < b_2 < x_2 < ... < b_n < x_n; then
  A_ij = max(x_i - b_j, 0) is lower triangular with a positive diagonal (full rank), and the output weights w = A^-1 y
  give c(z) = sum_j w_j max(<a, z> - b_j, 0) with c(z_i) = y_i. Weights: a (d), b (n), w (n): 2n + d.

Conventions
-----------
- Points ``z`` (n, d), labels ``y`` (n,). The network's units are ordered by their biases (ascending); b_1 is placed
  half the first gap below x_1 (the gap is 1 for n = 1) and b_j = (x_{j-1} + x_j)/2 for j >= 2 (midpoints).
- The default projection is :func:`generic_direction` (a fixed direction, generic for data not constructed against
  it); pass ``a`` when projections collide. Any direction with distinct projections works ([Z17]).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.linalg import solve_triangular

from dltheory.theory._validate import integer_at_least

__all__ = [
    "MemorisingNetwork",
    "memorising_network",
    "generic_direction",
    "relu_network",
    "interleaved_biases",
    "first_layer_matrix",
    "interpolation_error_bound",
]

U = np.finfo(float).eps / 2
MAX_N = 20_000  # the construction stores an n x n triangular matrix
MAX_ENTRIES = 10**8  # first_layer_matrix's n x m output


class MemorisingNetwork(NamedTuple):
    """c(z) = sum_j w_j max(<a, z> - b_j, 0): projection a (d,), biases b (n,) ascending, output weights w (n,)."""

    a: np.ndarray
    b: np.ndarray
    w: np.ndarray

    @property
    def n_weights(self) -> int:
        """2n + d ([Z17] Thm. 1)."""
        return self.a.size + self.b.size + self.w.size


def _real(name: str, value, ndim: int) -> np.ndarray:
    if value is None or isinstance(value, bool | str | bytes):
        raise TypeError(f"{name} must be a real array, got {value!r}")
    arr = np.asarray(value)
    if arr.dtype.kind not in "iuf":
        raise TypeError(f"{name} must be a real array, got dtype {arr.dtype}")
    if arr.ndim != ndim or 0 in arr.shape:
        raise ValueError(f"{name} must be a non-empty {ndim}-D array, got shape {arr.shape}")
    arr = arr.astype(float)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite")
    return arr


def generic_direction(d) -> np.ndarray:
    """The default projection a_k = cos(k pi phi), k = 1..d (phi the golden ratio), normalised to unit length."""
    d = integer_at_least("d", d, 1)
    if d > MAX_ENTRIES:
        raise ValueError(f"d must be an integer in [1, {MAX_ENTRIES}], got {d}")
    a = np.cos(np.pi * (1 + 5**0.5) / 2 * np.arange(1, d + 1))
    return a / np.linalg.norm(a)


def _direction(a, d: int) -> np.ndarray:
    if a is None:
        return generic_direction(d)
    a = _real("a", a, 1)
    if a.shape != (d,) or not np.any(a):
        raise ValueError(f"a must be a non-zero vector of shape ({d},), got {a!r}")
    return a


def interleaved_biases(x_sorted) -> np.ndarray:
    """Biases b_1 < x_1 < b_2 < ... < b_n < x_n for strictly increasing ``x_sorted`` (module conventions)."""
    x = _real("x_sorted", x_sorted, 1)
    gaps = np.diff(x)
    if np.any(gaps <= 0):
        raise ValueError("x_sorted must be strictly increasing")
    first = gaps[0] if gaps.size else 1.0
    return np.concatenate([[x[0] - first / 2], x[:-1] + gaps / 2])


def first_layer_matrix(x, b) -> np.ndarray:
    """A_ij = max(x_i - b_j, 0): the hidden layer's outputs on the projected points (n, m)."""
    x, b = _real("x", x, 1), _real("b", b, 1)
    if x.size * b.size > MAX_ENTRIES:
        raise ValueError(f"x and b give {x.size} x {b.size} entries, above the cap {MAX_ENTRIES} (x: points, b: units)")
    return np.maximum(x[:, None] - b[None, :], 0.0)


def memorising_network(z, y, a=None) -> MemorisingNetwork:
    """[Z17] Thm. 1: the depth-2 ReLU network with 2n + d weights that interpolates labels ``y`` at points ``z``.

    Projects x = z a, sorts, interleaves the biases and solves the lower-triangular A w = y (sorted order) by forward
    substitution. Raises ValueError when two projections coincide (or are closer than 4 n u max|x|, where the
    triangular system would be singular in floating point): pass another ``a``.
    """
    z = _real("z", z, 2)
    y = _real("y", y, 1)
    n, d = z.shape
    if n > MAX_N:
        raise ValueError(f"z must have at most {MAX_N} points (rows), got {n}")
    if y.shape != (n,):
        raise ValueError(f"y must have shape ({n},) to match z, got {y.shape}")
    a = _direction(a, d)
    x = z @ a
    order = np.argsort(x, kind="stable")
    xs = x[order]
    if n > 1 and np.min(np.diff(xs)) <= 4 * n * U * np.abs(xs).max():
        raise ValueError("the projections <a, z_i> are not distinct (repeated points, or pass another direction a)")
    b = interleaved_biases(xs)
    w = solve_triangular(first_layer_matrix(xs, b), y[order], lower=True, check_finite=False)
    return MemorisingNetwork(a, b, w)


def relu_network(z, a, b, w) -> np.ndarray:
    """c(z) = sum_j w_j max(<a, z> - b_j, 0) at the rows of ``z`` (n_points, d)."""
    z, a, b, w = _real("z", z, 2), _real("a", a, 1), _real("b", b, 1), _real("w", w, 1)
    if a.shape != (z.shape[1],) or b.shape != w.shape:
        raise ValueError(f"need a of shape ({z.shape[1]},) and b, w of one shape; got {a.shape}, {b.shape}, {w.shape}")
    return first_layer_matrix(z @ a, b) @ w


def interpolation_error_bound(z, a, b, w) -> np.ndarray:
    """Round-off bound on |relu_network(z_i) - y_i| for the network built by :func:`memorising_network` (per point).

    Forward substitution is backward stable: (A + dA) w = y with |dA| <= gamma_n |A| (Higham 2002, Thm. 8.5); the
    evaluation's dot products err by gamma_n (|A| |w|)_i; a recomputed projection may differ by 2 gamma_d (|z_i| . |a|),
    moving each ReLU input by as much (ReLU is 1-Lipschitz). Hence |c(z_i) - y_i| <= 2 gamma_(n+2) (|A| |w|)_i
    + 2 gamma_d (|z_i| . |a|) ||w||_1 (first order in u), gamma_k = k u / (1 - k u). Conditioning: the slopes
    s_j = w_1 + ... + w_j of the interpolant obey s_j = 2 (y_j - y_(j-1)) / (x_j - x_(j-1)) - s_(j-1) (midpoint biases),
    so |w_j| <= 2 (|y_1| / (x_1 - b_1) + sum_k 2 |y_k - y_(k-1)| / (x_k - x_(k-1))): close projections inflate w, hence
    (|A| |w|) and the bound, without exponential amplification (the recursion's multiplier is -1).
    """
    z, a, b, w = _real("z", z, 2), _real("a", a, 1), _real("b", b, 1), _real("w", w, 1)
    n, d = b.size, z.shape[1]
    if a.shape != (d,) or w.shape != (n,):
        raise ValueError(f"need a of shape ({d},) and w of shape ({n},); got {a.shape}, {w.shape}")

    def gamma(k: int) -> float:
        return k * U / (1 - k * U)

    A = first_layer_matrix(z @ a, b)
    return 2 * gamma(n + 2) * (A @ np.abs(w)) + 2 * gamma(d) * (np.abs(z) @ np.abs(a)) * np.abs(w).sum()
