"""Infinite-width NNGP and NTK kernels of fully connected networks.

References
----------
- [LBN18] J. Lee, Y. Bahri, R. Novak, S. Schoenholz, J. Pennington, J. Sohl-Dickstein, "Deep neural networks
  as Gaussian processes", ICLR 2018, arXiv:1711.00165, sec. 2.3 (NNGP recursion).
- [JGH18] A. Jacot, F. Gabriel, C. Hongler, "Neural tangent kernel", NeurIPS 2018, arXiv:1806.07572, Thm 1.
- [ADH19] S. Arora, S. Du, W. Hu, Z. Li, R. Salakhutdinov, R. Wang, "On exact computation with an infinitely
  wide neural net", NeurIPS 2019, arXiv:1904.11955, sec. 3 (NTK recursion with Sigma-dot).
- [CS09] Y. Cho, L. Saul, "Kernel methods for deep learning", NeurIPS 2009 (arc-cosine kernel, n = 1).
- [W97] C. Williams, "Computing with infinite networks", NeurIPS 1997 (erf kernel).
- [NXH20] R. Novak et al., "Neural tangents", ICLR 2020, arXiv:1912.02803 (conventions reproduced here).
- [SDP20] J. Sohl-Dickstein, R. Novak, S. Schoenholz, J. Lee, "On the infinite width limit of neural networks
  with a standard parameterization", arXiv:2001.07301.

Conventions (exactly neural-tangents' ``stax.serial(Dense, (phi, Dense) x depth)``)
-----------------------------------------------------------------------------------
The network is Dense -> (activation -> Dense) x ``depth`` with scalar output. With T(K) = E[phi(u) phi(v)]
and T'(K) = E[phi'(u) phi'(v)] for (u, v) ~ N(0, [[K11, K12], [K12, K22]]):

- first layer: Sigma^1 = weight_var * x.x' / d + bias_var (d = input dimension);
- "ntk" parameterisation, z = sqrt(weight_var / fan_in) W h + sqrt(bias_var) b with W, b ~ N(0, 1) and
  learning rate 1 for every raw parameter: Theta^1 = Sigma^1, and per hidden layer
  Sigma^{l+1} = weight_var T(Sigma^l) + bias_var, Theta^{l+1} = Sigma^{l+1} + weight_var T'(Sigma^l) Theta^l;
- "standard" parameterisation [SDP20], W ~ N(0, weight_var / fan_in), b ~ N(0, bias_var), learning rate 1 per
  parameter: the NNGP is the same; Theta^1 = x.x' + 1 and Theta^{l+1} = n T(Sigma^l) + 1 + weight_var T' Theta^l
  with n = ``width`` the hidden fan-in (neural-tangents' kernel_fn uses the declared layer width [NXH20]).
  Biases are trained by default, so they add 1 even if bias_var = 0.
- ``train_bias=False``: the NTK of the same network with frozen biases, i.e. the bias gradients left out of
  the NTK's sum: Theta^1 = weight_var x.x'/d (standard: x.x') and Theta^{l+1} = weight_var T(Sigma^l) +
  weight_var T' Theta^l (standard: n T(Sigma^l) + weight_var T' Theta^l); the NNGP is unchanged.
- the NNGP is E[f(x) f(x')] over initialisations; the NTK of a network with several outputs is Theta (x) I.

Numerics
--------
Activations and the registry by name are defined once, in dltheory.theory.spec; their dual kernels (T, T') in
dltheory.theory.dual_kernels: closed forms (relu / leaky / ab-relu / abs / linear, erf, gelu, sign / step,
sin / cos / rbf, exp, gaussian, rectified monomials, elu / selu) and certified Hermite series (polynomials exactly;
tanh, softplus, silu and smooth callables to 1e-13 per layer). Those run through the fused recursion of
dltheory.theory.kernel_recursion (numba on the CPU, or JAX on any device with ``backend="jax"``), float64
throughout. Identical inputs get rho = 1 exactly, so the diagonal is free of the sqrt(round-off) error of
arccos near 1 (neural-tangents' own diagonal carries it: ~1e-8 for relu, worse through sign layers).

The rest (a callable with a kink or jump at 0, a custom Activation with its own JAX ``kernel_map``, a steep
activation whose Hermite series does not converge) uses a bivariate quadrature in JAX that is exact for kinks at
0: in polar coordinates (u, v) = r (sqrt(K11) cos t, sqrt(K22) (rho cos t + sqrt(1 - rho^2) sin t)) both kink
lines u = 0 and v = 0 are rays, so the angle is split into the four sectors they bound (Gauss-Legendre in each)
and the radius uses composite Gauss-Legendre on [0, 12] with weight r exp(-r^2/2) (tail < 1e-30). Kinks away
from 0 are not split (accuracy then degrades to algebraic convergence). It runs under a local
``jax.enable_x64(True)`` context (the global flag is never touched), jit-compiled per (activation object, depth,
parameterisation). One-variable averages elsewhere in theory/ use dltheory.theory.gaussian (numpy).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from dltheory.theory import dual_kernels as _dk
from dltheory.theory import kernel_recursion as _kr
from dltheory.theory._validate import (
    MAX_DEPTH,
    InvalidType,
    integer_at_least,
    nonnegative,
    overflow_guard,
    positive,
    real_array,
)
from dltheory.theory.spec import ACTIVATIONS, Activation, get_activation

__all__ = ["Kernel", "kernels", "numerical", "gaussian_expectations"]

_N_THETA = 32  # Gauss-Legendre nodes per angular sector
_R_MAX, _R_PANELS, _R_NODES = 12.0, 12, 12  # radial composite Gauss-Legendre on [0, _R_MAX]
_ROW_BATCH = 8  # rows of the Gram matrix per quadrature batch (bounds memory: rows x n2 x nodes)


def numerical(fn: Callable, name: str | None = None) -> Activation:
    """Any JAX-traceable elementwise ``fn``: its certified Hermite series (dltheory.theory.dual_kernels) when it
    is smooth at 0, else the kink-split quadrature (kinks at 0 handled exactly)."""
    if not callable(fn):
        raise InvalidType(
            f"fn (the activation) must be a name in {sorted(ACTIVATIONS)}, an Activation or a callable, got {fn!r}"
        )
    if name is not None and not isinstance(name, str):
        raise InvalidType(f"name must be a str or None, got {name!r}")
    return Activation(name or getattr(fn, "__name__", "callable"), fn, _derivative(fn), fn)


def _activation(activation) -> Activation:
    """An Activation from a name in :data:`ACTIVATIONS`, an Activation, or a JAX-traceable callable (quadrature)."""
    if isinstance(activation, str | Activation):
        try:
            return get_activation(activation)
        except ValueError:
            raise ValueError(
                f"activation must be one of {sorted(ACTIVATIONS)} (or an Activation / callable), got {activation!r}"
            ) from None
    return numerical(activation)


# ----------------------------------------------------------------------------- quadrature


@functools.cache
def _rules() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(angular nodes on [0, 1], weights) and (radial nodes, weights incl. r exp(-r^2/2))."""
    x, w = np.polynomial.legendre.leggauss(_N_THETA)
    t_nodes, t_weights = (x + 1) / 2, w / 2
    xr, wr = np.polynomial.legendre.leggauss(_R_NODES)
    h = _R_MAX / _R_PANELS
    r = (np.arange(_R_PANELS)[:, None] + (xr[None, :] + 1) / 2) * h
    wr = np.broadcast_to(wr * h / 2, r.shape) * r * np.exp(-r * r / 2)
    return t_nodes, t_weights, r.ravel(), wr.ravel()


