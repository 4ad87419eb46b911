"""Scale mixtures of the NNGP: an inverse-gamma prior on the last layer's variance gives a Student-t process.

Reference
---------
[LYYL22] H. Lee, E. Yun, H. Yang, J. Lee, "Scale mixtures of neural network Gaussian processes", ICLR 2022,
arXiv:2107.01408, sec. 3 [K for the section number]: if the readout weights are N(0, sigma^2 / n) given sigma^2 ~
InvGamma(a, b) (density propto sigma^{-2(a+1)} e^{-b/sigma^2}), the infinite-width outputs on inputs x_1..x_k are
multivariate Student-t with nu = 2a degrees of freedom and scale matrix (b/a) K, K the NNGP kernel of the network
with unit readout variance: f | sigma^2 ~ N(0, sigma^2 K) and the inverse-gamma scale mixture of N(0, sigma^2 K) is
t_{2a}(0, (b/a) K) (the standard normal / inverse-gamma mixture). Consequences used by the claim: each standardised
coordinate f_i / sqrt((b/a) K_ii) ~ t_{2a}, and f^T ((b/a) K)^{-1} f / k ~ F(k, 2a).
"""

from __future__ import annotations

import numpy as np

from dltheory.theory._validate import positive, psd_matrix

__all__ = ["student_t_process"]


def student_t_process(a: float, b: float, K) -> tuple[float, np.ndarray]:
    """(nu, Sigma) = (2a, (b/a) K) of the Student-t process limit [LYYL22] for sigma^2 ~ InvGamma(a, b) and the
    unit-readout-variance NNGP kernel ``K`` (k x k, symmetric positive semi-definite)."""
    a, b = positive("a", a), positive("b", b)
    K = psd_matrix("K", K)
    return 2.0 * a, (b / a) * K
