"""Modular addition: Gromov's analytic solution, Fourier diagnostics, Nanda's progress measures, Morwani's margin.

References
----------
- [G23] A. Gromov, "Grokking modular arithmetic", arXiv:2301.02679: eqs. 4 (network), 6-7 and 12 (analytic
  weights, phase constraint phi_1 + phi_2 = phi_3), 11/15 (expansion: signal N/2 delta, o(N) random-phase sums),
  20-21 (inverse participation ratio).
- [N23] N. Nanda, L. Chan, T. Lieberum, J. Smith, J. Steinhardt, "Progress measures for grokking via mechanistic
  interpretability", ICLR 2023, arXiv:2301.05217, sec. 5 (restricted and excluded losses).
- [M23] D. Morwani, B. Edelman, C. Oncescu, R. Zhao, S. Kakade, "Feature emergence via margin maximization",
  ICLR 2024, arXiv:2311.07568, Thm 7 (max margin of quadratic networks on modular addition).

Conventions: p prime >= 5; inputs (a, b) in Z_p^2, label (a + b) mod p. A two-layer quadratic network of width N
is (U, V, W) with U, V of shape (N, p), W of shape (p, N) and logits f(a, b) = W (U e_a + V e_b)^2 ([G23] eq. 4
without the 1/(DN) scale, which does not change the argmax). omega = 2 pi / p. Frequencies k = 1 .. (p-1)/2.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import log_softmax

from dltheory.theory._validate import (
    MAX_SAMPLES,
    MAX_WIDTH,
    flag,
    generator,
    integer,
    integer_array,
    integer_at_least,
    mask,
    positive,
    real_array,
    real_scalar,
)
from dltheory.theory._validate import (
    seed as check_seed,
)

MAX_P = MAX_WIDTH
"""Largest modulus p."""
MAX_LIU_N = 1000
"""Largest n of Liu et al.'s addition table (a nullity costs O(n^4))."""
MAX_TIAN_M = 400
"""Largest M of tian_energy (it builds an M^2 x M one-hot table)."""

__all__ = [
    "check_prime",
    "modular_addition_solution",
    "modular_addition_logits",
    "modular_addition_accuracy",
    "logits_accuracy",
    "frequency_power",
    "inverse_participation_ratio",
    "dominant_frequency",
    "neuron_phases",
    "phase_constraint_residual",
    "restricted_loss",
    "excluded_loss",
    "max_margin_quadratic",
    "representation_nullity",
    "liu_uniqueness_probability",
    "liu_critical_fraction",
    "tian_energy",
    "tian_single_frequency",
    "rubin_modular_phase_boundaries",
    "rubin_unlearned_fraction",
    "tian_energy_gradient",
    "tian_energy_ascent",
    "rubin_modular_mean_field_a",
]


def check_prime(p, *, minimum: int = 5) -> int:
    """p as an int; ValueError unless p is a prime in [``minimum``, MAX_P]."""
    minimum = integer("minimum", minimum, lower=2, upper=MAX_P)
    what = f"p must be a prime in [{minimum}, {MAX_P}]"
    try:
        p = integer("p", p, lower=minimum, upper=MAX_P)
    except ValueError as e:  # InvalidType (a TypeError too) or out of range: the same message, the same class
        raise type(e)(f"{what}, got {p!r}") from None
    if any(p % d == 0 for d in range(2, math.isqrt(p) + 1)):
        raise ValueError(f"{what}, got {p}")
    return p


