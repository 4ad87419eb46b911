"""Finite shaped networks at initialisation: naive networks and the exact reduced Gram-matrix Markov chain.

Conventions (Li, Nica & Roy 2022, arXiv:2206.02768; Noci et al. 2023, arXiv:2306.17759; Hanin & Nica 2019):
- MLP: z_1 = W_0 x / sqrt(n_in), z_{l+1} = sqrt(c/n) W_l phi(z_l), W iid N(0, 1); the returned covariance after
  ``depth`` layers is V_d = (c/n) phi(z_d)^T phi(z_d) (k x k for k inputs), V_0 = x x^T / n_in. phi(x) =
  s_+ max(x, 0) + s_- min(x, 0): shaped ReLU s_pm = 1 + c_pm/sqrt(n), c = 2/(s_+^2 + s_-^2); He-ReLU s_+ = 1,
  s_- = 0, c = 2 (``unshaped=True``).
- Attention sub-layer (single-matrix residual branch): X_{l+1} = lam X_l + gamma A_l X_l W^V / sqrt(n), X in R^{m x n},
  V = X X^T / n, W^Q, W^K in R^{n x n_k} iid N(0, 1/n), W^V iid N(0, 1), logits Y = X W^Q W^K^T X^T / tau with
  tau = tau0 sqrt(n n_k). Shaped: A = I + Softmax(Y) - 1 1^T / m. Unshaped: A = Softmax(Y).
- Shaped transformer block: the attention sub-layer (giving Z), then a two-matrix shaped-ReLU MLP sub-layer
  X_{l+1} = lam Z + gamma sqrt(c/n) phi(Z W_1 / sqrt(n)) W_2, W_1, W_2 iid N(0, 1) (n x n).

Reduced chain: by rotation invariance of Gaussian weights, V_l is an exact Markov chain. MLP: given V, the rows of
the next pre-activations are iid N(0, V) (O(n k^2) per layer). Attention: in the canonical form X = [sqrt(n) L, 0],
L L^T = V, X W^Q = L G_q, X W^V / sqrt(n) = L G_v and G_v G_v^T = G_1 G_1^T + Wishart_m(n - m, I) with G_1 the
first m columns (Bartlett), so a layer costs O(m^2 n_k + m^3) instead of O(n^2).
"""

from __future__ import annotations

import math

import numpy as np

from dltheory.simulators._seeding import rng
from dltheory.theory import _validate as val
from dltheory.theory.spec import relu_slopes

__all__ = [
    "relu_slopes",
    "relu_mlp_chain",
    "relu_log_norm",
    "relu_mlp_naive",
    "attention_chain",
    "attention_naive",
    "attention_step_moments",
    "block_chain",
    "block_naive",
    "SMOOTH_ACTIVATIONS",
    "smooth_step",
    "smooth_norm_exit",
    "attention_weight_gradients",
]


_CAPS = {
    "depth": val.MAX_DEPTH,
    "record_every": val.MAX_DEPTH,
    "n_paths": val.MAX_SAMPLES,
    "n_samples": val.MAX_SAMPLES,
}


def _int_at_least(name: str, value, lower: int) -> int:
    """An int >= ``lower`` capped by theory._validate: depths by MAX_DEPTH, samples by MAX_SAMPLES, widths by
    MAX_WIDTH."""
    return val.integer(name, value, lower=lower, upper=_CAPS.get(name, val.MAX_WIDTH))


def _gamma(gamma) -> float:
    return val.real_scalar("gamma", gamma, lower=0.0, strict=True, upper=1.0)


def _slopes(c_plus, c_minus, n: int, unshaped: bool = False) -> tuple[float, float, float]:
    """dltheory.theory.spec.relu_slopes, with an overflow of s_pm^2 reported as a ValueError naming c_plus, c_minus."""
    try:
        return relu_slopes(c_plus, c_minus, n, unshaped=unshaped)
    except OverflowError:
        raise ValueError(
            f"c_plus, c_minus must keep s_pm^2 = (1 + c_pm/sqrt(n))^2 finite, got c_plus={c_plus}, c_minus={c_minus}"
        ) from None


