"""Exact unit tests for dltheory.theory.finite_width (PDLT single input; Hanin & Nica exact ReLU moments)."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import binom

from dltheory.theory import finite_width as fw
from dltheory.theory import spec
from dltheory.theory.gaussian import gaussian_expectation

K_values = st.floats(0.01, 50.0)


@given(K_values)
def test_gaussian_expectation_closed_forms(K):
    relu = spec.ACTIVATIONS["relu"]
    assert gaussian_expectation(lambda z: z * z, K) == pytest.approx(K, rel=1e-13)
    assert gaussian_expectation(relu.phi, K, relu.kinks) == pytest.approx(math.sqrt(K / (2 * math.pi)), rel=1e-13)
    assert gaussian_expectation(lambda z: relu.phi(z) ** 4, K, relu.kinks) == pytest.approx(1.5 * K * K, rel=1e-12)


@given(K_values)
def test_relu_at_criticality_is_scale_invariant(K):
    """C_W = 2: chi_parallel = chi_perp = 1 at every K, and the kernel is a line of fixed points."""
    assert fw.chi_parallel(K, C_W=2.0, activation="relu") == pytest.approx(1.0, rel=1e-12)
    assert fw.chi_perp(K, C_W=2.0, activation="relu") == pytest.approx(1.0, rel=1e-12)
    np.testing.assert_allclose(fw.kernel_recursion(K, 5, C_W=2.0, C_b=0.0, activation="relu"), K, rtol=1e-12)


@given(st.floats(0.05, 5.0), st.sampled_from(["tanh", "erf", "softplus", "selu"]))
def test_chi_parallel_is_the_derivative_of_the_kernel_map(K, name):
    h = 1e-5 * K
    F = lambda k: fw.kernel_recursion(k, 2, C_W=1.3, C_b=0.1, activation=name)[1]
    assert fw.chi_parallel(K, C_W=1.3, activation=name) == pytest.approx((F(K + h) - F(K - h)) / (2 * h), rel=1e-7)


def test_criticality_golden():
    assert fw.criticality("relu")["C_W"] == pytest.approx(2.0, rel=1e-13)
    assert fw.criticality("linear")["C_W"] == pytest.approx(1.0, rel=1e-13)
    assert fw.criticality("tanh") == {"C_b": 0.0, "C_W": 1.0, "K_star": 0.0, "universality": "k0"}
    assert fw.criticality("erf")["C_W"] == pytest.approx(math.pi / 4, rel=1e-14)
    for name in ("softplus", "selu"):
        with pytest.raises(ValueError, match="universality"):
            fw.criticality(name)


def test_tanh_kernel_decays_as_one_over_2l():
    K = fw.kernel_recursion(1.0, 2001, C_W=1.0, C_b=0.0, activation="tanh")
    assert K[-1] == pytest.approx(0.000250, abs=5e-7)  # references/ntk.md sec. 4.1: K -> 1/(2l)


def test_tanh_vertex_golden_values():
    """references/ntk.md sec. 4.2: kappa at layers 3-6 (n = 64) and (V/K^2)/l -> 2/3."""
    r = fw.four_point_recursion(1.0, [64] * 5, C_W=1.0, C_b=0.0, activation="tanh")
    np.testing.assert_allclose(r["kappa"][2:6], [0.0569, 0.0846, 0.1129, 0.1415], atol=6e-5)
    r = fw.four_point_recursion(1.0, [64] * 2000, C_W=1.0, C_b=0.0, activation="tanh")
    vl = r["v"] * 64 / r["K"] ** 2 / np.arange(1, 2002)
    np.testing.assert_allclose(vl[[10, 100, 2000]], [0.560, 0.648, 0.665], atol=6e-4)


@pytest.mark.parametrize("name, coeff", [("relu", 5.0), ("linear", 2.0)])
def test_scale_invariant_vertex_is_linear_in_depth(name, coeff):
    """V^(l)/(n K^2) = (3 A4/A2^2 - 1)(l - 1)/n: 5 for ReLU, 2 for linear (PDLT ch. 5)."""
    C_W = fw.criticality(name)["C_W"]
    widths = [32, 16, 64, 8]
    r = fw.four_point_recursion(0.7, widths, C_W=C_W, C_b=0.0, activation=name)
    expected = 3 * coeff * np.concatenate([[0.0], np.cumsum(1.0 / np.array(widths))])
    np.testing.assert_allclose(r["kappa"], expected, rtol=1e-11, atol=1e-15)


def test_layer_two_vertex_is_exact():
    """E z^4 at layer 2 from n i.i.d. sigma's: kappa_2 = 3 (<s^4> - <s^2>^2) / (n <s^2>^2) exactly."""
    act, n = spec.ACTIVATIONS["tanh"], 12
    s2 = gaussian_expectation(lambda z: act.phi(z) ** 2, 0.8)
    s4 = gaussian_expectation(lambda z: act.phi(z) ** 4, 0.8)
    r = fw.four_point_recursion(0.8, [n], C_W=1.7, C_b=0.0, activation="tanh")
    assert r["kappa"][1] == pytest.approx(3 * (s4 - s2**2) / (n * s2**2), rel=1e-12)


@given(st.lists(st.integers(1, 300), min_size=1, max_size=6))
def test_relu_exact_kurtosis_from_binomial_chi_square_moments(widths):
    """E X^2 for X = (2/n) chi^2_k, k ~ Bin(n, 1/2): sum_k P(k) (4/n^2)(k^2 + 2k) = 1 + 5/n."""
    ratio = [3.0]
    for n in widths:
        k = np.arange(n + 1)
        ratio.append(ratio[-1] * float(np.sum(binom.pmf(k, n, 0.5) * 4 * (k * k + 2 * k) / n**2)))
    np.testing.assert_allclose(fw.relu_kurtosis_exact(widths), ratio, rtol=1e-12)