def _derivative(fn: Callable) -> Callable:
    """phi' of an elementwise JAX-traceable phi by forward-mode autodiff."""

    def dfn(x):
        return jax.jvp(fn, (x,), (jnp.ones_like(x),))[1]

    return dfn


def _quadrature(fn: Callable) -> Callable:
    """(s1, s2, rho) -> (T, T') by the kink-split polar rule (module docstring)."""
    dfn = _derivative(fn)

    def pair(s1, s2, rho):
        t_nodes, t_weights, r, wr = (jnp.asarray(a) for a in _rules())
        sig = jnp.sqrt(jnp.maximum(1 - rho * rho, 0.0))
        tv = jnp.arctan2(-rho, sig)  # zero ray of v in [-pi/2, pi/2]; u vanishes at -pi/2 and pi/2
        starts = jnp.stack([-jnp.pi / 2 + 0 * tv, tv, jnp.pi / 2 + 0 * tv, tv + jnp.pi], -1)
        lengths = jnp.stack([tv + jnp.pi / 2, jnp.pi / 2 - tv, tv + jnp.pi / 2, jnp.pi / 2 - tv], -1)
        theta = starts[..., None] + lengths[..., None] * t_nodes  # (..., 4, n_theta)
        wt = lengths[..., None] * t_weights
        a = s1[..., None, None] * jnp.cos(theta)
        b = s2[..., None, None] * (rho[..., None, None] * jnp.cos(theta) + sig[..., None, None] * jnp.sin(theta))
        u, v = a[..., None] * r, b[..., None] * r  # (..., 4, n_theta, n_r)
        T = jnp.einsum("...ij,...ijk,k->...", wt, fn(u) * fn(v), wr) / (2 * jnp.pi)
        Td = jnp.einsum("...ij,...ijk,k->...", wt, dfn(u) * dfn(v), wr) / (2 * jnp.pi)
        return T, Td

    return pair