def _covariance(name: str, V) -> np.ndarray:
    return val.psd_matrix(name, V)


def _memory(what: str, count: int) -> None:
    """Refuse a call whose largest array would exceed MAX_ELEMENTS floats."""
    if count > val.MAX_ELEMENTS:
        raise ValueError(f"{what} must be <= {val.MAX_ELEMENTS} (memory cap), got {count}")


def _sqrt_psd(V: np.ndarray) -> np.ndarray:
    w, U = np.linalg.eigh(V)
    return U * np.sqrt(np.clip(w, 0, None))[..., None, :]


def _chol_psd(V: np.ndarray) -> np.ndarray:
    """Batched Cholesky factor (continuous in V, so common random numbers couple nearby chains); eigh fallback."""
    try:
        return np.linalg.cholesky(V)
    except np.linalg.LinAlgError:
        return _sqrt_psd(V)


def relu_mlp_chain(
    V0,
    n: int,
    depth: int,
    c_plus=0.0,
    c_minus=0.0,
    *,
    n_paths: int,
    seed,
    unshaped: bool = False,
    record_every: int | None = None,
) -> np.ndarray:
    """Exact reduced chain of the (shaped) ReLU MLP covariance; returns V of shape (n_paths, records, k, k).

    Records are taken at layers 0, record_every, 2 record_every, ... (default: only 0 and ``depth``). Exact in law
    for any n (no approximation): given V_l, the n rows of z_{l+1} are iid N(0, V_l). Vectorised over paths,
    O(n k^2) per layer and path. The same seed gives
    the same Gaussian draws for any shaping (common random numbers: paired differences between shapings).
    """
    V0 = _covariance("V0", V0)
    n = _int_at_least("n", n, 2)
    s_plus, s_minus, c = _slopes(c_plus, c_minus, n, unshaped=val.flag("unshaped", unshaped))
    depth = _int_at_least("depth", depth, 1)
    n_paths = _int_at_least("n_paths", n_paths, 1)
    record_every = depth if record_every is None else _int_at_least("record_every", record_every, 1)
    k = V0.shape[0]
    _memory("k * n_paths * n", k * n_paths * n)
    g = rng(seed)
    V = np.broadcast_to(V0, (n_paths, k, k)).copy()
    out = [V]
    for layer in range(1, depth + 1):
        L = _chol_psd(V)
        G = g.standard_normal((k, n_paths, n))
        h = []
        for a in range(k):  # z = L g, then phi
            z = sum(L[:, a, b, None] * G[b] for b in range(k))
            h.append(z * np.where(z > 0, s_plus, s_minus))
        V = np.empty_like(V)
        for a in range(k):
            for b in range(a + 1):
                V[:, a, b] = V[:, b, a] = c / n * np.einsum("pi,pi->p", h[a], h[b])
        if not np.all(np.isfinite(V)):
            raise FloatingPointError(f"relu chain diverged at layer {layer} (n={n}, s_+={s_plus}, s_-={s_minus})")
        if layer % record_every == 0:
            out.append(V)
    return np.stack(out, axis=1)


