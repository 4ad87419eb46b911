"""Infinitely wide and deep NTK classifiers: the depth limit of the critical ReLU NTK and the classifiers it meets.

References
----------
- [RBU23] A. Radhakrishnan, M. Belkin, C. Uhler, "Wide and deep neural networks achieve consistency for
  classification", PNAS 120 (14) e2208779120 (2023), arXiv:2204.14126: as depth -> infinity the NTK classifier
  of an infinitely wide network is 1-nearest neighbour, majority vote or a singular kernel classifier, depending
  on the activation (abstract; the theorem's exact conditions were not accessible here).
- [HDR19] S. Hayou, A. Doucet, J. Rousseau, "On the impact of the activation function on deep neural networks
  training", ICML 2019, arXiv:1902.06853: at the ReLU edge of chaos (sigma_w^2, sigma_b^2) = (2, 0) the layer
  correlation obeys (1 - c^l) l^2 -> 9 pi^2 / 2.

Conventions
-----------
Fully connected ReLU network in the NTK parameterisation, sigma_w^2 = 2, no biases (neither initialised nor
trained), inputs on a sphere: the NNGP diagonal Sigma^l(x, x) is the same at every layer, and the NTK recursion
Theta^{l+1} = Sigma^{l+1} + psi'(rho^l) Theta^l with psi'(rho) = 1 - arccos(rho) / pi ([ADH19] in
dltheory.theory.infinite_width) gives Theta^L(x, x) = (L + 1) Sigma.

Depth limit [D, here]: for x != x', 1 - rho^l = 9 pi^2 / (2 l^2) (1 + o(1)) [HDR19], so arccos(rho^l) = 3 pi / l
and psi'(rho^l) = 1 - 3 / l + o(1/l); hence prod_{k=l}^{L} psi'(rho^k) -> (l / L)^3 and
Theta^L(x, x') / Theta^L(x, x) -> int_0^1 u^3 du = 1/4 for every pair x != x' (the corrections are O(log L / L)).
The Gram matrix tends to (L + 1) Sigma [(3/4) I + (1/4) 1 1^T], whose kernel regression predicts the constant
(1 1^T y) / (n + 3) at every test point: the classifier is the majority vote sign(sum_i y_i), the [RBU23] class
of the ReLU network (not consistent).
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from dltheory.theory._validate import real_array, real_scalar

__all__ = ["relu_ntk_depth_limit", "relu_ntk_depth_limit_expr", "majority_vote", "nearest_neighbour", "CLASSIFIERS"]


def relu_ntk_depth_limit_expr(exponent=3):
    """int_0^1 u^exponent du: the limit of Theta^L(x, x') / Theta^L(x, x) when psi'(rho^l) = 1 - exponent / l
    (module docstring; exponent 3 for the critical ReLU)."""
    e = sp.nsimplify(real_scalar("exponent", exponent, lower=-1.0, strict=True, upper=1e6))  # converges iff e > -1
    u = sp.Symbol("u", positive=True)
    return sp.Integral(u**e, (u, 0, 1))


def relu_ntk_depth_limit() -> float:
    """lim_{L -> inf} Theta^L(x, x') / Theta^L(x, x) = 1/4 for the critical ReLU NTK, any x != x' on the sphere."""
    return float(relu_ntk_depth_limit_expr().doit())


def _labels(y_train) -> np.ndarray:
    y = real_array("y_train", y_train, ndim=1)
    if not np.all(np.abs(y) == 1):
        raise ValueError("y_train must hold labels +1 / -1")
    return y


def majority_vote(x_test, x_train, y_train) -> np.ndarray:
    """sign(sum_i y_i) at every test point (labels +-1; a tie, sum_i y_i = 0, is refused: no majority)."""
    x_test = real_array("x_test", x_test, ndim=2)
    y = _labels(y_train)
    real_array("x_train", x_train, shape=(y.size, x_test.shape[1]))
    if y.sum() == 0:
        raise ValueError("y_train has as many +1 as -1 labels: the majority vote is undefined")
    return np.full(x_test.shape[0], np.sign(y.sum()))


def nearest_neighbour(x_test, x_train, y_train) -> np.ndarray:
    """The label of the nearest training point (Euclidean; the first one on a tie)."""
    x_test = real_array("x_test", x_test, ndim=2)
    y = _labels(y_train)
    x_train = real_array("x_train", x_train, shape=(y.size, x_test.shape[1]))
    d2 = (x_test**2).sum(1)[:, None] - 2 * x_test @ x_train.T + (x_train**2).sum(1)[None, :]
    return y[np.argmin(d2, axis=1)]


CLASSIFIERS = {"majority_vote": majority_vote, "nearest_neighbour": nearest_neighbour}
