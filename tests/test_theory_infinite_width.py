"""Exact unit tests for dltheory.theory.infinite_width and dltheory.theory.kernel_dynamics (golden values: references/ntk.md sec. 2)."""

import numpy as np
import pytest
import scipy.linalg as sl
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import integrate, special

from dltheory.theory import infinite_width as iw
from dltheory.theory import kernel_dynamics as kd
from dltheory.theory import spec

X = np.array([[1.0, 0, 0], [0.6, 0.8, 0], [0, 0, 1], [-1, 0.5, 0.5]])
IU = np.triu_indices(4)
NET = dict(depth=2, weight_var=2.0, bias_var=0.01)

# neural-tangents 0.6.5 (jax 0.5.3, x64): serial(Dense(sqrt2, 0.1), phi, Dense(sqrt2, 0.1), phi, Dense(sqrt2, 0.1))
GOLDEN = {
    "relu": (
        [
            0.696666666667,
            0.518093641235,
            0.356204169329,
            0.293299421342,
            0.696666666667,
            0.356204169329,
            0.392391937473,
            0.696666666667,
            0.553147818235,
            1.03,
        ],
        [
            2.06,
            1.082017992496,
            0.499581388517,
            0.240447947167,
            2.06,
            0.499581388517,
            0.484787066073,
            2.06,
            1.025905439386,
            3.06,
        ],
        [4.681666666667, 4.681666666667, 4.681666666667, 5.515],
    ),
    "erf": (
        [
            0.849237519837,
            0.477539297848,
            0.030549612415,
            -0.617876880919,
            0.849237519837,
            0.030549612415,
            -0.090870961160,
            0.849237519837,
            0.332302033156,
            0.916756833376,
        ],
        [
            2.953008209415,
            1.467782938986,
            0.061782084549,
            -2.065767859793,
            2.953008209415,
            0.061782084549,
            -0.302714680706,
            2.953008209415,
            0.988831997276,
            3.351480478982,
        ],
        [6.457590170636, 6.457590170636, 6.457590170636, 6.468684510575],
    ),
}


@pytest.mark.parametrize("act", ["relu", "erf"])
def test_golden_values_neural_tangents(act):
    nngp, ntk, sp_diag = GOLDEN[act]
    k = iw.kernels(X, activation=act, **NET)
    np.testing.assert_allclose(k.nngp[IU], nngp, rtol=0, atol=1e-10)  # golden values carry 12 decimals
    np.testing.assert_allclose(k.ntk[IU], ntk, rtol=0, atol=1e-10)
    s = iw.kernels(X, activation=act, parameterization="standard", **NET)
    np.testing.assert_allclose(s.nngp, k.nngp, rtol=0, atol=1e-14)
    np.testing.assert_allclose(np.diag(s.ntk), sp_diag, rtol=0, atol=1e-10)


@pytest.mark.parametrize("activation", ["relu", "erf", "abs", spec.leaky_relu(0.2), spec.ab_relu(-0.3, 1.7)])
def test_kink_split_quadrature_matches_closed_forms(activation):
    act = spec.get_activation(activation)
    k = iw.kernels(X, activation=act, **NET)
    q = iw.kernels(X, activation=iw.numerical(act.jax_phi), **NET)
    np.testing.assert_allclose(q.nngp, k.nngp, rtol=0, atol=1e-12)
    np.testing.assert_allclose(q.ntk, k.ntk, rtol=0, atol=1e-12)


_NP = {
    "tanh": np.tanh,
    "gelu": lambda x: 0.5 * x * (1 + special.erf(x / np.sqrt(2))),
    "selu": lambda x: spec.SELU_LAMBDA * np.where(x > 0, x, spec.SELU_ALPHA * np.expm1(np.minimum(x, 0))),
    "softplus": lambda x: np.logaddexp(0, x),
}


def _mean_1d(f, var):
    s = np.sqrt(var)
    g = lambda z: f(s * z) * np.exp(-z * z / 2) / np.sqrt(2 * np.pi)  # noqa: E731
    return sum(integrate.quad(g, a, b, epsabs=1e-14, epsrel=1e-13)[0] for a, b in ((-13, 0), (0, 13)))