def relu_log_norm(widths, c_plus=0.0, c_minus=0.0, *, n_paths: int, seed, unshaped: bool = False) -> np.ndarray:
    """log(V_L / V_0) of one input through ReLU layers of the given ``widths`` (one per layer): (n_paths,) samples.

    Exact in law (the k = 1 case of :func:`relu_mlp_chain`): given V, the n pre-activations are iid N(0, V), so
    V' = V (c/n)(s_+^2 chi^2_N + s_-^2 chi^2_{n-N}) with N ~ Bin(n, 1/2) positive units and independent chi-squares;
    O(1) per layer and path. Shaped widths use s_pm = 1 + c_pm/sqrt(n) at each layer's n. He-ReLU (``unshaped``)
    kills the signal when N = 0 (probability 2^-n): such paths are returned as -inf.
    """
    if isinstance(widths, str | bytes) or widths is None or np.ndim(widths) > 1:
        raise val.InvalidType(f"widths must be an integer or a flat sequence of integers >= 2, got {widths!r}")
    widths = [_int_at_least(f"widths[{i}]", w, 2) for i, w in enumerate(np.atleast_1d(np.asarray(widths, object)))]
    n_paths = _int_at_least("n_paths", n_paths, 1)
    unshaped = val.flag("unshaped", unshaped)
    if not widths:
        raise ValueError("widths must name at least one layer")
    slopes = [_slopes(c_plus, c_minus, n, unshaped=unshaped) for n in widths]
    g = rng(seed)
    out = np.zeros(n_paths)
    for n, (s_plus, s_minus, c) in zip(widths, slopes):
        N = g.binomial(n, 0.5, size=n_paths)
        F = c / n * (s_plus**2 * g.gamma(N / 2, 2.0) + s_minus**2 * g.gamma((n - N) / 2, 2.0))
        with np.errstate(divide="ignore"):
            out += np.log(F)
    return out


def relu_mlp_naive(
    x, n: int, depth: int, c_plus=0.0, c_minus=0.0, *, n_samples: int, seed, unshaped: bool = False
) -> np.ndarray:
    """Naive finite network (explicit n x n weights, a fresh draw per sample); returns V_d, shape (n_samples, k, k).

    ``x``: inputs, shape (k, n_in). Cross-check of :func:`relu_mlp_chain` at small n (cost O(n^2 d) per sample).
    """
    x = val.real_array("x", x, ndim=2)
    n = _int_at_least("n", n, 2)
    s_plus, s_minus, c = _slopes(c_plus, c_minus, n, unshaped=val.flag("unshaped", unshaped))
    depth = _int_at_least("depth", depth, 1)
    n_samples = _int_at_least("n_samples", n_samples, 1)
    k, n_in = x.shape
    _memory("n_samples * n * max(n, n_in)", n_samples * n * max(n, n_in))
    g = rng(seed)
    phi = lambda z: np.where(z > 0, s_plus * z, s_minus * z)  # noqa: E731
    z = np.einsum("sij,kj->sik", g.standard_normal((n_samples, n, n_in)), x) / math.sqrt(n_in)
    for _ in range(depth - 1):
        z = math.sqrt(c / n) * np.einsum("sij,sjk->sik", g.standard_normal((n_samples, n, n)), phi(z))
    h = phi(z)
    out = c / n * np.einsum("sia,sib->sab", h, h)
    if not np.all(np.isfinite(out)):
        raise FloatingPointError(f"naive relu network overflowed by layer {depth} (s_+={s_plus}, s_-={s_minus})")
    return out


# ----------------------------------------------------------------------------- attention


def _attention_args(V0, n, n_k, depth, lam, gamma, tau0):
    V0 = _covariance("V0", V0)
    n, n_k = _int_at_least("n", n, 2), _int_at_least("n_k", n_k, 1)
    depth = _int_at_least("depth", depth, 1)
    lam = val.real_scalar("lam", lam, lower=0.0, upper=1.0)
    gamma = _gamma(gamma)
    tau0 = val.positive("tau0", tau0)
    if abs(lam**2 + gamma**2 - 1) > 1e-12:
        raise ValueError(f"need 0 < gamma <= 1, lam >= 0 and lam^2 + gamma^2 = 1, got lam={lam}, gamma={gamma}")
    if V0.shape[0] > n:
        raise ValueError(f"the number of tokens m={V0.shape[0]} must be <= n={n}")
    _memory("m * max(m, n_k)", V0.shape[0] * max(V0.shape[0], n_k))
    return V0, n, n_k, depth, lam, gamma, tau0


