"""Random-feature ridge regression: the omniscient (deterministic-equivalent) test risk.

Reference
---------
[SKGB23] J. B. Simon, D. Karkada, N. Ghosh, M. Belkin, "More is Better in Modern Machine Learning: when Infinite
Overparameterization is Optimal and Overfitting is Obligatory", ICLR 2024, arXiv:2311.14646, sec. 4 (the RF
eigenframework: the two coupled equations for kappa and gamma and the omniscient risk estimate), Theorem 1 (with the
ridge tuned optimally the risk is non-increasing in the number of features k and of samples n).

Conventions
-----------
- A task is a kernel with eigenvalues lambda_i (eigenfunctions phi_i orthonormal under the data measure), a target
  f*(x) = sum_i v_i phi_i(x) and label noise of variance sigma2. k random features
  g_j(x) = k^(-1/2) sum_i z_ji sqrt(lambda_i) phi_i(x), z_ji ~ N(0, 1): the RF kernel g(x) . g(x') averages to
  the kernel. n samples; ridge regression on the features with the UNNORMALISED ridge delta:
  a = argmin ||G a - y||^2 + delta ||a||^2, f_hat(x) = g(x) . a.
- The test risk is E_x,eps (f_hat(x) - y)^2 = ||f_hat - f*||^2 + sigma2 (it includes the label noise).
- [SKGB23] write n samples and k features; issue 15 calls them P and N.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.optimize import brentq, minimize_scalar

from dltheory.theory._validate import nonnegative, positive

__all__ = ["rf_fixed_point", "rf_risk", "krr_risk", "rf_optimal_ridge"]

_XTOL = 1e-15  # brentq's relative tolerance in log gamma: gamma to ~1e-15 relative, far below the risks' round-off


def _vector(name: str, value) -> np.ndarray:
    arr = np.asarray(value)
    if arr.dtype.kind not in "iuf" or arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty real 1-D array, got dtype {arr.dtype}, shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite")
    return arr.astype(float)


def _eigvals(eigvals) -> np.ndarray:
    lam = _vector("eigvals", eigvals)
    if np.any(lam <= 0):
        raise ValueError(f"eigvals must be > 0, got min {lam.min()}")
    return lam


def _spectrum(eigvals, eigcoeffs) -> tuple[np.ndarray, np.ndarray]:
    lam, v = _eigvals(eigvals), _vector("eigcoeffs", eigcoeffs)
    if v.shape != lam.shape:
        raise ValueError(f"eigcoeffs must have the shape of eigvals {lam.shape}, got {v.shape}")
    return lam, v


MAX_SIZE = 1e15  # cap on n and k
MAX_DELTA = 1e100  # cap on the ridge (keeps gamma's bracket in float range)


def _size(name: str, value) -> float:
    """n (samples) or k (features): a real number in (0, MAX_SIZE] (the equations are continuous in both)."""
    out = positive(name, value)
    if out > MAX_SIZE:
        raise ValueError(f"{name} must lie in (0, {MAX_SIZE:g}], got {out:g}")
    return out


def _sizes(n, k) -> tuple[float, float]:
    return _size("n", n), _size("k", k)


def _ridge(delta) -> float:
    out = nonnegative("delta", delta)
    if out > MAX_DELTA:
        raise ValueError(f"delta must lie in [0, {MAX_DELTA:g}], got {out:g}")
    return out


def _gamma(lam: np.ndarray, n: float, k: float, delta: float) -> float:
    """gamma > 0 solving n = z(gamma) + delta k / (gamma (k - z(gamma))), z = sum lambda / (lambda + gamma).

    The right-hand side h(gamma) falls strictly from +inf (at gamma -> 0, or where z = k) to 0 (gamma -> inf),
    since z falls and gamma (k - z) rises: one root, bracketed in log gamma and found by brentq.
    """

    def z(g):
        return float(np.sum(lam / (lam + g)))

    def h(log_g):
        g = math.exp(log_g)
        zg = z(g)
        if zg >= k:
            return math.inf
        return zg + delta * k / (g * (k - zg)) - n

    hi = math.log(lam.max()) + 1.0
    while h(hi) > 0:
        hi += 2.0
        if hi > 700:
            raise ArithmeticError("rf_fixed_point: no upper bracket for gamma (n too small?)")
    lo = hi - 2.0
    while h(lo) < 0:
        lo -= 2.0
        if lo < -700:
            raise ArithmeticError("rf_fixed_point: no lower bracket for gamma (delta = 0 with min(n, k) >= #eigvals?)")
    return math.exp(brentq(lambda x: np.clip(h(x), -1e300, 1e300), lo, hi, xtol=1e-300, rtol=_XTOL, maxiter=500))


def _gamma_ridgeless(lam: np.ndarray, m: float) -> float:
    """gamma > 0 with z(gamma) = m (the delta -> 0 limit: m = min(n, k) < #eigvals)."""
    if m >= lam.size:
        raise ValueError(f"at delta = 0 min(n, k) must be < the number of eigenvalues {lam.size}, got {m}")

    def f(log_g):
        return float(np.sum(lam / (lam + math.exp(log_g)))) - m

    lo, hi = math.log(lam.min()) - 1.0, math.log(lam.max()) + 1.0
    while f(lo) < 0:
        lo -= 2.0
    while f(hi) > 0:
        hi += 2.0
    return math.exp(brentq(f, lo, hi, xtol=1e-300, rtol=_XTOL, maxiter=500))


def rf_fixed_point(eigvals, n, k, delta) -> tuple[float, float]:
    """(kappa, gamma) of the RF eigenframework [SKGB23, sec. 4]: the unique kappa, gamma >= 0 with

        n = sum_i lambda_i / (lambda_i + gamma) + delta / kappa,
        k = sum_i lambda_i / (lambda_i + gamma) + k kappa / gamma,

    i.e. kappa = gamma (1 - df1(gamma) / k), df1 = sum_i lambda_i / (lambda_i + gamma). ``delta`` (the ridge) >= 0;
    at delta = 0 the limit delta -> 0+ is returned (df1(gamma) = min(n, k), kappa = 0 when n >= k; needs
    min(n, k) < len(eigvals)). ``n`` samples and ``k`` features are real numbers > 0.
    """
    lam = _eigvals(eigvals)
    n, k = _sizes(n, k)
    delta = _ridge(delta)
    if delta == 0:
        gamma = _gamma_ridgeless(lam, min(n, k))
        return (gamma * (1 - n / k) if n < k else 0.0), gamma
    gamma = _gamma(lam, n, k, delta)
    z = float(np.sum(lam / (lam + gamma)))
    # both equations give kappa at the root; take the one without cancellation (z -> k when n > k, z -> n when n < k)
    return (delta / (n - z) if (n - z) / n > (k - z) / k else gamma * (k - z) / k), gamma


def rf_risk(eigvals, eigcoeffs, n, k, delta, sigma2=0.0) -> float:
    """Omniscient test risk of RF ridge regression [SKGB23, sec. 4, the RF risk estimate]:

        E = (sum_i [(1 - l_i) - kappa l_i / (lambda_i + gamma) * k / (k - q)] v_i^2 + sigma2) / (1 - x),
        l_i = lambda_i / (lambda_i + gamma), z = sum l_i, q = sum l_i^2, x = (q (k - 2 z) + z^2) / (n (k - q)),

    with (kappa, gamma) from :func:`rf_fixed_point`. As k -> inf, gamma -> kappa and E -> the KRR risk
    (:func:`krr_risk`). At delta = 0 and n = k the risk is +inf (the interpolation peak). Conventions (unnormalised ridge delta, risk including sigma2) in the module docstring.
    """
    lam, v = _spectrum(eigvals, eigcoeffs)
    n, k = _sizes(n, k)
    delta = _ridge(delta)
    sigma2 = nonnegative("sigma2", sigma2)
    kappa, gamma = rf_fixed_point(lam, n, k, delta)
    l = lam / (lam + gamma)
    z, q = float(l.sum()), float((l * l).sum())
    x = (q * (k - 2 * z) + z * z) / (n * (k - q))
    if x >= 1:  # only at delta = 0, n = k (x = 1): the interpolation threshold, where the risk diverges
        return math.inf
    bias = (1 - l) - kappa * l / (lam + gamma) * k / (k - q)
    return float((bias @ (v * v) + sigma2) / (1 - x))


def krr_risk(eigvals, eigcoeffs, n, delta, sigma2=0.0) -> float:
    """Omniscient test risk of kernel ridge regression (the k -> inf limit of :func:`rf_risk`; Simon et al. 2021,
    arXiv:2110.03922, the eigenlearning risk): kappa solves n = sum_i lambda_i / (lambda_i + kappa) + delta / kappa,
    E = n / (n - q) (sum_i (1 - l_i)^2 v_i^2 + sigma2), l_i = lambda_i / (lambda_i + kappa), q = sum l_i^2."""
    lam, v = _spectrum(eigvals, eigcoeffs)
    n = _size("n", n)
    delta = _ridge(delta)
    sigma2 = nonnegative("sigma2", sigma2)
    if delta == 0:
        kappa = _gamma_ridgeless(lam, n)
    else:

        def f(log_k):
            kap = math.exp(log_k)
            return float(np.sum(lam / (lam + kap))) + delta / kap - n

        lo, hi = math.log(lam.max()) + 1.0, math.log(lam.max()) + 1.0
        while f(hi) > 0:
            hi += 2.0
        while f(lo) < 0:
            lo -= 2.0
        kappa = math.exp(brentq(f, lo, hi, xtol=1e-300, rtol=_XTOL, maxiter=500))
    l = lam / (lam + kappa)
    q = float((l * l).sum())
    return float(n / (n - q) * (((1 - l) ** 2) @ (v * v) + sigma2))


def rf_optimal_ridge(eigvals, eigcoeffs, n, k, sigma2=0.0, *, log10_bounds=(-8.0, 4.0)) -> tuple[float, float]:
    """(delta*, E*) : the ridge minimising :func:`rf_risk` over log10 delta in ``log10_bounds`` (bounded Brent,
    xatol 1e-6 in log10 delta) and the minimal risk. [SKGB23] Theorem 1: E* is non-increasing in n and in k."""
    lam, v = _spectrum(eigvals, eigcoeffs)
    n, k = _sizes(n, k)
    sigma2 = nonnegative("sigma2", sigma2)
    bounds = np.asarray(log10_bounds)
    if bounds.shape != (2,) or bounds.dtype.kind not in "iuf" or not np.all(np.isfinite(bounds)):
        raise ValueError(f"log10_bounds must be two finite reals, got {log10_bounds!r}")
    lo, hi = float(bounds[0]), float(bounds[1])
    if not (lo < hi and -300 <= lo and hi <= math.log10(MAX_DELTA)):
        raise ValueError(
            f"log10_bounds must be increasing within [-300, {math.log10(MAX_DELTA):g}], got {log10_bounds!r}"
        )
    res = minimize_scalar(
        lambda t: rf_risk(lam, v, n, k, 10.0**t, sigma2), bounds=(lo, hi), method="bounded", options={"xatol": 1e-6}
    )
    return 10.0 ** float(res.x), float(res.fun)