def _pair_fn(act: Activation) -> Callable:
    return act.kernel_map if act.kernel_map is not None else _quadrature(act.jax_phi)


# ----------------------------------------------------------------------------- recursion


@functools.lru_cache(maxsize=64)
def _compiled(act: Activation, depth: int, standard: bool, train_bias: bool) -> Callable:
    pair = _pair_fn(act)
    batched = act.kernel_map is None

    def layer_pair(q1, q2, k12, same):
        s1, s2 = jnp.sqrt(q1)[:, None], jnp.sqrt(q2)[None, :]
        denom = s1 * s2
        rho = jnp.where(same, 1.0, jnp.clip(k12 / jnp.where(denom > 0, denom, 1.0), -1.0, 1.0))
        s1b, s2b = jnp.broadcast_to(s1, k12.shape), jnp.broadcast_to(s2, k12.shape)
        if not batched:
            return pair(s1b, s2b, rho)
        return jax.lax.map(lambda row: pair(*row), (s1b, s2b, rho), batch_size=_ROW_BATCH)

    def diag(q):
        s = jnp.sqrt(q)
        return pair(s, s, jnp.ones_like(s))[0]

    def run(x1, x2, same, wv, bv, width):
        d = x1.shape[1]
        k0 = x1 @ x2.T / d
        k12 = wv * k0 + bv
        q1, q2 = wv * jnp.sum(x1 * x1, 1) / d + bv, wv * jnp.sum(x2 * x2, 1) / d + bv
        b_ntk = (1.0 if standard else bv) if train_bias else 0.0  # the bias gradients' term in each layer
        ntk = (d if standard else wv) * k0 + b_ntk
        for _ in range(depth):
            T, Td = layer_pair(q1, q2, k12, same)
            new = wv * T + bv
            ntk = (width if standard else wv) * T + b_ntk + wv * Td * ntk
            k12 = new
            q1, q2 = wv * diag(q1) + bv, wv * diag(q2) + bv
        return k12, ntk

    return jax.jit(run)


@dataclass(frozen=True)
class Kernel:
    """NNGP (``nngp``) and NTK (``ntk``) Gram matrices, shape (n1, n2), float64."""

    nngp: np.ndarray
    ntk: np.ndarray


def _inputs(name: str, x) -> np.ndarray:
    arr = real_array(name, x, ndim=2)
    if 0 in arr.shape:
        raise ValueError(f"{name} must be a non-empty real 2-D array (points x features), got shape {arr.shape}")
    return arr