def _softmax(Y: np.ndarray) -> np.ndarray:
    e = np.exp(Y - Y.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _attention_matrix(logits: np.ndarray, shaped: bool) -> np.ndarray:
    m = logits.shape[-1]
    S = _softmax(logits)
    return S + np.eye(m) - 1.0 / m if shaped else S


def _bartlett(g: np.random.Generator, size: int, m: int, dof: int) -> np.ndarray:
    """Wishart_m(dof, I) samples, shape (size, m, m), via the Bartlett decomposition."""
    T = np.tril(g.standard_normal((size, m, m)), -1)
    idx = np.arange(m)
    T[:, idx, idx] = np.sqrt(g.chisquare(dof - idx, size=(size, m)))
    return T @ np.swapaxes(T, -1, -2)


def _attention_layer(V, g, n, n_k, lam, gamma, tau0, shaped):
    N, m, _ = V.shape
    L = _sqrt_psd(V)
    Q = L @ g.standard_normal((N, m, n_k))
    K = L @ g.standard_normal((N, m, n_k))
    A = _attention_matrix(Q @ np.swapaxes(K, -1, -2) / (tau0 * math.sqrt(n * n_k)), shaped)
    G1 = g.standard_normal((N, m, m))
    AL = A @ L
    cross = L @ np.swapaxes(G1, -1, -2) @ np.swapaxes(AL, -1, -2)
    gram = G1 @ np.swapaxes(G1, -1, -2) + (_bartlett(g, N, m, n - m) if n > m else 0.0)
    Vn = (
        lam**2 * V
        + lam * gamma / math.sqrt(n) * (cross + np.swapaxes(cross, -1, -2))
        + gamma**2 / n * AL @ gram @ np.swapaxes(AL, -1, -2)
    )
    return 0.5 * (Vn + np.swapaxes(Vn, -1, -2))


def _run_chain(V0, step, depth: int, n_paths, record_every, seed, what: str) -> np.ndarray:
    """Iterate ``V <- step(V, rng)`` ``depth`` times on ``n_paths`` copies of V0, recording every
    ``record_every`` layers (and layer 0); a non-finite V raises FloatingPointError naming ``what`` and the layer."""
    n_paths = _int_at_least("n_paths", n_paths, 1)
    record_every = depth if record_every is None else _int_at_least("record_every", record_every, 1)
    _memory("n_paths * m^2 * (records)", n_paths * V0.size * (depth // record_every + 2))
    g = rng(seed)
    V = np.broadcast_to(V0, (n_paths, *V0.shape)).copy()
    out = [V]
    for layer in range(1, depth + 1):
        V = step(V, g)
        if not np.all(np.isfinite(V)):
            raise FloatingPointError(f"{what} diverged at layer {layer}")
        if layer % record_every == 0:
            out.append(V)
    return np.stack(out, axis=1)


def attention_chain(
    V0,
    n: int,
    n_k: int,
    depth: int,
    *,
    lam: float,
    gamma: float,
    tau0: float,
    n_paths: int,
    seed,
    shaped: bool = True,
    record_every: int | None = None,
) -> np.ndarray:
    """Exact reduced chain of the token covariance through ``depth`` attention blocks; (n_paths, records, m, m).

    Vectorised over paths (numpy). A non-finite covariance raises FloatingPointError naming the layer.
    """
    V0, n, n_k, depth, lam, gamma, tau0 = _attention_args(V0, n, n_k, depth, lam, gamma, tau0)
    shaped = val.flag("shaped", shaped)
    return _run_chain(
        V0,
        lambda V, g: _attention_layer(V, g, n, n_k, lam, gamma, tau0, shaped),
        depth,
        n_paths,
        record_every,
        seed,
        f"attention chain (n={n}, tau0={tau0}, gamma={gamma})",
    )


def attention_step_moments(
    V, n: int, n_k: int, *, gamma: float, tau0: float, n_samples: int, seed, shaped: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """One exact block step from a fixed V: samples of (A V A^T, V_{l+1}), shapes (n_samples, m, m) each.

    E[A V A^T] gives the exact conditional drift E[V_{l+1} - V | V] = gamma^2 (E[A V A^T] - V) with lam^2 + gamma^2 = 1;
    the logits are drawn antithetically (Z, -Z in consecutive samples) to cancel the odd orders.
    """
    V = _covariance("V", V)
    lam = math.sqrt(1 - _gamma(gamma) ** 2)
    V, n, n_k, _, lam, gamma, tau0 = _attention_args(V, n, n_k, 1, lam, gamma, tau0)
    n_samples = _int_at_least("n_samples", n_samples, 2)
    shaped = val.flag("shaped", shaped)
    _memory("n_samples * m * max(m, n_k)", n_samples * V.shape[0] * max(V.shape[0], n_k))
    g = rng(seed)
    m = V.shape[0]
    half = (n_samples + 1) // 2
    L = _sqrt_psd(V)
    Y = (L @ g.standard_normal((half, m, n_k))) @ np.swapaxes(L @ g.standard_normal((half, m, n_k)), -1, -2)
    Y = np.concatenate([Y, -Y])[:n_samples] / (tau0 * math.sqrt(n * n_k))
    A = _attention_matrix(Y, shaped)
    AVA = A @ V @ np.swapaxes(A, -1, -2)
    Vn = _attention_layer(np.broadcast_to(V, (n_samples, m, m)).copy(), g, n, n_k, lam, gamma, tau0, shaped)
    return AVA, Vn


def attention_naive(
    X0, n_k: int, depth: int, *, lam: float, gamma: float, tau0: float, n_samples: int, seed, shaped: bool = True
) -> np.ndarray:
    """Naive attention network (explicit weights, fresh per sample); returns V_d = X_d X_d^T / n, (n_samples, m, m).

    ``X0``: tokens, shape (m, n). Cross-check of :func:`attention_chain` at small n (O(n^2) per layer).
    """
    X0, n_k, depth, lam, gamma, tau0, n_samples = _naive_args(X0, n_k, depth, lam, gamma, tau0, n_samples)
    shaped = val.flag("shaped", shaped)
    m, n = X0.shape
    g = rng(seed)
    X = np.broadcast_to(X0, (n_samples, m, n)).copy()
    for layer in range(1, depth + 1):
        X = _naive_attention(X, g, n_k, lam, gamma, tau0, shaped)
        _raise_if_nonfinite(X, f"naive attention network (tau0={tau0})", layer)
    return X @ np.swapaxes(X, -1, -2) / n


def _naive_args(X0, n_k, depth, lam, gamma, tau0, n_samples):
    """Validated (X0, n_k, depth, lam, gamma, tau0, n_samples) of the naive networks (X0: m tokens x width n)."""
    X0 = val.real_array("X0", X0, ndim=2)
    m, n = X0.shape
    _, n, n_k, depth, lam, gamma, tau0 = _attention_args(X0 @ X0.T / n, n, n_k, depth, lam, gamma, tau0)
    n_samples = _int_at_least("n_samples", n_samples, 1)
    _memory("n_samples * n * max(n, m)", n_samples * n * max(n, m))
    return X0, n_k, depth, lam, gamma, tau0, n_samples


def _raise_if_nonfinite(X: np.ndarray, what: str, layer: int) -> None:
    if not np.all(np.isfinite(X)):
        raise FloatingPointError(f"{what} diverged at layer {layer}")


def _naive_attention(X, g, n_k, lam, gamma, tau0, shaped):
    """One attention sub-layer of explicit width-n networks X (samples, m, n), weights drawn Q, K, V in order."""
    n_samples, _, n = X.shape
    WQ = g.standard_normal((n_samples, n, n_k)) / math.sqrt(n)
    WK = g.standard_normal((n_samples, n, n_k)) / math.sqrt(n)
    WV = g.standard_normal((n_samples, n, n))
    Y = (X @ WQ) @ np.swapaxes(X @ WK, -1, -2) / (tau0 * math.sqrt(n * n_k))
    return lam * X + gamma * _attention_matrix(Y, shaped) @ X @ WV / math.sqrt(n)


def _mlp_layer(V, g, n, lam, gamma, s_plus, s_minus, c):
    """Exact Gram step of the MLP sub-layer. H = Z W_1/sqrt(n) has iid N(0, V) columns; with U = phi(H) W_2 (columns
    iid N(0, phi phi^T)), Z W_2^T phi^T = sqrt(n) L U_1^T (U_1: first m columns) and U U^T = U_1 U_1^T + L_phi
    Wishart_m(n - m, I) L_phi^T, so V' = lam^2 V + lam gamma sqrt(c)/n (L U_1^T + U_1 L^T) + gamma^2 c/n^2 U U^T."""
    N, m, _ = V.shape
    L = _sqrt_psd(V)
    H = L @ g.standard_normal((N, m, n))
    phi = H * np.where(H > 0, s_plus, s_minus)
    L_phi = _sqrt_psd(phi @ np.swapaxes(phi, -1, -2))
    U1 = L_phi @ g.standard_normal((N, m, m))
    cross = L @ np.swapaxes(U1, -1, -2)
    UU = U1 @ np.swapaxes(U1, -1, -2) + (
        L_phi @ _bartlett(g, N, m, n - m) @ np.swapaxes(L_phi, -1, -2) if n > m else 0.0
    )
    Vn = lam**2 * V + lam * gamma * math.sqrt(c) / n * (cross + np.swapaxes(cross, -1, -2)) + gamma**2 * c / n**2 * UU
    return 0.5 * (Vn + np.swapaxes(Vn, -1, -2))


def block_chain(
    V0,
    n: int,
    n_k: int,
    depth: int,
    *,
    lam: float,
    gamma: float,
    tau0: float,
    c_plus: float,
    c_minus: float,
    n_paths: int,
    seed,
    record_every: int | None = None,
) -> np.ndarray:
    """Exact reduced chain through ``depth`` shaped transformer blocks (attention, then shaped-ReLU MLP).

    Returns V of shape (n_paths, records, m, m). O(m^2 (n_k + n)) per block and path.
    """
    V0, n, n_k, depth, lam, gamma, tau0 = _attention_args(V0, n, n_k, depth, lam, gamma, tau0)
    s_plus, s_minus, c = _slopes(c_plus, c_minus, n)

    def block(V, g):
        return _mlp_layer(_attention_layer(V, g, n, n_k, lam, gamma, tau0, True), g, n, lam, gamma, s_plus, s_minus, c)

    return _run_chain(V0, block, depth, n_paths, record_every, seed, f"block chain (n={n}, tau0={tau0}, gamma={gamma})")


def block_naive(
    X0,
    n_k: int,
    depth: int,
    *,
    lam: float,
    gamma: float,
    tau0: float,
    c_plus: float,
    c_minus: float,
    n_samples: int,
    seed,
) -> np.ndarray:
    """Naive shaped transformer blocks (explicit weights, fresh per sample); returns V_d, (n_samples, m, m)."""
    X0, n_k, depth, lam, gamma, tau0, n_samples = _naive_args(X0, n_k, depth, lam, gamma, tau0, n_samples)
    m, n = X0.shape
    s_plus, s_minus, c = _slopes(c_plus, c_minus, n)
    g = rng(seed)
    X = np.broadcast_to(X0, (n_samples, m, n)).copy()
    for layer in range(1, depth + 1):
        Z = _naive_attention(X, g, n_k, lam, gamma, tau0, True)
        H = Z @ g.standard_normal((n_samples, n, n)) / math.sqrt(n)
        phi = H * np.where(H > 0, s_plus, s_minus)
        X = lam * Z + gamma * math.sqrt(c / n) * phi @ g.standard_normal((n_samples, n, n))
        _raise_if_nonfinite(X, f"naive transformer blocks (tau0={tau0})", layer)
    return X @ np.swapaxes(X, -1, -2) / n


# ----------------------------------------------------------------------------- shaped smooth activations

SMOOTH_ACTIVATIONS = ("tanh", "erf", "gelu", "softplus", "silu")


def _smooth_phi(activation: str, a: float, n: int):
    """phi_s(x) = s phi_c(x / s), s = a sqrt(n), with phi_c = (phi - phi(0)) / phi'(0) the recentred
    dltheory.theory.spec activation (phi_c(0) = 0, phi_c'(0) = 1; [LNR22] smooth case)."""
    from dltheory.theory.spec import get_activation

    act = get_activation(val.choice("activation", activation, SMOOTH_ACTIVATIONS))
    a = val.positive("a", a, upper=1e150)
    phi0, dphi0 = float(act.phi(np.float64(0.0))), float(act.dphi(np.float64(0.0)))
    s = a * math.sqrt(n)
    return lambda x: s * (act.phi(x / s) - phi0) / dphi0


def smooth_step(V, n: int, activation: str, a: float, *, n_samples: int, seed) -> tuple[np.ndarray, np.ndarray]:
    """One exact layer of the shaped smooth MLP from a fixed V: samples of (V_{l+1}, V_lin), each (n_samples, k, k).

    Given V_l = V the n rows z_i of the pre-activations are iid N(0, V); V_{l+1} = (1/n) sum_i phi_s(z_i) phi_s(z_i)^T
    (c = 1) with phi_s of :func:`_smooth_phi`, and V_lin = (1/n) sum_i z_i z_i^T is the linear network's Gram on the
    same draws (E V_lin = V exactly: a control variate). Samples come in antithetic pairs (z, -z) at indices
    (2j, 2j + 1), which cancel the odd orders in 1/s of the pair mean. O(n k^2) per sample.
    """
    V = _covariance("V", V)
    n = _int_at_least("n", n, 2)
    phi = _smooth_phi(activation, a, n)
    n_samples = _int_at_least("n_samples", n_samples, 2)
    if n_samples % 2:
        raise ValueError(f"n_samples must be even (antithetic pairs), got {n_samples}")
    k = V.shape[0]
    _memory("n_samples * n * k", n_samples * n * k)
    g = rng(seed)
    z = g.standard_normal((n_samples // 2, n, k)) @ _sqrt_psd(V).T
    z = np.stack([z, -z], axis=1).reshape(n_samples, n, k)
    h = phi(z)
    out = np.einsum("sia,sib->sab", h, h) / n, np.einsum("sia,sib->sab", z, z) / n
    if not np.all(np.isfinite(out[0])):
        raise FloatingPointError(f"smooth step overflowed (activation={activation}, a={a}, n={n})")
    return out


def smooth_norm_exit(
    V0: float, n: int, activation: str, a: float, *, lower: float, upper: float, max_depth: int, n_paths: int, seed
) -> tuple[np.ndarray, np.ndarray]:
    """Run the norm V_l = (1/n) |phi_s(z_l)|^2 of one input through shaped smooth layers until it leaves
    (lower, upper): returns (exit layer, V at that layer, overshoot included), shapes (n_paths,). A path still
    inside after ``max_depth`` layers has exit layer -1 and its last V. Exact in law (k = 1 case of :func:`smooth_step`: given V the
    n pre-activations are iid N(0, V)); O(n) per layer and live path, paths stop at their exit."""
    V0, lower, upper = (val.positive(k, v) for k, v in (("V0", V0), ("lower", lower), ("upper", upper)))
    if not lower < V0 < upper:
        raise ValueError(f"need 0 < lower < V0 < upper, got lower={lower}, V0={V0}, upper={upper}")
    n = _int_at_least("n", n, 2)
    phi = _smooth_phi(activation, a, n)
    max_depth = val.integer("max_depth", max_depth, lower=1, upper=val.MAX_DEPTH)
    n_paths = _int_at_least("n_paths", n_paths, 1)
    _memory("n_paths * n", n_paths * n)
    g = rng(seed)
    layer, value = np.full(n_paths, -1), np.full(n_paths, V0)
    live, V = np.arange(n_paths), value.copy()
    for depth in range(1, max_depth + 1):
        V = np.mean(phi(np.sqrt(V)[:, None] * g.standard_normal((live.size, n))) ** 2, axis=1)
        if not np.all(np.isfinite(V)):
            raise FloatingPointError(f"smooth norm chain overflowed at layer {depth} (activation={activation})")
        out = (V <= lower) | (V >= upper)
        layer[live[out]], value[live] = depth, V
        live, V = live[~out], V[~out]
        if live.size == 0:
            break
    return layer, value


# ----------------------------------------------------------------------------- attention weight gradients


def attention_weight_gradients(
    X0, n_k: int, depth: int, *, lam: float, gamma: float, tau0: float, n_samples: int, seed, shaped: bool = True
) -> np.ndarray:
    """Squared Frobenius norms of dL/dW^Q_l, dL/dW^K_l, dL/dW^V_l (l = 0 .. depth - 1) of explicit attention networks
    at initialisation: array (n_samples, depth, 3), columns (Q, K, V).

    Network as :func:`attention_naive` (weights fresh per sample, drawn Q, K, V per layer, then R), loss
    L = <R, X_depth>_F / sqrt(m n) with a fresh readout R iid N(0, 1) per sample. Exact reverse-mode gradients,
    written out (vectorised over samples; tests/test_simulators_shaped.py checks them against jax.grad to
    round-off): with G = dL/dX_{l+1}, H = gamma G W^V^T / sqrt(n), dW^V = gamma (A X)^T G / sqrt(n),
    dY = S o (H X^T - rowsum(S o H X^T)) / tau, dW^Q = X^T dY K, dW^K = X^T dY^T Q, and
    dL/dX_l = lam G + A^T H + dY K W^Q^T + dY^T Q W^K^T. O(depth m n^2) per sample; samples run in batches of
    max(1, 2e6 // (depth n^2)) (a fixed function of the shape, so a seed gives the same draws on every call).
    """
    X0, n_k, depth, lam, gamma, tau0, n_samples = _naive_args(X0, n_k, depth, lam, gamma, tau0, n_samples)
    shaped = val.flag("shaped", shaped)
    n = X0.shape[1]
    _memory("depth * n^2", depth * n * n)
    g = rng(seed)
    batch = max(1, 2_000_000 // (depth * n * n))  # samples per batch: the tape holds batch * depth * n^2 floats
    return np.concatenate(
        [
            _attention_grads(X0, g, n_k, depth, lam, gamma, tau0, shaped, min(batch, n_samples - start))
            for start in range(0, n_samples, batch)
        ]
    )


def _attention_grads(X0, g, n_k, depth, lam, gamma, tau0, shaped, n_samples):
    """One batch of :func:`attention_weight_gradients` (draws from ``g`` in order: per layer W^Q, W^K, W^V, then R)."""
    m, n = X0.shape
    tau, T = tau0 * math.sqrt(n * n_k), lambda M: np.swapaxes(M, -1, -2)  # noqa: E731
    X = np.broadcast_to(X0, (n_samples, m, n)).copy()
    tape = []
    for _ in range(depth):
        WQ = g.standard_normal((n_samples, n, n_k)) / math.sqrt(n)
        WK = g.standard_normal((n_samples, n, n_k)) / math.sqrt(n)
        WV = g.standard_normal((n_samples, n, n))
        Q, K = X @ WQ, X @ WK
        S = _softmax(Q @ T(K) / tau)
        A = S + np.eye(m) - 1.0 / m if shaped else S
        tape.append((X, WQ, WK, WV, Q, K, S, A))
        X = lam * X + gamma * A @ X @ WV / math.sqrt(n)
    _raise_if_nonfinite(X, f"attention network (tau0={tau0})", depth)
    G = g.standard_normal((n_samples, m, n)) / math.sqrt(m * n)
    out = np.empty((n_samples, depth, 3))
    for layer in range(depth - 1, -1, -1):
        X, WQ, WK, WV, Q, K, S, A = tape[layer]
        H = gamma * G @ T(WV) / math.sqrt(n)
        dS = H @ T(X)
        dY = S * (dS - np.sum(dS * S, axis=-1, keepdims=True)) / tau
        dWQ, dWK = T(X) @ dY @ K, T(X) @ T(dY) @ Q
        dWV = gamma * T(A @ X) @ G / math.sqrt(n)
        out[:, layer] = np.stack([np.sum(w**2, axis=(1, 2)) for w in (dWQ, dWK, dWV)], axis=1)
        G = lam * G + T(A) @ H + dY @ K @ T(WQ) + T(dY) @ Q @ T(WK)
    return out
