"""Finite-width MLP outputs with an inverse-gamma prior on the readout variance (a scale mixture of the network's
Gaussian readout), sampled exactly in law.

Network (PDLT conventions, dltheory.simulators.abc_mlp): hidden preactivations z^(1) = b^(1) + W^(1) x,
z^(l+1) = b^(l+1) + W^(l+1) phi(z^(l)) with W ~ N(0, C_W / fan_in), b ~ N(0, C_b); readout f = w . phi(z^(L)) with
w_i ~ N(0, sigma^2 / n_L) given sigma^2 ~ InvGamma(a, b), no readout bias. Given the hidden layers and sigma^2 the
outputs on k inputs are exactly N(0, sigma^2 K_hat), K_hat = phi(z^(L))^T phi(z^(L)) / n_L: the hidden layers are drawn
by abc_mlp.forward_gram (exact in law), then sigma^2, then the Gaussian readout.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dltheory.simulators.abc_mlp import forward_gram
from dltheory.theory import _validate as V

__all__ = ["ScaleMixtureSample", "scale_mixture_outputs"]


@dataclass(frozen=True)
class ScaleMixtureSample:
    """``f`` (S, k) outputs; ``K_hat`` (S, k, k) the readout's feature Gram phi^T phi / n_L; ``sigma2`` (S,)."""

    f: np.ndarray
    K_hat: np.ndarray
    sigma2: np.ndarray


def scale_mixture_outputs(
    x, widths, *, activation: str, C_W: float, C_b: float, a: float, b: float, n_nets: int, seed
) -> ScaleMixtureSample:
    """Outputs of ``n_nets`` independent networks with hidden widths ``widths`` (n_1..n_L) on the inputs ``x``
    (k, n_0), readout variance sigma^2 ~ InvGamma(``a``, ``b``) per network (module docstring)."""
    a, b = V.positive("a", a), V.positive("b", b)
    if isinstance(widths, str | bytes) or not isinstance(widths, list | tuple | range | np.ndarray):
        raise V.InvalidType(f"widths must be a non-empty sequence of hidden widths n_1..n_L, got {widths!r}")
    if len(widths) < 1:
        raise ValueError("widths must hold at least one hidden width (depth >= 1), got an empty sequence")
    V.seed("seed", seed)
    g = V.generator("seed", seed)
    try:
        hidden = forward_gram(x, [*widths, 1], activation=activation, C_W=C_W, C_b=C_b, n_nets=n_nets, seed=g)
    except FloatingPointError as err:
        raise FloatingPointError(f"{err} (C_W={C_W}, C_b={C_b})") from None
    K_hat = (hidden.G[:, -1] - C_b) / C_W  # the readout's conditional covariance is C_b + C_W K_hat
    S, k = K_hat.shape[0], K_hat.shape[-1]
    with np.errstate(divide="ignore", over="ignore"):
        sigma2 = b / g.standard_gamma(a, size=S)  # InvGamma(a, b): b / Gamma(a, 1)
    if not np.all(np.isfinite(sigma2)):
        raise FloatingPointError(f"sigma^2 ~ InvGamma(a={a}, b={b}) overflowed float64: a is too small or b too large")
    w, U = np.linalg.eigh(K_hat)
    root = U * np.sqrt(np.clip(w, 0.0, None))[:, None, :]
    f = np.sqrt(sigma2)[:, None] * (root @ g.standard_normal((S, k, 1)))[..., 0]
    return ScaleMixtureSample(f=f, K_hat=K_hat, sigma2=sigma2)