@overflow_guard
def kernels(
    x1,
    x2=None,
    *,
    depth: int,
    activation,
    weight_var: float,
    bias_var: float,
    parameterization: str = "ntk",
    width: float = 1.0,
    train_bias: bool = True,
    backend: str = "numba",
) -> Kernel:
    """NNGP and NTK of Dense -> (activation -> Dense) x ``depth`` between the rows of x1 and x2.

    ``depth`` >= 0 is the number of hidden layers (nonlinearities); ``weight_var`` = sigma_w^2 > 0,
    ``bias_var`` = sigma_b^2 >= 0; ``parameterization`` "ntk" or "standard" ([SDP20]; ``width`` = hidden
    fan-in n in its NTK, ignored for "ntk"); ``train_bias`` False leaves the bias gradients out of the NTK.
    Recursions and conventions: module docstring ([LBN18] sec. 2.3, [JGH18] Thm 1, [ADH19] eqs. for Theta,
    neural-tangents' stax.Dense). x2 = None means x2 = x1.

    Activations with a closed-form dual kernel or a convergent Hermite series (dltheory.theory.dual_kernels.method)
    run through the fused recursion of dltheory.theory.kernel_recursion: ``backend`` "numba" (CPU, parallel) or
    "jax" (jit-compiled, on ``jax.default_device``, e.g. a GPU); the rest use the polar quadrature (module
    docstring) in JAX.
    """
    x1 = _inputs("x1", x1)
    symmetric = x2 is None
    x2 = x1 if x2 is None else _inputs("x2", x2)
    if x1.shape[1] != x2.shape[1]:
        raise ValueError(f"x1 and x2 must have the same number of features, got {x1.shape[1]} and {x2.shape[1]}")
    depth = integer_at_least("depth", depth, 0, upper=MAX_DEPTH)
    wv = positive("weight_var", weight_var)
    bv = nonnegative("bias_var", bias_var)
    if parameterization not in ("ntk", "standard"):
        raise ValueError(f"parameterization must be 'ntk' or 'standard', got {parameterization!r}")
    width = positive("width", width)
    if not isinstance(train_bias, bool):
        raise TypeError(f"train_bias must be a bool, got {train_bias!r}")
    if backend not in _kr.BACKENDS:
        raise ValueError(f"backend must be one of {_kr.BACKENDS}, got {backend!r}")
    act = _activation(activation)
    plan = _dk.plan(act)
    if plan is not None:
        try:
            nngp, ntk = _kr.nngp_ntk(
                x1,
                None if symmetric else x2,
                depth=depth,
                plan=plan,
                weight_var=wv,
                bias_var=bv,
                standard=parameterization == "standard",
                width=width,
                train_bias=train_bias,
                backend=backend,
            )
            return Kernel(nngp=nngp, ntk=ntk)
        except _dk.HermiteDidNotConverge:
            pass  # a kinked or very steep callable: the polar quadrature below
    _, ids = np.unique(np.concatenate([x1, x2]), axis=0, return_inverse=True)
    ids = ids.ravel()
    same = ids[: x1.shape[0], None] == ids[None, x1.shape[0] :]  # identical input pairs: rho = 1 exactly
    fn = _compiled(act, depth, parameterization == "standard", train_bias)
    with jax.enable_x64(True):
        nngp, ntk = fn(jnp.asarray(x1), jnp.asarray(x2), jnp.asarray(same), wv, bv, width)
        nngp, ntk = np.asarray(nngp), np.asarray(ntk)
    return Kernel(nngp=nngp, ntk=ntk)


@overflow_guard
def gaussian_expectations(k11, k22, k12, activation) -> tuple[np.ndarray, np.ndarray]:
    """(T, T') = (E[phi(u) phi(v)], E[phi'(u) phi'(v)]) for (u, v) ~ N(0, [[k11, k12], [k12, k22]]), float64.

    Same closed forms / quadrature as :func:`kernels`; arrays broadcast. Needs k11, k22 >= 0 and
    k12^2 <= k11 k22.
    """
    k11, k22 = real_array("k11", k11, lower=0.0), real_array("k22", k22, lower=0.0)
    k12 = real_array("k12", k12)
    try:
        k11, k22, k12 = np.broadcast_arrays(k11, k22, k12)
    except ValueError:
        raise ValueError(f"k11, k22, k12 must broadcast, got shapes {k11.shape}, {k22.shape}, {k12.shape}") from None
    if np.any(k12 * k12 > k11 * k22 * (1 + 1e-12)):
        raise ValueError("k12 must satisfy k12^2 <= k11 k22 (a PSD covariance)")
    act = _activation(activation)
    if _dk.plan(act) is not None:
        try:
            return _dk.dual_kernel(act, k11, k22, k12)
        except _dk.HermiteDidNotConverge:
            pass
    with jax.enable_x64(True):
        s1, s2 = np.sqrt(k11), np.sqrt(k22)
        d = s1 * s2
        rho = np.clip(np.divide(k12, d, out=np.zeros_like(d), where=d > 0), -1, 1)
        T, Td = jax.jit(_pair_fn(act))(jnp.asarray(s1), jnp.asarray(s2), jnp.asarray(rho))
        return np.asarray(T), np.asarray(Td)