def modular_addition_solution(p, width, seed=0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gromov's analytic weights ([G23] eqs. 6-7, 12): U (width x p), V (width x p), W (p x width).

    Neuron n has frequency k_n = 1 + (n mod (p-1)/2) (frequencies cycle, so every one is used once width >=
    (p-1)/2) and U[n, a] = cos(omega k_n a + phi1_n), V[n, b] = cos(omega k_n b + phi2_n),
    W[q, n] = cos(omega k_n q + phi3_n) with phi1, phi2 i.i.d. uniform on [0, 2 pi) and phi3 = phi1 + phi2.
    Then f(a, b)_q = (1/2) sum_n cos(omega k_n (a + b - q)) + random-phase sums of size O(sqrt(width)) ([G23]
    eq. 15), so the argmax is (a + b) mod p once width is large; the expansion's signal at q = a + b is width/2.
    ``seed``: int >= 0 or numpy Generator for the phases.
    """
    p, width = check_prime(p), integer_at_least("width", width, 1, upper=MAX_WIDTH)
    rng = generator("seed", seed)
    k = 1 + np.arange(width) % ((p - 1) // 2)
    phi1, phi2 = rng.uniform(0, 2 * np.pi, (2, width))
    angle = 2 * np.pi * np.outer(k, np.arange(p)) / p  # (width, p)
    U = np.cos(angle + phi1[:, None])
    V = np.cos(angle + phi2[:, None])
    W = np.cos(angle + (phi1 + phi2)[:, None]).T
    return U, V, W


def modular_addition_logits(U, V, W) -> np.ndarray:
    """f(a, b)_q = sum_n W[q, n] (U[n, a] + V[n, b])^2 for all pairs; shape (p, p, p) indexed [a, b, q]."""
    U, V, W = (real_array(n, x, ndim=2) for n, x in (("U", U), ("V", V), ("W", W)))
    p = U.shape[1]
    if U.shape != V.shape or W.shape != (p, U.shape[0]):
        raise ValueError(f"need U, V of shape (N, p) and W of shape (p, N); got {U.shape}, {V.shape}, {W.shape}")
    h = (U.T[:, None, :] + V.T[None, :, :]) ** 2  # (a, b, n)
    return h @ W.T


def _labels(p: int) -> np.ndarray:
    return (np.arange(p)[:, None] + np.arange(p)[None, :]) % p


def modular_addition_accuracy(U, V, W) -> float:
    """Fraction of the p^2 pairs whose argmax logit is (a + b) mod p (ties count as errors)."""
    return logits_accuracy(modular_addition_logits(U, V, W))


def logits_accuracy(f) -> float:
    """Fraction of pairs whose logit at (a + b) mod p beats every other class; ``f`` is (p, p, p) [a, b, q]."""
    f = real_array("f", f, ndim=3)
    p = f.shape[0]
    if f.shape != (p, p, p):
        raise ValueError(f"f must have shape (p, p, p), got {f.shape}")
    y = _labels(p)
    correct = np.take_along_axis(f, y[..., None], axis=2)[..., 0]
    others = np.where(np.arange(p)[None, None, :] == y[..., None], -np.inf, f).max(axis=2)
    return float(np.mean(correct > others))


def frequency_power(weights) -> np.ndarray:
    """Per-row power at frequencies k = 0 .. (p-1)/2 of a (rows, p) array: |DFT_k|^2 with k and -k merged.

    Rows are neurons (columns: input token); for W pass W.T. Returns shape (rows, (p-1)/2 + 1).
    """
    w = _rows("weights", weights)
    p = w.shape[1]
    F = np.abs(np.fft.rfft(w, axis=1)) ** 2
    F[:, 1:] *= 2.0  # k and p - k carry equal power for real rows (p odd: no Nyquist bin)
    return F[:, : (p - 1) // 2 + 1]


def inverse_participation_ratio(weights, r: int = 2) -> np.ndarray:
    """IPR_r per neuron: sum_k |w~_k|^{2r} with w~ the unit-normalised non-DC Fourier amplitudes ([G23] eqs. 20-21).

    1 for a single-frequency neuron, 2/(p-1) for power spread evenly over the (p-1)/2 frequencies (r = 2).
    """
    r = integer_at_least("r", r, 1, upper=1000)
    P = _nondc_power(weights)
    P = P / P.sum(axis=1, keepdims=True)
    return np.sum(P**r, axis=1)


def dominant_frequency(weights) -> tuple[np.ndarray, np.ndarray]:
    """(k*, share): per row, the non-DC frequency with most power and its share of the non-DC power."""
    P = _nondc_power(weights)
    k = P.argmax(axis=1)
    return k + 1, P[np.arange(P.shape[0]), k] / P.sum(axis=1)


def neuron_phases(weights, k) -> np.ndarray:
    """phi with row ~ A cos(omega k x + phi): the angle of sum_x row[x] e^{-i omega k x}, per row at its k."""
    w = _rows("weights", weights)
    p = w.shape[1]
    k = integer_array("k", k, lower=0, upper=p - 1)
    if k.ndim > 1 or k.size not in (1, w.shape[0]):
        raise ValueError(f"k must be an integer or one integer per row ({w.shape[0]}), got shape {k.shape}")
    k = np.broadcast_to(k.reshape(-1), (w.shape[0],))
    coef = np.sum(w * np.exp(-2j * np.pi * np.outer(k, np.arange(p)) / p), axis=1)
    return np.angle(coef)


def phase_constraint_residual(U, V, W) -> np.ndarray:
    """Per neuron |phi1 + phi2 - phi3| wrapped to [0, pi], at the neuron's dominant frequency in U ([G23] eq. 7).

    0 for the analytic solution; uniform on [0, pi] (mean pi/2) for unrelated random phases.
    """
    U, V, W = (real_array(n, x, ndim=2) for n, x in (("U", U), ("V", V), ("W", W)))
    if U.shape != V.shape or W.shape != U.shape[::-1]:
        raise ValueError(f"need U, V of shape (N, p) and W of shape (p, N); got {U.shape}, {V.shape}, {W.shape}")
    k, _ = dominant_frequency(U)
    d = neuron_phases(U, k) + neuron_phases(V, k) - neuron_phases(W.T, k)
    return np.abs(np.angle(np.exp(1j * d)))


def _rows(name: str, weights) -> np.ndarray:
    """A (rows, p) real array with p >= 3 odd (a token axis of Z_p)."""
    w = real_array(name, weights, ndim=2)
    if w.shape[1] < 3 or w.shape[1] % 2 == 0:
        raise ValueError(f"{name} must have an odd number p >= 3 of columns (tokens of Z_p), got shape {w.shape}")
    return w


def _nondc_power(weights) -> np.ndarray:
    """frequency_power without the DC column; every row must carry some non-DC power (else IPR / shares are 0/0)."""
    P = frequency_power(weights)[:, 1:]
    if np.any(P.sum(axis=1) <= 0):
        raise ValueError("weights must have non-constant rows (a constant row has no non-DC power), got one")
    return P


def _logits_and_key(logits, key) -> tuple[int, np.ndarray, np.ndarray]:
    L = real_array("logits", logits, ndim=3)
    p = L.shape[0]
    if L.shape != (p, p, p) or p < 3:
        raise ValueError(f"logits must have shape (p, p, p) with p >= 3, got {L.shape}")
    key = integer_array("key", key, ndim=1, lower=1, upper=(p - 1) // 2)
    return p, L.reshape(p * p, p), key


def _trig_basis(p: int, key) -> np.ndarray:
    """Orthonormal columns cos(omega k (a+b)), sin(omega k (a+b)) over the p^2 pairs for k in ``key``; (p^2, 2|key|)."""
    s = _labels(p).ravel()
    cols = []
    for k in key:
        for fn in (np.cos, np.sin):
            v = fn(2 * np.pi * k * s / p)
            cols.append(v / np.linalg.norm(v))
    return np.column_stack(cols)


def _cross_entropy(logits: np.ndarray, labels: np.ndarray) -> float:
    return float(-np.mean(np.take_along_axis(log_softmax(logits, axis=1), labels[:, None], axis=1)))


def restricted_loss(logits, key) -> float:
    """[N23] restricted loss: CE on all p^2 pairs of the logits projected onto the key-frequency directions
    cos/sin(omega k (a+b)), plus the per-class mean of the removed part. ``logits``: (p, p, p) [a, b, q]."""
    p, flat, key = _logits_and_key(logits, key)
    B = _trig_basis(p, key)
    kept = B @ (B.T @ flat)
    out = kept + (flat - kept).mean(axis=0, keepdims=True)
    return _cross_entropy(out, _labels(p).ravel())


def excluded_loss(logits, key, train_mask) -> float:
    """[N23] excluded loss: CE on the training pairs of the logits with the key-frequency directions removed."""
    p, flat, key = _logits_and_key(logits, key)
    train = mask("train_mask", train_mask, shape=(p, p)).ravel()
    B = _trig_basis(p, key)
    out = flat - B @ (B.T @ flat)
    return _cross_entropy(out[train], _labels(p).ravel()[train])


def max_margin_quadratic(p) -> float:
    """[M23] Thm 7: max L_{2,3}-normalised margin of a quadratic network on Z_p addition with >= 4(p-1) neurons,
    gamma* = sqrt(2/27) / (sqrt(p) (p - 1))."""
    p = check_prime(p, minimum=3)
    return math.sqrt(2 / 27) / (math.sqrt(p) * (p - 1))


def representation_nullity(train_pairs, n: int, *, modular: bool = True) -> int:
    """Nullity of Liu et al.'s parallelogram constraints E_i + E_j = E_m + E_n on scalar embeddings E in R^n, over
    all training pairs (i, j), (m, n) with equal sums (mod n if ``modular``) ([L22] eqs. 1-3, A(P_0(D))).

    Full data: nullity 2 for integer addition (E_k = a + k b, Liu's "linear structure") and 1 for Z_n (only the
    constant: an additive map Z_n -> R vanishes, so on Z_n the nullity measures the constraint graph's connectivity,
    not a representation). ``train_pairs``: (m, 2) integer array.
    Reference [L22]: Z. Liu, O. Kitouni, N. Nolte, E. Michaud, M. Tegmark, M. Williams, "Towards understanding
    grokking: an effective theory of representation learning", NeurIPS 2022, arXiv:2205.10343, sec. 3.
    """
    n = integer_at_least("n", n, 1, upper=MAX_LIU_N)
    pairs = integer_array("train_pairs", train_pairs, shape=(None, 2), lower=0, upper=n - 1)
    modular = flag("modular", modular)
    sums = pairs.sum(axis=1) % n if modular else pairs.sum(axis=1)
    rows = []
    for s in np.unique(sums):
        members = pairs[sums == s]
        base = np.zeros(n)
        np.add.at(base, members[0], 1.0)
        for m in members[1:]:
            row = -base.copy()
            np.add.at(row, m, 1.0)
            rows.append(row)
    rank = np.linalg.matrix_rank(np.array(rows)) if rows else 0
    return n - rank


def liu_uniqueness_probability(n: int, n_train: int, *, n_sets: int = 200, seed=0) -> float:
    """P[a uniformly random training set of ``n_train`` of Liu et al.'s n(n+1)/2 unordered pairs i <= j of
    {0..n-1} pins the linear representation E_k = a + k b], i.e. its constraint nullity is 2 ([L22] sec. 3.2,
    Fig. 4a; integer addition, the setting where the effective theory applies). Monte Carlo over ``n_sets`` sets."""
    n = integer_at_least("n", n, 2, upper=MAX_LIU_N)
    n_train = integer("n_train", n_train, lower=1, upper=n * (n + 1) // 2)
    n_sets = integer_at_least("n_sets", n_sets, 1, upper=MAX_SAMPLES)
    rng = generator("seed", seed)
    all_pairs = np.array([(i, j) for i in range(n) for j in range(i, n)])
    hits = [
        representation_nullity(all_pairs[rng.choice(len(all_pairs), n_train, replace=False)], n, modular=False) == 2
        for _ in range(n_sets)
    ]
    return float(np.mean(hits))


def liu_critical_fraction(n, *, n_sets: int = 200, seed=0) -> float:
    """Liu et al.'s critical training fraction r_c for addition of {0..n-1} ([L22] sec. 3.2, Fig. 4a: r_c ~ 0.4 at
    n = 10): the smallest fraction n_train / (n(n+1)/2) at which ``liu_uniqueness_probability`` reaches 1/2
    (bisection on n_train). Not defined for Z_n: there additive scalar embeddings are constant (nullity 1 with
    full data), so the nullity only says when the constraint graph connects."""
    n = integer_at_least("n", n, 2, upper=MAX_LIU_N)
    n_sets = integer_at_least("n_sets", n_sets, 1, upper=MAX_SAMPLES)
    check_seed("seed", seed)
    total = n * (n + 1) // 2
    lo, hi = 1, total
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if liu_uniqueness_probability(n, mid, n_sets=n_sets, seed=seed) >= 0.5:
            hi = mid
        else:
            lo = mid
    return hi / total


def tian_energy(w, M) -> float:
    """Li_2 stage-II energy E(w) = 1/2 ||Y~^T sigma(X w)||^2 of one hidden node, sigma(x) = x^2 (Tian 2025,
    arXiv:2509.21519, Thm 1): X (M^2 x 2M) holds the two one-hots of every pair (g1, g2) of Z_M, Y~ the centred
    one-hot of g1 + g2 (Y~ = P_perp Y, P_perp = I - 11^T/n). ``w`` = [u; v] in R^{2M}.

    With these literal conventions the maxima on ||w|| = 1 are w = [u; +-P u], (P u)[h] = u[-h], u a single
    frequency, with E* = M/4 (Tian 2025, Thm 2, states M/16, which corresponds to ||w||^2 = 1/2 or inputs x/sqrt 2).
    """
    M = integer_at_least("M", M, 2, upper=MAX_TIAN_M)
    w = real_array("w", w, shape=(2 * M,))
    a, b = np.meshgrid(np.arange(M), np.arange(M), indexing="ij")
    act = (w[a] + w[M + b]) ** 2  # sigma(X w) per pair
    Y = np.eye(M)[(a + b) % M].reshape(M * M, M)
    Yc = Y - Y.mean(axis=0)
    return 0.5 * float(np.sum((Yc.T @ act.ravel()) ** 2))


def tian_single_frequency(M, k, *, phase=0.0, sign=1.0) -> np.ndarray:
    """Unit-norm w = [u; sign P u] with u[h] = cos(2 pi k h / M + phase), (P u)[h] = u[-h] (Tian 2025, Thm 2)."""
    M = integer_at_least("M", M, 2, upper=MAX_WIDTH)
    k = integer("k", k)
    phase = real_scalar("phase", phase)
    sign = real_scalar("sign", sign)
    if sign not in (1.0, -1.0):
        raise ValueError(f"sign must be 1.0 or -1.0, got {sign}")
    h = np.arange(M)
    u = np.cos(2 * np.pi * k * h / M + phase)
    w = np.concatenate([u, sign * u[(-h) % M]])
    return w / np.linalg.norm(w)


def rubin_modular_phase_boundaries(P, N, sigma_a2, gamma) -> tuple[float, float]:
    """(sigma_c^2, sigma_II^2): onset of the mixed (GMFL-I) phase and of GMFL-II for Rubin, Seroussi & Ringel's
    quadratic-network modular-addition model (arXiv:2310.03789, eqs. 16, 38, solved
    in closed form): sigma_c^2 = P sigma_a / (sqrt(N) (gamma/3)^{1/4}), sigma_II^2 = sigma_c^2 - 3 sigma_a^2 / gamma."""
    P, N, sigma_a2, gamma = (positive(n, v) for n, v in (("P", P), ("N", N), ("sigma_a2", sigma_a2), ("gamma", gamma)))
    sigma_c2 = P * math.sqrt(sigma_a2) / (math.sqrt(N) * (gamma / 3) ** 0.25)
    return sigma_c2, sigma_c2 - 3 * sigma_a2 / gamma


def rubin_unlearned_fraction(sigma2, P, N, sigma_a2, gamma) -> np.ndarray:
    """a(sigma^2), minus the unlearned fraction of the target: -1 above sigma_c^2, -sigma^2/sigma_c^2 in the mixed
    phase (down to sigma_II^2; below it GMFL-II, not covered: NaN). Rubin, Seroussi & Ringel 2023, arXiv:2310.03789,
    eqs. 16, 38."""
    s = real_array("sigma2", sigma2, lower=0.0)
    sigma_c2, sigma_ii2 = rubin_modular_phase_boundaries(P, N, sigma_a2, gamma)
    return np.where(s >= sigma_c2, -1.0, np.where(s >= sigma_ii2, -s / sigma_c2, np.nan))


MAX_TIAN_STEPS = 1_000_000
"""Largest number of ascent steps of tian_energy_ascent."""


def _tian_table(M: int, pairs, centred: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(a, b, Y~) of the training pairs: operands a, b (n,) and the (n, M) target, centred over the n pairs
    (Y~ = P_perp Y) unless ``centred`` is False (then the raw one-hot Y)."""
    if pairs is None:
        a, b = (x.ravel() for x in np.meshgrid(np.arange(M), np.arange(M), indexing="ij"))
    else:
        pairs = integer_array("pairs", pairs, shape=(None, 2), lower=0, upper=M - 1)
        a, b = pairs[:, 0], pairs[:, 1]
    Y = np.eye(M)[(a + b) % M]
    return a, b, (Y - Y.mean(axis=0) if centred else Y)


