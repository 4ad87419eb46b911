"""Ensembles of finite fully connected networks: outputs, empirical NNGP/NTK and full-batch GD in JAX; the
empirical kernels at initialisation also sampled in law (numpy, :func:`kernel_sample`).

The network is Dense -> (phi -> Dense) x ``depth`` with hidden width n, the layout of neural-tangents'
``stax.serial`` (Novak et al. 2020, arXiv:1912.02803):

- "ntk" parameterisation (Jacot et al. 2018, arXiv:1806.07572): z = sqrt(weight_var / fan_in) W h +
  sqrt(bias_var) b with raw W, b ~ N(0, 1), and every raw parameter trained with the same learning rate;
- "standard": z = W h + b with W ~ N(0, weight_var / fan_in), b ~ N(0, bias_var).

Parameters carry a leading ensemble axis (one network per seed); every function is ``jax.vmap``-ed over it
and jit-compiled, so the same code runs on GPU when JAX sees one. Arithmetic follows JAX's dtype setting:
float64 needs x64 enabled by the caller (``with jax.enable_x64(True):`` or the test conftest); this module
never flips it.

Conventions: the empirical NTK is Theta_hat(x, x') = sum_p df(x)/dp df(x')/dp, averaged over output channels
(neural-tangents' ``trace_axes=(-1,)``), computed by layer-wise Gram products (dltheory.simulators.ntk_gram). GD minimises L = 1/(2N) ||f(X) - Y||^2 with
N = Y.size (neural-tangents' ``predict`` normalisation): theta <- theta - eta dL/dtheta, so after k steps the
gradient-flow time is t = eta k.

Kernels at initialisation in law (:func:`kernel_sample`, numpy): the empirical NNGP and NTK of many networks on
P inputs without drawing any n x n weight matrix, in O(n P^2) per layer instead of O(n^2 P). With
NTK-parameterisation symbols (h^l preactivations, a^l = phi(h^l), g^l = df/dh^l, C^l = a^l.a^l'/n_l with
C^0 = x.x'/d, G^l = g^l.g^l', G^{L+1} = 1):

    Theta_hat = sum_{l=1}^{L+1} (weight_var C^{l-1} + bias_var) G^l      ("standard": (n_{l-1} C^{l-1} + 1) G^l)

because df/dW^l_ij = sqrt(weight_var/n_{l-1}) g^l_i a^{l-1}_j and df/db^l_i = sqrt(bias_var) g^l_i. A hidden
weight matrix W (n_l x n_{l-1}, i.i.d. N(0, 1)) enters only through W A (forward, A = a^{l-1}) and W^T g^l
(backward). With A = Q R (Q orthonormal), U = W Q has i.i.d. N(0, 1) entries and W (I - Q Q^T) is independent
of U, so W A = U R and W^T g = Q U^T g + (I - Q Q^T) W'^T g with W' an independent copy; with g = Q_g R_g,
W'^T g = Xi R_g, Xi (n_{l-1} x P) i.i.d. N(0, 1). Every step is an identity in law (tests compare the sampler
with explicit weights). The first layer (n x d) and the readout are drawn explicitly.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np

from dltheory.simulators import ntk_gram
from dltheory.simulators._seeding import rng
from dltheory.theory import _validate as val
from dltheory.theory.spec import ACTIVATIONS

__all__ = [
    "MLP",
    "init",
    "outputs",
    "empirical_nngp",
    "empirical_ntk",
    "train",
    "OutputTrajectory",
    "KernelSample",
    "kernel_sample",
]


@dataclass(frozen=True)
class MLP:
    """Architecture: input dim ``d``, hidden ``width`` n, ``depth`` hidden layers, ``n_out`` outputs."""

    d: int
    width: int
    depth: int
    activation: str | Callable = "relu"
    weight_var: float = 1.0
    bias_var: float = 0.0
    parameterization: str = "ntk"
    n_out: int = 1

    def __post_init__(self) -> None:
        for name, lo, hi in (("d", 1, val.MAX_WIDTH), ("width", 1, val.MAX_WIDTH), ("depth", 0, val.MAX_DEPTH)):
            val.integer(name, getattr(self, name), lower=lo, upper=hi)
        val.integer("n_out", self.n_out, lower=1, upper=val.MAX_WIDTH)
        val.positive("weight_var", self.weight_var)
        val.nonnegative("bias_var", self.bias_var)
        val.choice("parameterization", self.parameterization, ("ntk", "standard"))
        if isinstance(self.activation, str) and self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)} or a callable, got {self.activation!r}")
        if not isinstance(self.activation, str) and not callable(self.activation):
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)} or a callable, got {self.activation!r}")

    @property
    def phi(self) -> Callable:
        return ACTIVATIONS[self.activation].jax_phi if isinstance(self.activation, str) else self.activation

    @property
    def fan_ins(self) -> list[int]:
        return [self.d] + [self.width] * self.depth

    @property
    def fan_outs(self) -> list[int]:
        return [self.width] * self.depth + [self.n_out]


def _keys(seed, n_nets: int):
    n_nets = val.integer("n_nets", n_nets, lower=1, upper=val.MAX_SAMPLES)
    if isinstance(seed, int | np.integer) and not isinstance(seed, bool) and seed >= 0:
        key = jax.random.key(int(seed) % 2**63)
    elif isinstance(seed, jax.Array) and jnp.issubdtype(seed.dtype, jax.dtypes.prng_key):
        key = seed
    else:
        raise ValueError(f"seed must be an int >= 0 or a typed JAX key (jax.random.key), got {seed!r}")
    return jax.random.split(key, int(n_nets))


def init(mlp: MLP, n_nets: int, *, seed) -> list[tuple[jax.Array, jax.Array]]:
    """Parameters of ``n_nets`` independent networks: [(W_l, b_l)] with W_l (n_nets, fan_out, fan_in).

    "ntk": raw N(0, 1) entries (scales applied in the forward pass); "standard": N(0, weight_var/fan_in)
    weights and N(0, bias_var) biases.
    """
    val.instance("mlp", mlp, MLP, "a dltheory.simulators.mlp.MLP")
    keys = _keys(seed, n_nets)
    if len(keys) * sum(fo * (fi + 1) for fi, fo in zip(mlp.fan_ins, mlp.fan_outs)) > val.MAX_ELEMENTS:
        raise ValueError(f"n_nets * (parameters per network) must be <= {val.MAX_ELEMENTS} (memory cap)")
    standard = mlp.parameterization == "standard"

    def one(key):
        ks = jax.random.split(key, 2 * (mlp.depth + 1))
        params = []
        for l, (fi, fo) in enumerate(zip(mlp.fan_ins, mlp.fan_outs)):
            W = jax.random.normal(ks[2 * l], (fo, fi))
            b = jax.random.normal(ks[2 * l + 1], (fo,))
            if standard:
                W, b = W * jnp.sqrt(mlp.weight_var / fi), b * jnp.sqrt(mlp.bias_var)
            params.append((W, b))
        return params

    return jax.vmap(one)(keys)


def _forward(mlp: MLP, params, x, *, features: bool = False):
    """One network: outputs (n_points, n_out), or the readout's input phi(h^L) if ``features``."""
    h = x
    for l, (W, b) in enumerate(params):
        if l > 0:
            h = mlp.phi(h)
        if features and l == mlp.depth:
            return h
        if mlp.parameterization == "ntk":
            h = jnp.sqrt(mlp.weight_var / W.shape[1]) * h @ W.T + jnp.sqrt(mlp.bias_var) * b
        else:
            h = h @ W.T + b
    return h


