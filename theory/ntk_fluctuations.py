"""Depth-to-width fluctuations of the on-diagonal NTK of a ReLU MLP at initialisation.

Reference
---------
[HN19b] B. Hanin, M. Nica, "Finite depth and width corrections to the neural tangent kernel", ICLR 2020,
arXiv:1909.05989, Thm 1: for a ReLU net with He initialisation, E[Theta(x,x)^2] / E[Theta(x,x)]^2 ~= exp(5 beta)
(1 + O(sum_i 1/n_i^2)), beta = sum_i 1/n_i over the hidden widths, where ~= means "bounded above and below by
constants": the exponent 5 is the paper's, the prefactor is not stated. The sharp form below is derived here
from the same per-layer moments.

Conventions: NTK parameterisation, C_W = 2, no biases, hidden widths n_1..n_L, scalar output; Theta is the sum
over the L+1 weight matrices of Theta_j = (2/n_{j-1}) |a^(j-1)|^2 |delta^(j)|^2 (dltheory.simulators.ntk_diagonal).

Derivation [D]. Theta_j = 2 C0 prod_{i<j} X_i prod_{i>=j} Y_i, where the forward factor X_i = (2/n_i) chi^2_{k_i}
and the backward factor Y_i = (2/n_i) (s_{i+1}^2 + chi^2_{k_i - 1}) of hidden layer i share its number of active
units k_i ~ Bin(n_i, 1/2) (s: the overlap of the next layer's preactivation direction with the backward vector,
s^2 ~ chi^2_1; see dltheory.simulators.ntk_diagonal). E X = E Y = 1, E X^2 = 1 + 5/n_i exactly ([HN19b]'s 5;
[HN] arXiv:1812.05994), E Y^2 = 1 + 5/n_i + O(1/n_i^2) and E X Y = (4/n_i^2) E k_i^2 + O(1/n_i^2) = 1 + 1/n_i +
O(1/n_i^2). Hence, to first order in 1/n at fixed depth,
E Theta_{j1} Theta_{j2} / (2 C0)^2 = prod_{i outside [j1, j2)} (1 + 5/n_i) prod_{i in [j1, j2)} (1 + 1/n_i), and for
equal widths n Var Theta / (E Theta)^2 -> 5 L - 4 L (L + 2) / (3 (L + 1)) (= 3 at L = 1, ~ (11/3) L deep): the
NTK's relative variance is (11/3) beta at small beta, not the 5 beta of exp(5 beta) read as an equality, because
the cross terms Theta_{j1} Theta_{j2} pair forward with backward factors (E X Y = 1 + 1/n) over the layers between.
Beyond first order the overlap s carries forward-backward correlations across layers (a relative O((|j1 - j2|/n)^2)
excess of the cross terms, measured ~ 3.7 (|j1 - j2|/n)^2 at n = 40): the product form is not claimed there.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from dltheory.theory._validate import MAX_DEPTH, integer_at_least, real_scalar

__all__ = ["relu_ntk_ratio", "relu_ntk_variance_coefficient"]

MAX_LAYERS = 10_000  # relu_ntk_ratio allocates (L+1)^2 floats


def _constants(c_same, c_cross) -> tuple[float, float]:
    """Per-layer moment constants: O(1) numbers (ReLU: 5 and 1), capped at 100 so that exp never overflows."""
    return (
        real_scalar("c_same", c_same, lower=0.0, upper=100.0),
        real_scalar("c_cross", c_cross, lower=0.0, upper=100.0),
    )


def relu_ntk_ratio(widths: Sequence[int], *, c_same: float = 5.0, c_cross: float = 1.0) -> float:
    """E Theta^2 / (E Theta)^2 at hidden widths ``widths``, correct to first order in 1/n (module docstring):
    (1/(L+1)^2) sum_{j1, j2 = 1}^{L+1} prod_{i outside [j1, j2)} (1 + c_same/n_i) prod_{i in [j1, j2)} (1 + c_cross/n_i),
    with the per-layer moments E X^2 = 1 + c_same/n (5 for ReLU, [HN19b]) and E X Y = 1 + c_cross/n (1)."""
    if isinstance(widths, str | bytes) or not hasattr(widths, "__iter__"):
        raise TypeError(f"widths must be a sequence of integers >= 1, got {widths!r}")
    n = np.array([integer_at_least(f"widths[{i}]", w, 1) for i, w in enumerate(widths)], float)
    if not 1 <= n.size <= MAX_LAYERS:
        raise ValueError(f"widths must hold 1 to {MAX_LAYERS} hidden widths (the sum has (L+1)^2 terms), got {n.size}")
    c_same, c_cross = _constants(c_same, c_cross)
    log_same, log_cross = np.r_[0.0, np.cumsum(np.log1p(c_same / n))], np.r_[0.0, np.cumsum(np.log1p(c_cross / n))]
    j = np.arange(n.size + 1)  # term j + 1 uses forward layers < j + 1 and backward layers >= j + 1
    lo, hi = np.minimum.outer(j, j), np.maximum.outer(j, j)
    between_same = log_same[hi] - log_same[lo]
    log_term = log_same[-1] - between_same + (log_cross[hi] - log_cross[lo])
    return float(np.exp(log_term).mean())


def relu_ntk_variance_coefficient(depth: int, *, c_same: float = 5.0, c_cross: float = 1.0) -> float:
    """lim_{n -> inf} n Var Theta / (E Theta)^2 for L = ``depth`` hidden layers of equal width n (module docstring):
    the first-order coefficient of :func:`relu_ntk_ratio`, c_same L - (c_same - c_cross) L (L + 2) / (3 (L + 1))
    (mean |j1 - j2| over the (L+1)^2 pairs of terms is L (L + 2) / (3 (L + 1))). ReLU: 5 L - 4 L (L + 2)/(3 (L + 1))."""
    L = integer_at_least("depth", depth, 1, upper=MAX_DEPTH)
    c_same, c_cross = _constants(c_same, c_cross)
    return c_same * L - (c_same - c_cross) * L * (L + 2) / (3 * (L + 1))
