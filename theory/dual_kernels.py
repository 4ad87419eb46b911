"""Dual kernels of elementwise activations: closed forms wherever they exist, else a certified Hermite series.

For a centred Gaussian pair (u, v) with variances q1, q2 and covariance k (correlation rho = k / sqrt(q1 q2))
the *dual kernel* of an activation phi is the pair (Daniely, Frostig & Singer 2016, arXiv:1602.05897, sec. 2)

    T(q1, q2, k) = E[phi(u) phi(v)],        T'(q1, q2, k) = E[phi'(u) phi'(v)] = dT/dk  (Price 1958).

T drives the NNGP recursion and T' the NTK recursion (dltheory.theory.infinite_width). This module evaluates
both per pair of inputs, in three ways:

1. **Closed forms** (families, tagged on each activation by ``dltheory.theory.spec.Activation.dual``):

   ======================  ===============================================  =============================================
   family                  phi                                              source of the closed form
   ======================  ===============================================  =============================================
   ``ab_relu(a, b)``       a min(x, 0) + b max(x, 0): relu, leaky, abs,     Cho & Saul 2009 (arc-cosine kernel, n = 1),
                           linear                                           NT's ABRelu [NXH20]
   ``erf(a, b, c)``        a erf(b x) + c                                   Williams 1997, eq. 11
   ``gelu()``              x Phi(x)                                         Tsuchida et al. 2020, arXiv:2002.08517
   ``heaviside(c+, c-)``   c+ 1[x > 0] + c- 1[x < 0]: sign, step            Sheppard's orthant formula (Cho & Saul n = 0)
   ``sin(a, b, c)``        a sin(b x + c): sin, cos, NT's rbf               Gaussian characteristic function [NXH20]
   ``exp(a, b)``           a exp(b x)                                       Gaussian moment generating function [NXH20]
   ``gaussian(a, b)``      a exp(b x^2), b < 0                              Gaussian integral [NXH20]
   ``rect_monomial(n)``    x^n 1[x > 0]                                     Cho & Saul 2009, J_n(theta), sec. 2.1
   ``pexp(...)``           piecewise (alpha + beta x + gamma e^{lambda x})  bivariate normal CDF + truncated moments
                           on x > 0 and on x < 0: elu, selu                 (Tsuchida et al. 2020 for ELU; Genz 2004)
   ``polynomial(c)``       sum_m c_m x^m (monomials, Hermite polynomials)   finite Hermite (Mehler) series: exact
   ======================  ===============================================  =============================================

2. **Hermite series** for any other smooth activation (tanh, softplus, swish, user callables without kinks):
   with h_k the orthonormal probabilists' Hermite polynomials and a_k(s) = E[phi(s Z) h_k(Z)], Mehler's formula
   gives T = sum_k a_k(s1) a_k(s2) rho^k and T' = sum_k b_k(s1) b_k(s2) rho^k with b_k(s) = E[phi'(s Z) h_k(Z)]
   (Han et al. 2022, "Fast neural kernel embeddings for general activations", arXiv:2209.04121, sec. 3, eq. 6;
   Daniely et al. 2016, sec. 5). The coefficients are computed once per input and layer by an M-node
   Gauss-Hermite rule, over half the nodes by parity. **Truncation bound:** for any |rho| <= 1, by
   Cauchy-Schwarz,

       |T - sum_{k<=K} a_k(s1) a_k(s2) rho^k| <= |rho|^{K+1} sqrt(R_K(s1) R_K(s2)),  R_K(s) = sum_{k>K} a_k(s)^2,

   with R_K = E[phi(s Z)^2] - sum_{k<=K} a_k^2 from the rule's own E[phi^2] (discrete Parseval; round-off
   ~1e-15 E). K is the smallest order with R_K(s) <= HERMITE_TOL E[phi(s Z)^2] for every input of the layer (the
   same for T' with phi'). M doubles from 64 until the full spectra at five quantiles of the layer's variances are
   resolved (energy above 3M/4 below 1e-3 HERMITE_TOL), or :class:`HermiteDidNotConverge` is raised at M = 2048
   (very steep activations, e.g. tanh at variance > ~18: the caller then falls back to the kink-split quadrature of
   infinite_width). tanh needs K ~ 80 q terms (q = variance) for HERMITE_TOL = 1e-13; the fused recursion
   truncates further per tile of pairs where |rho| is small (kernel_recursion).

3. Anything else (declared kinks, or a callable that jumps or kinks at 0, checked by one-sided differences):
   no dual kernel here; dltheory.theory.infinite_width integrates it.

One source, two backends
------------------------
Every formula below is written once, in a small dialect (arithmetic, ``abs``, ``for`` loops over
parameters, ``math.sqrt / exp / erfc / sin / cos`` and the helpers ``_where``, ``_max``, ``_min``, ``_acos``,
``_asin``). Each formula is compiled by numba (scalar, inlined into the fused recursion of
dltheory.theory.kernel_recursion, vectorised across a tile of pairs) and the same Python function is re-bound to
``jax.numpy`` for the JAX path (:func:`jax_pair`), which therefore runs on any device JAX sees. The tests
check the two backends against each other and against high-order quadrature.

Conventions: T' of a jump activation (sign, step, rect_monomial(0)) is 0, the derivative almost everywhere
(neural-tangents' convention for Sign; the delta at the jump is dropped). Degenerate variances (q = 0) give
phi(0) deterministically. Accuracy: ~1e-14 relative to sqrt(T(q1, q1) T(q2, q2)) for every family at moderate
variances; pexp's exponential tilting multiplies the bivariate CDF's error by up to e^{lambda^2 q / 2}, which
costs elu / selu about one digit at q = 40 (measured 5e-13 against quadrature).
[NXH20] = Novak et al., "Neural tangents", ICLR 2020, arXiv:1912.02803. Price 1958 = R. Price, "A useful
theorem for nonlinear devices having Gaussian inputs", IRE Trans. Inf. Theory 4:69.
"""

from __future__ import annotations

import functools
import math
import types
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numba import njit
from scipy.special import roots_hermitenorm
from threadpoolctl import ThreadpoolController

from dltheory.theory._validate import InvalidType, instance, integer, overflow_guard, real_array

__all__ = [
    "FAMILIES",
    "HERMITE_TOL",
    "HermiteDidNotConverge",
    "DualPlan",
    "plan",
    "method",
    "dual_kernel",
    "hermite_coefficients",
    "bvn_upper",
    "arccos_j_terms",
    "jax_pair",
    "jax_kernel_map",
]

