"""Definitions that predictions (dltheory.theory) and simulators (dltheory.simulators) must agree on.

The only theory module that simulators may import: activations and constants, never a prediction.

- :class:`Activation`: phi and phi' as numpy functions, the same phi as a JAX-traceable function, the kinks
  (points where phi' jumps), the universality class of Roberts, Yaida & Hanin, "The Principles of Deep Learning
  Theory", arXiv:2106.10165, sec. 5.2-5.3, and, where one exists, the closed-form kernel map
  (T, T') = (E phi(u) phi(v), E phi'(u) phi'(v)) over a centred Gaussian pair (u, v).
- :data:`ACTIVATIONS` and :func:`get_activation`: the registry by name; :func:`ab_relu`, :func:`leaky_relu` and
  :func:`selu` build parametrised members.
- :data:`SELU_LAMBDA`, :data:`SELU_ALPHA`: Klambauer, Unterthiner, Mayr & Hochreiter, "Self-normalizing neural
  networks", NeurIPS 2017, arXiv:1706.02515, eq. 14 (closed forms).
- :func:`relu_slopes`: the shaped ReLU of Li, Nica & Roy, "The neural covariance SDE", NeurIPS 2022,
  arXiv:2206.02768, sec. 2.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import mpmath
import numpy as np
from scipy.special import erf, expit

from dltheory.theory._validate import integer_at_least, real_scalar

__all__ = [
    "Activation",
    "ACTIVATIONS",
    "get_activation",
    "ab_relu",
    "leaky_relu",
    "selu",
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
    tanh, erf; [PDLT] sec. 5.3) or "none". ``kernel_map``: optional closed form ``(s1, s2, rho) -> (T, T')``
    in jax.numpy, T = E phi(u) phi(v), T' = E phi'(u) phi'(v) for (u, v) centred Gaussian with variances s1^2,
    s2^2 and correlation rho.
    """

    name: str
    phi: Callable
    dphi: Callable
    jax_phi: Callable
    kinks: tuple[float, ...] = ()
    universality: str = "none"
    kernel_map: Callable | None = None


def _ab_relu_kernel_map(a: float, b: float) -> Callable:
    """Kernel map of a min(x, 0) + b max(x, 0) (Cho & Saul 2009, "Kernel methods for deep learning", NeurIPS,
    arc-cosine kernel n = 1, generalised; neural-tangents' ABRelu, Novak et al. 2020, arXiv:1912.02803).

    T = (a-b)^2/(2 pi) sqrt(K11 K22 - K12^2) + [(a^2+b^2)/2 - (a-b)^2 theta/(2 pi)] K12, T' = the bracket,
    theta = arccos(K12 / sqrt(K11 K22)). relu (a, b) = (0, 1): T = sqrt(K11 K22)/(2 pi) [sin theta +
    (pi - theta) cos theta], T' = (pi - theta)/(2 pi) (half of Cho & Saul's k_1 and k_0 / pi).
    """

    def kernel_map(s1, s2, rho):
        theta = jnp.arccos(rho)
        bracket = (a * a + b * b) / 2 - (a - b) ** 2 * theta / (2 * jnp.pi)
        T = s1 * s2 * ((a - b) ** 2 / (2 * jnp.pi) * jnp.sqrt(1 - rho * rho) + bracket * rho)
        return T, bracket + 0 * T

    return kernel_map


def _erf_kernel_map(s1, s2, rho):
    """erf (Williams 1997, "Computing with infinite networks", NeurIPS): T = (2/pi) arcsin(2 K12 /
    sqrt((1+2K11)(1+2K22))), T' = (4/pi)/sqrt((1+2K11)(1+2K22) - 4K12^2)."""
    k11, k22, k12 = s1 * s1, s2 * s2, s1 * s2 * rho
    prod = (1 + 2 * k11) * (1 + 2 * k22)
    return 2 / jnp.pi * jnp.arcsin(2 * k12 / jnp.sqrt(prod)), 4 / jnp.pi / jnp.sqrt(prod - 4 * k12 * k12)


def ab_relu(a: float, b: float) -> Activation:
    """phi(x) = a min(x, 0) + b max(x, 0) with its closed-form kernel map (neural-tangents' ABRelu(a, b))."""
    a, b = real_scalar("a", a), real_scalar("b", b)
    return Activation(
        f"ab_relu({a:g},{b:g})",
        lambda z: a * np.minimum(z, 0.0) + b * np.maximum(z, 0.0),
        lambda z: np.where(z > 0, b, a) + 0.0 * z,
        lambda x: a * jnp.minimum(x, 0) + b * jnp.maximum(x, 0),
        (0.0,) if a != b else (),
        "scale_invariant",
        _ab_relu_kernel_map(a, b),
    )


