"""Signal propagation in deep random networks: q-map, c-map, chi_1, depth scales, edge of chaos, SELU.

References
----------
- [P16] B. Poole et al., "Exponential expressivity in deep neural networks through transient chaos",
  NeurIPS 2016, arXiv:1606.05340: q-map (eq. 3), c-map (eq. 5), chi_1 (eq. 7) [K].
- [S17] S. S. Schoenholz et al., "Deep information propagation", ICLR 2017, arXiv:1611.01232: depth
  scales xi_q (eq. 6) and xi_c (eq. 9) [K].
- [H19] S. Hayou, A. Doucet, J. Rousseau, "On the impact of the activation function on deep neural networks
  training", ICML 2019, arXiv:1902.06853: ReLU edge of chaos (sigma_b, sigma_w^2) = (0, 2) and the
  polynomial approach 1 - c^l ~ 9 pi^2 / (2 l^2) on it [K; the constant is derived in c_map_relu_expansion].
- [K17] G. Klambauer et al., "Self-normalizing neural networks", NeurIPS 2017, arXiv:1706.02515: SELU
  (lambda_01, alpha_01) from E selu(Z) = 0, E selu(Z)^2 = 1 (sec. 3, eq. 14 closed forms [K]).

Conventions: h^l = W^l phi(h^{l-1}) + b^l, W_ij ~ N(0, sigma_w2 / N), b_i ~ N(0, sigma_b2) (variances, not
standard deviations), width N -> infinity. q^l = E (h_i^l)^2 for one input; q^l_ab for two inputs;
c^l = q^l_ab / sqrt(q^l_aa q^l_bb). Layer index l counts weight layers.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import brentq

from dltheory.theory._validate import MAX_DEPTH, integer_at_least, overflow_guard, real_array, real_scalar
from dltheory.theory.finite_width import chi_perp, sigma_moments
from dltheory.theory.gaussian import bivariate_expectation, gaussian_expectation
from dltheory.theory.spec import Activation, get_activation, selu

__all__ = [
    "q_map",
    "q_fixed_point",
    "kernel_iterates",
    "c_map",
    "c_fixed_point",
    "chi_1",
    "depth_scales",
    "edge_of_chaos",
    "relu_c_map",
    "relu_critical_correlation",
    "RELU_CRITICAL_CONSTANT",
    "RELU_CRITICAL_LOG_COEFFICIENT",
    "selu_parameters",
    "selu",
    "gradient_second_moments",
]

RELU_CRITICAL_CONSTANT = 9 * math.pi**2 / 2  # lim (1 - c^l) l^2 on the ReLU edge of chaos [H19]
# Next order [D]: u = 1 - c obeys u' = u - A u^{3/2} + O(u^{5/2}), A = 2^{3/2} / (3 pi) (relu_c_map); w = u^{-1/2} then
# steps by A/2 + (3 A^2 / 8) / w + O(w^{-2}), so w_l = (A/2) l + (3A/4) ln l + O(1) and
# (1 - c^l) l^2 = K (1 - 3 ln l / l + O(1/l)), K = (2/A)^2 = RELU_CRITICAL_CONSTANT: the approach is ln(l)/l, not 1/l.
RELU_CRITICAL_LOG_COEFFICIENT = 3.0


def _sw_sb(sigma_w2, sigma_b2) -> tuple[float, float]:
    return real_scalar("sigma_w2", sigma_w2, lower=0.0, strict=True), real_scalar("sigma_b2", sigma_b2, lower=0.0)


@overflow_guard
def q_map(q: float, *, sigma_w2: float, sigma_b2: float, activation: str | Activation) -> float:
    """q^l = sigma_w2 int Dz phi(sqrt(q^{l-1}) z)^2 + sigma_b2  ([P16] eq. 3)."""
    sw, sb = _sw_sb(sigma_w2, sigma_b2)
    return sb + sw * sigma_moments(get_activation(activation), real_scalar("q", q, lower=0.0))[0]


@overflow_guard
def q_fixed_point(*, sigma_w2: float, sigma_b2: float, activation: str | Activation, q0: float = 1.0) -> float:
    """The fixed point q* reached by iterating the q-map from ``q0`` (then Newton-polished).

    Raises ValueError if the iteration does not settle within 10^4 layers (q -> infinity, e.g. ReLU with
    sigma_w2 > 2, or with sigma_w2 = 2 and sigma_b2 > 0).
    """
    act = get_activation(activation)
    sw, sb = _sw_sb(sigma_w2, sigma_b2)
    q = real_scalar("q0", q0, lower=0.0)
    for _ in range(10_000):
        s2, _, chi = sigma_moments(act, q)
        new = sb + sw * s2
        if not math.isfinite(new) or new > 1e12:
            break
        if abs(new - q) <= 1e-15 * max(1.0, q):
            return new
        if abs(sw * chi) < 1 - 1e-3 and q > 0:  # Newton step only where the map contracts (attracting side)
            newton = q - (new - q) / (sw * chi - 1)
            new = newton if 0 < newton and abs(newton - q) < abs(new - q) * 10 + 1e-12 else new
        q = new
    raise ValueError(
        f"the q-map has no attracting finite fixed point from q0={q0} "
        f"(sigma_w2={sw}, sigma_b2={sb}, activation={act.name})"
    )


@overflow_guard
def kernel_iterates(
    q11: float, q22: float, q12: float, depth: int, *, sigma_w2: float, sigma_b2: float, activation: str | Activation
) -> np.ndarray:
    """(q_aa, q_bb, q_ab) for layers 1..depth, row 0 = the given layer-1 kernel ([P16] eqs. 3, 5)."""
    q11, q22 = real_scalar("q11", q11, lower=0.0), real_scalar("q22", q22, lower=0.0)
    q12 = real_scalar("q12", q12)
    if q12 * q12 > q11 * q22 * (1 + 1e-12):
        raise ValueError(f"q12 must satisfy q12^2 <= q11 q22 (a covariance), got q12={q12}, q11={q11}, q22={q22}")
    depth = integer_at_least("depth", depth, 1, upper=MAX_DEPTH)
    sw, sb = _sw_sb(sigma_w2, sigma_b2)
    act = get_activation(activation)
    out = [(q11, q22, q12)]
    for _ in range(depth - 1):
        a, b, ab = out[-1]
        out.append(
            (
                q_map(a, sigma_w2=sw, sigma_b2=sb, activation=act),
                q_map(b, sigma_w2=sw, sigma_b2=sb, activation=act),
                sb + sw * bivariate_expectation(act.phi, act.phi, a, b, ab, act.kinks),
            )
        )
    return np.array(out)


@overflow_guard
def c_map(c: float, *, q_star: float, sigma_w2: float, sigma_b2: float, activation: str | Activation) -> float:
    """c^l = [sigma_w2 E phi(u1) phi(u2) + sigma_b2] / q*, inputs at the length fixed point ([P16] eq. 5)."""
    c = real_scalar("c", c, lower=-1.0, upper=1.0)
    q = real_scalar("q_star", q_star, lower=0.0, strict=True)
    sw, sb = _sw_sb(sigma_w2, sigma_b2)
    act = get_activation(activation)
    return (sb + sw * bivariate_expectation(act.phi, act.phi, q, q, c * q, act.kinks)) / q


@overflow_guard
def chi_1(*, sigma_w2: float, sigma_b2: float, activation: str | Activation) -> float:
    """chi_1 = sigma_w2 int Dz phi'(sqrt(q*) z)^2 = dc^l/dc^{l-1} at c = 1 ([P16] eq. 7)."""
    q = q_fixed_point(sigma_w2=sigma_w2, sigma_b2=sigma_b2, activation=activation)
    return chi_perp(q, C_W=sigma_w2, activation=activation)