HERMITE_TOL = 1e-13  # relative squared-tail bound per layer: |T - T_K| <= HERMITE_TOL sqrt(E phi(u)^2 E phi(v)^2)
_M_START, _M_MAX = 64, 2048

# fastmath: FMA contraction and signed zeros only (no reassociation, no approximate functions)
_FM = {"contract", "nsz"}
_NB = dict(inline="always", error_model="numpy", fastmath=_FM, cache=True)  # light formulas: inlined, vectorised
_NB_CALL = dict(error_model="numpy", fastmath=_FM, cache=True)  # heavy ones (BVN, pexp): calls, short compiles

# ----------------------------------------------------------------------------- the dialect
_PY: dict[str, Callable] = {}  # name -> backend-neutral Python function (re-bound for JAX)
_JAX_PRIMS: dict[str, str] = {}  # primitive name -> "module.attr" of its JAX implementation


def _dialect(fn: Callable | None = None, *, heavy: bool = False) -> Callable:
    """A formula of the dialect: numba-compiled here (inlined unless ``heavy``), re-bound to jax.numpy by
    :func:`_jax_namespace`."""

    def deco(fn: Callable) -> Callable:
        _PY[fn.__name__] = fn
        return njit(**(_NB_CALL if heavy else _NB))(fn)

    return deco(fn) if fn is not None else deco


def _primitive(jax_name: str, heavy: bool = False) -> Callable:
    """A primitive: its numba body is given here; in JAX it is ``jax_name`` ("jnp.sqrt", or "dialect.<name>" for
    a branch-free dialect function computing the same thing)."""

    def deco(fn: Callable) -> Callable:
        _JAX_PRIMS[fn.__name__] = jax_name
        return njit(**(_NB_CALL if heavy else _NB))(fn)

    return deco


@_primitive("jnp.where")
def _where(c, a, b):
    return a if c else b


@_primitive("jnp.maximum")
def _max(a, b):
    return a if a >= b else b


@_primitive("jnp.minimum")
def _min(a, b):
    return a if a <= b else b


# fdlibm e_asin.c / e_acos.c: asin(x) = x + x R(x^2) on |x| <= 0.5 (R = pS/qS, |error| < 2^-58)
_PS = (
    1.66666666666666657415e-01,
    -3.25565818622400915405e-01,
    2.01212532134862925881e-01,
    -4.00555345006794114027e-02,
    7.91534994289814532176e-04,
    3.47933107596021167570e-05,
)
_QS = (-2.40339491173441421878e00, 2.02094576023350569471e00, -6.88283971605453293030e-01, 7.70381505559019352791e-02)


@_dialect
def _asin_r(z):
    """fdlibm's rational R(z) with asin(x) = x + x R(x^2) for |x| <= 1/2."""
    p = z * (_PS[0] + z * (_PS[1] + z * (_PS[2] + z * (_PS[3] + z * (_PS[4] + z * _PS[5])))))
    q = 1.0 + z * (_QS[0] + z * (_QS[1] + z * (_QS[2] + z * _QS[3])))
    return p / q


@_primitive("jnp.arccos")
def _acos(x):
    """arccos on [-1, 1], branch-free (vectorisable) form of fdlibm's e_acos.c; max error ~1 ulp."""
    ax = abs(x)
    small = ax <= 0.5
    z = x * x if small else (1.0 - ax) * 0.5
    a = x if small else math.sqrt(z)
    r = a + a * _asin_r(z)
    big = math.pi - 2.0 * r if x < 0 else 2.0 * r
    return math.pi / 2 - r if small else big


@_primitive("jnp.arcsin")
def _asin(x):
    """arcsin on [-1, 1], branch-free form of fdlibm's e_asin.c; max error ~1 ulp."""
    ax = abs(x)
    small = ax <= 0.5
    z = x * x if small else (1.0 - ax) * 0.5
    a = ax if small else math.sqrt(z)
    r = a + a * _asin_r(z)
    v = r if small else math.pi / 2 - 2.0 * r
    return v if x >= 0 else -v


_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_X20, _W20 = np.polynomial.legendre.leggauss(20)
_GL_X, _GL_W = tuple(_X20[10:]), tuple(_W20[10:])  # positive half of the 20-point Gauss-Legendre rule


@_dialect
def _phi_upper(x):
    """P(Z > x) = erfc(x / sqrt 2) / 2 (no cancellation in either tail)."""
    return 0.5 * math.erfc(x * _INV_SQRT2)


@_dialect
def _npdf(x):
    return _INV_SQRT_2PI * math.exp(-0.5 * x * x)


@_dialect(heavy=True)
def _bvn_low(h, k, r):
    """P(X > h, Y > k) for |r| < 0.925 (Drezner & Wesolowsky 1990; Genz 2004, sec. 2.2):
    Phi(-h) Phi(-k) + (1/2pi) int_0^{asin r} exp(-(h^2 + k^2 - 2 hk sin t) / (2 cos^2 t)) dt, 20-point Gauss-Legendre."""
    hk = h * k
    hs = (h * h + k * k) * 0.5
    asr = _asin(r) * 0.5
    low = 0.0 * hk
    for i in range(10):
        sn = math.sin(asr * (1.0 - _GL_X[i]))
        low = low + _GL_W[i] * math.exp((sn * hk - hs) / (1.0 - sn * sn))
        sn = math.sin(asr * (1.0 + _GL_X[i]))
        low = low + _GL_W[i] * math.exp((sn * hk - hs) / (1.0 - sn * sn))
    return low * asr / (2.0 * math.pi) + _phi_upper(h) * _phi_upper(k)


