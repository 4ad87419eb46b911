"""Unit tests of dltheory.theory.scale_mixture: the parameters, the scale-mixture identity, bad input."""

import numpy as np
import pytest
from scipy import integrate, stats

from dltheory.theory.scale_mixture import student_t_process

K = np.array([[2.0, 0.5], [0.5, 1.0]])


def test_parameters():
    nu, Sigma = student_t_process(3.0, 1.5, K)
    assert nu == 6.0
    np.testing.assert_allclose(Sigma, 0.5 * K, rtol=1e-15)


@pytest.mark.parametrize("a, b, t", [(2.0, 1.5, 0.7), (0.75, 3.0, -2.0), (5.0, 0.2, 1.3)])
def test_inverse_gamma_mixture_of_gaussians_is_the_t_law(a, b, t):
    """P(sqrt(sigma^2 K) xi <= t sqrt(Sigma)) integrated over sigma^2 ~ InvGamma(a, b) equals the t_nu CDF at t
    (quadrature to 1e-9)."""
    nu, Sigma = student_t_process(a, b, np.array([[K[0, 0]]]))
    prior = stats.invgamma(a, scale=b)

    def integrand(s2):
        return stats.norm.cdf(t * np.sqrt(Sigma[0, 0] / (s2 * K[0, 0]))) * prior.pdf(s2)

    mixed = integrate.quad(integrand, 0, np.inf, epsabs=1e-12, epsrel=1e-11, limit=200)[0]
    assert mixed == pytest.approx(stats.t.cdf(t, nu), abs=1e-9)


@pytest.mark.parametrize(
    "a, b, K_",
    [
        (0.0, 1.0, K),
        (-1.0, 1.0, K),
        (1.0, np.nan, K),
        (True, 1.0, K),
        (None, 1.0, K),
        (1.0, "2", K),
        (1.0, 1.0, np.array([[1.0, 2.0], [2.0, 1.0]])),  # not PSD
        (1.0, 1.0, np.array([[1.0, 0.2], [0.3, 1.0]])),  # not symmetric
        (1.0, 1.0, np.ones(3)),
        (1.0, 1.0, np.array([[np.inf]])),
    ],
)
def test_bad_input_raises(a, b, K_):
    with pytest.raises(ValueError):
        student_t_process(a, b, K_)
