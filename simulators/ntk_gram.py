"""Empirical NTK of fully connected networks by layer-wise Gram products: no Jacobian is ever formed.

For the network of dltheory.simulators.mlp (Dense -> (phi -> Dense) x depth, neural-tangents' stax layout,
Novak et al. 2020, arXiv:1912.02803) with post-activations h^0 = x, h^l = phi(z^l) and backward vectors
g^l_o = df_o/dz^l, the parameter gradients of layer l are outer products,

    "ntk":      df_o/dW^l = sqrt(weight_var / n_{l-1}) g^l_o h^{l-1 T},   df_o/db^l = sqrt(bias_var) g^l_o,
    "standard": df_o/dW^l = g^l_o h^{l-1 T},                               df_o/db^l = g^l_o,

so the empirical NTK (Jacot et al. 2018, arXiv:1806.07572, eq. 3), averaged over the n_out outputs
(neural-tangents' ``trace_axes=(-1,)``), is a sum of Hadamard products of Gram matrices:

    Theta(x, x') = sum_{l=1}^{L+1} [c_l h^{l-1}(x).h^{l-1}(x') + b] (1/n_out) sum_o g^l_o(x).g^l_o(x'),

with (c_l, b) = (weight_var / n_{l-1}, bias_var) for "ntk" and (1, 1) for "standard", and g^{L+1}_o = e_o (its
Gram is 1). The h^l come from the forward pass and the g^l from one backward pass per output, both by GEMM:
g^l = phi'(z^l) o (scale_{l+1} W^{l+1 T} g^{l+1}) (scale = sqrt(weight_var / n_l) for "ntk", 1 for
"standard"). This is the layer-wise structure that neural-tangents' structured-derivatives implementation
exploits (Novak, Sohl-Dickstein & Schoenholz 2022, "Fast finite width neural tangent kernel", arXiv:2206.08720,
sec. 3), written out for MLPs.

Cost per network: forward and backward GEMMs, 2 n sum_l n_{l-1} n_l (1 + n_out) flops, plus the Grams,
n1 n2 sum_l (n_{l-1} + n_out n_l) multiply-adds; memory: the output (n1 x n2) and the features of every point
(n (sum_l n_l)(1 + n_out)), computed ``block_size`` points at a time. Runs in the dtype of the parameters
(float32 or float64: float64 needs x64 enabled by the caller), jit-compiled, on any JAX device.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from dltheory.theory import _validate as val

__all__ = ["empirical_ntk", "gemm_flops"]


def _features(mlp, p, x):
    """One network, points x (b, d): per layer l = 1..L+1 the Gram factors sqrt(c_l) h^{l-1} (b, n_{l-1}) and
    g^l as (b, n_out n_l), with g^{L+1} = None (its Gram is n_out)."""
    ntk = mlp.parameterization == "ntk"
    scale = [math.sqrt(mlp.weight_var / fi) if ntk else 1.0 for fi in mlp.fan_ins]
    beta = math.sqrt(mlp.bias_var) if ntk else 1.0
    h, hs, dphis = x, [], []
    for l, (W, b) in enumerate(p):
        hs.append(scale[l] * h)
        if l == mlp.depth:
            break
        h, dphi = jax.jvp(mlp.phi, (hs[-1] @ W.T + beta * b,), (jnp.ones((x.shape[0], W.shape[0]), x.dtype),))
        dphis.append(dphi)
    W = scale[-1] * p[-1][0]  # (n_out, n_L): c W^T e_o for every output o
    g = jnp.broadcast_to(W[None], (x.shape[0],) + W.shape)
    gs = [None]
    for l in range(mlp.depth - 1, -1, -1):  # g^{l+1} = phi'(z^{l+1}) o (c W^T g^{l+2}), layout (b, n_out, n)
        g = g * dphis[l][:, None, :]
        gs.insert(0, g.reshape(x.shape[0], -1))
        if l > 0:
            g = g @ (scale[l] * p[l][0])
    return hs, gs


@functools.partial(jax.jit, static_argnums=(0, 4, 5))
def _ntk(mlp, params, x1, x2, batch_size, block):
    bias = (mlp.bias_var if mlp.parameterization == "ntk" else 1.0) * 1.0

    def blocks(p, x):
        n = x.shape[0]
        if n <= block:  # one block: no loop
            return _features(mlp, p, x)
        pad = (-n) % block
        xb = jnp.concatenate([x, jnp.zeros((pad, x.shape[1]), x.dtype)]).reshape(-1, block, x.shape[1])
        hs, gs = jax.lax.map(lambda xx: _features(mlp, p, xx), xb)
        flat = lambda a: None if a is None else a.reshape((-1,) + a.shape[2:])[:n]  # noqa: E731
        return [flat(a) for a in hs], [flat(a) for a in gs]

    def one(p):
        h1, g1 = blocks(p, x1)
        h2, g2 = (h1, g1) if x2 is None else blocks(p, x2)
        theta = 0.0
        for a1, a2, d1, d2 in zip(h1, h2, g1, g2):
            k = a1 @ a2.T + bias
            theta = theta + (k * mlp.n_out if d1 is None else k * (d1 @ d2.T))
        return theta / mlp.n_out

    if batch_size == jax.tree.leaves(params)[0].shape[0] == 1:  # one network: no loop
        return one(jax.tree.map(lambda a: a[0], params))[None]
    return jax.lax.map(one, params, batch_size=batch_size)


def _points(name: str, x, d: int, dtype) -> jax.Array:
    return jnp.asarray(val.real_array(name, x, shape=(None, d)), dtype=dtype)


def _check_mlp(mlp) -> None:
    from dltheory.simulators.mlp import MLP  # lazy: dltheory.simulators.mlp imports this module

    val.instance("mlp", mlp, MLP, "a dltheory.simulators.mlp.MLP")


def _check_network(mlp, params) -> int:
    """Validate ``mlp`` (an MLP) and ``params`` (its ``init`` output: [(W_l, b_l)] with W_l (n_nets, fan_out,
    fan_in), b_l (n_nets, fan_out), finite real floats); return n_nets."""
    _check_mlp(mlp)
    if not isinstance(params, list | tuple) or len(params) != mlp.depth + 1:
        raise val.InvalidType(
            f"params must be a list of {mlp.depth + 1} (W, b) pairs from dltheory.simulators.mlp.init, "
            f"got {type(params).__name__} of length {len(params) if isinstance(params, list | tuple) else '-'}"
        )
    n_nets = None
    for l, (layer, fi, fo) in enumerate(zip(params, mlp.fan_ins, mlp.fan_outs)):
        if not isinstance(layer, list | tuple) or len(layer) != 2:
            raise val.InvalidType(f"params[{l}] must be a (W, b) pair, got {type(layer).__name__}")
        W, b = layer
        for name, a in ((f"params[{l}][0] (W)", W), (f"params[{l}][1] (b)", b)):
            if not isinstance(a, jax.Array | np.ndarray) or not jnp.issubdtype(a.dtype, jnp.floating):
                raise val.InvalidType(f"{name} must be a real floating array, got {type(a).__name__}")
        n_nets = W.shape[0] if n_nets is None else n_nets
        if W.shape != (n_nets, fo, fi) or b.shape != (n_nets, fo):
            raise ValueError(
                f"params[{l}] must hold W of shape ({n_nets}, {fo}, {fi}) and b of shape ({n_nets}, {fo}), "
                f"got {W.shape} and {b.shape}"
            )
        traced = isinstance(W, jax.core.Tracer) or isinstance(b, jax.core.Tracer)  # under jit/vmap: values unknown
        if not traced and not (bool(jnp.all(jnp.isfinite(W))) and bool(jnp.all(jnp.isfinite(b)))):
            raise ValueError(f"params[{l}] must be finite")
    return n_nets


def empirical_ntk(mlp, params, x1, x2=None, *, batch_size: int | None = None, block_size: int = 1024) -> jax.Array:
    """Empirical NTK of every network of the ensemble by layer-wise Gram products: (n_nets, n1, n2).

    ``mlp``: a dltheory.simulators.mlp.MLP; ``params``: its ``init`` output (leading ensemble axis); the kernel
    is computed in the parameters' dtype. ``batch_size`` networks at a time (default: all, one after the other
    in a ``lax.map``); ``block_size`` points per forward/backward block (bounds the activations' memory).
    Formula and cost: module docstring. Equals the Jacobian contraction J(x1) J(x2)^T / n_out to round-off.
    """
    n_nets = _check_network(mlp, params)
    dtype = params[0][0].dtype
    x1 = _points("x1", x1, mlp.d, dtype)
    x2 = None if x2 is None else _points("x2", x2, mlp.d, dtype)
    if batch_size is not None:
        val.integer("batch_size", batch_size, lower=1, upper=val.MAX_SAMPLES)
    val.integer("block_size", block_size, lower=1, upper=val.MAX_SAMPLES)
    n_max = max(x1.shape[0], 0 if x2 is None else x2.shape[0])
    bs = n_nets if batch_size is None else int(batch_size)
    return _ntk(mlp, params, x1, x2, min(bs, n_nets), int(min(block_size, n_max)))


def gemm_flops(mlp, n1: int, n2: int | None = None) -> int:
    """Floating-point operations of the GEMMs of :func:`empirical_ntk` for one network (the work no
    implementation of this formula avoids): forward and backward passes and the Gram products (n2 = None:
    the symmetric kernel, whose features are computed once). n1, n2 <= MAX_SAMPLES points."""
    _check_mlp(mlp)
    n1 = val.integer("n1", n1, lower=1, upper=val.MAX_SAMPLES)
    n2 = None if n2 is None else val.integer("n2", n2, lower=1, upper=val.MAX_SAMPLES)
    fan_in = [mlp.d] + [mlp.width] * mlp.depth
    fan_out = [mlp.width] * mlp.depth + [mlp.n_out]
    pts = n1 + (0 if n2 is None else n2)
    forward = sum(2 * pts * a * b for a, b in zip(fan_in[:-1], fan_out[:-1]))
    backward = sum(2 * pts * mlp.n_out * a * b for a, b in zip(fan_in[1:-1], fan_out[1:-1]))
    m = n1 if n2 is None else n2
    grams = sum(2 * n1 * m * a for a in fan_in) + sum(2 * n1 * m * mlp.n_out * a for a in fan_out[:-1])
    return int(forward + backward + grams)