@_dialect(heavy=True)
def _bvn_high(h, k, r):
    """P(X > h, Y > k) for |r| >= 0.925: Genz's (2004, sec. 2.3, his BVND) expansion around |r| = 1, k -> -k for
    r < 0, exact limits at |r| = 1."""
    kk = _where(r < 0, -k, k)
    hk = h * kk
    as_ = _max((1.0 - r) * (1.0 + r), 1e-300)
    a = math.sqrt(as_)
    bs = (h - kk) * (h - kk)
    c = (4.0 - hk) / 8.0
    d = (12.0 - hk) / 16.0
    core = (
        a
        * math.exp(-(bs / as_ + hk) * 0.5)
        * (1.0 - c * (bs - as_) * (1.0 - d * bs / 5.0) / 3.0 + c * d * as_ * as_ / 5.0)
    )
    b = math.sqrt(bs)
    core = core - math.exp(-hk * 0.5) * math.sqrt(2.0 * math.pi) * _phi_upper(b / a) * b * (
        1.0 - c * bs * (1.0 - d * bs / 5.0) / 3.0
    )
    a = a * 0.5
    for i in range(10):
        for sgn in (-1.0, 1.0):
            xs = (a * (sgn * _GL_X[i] + 1.0)) * (a * (sgn * _GL_X[i] + 1.0))
            rs = math.sqrt(1.0 - xs)
            core = core + a * _GL_W[i] * (
                math.exp(-bs / (2.0 * xs) - hk / (1.0 + rs)) / rs
                - math.exp(-(bs / xs + hk) * 0.5) * (1.0 + c * xs * (1.0 + d * xs))
            )
    core = _where(abs(r) < 1.0, -core / (2.0 * math.pi), 0.0 * core)
    pos = core + _phi_upper(_max(h, kk))
    band = _where(h < 0, (1.0 - _phi_upper(kk)) - (1.0 - _phi_upper(h)), _phi_upper(h) - _phi_upper(kk))
    neg = -core + _where(kk > h, band, 0.0 * band)
    return _where(r > 0, pos, neg)


@_dialect
def _bvn_select(h, k, r):
    """Both branches, selected elementwise (the JAX form of :func:`bvn_upper`)."""
    return _min(_max(_where(abs(r) < 0.925, _bvn_low(h, k, r), _bvn_high(h, k, r)), 0.0), 1.0)


@_primitive("dialect._bvn_select", heavy=True)
def bvn_upper(h, k, r):
    """P(X > h, Y > k) for a standard bivariate normal with correlation r in [-1, 1], absolute error ~1e-15.

    Genz 2004 ("Numerical computation of rectangular bivariate and trivariate normal and t probabilities",
    Statistics and Computing 14:251, sec. 2.2-2.3, his BVND routine): :func:`_bvn_low` for |r| < 0.925,
    :func:`_bvn_high` otherwise (numba branches; JAX evaluates both and selects).
    """
    out = _bvn_low(h, k, r) if abs(r) < 0.925 else _bvn_high(h, k, r)
    return min(max(out, 0.0), 1.0)


# ----------------------------------------------------------------------------- closed forms
# Every family: (P, q1, q2, s1, s2, k, rho) -> (T, T'); s = sqrt(q); rho = k / (s1 s2) clipped to [-1, 1]
# (0 when s1 s2 = 0). P is the family's parameter vector (see FAMILIES).


@_dialect
def _f_ab_relu(P, q1, q2, s1, s2, k, rho):
    """a min(x,0) + b max(x,0) [Cho & Saul 2009, n = 1, generalised; NXH20 ABRelu]: theta = arccos rho,
    T = (a-b)^2/(2 pi) s1 s2 sin(theta) + [(a^2+b^2)/2 - (a-b)^2 theta/(2 pi)] k, T' = the bracket."""
    a, b = P[0], P[1]
    theta = _acos(rho)
    bracket = (a * a + b * b) * 0.5 - (a - b) * (a - b) * theta / (2.0 * math.pi)
    T = (a - b) * (a - b) / (2.0 * math.pi) * s1 * s2 * math.sqrt(_max(1.0 - rho * rho, 0.0)) + bracket * k
    return T, bracket


@_dialect
def _f_erf(P, q1, q2, s1, s2, k, rho):
    """a erf(b x) + c [Williams 1997, eq. 11]: with q~ = b^2 q, k~ = b^2 k, T = a^2 (2/pi) arcsin(2 k~ /
    sqrt((1+2 q1~)(1+2 q2~))) + c^2, T' = a^2 b^2 (4/pi) / sqrt((1+2 q1~)(1+2 q2~) - 4 k~^2)."""
    a, b, c = P[0], P[1], P[2]
    b2 = b * b
    prod = (1.0 + 2.0 * b2 * q1) * (1.0 + 2.0 * b2 * q2)
    kk = 2.0 * b2 * k
    T = a * a * (2.0 / math.pi) * _asin(_max(_min(kk / math.sqrt(prod), 1.0), -1.0)) + c * c
    Td = a * a * b2 * (4.0 / math.pi) / math.sqrt(_max(prod - kk * kk, 1e-300))
    return T, Td


@_dialect
def _f_gelu(P, q1, q2, s1, s2, k, rho):
    """x Phi(x) [Tsuchida, Pearce, van der Heide, Roosta & Gallagher 2020, arXiv:2002.08517, sec. 4; NXH20 Gelu]:
    with D^2 = (1+q1)(1+q2) - k^2 and alpha = arcsin(k / sqrt((1+q1)(1+q2))),
    T = k/4 + [(k^2 + q1 q2 D^2) / ((1+q1)(1+q2) D) + k alpha] / (2 pi),
    T' = 1/4 + alpha/(2 pi) + k / (2 pi D) [1/D^2 + (1 - q1 q2)/((1+q1)(1+q2)) + 1]."""
    pp = (1.0 + q1) * (1.0 + q2)
    d2 = _max(pp - k * k, 1e-300)
    d = math.sqrt(d2)
    alpha = _asin(_max(_min(k / math.sqrt(pp), 1.0), -1.0))
    T = 0.25 * k + ((k * k + q1 * q2 * d2) / (pp * d) + k * alpha) / (2.0 * math.pi)
    Td = 0.25 + alpha / (2.0 * math.pi) + k / (2.0 * math.pi * d) * (1.0 / d2 + (1.0 - q1 * q2) / pp + 1.0)
    return T, Td


@_dialect
def _f_heaviside(P, q1, q2, s1, s2, k, rho):
    """c+ 1[x>0] + c- 1[x<0] (sign: (1, -1); step: (1, 0)): P(u>0, v>0) = (pi - theta)/(2 pi) (Sheppard 1899;
    Cho & Saul 2009, J_0), so T = (c+^2 + c-^2)(pi - theta)/(2 pi) + 2 c+ c- theta/(2 pi); T' = 0 (a.e.)."""
    cp, cm = P[0], P[1]
    theta = _acos(rho)
    T = (cp * cp + cm * cm) * (math.pi - theta) / (2.0 * math.pi) + cp * cm * theta / math.pi
    T = _where(s1 * s2 > 0, T, 0.0 * T)  # phi(0) = 0
    return T, 0.0 * T


