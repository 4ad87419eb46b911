"""The on-diagonal empirical NTK Theta(x, x) of a ReLU MLP at initialisation, sampled exactly in law in O(depth)
per network (no weight matrix, no neuron vector is drawn).

Network (NTK parameterisation, no biases, C_W = 2): z^(1) = sqrt(2/n_0) W^(1) x, z^(l+1) = sqrt(2/n_l) W^(l+1)
relu(z^(l)) for l = 1..L, output f = z^(L+1) (n_{L+1} = 1), every W^(l) with i.i.d. N(0, 1) entries. Its NTK is the
sum over the L+1 weight matrices (the layout of dltheory.simulators.mlp with ``bias_var = 0``)

    Theta = sum_{j=1}^{L+1} (2/n_{j-1}) |a^(j-1)|^2 |delta^(j)|^2,   a^(0) = x, a^(l) = relu(z^(l)),
    delta^(j) = df/dz^(j), delta^(L+1) = 1.

Reduction to scalars (each step an identity in law; Hanin & Nica 2019, arXiv:1812.05994, use the same
decomposition for the forward pass). Write e^(l) = a^(l)/|a^(l)| and g_{l+1} = W^(l+1) e^(l) ~ N(0, I_{n_{l+1}})
(independent of the layers below), so z^(l+1) = sqrt(2/n_l) |a^(l)| g_{l+1}. With k_l ~ Bin(n_l, 1/2) active units
in hidden layer l and r_l^2 = |relu(g_l)|^2 ~ chi^2_{k_l}:

- forward: (2/n_l) |a^(l)|^2 = (2/n_{l-1}) |a^(l-1)|^2 X_l, X_l = (2/n_l) r_l^2;
- backward: W^(l+1)T u = e^(l) (g_{l+1}.u) + W^(l+1)(I - e e^T)^T u for a unit u independent of
  W^(l+1)(I - e e^T), whose restriction to the active units of layer l, orthogonal to e^(l), has squared norm
  q_l ~ chi^2_{k_l - 1} independent of everything else. Hence |delta^(l)|^2 = |delta^(l+1)|^2 (2/n_l)
  (s_{l+1}^2 + q_l), with s_{l+1} = g_{l+1}.u^(l+1), u^(l) = delta^(l)/|delta^(l)|. On the active set g_l = r_l e^(l)
  and the part of delta^(l) orthogonal to e^(l) is orthogonal to g_l, so s_l = r_l s_{l+1} / sqrt(s_{l+1}^2 + q_l);
  the readout gives s_{L+1} = w.e^(L) ~ N(0, 1).

A layer with no active unit (k_l = 0) kills the network: Theta = 0 (probability ~ L 2^-n, kept: it is part of the
law). The unit tests compare this sampler with dltheory.simulators.mlp.kernel_sample (itself tested against explicit
weight matrices).
"""

from __future__ import annotations

import numpy as np

from dltheory.theory import _validate as V

__all__ = ["relu_ntk_diagonal"]


def _widths(widths) -> np.ndarray:
    if isinstance(widths, str | bytes) or not isinstance(widths, list | tuple | range | np.ndarray):
        raise V.InvalidType(f"widths must be a non-empty sequence of integers in [1, {V.MAX_WIDTH}], got {widths!r}")
    if np.asarray(widths, dtype=object).ndim != 1 or len(widths) < 1:
        raise ValueError(f"widths must be a non-empty flat sequence of hidden widths n_1..n_L, got {widths!r}")
    w = [V.integer(f"widths[{i}]", n, lower=1, upper=V.MAX_WIDTH) for i, n in enumerate(widths)]
    if len(w) > V.MAX_DEPTH:
        raise ValueError(f"widths must hold at most {V.MAX_DEPTH} layers, got {len(w)}")
    return np.array(w, dtype=np.int64)


def relu_ntk_diagonal(widths, n_nets: int, *, seed, C0: float = 1.0) -> np.ndarray:
    """Per-layer NTK terms (2/n_{j-1}) |a^(j-1)|^2 |delta^(j)|^2, j = 1..L+1, of ``n_nets`` independent ReLU
    networks with hidden widths ``widths`` = (n_1..n_L), drawn exactly in law (module docstring): shape
    (n_nets, L+1); Theta(x, x) is the sum over the last axis. ``C0`` = |x|^2 / n_0 > 0 (each term has mean 2 C0).
    """
    n = _widths(widths)
    S = V.integer("n_nets", n_nets, lower=1, upper=V.MAX_SAMPLES)
    C0 = V.positive("C0", C0)
    if S * n.size > V.MAX_ELEMENTS:
        raise ValueError(f"n_nets x depth must be at most {V.MAX_ELEMENTS}, got {S} x {n.size}")
    g = V.generator("seed", seed)
    L = n.size
    k = g.binomial(n, 0.5, size=(S, L))
    r2 = 2.0 * g.standard_gamma(k / 2.0)  # chi^2_k (0 when k = 0)
    q = 2.0 * g.standard_gamma(np.maximum(k - 1, 0) / 2.0)  # chi^2_{k-1}
    s = g.standard_normal(S)  # s_{L+1}
    fwd = 2.0 * C0 * np.cumprod(np.column_stack([np.ones(S), 2.0 * r2 / n]), axis=1)  # (2/n_{j-1})|a^(j-1)|^2
    bwd = np.ones((S, L + 1))  # |delta^(j)|^2, j = L+1 down to 1
    for l in range(L - 1, -1, -1):
        norm2 = np.where(k[:, l] > 0, s * s + q[:, l], 0.0)  # D^(l) = 0 when no unit is active
        bwd[:, l] = bwd[:, l + 1] * 2.0 * norm2 / n[l]
        s = np.divide(np.sqrt(r2[:, l]) * s, np.sqrt(norm2), out=np.zeros(S), where=norm2 > 0)
    return fwd * bwd
