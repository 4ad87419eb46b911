"""MLPs at initialisation (many seeds) and under a few SGD steps in a general abc-parametrisation.

Forward statistics at init (numpy), network z^(1) = b^(1) + W^(1) x, z^(l+1) = b^(l+1) + W^(l+1) phi(z^(l)),
W^(l+1)_ij ~ N(0, C_W / n_l), b ~ N(0, C_b) (Roberts, Yaida & Hanin, PDLT, arXiv:2106.10165, eq. 2.5 [K]);
``x`` is (k, n_0), ``widths`` = (n_1, ..., n_L) the widths of the L preactivation layers.
- :func:`forward_full` draws every weight matrix explicitly (the reference; O(S sum n_l n_{l+1})).
- :func:`forward_gram` draws the same law in O(S sum k n_l): given layer l, the k-vectors
  (z_i^(l+1)(x_1..x_k))_i are i.i.d. N(0, G^(l+1)) over neurons i, with G^(l+1) = C_b + (C_W/n_l)
  Phi^T Phi, Phi = phi(z^(l)) (n_l x k), because the rows of W and b are independent Gaussians. This is an
  identity in law, not an approximation; tests and claims compare the two samplers.

Training (numpy, seeds batched on a leading axis): the abc-parametrisation of Yang & Hu 2021 (Tensor Programs IV,
arXiv:2011.14522, sec. 3 [K]): W^l = n^{-a_l} w^l, w^l_ij ~ N(0, n^{-2 b_l} / fan_in_const) and SGD on w^l
with learning rate eta n^{-c_l}; layer 1 maps R^d -> R^n (its fan-in d is O(1): w^1 also gets the factor
1/d), layers 2..L map R^n -> R^n, layer L+1 is the scalar readout. No biases. Loss (1/2B) sum_b (f(x_b) -
f_0(x_b) - y_b)^2 with the output centred at its initial value f_0 (Chizat & Bach 2019's centring): the loss
derivative at step 1 is then -y for every seed and width, which removes the seed-to-seed spread of f_0 without
changing any width exponent.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dltheory.simulators._seeding import rng
from dltheory.theory import _validate as V
from dltheory.theory.spec import get_activation

__all__ = ["ForwardStats", "forward_full", "forward_gram", "train_abc", "backward_gram", "backward_full", "lr_sweep"]


@dataclass(frozen=True)
class ForwardStats:
    """Per-network statistics of each preactivation layer (S networks, L layers, k inputs).

    ``G[s, l]``: the k x k conditional covariance of z^(l+1) given layer l (layer 1: C_b + C_W x x^T/n_0).
    ``m1, m2, m4``: means over neurons of z, z^2, z^4 per input, shape (S, L, k).
    ``a1, a2``: means over neurons of phi(z), phi(z)^2 (post-activations), shape (S, L, k).
    ``corr``: (S, L) empirical correlation sum_i z_i(x_1) z_i(x_2) / (|z(x_1)| |z(x_2)|); NaN where it is undefined:
    k = 1, or a layer whose preactivation vector is exactly 0 (a whole ReLU layer dead with C_b = 0).
    """

    G: np.ndarray
    m1: np.ndarray
    m2: np.ndarray
    m4: np.ndarray
    a1: np.ndarray
    a2: np.ndarray
    corr: np.ndarray


def _check_forward(x, widths, C_W, C_b, n_nets, activation):
    x = V.real_array("x", x, ndim=2)
    if x.shape[0] < 1 or x.shape[1] < 1 or x.shape[0] > V.MAX_WIDTH or x.shape[1] > V.MAX_WIDTH:
        raise ValueError(f"x must have shape (k inputs, n_0 features) with 1 <= k, n_0 <= {V.MAX_WIDTH}, got {x.shape}")
    if isinstance(widths, str | bytes) or not isinstance(widths, list | tuple | range | np.ndarray):
        raise V.InvalidType(f"widths must be a non-empty sequence of integers in [1, {V.MAX_WIDTH}], got {widths!r}")
    if np.asarray(widths, dtype=object).ndim != 1 or len(widths) < 1:
        raise ValueError(f"widths must be a non-empty flat sequence of integers (depth >= 1), got {widths!r}")
    widths = [V.integer(f"widths[{i}]", n, lower=1, upper=V.MAX_WIDTH) for i, n in enumerate(widths)]
    V.positive("C_W", C_W)
    V.nonnegative("C_b", C_b)
    n_nets = V.integer("n_nets", n_nets, lower=2, upper=V.MAX_SAMPLES)
    return x, widths, get_activation(activation).phi


def _psd_sqrt(G: np.ndarray) -> np.ndarray:
    """A square root R R^T = G of a stack of PSD matrices (robust when G is singular, e.g. x_1 = x_2)."""
    if G.shape[-1] == 1:
        return np.sqrt(G)
    if G.shape[-1] == 2:  # lower Cholesky factor in closed form
        r11 = np.sqrt(G[..., 0, 0])
        r21 = np.divide(G[..., 1, 0], r11, out=np.zeros_like(r11), where=r11 > 0)
        r22 = np.sqrt(np.clip(G[..., 1, 1] - r21**2, 0.0, None))
        R = np.zeros_like(G)
        R[..., 0, 0], R[..., 1, 0], R[..., 1, 1] = r11, r21, r22
        return R
    w, U = np.linalg.eigh(G)
    return (U * np.sqrt(np.clip(w, 0.0, None))[..., None, :]) @ np.swapaxes(U, -1, -2)


def _stats(z: np.ndarray, phi, G_all, out, variances: str) -> np.ndarray:
    """Accumulate the statistics of z (S, k, n: inputs by neurons) into ``out`` lists; return phi(z).
    Raises FloatingPointError naming the layer and ``variances`` (the C_W, C_b in use) if a statistic overflows."""
    a = phi(z)
    z2 = z * z
    out["m1"].append(z.mean(2)), out["m2"].append(z2.mean(2)), out["m4"].append((z2 * z2).mean(2))
    out["a1"].append(a.mean(2)), out["a2"].append((a * a).mean(2)), out["G"].append(G_all)
    if z.shape[1] >= 2:
        zz = z[:, :2] @ np.swapaxes(z[:, :2], 1, 2)  # (S, 2, 2)
        norm = np.sqrt(zz[:, 0, 0] * zz[:, 1, 1])
        out["corr"].append(np.divide(zz[:, 0, 1], norm, out=np.full_like(norm, np.nan), where=norm > 0))
    else:
        out["corr"].append(np.full(z.shape[0], np.nan))
    if not all(np.all(np.isfinite(out[key][-1])) for key in ("G", "m1", "m2", "m4", "a1", "a2")):
        raise FloatingPointError(
            f"forward pass diverged ({variances}): non-finite statistics at layer {len(out['m1'])}"
        )
    return a


def _finish(out) -> ForwardStats:
    return ForwardStats(**{key: np.stack(v, axis=1) for key, v in out.items()})


def forward_gram(
    x, widths, *, activation: str, C_W: float, C_b: float, n_nets: int, seed, chunk_floats: int = 2**23
) -> ForwardStats:
    """Statistics of S = n_nets independent networks, sampled layer by layer in law (module docstring).

    Networks are drawn in chunks of at most ``chunk_floats`` preactivations per layer (memory bound); the draws
    come from one generator in a fixed order, so results depend only on the arguments.
    """
    x, widths, phi = _check_forward(x, widths, C_W, C_b, n_nets, activation)
    chunk_floats = V.integer("chunk_floats", chunk_floats, lower=1, upper=V.MAX_ELEMENTS)
    g, k = rng(seed), x.shape[0]
    per_chunk = max(1, chunk_floats // (max(widths) * k))
    parts = []
    for start in range(0, int(n_nets), per_chunk):
        S = min(per_chunk, int(n_nets) - start)
        out = {key: [] for key in ("G", "m1", "m2", "m4", "a1", "a2", "corr")}
        with np.errstate(over="ignore", invalid="ignore"):  # overflow is detected and raised below
            G = np.broadcast_to(C_b + C_W * x @ x.T / x.shape[1], (S, k, k))
            for layer, n in enumerate(widths, start=1):
                if not np.all(np.isfinite(G)):
                    raise FloatingPointError(
                        f"forward pass diverged (C_W={C_W}, C_b={C_b}): non-finite covariance G at layer {layer}"
                    )
                z = _psd_sqrt(G) @ g.standard_normal((S, k, n))  # columns (neurons) i.i.d. N(0, G)
                h = _stats(z, phi, G, out, f"C_W={C_W}, C_b={C_b}")
                G = C_b + C_W * (h @ np.swapaxes(h, 1, 2)) / n
        parts.append(_finish(out))
    return ForwardStats(
        **{f: np.concatenate([getattr(p, f) for p in parts]) for f in ForwardStats.__dataclass_fields__}
    )


def forward_full(x, widths, *, activation: str, C_W: float, C_b: float, n_nets: int, seed) -> ForwardStats:
    """The same statistics with every W^(l), b^(l) drawn explicitly (reference for :func:`forward_gram`)."""
    x, widths, phi = _check_forward(x, widths, C_W, C_b, n_nets, activation)
    fan_ins = [x.shape[1], *widths[:-1]]
    if n_nets * max(a * b for a, b in zip(fan_ins, widths)) > V.MAX_ELEMENTS:
        raise ValueError(f"n_nets * (largest weight matrix) must be <= {V.MAX_ELEMENTS} (memory cap); use forward_gram")
    g = rng(seed)
    out = {key: [] for key in ("G", "m1", "m2", "m4", "a1", "a2", "corr")}
    h = np.broadcast_to(x, (n_nets, *x.shape))  # (S, k, n_0)
    for n in widths:
        fan_in = h.shape[2]
        with np.errstate(over="ignore", invalid="ignore"):  # overflow is detected and raised by _stats
            G = C_b + C_W * (h @ np.swapaxes(h, 1, 2)) / fan_in
            W = g.standard_normal((n_nets, n, fan_in)) * np.sqrt(C_W / fan_in)
            z = h @ np.swapaxes(W, 1, 2) + np.sqrt(C_b) * g.standard_normal((n_nets, 1, n))
            h = _stats(z, phi, G, out, f"C_W={C_W}, C_b={C_b}")
    return _finish(out)


# ----------------------------------------------------------------------------- abc training


def _exponents(name: str, v, L: int) -> np.ndarray:
    arr = V.real_array(name, v, ndim=(0, 1))
    if arr.ndim == 1 and arr.shape != (L + 1,):
        raise ValueError(f"{name} must be a finite scalar or a sequence of L+1 = {L + 1} exponents, got {v!r}")
    return np.broadcast_to(arr, (L + 1,)).copy()


def _forward(w, mult, X, phi):
    """Preactivations h^1..h^L, activations x^1..x^L (each (S, B, n)) and outputs f (S, B)."""
    hs, xs, inp = [], [], np.broadcast_to(X, (w[0].shape[0], *X.shape))
    for l in range(len(w) - 1):
        hs.append(mult[l] * (inp @ np.swapaxes(w[l], 1, 2)))  # scale the small activations, not W
        inp = phi(hs[-1])
        xs.append(inp)
    return hs, xs, mult[-1] * (inp @ np.swapaxes(w[-1], 1, 2))[..., 0]


def _grads(w, mult, X, hs, xs, residual, dphi):
    """d/dw^l of (1/2B) sum_b residual_b^2 for every layer (backpropagation; residual = f - target)."""
    delta = (residual / X.shape[0])[..., None]  # dLoss/df, (S, B, 1)
    inputs = [np.broadcast_to(X, (w[0].shape[0], *X.shape))] + xs
    grads = [None] * len(w)
    for l in range(len(w) - 1, -1, -1):
        grads[l] = np.swapaxes(mult[l] * delta, 1, 2) @ inputs[l]  # (S, out, in)
        if l > 0:
            delta = mult[l] * (delta @ w[l]) * dphi(hs[l - 1])
    return grads


def train_abc(
    width: int, *, a, b, c, X, y, eta: float, n_steps: int, n_seeds: int, seed, activation: str = "relu"
) -> dict:
    """Full-batch SGD in an abc-parametrisation (module docstring), ``n_seeds`` inits batched in numpy.

    ``a``: L+1 exponents (layers 1..L+1; L = len(a) - 1 >= 1 hidden layers); ``b, c``: scalars or L+1.
    ``X`` (B, d), ``y`` (B,). Returns arrays of shape (n_seeds, n_steps) for step t = 1..n_steps:
    ``dh`` = RMS over coordinates and batch of h^L_t - h^L_0 (last hidden preactivation), ``dx`` the same for
    x^L = phi(h^L), ``df`` = RMS of f_t - f_0; and (n_seeds,) ``h0_rms``, ``f0_rms`` at init.
    Raises FloatingPointError naming the step if the network diverges (non-finite output).
    """
    width = V.integer("width", width, lower=1, upper=V.MAX_WIDTH)
    a = V.real_array("a", a, ndim=1, min_size=2)
    L = len(a) - 1
    a, b, c = (_exponents(k, v, L) for k, v in (("a", a), ("b", b), ("c", c)))
    X = V.real_array("X", X, ndim=2)
    y = V.real_array("y", y, shape=(X.shape[0],))
    eta = V.positive("eta", eta)
    n_steps = V.integer("n_steps", n_steps, lower=1, upper=V.MAX_STEPS)
    n_seeds = V.integer("n_seeds", n_seeds, lower=1, upper=V.MAX_SAMPLES)
    if n_seeds * width * max(width, X.shape[0], X.shape[1]) > V.MAX_ELEMENTS:
        raise ValueError(f"n_seeds * width * max(width, B, d) must be <= {V.MAX_ELEMENTS} (memory cap)")
    act = get_activation(activation)
    phi, dphi = act.phi, act.dphi
    n, (_B, d), S = int(width), X.shape, int(n_seeds)
    with np.errstate(over="ignore"):  # an exponent beyond the float64 range is refused just below
        mult, lr = float(n) ** -a, eta * float(n) ** -c
        std = float(n) ** -b / np.sqrt(np.r_[d, np.ones(L)])
    if not (np.all(np.isfinite(mult)) and np.all(np.isfinite(lr)) and np.all(np.isfinite(std))):
        raise FloatingPointError(
            f"train_abc: width ** -a, -b or -c overflows float64 (width={n}, a, b, c too negative)"
        )
    g = rng(seed)
    shapes = [(n, d)] + [(n, n)] * (L - 1) + [(1, n)]
    w = [std[l] * g.standard_normal((S, *shapes[l])) for l in range(L + 1)]

    hs, xs, f = _forward(w, mult, X, phi)
    hs0, f0 = hs, f
    out = {key: np.empty((S, int(n_steps))) for key in ("dh", "dx", "df")}
    for t in range(int(n_steps)):
        with np.errstate(over="ignore", invalid="ignore"):  # divergence is detected and raised just below
            grads = _grads(w, mult, X, hs, xs, f - f0 - y, dphi)  # output centred at init
            for wl, lr_l, gl in zip(w, lr, grads):
                gl *= lr_l
                wl -= gl  # in place: w is this function's own array
            hs, xs, f = _forward(w, mult, X, phi)
        if not np.all(np.isfinite(f)):
            raise FloatingPointError(
                f"abc training diverged at step {t + 1} (width={n}, a={a.tolist()}, "
                f"b={b.tolist()}, c={c.tolist()}, eta={eta})"
            )
        out["dh"][:, t] = np.sqrt(np.mean((hs[-1] - hs0[-1]) ** 2, axis=(1, 2)))
        out["dx"][:, t] = np.sqrt(np.mean((xs[-1] - phi(hs0[-1])) ** 2, axis=(1, 2)))
        out["df"][:, t] = np.sqrt(np.mean((f - f0) ** 2, axis=1))
    return {**out, "h0_rms": np.sqrt(np.mean(hs0[-1] ** 2, axis=(1, 2))), "f0_rms": np.sqrt(np.mean(f0**2, axis=1))}


# ----------------------------------------------------------------------------- backward pass at initialisation
#
# The readout f = v . phi(z^(L)) with v_i ~ N(0, C_W / n_L) (the readout counted as layer L+1, same C_W, no bias);
# g^(l) = df/dz^(l) = phi'(z^(l)) * (W^(l+1))^T g^(l+1), g^(L) = phi'(z^(L)) * v. Returned per network:
# ``grad2[s, l-1]`` = ||g^(l)||^2 (a sum over neurons) and ``q[s, l-1]`` = mean_i (z_i^(l))^2, for one input.


def _check_backward(x, widths, C_W, C_b, n_nets, activation):
    x = V.real_array("x", x, ndim=1)
    x, widths, _ = _check_forward(x[None, :], widths, C_W, C_b, n_nets, activation)
    return x[0], widths, get_activation(activation)


def backward_gram(x, widths, *, activation: str, C_W: float, C_b: float, n_nets: int, seed) -> dict:
    """``grad2`` and ``q`` (module notes above) of S = n_nets networks on one input ``x`` (n_0,), sampled layer
    by layer in law in O(S sum n_l), without drawing a weight matrix.

    Forward: with a = phi(z^(l)) and a_hat = a / |a|, W a = sqrt(C_W / n_l) |a| zeta, zeta ~ N(0, I). Backward:
    W^T g = a_hat (W a_hat . g) + (I - a_hat a_hat^T) W^T g, and W (I - a_hat a_hat^T) is independent of W a_hat,
    of the forward pass and of g (which depends on W only through W a_hat), so (I - a_hat a_hat^T) W^T g has the
    law of sqrt(C_W / n_l) |g| (I - a_hat a_hat^T) xi with a fresh xi ~ N(0, I): the same reduction as
    dltheory.simulators.mlp.kernel_sample, exact in law (the tests compare with :func:`backward_full`).
    """
    x, widths, act = _check_backward(x, widths, C_W, C_b, n_nets, activation)
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is detected and raised below
        out = _backward_gram(x, widths, act, C_W, C_b, rng(seed), int(n_nets))
    if not (np.all(np.isfinite(out["grad2"])) and np.all(np.isfinite(out["q"]))):
        raise FloatingPointError("backward pass overflowed (non-finite ||df/dz||^2 or q); lower C_W or the depth")
    return out


def _backward_gram(x, widths, act, C_W, C_b, g, S) -> dict:
    L = len(widths)
    z = np.sqrt(C_b + C_W * (x @ x) / x.size) * g.standard_normal((S, widths[0]))
    zs, zetas, a_hats = [z], [], []
    for n in widths[1:]:
        a = act.phi(z)
        norm = np.linalg.norm(a, axis=1, keepdims=True)
        a_hats.append(np.divide(a, norm, out=np.zeros_like(a), where=norm > 0))
        zetas.append(g.standard_normal((S, n)))
        z = np.sqrt(C_W / a.shape[1]) * norm * zetas[-1] + np.sqrt(C_b) * g.standard_normal((S, n))
        zs.append(z)
    grad = act.dphi(z) * np.sqrt(C_W / widths[-1]) * g.standard_normal((S, widths[-1]))
    grad2 = np.empty((S, L))
    grad2[:, L - 1] = np.sum(grad * grad, axis=1)
    for l in range(L - 2, -1, -1):  # grad of layer l+1 (0-based l+1) -> layer l
        n_l = widths[l]
        along = np.sum(zetas[l] * grad, axis=1, keepdims=True)  # W a_hat . g = sqrt(C_W/n_l) zeta . g
        xi = g.standard_normal((S, n_l))
        xi -= a_hats[l] * np.sum(a_hats[l] * xi, axis=1, keepdims=True)
        back = np.sqrt(C_W / n_l) * (a_hats[l] * along + np.linalg.norm(grad, axis=1, keepdims=True) * xi)
        grad = act.dphi(zs[l]) * back
        grad2[:, l] = np.sum(grad * grad, axis=1)
    return {"grad2": grad2, "q": np.stack([np.mean(zz * zz, axis=1) for zz in zs], axis=1)}


def backward_full(x, widths, *, activation: str, C_W: float, C_b: float, n_nets: int, seed) -> dict:
    """The same statistics with every weight matrix, bias and readout drawn explicitly (reference for
    :func:`backward_gram`; O(S sum n_l n_l+1))."""
    x, widths, act = _check_backward(x, widths, C_W, C_b, n_nets, activation)
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is detected and raised below
        out = _backward_full(x, widths, act, C_W, C_b, rng(seed), int(n_nets))
    if not (np.all(np.isfinite(out["grad2"])) and np.all(np.isfinite(out["q"]))):
        raise FloatingPointError("backward pass overflowed (non-finite ||df/dz||^2 or q); lower C_W or the depth")
    return out


def _backward_full(x, widths, act, C_W, C_b, g, S) -> dict:
    h, zs, Ws = np.broadcast_to(x, (S, x.size)), [], []
    for n in widths:
        W = g.standard_normal((S, n, h.shape[1])) * np.sqrt(C_W / h.shape[1])
        z = np.einsum("sij,sj->si", W, h) + np.sqrt(C_b) * g.standard_normal((S, n))
        zs.append(z)
        Ws.append(W)
        h = act.phi(z)
    grad = act.dphi(zs[-1]) * np.sqrt(C_W / widths[-1]) * g.standard_normal((S, widths[-1]))
    grad2 = [np.sum(grad * grad, axis=1)]
    for l in range(len(widths) - 2, -1, -1):
        grad = act.dphi(zs[l]) * np.einsum("sij,si->sj", Ws[l + 1], grad)
        grad2.append(np.sum(grad * grad, axis=1))
    return {"grad2": np.stack(grad2[::-1], axis=1), "q": np.stack([np.mean(zz * zz, axis=1) for zz in zs], axis=1)}


# ----------------------------------------------------------------------------- learning-rate sweeps (muTransfer)


def lr_sweep(
    width: int, *, a, b, c, X, y, etas, n_steps: int, n_seeds: int, seed, activation: str = "relu"
) -> np.ndarray:
    """Training loss after ``n_steps`` full-batch SGD steps for every learning rate in ``etas`` (same network and
    conventions as :func:`train_abc`: lr eta n^{-c_l}, loss (1/2B) sum_b (f - f_0 - y)^2, output centred at init).

    Each of the ``n_seeds`` initialisations is trained at every eta (common random numbers: the curves of one seed
    differ only by eta). Returns the losses, shape (n_seeds, len(etas)); a run whose output leaves the float64
    range (an eta beyond the edge of stability) has loss +inf, which is the measurement an lr sweep is after
    (Yang et al. 2022, arXiv:2203.03466, sec. 3: the optimum is read off the loss-vs-lr curve).
    """
    width = V.integer("width", width, lower=1, upper=V.MAX_WIDTH)
    a = V.real_array("a", a, ndim=1, min_size=2)
    L = len(a) - 1
    a, b, c = (_exponents(k, v, L) for k, v in (("a", a), ("b", b), ("c", c)))
    X = V.real_array("X", X, ndim=2)
    y = V.real_array("y", y, shape=(X.shape[0],))
    etas = V.real_array("etas", etas, ndim=1, lower=0.0, strict=True)
    n_steps = V.integer("n_steps", n_steps, lower=1, upper=V.MAX_STEPS)
    n_seeds = V.integer("n_seeds", n_seeds, lower=1, upper=V.MAX_SAMPLES)
    S, (_B, d), n = n_seeds * etas.size, X.shape, int(width)
    if S * n * (d + (L - 1) * n + 1 + 4 * L * _B) > V.MAX_ELEMENTS:  # weights, then h, x and their gradients
        raise ValueError(
            f"n_seeds * len(etas) * width * (d + (L-1) width + 1 + 4 L B) must be <= {V.MAX_ELEMENTS} (memory cap)"
        )
    act = get_activation(activation)
    with np.errstate(over="ignore"):  # an exponent beyond the float64 range is refused just below
        mult, lr, std = float(n) ** -a, float(n) ** -c, float(n) ** -b / np.sqrt(np.r_[d, np.ones(L)])
    if not all(np.all(np.isfinite(v)) for v in (mult, lr, std)):
        raise FloatingPointError(f"lr_sweep: width ** -a, -b or -c overflows float64 (width={n}, a, b, c too negative)")
    g = rng(seed)
    shapes = [(n, d)] + [(n, n)] * (L - 1) + [(1, n)]
    w = [np.repeat(std[l] * g.standard_normal((n_seeds, *shapes[l])), etas.size, axis=0) for l in range(L + 1)]
    step = np.tile(etas, n_seeds)[:, None, None]  # network s * len(etas) + e has learning-rate factor etas[e]
    with np.errstate(over="ignore", invalid="ignore"):  # a diverging run ends non-finite and is reported as +inf
        hs, xs, f = _forward(w, mult, X, act.phi)
        f0 = f
        for _ in range(n_steps):
            for wl, lr_l, gl in zip(w, lr, _grads(w, mult, X, hs, xs, f - f0 - y, act.dphi)):
                wl -= (lr_l * step) * gl
            hs, xs, f = _forward(w, mult, X, act.phi)
        loss = 0.5 * np.mean((f - f0 - y) ** 2, axis=1)
    return np.where(np.isfinite(loss), loss, np.inf).reshape(n_seeds, etas.size)
