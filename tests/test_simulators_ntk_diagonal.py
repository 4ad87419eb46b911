"""Unit tests of dltheory.simulators.ntk_diagonal: the O(L) sampler against explicit-in-law networks, exact moments,
seeds, bad input."""

import math

import numpy as np
import pytest
from scipy import stats

from dltheory.simulators import mlp
from dltheory.simulators.ntk_diagonal import relu_ntk_diagonal

ALPHA = 1e-3


def test_matches_kernel_sample_in_law():
    """Two-sample KS against dltheory.simulators.mlp.kernel_sample (tested against explicit weights), width 6 so
    that dead networks (Theta = 0, probability ~ 3 / 64) are part of the comparison."""
    net = mlp.MLP(d=4, width=6, depth=3, activation="relu", weight_var=2.0, bias_var=0.0)
    ref = mlp.kernel_sample(net, np.ones((1, 4)), 20000, seed=11).ntk[:, 0, 0]
    ours = relu_ntk_diagonal([6, 6, 6], 20000, seed=12).sum(1)
    assert stats.ks_2samp(ref, ours).pvalue > ALPHA
    assert stats.fisher_exact([[(ref == 0).sum(), 20000], [(ours == 0).sum(), 20000]])[1] > ALPHA


def test_forward_term_moments_are_exact():
    """The readout term (2/n_L)|a^(L)|^2 = 2 C0 prod X_i: mean 2 C0, E T^2 / (2 C0)^2 = prod (1 + 5/n_i) (Hanin & Nica,
    arXiv:1812.05994); z-tests at 4.4 SE (alpha ~ 1e-5 each)."""
    w = [5, 8, 3]
    T = relu_ntk_diagonal(w, 200000, seed=3, C0=0.5)[:, -1]
    assert abs(T.mean() - 1.0) < 4.4 * T.std() / math.sqrt(T.size)
    m2 = T**2
    assert abs(m2.mean() - np.prod(1 + 5 / np.array(w))) < 4.4 * m2.std() / math.sqrt(T.size)


def test_every_term_has_mean_two_C0():
    T = relu_ntk_diagonal([4, 7], 200000, seed=5)
    se = T.std(axis=0) / math.sqrt(T.shape[0])
    assert np.all(np.abs(T.mean(axis=0) - 2.0) < 4.4 * se)


def test_seed_reproducible_and_shape():
    a, b = relu_ntk_diagonal([3, 3], 10, seed=7), relu_ntk_diagonal([3, 3], 10, seed=np.random.SeedSequence(7))
    assert a.shape == (10, 3) and np.array_equal(a, b)
    assert np.all(a >= 0)


@pytest.mark.parametrize(
    "kwargs, exc",
    [
        (dict(widths=[], n_nets=4, seed=0), ValueError),
        (dict(widths=[0], n_nets=4, seed=0), ValueError),
        (dict(widths=[2.0], n_nets=4, seed=0), ValueError),
        (dict(widths="8", n_nets=4, seed=0), TypeError),
        (dict(widths=[4], n_nets=0, seed=0), ValueError),
        (dict(widths=[4], n_nets=True, seed=0), ValueError),
        (dict(widths=[4], n_nets=4, seed=None), TypeError),
        (dict(widths=[4], n_nets=4, seed=0, C0=0.0), ValueError),
        (dict(widths=[4], n_nets=4, seed=0, C0=math.inf), ValueError),
        (dict(widths=[4], n_nets=4, seed=0, C0="1"), TypeError),
    ],
)
def test_bad_input_raises(kwargs, exc):
    with pytest.raises(exc):
        relu_ntk_diagonal(**kwargs)