@_dialect
def _f_sin(P, q1, q2, s1, s2, k, rho):
    """a sin(b x + c), P = (a, b, cos 2c) [NXH20 Sin; E cos(w u) = exp(-w^2 q / 2)]:
    T = a^2/2 [e^{-b^2 (q1+q2-2k)/2} - cos(2c) e^{-b^2 (q1+q2+2k)/2}], T' = a^2 b^2/2 [same with + ]."""
    a, b, cos2c = P[0], P[1], P[2]
    b2 = b * b
    e1 = math.exp(-0.5 * b2 * (q1 + q2 - 2.0 * k))
    e2 = cos2c * math.exp(-0.5 * b2 * (q1 + q2 + 2.0 * k))
    return 0.5 * a * a * (e1 - e2), 0.5 * a * a * b2 * (e1 + e2)


@_dialect
def _f_exp(P, q1, q2, s1, s2, k, rho):
    """a exp(b x) [NXH20 Exp; Gaussian MGF]: T = a^2 exp(b^2 (q1 + q2 + 2k)/2), T' = b^2 T."""
    a, b = P[0], P[1]
    T = a * a * math.exp(0.5 * b * b * (q1 + q2 + 2.0 * k))
    return T, b * b * T


@_dialect
def _f_gaussian(P, q1, q2, s1, s2, k, rho):
    """a exp(b x^2), b < 0 [NXH20 Gaussian]: with det = (1 - 2b q1)(1 - 2b q2) - 4 b^2 k^2,
    T = a^2 / sqrt(det), T' = 4 a^2 b^2 k / det^{3/2}."""
    a, b = P[0], P[1]
    det = (1.0 - 2.0 * b * q1) * (1.0 - 2.0 * b * q2) - 4.0 * b * b * k * k
    T = a * a / math.sqrt(det)
    return T, 4.0 * b * b * k * T / det


@_dialect(heavy=True)
def _j_sum(P, start, psi, s, c):
    """sum of the terms P[start + 1 + 4 i : ...] = (e, p, r, coef) of J_n: coef psi^e s^p c^r."""
    out = 0.0 * psi
    for i in range(int(P[start])):
        j = start + 1 + 4 * i
        out = out + P[j + 3] * psi ** P[j] * s ** P[j + 1] * c ** P[j + 2]
    return out


@_dialect(heavy=True)
def _f_rect_monomial(P, q1, q2, s1, s2, k, rho):
    """x^n 1[x>0], n >= 2 [Cho & Saul 2009, sec. 2.1]: T = (s1 s2)^n J_n(theta) / (2 pi),
    T' = n^2 (s1 s2)^{n-1} J_{n-1}(theta) / (2 pi). P = (n, terms of J_n, terms of J_{n-1}); see
    :func:`arccos_j_terms`."""
    n = P[0]
    theta = _acos(rho)
    psi, c = math.pi - theta, rho
    s = math.sqrt(_max(1.0 - rho * rho, 0.0))
    m = s1 * s2
    T = m**n * _j_sum(P, 1, psi, s, c) / (2.0 * math.pi)
    Td = n * n * m ** (n - 1.0) * _j_sum(P, 2 + 4 * int(P[1]), psi, s, c) / (2.0 * math.pi)
    return T, Td


@_dialect(heavy=True)
def _tilted(q1, q2, s1, s2, k, rho, g1, g2, l1, l2):
    """For (u, v) ~ N(0, [[q1, k], [k, q2]]) and the quadrant g1 u > 0, g2 v > 0 (g = +-1):
    (E1, Eu, Ev, Euv) = E[(1, u, v, uv) exp(l1 u + l2 v) 1[quadrant]].

    Exponential tilting moves the mean to m = Sigma (l1, l2) and multiplies by Z = exp((l1, l2) Sigma (l1, l2)/2);
    in standardised, sign-flipped variables X = g1 (u - m1)/s1 > h, Y = g2 (v - m2)/s2 > kk with correlation
    r = g1 g2 rho, Stein's identity gives (Q_h = P(Y > kk | X = h), Q_k = P(X > h | Y = kk), sig = sqrt(1-r^2))
    E[X 1] = pdf(h) Q_h + r pdf(kk) Q_k, E[XY 1] = pdf(h) (r h Q_h + sig pdf((kk - r h)/sig)) + r P + r kk pdf(kk) Q_k,
    P = :func:`bvn_upper`(h, kk, r) (Rosenbaum 1961, "Moments of a truncated bivariate normal distribution",
    JRSS B 23:405, the same moments). sig is clamped at 1e-300, which gives the exact limits at |r| = 1.
    """
    Z = math.exp(0.5 * (l1 * l1 * q1 + 2.0 * l1 * l2 * k + l2 * l2 * q2))
    m1 = l1 * q1 + l2 * k
    m2 = l1 * k + l2 * q2
    h = -g1 * m1 / s1
    kk = -g2 * m2 / s2
    r = g1 * g2 * rho
    sig = math.sqrt(_max((1.0 - r) * (1.0 + r), 1e-300))
    P = bvn_upper(h, kk, r)
    qh = _phi_upper((kk - r * h) / sig)
    qk = _phi_upper((h - r * kk) / sig)
    ph, pk = _npdf(h), _npdf(kk)
    ex = ph * qh + r * pk * qk
    ey = pk * qk + r * ph * qh
    exy = ph * (r * h * qh + sig * _npdf((kk - r * h) / sig)) + r * P + r * kk * pk * qk
    E1 = Z * P
    Eu = Z * (m1 * P + g1 * s1 * ex)
    Ev = Z * (m2 * P + g2 * s2 * ey)
    Euv = Z * (m1 * m2 * P + m1 * g2 * s2 * ey + m2 * g1 * s1 * ex + g1 * g2 * s1 * s2 * exy)
    return E1, Eu, Ev, Euv


@_dialect(heavy=True)
def _f_pexp(P, q1, q2, s1, s2, k, rho):
    """phi = alpha + beta x + gamma e^{lambda x} on x > 0 and on x < 0, continuous at 0: elu, selu, celu
    (Tsuchida et al. 2020, arXiv:2002.08517, sec. 4, for ELU). T and T' (phi' = beta + gamma lambda e^{lambda x}
    per side) are sums over the four sign quadrants and the tilts (0 or lambda per side) of the truncated, tilted
    moments of :func:`_tilted`; P = (number of terms, then per term g1, g2, l1, l2 and the coefficients of E1, Eu,
    Ev, Euv in T and of E1 in T'), built by :func:`_pexp_terms`."""
    s1 = _max(s1, 1e-150)  # q = 0: u = 0 sits on the boundary, half on each side: phi(0) by continuity
    s2 = _max(s2, 1e-150)
    T = 0.0 * k
    Td = 0.0 * k
    for c in range(int(P[0])):
        j = 1 + 9 * c
        E1, Eu, Ev, Euv = _tilted(q1, q2, s1, s2, k, rho, P[j], P[j + 1], P[j + 2], P[j + 3])
        T = T + P[j + 4] * E1 + P[j + 5] * Eu + P[j + 6] * Ev + P[j + 7] * Euv
        Td = Td + P[j + 8] * E1
    return T, Td


