"""Definitions that predictions (dltheory.theory) and simulators (dltheory.simulators) must agree on.

The only theory module that simulators may import: activations and constants, never a prediction.

- :class:`Activation`: phi and phi' as numpy functions, the same phi as a JAX-traceable function, the kinks
  (points where phi' jumps), the universality class of Roberts, Yaida & Hanin, "The Principles of Deep Learning
  Theory", arXiv:2106.10165, sec. 5.2-5.3, and, where one exists, a tag naming its closed-form dual kernel
  (T, T') = (E phi(u) phi(v), E phi'(u) phi'(v)) over a centred Gaussian pair (u, v) (the formulas live in
  dltheory.theory.dual_kernels).
- :data:`ACTIVATIONS` and :func:`get_activation`: the registry by name; :func:`ab_relu`, :func:`leaky_relu`,
  :func:`selu`, :func:`elu`, :func:`swish`, :func:`scaled_erf`, :func:`sin`, :func:`cos`, :func:`rbf`,
  :func:`exponential`, :func:`gaussian`, :func:`polynomial`, :func:`monomial` and :func:`rectified_monomial`
  build parametrised members (neural-tangents' stax activations, Novak et al. 2020, arXiv:1912.02803).
- :data:`SELU_LAMBDA`, :data:`SELU_ALPHA`: Klambauer, Unterthiner, Mayr & Hochreiter, "Self-normalizing neural
  networks", NeurIPS 2017, arXiv:1706.02515, eq. 14 (closed forms).
- :func:`relu_slopes`: the shaped ReLU of Li, Nica & Roy, "The neural covariance SDE", NeurIPS 2022,
  arXiv:2206.02768, sec. 2.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, replace

import jax
import jax.numpy as jnp
import mpmath
import numpy as np
from scipy.special import erf, expit

from dltheory.theory._validate import flag, integer_at_least, overflow_guard, real_array, real_scalar

__all__ = [
    "Activation",
    "ACTIVATIONS",
    "get_activation",
    "ab_relu",
    "leaky_relu",
    "selu",
    "elu",
    "swish",
    "scaled_erf",
    "sin",
    "cos",
    "rbf",
    "exponential",
    "gaussian",
    "polynomial",
    "monomial",
    "rectified_monomial",
    "SELU_LAMBDA",
    "SELU_ALPHA",
    "UNIVERSALITY_CLASSES",
    "relu_slopes",
]

UNIVERSALITY_CLASSES = ("scale_invariant", "k0", "none")


def _selu_constants() -> tuple[float, float]:
    """(lambda_01, alpha_01) from the closed forms of [Klambauer et al. 2017, eq. 14], correctly rounded.

    alpha_01 = -sqrt(2/pi) / (erfc(1/sqrt 2) e^{1/2} - 1),
    lambda_01 = (1 - erfc(1/sqrt 2) sqrt e) sqrt(2 pi)
                / sqrt(2 erfc(sqrt 2) e^2 + pi erfc(1/sqrt 2)^2 e - 2 (2 + pi) erfc(1/sqrt 2) sqrt e + pi + 2).
    Evaluated with 50 significant digits: in float64 the cancellation in alpha_01's denominator costs 3 ulp.
    """
    with mpmath.workdps(50):
        e, pi, r = mpmath.e, mpmath.pi, mpmath.erfc(1 / mpmath.sqrt(2))
        alpha = -mpmath.sqrt(2 / pi) / (r * mpmath.sqrt(e) - 1)
        lam = (
            (1 - r * mpmath.sqrt(e))
            * mpmath.sqrt(2 * pi)
            / mpmath.sqrt(
                2 * mpmath.erfc(mpmath.sqrt(2)) * e**2 + pi * r**2 * e - 2 * (2 + pi) * r * mpmath.sqrt(e) + pi + 2
            )
        )
        return float(lam), float(alpha)


SELU_LAMBDA, SELU_ALPHA = _selu_constants()


@dataclass(frozen=True)
class Activation:
    """An elementwise activation phi.

    ``phi``, ``dphi``: numpy functions z -> phi(z), phi'(z). ``jax_phi``: the same phi, JAX-traceable (simulators
    differentiate it by autodiff). ``kinks``: the points where phi' jumps. ``universality``: "scale_invariant"
    (phi(lambda z) = lambda phi(z) for lambda > 0: linear, relu, abs), "k0" (phi(0) = 0, phi'(0) != 0, smooth:
    tanh, erf; [PDLT] sec. 5.3) or "none". ``dual``: the closed-form dual kernel this phi has, as (family,
    *parameters) of dltheory.theory.dual_kernels.FAMILIES (e.g. ("ab_relu", 0.0, 1.0) for relu), () if none.
    ``kernel_map``: optional closed form ``(s1, s2, rho) -> (T, T')`` in jax.numpy, T = E phi(u) phi(v),
    T' = E phi'(u) phi'(v) for (u, v) centred Gaussian with variances s1^2, s2^2 and correlation rho; filled in
    from ``dual`` (the formulas are written once, in dual_kernels) unless given.
    """

    name: str
    phi: Callable
    dphi: Callable
    jax_phi: Callable
    kinks: tuple[float, ...] = ()
    universality: str = "none"
    kernel_map: Callable | None = None
    dual: tuple = ()

    def __post_init__(self) -> None:
        if self.dual and self.kernel_map is None:
            object.__setattr__(self, "kernel_map", _dual_map(self.dual))


def _dual_map(dual: tuple) -> Callable:
    """The JAX kernel map of the closed form ``dual`` (dltheory.theory.dual_kernels, imported on first use)."""

    def kernel_map(s1, s2, rho):
        from dltheory.theory.dual_kernels import jax_kernel_map

        return jax_kernel_map(dual)(s1, s2, rho)

    return kernel_map


def ab_relu(a: float, b: float) -> Activation:
    """phi(x) = a min(x, 0) + b max(x, 0) (neural-tangents' ABRelu(a, b)); arc-cosine dual kernel."""
    a, b = real_scalar("a", a), real_scalar("b", b)
    return Activation(
        f"ab_relu({a:g},{b:g})",
        lambda z: a * np.minimum(z, 0.0) + b * np.maximum(z, 0.0),
        lambda z: np.where(z > 0, b, a) + 0.0 * z,
        lambda x: a * jnp.minimum(x, 0) + b * jnp.maximum(x, 0),
        (0.0,) if a != b else (),
        "scale_invariant",
        dual=("ab_relu", a, b),
    )


def leaky_relu(alpha: float) -> Activation:
    """phi(x) = max(x, 0) + alpha min(x, 0), closed-form kernel map (neural-tangents' LeakyRelu(alpha))."""
    return ab_relu(real_scalar("alpha", alpha), 1.0)


def _pexp(lam: float, alpha: float) -> tuple:
    """dual tag of lam x (x > 0), lam alpha (e^x - 1) (x <= 0): piecewise alpha + beta x + gamma e^{lambda x}."""
    return ("pexp", 0.0, lam, 0.0, 0.0, -lam * alpha, 0.0, lam * alpha, 1.0)


def selu(lam: float = SELU_LAMBDA, alpha: float = SELU_ALPHA) -> Activation:
    """selu(x) = lam x (x > 0), lam alpha (e^x - 1) (x <= 0) [Klambauer et al. 2017, sec. 3]; kink at 0."""
    lam = real_scalar("lam", lam, lower=0.0, strict=True)
    alpha = real_scalar("alpha", alpha, lower=0.0)
    return Activation(
        "selu",
        lambda z: lam * np.where(z > 0, z, alpha * np.expm1(np.minimum(z, 0.0))),
        lambda z: lam * np.where(z > 0, 1.0, alpha * np.exp(np.minimum(z, 0.0))),
        lambda x: lam * jnp.where(x > 0, x, alpha * jnp.expm1(jnp.minimum(x, 0))),
        (0.0,) if lam * alpha != lam else (),
        dual=_pexp(lam, alpha),
    )


def elu(alpha: float = 1.0) -> Activation:
    """elu(x) = x (x > 0), alpha (e^x - 1) (x <= 0) [Clevert, Unterthiner & Hochreiter 2016, arXiv:1511.07289,
    eq. 15]; phi' jumps at 0 unless alpha = 1."""
    alpha = real_scalar("alpha", alpha, lower=0.0)
    return Activation(
        "elu" if alpha == 1.0 else f"elu({alpha:g})",
        lambda z: np.where(z > 0, z, alpha * np.expm1(np.minimum(z, 0.0))),
        lambda z: np.where(z > 0, 1.0, alpha * np.exp(np.minimum(z, 0.0))),
        lambda x: jnp.where(x > 0, x, alpha * jnp.expm1(jnp.minimum(x, 0))),
        (0.0,) if alpha != 1.0 else (),
        dual=_pexp(1.0, alpha),
    )


def swish(beta: float = 1.0) -> Activation:
    """x sigmoid(beta x) [Ramachandran, Zoph & Le 2017, arXiv:1710.05941]; beta = 1 is silu [Elfwing, Uchibe &
    Doya 2018, arXiv:1702.03118]. Smooth, no closed-form dual kernel (dual_kernels uses its Hermite series)."""
    beta = real_scalar("beta", beta)
    return Activation(
        "silu" if beta == 1.0 else f"swish({beta:g})",
        lambda z: z * expit(beta * z),
        lambda z: expit(beta * z) * (1 + beta * z * (1 - expit(beta * z))),
        lambda x: x * jax.nn.sigmoid(beta * x),
    )


def scaled_erf(a: float = 1.0, b: float = 1.0, c: float = 0.0) -> Activation:
    """a erf(b x) + c (neural-tangents' Erf(a, b, c)); Williams' closed form."""
    a, b, c = real_scalar("a", a), real_scalar("b", b), real_scalar("c", c)
    if (a, b, c) == (1.0, 1.0, 0.0):
        return ACTIVATIONS["erf"]
    return Activation(
        f"erf({a:g},{b:g},{c:g})",
        lambda z: a * erf(b * z) + c,
        lambda z: a * b * 2 / math.sqrt(math.pi) * np.exp(-b * b * z * z),
        lambda x: a * jax.scipy.special.erf(b * x) + c,
        universality="k0" if c == 0.0 and a * b != 0.0 else "none",
        dual=("erf", a, b, c),
    )


def _heaviside(name: str, c_plus: float, c_minus: float) -> Activation:
    """c+ 1[x > 0] + c- 1[x < 0], 0 at 0: phi' = 0 almost everywhere (the NTK drops the jump's delta)."""
    return Activation(
        name,
        lambda z: np.where(z > 0, c_plus, np.where(z < 0, c_minus, 0.0)) + 0.0 * z,
        lambda z: 0.0 * z,
        lambda x: jnp.where(x > 0, c_plus, jnp.where(x < 0, c_minus, 0.0)) + 0.0 * x,
        dual=("heaviside", c_plus, c_minus),
    )


def sin(a: float = 1.0, b: float = 1.0, c: float = 0.0) -> Activation:
    """a sin(b x + c) (neural-tangents' Sin(a, b, c)); closed form from the Gaussian characteristic function."""
    a, b, c = real_scalar("a", a), real_scalar("b", b), real_scalar("c", c)
    return Activation(
        f"sin({a:g},{b:g},{c:g})",
        lambda z: a * np.sin(b * z + c),
        lambda z: a * b * np.cos(b * z + c),
        lambda x: a * jnp.sin(b * x + c),
        universality="k0" if c == 0.0 and a * b != 0.0 else "none",
        dual=("sin", a, b, c),
    )


def cos(a: float = 1.0, b: float = 1.0, c: float = 0.0) -> Activation:
    """a cos(b x + c) = a sin(b x + c + pi/2) (neural-tangents' Cos)."""
    act = sin(a, b, real_scalar("c", c) + math.pi / 2)
    return replace(act, name=f"cos({a:g},{b:g},{c:g})", kernel_map=None)


def rbf(gamma: float = 1.0) -> Activation:
    """sqrt(2) sin(sqrt(2 gamma) x + pi/4), whose NNGP map is exp(-gamma (q1 + q2 - 2k)) (neural-tangents' Rbf)."""
    gamma = real_scalar("gamma", gamma, lower=0.0, strict=True)
    return replace(sin(math.sqrt(2.0), math.sqrt(2.0 * gamma), math.pi / 4), name=f"rbf({gamma:g})", kernel_map=None)


def exponential(a: float = 1.0, b: float = 1.0) -> Activation:
    """a exp(b x) (neural-tangents' Exp(a, b))."""
    a, b = real_scalar("a", a), real_scalar("b", b)
    return Activation(
        f"exp({a:g},{b:g})",
        lambda z: a * np.exp(b * z),
        lambda z: a * b * np.exp(b * z),
        lambda x: a * jnp.exp(b * x),
        dual=("exp", a, b),
    )


def gaussian(a: float = 1.0, b: float = -1.0) -> Activation:
    """a exp(b x^2) with b < 0 (neural-tangents' Gaussian(a, b))."""
    a = real_scalar("a", a)
    b = real_scalar("b", b)
    if b >= 0:
        raise ValueError(f"b must be a finite number < 0 (E phi^2 diverges otherwise for large variances), got {b}")
    return Activation(
        f"gaussian({a:g},{b:g})",
        lambda z: a * np.exp(b * z * z),
        lambda z: 2 * a * b * z * np.exp(b * z * z),
        lambda x: a * jnp.exp(b * x * x),
        dual=("gaussian", a, b),
    )


def polynomial(coef) -> Activation:
    """sum_m coef[m] x^m (numpy.polynomial order; neural-tangents' Polynomial); its dual kernel is an exact
    finite Hermite (Mehler) series."""
    c = real_array("coef", coef, ndim=1)
    c = c[: int(np.flatnonzero(c)[-1]) + 1] if np.any(c) else c[:1]
    dc = np.polynomial.polynomial.polyder(c) if c.size > 1 else np.zeros(1)
    return Activation(
        "polynomial(" + ",".join(f"{v:g}" for v in c) + ")",
        lambda z: np.polynomial.polynomial.polyval(z, c) + 0.0 * z,
        lambda z: np.polynomial.polynomial.polyval(z, dc) + 0.0 * z,
        lambda x: functools.reduce(lambda acc, cm: acc * x + cm, c[::-1].tolist(), 0.0 * x),
        universality="scale_invariant" if c.size == 2 and c[0] == 0.0 else "none",
        dual=("polynomial", *c.tolist()),
    )


@overflow_guard
def monomial(degree: int) -> Activation:
    """x^degree (neural-tangents' Monomial)."""
    n = integer_at_least("degree", degree, 0)
    return replace(polynomial([0.0] * n + [1.0]), name=f"monomial({n})")


def rectified_monomial(degree: int) -> Activation:
    """x^degree 1[x > 0] (neural-tangents' RectifiedMonomial): degree 0 is the step, 1 relu; Cho & Saul's
    arc-cosine kernel of order degree."""
    n = integer_at_least("degree", degree, 0)
    if n == 0:
        return ACTIVATIONS["step"]
    if n == 1:
        return ACTIVATIONS["relu"]
    return Activation(
        f"rectified_monomial({n})",
        lambda z: np.maximum(z, 0.0) ** n,
        lambda z: n * np.maximum(z, 0.0) ** (n - 1),
        lambda x: jnp.maximum(x, 0) ** n,
        dual=("rect_monomial", n),
    )


def _gelu(z):
    """Exact gelu z Phi(z) (Hendrycks & Gimpel 2016, arXiv:1606.08415)."""
    return 0.5 * z * (1 + erf(z / math.sqrt(2)))


def _dgelu(z):
    return 0.5 * (1 + erf(z / math.sqrt(2))) + z * np.exp(-z * z / 2) / math.sqrt(2 * math.pi)


ACTIVATIONS: dict[str, Activation] = {
    "linear": Activation(
        "linear", lambda z: z, np.ones_like, lambda x: x, (), "scale_invariant", dual=("ab_relu", 1.0, 1.0)
    ),
    "relu": Activation(
        "relu",
        lambda z: np.maximum(z, 0.0),
        lambda z: (z > 0).astype(z.dtype),
        jax.nn.relu,
        (0.0,),
        "scale_invariant",
        dual=("ab_relu", 0.0, 1.0),
    ),
    "abs": Activation("abs", np.abs, np.sign, jnp.abs, (0.0,), "scale_invariant", dual=("ab_relu", -1.0, 1.0)),
    "tanh": Activation("tanh", np.tanh, lambda z: 1.0 / np.cosh(z) ** 2, jnp.tanh, (), "k0"),
    "erf": Activation(
        "erf",
        erf,
        lambda z: 2 / math.sqrt(math.pi) * np.exp(-z * z),
        jax.scipy.special.erf,
        (),
        "k0",
        dual=("erf", 1.0, 1.0, 0.0),
    ),
    "gelu": Activation("gelu", _gelu, _dgelu, functools.partial(jax.nn.gelu, approximate=False), dual=("gelu",)),
    "selu": selu(),
    "softplus": Activation("softplus", lambda z: np.logaddexp(0.0, z), expit, jax.nn.softplus),
    "elu": elu(),
    "silu": swish(1.0),
    "sign": _heaviside("sign", 1.0, -1.0),
    "step": _heaviside("step", 1.0, 0.0),
    "sin": sin(),
    "cos": replace(cos(), name="cos"),
}
ACTIVATIONS["sin"] = replace(ACTIVATIONS["sin"], name="sin", kernel_map=None)


def get_activation(activation: str | Activation) -> Activation:
    """Look up an activation by name in :data:`ACTIVATIONS`, or pass an :class:`Activation` through."""
    if isinstance(activation, Activation):
        return activation
    if not isinstance(activation, str) or activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)} or an Activation, got {activation!r}")
    return ACTIVATIONS[activation]