def test_relu_exact_golden_n32():
    """references/ntk.md sec. 4.3: excess kurtosis 0.469, 1.011, 1.637, 2.362, 3.200 ... 8.08 (l = 2..10, n = 32)."""
    ex = fw.relu_kurtosis_exact([32] * 9) - 3
    np.testing.assert_allclose(ex[[1, 2, 3, 4, 5, 9]], [0.469, 1.011, 1.637, 2.362, 3.200, 8.08], atol=1.5e-3)
    assert ex[0] == 0.0  # layer 1 is exactly Gaussian


def test_selu_closed_forms():
    assert spec.SELU_LAMBDA == pytest.approx(1.0507009873555, abs=1e-12)
    assert spec.SELU_ALPHA == pytest.approx(1.6732632423544, abs=1e-12)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: fw.kernel_recursion(1.0, 0, C_W=2, C_b=0, activation="relu"), "depth"),
        (lambda: fw.kernel_recursion(1.0, 3, C_W=-2, C_b=0, activation="relu"), "C_W"),
        (lambda: fw.kernel_recursion(1.0, 3, C_W=2, C_b=-0.1, activation="relu"), "C_b"),
        (lambda: fw.kernel_recursion(float("nan"), 3, C_W=2, C_b=0, activation="relu"), "K1"),
        (lambda: fw.kernel_recursion(1.0, 3, C_W=2, C_b=0, activation="swish"), "activation"),
        (lambda: fw.chi_perp(-1.0, C_W=1.0, activation="tanh"), "K"),
        (lambda: fw.four_point_recursion(1.0, [4, 0], C_W=1, C_b=0, activation="tanh"), "widths"),
        (lambda: fw.four_point_recursion(1.0, 4, C_W=1, C_b=0, activation="tanh"), "widths"),
        (lambda: fw.relu_kurtosis_exact([3, 2.5]), "widths"),
        (lambda: gaussian_expectation(np.tanh, float("inf")), "K"),
    ],
)
def test_bad_input_raises(call, match):
    with pytest.raises(ValueError, match=match):
        call()


# ----------------------------------------------------------------------------- NLO mean kernel (issue 13)


@pytest.mark.parametrize("name, C_W", [("relu", 2.0), ("linear", 1.0), ("relu", 1.3)])
def test_nlo_kernel_vanishes_for_scale_invariant_activations(name, C_W):
    """E[C_W relu(z)^2] = C_W E[z^2] / 2 at every width: no 1/n shift (<z^2 He_4> = 15 - 18 + 3 = 0)."""
    r = fw.nlo_kernel_recursion(0.7, 8, C_W=C_W, C_b=0.0, activation=name)
    np.testing.assert_allclose(r["G1"], 0.0, atol=1e-12 * r["K"].max())


def test_nlo_source_is_the_heat_kernel_second_derivative():
    """<sigma^2 He_4(z; K)>_K = 4 d^2<sigma^2>_K / dK^2 (d<f>_K/dK = <f''>_K / 2): each step's source term equals
    (C_W / 2) V d^2<sigma^2>/dK^2 by central differences (h = 1e-3, error ~ h^2)."""
    r = fw.nlo_kernel_recursion(1.0, 6, C_W=1.0, C_b=0.0, activation="tanh")
    K, G1, V = r["K"], r["G1"], r["V"]
    for l in range(1, 5):
        k, h = K[l], 1e-3 * K[l]
        s = [fw.sigma_moments("tanh", k + d)[0] for d in (-h, 0.0, h)]
        second = (s[0] - 2 * s[1] + s[2]) / h**2
        source = G1[l + 1] - fw.chi_parallel(k, C_W=1.0, activation="tanh") * G1[l]
        assert source == pytest.approx(0.5 * V[l] * second, rel=1e-4)


def test_nlo_layer_two_and_controls():
    base = fw.nlo_kernel_recursion(1.0, 5, C_W=1.0, C_b=0.0, activation="tanh")
    assert base["G1"][0] == 0.0 and base["G1"][1] == 0.0 and base["G1"][2] < 0
    third = fw.nlo_kernel_recursion(1.0, 5, C_W=1.0, C_b=0.0, activation="tanh", vertex_coefficient=1 / 24)
    np.testing.assert_allclose(third["G1"], base["G1"] / 3, rtol=1e-12, atol=1e-15)
    perp = fw.nlo_kernel_recursion(1.0, 5, C_W=1.0, C_b=0.0, activation="tanh", susceptibility="perp")
    assert perp["G1"][2] == pytest.approx(base["G1"][2], rel=1e-12) and perp["G1"][4] != pytest.approx(base["G1"][4])
    np.testing.assert_allclose(base["kappa_n"], 3 * base["V"] / base["K"] ** 2, rtol=1e-14)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(depth=0),
        dict(depth=2.0),
        dict(K1=0.0),
        dict(K1=math.nan),
        dict(C_W=0.0),
        dict(C_b=-1.0),
        dict(vertex_coefficient=math.inf),
        dict(susceptibility="orthogonal"),
        dict(activation="no-such-activation"),
    ],
)
def test_nlo_bad_input_raises(kwargs):
    call = dict(K1=1.0, depth=4, C_W=1.0, C_b=0.0, activation="tanh") | kwargs
    with pytest.raises(ValueError):
        fw.nlo_kernel_recursion(**call)