def _pexp_terms(params) -> list[float]:
    """The term table of :func:`_f_pexp` for params = (alpha+, beta+, gamma+, lambda+, alpha-, beta-, gamma-,
    lambda-): phi(u) phi(v) = sum over quadrants (g1, g2) of (a1 + b1 u + c1 e^{l1 u})(a2 + b2 v + c2 e^{l2 v})
    and phi'(u) phi'(v) of (b1 + c1 l1 e^{l1 u})(b2 + c2 l2 e^{l2 v}), expanded by tilt."""
    rows = []
    for g1 in (1.0, -1.0):
        for g2 in (1.0, -1.0):
            a1, b1, c1, l1 = params[0:4] if g1 > 0 else params[4:8]
            a2, b2, c2, l2 = params[0:4] if g2 > 0 else params[4:8]
            for t1, t2, coef in (
                (0.0, 0.0, (a1 * a2, b1 * a2, a1 * b2, b1 * b2, b1 * b2)),
                (l1, 0.0, (c1 * a2, 0.0, c1 * b2, 0.0, c1 * l1 * b2)),
                (0.0, l2, (c2 * a1, c2 * b1, 0.0, 0.0, b1 * c2 * l2)),
                (l1, l2, (c1 * c2, 0.0, 0.0, 0.0, c1 * l1 * c2 * l2)),
            ):
                if any(coef):
                    rows.append((g1, g2, t1, t2, *coef))
    return [float(len(rows))] + [float(v) for r in rows for v in r]


def _f_pexp_jax(P, q1, q2, s1, s2, k, rho):
    """JAX form of :func:`_f_pexp`: the same tilted moments, vmapped over the terms (one traced copy of the
    bivariate normal CDF instead of one per term keeps XLA's compile short)."""
    import jax
    import jax.numpy as jnp

    C = np.asarray(P[1:]).reshape(-1, 9)
    tilted = _jax_namespace()["_tilted"]
    s1, s2 = jnp.maximum(s1, 1e-150), jnp.maximum(s2, 1e-150)
    mom = jax.vmap(lambda g1, g2, t1, t2: jnp.stack(tilted(q1, q2, s1, s2, k, rho, g1, g2, t1, t2)))(*C[:, :4].T)
    T = jnp.tensordot(C[:, 4:8].ravel(), mom.reshape((-1,) + mom.shape[2:]), axes=1)
    return T, jnp.tensordot(C[:, 8], mom[:, 0], axes=1)


AB_RELU, ERF, GELU, HEAVISIDE, SIN, EXP, GAUSSIAN, RECT_MONOMIAL, PEXP, HERMITE = range(10)
FAMILIES: dict[str, int] = {
    "ab_relu": AB_RELU,
    "erf": ERF,
    "gelu": GELU,
    "heaviside": HEAVISIDE,
    "sin": SIN,
    "exp": EXP,
    "gaussian": GAUSSIAN,
    "rect_monomial": RECT_MONOMIAL,
    "pexp": PEXP,
    "polynomial": HERMITE,
}
_CLOSED_FORM_KINDS = frozenset(FAMILIES.values()) - {HERMITE}


@_dialect
def pair(kind, P, q1, q2, s1, s2, k, rho):
    """(T, T') of closed-form family ``kind`` (an int of :data:`FAMILIES`; not HERMITE); the heavy families
    (pexp, rect_monomial) are calls, the rest inline."""
    if kind == AB_RELU:
        return _f_ab_relu(P, q1, q2, s1, s2, k, rho)
    elif kind == ERF:
        return _f_erf(P, q1, q2, s1, s2, k, rho)
    elif kind == GELU:
        return _f_gelu(P, q1, q2, s1, s2, k, rho)
    elif kind == HEAVISIDE:
        return _f_heaviside(P, q1, q2, s1, s2, k, rho)
    elif kind == SIN:
        return _f_sin(P, q1, q2, s1, s2, k, rho)
    elif kind == EXP:
        return _f_exp(P, q1, q2, s1, s2, k, rho)
    elif kind == GAUSSIAN:
        return _f_gaussian(P, q1, q2, s1, s2, k, rho)
    elif kind == RECT_MONOMIAL:
        return _f_rect_monomial(P, q1, q2, s1, s2, k, rho)
    else:
        return _f_pexp(P, q1, q2, s1, s2, k, rho)


@_dialect
def correlation(s1, s2, k):
    """rho = k / (s1 s2) clipped to [-1, 1]; 0 when s1 s2 = 0."""
    d = s1 * s2
    return _where(d > 0, _max(_min(k / _where(d > 0, d, 1.0), 1.0), -1.0), 0.0 * k)


@njit(cache=True, error_model="numpy", fastmath=_FM)
def _pairs(kind, P, q1, q2, k, diagonal):
    """Vectorised :func:`pair` over 1-D arrays (q1, q2, k); ``diagonal``: q1 = q2 = k and rho = 1 exactly (the
    rounding of k / sqrt(q1 q2) would cost sqrt(eps) in arccos and sqrt(1 - rho^2))."""
    n = q1.shape[0]
    T, Td = np.empty(n), np.empty(n)
    for i in range(n):
        s1, s2 = math.sqrt(q1[i]), math.sqrt(q2[i])
        rho = 1.0 if diagonal else correlation(s1, s2, k[i])
        T[i], Td[i] = pair(kind, P, q1[i], q2[i], s1, s2, k[i], rho)
    return T, Td


# ----------------------------------------------------------------------------- JAX re-binding


