"""Neural collapse: NC1-NC4 metrics and their noise law, unconstrained-features optima and feature dynamics, Han
et al.'s MSE decomposition, the imbalanced layer-peeled model (convex solver, minority-collapse onset).

References
----------
- [PHD20] V. Papyan, X. Y. Han, D. L. Donoho, "Prevalence of neural collapse during the terminal phase of
  deep learning training", PNAS 117 (2020), arXiv:2008.08186. Definitions of NC1-NC4.
- [ZDZ21] Z. Zhu, T. Ding, J. Zhou, X. Li, C. You, J. Sulam, Q. Qu, "A geometric analysis of neural collapse
  with unconstrained features", NeurIPS 2021, arXiv:2105.02375, global-minimiser theorem (CE + weight decay:
  simplex ETF).
- [ZLD22] J. Zhou, X. Li, T. Ding, C. You, Q. Qu, Z. Zhu, ICML 2022, arXiv:2203.01238; [TB22] T. Tirer,
  J. Bruna, ICML 2022, arXiv:2202.08087 (MSE unconstrained features with and without bias).
- [HPD22] X. Y. Han, V. Papyan, D. L. Donoho, "Neural collapse under MSE loss: proximity to and dynamics on
  the central path", ICLR 2022, arXiv:2106.02073 (decomposition L = L_NC1 + L_NC2/3 + L_perp).
- [FHLS21] C. Fang, H. He, Q. Long, W. J. Su, "Exploring deep neural networks via layer-peeled model:
  minority collapse in imbalanced training", PNAS 118 (2021), arXiv:2101.12699: the LPM (eq. 4), its convex
  relaxation, the balanced ETF optimum and minority collapse.
- [DTO23] H. Dang, T. Tran, S. Osher, H. Tran-The, N. Ho, T. Nguyen, "Neural collapse in deep linear
  networks: from balanced to imbalanced data", ICML 2023, arXiv:2301.00437: balanced and imbalanced
  global-minimiser theorems.

Conventions
-----------
- Features H are N x d (one row per sample, as a network emits them); labels y in {0, ..., K-1}; the
  classifier W is K x d, bias b has length K; class means are the columns of M (d x K), ``H_mean``.
- Global mean mu_G: the *sample* mean of all features by default ([PHD20] definition, Zhu's code); pass
  ``global_mean="classes"`` for the mean of class means (Papyan's notebook). They agree for balanced data.
- Sigma_W = (1/N) sum_i (h_i - mu_{y_i})(h_i - mu_{y_i})^T; Sigma_B = (1/K) sum_c (mu_c - mu_G)(mu_c - mu_G)^T.
- NC1 = tr(Sigma_W Sigma_B^+) / K with Sigma_B^+ taken on its top min(K-1, rank) eigenpairs (Zhu's /K;
  Papyan's notebook reports K * NC1, key ``nc1_unnormalised``).
- Unconstrained-features model (UFM), H stored d x N here as in the papers:
  CE:  (1/N) sum_i CE(W h_i + b, y_i) + lW/2 ||W||^2 + lH/2 ||H||^2,
  MSE: 1/(2N) ||W_M...W_1 H + b 1^T - Y||_F^2 + lW/2 sum_j ||W_j||^2 + lH/2 ||H||^2; the bias, when present,
  is not regularised.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import sparse
from scipy.optimize import brentq

from dltheory.theory._validate import (
    MAX_DEPTH,
    MAX_WIDTH,
    choice,
    flag,
    instance,
    integer_at_least,
    nonnegative,
    overflow_guard,
    positive,
    real_array,
    real_scalar,
)
from dltheory.theory.central_path import classifier_hessian

__all__ = [
    "nc_metrics",
    "nc1_within_class_noise",
    "etf_distance",
    "simplex_etf",
    "UFMOptimum",
    "ufm_optimum",
    "ufm_objective",
    "deep_ufm_singular_value",
    "deep_ufm_stationary_points",
    "deep_ufm_collapse_lambda",
    "orthogonal_frame_nc3",
    "ce_ufm_weight_norm_sq",
    "mse_ufm_within_class_rate",
    "mse_decomposition",
    "layer_peeled_balanced",
    "LPMOptimum",
    "layer_peeled_optimum",
    "layer_peeled_minority_threshold",
    "deep_ce_ufm_mode_objective",
    "deep_ce_ufm_etf",
]


_SAFE_LO, _SAFE_HI = 1e-100, 1e100  # feature scales outside this range are rescaled before squaring

# ----------------------------------------------------------------------------- validation


def _counts(n_per_class) -> np.ndarray:
    n = np.asarray(n_per_class)
    if n.ndim != 1 or n.dtype.kind not in "iu" or n.size < 2 or np.any(n < 1):
        raise ValueError(
            f"n_per_class must be a 1-D integer array of >= 2 classes, each with >= 1 sample "
            f"(no empty class), got {n_per_class!r}"
        )
    return n.astype(int)


def _labels(y, N: int, K: int | None) -> tuple[np.ndarray, int]:
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] != N:
        raise ValueError(f"y must be a 1-D label array of length N = {N} (rows of H), got shape {y.shape}")
    if y.dtype.kind not in "iu":
        raise ValueError(f"y must hold integer labels, got dtype {y.dtype}")
    if N and y.min() < 0:
        raise ValueError(f"labels y must lie in [0, K-1], got min(y) = {y.min()}")
    K = int(y.max()) + 1 if K is None else K
    if N and y.max() >= K:
        raise ValueError(f"labels y must lie in [0, K-1] = [0, {K - 1}] (K = rows of W), got max(y) = {y.max()}")
    if K < 2:
        raise ValueError(f"need >= 2 classes, got K = {K}")
    return y.astype(np.intp), K


# ----------------------------------------------------------------------------- metrics


def simplex_etf(K: int) -> np.ndarray:
    """The normalised simplex-ETF Gram target (I - 11^T/K)/sqrt(K-1) (unit Frobenius norm) [ZDZ21]."""
    K = integer_at_least("K", K, 2, upper=MAX_WIDTH)
    return (np.eye(K) - 1.0 / K) / np.sqrt(K - 1)


def etf_distance(G: np.ndarray) -> float:
    """|| G/||G||_F - (I - 11^T/K)/sqrt(K-1) ||_F for a K x K Gram matrix G (Zhu et al. code, NC2 metric)."""
    G = real_array("G", G, ndim=2)
    if G.shape[0] != G.shape[1] or G.shape[0] < 2:
        raise ValueError(f"G must be a K x K Gram matrix with K >= 2, got shape {G.shape}")
    if not G.any():
        raise ValueError("G must be nonzero (the ETF distance of a zero Gram matrix is undefined)")
    return _etf_distance(G)


def _etf_distance(G: np.ndarray) -> float:
    """etf_distance without validation; NaN for a zero G (nc_metrics of all-zero features)."""
    nrm = np.linalg.norm(G)
    return float(np.linalg.norm(G / nrm - simplex_etf(G.shape[0]))) if nrm > 0 else np.nan


def _orthframe_distance(G: np.ndarray) -> float:
    nrm = np.linalg.norm(G)
    return float(np.linalg.norm(G / nrm - np.eye(G.shape[0]) / np.sqrt(G.shape[0]))) if nrm > 0 else np.nan


def _norm_cov(X: np.ndarray) -> float:
    """Std/Avg of the row norms (ddof=1, as torch.std): the equinorm metric of [PHD20]."""
    r = np.linalg.norm(X, axis=1)
    return float(r.std(ddof=1) / r.mean()) if r.mean() > 0 else np.nan


def _angles(X: np.ndarray) -> tuple[float, float]:
    """(Std_{c != c'} cos, Avg_{c != c'} |cos + 1/(K-1)|) of the rows of X [PHD20]."""
    K = X.shape[0]
    r = np.linalg.norm(X, axis=1)
    if np.any(r == 0):
        return np.nan, np.nan
    C = (X @ X.T) / np.outer(r, r)
    off = C[~np.eye(K, dtype=bool)]
    return float(off.std()), float(np.mean(np.abs(off + 1.0 / (K - 1))))


def nc_metrics(H, y, W=None, b=None, *, global_mean: str = "samples") -> dict:
    """Neural-collapse metrics NC1-NC4 of features H (N x d), labels y, optional classifier W (K x d), bias b.

    Returns a dict with
      nc1               tr(Sigma_W Sigma_B^+)/K [PHD20; Zhu's /K]; ``nc1_unnormalised`` = K * nc1;
      trace_SigmaB_pinv tr(Sigma_B^+) (on the same top eigenpairs);
      nc2               ETF distance of the centred class-mean Gram Mdot^T Mdot; ``nc2_W`` of W W^T;
      nc3               || W^T/||W||_F - Mdot/||Mdot||_F ||_F (centred means, not squared) [PHD20];
      nc3_uncentred     the same against the *uncentred* means M: the right self-duality metric for bias-free
                        models, whose optimum is an orthogonal frame, not a simplex ETF (centred nc3 is then
                        sqrt(2 - sqrt(3)) = 0.5176 at K = 4, not 0);
      nc4               mismatch rate between argmax_c (W h + b)_c and argmin_c ||h - mu_c|| [PHD20];
      equinorm_H/W      Std/Avg of ||mu_c - mu_G|| and of ||w_c|| (ddof=1);
      equiangular_H/W   Std_{c != c'} of the cosines; maxangle_H/W: Avg_{c != c'} |cos + 1/(K-1)|;
      orthframe_H/W     distance of the uncentred Gram M^T M (or W W^T) to I/sqrt(K) (bias-free geometry);
      K, mu_G.
    Metrics that need W are NaN when W is None; b defaults to 0. K = rows of W if given, else max(y) + 1.
    All computations are vectorised (no loop over samples): cost O(N d K).
    """
    H = real_array("H", H, ndim=2)
    N, d = H.shape
    if W is not None:
        W = real_array("W", W, ndim=2)
        if W.shape[1] != d:
            raise ValueError(f"W must be K x d with d = {d} (columns of H), got shape {W.shape}")
    y, K = _labels(y, N, None if W is None else W.shape[0])
    if b is not None:
        if W is None:
            raise ValueError("b given without W")
        b = real_array("b", b, shape=(K,))
    choice("global_mean", global_mean, ("samples", "classes"))
    n = np.bincount(y, minlength=K)
    if np.any(n == 0):
        raise ValueError(f"every class 0..K-1 needs >= 1 sample; empty classes: {np.flatnonzero(n == 0).tolist()}")
    if not np.all(np.isfinite(H)) or (W is not None and not np.all(np.isfinite(W))):
        raise ValueError("H and W must be finite")
    # Every metric is invariant to H -> c H and (W, b) -> c (W, b): rescale by the largest entry so that
    # nearly-zero optima (entries ~1e-200 after GD past a collapse threshold) neither underflow nor warn.
    c_H = max(H.max(), -H.min())
    c_H = c_H if 0 < c_H < _SAFE_LO or c_H > _SAFE_HI else 1.0  # rescale (a copy) only when needed
    H = H / c_H if c_H != 1.0 else H
    if W is not None:
        c = max(np.abs(W).max(), 0.0 if b is None else np.abs(b).max(), np.finfo(float).tiny)
        W, b = W / c, None if b is None else b / c
    with np.errstate(divide="ignore", invalid="ignore"):  # all-zero H or W: the metrics are NaN
        return _metrics(H, y, W, b, K, n, N, global_mean, c_H)


def _metrics(H, y, W, b, K, n, N, global_mean, c_H) -> dict:
    # Cost: one N x d x (2K) matrix product (H against the right singular vectors of the centred means and
    # against W^T) plus O(N K^2) work; class sums through a sparse one-hot matrix (O(N d)).
    onehot = sparse.csr_matrix((np.ones(N), (y, np.arange(N))), shape=(K, N))
    M = (onehot @ H) / n[:, None]  # K x d class means (rows)
    mu_G = H.mean(axis=0) if global_mean == "samples" else M.mean(axis=0)
    Md = M - mu_G  # K x d centred means (rows); Mdot = Md^T
    # Md^T = Q Rq (thin QR, d x q), Rq^T = U diag(s) Z^T (q x q SVD), so Md = U diag(s) (Q Z)^T: the SVD of the
    # centred means through small factorisations only. Sigma_B = Md^T Md / K; Sigma_B^+ on its top
    # min(K-1, rank) eigenpairs.
    Q, Rq = np.linalg.qr(Md.T)
    U, s, Zt = np.linalg.svd(Rq.T)
    tol = max(Md.shape) * np.finfo(float).eps * (s[0] if s.size else 0.0)
    r = min(K - 1, int(np.sum(s > tol)))
    q = Q.shape[1]
    P = H @ (Q if W is None else np.hstack([Q, W.T]))  # the one N x d x (q [+ K]) product
    HQ = P[:, :q]
    proj = HQ @ Zt[:r].T - (M @ Q @ Zt[:r].T)[y]  # within-class residuals on Sigma_B's eigenvectors, N x r
    nc1 = float(np.sum(np.sum((proj / s[:r]) ** 2, axis=0) / N * K)) / K if r else np.nan
    out = dict(
        K=K,
        mu_G=c_H * mu_G,
        nc1=nc1,
        nc1_unnormalised=K * nc1,
        trace_SigmaB_pinv=float(np.sum(K / (c_H * s[:r]) ** 2)) if r else np.nan,
        nc2=_etf_distance(Md @ Md.T),
        equinorm_H=_norm_cov(Md),
        orthframe_H=_orthframe_distance(M @ M.T),
    )
    out["equiangular_H"], out["maxangle_H"] = _angles(Md)
    nan = np.nan
    out.update(
        nc2_W=nan,
        nc3=nan,
        nc3_uncentred=nan,
        nc4=nan,
        equinorm_W=nan,
        equiangular_W=nan,
        maxangle_W=nan,
        orthframe_W=nan,
    )
    if W is not None:
        nW = np.linalg.norm(W)
        out.update(nc2_W=_etf_distance(W @ W.T), equinorm_W=_norm_cov(W), orthframe_W=_orthframe_distance(W @ W.T))
        out["equiangular_W"], out["maxangle_W"] = _angles(W)
        out["nc3"] = float(np.linalg.norm(W / nW - Md / np.linalg.norm(Md)))
        out["nc3_uncentred"] = float(np.linalg.norm(W / nW - M / np.linalg.norm(M)))
        logits = P[:, q:] + (0.0 if b is None else b / c_H)  # = (H W^T + b)/(c_H c): same argmax
        HM = HQ @ Rq + (H @ mu_G)[:, None]  # H M^T = H Md^T + (H mu_G) 1^T
        ncc = np.argmin(np.sum(M**2, axis=1) - 2.0 * HM, axis=1)  # ||h - mu_c||^2 up to ||h||^2
        out["nc4"] = float(np.mean(np.argmax(logits, axis=1) != ncc))
    return out


@overflow_guard
def nc1_within_class_noise(n_per_class, eps: float, trace_SigmaB_pinv: float) -> float:
    """E[NC1 | class means] for features h_i = m_{y_i} + eps z_i with z_i iid N(0, I_d) (any class centres m_c).

    Derived from the [PHD20] definition (:func:`nc_metrics` conventions): the sample class means are independent
    of the within-class residuals (Gaussian noise), and E[Sigma_W] = (1/N) sum_c (n_c - 1) eps^2 I_d, so
    E[NC1 | means] = eps^2 ((N - K)/N) tr(Sigma_B^+)/K, with Sigma_B^+ of the *sample* means (``trace_SigmaB_pinv``,
    key ``trace_SigmaB_pinv`` of :func:`nc_metrics`). Hence NC1 / tr(Sigma_B^+) has mean eps^2 (N - K)/(N K).
    """
    n = _counts(n_per_class)
    eps = nonnegative("eps", eps)
    trace = nonnegative("trace_SigmaB_pinv", trace_SigmaB_pinv)
    K, N = n.size, int(n.sum())
    return eps**2 * (N - K) / N * trace / K


# ----------------------------------------------------------------------------- UFM optima


@dataclass(frozen=True)
class UFMOptimum:
    """A global minimiser of the (deep linear) unconstrained-features model.

    W: K x d end-to-end classifier W_M...W_1; H_mean: d x K class means (features of class k all equal
    H_mean[:, k] at the optimum); b: length-K bias or None; layers: (W_1, ..., W_M) with W_j of shape
    d x d (j < M) and K x d (j = M); singular_values: M x K, row j the singular value of W_j on class
    (orthogonal frame) or mode (simplex ETF, last mode 0) k; geometry: "etf", "orthogonal" or "zero".
    """

    W: np.ndarray
    H_mean: np.ndarray
    b: np.ndarray | None
    layers: tuple[np.ndarray, ...]
    singular_values: np.ndarray
    geometry: str


@overflow_guard
def ce_ufm_weight_norm_sq(n: int, K: int, lambda_W: float, lambda_H: float) -> float:
    """||w_k||^2 at the CE-UFM optimum, balanced classes [ZDZ21] structure theorem; the norm is derived below.

    With rho = sqrt(n lW lH): ||w_k||^2 = ((K-1)/K) sqrt(n lH/lW) ln[(1 - (K-1) rho)/rho] if rho < 1/K, else 0
    (then W = H = 0). Derivation: with h = sqrt(lW/(n lH)) w_k and a = ||w_k||^2 the objective is
    ln(1 + (K-1) e^{-c a}) + K lW a, c = (K/(K-1)) sqrt(lW/(n lH)), convex in a.
    """
    n, K = integer_at_least("n", n, 1), integer_at_least("K", K, 2)
    lambda_W, lambda_H = positive("lambda_W", lambda_W), positive("lambda_H", lambda_H)
    rho = math.sqrt(n * lambda_W) * math.sqrt(lambda_H)
    if rho >= 1.0 / K:
        return 0.0
    return (K - 1) / K * math.sqrt(n * lambda_H / lambda_W) * math.log((1 - (K - 1) * rho) / rho)


def _f_deep(s, n_k, N, lambda_W, lambda_H, M):
    """Per-class objective f_k(s) = (n_k lH/2)/(s^{2M} + N lH) + (M lW/2) s^2 [DTO23, per-class reduction]."""
    s = np.asarray(s, float)
    return 0.5 * n_k * lambda_H / (s ** (2 * M) + N * lambda_H) + 0.5 * M * lambda_W * s**2


@overflow_guard
def deep_ufm_stationary_points(n_k: float, N: float, lambda_W: float, lambda_H: float, depth: int) -> np.ndarray:
    """Positive s with f_k'(s) = 0, i.e. n_k lH t^{M-1} = lW (t^M + N lH)^2 with t = s^2 [DTO23] (sorted)."""
    n_k, N, lambda_W, lambda_H, M = _deep_args(n_k, N, lambda_W, lambda_H, depth)
    # polynomial in t: lW (t^M + c)^2 - n_k lH t^{M-1}, c = N lH; coefficients highest degree first
    c = N * lambda_H
    coef = np.zeros(2 * M + 1)
    coef[0] += lambda_W
    coef[M] += 2 * lambda_W * c
    coef[2 * M] += lambda_W * c**2
    coef[2 * M - (M - 1)] -= n_k * lambda_H
    roots = np.roots(coef)
    t = roots.real[(np.abs(roots.imag) <= 1e-9 * (1 + np.abs(roots))) & (roots.real > 0)]
    t = np.array([_polish(tt, n_k, N, lambda_W, lambda_H, M) for tt in t])
    return np.sort(np.sqrt(t))


MAX_UFM_DEPTH = 1000
"""Largest depth M of the deep-UFM closed forms (a polynomial of degree 2M is solved)."""


def _deep_args(n_k, N, lambda_W, lambda_H, depth) -> tuple[float, float, float, float, int]:
    """Validated (n_k, N, lambda_W, lambda_H, M) of the deep-UFM formulas: 0 < n_k <= N, lambdas > 0."""
    n_k, N = positive("n_k", n_k), positive("N", N)
    if n_k > N:
        raise ValueError(f"n_k must be <= N (a class is part of the data), got n_k = {n_k}, N = {N}")
    lambda_W, lambda_H = positive("lambda_W", lambda_W), positive("lambda_H", lambda_H)
    return n_k, N, lambda_W, lambda_H, integer_at_least("depth", depth, 1, upper=MAX_UFM_DEPTH)


def _polish(t: float, n_k, N, lW, lH, M) -> float:
    """Two Newton steps on g(t) = log(n_k lH) + (M-1) log t - log lW - 2 log(t^M + N lH) (root accuracy)."""
    for _ in range(3):
        g = math.log(n_k * lH) + (M - 1) * math.log(t) - math.log(lW) - 2 * math.log(t**M + N * lH)
        dg = (M - 1) / t - 2 * M * t ** (M - 1) / (t**M + N * lH)
        if dg == 0:
            break
        t = max(t - g / dg, t / 2)
    return t


@overflow_guard
def deep_ufm_singular_value(n_k: float, N: float, lambda_W: float, lambda_H: float, depth: int = 1) -> float:
    """Per-layer singular value s_k of class k at the MSE deep-linear UFM optimum [DTO23].

    s_k = argmin_{s >= 0} f_k(s), f_k(s) = (n_k lH/2)/(s^{2M} + N lH) + (M lW/2) s^2 (global minimum over 0 and
    the stationary points). M = 1: s_k^2 = (sqrt(n_k lH/lW) - N lH)_+ (continuous collapse at n_k = N^2 lW lH).
    M >= 2: s = 0 is always a local minimum and the global minimiser jumps to 0 discontinuously.
    """
    n_k, N, lambda_W, lambda_H, M = _deep_args(n_k, N, lambda_W, lambda_H, depth)
    if M == 1:
        return math.sqrt(max(math.sqrt(n_k * lambda_H / lambda_W) - N * lambda_H, 0.0))
    cand = np.concatenate([[0.0], deep_ufm_stationary_points(n_k, N, lambda_W, lambda_H, M)])
    return float(cand[np.argmin(_f_deep(cand, n_k, N, lambda_W, lambda_H, M))])


@overflow_guard
def deep_ufm_collapse_lambda(n_k: float, N: float, depth: int = 1) -> float:
    """Weight decay lambda = lW = lH at which class k's global minimiser jumps (or shrinks) to 0 [DTO23].

    M = 1: lambda* = sqrt(n_k)/N (n_k = N^2 lW lH, continuous). M >= 2: the lambda where the largest
    stationary point s_+ of f_k has f_k(s_+) = f_k(0) (a first-order jump; s_+ > 0 there), found by bisection
    to relative accuracy 1e-13. For lambda slightly above, s_+ survives as a local minimum up to the spinodal
    where it meets the local maximum (the upper end of the bisection bracket).
    """
    n_k, N, _, _, M = _deep_args(n_k, N, 1.0, 1.0, depth)
    if M == 1:
        return math.sqrt(n_k) / N

    def gap(lam: float) -> float:  # f(s_+) - f(0), +inf when no positive stationary point
        st = deep_ufm_stationary_points(n_k, N, lam, lam, M)
        return (
            np.inf if st.size == 0 else float(_f_deep(st[-1], n_k, N, lam, lam, M) - _f_deep(0.0, n_k, N, lam, lam, M))
        )

    lo, hi = math.sqrt(n_k) / N * 1e-3, math.sqrt(n_k) / N
    while gap(hi) < 0:
        hi *= 2
    while hi - lo > 1e-13 * hi:
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if gap(mid) < 0 else (lo, mid)
    return 0.5 * (lo + hi)


def orthogonal_frame_nc3(K: int) -> float:
    """Centred NC3 at a bias-free orthogonal-frame optimum: sqrt(2 - 2 sqrt((K-1)/K)) (0.5176 at K = 4).

    W = c I and M = c' I give W/||W|| = I/sqrt(K), Mdot/||Mdot|| = (I - 11^T/K)/sqrt(K-1); their inner product
    is sqrt((K-1)/K). The metric is not 0 although the features are perfectly self-dual ([PHD20]'s NC3 compares W with the centred means).
    """
    K = integer_at_least("K", K, 2)
    return math.sqrt(2.0 - 2.0 * math.sqrt((K - 1) / K))


@overflow_guard
def mse_ufm_within_class_rate(n: int, K: int, lambda_W: float, lambda_H: float) -> float:
    """Decay rate a of the within-class feature deviations along the class means, MSE UFM at its optimum.

    For the MSE UFM (module docstring, depth 1, balanced, with or without the unregularised bias) the gradient in
    h_i is (1/N) W^T (W h_i + b - y_i) + lH h_i, so the deviation of two same-class features obeys exactly
    d(h_i - h_j)/dt = -(W^T W/N + lH I)(h_i - h_j) (gradient flow; GD: a factor 1 - lr A per step). At the optimum
    [ZLD22, TB22] W^T W has the one nonzero eigenvalue s_w^2 = sqrt(n lH/lW) (1 - K sqrt(n lW lH))_+ on the
    span of the class means (orthogonal frame: ||w_k||^2; simplex ETF with bias: ||w_k||^2 K/(K-1)), so the
    deviations seen by NC1 decay at a = lH + s_w^2/N, N = n K, and NC1(t) = NC1(0) e^{-2 a t} (GD:
    (1 - lr a)^{2 t} after t steps) once W has converged [derived here; the terminal-phase collapse of PHD20].
    """
    n, K = integer_at_least("n", n, 1), integer_at_least("K", K, 2)
    lW, lH = positive("lambda_W", lambda_W), positive("lambda_H", lambda_H)
    sigma = max(1.0 - K * math.sqrt(n * lW * lH), 0.0)
    return lH + math.sqrt(n * lH / lW) * sigma / (n * K)


def _frame(d: int, r: int) -> np.ndarray:
    """d x r matrix with orthonormal columns: the first r standard basis vectors."""
    return np.eye(d)[:, :r]


def _layers(modes: np.ndarray, s_layer: np.ndarray, d: int, M: int) -> tuple[np.ndarray, ...]:
    """Balanced aligned layers: W_j = E_d diag(s) E_d^T (d x d) for j < M, W_M = modes diag(s) E_d^T (K x d)."""
    E = _frame(d, s_layer.size)
    inner = [E @ np.diag(s_layer) @ E.T for _ in range(M - 1)]
    return (*inner, modes @ np.diag(s_layer) @ E.T)


def ufm_optimum(
    n_per_class, lambda_W, lambda_H, *, loss: str = "ce", depth: int = 1, bias: bool = False, d: int | None = None
) -> UFMOptimum:
    """A global minimiser of the (deep linear) unconstrained-features model with weight decay.

    Cases with a closed form (conventions in the module docstring; any rotation of the feature space, i.e.
    W -> W Q^T, H -> Q H, is another minimiser):
    - loss="ce", depth=1, balanced (n_k = n): simplex ETF, W W^T = ||w||^2 K/(K-1) (I - 11^T/K), h_k =
      sqrt(lW/(n lH)) w_k, ||w||^2 from :func:`ce_ufm_weight_norm_sq`; W = H = 0 when sqrt(n lW lH) >= 1/K
      [ZDZ21]. The bias (unregularised) is b = 0 (any constant vector is equally optimal); the same
      geometry minimises the bias-free problem.
    - loss="mse", bias=False, any depth M, any n_k: orthogonal frame, per-class per-layer singular value s_k of
      :func:`deep_ufm_singular_value`; W = diag(s_k^M), H_mean[:, k] = s_k^M/(s_k^{2M} + N lH) e_k [DTO23;
      M = 1: ZLD22/TB22]. Class k collapses to 0 iff s_k = 0 (M = 1: n_k <= N^2 lW lH).
    - loss="mse", bias=True (unregularised), balanced, any depth: b = 1/K 1, mu_G = 0, simplex ETF with the
      K-1 centred modes each at the per-class value with n_k = n (the centred target I - 11^T/K has K-1 unit
      singular values) [ZLD22, TB22; DTO23 for M >= 2; derived here, checked against GD].
    ``d`` is the feature (and hidden) width, default K; d >= K - 1 is needed for an ETF, d >= K for an
    orthogonal frame. Other cases (CE imbalanced or deep, MSE imbalanced with bias) raise NotImplementedError.
    """
    n = _counts(n_per_class)
    K, N = n.size, int(n.sum())
    lW, lH = nonnegative("lambda_W", lambda_W), nonnegative("lambda_H", lambda_H)
    if lW == 0 or lH == 0:
        raise ValueError(
            "lambda_W and lambda_H must be > 0: without weight decay the UFM has no finite minimiser "
            "(CE) or a non-unique one (MSE)"
        )
    M = integer_at_least("depth", depth, 1, upper=MAX_DEPTH)
    choice("loss", loss, ("ce", "mse"))
    bias = flag("bias", bias)
    d = K if d is None else integer_at_least("d", d, 1, upper=MAX_DEPTH)
    balanced = bool(np.all(n == n[0]))
    etf = loss == "ce" or bias
    if d < (K - 1 if etf else K):
        raise ValueError(
            f"d must be >= {K - 1 if etf else K} (K = {K}) for the {'simplex ETF' if etf else 'orthogonal frame'}"
            f" optimum, got d = {d}"
        )
    if loss == "ce" and (M > 1 or not balanced):
        raise NotImplementedError(
            "no closed form for the CE UFM with imbalanced classes or depth > 1 "
            "(imbalanced CE: minority collapse, see the layer-peeled model; deep CE: DTO23 "
            "state the structure only)"
        )
    if loss == "mse" and bias and not balanced:
        raise NotImplementedError(
            "no closed form for the MSE UFM with a bias and imbalanced classes: the "
            "weighted centring couples the classes (DTO23 treat the bias-free case)"
        )
    if etf:
        E = np.linalg.svd(np.eye(K) - 1.0 / K)[0][:, : K - 1]  # K x (K-1) orthonormal basis of 1^perp
        if loss == "ce":
            a = ce_ufm_weight_norm_sq(int(n[0]), K, lW, lH)
            s_w = math.sqrt(a * K / (K - 1))  # singular value of W on each centred mode
            h_over_w = math.sqrt(lW / (n[0] * lH))
            W = s_w * E @ _frame(d, K - 1).T
            H_mean = h_over_w * W.T
            sv = np.append(np.full(K - 1, s_w), 0.0)[None, :]
            return UFMOptimum(W, H_mean, np.zeros(K) if bias else None, (W,), sv, "etf" if a > 0 else "zero")
        s = deep_ufm_singular_value(n[0], N, lW, lH, M)
        s_layer = np.full(K - 1, s)
        layers = _layers(E, s_layer, d, M)
        W = np.linalg.multi_dot(layers[::-1]) if M > 1 else layers[0]
        h = s**M / (s ** (2 * M) + N * lH)
        H_mean = h * _frame(d, K - 1) @ E.T
        sv = np.tile(np.append(s_layer, 0.0), (M, 1))
        return UFMOptimum(W, H_mean, np.full(K, 1.0 / K), layers, sv, "etf" if s > 0 else "zero")
    s = np.array([deep_ufm_singular_value(nk, N, lW, lH, M) for nk in n])
    layers = _layers(np.eye(K), s, d, M)
    W = np.linalg.multi_dot(layers[::-1]) if M > 1 else layers[0]
    H_mean = _frame(d, K) @ np.diag(s**M / (s ** (2 * M) + N * lH))
    return UFMOptimum(W, H_mean, None, layers, np.tile(s, (M, 1)), "orthogonal" if np.any(s > 0) else "zero")


def ufm_objective(layers, H, y, lambda_W, lambda_H, *, b=None, loss: str = "ce") -> float:
    """Value of the UFM objective (module docstring) at layers (W_1..W_M), features H (d x N), labels y, bias b."""
    instance("layers", layers, list | tuple, "a list of weight matrices (W_1, ..., W_M)")
    if not layers:
        raise ValueError("layers must hold at least one weight matrix")
    layers = [real_array(f"layers[{j}]", Wj, ndim=2) for j, Wj in enumerate(layers)]
    if any(a.shape[0] != b_.shape[1] for a, b_ in zip(layers[:-1], layers[1:])):
        raise ValueError(f"layers must chain (W_j of shape (d_j, d_(j-1))), got shapes {[a.shape for a in layers]}")
    H = real_array("H", H, ndim=2)
    W = np.linalg.multi_dot(layers[::-1]) if len(layers) > 1 else layers[0]
    if H.shape[0] != W.shape[1]:
        raise ValueError(f"H must be d x N with d = {W.shape[1]} (columns of W_1), got shape {H.shape}")
    y, K = _labels(y, H.shape[1], W.shape[0])
    lambda_W, lambda_H = nonnegative("lambda_W", lambda_W), nonnegative("lambda_H", lambda_H)
    choice("loss", loss, ("ce", "mse"))
    Z = W @ H + (0.0 if b is None else real_array("b", b, shape=(K,))[:, None])
    N = H.shape[1]
    if loss == "ce":
        zmax = Z.max(axis=0)
        data = float(np.mean(zmax + np.log(np.exp(Z - zmax).sum(axis=0)) - Z[y, np.arange(N)]))
    elif loss == "mse":
        Y = np.zeros_like(Z)
        Y[y, np.arange(N)] = 1.0
        data = 0.5 / N * float(np.sum((Z - Y) ** 2))
    else:
        raise ValueError(f"loss must be 'ce' or 'mse', got {loss!r}")
    return (
        data
        + 0.5 * lambda_W * sum(float(np.sum(np.asarray(Wj) ** 2)) for Wj in layers)
        + 0.5 * lambda_H * float(np.sum(H**2))
    )


# ----------------------------------------------------------------------------- Han et al. 2022


def mse_decomposition(H, y, W, b, lam: float) -> dict:
    """Exact split of the regularised MSE loss into L_NC1 + L_NC2/3 + L_perp [HPD22].

    Loss L(W, b) = 1/(2N) sum_i ||W h_i + b - e_{y_i}||^2 + lam/2 (||W||^2 + ||b||^2), features H N x d.
    With (W_LS, b_LS) the ridge-optimal classifier for the current features, weights pi_c = n_c/N (1/K when
    balanced, Han et al.'s setting) and the sample global mean:
      L_NC1   = 1/2 [tr(W_LS (Sigma_W + lam I) W_LS^T) + lam ||b_LS||^2],
      L_NC2/3 = 1/2 sum_c pi_c ||W_LS mu_c + b_LS - e_c||^2   (= 1/(2K) ||W_LS M + b_LS 1^T - I||_F^2 balanced),
      L_perp  = 1/2 tr((W~ - W~_LS) A (W~ - W~_LS)^T), W~ = [W, b], A = [[Sigma_T + mu_G mu_G^T + lam I, mu_G],
                [mu_G^T, 1 + lam]] the Hessian of L in W~.
    Returns the three terms, their sum ``total``, the directly evaluated ``loss``, and W_LS, b_LS.
    """
    H = real_array("H", H, ndim=2)
    N, d = H.shape
    W = real_array("W", W, ndim=2)
    if W.shape[1] != d:
        raise ValueError(f"W must be K x d with d = {d}, got shape {W.shape}")
    y, K = _labels(y, N, W.shape[0])
    b = real_array("b", b, shape=(K,))
    lam = nonnegative("lam", lam)
    n = np.bincount(y, minlength=K)
    if np.any(n == 0):
        raise ValueError(f"every class needs >= 1 sample; empty classes: {np.flatnonzero(n == 0).tolist()}")
    pi = n / N
    Y = np.zeros((N, K))
    Y[np.arange(N), y] = 1.0
    M = (Y.T @ H) / n[:, None]  # K x d class means
    R = H - M[y]
    Sigma_W = R.T @ R / N
    A = classifier_hessian(H, lam)
    B = np.hstack([pi[:, None] * M, pi[:, None]])  # E[y [h; 1]^T]
    Wt_LS = np.linalg.solve(A, B.T).T
    W_LS, b_LS = Wt_LS[:, :d], Wt_LS[:, d]
    D = np.hstack([W, b[:, None]]) - Wt_LS
    L_nc1 = 0.5 * (np.trace(W_LS @ (Sigma_W + lam * np.eye(d)) @ W_LS.T) + lam * b_LS @ b_LS)
    L_nc23 = 0.5 * float(pi @ np.sum((M @ W_LS.T + b_LS - np.eye(K)) ** 2, axis=1))
    L_perp = 0.5 * np.trace(D @ A @ D.T)
    loss = 0.5 / N * np.sum((H @ W.T + b - Y) ** 2) + 0.5 * lam * (np.sum(W**2) + b @ b)
    return dict(
        L_NC1=float(L_nc1),
        L_NC23=float(L_nc23),
        L_perp=float(L_perp),
        total=float(L_nc1 + L_nc23 + L_perp),
        loss=float(loss),
        W_LS=W_LS,
        b_LS=b_LS,
    )


# ----------------------------------------------------------------------------- layer-peeled model


def layer_peeled_balanced(K: int, E_W: float, E_H: float, d: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Global minimiser (W, H_mean) of the balanced layer-peeled model [FHLS21, balanced case].

    min (1/N) sum CE(W h_{k,i}, k) s.t. (1/K) sum ||w_k||^2 <= E_W, (1/K) sum_k (1/n_k) sum_i ||h_{k,i}||^2 <= E_H:
    a simplex ETF with ||w_k|| = sqrt(E_W) and h_k = sqrt(E_H/E_W) w_k (W: K x d, H_mean: d x K; d >= K-1).
    The imbalanced LPM: :func:`layer_peeled_optimum` (numerical, convex); R -> inf: FHLS21's Minority Collapse.
    """
    K = integer_at_least("K", K, 2, upper=MAX_WIDTH)
    d = K if d is None else integer_at_least("d", d, K - 1, upper=MAX_WIDTH)
    E_W, E_H = nonnegative("E_W", E_W), nonnegative("E_H", E_H)
    if E_W == 0:
        raise ValueError("E_W must be > 0")
    E = np.linalg.svd(np.eye(K) - 1.0 / K)[0][:, : K - 1]
    W = math.sqrt(E_W * K / (K - 1)) * E @ _frame(d, K - 1).T  # rows have norm sqrt(E_W)
    return W, math.sqrt(E_H / E_W) * W.T


@dataclass(frozen=True)
class LPMOptimum:
    """The global minimiser of the imbalanced layer-peeled model, from its convex relaxation [FHLS21, Sec. 3].

    Classes 0..K_A-1 are the majority (n_A = R n_B samples each), K_A..K-1 the minority (n_B each).
    margins: (delta_A, delta_B, s, g) with s = z_kk - z_kj inside the majority, g the same inside the minority,
    delta_A = <h_A, w_A> - <h_A, w_B> between the group-mean parts (delta_B likewise); multiplier: mu = -dv/dt,
    the price of the budget t = sqrt(E_W E_H) (v the optimal value); WWt, HtH: K x K Gram matrices of the
    classifier rows and the (collapsed) features; logits[k, j] = h_k . w_j; objective: the LPM objective;
    minority_cos: the cosine between two minority classifiers (1 exactly when g = 0: minority collapse; NaN when
    the budget is so small that they vanish).
    """

    margins: np.ndarray
    multiplier: float
    WWt: np.ndarray
    HtH: np.ndarray
    logits: np.ndarray
    objective: float
    minority_cos: float


_LPM_TOL = 1e-14  # relative Newton-step and root tolerance of the layer-peeled solver


class _LPM:
    """The layer-peeled model reduced by its symmetry (S_{K_A} x S_{K_B}) to four margins.

    By convexity and symmetry a symmetric optimum of the convex relaxation (the Gram matrix of [H; W], Fang et al.
    Sec. 3) exists. A symmetric Gram splits into a group-mean ("trivial") part and the centred parts inside each
    group (Schur's lemma). Logits: z_kj = C[g(k), g(j)] + (s or g)(delta_kj - 1/K_g) inside a group, with C the
    2 x 2 matrix of the group means' inner products. With the energy weights d^h_g = K_g omega_g/K, d^w_g = K_g/K
    (trivial parts), c^h_g = (K_g - 1) omega_g/K, c^w_g = (K_g - 1)/K (centred parts) the budgets can be met iff
    ||D_h^{1/2} C D_w^{1/2}||_* + e_A s + e_B g <= t = sqrt(E_W E_H), e_g = sqrt(c^h_g c^w_g) (each PSD block
    [[P, X], [X^T, Q]] needs tr P tr Q >= ||X||_*^2; Cauchy-Schwarz over blocks). CE depends on C only through
    delta_A = C_AA - C_AB, delta_B = C_BB - C_BA, and the least nuclear norm with those differences is
    phi(delta) = ||D_h^{1/2} delta|| / ||v||, v = (1/sqrt(d^w_A), -1/sqrt(d^w_B)) (its dual certificate is rank
    one), attained by C~ = phi p q^T, q = v/||v||, p ~ (sqrt(d^h_A) delta_A, -sqrt(d^h_B) delta_B). omega_g = 1
    is the LPM's per-class feature budget (1/K) sum_k (1/n_k) sum_i ||h_ki||^2.
    """

    def __init__(self, K_A: int, K_B: int, R: float, omega: tuple[float, float]):
        K = K_A + K_B
        self.K_A, self.K_B, self.K = K_A, K_B, K
        self.w = np.array([K_A * R, K_B]) / (K_A * R + K_B)  # class-total loss weights K_g n_g / N
        self.dh = np.array([K_A * omega[0], K_B * omega[1]]) / K
        self.dw = np.array([K_A, K_B]) / K
        ch, cw = np.array([K_A - 1, K_B - 1]) * np.array(omega) / K, np.array([K_A - 1, K_B - 1]) / K
        self.e = np.sqrt(ch * cw)
        self.kappa_ratio = np.sqrt(ch / cw)  # centred-part feature/classifier energy ratio, per unit kappa
        self.vnorm = math.sqrt(1 / self.dw[0] + 1 / self.dw[1])
        a = (K_A - 1) / K_A, (K_B - 1) / K_B
        # CE of a majority (minority) sample as log sum_i c_i exp(L_i . x), x = (delta_A, delta_B, s, g)
        self.c = (np.array([1.0, K_A - 1, K_B]), np.array([1.0, K_B - 1, K_A]))
        self.L = (
            np.array([[0, 0, 0, 0], [0, 0, -1, 0], [-1, 0, -a[0], 0]], float),
            np.array([[0, 0, 0, 0], [0, 0, 0, -1], [0, -1, 0, -a[1]]], float),
        )
        # s (g) is 0 at the optimum iff mu e_g >= -dF/ds at s = 0 = w_g (K_g - 1)/K_g (the same for every delta)
        self.mu_collapse = self.w * np.array(a) / self.e

    def loss(self, x: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        F, gF, HF = 0.0, np.zeros(4), np.zeros((4, 4))
        for w, c, L in zip(self.w, self.c, self.L):
            lv = np.log(c) + L @ x
            m = lv.max()
            p = np.exp(lv - m)
            Z = p.sum()
            p /= Z
            g = p @ L
            F, gF, HF = F + w * (m + math.log(Z)), gF + w * g, HF + w * ((L.T * p) @ L - np.outer(g, g))
        return F, gF, HF

    def norm(self, x: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        """N(x) = phi(delta) + e . (s, g), its gradient and Hessian (delta part 0 at delta = 0, where phi kinks)."""
        Dd = self.dh * x[:2]
        sq = math.sqrt(float(Dd @ x[:2]))
        g, H = np.zeros(4), np.zeros((4, 4))
        g[2:] = self.e
        if sq > 0:
            g[:2] = Dd / (self.vnorm * sq)
            H[:2, :2] = (np.diag(self.dh) / sq - np.outer(Dd, Dd) / sq**3) / self.vnorm
        return sq / self.vnorm + float(self.e @ x[2:]), g, H

    def minimise(self, mu: float) -> np.ndarray:
        """argmin F + mu N. s (g) is 0 iff mu >= mu_collapse; delta = 0 iff the dual norm ||v|| ||D_h^{-1/2} y||
        of y = dF/d delta at delta = 0 is <= mu (phi is a norm); otherwise the minimiser is where N is smooth."""
        free = np.array([False, False, *(mu < self.mu_collapse)])
        x = self._newton(mu, free)
        y = self.loss(x)[1][:2]
        if self.vnorm * np.linalg.norm(y / np.sqrt(self.dh)) <= mu:
            return x
        free[:2] = True
        return self._newton(mu, free)

    def _newton(self, mu: float, free: np.ndarray) -> np.ndarray:
        """Damped Newton on the ``free`` margins (the others 0), strictly convex there."""
        x = np.where(free, 1.0, 0.0)
        for _ in range(500):
            if not free.any():
                return x
            F, gF, HF = self.loss(x)
            Nv, gN, HN = self.norm(x)
            f, g, H = F + mu * Nv, (gF + mu * gN)[free], (HF + mu * HN)[np.ix_(free, free)]
            step = np.linalg.solve(H, -g)
            if np.linalg.norm(step) <= _LPM_TOL * (1 + np.linalg.norm(x)):
                return x
            tau = 1.0  # backtracking until sufficient decrease; full steps once quadratic convergence sets in
            dec = float(-g @ step)
            if dec < 0:  # not a descent direction: the Hessian is not positive definite at x
                raise FloatingPointError(
                    f"layer-peeled Newton: the objective is not strictly convex at the iterate (mu={mu}); "
                    "the budgets E_W, E_H are outside the range where the program is solvable this way"
                )
            for _ in range(200 if dec > 1e-12 else 0):  # bounded: tau = 2^-200 is below any useful step
                xn = x.copy()
                xn[free] += tau * step
                if np.all(xn[2:][free[2:]] > 0) and self.loss(xn)[0] + mu * self.norm(xn)[0] <= f - 0.25 * tau * dec:
                    break
                tau *= 0.5
            else:
                if dec > 1e-12:
                    raise FloatingPointError(f"layer-peeled Newton: line search found no decrease (mu={mu})")
            x[free] += tau * step
        raise FloatingPointError(f"layer-peeled Newton did not converge (mu={mu})")  # pragma: no cover

    def solve(self, t: float) -> tuple[np.ndarray, float]:
        """Margins and multiplier mu at budget t: the root of N(argmin F + mu N) = t in log mu."""

        def excess(log_mu: float) -> float:
            return self.norm(self.minimise(math.exp(log_mu)))[0] - t

        lo = math.log(1e-3)
        while excess(lo) <= 0:
            lo -= math.log(1.5)
        hi = lo
        while excess(hi) > 0:
            lo, hi = hi, hi + math.log(1.5)
        log_mu = brentq(excess, lo, hi, xtol=_LPM_TOL, rtol=_LPM_TOL)
        return self.minimise(math.exp(log_mu)), math.exp(log_mu)

    def geometry(self, x: np.ndarray, kappa: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(W W^T, H^T H, logits) of the minimal-energy realisation; kappa = sqrt(E_H/E_W)."""
        phi = self.norm(np.array([*x[:2], 0.0, 0.0]))[0]
        u = np.array([math.sqrt(self.dh[0]) * x[0], -math.sqrt(self.dh[1]) * x[1]])
        p = u / np.linalg.norm(u) if phi > 0 else np.zeros(2)  # phi = 0: the group means carry nothing
        q = np.array([1 / math.sqrt(self.dw[0]), -1 / math.sqrt(self.dw[1])]) / self.vnorm
        C = phi * np.outer(p, q) / np.sqrt(np.outer(self.dh, self.dw))
        Gw = phi / kappa * np.outer(q, q) / np.sqrt(np.outer(self.dw, self.dw))
        Gh = kappa * phi * np.outer(p, p) / np.sqrt(np.outer(self.dh, self.dh))
        group = np.repeat([0, 1], [self.K_A, self.K_B])
        same = group[:, None] == group[None, :]
        centred = np.where(same, np.eye(self.K) - 1.0 / np.array([self.K_A, self.K_B])[group][:, None], 0.0)
        m = x[2:][group][:, None]  # s or g, per row's group
        ratio = self.kappa_ratio[group][:, None]
        WWt = Gw[np.ix_(group, group)] + centred * m * ratio / kappa
        HtH = Gh[np.ix_(group, group)] + centred * m * kappa / ratio
        return WWt, HtH, C[np.ix_(group, group)] + centred * m


def _lpm_args(K_A, K_B, R, E_W, E_H, feature_budget) -> tuple[_LPM, float, float]:
    K_A, K_B = integer_at_least("K_A", K_A, 2, upper=MAX_WIDTH), integer_at_least("K_B", K_B, 2, upper=MAX_WIDTH)
    R = real_scalar("R", R, lower=1.0, upper=1e12)
    # Budgets within [1e-6, 1e6]: the convex solver's tolerances (1e-14) are set for margins of order one.
    E_W = real_scalar("E_W", E_W, lower=1e-6, upper=1e6)
    E_H = real_scalar("E_H", E_H, lower=1e-6, upper=1e6)
    choice("feature_budget", feature_budget, ("per_class", "per_sample"))
    K = K_A + K_B
    omega = (1.0, 1.0) if feature_budget == "per_class" else tuple(K * np.array([R, 1.0]) / (K_A * R + K_B))
    return _LPM(K_A, K_B, R, omega), math.sqrt(E_W * E_H), math.sqrt(E_H / E_W)


@overflow_guard
def layer_peeled_optimum(
    K_A: int, K_B: int, R: float, E_W: float, E_H: float, *, feature_budget: str = "per_class"
) -> LPMOptimum:
    """Global minimiser of the imbalanced layer-peeled model [FHLS21, eq. 4 with collapsed features]:

    min sum_k (n_k/N) CE(W h_k, k)  s.t.  (1/K) sum_k ||w_k||^2 <= E_W,  (1/K) sum_k ||h_k||^2 <= E_H,

    K_A majority classes with n_A = R n_B samples, then K_B minority classes with n_B (R >= 1). Solved as the
    convex program of :class:`_LPM` (four margins, a norm-ball constraint; damped Newton on F + mu N and a root
    in mu, tolerance 1e-14), not by gradient descent. The optimum depends on the budgets only through
    t = sqrt(E_W E_H) (W -> c W, H -> H/c keeps the logits). ``feature_budget="per_sample"`` replaces the feature
    constraint by (1/N) sum_i ||h_i||^2 <= E_H. Feature dimension needed to realise it: d >= K.
    """
    lpm, t, kappa = _lpm_args(K_A, K_B, R, E_W, E_H, feature_budget)
    x, mu = lpm.solve(t)
    WWt, HtH, logits = lpm.geometry(x, kappa)
    cos = WWt[-1, -2] / WWt[-1, -1] if WWt[-1, -1] > 0 else np.nan  # NaN: the minority classifiers vanish
    return LPMOptimum(x, mu, WWt, HtH, logits, lpm.loss(x)[0], float(cos))


@overflow_guard
def layer_peeled_minority_threshold(
    K_A: int, K_B: int, E_W: float, E_H: float, *, feature_budget: str = "per_class"
) -> float:
    """The imbalance ratio R* above which the minority classifiers of the layer-peeled model coincide exactly.

    Derived from the convex program of :class:`_LPM`: dF/dg at g = 0 is -(n_B/N)(K_B - 1) whatever the other
    margins, and the budget prices g at mu e_B, so g = 0 (minority collapse) iff mu >= (n_B/N)(K_B-1)/e_B
    (= K n_B/N for the per-class budget), mu = -dv/dt the multiplier of the problem with g = 0. Equivalently
    T(R) >= t, T(R) the budget at which that problem's multiplier equals the critical value; R* is the root of
    T(R*) = t (T(1) = 0: at R = 1 the critical multiplier 1 makes every margin 0). Fang et al. prove collapse
    as R -> inf (their Theorem 5); this finite R* is the exact onset for the given budgets.
    """
    lpm, t, _ = _lpm_args(K_A, K_B, 1.0, E_W, E_H, feature_budget)

    def excess(R: float) -> float:
        if R == 1.0:
            return -t
        lpm_R = _lpm_args(K_A, K_B, R, E_W, E_H, feature_budget)[0]
        return lpm_R.norm(lpm_R.minimise(lpm_R.mu_collapse[1]))[0] - t

    hi = 2.0
    while excess(hi) <= 0:
        hi *= 2
        if hi > 1e15:
            raise ValueError(f"no minority-collapse threshold R* <= 1e15 for the budgets E_W = {E_W}, E_H = {E_H}")
    return brentq(excess, 1.0, hi, xtol=_LPM_TOL, rtol=_LPM_TOL)


# ----------------------------------------------------------------------------- deep linear CE UFM (balanced)


def deep_ce_ufm_mode_objective(x, n: int, K: int, lambda_W: float, lambda_H: float, depth: int):
    """The deep CE-UFM objective on the simplex-ETF family as a function of the margin x >= 0 [DTO23, CE case].

    Balanced bias-free CE UFM of depth M (module docstring; lambda_W on every layer). On the ETF family
    (every layer balanced with singular value s on the K-1 centred modes, h_k = eta (e_k - 1/K) in that basis,
    margin x = z_kk - z_kj = s^M eta) minimising the penalty over s at fixed x (AM-GM; s^{2(M+1)} = n lH x^2/lW)
    leaves the per-mode objective
      f(x) = ln(1 + (K-1) e^{-x}) + (K-1) (M+1)/2 c x^{2/(M+1)},   c = (n lH lW^M)^{1/(M+1)};
    M = 1 is [ZDZ21]'s convex reduction (c = sqrt(n lW lH)). Vectorised in x."""
    n, K = integer_at_least("n", n, 1), integer_at_least("K", K, 2)
    lW, lH = positive("lambda_W", lambda_W), positive("lambda_H", lambda_H)
    M = integer_at_least("depth", depth, 1, upper=MAX_UFM_DEPTH)
    x = real_array("x", x)
    if np.any(x < 0):
        raise ValueError("x (the margin) must be >= 0")
    return _ce_mode_objective(x, n, K, lW, lH, M)


def _ce_mode_c(n, lW, lH, M) -> float:
    return math.exp((math.log(n * lH) + M * math.log(lW)) / (M + 1))


def _ce_mode_objective(x, n, K, lW, lH, M):
    c = _ce_mode_c(n, lW, lH, M)
    return np.logaddexp(0.0, math.log(K - 1) - x) + (K - 1) * (M + 1) / 2 * c * x ** (2 / (M + 1))


@overflow_guard
def deep_ce_ufm_etf(n: int, K: int, lambda_W: float, lambda_H: float, depth: int = 1) -> tuple[float, float, float]:
    """Margin x, per-layer singular value s and feature scale eta of the simplex-ETF optimum of the balanced,
    bias-free deep linear CE UFM of depth M. [DTO23] prove that global solutions of the deep linear CE problem
    exhibit NC at every layer (abstract; the theorem's own statement of the norms was not available to us), so
    the scales are derived here from the ETF family's reduction :func:`deep_ce_ufm_mode_objective`.

    Every layer W_j has K-1 singular values s (one 0), W = W_M...W_1 has W W^T = s^{2M} (I - 11^T/K), the class
    means have Gram eta^2 (I - 11^T/K), eta = x/s^M, s^{2(M+1)} = n lH x^2/lW. x is the global minimiser of f on
    [0, inf): M = 1: x = ln((1 - (K-1) c)/c) if c = sqrt(n lW lH) < 1/K (else 0; [ZDZ21]); M >= 2: x = 0 is a
    local minimum (the penalty's slope is infinite there) and x is the larger root of c x^{-(M-1)/(M+1)} =
    1/(e^x + K - 1) when f there is below f(0) = ln K (a first-order jump, as for MSE), else 0. Roots to 1e-14.
    Caution: on this family only. At M >= 3 lower-rank configurations can have a lower objective (found by GD
    at K = 4, M = 3, lW = lH = 5e-3, n = 5: 0.1073 < 0.1171 at rank 2; Garrod & Keating 2024, arXiv:2410.23169,
    prove such low-rank optima for deep CE UFMs), so "global at every depth" does not hold; the ETF point remains
    a strict local minimum there (positive transverse Hessian at K = 3-6, M = 2-4, lW = lH in {1e-3, 5e-3}).
    Returns (x, s, eta); (0, 0, 0) when the trivial point wins.
    """
    n, K = integer_at_least("n", n, 1), integer_at_least("K", K, 2)
    lW, lH = positive("lambda_W", lambda_W), positive("lambda_H", lambda_H)
    M = integer_at_least("depth", depth, 1, upper=MAX_UFM_DEPTH)
    c = _ce_mode_c(n, lW, lH, M)
    a = (M - 1) / (M + 1)

    def phi(x: float) -> float:  # ln c x^{-a} + ln(e^x + K - 1): f' has the sign of phi
        return math.log(c) - a * math.log(x) + float(np.logaddexp(x, math.log(K - 1)))

    if M == 1:
        x = math.log((1 - (K - 1) * c) / c) if c < 1 / K else 0.0
    else:
        dphi = lambda x: -a / x + 1.0 / (1.0 + (K - 1) * math.exp(-x))  # noqa: E731
        hi = 1.0
        while dphi(hi) <= 0:
            hi *= 2
        x_min = brentq(dphi, 1e-300, hi, xtol=1e-300, rtol=1e-15)
        x = 0.0
        if phi(x_min) < 0:
            hi = 2 * x_min
            while phi(hi) <= 0:
                hi *= 2
            x_plus = brentq(phi, x_min, hi, xtol=1e-300, rtol=1e-15)
            if _ce_mode_objective(x_plus, n, K, lW, lH, M) < math.log(K):
                x = x_plus
    if x == 0.0:
        return 0.0, 0.0, 0.0
    s = math.exp((math.log(n * lH) + 2 * math.log(x) - math.log(lW)) / (2 * (M + 1)))
    return x, s, x / s**M