def _tian_gradient(w: np.ndarray, M: int, a, b, Yt) -> tuple[np.ndarray, np.ndarray]:
    """(E, grad E) for rows w (N, 2M): E = 1/2 ||Y~^T (X w)^2||^2, grad = X^T [2 X w * Y~ Y~^T (X w)^2]."""
    h = w[:, a] + w[:, M + b]  # (N, n): X w per node
    z = (h * h) @ Yt  # (N, M): Y~^T sigma(X w)
    g = 2 * h * (z @ Yt.T)  # (N, n)
    eye = np.eye(M)
    return 0.5 * np.sum(z * z, axis=1), np.concatenate([g @ eye[a], g @ eye[b]], axis=1)


def _tian_inputs(name: str, w, M, pairs, centred):
    M = integer_at_least("M", M, 2, upper=MAX_TIAN_M)
    w = real_array(name, w, ndim=(1, 2))
    if w.shape[-1] != 2 * M:
        raise ValueError(
            f"{name} must have last dimension 2M = {2 * M} ([u; v], one row per node), got shape {w.shape}"
        )
    centred = flag("centred", centred)
    return M, w, _tian_table(M, pairs, centred)


def tian_energy_gradient(w, M, *, pairs=None, centred=True) -> tuple[np.ndarray, np.ndarray]:
    """(E(w), grad_w E) of Li_2's stage-II energy E(w) = 1/2 ||Y~^T sigma(X w)||^2, sigma(x) = x^2 (Tian 2025,
    arXiv:2509.21519, Thm 1), for one node w = [u; v] (2M,) or a stack of nodes (N, 2M).

    X holds the two one-hots of each training pair (a, b) of Z_M (``pairs``: (n, 2) integers; default all M^2), Y
    the one-hot of (a + b) mod M and Y~ = P_perp Y its centring over the n pairs (``centred=False``: the raw Y, a
    control). grad E = X^T [sigma'(X w) * Y~ Y~^T sigma(X w)] = X^T [2 X w * Y~ Y~^T (X w)^2]: the direction of a
    hidden node's update when the backpropagated gradient is G_F ~ Y~ Y~^T F~ (stage II). ``tian_energy`` is E at
    ``pairs=None``."""
    M, w, (a, b, Yt) = _tian_inputs("w", w, M, pairs, centred)
    E, grad = _tian_gradient(np.atleast_2d(w), M, a, b, Yt)
    return (E, grad) if w.ndim == 2 else (float(E[0]), grad[0])


