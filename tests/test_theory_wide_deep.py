"""theory.wide_deep: the critical ReLU NTK's depth limit, the limit classifiers, and the claim's formulas; and the
log-corrected Richardson limit of verify.stats used by ntk.wide_deep_classifiers."""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from dltheory.theory import infinite_width as iw
from dltheory.theory import wide_deep as wd
from dltheory.verify import stats
from dltheory.verify.claims import ntk as claims


def test_depth_limit_is_the_integral_of_u_cubed_and_the_formula_shows_it():
    assert wd.relu_ntk_depth_limit() == 0.25
    assert wd.relu_ntk_depth_limit_expr(2).doit() == sp.Rational(1, 3)
    formulas = claims._wide_deep_formulas({})
    assert float(formulas["published"][0].rhs.doit()) == wd.relu_ntk_depth_limit()


def test_relu_ntk_diagonal_is_L_plus_1_and_off_diagonal_approaches_the_limit():
    """Module conventions: Theta^L(x, x) = (L + 1) Sigma on the sphere; off the diagonal the ratio falls towards 1/4
    with an O(log L / L) correction."""
    g = np.random.default_rng(0)
    x = g.standard_normal((3, 3))
    x = np.sqrt(3) * x / np.linalg.norm(x, axis=1, keepdims=True)
    kw = dict(activation="relu", weight_var=2.0, bias_var=0.0, train_bias=False)
    gaps = []
    for L in (100, 400):
        K = iw.kernels(x, depth=L, **kw).ntk
        np.testing.assert_allclose(np.diag(K), 2.0 * (L + 1), rtol=1e-12)
        gaps.append(np.max(K[~np.eye(3, dtype=bool)] / K[0, 0] - 0.25))
    assert 0 < gaps[1] < gaps[0] / 2


def test_classifiers():
    X = np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    y = np.array([1.0, 1.0, -1.0])
    T = np.array([[-0.9, 0.1], [0.1, 0.8]])
    np.testing.assert_array_equal(wd.majority_vote(T, X, y), [1.0, 1.0])
    np.testing.assert_array_equal(wd.nearest_neighbour(T, X, y), [-1.0, 1.0])
    assert set(wd.CLASSIFIERS) == {"majority_vote", "nearest_neighbour"}
    with pytest.raises(ValueError, match="majority"):
        wd.majority_vote(T, X[:2], np.array([1.0, -1.0]))
    with pytest.raises(ValueError, match="y_train"):
        wd.nearest_neighbour(T, X, np.array([1.0, 0.5, -1.0]))
    with pytest.raises(ValueError, match="x_train"):
        wd.nearest_neighbour(T, X[:, :1], y)


def test_log_richardson_limit_recovers_an_exact_model_and_rejects_a_shifted_limit():
    L = np.array([125.0, 250, 500, 1000, 2000])
    v = 0.25 + (0.7 + 0.4 * np.log(L)) / L + (np.log(L) / L) ** 2
    ok = stats.log_richardson_limit_matches("t", L, v[:, None], 0.25, atol=1e-12, atol_reason="exact")
    assert ok.passed
    bad = stats.log_richardson_limit_matches("t", L, v[:, None], 0.2501, atol=1e-12, atol_reason="exact")
    assert not bad.passed
    with pytest.raises(ValueError, match="one ratio"):
        stats.log_richardson_limit_matches("t", L[[0, 1, 2, 4]], v[[0, 1, 2, 4]], 0.25, atol=1e-12, atol_reason="")