@pytest.mark.parametrize("name", sorted(_NP))
def test_quadrature_against_1d_integrals(name):
    f = _NP[name]
    # rho = 1: E[phi(u)^2]; rho = 0: E[phi(u)] E[phi(v)] -- both reduce to 1-D adaptive integrals
    T1, _ = iw.gaussian_expectations(1.7, 1.7, 1.7, name)
    assert T1 == pytest.approx(_mean_1d(lambda x: f(x) ** 2, 1.7), abs=1e-12)
    T0, _ = iw.gaussian_expectations(0.4, 2.5, 0.0, name)
    assert T0 == pytest.approx(_mean_1d(f, 0.4) * _mean_1d(f, 2.5), abs=1e-12)


def test_selu_fixed_point_and_leaky_identity():
    # SELU's (lambda01, alpha01) make E[selu(Z)] = 0 and E[selu(Z)^2] = 1 (Klambauer et al. 2017)
    assert iw.gaussian_expectations(1.0, 1.0, 0.0, "selu")[0] == pytest.approx(0.0, abs=1e-12)
    assert iw.gaussian_expectations(1.0, 1.0, 1.0, "selu")[0] == pytest.approx(1.0, abs=1e-12)
    # relu(x) + relu(-x) = |x| on the diagonal: E|u|^2 = K
    assert iw.gaussian_expectations(2.0, 2.0, 2.0, "abs")[0] == pytest.approx(2.0, abs=1e-14)


def test_relu_cho_saul_normalisation():
    # T is HALF of Cho & Saul's k_1 = (1/pi)|x||y| J_1(theta) (references/ntk.md sec. 3.2)
    k11, k22, k12 = 2.0, 0.5, 0.3
    th = np.arccos(k12 / np.sqrt(k11 * k22))
    T, Td = iw.gaussian_expectations(k11, k22, k12, "relu")
    assert T == pytest.approx(np.sqrt(k11 * k22) / np.pi * (np.sin(th) + (np.pi - th) * np.cos(th)) / 2, rel=1e-14)
    assert Td == pytest.approx((np.pi - th) / (2 * np.pi), rel=1e-14)


@settings(max_examples=20)
@given(
    st.integers(0, 4),
    st.sampled_from(["relu", "erf"]),
    st.floats(0.5, 3.0),
    st.floats(0.0, 1.0),
    st.integers(0, 10_000),
)
def test_kernels_symmetric_psd_and_blockwise(depth, act, wv, bv, seed):
    x = np.random.default_rng(seed).standard_normal((6, 4))
    k = iw.kernels(x, depth=depth, activation=act, weight_var=wv, bias_var=bv)
    for K in (k.nngp, k.ntk):
        np.testing.assert_allclose(K, K.T, rtol=0, atol=1e-13)
        assert np.linalg.eigvalsh(K).min() > -1e-10 * np.abs(K).max()
    b = iw.kernels(x[:2], x[2:], depth=depth, activation=act, weight_var=wv, bias_var=bv)
    np.testing.assert_allclose(b.ntk, k.ntk[:2, 2:], rtol=1e-12, atol=1e-14)


@given(st.floats(0.1, 10.0))
@settings(max_examples=10)
def test_relu_homogeneity(c):
    k1 = iw.kernels(X, depth=3, activation="relu", weight_var=2.0, bias_var=0.0)
    kc = iw.kernels(c * X, depth=3, activation="relu", weight_var=2.0, bias_var=0.0)
    np.testing.assert_allclose(kc.nngp, c * c * k1.nngp, rtol=1e-12)
    np.testing.assert_allclose(kc.ntk, c * c * k1.ntk, rtol=1e-12)


def test_depth_zero_is_linear_kernel():
    k = iw.kernels(X, depth=0, activation="relu", weight_var=1.5, bias_var=0.2)
    np.testing.assert_allclose(k.nngp, 1.5 * X @ X.T / 3 + 0.2, atol=1e-15)
    np.testing.assert_allclose(k.ntk, k.nngp, atol=1e-15)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(depth=-1), "depth"),
        (dict(depth=1.5), "depth"),
        (dict(weight_var=-1.0), "weight_var"),
        (dict(bias_var=-0.1), "bias_var"),
        (dict(activation="swish"), "activation"),
        (dict(parameterization="mup"), "parameterization"),
        (dict(weight_var=np.nan), "weight_var"),
    ],
)
def test_bad_kernel_arguments(kwargs, match):
    args = dict(depth=2, activation="relu", weight_var=2.0, bias_var=0.1) | kwargs
    with pytest.raises(ValueError, match=match):
        iw.kernels(X, **args)


