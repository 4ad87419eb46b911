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
from dltheory.theory.spec import get_activation

__all__ = ["ForwardStats", "forward_full", "forward_gram", "train_abc"]


@dataclass(frozen=True)
class ForwardStats:
    """Per-network statistics of each preactivation layer (S networks, L layers, k inputs).

    ``G[s, l]``: the k x k conditional covariance of z^(l+1) given layer l (layer 1: C_b + C_W x x^T/n_0).
    ``m1, m2, m4``: means over neurons of z, z^2, z^4 per input, shape (S, L, k).
    ``a1, a2``: means over neurons of phi(z), phi(z)^2 (post-activations), shape (S, L, k).
    ``corr``: (S, L) empirical correlation sum_i z_i(x_1) z_i(x_2) / (|z(x_1)| |z(x_2)|) (NaN if k = 1).
    """

    G: np.ndarray
    m1: np.ndarray
    m2: np.ndarray
    m4: np.ndarray
    a1: np.ndarray
    a2: np.ndarray
    corr: np.ndarray


def _check_forward(x, widths, C_W, C_b, n_nets, activation):
    x = np.asarray(x, dtype=float)
    if x.ndim != 2 or x.shape[0] < 1 or x.shape[1] < 1:
        raise ValueError(f"x must have shape (k inputs, n_0 features) with k, n_0 >= 1, got {x.shape}")
    if not np.all(np.isfinite(x)):
        raise ValueError("x must be finite")
    widths = list(widths)
    if len(widths) < 1 or any(isinstance(n, bool) or int(n) != n or n < 1 for n in widths):
        raise ValueError(f"widths must be a non-empty sequence of integers >= 1 (depth >= 1), got {widths!r}")
    for name, v, strict in (("C_W", C_W, True), ("C_b", C_b, False)):
        if not np.isfinite(v) or v < 0 or (strict and v == 0):
            raise ValueError(f"{name} must be finite and {'> 0' if strict else '>= 0'}, got {v!r}")
    if isinstance(n_nets, bool) or int(n_nets) != n_nets or n_nets < 2:
        raise ValueError(f"n_nets must be an integer >= 2, got {n_nets!r}")
    return x, [int(n) for n in widths], get_activation(activation).phi


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


def _stats(z: np.ndarray, phi, G_all, out) -> np.ndarray:
    """Accumulate the statistics of z (S, k, n: inputs by neurons) into ``out`` lists; return phi(z)."""
    a = phi(z)
    z2 = z * z
    out["m1"].append(z.mean(2)), out["m2"].append(z2.mean(2)), out["m4"].append((z2 * z2).mean(2))
    out["a1"].append(a.mean(2)), out["a2"].append((a * a).mean(2)), out["G"].append(G_all)
    if z.shape[1] >= 2:
        zz = z[:, :2] @ np.swapaxes(z[:, :2], 1, 2)  # (S, 2, 2)
        out["corr"].append(zz[:, 0, 1] / np.sqrt(zz[:, 0, 0] * zz[:, 1, 1]))
    else:
        out["corr"].append(np.full(z.shape[0], np.nan))
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
    g, k = rng(seed), x.shape[0]
    per_chunk = max(1, int(chunk_floats) // (max(widths) * k))
    parts = []
    for start in range(0, int(n_nets), per_chunk):
        S = min(per_chunk, int(n_nets) - start)
        out = {key: [] for key in ("G", "m1", "m2", "m4", "a1", "a2", "corr")}
        G = np.broadcast_to(C_b + C_W * x @ x.T / x.shape[1], (S, k, k))
        for n in widths:
            z = _psd_sqrt(G) @ g.standard_normal((S, k, n))  # columns (neurons) i.i.d. N(0, G)
            h = _stats(z, phi, G, out)
            G = C_b + C_W * (h @ np.swapaxes(h, 1, 2)) / n
        parts.append(_finish(out))
    return ForwardStats(
        **{f: np.concatenate([getattr(p, f) for p in parts]) for f in ForwardStats.__dataclass_fields__}
    )


def forward_full(x, widths, *, activation: str, C_W: float, C_b: float, n_nets: int, seed) -> ForwardStats:
    """The same statistics with every W^(l), b^(l) drawn explicitly (reference for :func:`forward_gram`)."""
    x, widths, phi = _check_forward(x, widths, C_W, C_b, n_nets, activation)
    g = rng(seed)
    out = {key: [] for key in ("G", "m1", "m2", "m4", "a1", "a2", "corr")}
    h = np.broadcast_to(x, (n_nets, *x.shape))  # (S, k, n_0)
    for n in widths:
        fan_in = h.shape[2]
        G = C_b + C_W * (h @ np.swapaxes(h, 1, 2)) / fan_in
        W = g.standard_normal((n_nets, n, fan_in)) * np.sqrt(C_W / fan_in)
        z = h @ np.swapaxes(W, 1, 2) + np.sqrt(C_b) * g.standard_normal((n_nets, 1, n))
        h = _stats(z, phi, G, out)
    return _finish(out)


# ----------------------------------------------------------------------------- abc training


def _exponents(name: str, v, L: int) -> np.ndarray:
    arr = np.full(L + 1, float(v)) if np.ndim(v) == 0 else np.asarray(v, float)
    if arr.shape != (L + 1,) or not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be a finite scalar or a sequence of L+1 = {L + 1} exponents, got {v!r}")
    return arr


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
    if isinstance(width, bool) or int(width) != width or width < 1:
        raise ValueError(f"width must be an integer >= 1, got {width!r}")
    if np.ndim(a) != 1 or len(a) < 2:
        raise ValueError(f"a must be a sequence of L+1 >= 2 exponents (one per weight matrix), got {a!r}")
    L = len(a) - 1
    a, b, c = (_exponents(k, v, L) for k, v in (("a", a), ("b", b), ("c", c)))
    X, y = np.asarray(X, float), np.asarray(y, float)
    if X.ndim != 2 or y.shape != (X.shape[0],) or not (np.all(np.isfinite(X)) and np.all(np.isfinite(y))):
        raise ValueError(f"X must be finite (B, d) and y finite (B,), got shapes {X.shape}, {y.shape}")
    if not np.isfinite(eta) or eta <= 0:
        raise ValueError(f"eta must be finite and > 0, got {eta!r}")
    for name, v in (("n_steps", n_steps), ("n_seeds", n_seeds)):
        if isinstance(v, bool) or int(v) != v or v < 1:
            raise ValueError(f"{name} must be an integer >= 1, got {v!r}")
    act = get_activation(activation)
    phi, dphi = act.phi, act.dphi
    n, (_B, d), S = int(width), X.shape, int(n_seeds)
    mult, lr = float(n) ** -a, eta * float(n) ** -c
    std = float(n) ** -b / np.sqrt(np.r_[d, np.ones(L)])
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