@overflow_guard
def relu_slopes(c_plus, c_minus, n, *, unshaped: bool = False) -> tuple[float, float, float]:
    """(s_+, s_-, c) of the shaped ReLU at width n: s_pm = 1 + c_pm / sqrt(n), c = 2 / (s_+^2 + s_-^2).

    phi_s(x) = s_+ max(x, 0) + s_- min(x, 0) [Li, Nica & Roy 2022, sec. 2]; ``unshaped`` gives He's ReLU
    (1, 0, 2). Raises ValueError unless both slopes are > 0 (c_pm > -sqrt(n)), the regime where phi_s is an
    invertible perturbation of the identity.
    """
    n = integer_at_least("n", n, 2)
    c_plus, c_minus = real_scalar("c_plus", c_plus), real_scalar("c_minus", c_minus)
    if flag("unshaped", unshaped):
        return 1.0, 0.0, 2.0
    s_plus, s_minus = 1 + c_plus / math.sqrt(n), 1 + c_minus / math.sqrt(n)
    if s_plus <= 0 or s_minus <= 0:
        raise ValueError(
            f"shaping constants must satisfy c_plus, c_minus > -sqrt(n) = {-math.sqrt(n):.4g} "
            f"(slopes > 0), got c_plus={c_plus}, c_minus={c_minus}, n={n}"
        )
    return s_plus, s_minus, 2.0 / (s_plus**2 + s_minus**2)