def leaky_relu(alpha: float) -> Activation:
    """phi(x) = max(x, 0) + alpha min(x, 0), closed-form kernel map (neural-tangents' LeakyRelu(alpha))."""
    return ab_relu(alpha, 1.0)


def selu(lam: float = SELU_LAMBDA, alpha: float = SELU_ALPHA) -> Activation:
    """selu(x) = lam x (x > 0), lam alpha (e^x - 1) (x <= 0) [Klambauer et al. 2017, sec. 3]; kink at 0."""
    lam = real_scalar("lam", lam, lower=0.0, strict=True)
    alpha = real_scalar("alpha", alpha, lower=0.0)
    return Activation(
        "selu",
        lambda z: lam * np.where(z > 0, z, alpha * np.expm1(np.minimum(z, 0.0))),
        lambda z: lam * np.where(z > 0, 1.0, alpha * np.exp(np.minimum(z, 0.0))),
        lambda x: lam * jnp.where(x > 0, x, alpha * jnp.expm1(jnp.minimum(x, 0))),
        (0.0,),
    )


def _gelu(z):
    """Exact gelu z Phi(z) (Hendrycks & Gimpel 2016, arXiv:1606.08415)."""
    return 0.5 * z * (1 + erf(z / math.sqrt(2)))


def _dgelu(z):
    return 0.5 * (1 + erf(z / math.sqrt(2))) + z * np.exp(-z * z / 2) / math.sqrt(2 * math.pi)


ACTIVATIONS: dict[str, Activation] = {
    "linear": Activation("linear", lambda z: z, np.ones_like, lambda x: x, (), "scale_invariant"),
    "relu": Activation(
        "relu",
        lambda z: np.maximum(z, 0.0),
        lambda z: (z > 0).astype(z.dtype),
        jax.nn.relu,
        (0.0,),
        "scale_invariant",
        _ab_relu_kernel_map(0.0, 1.0),
    ),
    "abs": Activation("abs", np.abs, np.sign, jnp.abs, (0.0,), "scale_invariant", _ab_relu_kernel_map(-1.0, 1.0)),
    "tanh": Activation("tanh", np.tanh, lambda z: 1.0 / np.cosh(z) ** 2, jnp.tanh, (), "k0"),
    "erf": Activation(
        "erf",
        erf,
        lambda z: 2 / math.sqrt(math.pi) * np.exp(-z * z),
        jax.scipy.special.erf,
        (),
        "k0",
        _erf_kernel_map,
    ),
    "gelu": Activation("gelu", _gelu, _dgelu, functools.partial(jax.nn.gelu, approximate=False)),
    "selu": selu(),
    "softplus": Activation("softplus", lambda z: np.logaddexp(0.0, z), expit, jax.nn.softplus),
}


def get_activation(activation: str | Activation) -> Activation:
    """Look up an activation by name in :data:`ACTIVATIONS`, or pass an :class:`Activation` through."""
    if isinstance(activation, Activation):
        return activation
    if not isinstance(activation, str) or activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)} or an Activation, got {activation!r}")
    return ACTIVATIONS[activation]


def relu_slopes(c_plus, c_minus, n, *, unshaped: bool = False) -> tuple[float, float, float]:
    """(s_+, s_-, c) of the shaped ReLU at width n: s_pm = 1 + c_pm / sqrt(n), c = 2 / (s_+^2 + s_-^2).

    phi_s(x) = s_+ max(x, 0) + s_- min(x, 0) [Li, Nica & Roy 2022, sec. 2]; ``unshaped`` gives He's ReLU
    (1, 0, 2). Raises ValueError unless both slopes are > 0 (c_pm > -sqrt(n)), the regime where phi_s is an
    invertible perturbation of the identity.
    """
    n = integer_at_least("n", n, 2)
    if unshaped:
        return 1.0, 0.0, 2.0
    c_plus, c_minus = real_scalar("c_plus", c_plus), real_scalar("c_minus", c_minus)
    s_plus, s_minus = 1 + c_plus / math.sqrt(n), 1 + c_minus / math.sqrt(n)
    if s_plus <= 0 or s_minus <= 0:
        raise ValueError(
            f"shaping constants must satisfy c_plus, c_minus > -sqrt(n) = {-math.sqrt(n):.4g} "
            f"(slopes > 0), got c_plus={c_plus}, c_minus={c_minus}, n={n}"
        )
    return s_plus, s_minus, 2.0 / (s_plus**2 + s_minus**2)