def _points_np(name: str, x, d: int) -> np.ndarray:
    return val.real_array(name, x, shape=(None, d))


def _points(name: str, x, d: int) -> jax.Array:
    return jnp.asarray(_points_np(name, x, d), dtype=jnp.result_type(float))


@functools.partial(jax.jit, static_argnums=0)
def _outputs(mlp, params, x):
    return jax.vmap(lambda p: _forward(mlp, p, x))(params)


def outputs(mlp: MLP, params, x) -> jax.Array:
    """f(x) for every network: (n_nets, n_points, n_out)."""
    ntk_gram._check_network(mlp, params)
    return _outputs(mlp, params, _points("x", x, mlp.d))


@functools.partial(jax.jit, static_argnums=0)
def _nngp(mlp, params, x1, x2):
    def one(p):
        f1, f2 = _forward(mlp, p, x1, features=True), _forward(mlp, p, x2, features=True)
        return mlp.weight_var * f1 @ f2.T / f1.shape[1] + mlp.bias_var

    return jax.vmap(one)(params)


def empirical_nngp(mlp: MLP, params, x1, x2=None) -> jax.Array:
    """Cov[f(x), f(x') | hidden layers] = weight_var phi(h^L(x)).phi(h^L(x'))/n + bias_var: (n_nets, n1, n2).

    The readout's covariance given the hidden layers (the same in both parameterisations). Its mean over
    initialisations is E[f(x) f(x')] at this width; it fluctuates by O(n^{-1/2}) instead of the O(1) of f f'.
    """
    ntk_gram._check_network(mlp, params)
    x1 = _points("x1", x1, mlp.d)
    x2 = x1 if x2 is None else _points("x2", x2, mlp.d)
    return _nngp(mlp, params, x1, x2)