@overflow_guard
def c_fixed_point(*, q_star: float, sigma_w2: float, sigma_b2: float, activation: str | Activation) -> float:
    """The attracting correlation fixed point c* in [0, 1]: 1 when chi_1 <= 1 (ordered), else the root of
    c_map(c) = c in [0, 1) (chaotic). c_map(0) = (sigma_b2 + sigma_w2 E[phi]^2)/q* >= 0 and c_map(c) < c just
    below 1 when chi_1 > 1 bracket it; for odd phi and sigma_b2 = 0 it is c* = 0 (c = -1 is a repelling
    fixed point of odd phi too, hence the bracket starts at 0)."""
    act = get_activation(activation)
    sw, sb = _sw_sb(sigma_w2, sigma_b2)
    q = real_scalar("q_star", q_star, lower=0.0, strict=True)
    if chi_perp(q, C_W=sw, activation=act) <= 1.0:
        return 1.0
    F = lambda c: c_map(c, q_star=q, sigma_w2=sw, sigma_b2=sb, activation=act) - c
    if abs(F(0.0)) < 1e-15:
        return 0.0
    if F(0.0) * F(1.0 - 1e-6) > 0:
        raise FloatingPointError(
            f"no correlation fixed point bracketed in [0, 1 - 1e-6] at q_star = {q}, sigma_w2 = {sw}, sigma_b2 = {sb} "
            "(chi_1 barely above 1 or q_star far from the length fixed point)"
        )
    return brentq(F, 0.0, 1.0 - 1e-6, xtol=1e-14)


