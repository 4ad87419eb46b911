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
]


def _int_at_least(name: str, value, lower: int) -> int:
    if isinstance(value, bool | np.bool_) or not isinstance(value, int | np.integer) or value < lower:
        raise ValueError(f"{name} must be an integer >= {lower}, got {value!r}")
    return int(value)


def _finite(name: str, value) -> float:
    v = float(value)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be finite, got {value!r}")
    return v


def _covariance(name: str, V) -> np.ndarray:
    V = np.asarray(V, dtype=float)
    if V.ndim != 2 or V.shape[0] != V.shape[1] or not np.all(np.isfinite(V)):
        raise ValueError(f"{name} must be a finite square 2-D array, got shape {V.shape}")
    scale = max(1.0, float(np.abs(V).max()))
    if np.abs(V - V.T).max() > 1e-10 * scale:
        raise ValueError(f"{name} must be symmetric, max |V - V^T| = {np.abs(V - V.T).max():.3g}")
    if np.linalg.eigvalsh(V).min() < -1e-10 * scale:
        raise ValueError(f"{name} must be positive semi-definite, min eigenvalue {np.linalg.eigvalsh(V).min():.3g}")
    return V


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
    s_plus, s_minus, c = relu_slopes(c_plus, c_minus, n, unshaped=unshaped)
    depth = _int_at_least("depth", depth, 1)
    n_paths = _int_at_least("n_paths", n_paths, 1)
    record_every = depth if record_every is None else _int_at_least("record_every", record_every, 1)
    g = rng(seed)
    k = V0.shape[0]
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
    widths = [_int_at_least("widths[i]", w, 2) for w in np.atleast_1d(widths)]
    n_paths = _int_at_least("n_paths", n_paths, 1)
    if not widths:
        raise ValueError("widths must name at least one layer")
    g = rng(seed)
    out = np.zeros(n_paths)
    for n in widths:
        s_plus, s_minus, c = relu_slopes(c_plus, c_minus, n, unshaped=unshaped)
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
    x = np.asarray(x, dtype=float)
    if x.ndim != 2 or x.shape[1] < 1 or not np.all(np.isfinite(x)):
        raise ValueError(f"x must be a finite (k, n_in) array, got shape {x.shape}")
    s_plus, s_minus, c = relu_slopes(c_plus, c_minus, n, unshaped=unshaped)
    depth = _int_at_least("depth", depth, 1)
    n_samples = _int_at_least("n_samples", n_samples, 1)
    g = rng(seed)
    k, n_in = x.shape
    phi = lambda z: np.where(z > 0, s_plus * z, s_minus * z)  # noqa: E731
    z = np.einsum("sij,kj->sik", g.standard_normal((n_samples, n, n_in)), x) / math.sqrt(n_in)
    for _ in range(depth - 1):
        z = math.sqrt(c / n) * np.einsum("sij,sjk->sik", g.standard_normal((n_samples, n, n)), phi(z))
    h = phi(z)
    return c / n * np.einsum("sia,sib->sab", h, h)


# ----------------------------------------------------------------------------- attention


def _attention_args(V0, n, n_k, depth, lam, gamma, tau0):
    V0 = _covariance("V0", V0)
    n, n_k = _int_at_least("n", n, 2), _int_at_least("n_k", n_k, 1)
    depth = _int_at_least("depth", depth, 1)
    lam, gamma, tau0 = _finite("lam", lam), _finite("gamma", gamma), _finite("tau0", tau0)
    if not 0 < gamma <= 1 or abs(lam**2 + gamma**2 - 1) > 1e-12 or lam < 0:
        raise ValueError(f"need 0 < gamma <= 1, lam >= 0 and lam^2 + gamma^2 = 1, got lam={lam}, gamma={gamma}")
    if tau0 <= 0:
        raise ValueError(f"tau0 must be > 0, got {tau0}")
    if V0.shape[0] > n:
        raise ValueError(f"the number of tokens m={V0.shape[0]} must be <= n={n}")
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
    lam = math.sqrt(max(0.0, 1 - float(gamma) ** 2))
    V, n, n_k, _, lam, gamma, tau0 = _attention_args(V, n, n_k, 1, lam, gamma, tau0)
    n_samples = _int_at_least("n_samples", n_samples, 2)
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
    X0 = np.asarray(X0, dtype=float)
    if X0.ndim != 2 or not np.all(np.isfinite(X0)):
        raise ValueError(f"X0 must be a finite (m, n) array, got shape {X0.shape}")
    m, n = X0.shape
    _, n, n_k, depth, lam, gamma, tau0 = _attention_args(X0 @ X0.T / n, n, n_k, depth, lam, gamma, tau0)
    n_samples = _int_at_least("n_samples", n_samples, 1)
    g = rng(seed)
    X = np.broadcast_to(X0, (n_samples, m, n)).copy()
    for _ in range(depth):
        X = _naive_attention(X, g, n_k, lam, gamma, tau0, shaped)
    return X @ np.swapaxes(X, -1, -2) / n


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
    s_plus, s_minus, c = relu_slopes(c_plus, c_minus, n)

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
    X0 = np.asarray(X0, dtype=float)
    if X0.ndim != 2 or not np.all(np.isfinite(X0)):
        raise ValueError(f"X0 must be a finite (m, n) array, got shape {X0.shape}")
    m, n = X0.shape
    _, n, n_k, depth, lam, gamma, tau0 = _attention_args(X0 @ X0.T / n, n, n_k, depth, lam, gamma, tau0)
    s_plus, s_minus, c = relu_slopes(c_plus, c_minus, n)
    n_samples = _int_at_least("n_samples", n_samples, 1)
    g = rng(seed)
    X = np.broadcast_to(X0, (n_samples, m, n)).copy()
    for _ in range(depth):
        Z = _naive_attention(X, g, n_k, lam, gamma, tau0, True)
        H = Z @ g.standard_normal((n_samples, n, n)) / math.sqrt(n)
        phi = H * np.where(H > 0, s_plus, s_minus)
        X = lam * Z + gamma * math.sqrt(c / n) * phi @ g.standard_normal((n_samples, n, n))
    return X @ np.swapaxes(X, -1, -2) / n