def test_bad_kernel_inputs():
    with pytest.raises(ValueError, match="x1"):
        iw.kernels(np.array([[np.nan, 1.0]]), depth=1, activation="relu", weight_var=1, bias_var=0)
    with pytest.raises(ValueError, match="features"):
        iw.kernels(X, X[:, :2], depth=1, activation="relu", weight_var=1, bias_var=0)
    with pytest.raises(ValueError, match="2-D"):
        iw.kernels(np.ones(3), depth=1, activation="relu", weight_var=1, bias_var=0)


# ----------------------------------------------------------------------------- kernel dynamics


@pytest.fixture(scope="module")
def task():
    x = np.random.default_rng(1).standard_normal((8, 3))
    k = iw.kernels(x, depth=2, activation="erf", weight_var=2.0, bias_var=0.1)
    y = np.random.default_rng(2).standard_normal(5)
    return k, y


def test_mean_prediction_matches_expm(task):
    k, y = task
    f0 = np.random.default_rng(3).standard_normal(8) * 0.3
    t = [0.0, 1.0, 10.0]
    out = kd.mean_prediction(k.ntk, y, t, f0, n_train=5)
    A = k.ntk[:5, :5]
    for i, ti in enumerate(t):
        E = sl.expm(-A * ti / 5)
        np.testing.assert_allclose(out[i, :5], y + E @ (f0[:5] - y), atol=1e-12)
        np.testing.assert_allclose(
            out[i, 5:], f0[5:] + k.ntk[5:, :5] @ np.linalg.solve(A, (np.eye(5) - E) @ (y - f0[:5])), atol=1e-12
        )


def test_gd_steps_match_linear_recursion(task):
    k, y = task
    f0 = np.random.default_rng(4).standard_normal((2, 8))
    eta = 0.5 * kd.max_learning_rate(k.ntk[:5, :5])
    out = kd.mean_prediction(k.ntk, y, [7 * eta], f0, n_train=5, eta=eta)[0]
    f = f0.copy()
    for _ in range(7):
        f = f - eta / 5 * (f[:, :5] - y) @ k.ntk[:5, :]
    np.testing.assert_allclose(out, f, atol=1e-12)


def test_ensemble_limits(task):
    k, y = task
    g = kd.ensemble_prediction(k.nngp, k.ntk, y, [0.0, 1e12], n_train=5)
    np.testing.assert_allclose(g.covariance[0], k.nngp, atol=1e-14)
    np.testing.assert_allclose(g.mean[0], 0.0, atol=1e-14)
    np.testing.assert_allclose(g.mean[1][5:], k.ntk[5:, :5] @ np.linalg.solve(k.ntk[:5, :5], y), atol=1e-9)
    np.testing.assert_allclose(g.mean[1][:5], y, atol=1e-9)
    np.testing.assert_allclose(g.covariance[1][:5, :5], 0.0, atol=1e-9)


def test_ensemble_covariance_is_covariance_of_mean_prediction(task):
    k, y = task
    g = kd.ensemble_prediction(k.nngp, k.ntk, y, [3.0], n_train=5)
    # f_t = M f0 + c is affine in f0 ~ N(0, K): its covariance is M K M^T and its mean c = f_t(f0 = 0)
    lin = (
        kd.mean_prediction(k.ntk, y, [3.0], np.eye(8), n_train=5)[0]
        - kd.mean_prediction(k.ntk, y, [3.0], np.zeros((8, 8)), n_train=5)[0]
    )  # rows: M applied to basis vectors -> M^T
    np.testing.assert_allclose(lin.T @ k.nngp @ lin, g.covariance[0], atol=1e-12)
    np.testing.assert_allclose(kd.mean_prediction(k.ntk, y, [3.0], np.zeros(8), n_train=5)[0], g.mean[0], atol=1e-12)


def test_dynamics_bad_input(task):
    k, y = task
    with pytest.raises(ValueError, match="t must"):
        kd.mean_prediction(k.ntk, y, [-1.0], np.zeros(8), n_train=5)
    with pytest.raises(ValueError, match="whole GD steps"):
        kd.mean_prediction(k.ntk, y, [0.3], np.zeros(8), n_train=5, eta=0.2)
    with pytest.raises(ValueError, match="eta"):
        kd.propagator(k.ntk[:5, :5], [1.0], eta=-1.0)
    with pytest.raises(ValueError, match="n_train"):
        kd.ensemble_prediction(k.nngp, k.ntk, y, [1.0], n_train=9)
    with pytest.raises(ValueError, match="symmetric"):
        kd.propagator(np.triu(k.ntk), [1.0])


