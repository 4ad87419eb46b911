"""Finite-width MLPs at initialisation, single input: kernel, susceptibilities, criticality, four-point vertex.

References
----------
- [PDLT] D. A. Roberts, S. Yaida, B. Hanin, "The Principles of Deep Learning Theory", CUP 2022,
  arXiv:2106.10165: kernel recursion (eq. 4.118), susceptibilities chi_parallel, chi_perp (eqs. 5.50-5.51),
  criticality (sec. 5.2-5.3), four-point vertex recursion (eq. 4.119, single input). Equation numbers [K].
- [HN19] B. Hanin, M. Nica, "Products of many large random matrices and gradients in deep neural
  networks", Commun. Math. Phys. 2019, arXiv:1812.05994: exact ReLU moments via products of chi-squares.

Conventions (one input x in R^{n_0}; layer l has width n_l)
-----------------------------------------------------------
  z^(1) = b^(1) + W^(1) x,                 W^(1)_ij ~ N(0, C_W / n_0),   b ~ N(0, C_b)
  z^(l+1) = b^(l+1) + W^(l+1) sigma(z^(l)), W^(l+1)_ij ~ N(0, C_W / n_l)
so K^(1) = C_b + C_W |x|^2 / n_0 and the preactivation z^(l) of layer l (width n_l) depends on the widths
n_1, ..., n_{l-1} of the layers BELOW it (never on n_0 nor on its own width n_l). ``widths`` arguments
below are always that sequence (n_1, ..., n_{L-1}) for a network whose last preactivation layer is L.
<.>_K is the average over z ~ N(0, K).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from dltheory.theory._validate import MAX_DEPTH, choice, integer_at_least, overflow_guard, real_scalar
from dltheory.theory.gaussian import gaussian_expectation, standard_normal_rule
from dltheory.theory.spec import Activation, get_activation

__all__ = [
    "kernel_recursion",
    "sigma_moments",
    "chi_parallel",
    "chi_perp",
    "criticality",
    "four_point_recursion",
    "relu_kurtosis_exact",
    "nlo_kernel_recursion",
]


# ----------------------------------------------------------------------------- validation


def _widths(widths: Sequence[int]) -> list[int]:
    if isinstance(widths, str | bytes) or not hasattr(widths, "__iter__"):
        raise ValueError(f"widths must be a sequence of integers >= 1, got {widths!r}")
    return [integer_at_least("widths[i]", n, 1) for n in widths]


# ----------------------------------------------------------------------------- kernel and susceptibilities


@overflow_guard
def sigma_moments(activation: str | Activation, K: float) -> tuple[float, float, float]:
    """(<sigma^2>_K, <sigma^4>_K, chi_parallel(K) / C_W) in one pass over the quadrature nodes."""
    act = get_activation(activation)
    K = real_scalar("K", K, lower=0.0)
    if K == 0.0:
        s0 = float(act.phi(np.zeros(1))[0])
        d0 = float(act.dphi(np.zeros(1))[0])
        return s0**2, s0**4, d0**2  # chi_parallel/C_W -> sigma'(0)^2 + sigma(0) sigma''(0); sigma(0)=0 classes
    s = math.sqrt(K)
    t, g = standard_normal_rule(s, act.kinks)
    sig2 = act.phi(s * t) ** 2
    # chi_parallel = d<sigma^2>_K/dK * C_W = (C_W / (2K)) <sigma^2 (z^2/K - 1)>_K   ([PDLT] eq. 5.50, Stein)
    return float(g @ sig2), float(g @ sig2**2), float(g @ (sig2 * (t * t - 1))) / (2 * K)


def _check_cs(C_W, C_b) -> tuple[float, float]:
    return real_scalar("C_W", C_W, lower=0.0, strict=True), real_scalar("C_b", C_b, lower=0.0)


@overflow_guard
def chi_parallel(K: float, *, C_W: float, activation: str | Activation) -> float:
    """chi_parallel(K) = dK^(l+1)/dK^(l) = (C_W / 2K^2) <sigma(z)^2 (z^2 - K)>_K  ([PDLT] eq. 5.50 [K])."""
    C_W, _ = _check_cs(C_W, 0.0)
    return C_W * sigma_moments(activation, K)[2]


@overflow_guard
def chi_perp(K: float, *, C_W: float, activation: str | Activation) -> float:
    """chi_perp(K) = C_W <sigma'(z)^2>_K  ([PDLT] eq. 5.51 [K]; Poole et al.'s chi_1 with C_W = sigma_w^2)."""
    C_W, _ = _check_cs(C_W, 0.0)
    act = get_activation(activation)
    return C_W * gaussian_expectation(lambda z: act.dphi(z) ** 2, real_scalar("K", K, lower=0.0), act.kinks)


@overflow_guard
def kernel_recursion(K1: float, depth: int, *, C_W: float, C_b: float, activation: str | Activation) -> np.ndarray:
    """K^(1..depth): K^(l+1) = C_b + C_W <sigma^2>_{K^(l)} ([PDLT] eq. 4.118, single input; infinite width)."""
    act = get_activation(activation)
    C_W, C_b = _check_cs(C_W, C_b)
    K = [real_scalar("K1", K1, lower=0.0)]
    for _ in range(integer_at_least("depth", depth, 1, upper=MAX_DEPTH) - 1):
        K.append(C_b + C_W * sigma_moments(act, K[-1])[0])
    return np.array(K)


def criticality(activation: str | Activation) -> dict:
    """Critical initialisation (C_b, C_W) with chi_parallel(K*) = chi_perp(K*) = 1 ([PDLT] sec. 5.2-5.3).

    Scale-invariant class (sigma(z) = a_+ z (z>0), a_- z (z<0)): C_b = 0, C_W = 1/A_2, A_2 = <sigma^2>_1
    = (a_+^2 + a_-^2)/2; every K is a fixed point (relu: C_W = 2). K* = 0 class (sigma(0) = 0,
    sigma'(0) = sigma_1 != 0): C_b = 0, C_W = 1/sigma_1^2, K* = 0 (tanh: C_W = 1). Other activations have
    no critical point of either class: ValueError.
    """
    act = get_activation(activation)
    if act.universality == "scale_invariant":
        return {
            "C_b": 0.0,
            "C_W": 1.0 / gaussian_expectation(lambda z: act.phi(z) ** 2, 1.0, act.kinks),
            "K_star": None,
            "universality": act.universality,
        }
    if act.universality == "k0":
        return {
            "C_b": 0.0,
            "C_W": 1.0 / float(act.dphi(np.zeros(1))[0]) ** 2,
            "K_star": 0.0,
            "universality": act.universality,
        }
    raise ValueError(f"activation {act.name!r} is in neither the scale-invariant nor the K*=0 universality class")


# ----------------------------------------------------------------------------- four-point vertex


@overflow_guard
def four_point_recursion(
    K1: float, widths: Sequence[int], *, C_W: float, C_b: float, activation: str | Activation
) -> dict:
    """Leading-order (1/n) non-Gaussianity of z^(l), l = 1..len(widths)+1, single input.

    [PDLT] eq. 4.119 [K] (single input): with v^(l) = V^(l)/n_{l-1},
        v^(l+1) = (C_W^2 / n_l) [<sigma^4> - <sigma^2>^2]_{K^(l)} + chi_parallel(K^(l))^2 v^(l),  v^(1) = 0,
    and the connected four-point function of one neuron is E z^4 - 3 (E z^2)^2 = 3 v^(l) + O(1/n^2).
    Returns K (infinite-width kernel), v, and excess kurtosis kappa = E z^4/(E z^2)^2 - 3 = 3 v / K^2 at
    leading order (the metric's own 1/n shift changes kappa only at O(1/n^2)). Exact at l = 2.
    """
    act = get_activation(activation)
    C_W, C_b = _check_cs(C_W, C_b)
    widths = _widths(widths)
    K = [real_scalar("K1", K1, lower=0.0, strict=True)]
    v = [0.0]
    for n in widths:
        s2, s4, chi = sigma_moments(act, K[-1])
        v.append(C_W**2 * (s4 - s2**2) / n + (C_W * chi) ** 2 * v[-1])
        K.append(C_b + C_W * s2)
    K, v = np.array(K), np.array(v)
    return {"K": K, "v": v, "kappa": 3 * v / K**2}


def relu_kurtosis_exact(widths: Sequence[int]) -> np.ndarray:
    """E z^4 / (E z^2)^2 of layers l = 1..len(widths)+1 of a ReLU MLP with C_b = 0 (any C_W), exactly.

    [HN19]: (C_W/n_j)|relu(z^(j))|^2 = K^(j) X_j with X_j = (2/n_j) chi^2_{k_j}, k_j ~ Bin(n_j, 1/2),
    independent across layers, E X_j = 1, E X_j^2 = 1 + 5/n_j. Hence E z^(l)4 / (E z^(l)2)^2 =
    3 prod_{j=1}^{l-1} (1 + 5/n_j): only the widths n_1..n_{l-1} below layer l enter (module docstring).
    """
    widths = _widths(widths)
    return 3.0 * np.cumprod([1.0] + [1.0 + 5.0 / n for n in widths])


# ----------------------------------------------------------------------------- 1/n correction to the mean kernel


def nlo_kernel_recursion(
    K1: float,
    depth: int,
    *,
    C_W: float,
    C_b: float,
    activation: str | Activation,
    vertex_coefficient: float = 0.125,
    susceptibility: str = "parallel",
) -> dict:
    """Next-to-leading-order mean kernel of layers l = 1..depth, single input, equal hidden widths n:
    E[z^(l) z^(l)] = K^(l) + G1^(l) / n + O(1/n^2).

    [PDLT] sec. 4.3 (the NLO metric; single-input form of its recursion [K]), derived here from the 1/n expansion
    of one neuron's law: z^(l) has variance K + G1/n and fourth cumulant E z^4 - 3 (E z^2)^2 = 3 V/n (V = n v of
    :func:`four_point_recursion`), higher cumulants O(1/n^2), so the Edgeworth expansion gives
    E sigma(z)^2 = <sigma^2>_{K + G1/n} + (3V / 24n) <d^4 sigma^2 / dz^4>_K and, by Gaussian integration by parts,
        G1^(l+1) = chi_parallel(K^(l)) G1^(l) + (C_W / 8) V^(l) <sigma^2 (z^4/K^4 - 6 z^2/K^3 + 3/K^2)>_{K^(l)},
    G1^(1) = G1^(2) = 0 (layer 2's conditional covariance averages exactly to K^(2)).
    ``vertex_coefficient`` (1/8) and ``susceptibility`` ("parallel", or "perp" for chi_perp) are exposed only so
    that a claim can state the nearest mistakes; the defaults are the derived recursion.
    Returns K, G1, V (= n x the connected four-point coefficient) and kappa_n = n x excess kurtosis = 3 V / K^2.
    """
    act = get_activation(activation)
    C_W, C_b = _check_cs(C_W, C_b)
    depth = integer_at_least("depth", depth, 1, upper=10_000)  # a few quadratures per layer
    c = real_scalar("vertex_coefficient", vertex_coefficient)
    chi = chi_parallel if choice("susceptibility", susceptibility, ("parallel", "perp")) == "parallel" else chi_perp
    K1 = real_scalar("K1", K1, lower=0.0, strict=True)
    try:
        with np.errstate(over="raise", divide="raise", invalid="raise"):
            four = four_point_recursion(K1, [1] * (depth - 1), C_W=C_W, C_b=C_b, activation=act)
            K, V = four["K"], four["v"]
            G1 = [0.0]
            for k, v in zip(K[:-1], V[:-1]):
                h4 = gaussian_expectation(
                    lambda z, k=k: act.phi(z) ** 2 * (z**4 / k**4 - 6 * z**2 / k**3 + 3 / k**2), k, act.kinks
                )
                G1.append(chi(k, C_W=C_W, activation=act) * G1[-1] + C_W * c * v * h4)
            kappa_n = 3 * V / K**2
    except (FloatingPointError, OverflowError, ZeroDivisionError) as err:
        raise FloatingPointError(
            f"nlo_kernel_recursion left the float64 range ({err}) at K1={K1}, C_W={C_W}, C_b={C_b}: the kernel "
            "must stay a normal positive number through the layers"
        ) from None
    return {"K": K, "G1": np.array(G1), "V": V, "kappa_n": kappa_n}