@functools.cache
def _jax_namespace() -> dict:
    """The dialect functions re-bound to jax.numpy primitives (one shared globals dict)."""
    import jax.numpy as jnp
    import jax.scipy.special as jsp

    g = dict(globals())
    g["math"] = types.SimpleNamespace(  # the dialect's math functions, elementwise in JAX
        sqrt=jnp.sqrt, exp=jnp.exp, erfc=jsp.erfc, sin=jnp.sin, cos=jnp.cos, pi=math.pi
    )
    mods = {"jnp": jnp, "jsp": jsp}
    for name, fn in _PY.items():
        g[name] = types.FunctionType(fn.__code__, g, name, fn.__defaults__, fn.__closure__)
    for name, target in _JAX_PRIMS.items():
        mod, attr = target.split(".")
        g[name] = g[attr] if mod == "dialect" else getattr(mods[mod], attr)
    g["_f_pexp"] = _f_pexp_jax
    return g


def jax_pair(kind: int, P: np.ndarray) -> Callable:
    """The closed form of family ``kind`` with parameters ``P`` (numpy, static) as a jax.numpy function
    (q1, q2, s1, s2, k, rho) -> (T, T'), elementwise and broadcasting; device-agnostic."""
    kind = integer("kind", kind)
    if kind not in _CLOSED_FORM_KINDS:
        raise ValueError(
            f"kind must be a closed-form family of FAMILIES, one of {sorted(_CLOSED_FORM_KINDS)}, got {kind}"
        )
    P = real_array("P", P, ndim=1, min_size=0)
    fn = _jax_namespace()["pair"]
    return lambda q1, q2, s1, s2, k, rho: fn(kind, P, q1, q2, s1, s2, k, rho)


def jax_kernel_map(dual: tuple) -> Callable:
    """``Activation.kernel_map`` convention, (s1, s2, rho) -> (T, T'), of the closed form tagged ``dual``."""
    instance("dual", dual, tuple, "a tuple (family name, *parameters)")
    if not dual or dual[0] not in FAMILIES or dual[0] == "polynomial":
        raise ValueError(f"dual must start with a closed-form family name of FAMILIES, got {dual!r}")
    kind, P = _family(dual)
    f = jax_pair(kind, P)
    return lambda s1, s2, rho: f(s1 * s1, s2 * s2, s1, s2, s1 * s2 * rho, rho)


# ----------------------------------------------------------------------------- arc-cosine J_n


def arccos_j_terms(n: int) -> tuple[tuple[int, int, int, float], ...]:
    """Terms (e, p, r, coef) with J_n(theta) = sum coef (pi - theta)^e sin(theta)^p cos(theta)^r.

    Cho & Saul 2009 ("Kernel methods for deep learning", NeurIPS, sec. 2.1):
    J_n(theta) = (-1)^n sin(theta)^{2n+1} (1/sin(theta) d/dtheta)^n ((pi - theta)/sin(theta)); the operator is
    applied symbolically to monomials psi^e s^p c^r (psi = pi - theta), so every exponent is >= 0 at the end.
    J_0 = pi - theta, J_1 = sin theta + (pi - theta) cos theta, J_2 = 3 sin cos + (pi - theta)(1 + 2 cos^2).
    """
    return _arccos_j_terms(integer("n", n, lower=0, upper=100))  # validated before the cache sees it (1.0 == 1)


@functools.cache
def _arccos_j_terms(n: int) -> tuple[tuple[int, int, int, float], ...]:
    terms: dict[tuple[int, int, int], float] = {(1, -1, 0): 1.0}
    for _ in range(n):
        new: dict[tuple[int, int, int], float] = {}
        for (e, p, r), c in terms.items():
            for key, val in (
                ((e - 1, p - 1, r), -e * c),
                ((e, p - 2, r + 1), p * c),
                ((e, p, r - 1), -r * c),
            ):
                if val != 0:
                    new[key] = new.get(key, 0.0) + val
        terms = {key: v for key, v in new.items() if v != 0}
    sign = (-1.0) ** n
    return tuple(sorted((e, p + 2 * n + 1, r, sign * c) for (e, p, r), c in terms.items()))


def _j_params(n: int) -> list[float]:
    terms = arccos_j_terms(n)
    return [float(len(terms))] + [float(v) for t in terms for v in t]


# ----------------------------------------------------------------------------- Hermite expansions


class HermiteDidNotConverge(FloatingPointError):
    """The Hermite spectrum of the activation did not decay within _M_MAX nodes (kinks, jumps, or a very large
    variance): use a quadrature instead."""