@overflow_guard
def depth_scales(*, sigma_w2: float, sigma_b2: float, activation: str | Activation) -> dict:
    """q*, c*, chi_1 and the depth scales of [S17]: |q^l - q*| ~ e^{-l/xi_q}, |c^l - c*| ~ e^{-l/xi_c}.

    xi_q^{-1} = -log chi_par(q*), chi_par = dq^l/dq^{l-1} = chi_1 + sigma_w2 int Dz phi'' phi  ([S17] eq. 6;
    evaluated derivative-free as (sigma_w2/2q) E phi^2 (z^2 - 1), so kinked phi are exact).
    xi_c^{-1} = -log[sigma_w2 E phi'(u1) phi'(u2)] at (q*, c*)  ([S17] eq. 9); ordered phase: -log chi_1.
    """
    act = get_activation(activation)
    sw, sb = _sw_sb(sigma_w2, sigma_b2)
    q = q_fixed_point(sigma_w2=sw, sigma_b2=sb, activation=act)
    chi_par = sw * sigma_moments(act, q)[2]
    chi1 = chi_perp(q, C_W=sw, activation=act)
    cs = c_fixed_point(q_star=q, sigma_w2=sw, sigma_b2=sb, activation=act)
    slope_c = chi1 if cs == 1.0 else sw * bivariate_expectation(act.dphi, act.dphi, q, q, cs * q, act.kinks)
    xi = lambda s: math.inf if s >= 1.0 else -1.0 / math.log(s)
    return {"q_star": q, "c_star": cs, "chi_1": chi1, "chi_par": chi_par, "xi_q": xi(chi_par), "xi_c": xi(slope_c)}


@overflow_guard
def edge_of_chaos(sigma_b2: float, *, activation: str | Activation) -> float:
    """sigma_w2 on the edge of chaos chi_1(sigma_w2, sigma_b2) = 1 ([P16] Fig. 2, [S17] sec. 3).

    Scale-invariant phi: chi_1 = sigma_w2 <phi'^2> does not depend on q, so sigma_w2 = 1/<phi'^2>_1 (ReLU: 2),
    which has a finite q* only for sigma_b2 = 0 ([H19]); other sigma_b2 raise ValueError.
    """
    act = get_activation(activation)
    _, sb = _sw_sb(1.0, sigma_b2)
    if act.universality == "scale_invariant":
        if sb > 0:
            raise ValueError(f"for {act.name} the edge of chaos needs sigma_b2 = 0 (q* diverges), got {sb}")
        return 1.0 / chi_perp(1.0, C_W=1.0, activation=act)
    if sb == 0.0 and act.universality == "k0":
        return 1.0 / float(act.dphi(np.zeros(1))[0]) ** 2
    F = lambda sw: chi_1(sigma_w2=sw, sigma_b2=sb, activation=act) - 1.0
    return brentq(F, 0.5, 50.0, xtol=1e-13, rtol=1e-13)


# ----------------------------------------------------------------------------- ReLU on the edge of chaos


