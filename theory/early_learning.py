"""Early learning, then memorisation, in high-dimensional logistic regression with flipped labels.

Reference
---------
[LNRF20] S. Liu, J. Niles-Weed, N. Razavian, C. Fernandez-Granda, "Early-Learning Regularization Prevents
Memorization of Noisy Labels", NeurIPS 2020, arXiv:2007.00151, Section 3 (Theorem 1): a linear classifier trained
by gradient descent from 0 on a two-Gaussian mixture with a fraction Delta of flipped labels first predicts the
TRUE labels of the mislabelled examples (early learning: the gradient is dominated by the clean majority), then
fits their wrong labels (memorisation).

The theorem's statement could not be retrieved here (only the abstract and introduction); the quantities below are
derived for the same model and say in which regime each phase occurs:

Model: x_i = y*_i v + sigma z_i in R^p, ||v|| = 1, z_i ~ N(0, I_p), y*_i = +-1; exactly k = round(Delta n) of the n
labels are flipped (y~_i = -y*_i). Loss (1/n) sum_i log(1 + exp(-y~_i theta^T x_i)), GD theta_{t+1} = theta_t - eta
grad, theta_0 = 0. The first step is theta_1 = (eta / 2n) sum_i y~_i x_i whatever eta, so early learning is read
off the first step; memorisation (every training label fitted, hence every mislabelled example predicted with its
wrong label) is reached as t -> infinity whenever the data are linearly separable, which holds for any labels when
p >= n (X has full row rank).
"""

from __future__ import annotations

import numpy as np
from scipy.stats import chi2, norm

from dltheory.theory._validate import MAX_WIDTH, integer_at_least, positive, probability

__all__ = ["first_step_flipped_accuracy", "early_learning_condition", "memorization_guaranteed"]

_NODES = 60  # Gauss-Hermite nodes for xi
_CHI2_NODES = 200  # Gauss-Legendre nodes for chi^2_{p-1} over mean +- 12 sd (clipped at 0), weighted by its pdf


def _model(n, p, sigma, Delta) -> tuple[int, int, float, float]:
    n = integer_at_least("n", n, 2, upper=MAX_WIDTH)
    p = integer_at_least("p", p, 2, upper=MAX_WIDTH)
    sigma = positive("sigma", sigma, upper=1e100)  # sigma^2 ||z||^2 stays finite in float64
    Delta = probability("Delta", Delta, open_lower=True)
    if Delta >= 0.5:
        raise ValueError(f"Delta must lie in (0, 1/2) (a minority of flipped labels), got {Delta}")
    if not 1 <= round(Delta * n) < n / 2:
        raise ValueError(f"Delta * n must round to >= 1 and < n/2 flipped labels, got Delta={Delta}, n={n}")
    return n, p, sigma, Delta


def first_step_flipped_accuracy(n: int, p: int, sigma: float, Delta: float) -> float:
    """Expected fraction of the mislabelled training points whose TRUE label the classifier predicts after the first
    GD step (the early-learning accuracy), exact for the model of the module docstring.

    For a mislabelled x_j, n y*_j theta_1^T x_j / (eta/2) = S a + sigma ||x_j|| sqrt(n - 1) Z - ||x_j||^2 with
    S = (n - 1) - 2 (k - 1) (the other labels' net agreement), a = y*_j v^T x_j = 1 + sigma xi,
    ||x_j||^2 = a^2 + sigma^2 chi^2_{p-1} and xi, Z ~ N(0, 1) independent (given x_j, each other point adds an
    independent Gaussian). The last term is the point's own, wrongly labelled, contribution (the seed of
    memorisation). Hence accuracy = E Phi((S a - ||x_j||^2) / (sigma ||x_j|| sqrt(n - 1))) over xi and chi^2, by
    quadrature (60 Gauss-Hermite x 200 Gauss-Legendre nodes; error < 1e-6 at the claims' parameters)."""
    n, p, sigma, Delta = _model(n, p, sigma, Delta)
    k = round(Delta * n)
    S = (n - 1) - 2 * (k - 1)
    xi, wx = np.polynomial.hermite_e.hermegauss(_NODES)
    wx = wx / wx.sum()
    lo, hi = max(0.0, p - 1 - 12 * np.sqrt(2 * (p - 1))), p - 1 + 12 * np.sqrt(2 * (p - 1)) + 20
    g, wg = np.polynomial.legendre.leggauss(_CHI2_NODES)
    c = lo + (hi - lo) * (g + 1) / 2
    wc = wg * (hi - lo) / 2 * chi2.pdf(c, p - 1)
    wc = wc / wc.sum()
    a = 1 + sigma * xi[:, None]
    norm2 = a**2 + sigma**2 * c[None, :]
    acc = norm.cdf((S * a - norm2) / (sigma * np.sqrt(norm2 * (n - 1))))
    return float(wx @ acc @ wc)


def early_learning_condition(n: int, p: int, sigma: float, Delta: float) -> bool:
    """Leading-order condition for early learning (first-step accuracy on the mislabelled points above 1/2): the clean
    majority's pull n (1 - 2 Delta) exceeds a mislabelled point's own weight ||x_j||^2 ~ 1 + sigma^2 p, i.e.
    sigma^2 p < n (1 - 2 Delta) (from first_step_flipped_accuracy at xi = 0, chi^2 = p)."""
    n, p, sigma, Delta = _model(n, p, sigma, Delta)
    return bool(sigma**2 * p < n * (1 - 2 * Delta))


def memorization_guaranteed(n: int, p: int) -> bool:
    """p >= n: n Gaussian points in R^p are linearly separable under any labels (X has full row rank a.s.), so GD on
    the logistic loss eventually fits every noisy label (the memorisation phase of [LNRF20] Theorem 1)."""
    n = integer_at_least("n", n, 2, upper=MAX_WIDTH)
    p = integer_at_least("p", p, 2, upper=MAX_WIDTH)
    return p >= n