@functools.cache
def _gh_rule(M: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """M-node Gauss-Hermite rule for N(0, 1) (M even): nodes t, weights w, and the even and odd rows of
    V[k, m] = w_m h_k(t_m) on the positive nodes, contiguous: Ve = V[0::2, M/2:], Vo = V[1::2, M/2:].

    Nodes and weights from scipy.special.roots_hermitenorm; u_k(t_m) = sqrt(w_m) h_k(t_m) (the Golub-Welsch
    eigenvector entries) by the forward three-term recurrence u_{k+1} = (t u_k - sqrt(k) u_{k-1}) / sqrt(k+1),
    which never overflows (where sqrt(w_m) underflows, the node's contribution is below 1e-300 anyway).
    """
    t, w = roots_hermitenorm(M)
    w = w / math.sqrt(2 * math.pi)
    r = np.sqrt(w[M // 2 :])
    tp = t[M // 2 :]
    V = np.empty((M, M // 2))
    u_prev, u = np.zeros(M // 2), r
    V[0] = r * u
    for k in range(M - 1):
        u_prev, u = u, (tp * u - math.sqrt(k) * u_prev) / math.sqrt(k + 1)
        V[k + 1] = r * u
    return t, w, np.ascontiguousarray(V[0::2]), np.ascontiguousarray(V[1::2])


def _eval(fn: Callable, x: np.ndarray) -> np.ndarray:
    """fn on a float64 array (numpy or JAX-traceable callables; JAX runs in a local x64 context)."""
    import jax

    with jax.enable_x64(True), np.errstate(over="ignore", under="ignore"):  # e.g. 1/cosh(z)^2 -> 0 far out
        return np.asarray(fn(x), dtype=np.float64)


def _values(fn: Callable, s: np.ndarray, M: int) -> np.ndarray:
    """(n, M): fn(s_i t_m) on the M-node rule."""
    t = _gh_rule(M)[0]
    F = _eval(fn, (s[:, None] * t[None, :]).ravel()).reshape(s.size, M)
    if not np.all(np.isfinite(F)):
        raise ValueError("the activation returned non-finite values on the quadrature nodes")
    return F


def _project(F: np.ndarray, rows: int) -> np.ndarray:
    """(rows, n): c_k = sum_m w_m h_k(t_m) F[:, m], k < rows, over half the nodes: the nodes are symmetric
    (t_{M-1-m} = -t_m) and h_k has parity (-1)^k, so even k see the even part of F and odd k its odd part."""
    M = F.shape[1]
    h = M // 2
    _, _, Ve, Vo = _gh_rule(M)
    pos, neg = F[:, h:], F[:, h - 1 :: -1]
    rows = min(rows, M)
    out = np.zeros((rows, F.shape[0]))
    even, odd = pos + neg, pos - neg
    if np.any(even):  # an odd phi (tanh) has no even coefficients, an even one (phi' of tanh) no odd ones
        out[0::2] = (even @ Ve[: (rows + 1) // 2].T).T
    if np.any(odd):
        out[1::2] = (odd @ Vo[: rows // 2].T).T
    return out


def _order(c: np.ndarray, tol: float) -> int | None:
    """Smallest K with sum_{k>K} c_k^2 <= tol sum_k c_k^2 for every column of a full (M-row) spectrum, None if
    the M-node rule does not resolve it (energy above 3M/4 more than 1e-3 tol: aliasing onto k <= K comes from
    degrees >= 2M - K, far beyond)."""
    sq = c * c
    E = sq.sum(0)
    scale = np.where(E > 0, E, 1.0)
    tail = np.cumsum(sq[::-1], 0)[::-1] / scale  # tail[k] = sum_{j >= k} / E
    M = c.shape[0]
    if np.any(tail[3 * M // 4] > 1e-3 * tol):
        return None
    ok = np.all(tail <= tol, axis=1)  # ok[k]: truncating before k is within tol
    return max(int(np.argmax(ok)) - 1, 0)


def hermite_coefficients(
    act, variances, tol: float = HERMITE_TOL
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Hermite coefficients of phi and phi' at the given variances, truncated with a certified bound.

    Returns (A, B, EA, EB): A[k, i] = E[phi(s_i Z) h_k(Z)], B[k, i] = E[phi'(s_i Z) h_k(Z)] for k <= K (same K
    for both), s_i = sqrt(variances[i]); EA[i] = E[phi(s_i Z)^2], EB[i] = E[phi'(s_i Z)^2] (the diagonal T, T').
    K is the smallest order with EA - sum_{k<=K} A_k^2 <= tol EA and the same for B, for every input (the tails
    by the rule's Parseval identity, ~1e-15 EA in round-off). M doubles from 64 until the full spectra at five
    quantiles of the variances are resolved (:func:`_order`); raises :class:`HermiteDidNotConverge` when no
    M <= 2048 does. See the module docstring for the bound.
    """
    _check_activation("act", act)
    v = real_array("variances", variances, lower=0.0)
    if not (isinstance(tol, float | int) and not isinstance(tol, bool) and 1e-15 <= tol < 1):  # 1e-15: round-off
        raise ValueError(f"tol must be a number in (0, 1), got {tol!r}")
    s = np.sqrt(v.astype(np.float64).ravel())
    with _one_blas_thread():
        return _hermite(act, s, tol)


def _one_blas_thread():
    """One BLAS thread for the many small products of the Hermite tables (multi-threaded OpenBLAS spends more
    time waking and spinning threads than multiplying at these sizes: measured ~5x slower on 2 cores)."""
    return _blas_controller().limit(limits=1, user_api="blas")


@functools.cache
def _blas_controller() -> ThreadpoolController:
    return ThreadpoolController()


def _hermite(act, s: np.ndarray, tol: float):
    """Up to 4 groups of inputs by standard deviation, each with the rule and order its largest variance needs
    (the spectrum widens with the variance: a few large inputs no longer set M for all), zero-padded to the
    largest order (which keeps every group's bound)."""
    order = np.argsort(s)
    spread = s[order[-1]] > 1.5 * s[order[0]]
    groups = np.array_split(order, max(1, min(4, s.size // 32))) if spread else [order]
    parts = [_hermite_group(act, s[g], tol) for g in groups]
    K = max(p[0].shape[0] for p in parts)
    A, B, EA, EB = np.zeros((K, s.size)), np.zeros((K, s.size)), np.empty(s.size), np.empty(s.size)
    for g, (a, b, ea, eb) in zip(groups, parts):
        A[: a.shape[0], g], B[: b.shape[0], g], EA[g], EB[g] = a, b, ea, eb
    return A, B, EA, EB


def _hermite_group(act, s: np.ndarray, tol: float):
    probe = np.quantile(s, [0.0, 0.25, 0.5, 0.75, 1.0], method="nearest")
    M = _M_START
    while True:
        KA = _order(_project(_values(act.phi, probe, M), M), tol)
        KB = _order(_project(_values(act.dphi, probe, M), M), tol)
        if KA is not None and KB is not None:
            F, Fd = _values(act.phi, s, M), _values(act.dphi, s, M)
            w = _gh_rule(M)[1]
            EA, EB = (F * F) @ w, (Fd * Fd) @ w
            K = max(KA, KB)
            while K <= 3 * M // 4:
                A, B = _project(F, K + 1), _project(Fd, K + 1)
                tail_a = EA - np.sum(A * A, 0)
                tail_b = EB - np.sum(B * B, 0)
                if np.all(tail_a <= tol * EA) and np.all(tail_b <= tol * EB):
                    return A, B, EA, EB
                K += max(8, K // 4)
        if M >= _M_MAX:
            raise HermiteDidNotConverge(
                f"the Hermite spectrum of {act.name} did not decay within {M} Gauss-Hermite nodes at variances up "
                f"to {float(np.max(s) ** 2):.3g} (a kink, a jump or a steep activation)"
            )
        M *= 2


# ----------------------------------------------------------------------------- plans


def _family(dual: tuple) -> tuple[int, np.ndarray]:
    name, *params = dual
    if name not in FAMILIES or name == "polynomial":
        raise ValueError(f"unknown closed-form family {name!r}; known: {sorted(FAMILIES)}")
    if name == "rect_monomial":
        n = int(params[0])
        return RECT_MONOMIAL, np.array([n, *_j_params(n), *_j_params(n - 1)], dtype=np.float64)
    if name == "sin":
        a, b, c = params
        return SIN, np.array([a, b, math.cos(2 * c)], dtype=np.float64)
    if name == "pexp":
        return PEXP, np.array(_pexp_terms(params), dtype=np.float64)
    return FAMILIES[name], np.array(params, dtype=np.float64)


@dataclass(frozen=True)
class DualPlan:
    """How the dual kernel of one activation is evaluated: ``kind`` (a :data:`FAMILIES` value) with parameter
    vector ``P`` for closed forms, or kind HERMITE with ``act`` (phi, phi') expanded per layer."""

    kind: int
    P: np.ndarray
    act: object
    method: str  # "closed form", "hermite (exact)" or "hermite"

    def diagonal(self, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(E phi(u)^2, E phi'(u)^2) for u ~ N(0, q), elementwise (closed forms; use :meth:`tables` for HERMITE)."""
        q = np.ascontiguousarray(q, dtype=np.float64)
        return _pairs(self.kind, self.P, q, q, q, True)

    def tables(self, q: np.ndarray):
        """Hermite tables (A, B, EA, EB) at variances q (kind HERMITE only). A polynomial of degree p has exactly
        p + 1 coefficients, all exact on a rule of M > p nodes (the integrands are polynomials of degree <= 2p):
        no search."""
        if self.method != "hermite (exact)":
            return hermite_coefficients(self.act, q)
        degree = len(self.act.dual) - 2
        M = max(8, 2 * (degree // 2 + 1))  # even, > degree
        s = np.sqrt(np.asarray(q, dtype=np.float64).ravel())
        F, Fd = _values(self.act.phi, s, M), _values(self.act.dphi, s, M)
        w = _gh_rule(M)[1]
        return _project(F, degree + 1), _project(Fd, degree + 1), (F * F) @ w, (Fd * Fd) @ w


def plan(act) -> DualPlan | None:
    """The :class:`DualPlan` of an ``spec.Activation``: its closed form if tagged (``act.dual``), a Hermite
    series if it has no kinks, else None (no dual kernel here: integrate numerically)."""
    _check_activation("act", act)
    dual = act.dual
    if dual:
        if dual[0] == "polynomial":
            return DualPlan(HERMITE, np.zeros(0), act, "hermite (exact)")
        kind, P = _family(dual)
        return DualPlan(kind, P, act, "closed form")
    if not act.kinks and getattr(act, "kernel_map", None) is None and _smooth_at_zero(act.phi):
        return DualPlan(HERMITE, np.zeros(0), act, "hermite")
    return None


def _check_activation(name: str, act) -> None:
    """An ``spec.Activation`` (checked by its fields: spec imports this module)."""
    if not all(callable(getattr(act, f, None)) for f in ("phi", "dphi")) or not hasattr(act, "kinks"):
        raise InvalidType(f"{name} must be a dltheory.theory.spec.Activation, got {act!r}")


def _smooth_at_zero(fn: Callable, h: float = 1e-5) -> bool:
    """False if phi jumps or kinks at 0 (second-order one-sided differences): a user callable such as a relu
    skips the Hermite series, whose spectrum would decay only algebraically, and goes straight to quadrature."""
    f = _eval(fn, np.array([-2 * h, -h, 0.0, h, 2 * h]))
    scale = 1.0 + abs(f[4] - f[3]) / h + abs(f[1] - f[0]) / h  # slopes away from 0
    if abs(f[3] - f[1]) > 10 * h * scale:  # a jump
        return False
    left = (3 * f[2] - 4 * f[1] + f[0]) / (2 * h)
    right = (-3 * f[2] + 4 * f[3] - f[4]) / (2 * h)
    return abs(right - left) <= 1e-6 * scale


def method(activation) -> str:
    """How dltheory evaluates this activation's dual kernel: "closed form", "hermite (exact)" (polynomials),
    "hermite" (smooth, certified truncation) or "quadrature" (kinked callables, infinite_width's polar rule)."""
    from dltheory.theory.spec import get_activation

    p = plan(get_activation(activation))
    return "quadrature" if p is None else p.method


def _covariances(q1, q2, k) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(q1, q2, k) broadcast to float64, checked: finite, q >= 0, k^2 <= q1 q2 (to round-off)."""
    arrs = []
    for name, a in (("q1", q1), ("q2", q2), ("k", k)):
        arr = np.asarray(a)
        if arr.dtype.kind not in "iuf":
            raise TypeError(f"{name} must be real numbers, got dtype {arr.dtype}")
        arr = arr.astype(np.float64)
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"{name} must be finite")
        arrs.append(arr)
    q1, q2, k = np.broadcast_arrays(*arrs)
    if np.any(q1 < 0) or np.any(q2 < 0):
        raise ValueError("q1 and q2 (variances) must be >= 0")
    if np.any(k * k > q1 * q2 * (1 + 1e-12)):
        raise ValueError("k must satisfy k^2 <= q1 q2 (a covariance)")
    return q1, q2, k


@overflow_guard
def dual_kernel(activation, q1, q2, k) -> tuple[np.ndarray, np.ndarray]:
    """(T, T') = (E phi(u) phi(v), E phi'(u) phi'(v)), (u, v) ~ N(0, [[q1, k], [k, q2]]), broadcast, float64.

    Closed form or certified Hermite series (module docstring); raises ValueError for activations without either
    (use dltheory.theory.infinite_width.gaussian_expectations, which integrates them) and
    :class:`HermiteDidNotConverge` when the series cannot reach HERMITE_TOL.
    """
    from dltheory.theory.spec import get_activation

    act = get_activation(activation)
    q1, q2, k = _covariances(q1, q2, k)
    shape = q1.shape
    q1, q2, k = (np.ascontiguousarray(a).ravel() for a in (q1, q2, k))
    p = plan(act)
    if p is None:
        raise ValueError(f"{act.name} has kinks and no closed-form dual kernel; integrate it numerically")
    if p.kind != HERMITE:
        T, Td = _pairs(p.kind, p.P, q1, q2, k, False)
        return T.reshape(shape), Td.reshape(shape)
    uq, inv = np.unique(np.concatenate([q1, q2]), return_inverse=True)
    A, B, _, _ = p.tables(uq)  # one truncation order, certified for both sides
    i1, i2 = inv[: q1.size], inv[q1.size :]
    s1, s2 = np.sqrt(q1), np.sqrt(q2)
    rho = np.clip(np.divide(k, s1 * s2, out=np.zeros_like(k), where=s1 * s2 > 0), -1, 1)
    powers = rho[None, :] ** np.arange(A.shape[0])[:, None]
    T = np.sum(A[:, i1] * A[:, i2] * powers, 0)
    Td = np.sum(B[:, i1] * B[:, i2] * powers, 0)
    return T.reshape(shape), Td.reshape(shape)