def tian_energy_ascent(
    w0, M, *, pairs=None, centred=True, step: float = 0.05, n_steps: int = 2000, record_every: int = 10
) -> tuple[np.ndarray, np.ndarray]:
    """Projected gradient ascent of Li_2's energy E on the unit sphere from w0 (Tian 2025, arXiv:2509.21519, Thm 1:
    in stage II each hidden node follows dw/dt ~ grad E(w) with its norm held by weight decay; E is homogeneous of
    degree 4, so the direction w/||w|| follows the sphere's gradient flow of E whatever the norm does).

    Steps x <- (x + step P_x grad E(x) / E_0) / ||.||, P_x = I - x x^T, from x = w0 / ||w0||; E_0 = n / (4M) is the
    full-table maximum M/4 at n = M^2 (so ``step`` is in units of the sphere flow's natural time). ``w0``: (2M,) or
    (N, 2M) nodes (each nonzero); ``pairs``, ``centred`` as in :func:`tian_energy_gradient`. Returns (x, E): the unit
    directions at steps 0, record_every, ..., shape (records, [N,] 2M), and E(x) there, shape (records, [N]).
    The flow keeps each frequency's phases in u and v (grad E is Fourier-diagonal) and, on the full table, ends at a
    single-frequency maximum [u; v], ||u|| = ||v||, with E* = M/4 (see :func:`tian_energy`)."""
    M, w, (a, b, Yt) = _tian_inputs("w0", w0, M, pairs, centred)
    step = real_scalar("step", step, lower=0.0, strict=True, upper=1.0)
    n_steps = integer_at_least("n_steps", n_steps, 1, upper=MAX_TIAN_STEPS)
    record_every = integer("record_every", record_every, lower=1, upper=n_steps)
    x = np.array(np.atleast_2d(w), dtype=float)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    if np.any(norms == 0):
        raise ValueError("w0 must have nonzero rows (a node's direction), got a zero row")
    x /= norms
    scale = a.size / (4 * M)
    xs, Es = [], []
    for t in range(n_steps + 1):
        E, g = _tian_gradient(x, M, a, b, Yt)
        if t % record_every == 0:
            xs.append(x.copy())
            Es.append(E)
        if t == n_steps:
            break
        g -= np.sum(g * x, axis=1, keepdims=True) * x
        x = x + (step / scale) * g
        x /= np.linalg.norm(x, axis=1, keepdims=True)
        if not np.all(np.isfinite(x)):
            raise FloatingPointError(f"tian_energy_ascent diverged at step {t + 1} (step={step}); lower step")
    xs, Es = np.array(xs), np.array(Es)
    return (xs, Es) if w.ndim == 2 else (xs[:, 0], Es[:, 0])