@pytest.mark.parametrize("par", ["ntk", "standard"])
def test_frozen_biases_leave_the_bias_gradients_out_of_the_ntk(par):
    wv, bv, n = 1.7, 0.3, 7.0
    k = iw.kernels(X, depth=1, activation="erf", weight_var=wv, bias_var=bv, parameterization=par, width=n)
    f = iw.kernels(
        X, depth=1, activation="erf", weight_var=wv, bias_var=bv, parameterization=par, width=n, train_bias=False
    )
    S1 = wv * X @ X.T / 3 + bv
    q = np.diag(S1)
    T, Td = iw.gaussian_expectations(q[:, None], q[None, :], S1, "erf")
    # depth 1 by hand: first-layer weights (w0 x.x'/d), then the readout's weights (w1 T) only
    w0, w1 = (3.0, n) if par == "standard" else (wv, wv)
    np.testing.assert_allclose(f.ntk, w1 * T + wv * Td * w0 * (X @ X.T) / 3, rtol=1e-13)
    np.testing.assert_allclose(f.nngp, k.nngp, rtol=0, atol=0)
    b = 1.0 if par == "standard" else bv  # each bias adds b x (its backward kernel)
    np.testing.assert_allclose(k.ntk - f.ntk, b + wv * Td * b, rtol=1e-13)
    zero = iw.kernels(X, depth=3, activation="relu", weight_var=2.0, bias_var=0.0)
    assert np.array_equal(
        zero.ntk, iw.kernels(X, depth=3, activation="relu", weight_var=2.0, bias_var=0.0, train_bias=False).ntk
    )
    with pytest.raises(TypeError, match="train_bias"):
        iw.kernels(X, depth=1, activation="relu", weight_var=1.0, bias_var=0.0, train_bias=1)


def _nested_quadrature(f, k11, k22, k12) -> float:
    """E[f(u) f(v)] independently of the module: adaptive quadrature over u of f(u) E[f(v) | u], with
    v | u ~ N(k12 u / k11, k22 - k12^2 / k11); both integrals split at the kink 0 and cut at 12 standard deviations."""
    su, c, sv = np.sqrt(k11), k12 / k11, np.sqrt(k22 - k12 * k12 / k11)

    def pieces(g, lo, hi, eps):
        cuts = [lo, *([0.0] if lo < 0 < hi else []), hi]
        return sum(integrate.quad(g, a, b, epsabs=eps, epsrel=1e-12, limit=200)[0] for a, b in zip(cuts, cuts[1:]))

    def given_u(u):
        m = c * u
        return pieces(lambda v: f(v) * np.exp(-0.5 * ((v - m) / sv) ** 2), m - 12 * sv, m + 12 * sv, 1e-14)

    outer = pieces(lambda u: f(u) * given_u(u) * np.exp(-0.5 * (u / su) ** 2), -12 * su, 12 * su, 1e-13)
    return outer / (2 * np.pi * su * sv)


@pytest.mark.parametrize("name", ["tanh", "gelu", "softplus", "selu"])
def test_activations_without_elementary_kernels_against_nested_quadrature(name):
    """T and T' at a generic correlation (rho = -0.63) against an independent nested adaptive quadrature, for the
    named activation and for its JAX phi passed as a bare callable (iw.numerical: the generic path, the kink-split
    polar quadrature for selu's kink)."""
    act = spec.get_activation(name)
    k11, k22, k12 = 1.3, 0.7, -0.6
    T, Td = _nested_quadrature(act.phi, k11, k22, k12), _nested_quadrature(act.dphi, k11, k22, k12)
    for a in (name, iw.numerical(act.jax_phi)):
        got = iw.gaussian_expectations(k11, k22, k12, a)
        np.testing.assert_allclose([float(got[0]), float(got[1])], [T, Td], rtol=0, atol=1e-10)


def test_max_learning_rate_is_2N_over_lambda_max(task):
    k, _ = task
    lam = np.linalg.eigvalsh(k.ntk[:5, :5])[-1]
    assert kd.max_learning_rate(k.ntk[:5, :5]) == pytest.approx(2 * 5 / lam, rel=1e-14)
    assert kd.max_learning_rate(k.ntk[:5, :5], n_outputs=3) == pytest.approx(2 * 15 / lam, rel=1e-14)