def relu_c_map(c):
    """ReLU c-map at (sigma_w2, sigma_b2) = (2, 0): f(c) = (sqrt(1-c^2) + (pi - arccos c) c)/pi (arc-cosine
    kernel, Cho & Saul 2009). Near c = 1, with u = 1 - c: f = 1 - u + (2u)^{3/2}/(3 pi) + O(u^{5/2}) [D], so
    u_{l+1} = u_l - (2 u_l)^{3/2}/(3 pi) and u_l l^2 -> 9 pi^2 / 2 = RELU_CRITICAL_CONSTANT.
    ``c`` (scalar or array) must lie in [-1, 1]; round-off up to 1e-12 outside is clipped."""
    c = np.clip(real_array("c", c, lower=-1.0 - 1e-12, upper=1.0 + 1e-12), -1.0, 1.0)
    return (np.sqrt(1 - c * c) + (np.pi - np.arccos(c)) * c) / np.pi


def relu_critical_correlation(c0: float, depth: int) -> np.ndarray:
    """c^1..c^depth on the ReLU edge of chaos from c^1 = c0 (iterates of relu_c_map)."""
    c = [real_scalar("c0", c0, lower=-1.0, upper=1.0)]
    for _ in range(integer_at_least("depth", depth, 1, upper=MAX_DEPTH) - 1):
        c.append(float(relu_c_map(c[-1])))
    return np.array(c)


# ----------------------------------------------------------------------------- SELU


def selu_parameters() -> tuple[float, float]:
    """(lambda_01, alpha_01) solving E selu(Z) = 0 and E selu(Z)^2 = 1, Z ~ N(0, 1) ([K17] sec. 3).

    The fixed point (mu, nu) = (0, 1) of the mean/variance map for weights with sum w = 0, sum w^2 = 1.
    The mean equation does not involve lambda: alpha = -E[Z; Z > 0] / E[e^Z - 1; Z <= 0]; then the
    variance equation gives lambda = (E[Z^2; Z > 0] + alpha^2 E[(e^Z - 1)^2; Z <= 0])^{-1/2}. Each average
    is a split Gauss-Legendre quadrature. Expected ([K17] eq. 14 closed forms): 1.0507009873554805,
    1.6732632423543772.
    """
    pos = lambda z: np.maximum(z, 0.0)
    neg = lambda z: np.expm1(np.minimum(z, 0.0))
    alpha = -gaussian_expectation(pos, 1.0, (0.0,)) / gaussian_expectation(neg, 1.0, (0.0,))
    second = gaussian_expectation(lambda z: pos(z) ** 2 + alpha**2 * neg(z) ** 2, 1.0, (0.0,))
    return 1.0 / math.sqrt(second), float(alpha)


# ----------------------------------------------------------------------------- backpropagation


def gradient_second_moments(
    q1: float, depth: int, *, sigma_w2: float, sigma_b2: float, activation: str | Activation
) -> np.ndarray:
    """E ||df/dh^l||^2 for l = 1..depth (summed over the N neurons of layer l), infinite width, one input with
    q^1 = ``q1``, readout f = sum_i v_i phi(h_i^depth) with v_i ~ N(0, sigma_w2 / N) (the readout counted as layer
    depth + 1, no bias). Mean-field backpropagation ([S17], back-propagation section: q~^l = q~^{l+1} (N_{l+1}/N_l)
    chi_1, gradients independent of the forward weights):

        E ||df/dh^l||^2 = prod_{k=l}^{depth} sigma_w2 E phi'(sqrt(q^k) z)^2,   q^k the q-map iterates,

    so chi_1^(depth + 1 - l) when q1 = q* (exploding for chi_1 > 1, vanishing for chi_1 < 1, flat on the edge of
    chaos). The exponent counts the readout's own factor: with the readout's derivative alone (E ||df/dh^depth||^2
    normalised to 1) it would be chi_1^(depth - l).
    """
    act = get_activation(activation)
    sw, sb = _sw_sb(sigma_w2, sigma_b2)
    depth = integer_at_least("depth", depth, 1, upper=MAX_DEPTH)
    q = [real_scalar("q1", q1, lower=0.0, strict=True)]
    for _ in range(depth - 1):
        q.append(q_map(q[-1], sigma_w2=sw, sigma_b2=sb, activation=act))
    factors = np.array([chi_perp(qk, C_W=sw, activation=act) for qk in q])
    return np.cumprod(factors[::-1])[::-1]
