"""Weight decay and collapse in a bias-free one-hidden-layer ReLU MLP trained with MSE on orthonormal inputs.

The MLP is f(x) = W relu(A x), A: m x D, W: K x m, no biases, trained on N inputs with orthonormal rows (X X^T = I_N,
D >= N) and one-hot targets under
    L(A, W) = 1/(2N) ||relu(X A^T) W^T - Y||_F^2 + (lambda/2) (||A||_F^2 + ||W||_F^2).
Reduction to the unconstrained-features model (UFM) [derived here]: write A = Z^T X + A_perp with Z = X A^T (N x m)
and A_perp X^T = 0; then ||A||^2 = ||Z||^2 + ||A_perp||^2 and the loss does not see A_perp, so A_perp = 0 at any
minimiser (and GD shrinks it by (1 - lr lambda) per step: GD on A *is* GD on Z, because X X^T = I). Features are
H = relu(Z); for given H >= 0 the cheapest Z is H itself (a negative pre-activation only adds penalty), so the
problem is the MSE UFM with lambda_W = lambda_H = lambda and the extra constraint H >= 0. The bias-free MSE UFM's
global minimisers form an orthogonal frame (Zhou et al. 2022, arXiv:2203.01238; Tirer & Bruna 2022,
arXiv:2202.08087; imbalanced classes: Dang et al. 2023, arXiv:2301.00437, depth 1), which can be rotated into the
nonnegative orthant (class k's mean along its own coordinate). The constraint therefore costs nothing: the
minimisers of L are the UFM's, with class-k singular value s_k^2 = (sqrt(n_k lambda_H/lambda_W) - N lambda_H)_+ =
(sqrt(n_k) - N lambda)_+ and collapse of class k to zero iff n_k <= N^2 lambda^2, i.e. lambda >= sqrt(n_k)/N
(``dltheory.theory.neural_collapse.deep_ufm_collapse_lambda`` at depth 1). At lambda = 0 the minimisers are the
interpolating networks, with no force on the within-class deviations off the row space of W: no collapse.
"""

from __future__ import annotations

import numpy as np

from dltheory.theory._validate import MAX_WIDTH, overflow_guard, positive
from dltheory.theory.neural_collapse import _counts, deep_ufm_singular_value

__all__ = ["relu_mlp_collapse_norms"]


@overflow_guard
def relu_mlp_collapse_norms(n_per_class, lambda_W: float, lambda_A: float) -> tuple[np.ndarray, np.ndarray]:
    """(||w_k||^2, ||mu_k||^2) per class at the global minimum of the module's MLP, with weight decay lambda_W on
    the last layer W and lambda_A on the first layer A (the module's objective has lambda_W = lambda_A = lambda).

    w_k: row k of W; mu_k: the mean post-ReLU feature of class k (every feature of class k equals it: NC1 = 0).
    By the reduction in the module docstring this is the depth-1 bias-free MSE UFM with lambda_H = lambda_A, whose
    optimum is W = diag(s_k), mu_k = s_k/(s_k^2 + N lambda_H) e_k up to a rotation [ZLD22, TB22; DTO23 imbalanced]:
    ||w_k||^2 = s_k^2 = (sqrt(n_k lambda_A/lambda_W) - N lambda_A)_+ and ||mu_k||^2 = s_k^2/(s_k^2 + N lambda_A)^2;
    with lambda_W = lambda_A = lambda, s_k^2 = (sqrt(n_k) - N lambda)_+ and ||mu_k||^2 = s_k^2/n_k. Penalty
    convention: (lambda/2) ||theta||^2, the loss a mean over the N samples (1/(2N) sum of squared errors). Both
    decays must be > 0 (at 0 every interpolating network is a minimiser: not unique).
    """
    n = _counts(n_per_class)
    if n.sum() > MAX_WIDTH:
        raise ValueError(f"n_per_class must hold <= {MAX_WIDTH} samples in all, got {n.sum()}")
    lW, lA = positive("lambda_W", lambda_W), positive("lambda_A", lambda_A)
    N = int(n.sum())
    s = np.array([deep_ufm_singular_value(int(nk), N, lW, lA, 1) for nk in n])
    return s**2, s**2 / (s**2 + N * lA) ** 2