RUBIN_GL_NODES = 8
"""Gauss-Legendre nodes per panel of rubin_modular_mean_field_a's quadrature."""


def _rubin_mode_lambda_ratio(a: float, sigma2: float, P: int, N: float, sigma_a2: float, gamma: float) -> float:
    """lambda / sigma^2 at a: lambda = 4 sigma_a2 P^2 E[s_w s_v] under one Fourier mode's density
    exp(-2P [(s_w + s_v)/2 - u a^2 s_w s_v + (gamma/6)(s_w^3 + s_v^3)]) ds_w ds_v (composite Gauss-Legendre)."""
    log_u = math.log(2 * P * P) + math.log(sigma_a2) - math.log(N) - 2 * math.log(sigma2)
    g = math.exp(log_u) * a * a  # u a^2
    top = (g + math.sqrt(max(g * g - gamma, 0.0))) / gamma if gamma > 0 else 0.0
    s_max = 2 * top + (90 / (2 * P * max(gamma, 1e-300) / 6)) ** (1 / 3) + 60 / P
    edges = np.concatenate([[0.0], np.geomspace(1e-4 / P, s_max, 48)])
    if top > 0:  # resolve the specialised peak: width 1/sqrt(2P curvature) along the diagonal s_w = s_v
        width = 1 / math.sqrt(2 * P * max(gamma * top - g, 1e-12))
        edges = np.unique(np.concatenate([edges, np.clip(top + width * np.linspace(-15, 15, 31), 0, s_max)]))
    x, w = np.polynomial.legendre.leggauss(RUBIN_GL_NODES)
    lo, hi = edges[:-1, None], edges[1:, None]
    s = ((hi - lo) / 2 * x + (hi + lo) / 2).ravel()
    ws = ((hi - lo) / 2 * w).ravel()
    one = s / 2 + gamma / 6 * s**3
    expo = -2 * P * (one[:, None] + one[None, :] - g * np.outer(s, s))
    rho = np.exp(expo - expo.max()) * np.outer(ws, ws)
    return 4 * P * P * (sigma_a2 / sigma2) * float(np.sum(rho * np.outer(s, s)) / np.sum(rho))


