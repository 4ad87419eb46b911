"""Unit tests of dltheory.simulators.scale_mixture: the conditional law, the prior, seeds, bad input."""

import math

import numpy as np
import pytest
from scipy import stats

from dltheory.simulators import abc_mlp
from dltheory.simulators.scale_mixture import scale_mixture_outputs

ALPHA = 1e-3
X = np.array([[1.0, 0.0, 0.0], [0.0, 0.6, 0.8]])
KW = dict(activation="relu", C_W=2.0, C_b=0.1, a=2.0, b=1.5)


def test_prior_and_conditional_gaussian_readout():
    """sigma^2 ~ InvGamma(a, b); f | network ~ N(0, sigma^2 K_hat): whitened outputs are N(0, I) (KS per coordinate,
    Bonferroni over 3 tests)."""
    r = scale_mixture_outputs(X, [32, 32], n_nets=20000, seed=1, **KW)  # K_hat positive definite a.s. here
    assert stats.kstest(r.sigma2, stats.invgamma(2.0, scale=1.5).cdf).pvalue > ALPHA / 3
    L = np.linalg.cholesky(r.K_hat)
    u = np.linalg.solve(L, r.f[..., None])[..., 0] / np.sqrt(r.sigma2)[:, None]
    for i in range(2):
        assert stats.kstest(u[:, i], "norm").pvalue > ALPHA / 3


def test_hidden_gram_matches_forward_gram_in_law():
    """K_hat is the readout's conditional covariance / C_W minus C_b / C_W: same law as forward_gram's (KS)."""
    r = scale_mixture_outputs(X, [6], n_nets=8000, seed=2, **KW)
    G = abc_mlp.forward_gram(X, [6, 1], activation="relu", C_W=2.0, C_b=0.1, n_nets=8000, seed=3).G[:, -1]
    assert stats.ks_2samp(r.K_hat[:, 0, 1], (G[:, 0, 1] - 0.1) / 2.0).pvalue > ALPHA


def test_shapes_and_seed():
    r1 = scale_mixture_outputs(X, [4], n_nets=5, seed=7, **KW)
    r2 = scale_mixture_outputs(X, [4], n_nets=5, seed=np.random.SeedSequence(7), **KW)
    assert r1.f.shape == (5, 2) and r1.K_hat.shape == (5, 2, 2) and r1.sigma2.shape == (5,)
    assert np.array_equal(r1.f, r2.f)


@pytest.mark.parametrize(
    "change, exc",
    [
        (dict(a=0.0), ValueError),
        (dict(b=-1.0), ValueError),
        (dict(a=math.nan), ValueError),
        (dict(b=True), TypeError),
        (dict(seed=None), TypeError),
        (dict(widths="8"), TypeError),
        (dict(widths=[0]), ValueError),
        (dict(n_nets=1), ValueError),
        (dict(C_W=0.0), ValueError),
    ],
)
def test_bad_input_raises(change, exc):
    kw = dict(x=X, widths=[4], n_nets=5, seed=0, **KW) | change
    with pytest.raises(exc):
        scale_mixture_outputs(**kw)