def empirical_ntk(mlp: MLP, params, x1, x2=None, *, batch_size: int | None = None) -> jax.Array:
    """Empirical NTK of every network: (n_nets, n1, n2), by layer-wise Gram products (no Jacobians; see
    dltheory.simulators.ntk_gram, which also takes a ``block_size`` of points).

    ``batch_size`` networks at a time (default: all); each needs memory for the n1 x n2 kernel and the
    per-layer features of its points.
    """
    ntk_gram._check_network(mlp, params)
    x1 = _points("x1", x1, mlp.d)
    x2 = None if x2 is None else _points("x2", x2, mlp.d)
    return ntk_gram.empirical_ntk(mlp, params, x1, x2, batch_size=batch_size)


@dataclass(frozen=True)
class OutputTrajectory:
    """GD record: ``f_train[k]`` / ``f_test[k]`` (n_nets, n_points, n_out) at ``steps[k]``; t = eta * steps."""

    steps: np.ndarray
    t: np.ndarray
    f_train: np.ndarray
    f_test: np.ndarray
    params: list
    eta: float


@functools.partial(jax.jit, static_argnums=(0, 6, 7))
def _gd(mlp, params, x_train, y_train, x_test, eta, n_steps, every):
    N = y_train.size

    def loss(p):
        return 0.5 * jnp.sum((_forward(mlp, p, x_train) - y_train) ** 2) / N

    def step(p, _):
        return jax.tree.map(lambda a, b: a - eta * b, p, jax.grad(loss)(p)), None

    def block(p, _):  # record the outputs, then take ``every`` steps
        record = (_forward(mlp, p, x_train), _forward(mlp, p, x_test))
        return jax.lax.scan(step, p, None, length=every)[0], record

    def run(p):
        p, (f, ft) = jax.lax.scan(block, p, None, length=n_steps // every)
        return p, f, ft

    params, f, ft = jax.vmap(run)(params)
    last_f = jax.vmap(lambda p: _forward(mlp, p, x_train))(params)
    last_ft = jax.vmap(lambda p: _forward(mlp, p, x_test))(params)
    f = jnp.concatenate([jnp.swapaxes(f, 0, 1), last_f[None]])
    ft = jnp.concatenate([jnp.swapaxes(ft, 0, 1), last_ft[None]])
    return params, f, ft


def train(
    mlp: MLP, params, x_train, y_train, x_test, *, eta: float, n_steps: int, record_every: int = 1
) -> OutputTrajectory:
    """Full-batch GD on L = 1/(2N) ||f(X) - Y||^2 (N = Y.size) for every network of the ensemble.

    Records train and test outputs at steps 0, record_every, ..., n_steps (n_steps must be a multiple of
    record_every). Raises FloatingPointError naming the first non-finite record's step and eta.
    """
    ntk_gram._check_network(mlp, params)
    x_train = _points("x_train", x_train, mlp.d)
    x_test = _points("x_test", x_test, mlp.d)
    y = val.real_array("y_train", y_train, ndim=(1, 2))
    if y.ndim == 1 and mlp.n_out == 1:
        y = y[:, None]
    if y.shape != (x_train.shape[0], mlp.n_out):
        raise ValueError(f"y_train must have shape ({x_train.shape[0]}, {mlp.n_out}), got {y.shape}")
    val.positive("eta", eta)
    n_steps = val.integer("n_steps", n_steps, lower=0, upper=val.MAX_STEPS)
    record_every = val.integer("record_every", record_every, lower=1, upper=val.MAX_STEPS)
    if n_steps % record_every:
        raise ValueError(f"n_steps={n_steps} must be a multiple of record_every={record_every}")
    params, f, ft = _gd(
        mlp, params, x_train, jnp.asarray(y, dtype=x_train.dtype), x_test, float(eta), int(n_steps), int(record_every)
    )
    f, ft = np.asarray(f), np.asarray(ft)
    steps = np.arange(0, n_steps + 1, record_every)
    bad = ~np.isfinite(f).all(axis=(1, 2, 3)) | ~np.isfinite(ft).all(axis=(1, 2, 3))
    if bad.any():
        raise FloatingPointError(
            f"gradient descent diverged: non-finite outputs at step {steps[np.argmax(bad)]} "
            f"(eta={eta}, width={mlp.width}, depth={mlp.depth}); use eta < 2N/lambda_max(NTK)"
        )
    return OutputTrajectory(steps=steps, t=eta * steps, f_train=f, f_test=ft, params=params, eta=float(eta))


@dataclass(frozen=True)
class KernelSample:
    """Empirical kernels of S independent networks at initialisation (:func:`kernel_sample`).

    ``nngp``, ``ntk``: (S, P, P), the quantities of :func:`empirical_nngp` and :func:`empirical_ntk` (the
    MLP's parameterisation). ``layers``: (S, L, P, P), C^l = phi(h^l).phi(h^l')/n for l = 1..L; given layer
    l-1 the h^l_i are i.i.d. N(0, weight_var C^{l-1} + bias_var) over neurons i. ``zero_mean``: (S, k)
    statistics whose expectation is exactly 0 at every width, by the construction of the network alone (no
    kernel map): for each hidden layer l and input pair (upper
    triangle), h^l.h^l'/n - (weight_var C^{l-1} + bias_var) (preactivation sample covariance minus its
    conditional mean) and the odd part sum_i [phi(h_i) phi(h_i') - phi(-h_i) phi(-h_i')] / (2n) (zero by the sign
    symmetry of centred Gaussians; identically 0 for odd phi); and the readout's weight_var/n sum_i (w_i^2 - 1)
    phi'(h^L_i) phi'(h^L_i') (w independent of h). Use them as control variates.
    """

    nngp: np.ndarray
    ntk: np.ndarray
    layers: np.ndarray
    zero_mean: np.ndarray


def _gram(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """A^T B over the neuron axis: (S, n, P) x (S, n, P) -> (S, P, P)."""
    return np.swapaxes(A, 1, 2) @ B


def _kernel_chunk(mlp: MLP, x: np.ndarray, S: int, g: np.random.Generator) -> KernelSample:
    act = ACTIVATIONS[mlp.activation]
    wv, bv, n, L = mlp.weight_var, mlp.bias_var, mlp.width, mlp.depth
    P, d = x.shape
    iu = np.triu_indices(P)
    h = np.sqrt(wv / d) * g.standard_normal((S, n, d)) @ x.T + np.sqrt(bv) * g.standard_normal((S, n, 1))
    C = [np.broadcast_to(x @ x.T / d, (S, P, P))]
    hs, bases, controls = [h], [], []
    for l in range(L):
        a, a_minus = act.phi(h), act.phi(-h)
        controls += [_gram(h, h) / n - (wv * C[-1] + bv), (_gram(a, a) - _gram(a_minus, a_minus)) / (2 * n)]
        C.append(_gram(a, a) / n)
        if l < L - 1:  # the next hidden layer through W A = U R
            Q, R = np.linalg.qr(a)
            U = g.standard_normal((S, n, P))
            h = np.sqrt(wv / n) * U @ R + np.sqrt(bv) * g.standard_normal((S, n, 1))
            hs.append(h)
            bases.append((Q, U))
    w = g.standard_normal((S, n, 1))
    dphi = act.dphi(hs[-1])
    controls.append(wv * _gram(dphi * (w * w - 1), dphi) / n)
    grad = np.sqrt(wv / n) * w * dphi  # g^L
    G = [_gram(grad, grad)]
    for l in range(L - 1, 0, -1):  # g^l from g^{l+1} through W^T g = Q U^T g + (I - Q Q^T) Xi R_g
        Q, U = bases[l - 1]
        back = g.standard_normal((S, n, P)) @ np.linalg.qr(grad, mode="r")
        back = Q @ _gram(U, grad) + back - Q @ _gram(Q, back)
        grad = np.sqrt(wv / n) * act.dphi(hs[l - 1]) * back
        G.insert(0, _gram(grad, grad))
    G.append(np.ones((S, P, P)))
    if mlp.parameterization == "standard":  # fan_ins[l-1] = n_{l-1}, the fan-in of layer l
        ntk = sum((f * c + 1.0) * gl for f, c, gl in zip(mlp.fan_ins, C, G))
    else:
        ntk = sum((wv * c + bv) * gl for c, gl in zip(C, G))
    zero_mean = np.concatenate([c[:, iu[0], iu[1]] for c in controls], axis=1)
    return KernelSample(nngp=wv * C[-1] + bv, ntk=ntk, layers=np.stack(C[1:], axis=1), zero_mean=zero_mean)


def kernel_sample(mlp: MLP, x, n_nets: int, *, seed, chunk_floats: int = 2**22) -> KernelSample:
    """Empirical NNGP, NTK and zero-mean control statistics of ``n_nets`` independent networks at init, drawn
    in law layer by layer (module docstring), numpy float64.

    Needs a named activation, ``depth`` >= 1, ``n_out`` = 1 and ``width`` >= the number of inputs P. Networks
    are drawn in chunks of at most ``chunk_floats`` preactivations per layer from one generator in a fixed
    order, so the result depends only on the arguments.
    """
    val.instance("mlp", mlp, MLP, "a dltheory.simulators.mlp.MLP")
    if not isinstance(mlp.activation, str):
        raise ValueError(
            f"kernel_sample needs a named activation (one of {sorted(ACTIVATIONS)}), got {mlp.activation!r}"
        )
    if mlp.depth < 1 or mlp.n_out != 1:
        raise ValueError(f"kernel_sample needs depth >= 1 and n_out = 1, got depth={mlp.depth}, n_out={mlp.n_out}")
    x = _points_np("x", x, mlp.d)
    if mlp.width < x.shape[0]:
        raise ValueError(f"kernel_sample needs width >= the number of inputs ({x.shape[0]}), got width={mlp.width}")
    n_nets = val.integer("n_nets", n_nets, lower=1, upper=val.MAX_SAMPLES)
    chunk_floats = val.integer("chunk_floats", chunk_floats, lower=1, upper=val.MAX_ELEMENTS)
    g = rng(seed)
    per_chunk = max(1, chunk_floats // (mlp.width * x.shape[0]))
    parts = [_kernel_chunk(mlp, x, min(per_chunk, n_nets - s), g) for s in range(0, int(n_nets), per_chunk)]
    return KernelSample(*(np.concatenate([getattr(p, f) for p in parts]) for f in KernelSample.__dataclass_fields__))