def rubin_modular_mean_field_a(sigma2, P, N, sigma_a2, gamma) -> np.ndarray:
    """a(sigma^2) from Rubin, Seroussi & Ringel's mean-field equations at finite P (arXiv:2310.03789, eqs. 16 and
    38), solved numerically: the large-P saddle point of ``rubin_unlearned_fraction`` replaced by the exact
    expectation over each Fourier mode's density.

    Conventions (those of the Langevin posterior of dltheory.simulators.langevin_two_layer): all P^2 pairs, target
    y_p = delta_{p,(n+m) mod P} - 1/P, f_p = sum_i a_ip (u_i[n] + v_i[m])^2, likelihood exp(-||f - y||^2 /
    (2 sigma^2)), a_ip ~ N(0, sigma_a2 / N), u, v ~ N(0, 1) times exp(-Gamma), Gamma = (gamma P / 6) sum_k |w_k|^6,
    w_k = DFT(w)_k / P. Integrating out the readout, the single-neuron action is sum over k in Z_P of eq. 16,
    S_k = P [ (|w_k|^2 + |v_k|^2)/2 - u a^2 |w_k|^2 |v_k|^2 + (gamma/6)(|w_k|^6 + |v_k|^6) ], u = 2 sigma_a2 P^2 /
    (N sigma^4); the modes k, -k share s_w = |w_k|^2, s_v = |v_k|^2 (uniform measure ds_w ds_v), so each of the
    (P-1)/2 mode pairs has density exp(-2 S_k). The target is a kernel eigenvector with eigenvalue
    lambda = 4 sigma_a2 P^2 E[s_w s_v] (derived for this posterior; the paper's eq. 38 writes
    lambda = sigma_a^2 <|w_k|^2 |v_k|^2> in its own normalisation), and eq. 38 reads a = -sigma^2 / (lambda(a) +
    sigma^2), whose unique root in (-1, 0) is returned (lambda grows with |a|). As P -> infinity this tends to
    -sigma^2 / sigma_c^2 in the mixed phase and to -1 above sigma_c^2 (``rubin_unlearned_fraction``; the GP part
    lambda ~ 4 sigma_a2 is O(sigma_a2 / sigma^2)). Quadrature: composite Gauss-Legendre on geometric panels plus
    panels across the specialised peak (6 and 24 nodes per panel agree to 1e-8 at P = 7 and P = 401)."""
    s = real_array("sigma2", sigma2, lower=0.0, strict=True)
    P = integer("P", P, lower=3, upper=MAX_P)
    if any(P % d == 0 for d in range(2, math.isqrt(P) + 1)):
        raise ValueError(f"P must be a prime in [3, {MAX_P}], got {P}")
    N, sigma_a2 = positive("N", N), positive("sigma_a2", sigma_a2)
    gamma = positive("gamma", gamma)
    if not 1e-12 <= gamma <= 1e12:
        raise ValueError(f"gamma must lie in [1e-12, 1e12], got {gamma!r}")
    log_sc2 = math.log(P) + 0.5 * math.log(sigma_a2) - 0.5 * math.log(N) - 0.25 * math.log(gamma / 3)
    log_r = np.log(s) - log_sc2
    if s.size and np.max(np.abs(log_r)) > math.log(1e15):
        raise ValueError(
            "sigma2 / sigma_c^2 must lie in [1e-15, 1e15] (sigma_c^2 = P sqrt(sigma_a2) / (sqrt(N) (gamma/3)^(1/4)) "
            f"from P, N, sigma_a2, gamma); got sigma2 / sigma_c^2 in "
            f"[{np.exp(log_r.min()):.3g}, {np.exp(log_r.max()):.3g}]"
        )
    if s.size and math.log(4 * P * P) + math.log(sigma_a2) - float(np.log(s).min()) > math.log(1e200):
        raise ValueError(f"4 sigma_a2 P^2 / sigma2 must be <= 1e200, got sigma_a2={sigma_a2!r}, min sigma2={s.min()!r}")
    from scipy.optimize import brentq

    out = np.empty(s.shape)
    for idx, s2 in np.ndenumerate(s):
        s2 = float(s2)
        out[idx] = brentq(
            lambda a: a + 1 / (_rubin_mode_lambda_ratio(a, s2, P, N, sigma_a2, gamma) + 1), -1.0, 0.0, xtol=1e-13
        )
    return out
