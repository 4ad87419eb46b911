"""The statistics core: every statistical decision of every claim is made here.

Three error sources are budgeted separately: deterministic numerics (``deterministic``: a stated round-off or
solver tolerance), Monte Carlo noise (``z_matches``, ``mean_matches``, ``distribution_matches``,
``binomial_matches``, ``proportions_match``: z(alpha) * SE with the SE estimated from the samples, or an exact
test) and finite-size bias (an explicit ``bias`` bound with its reason, or a rate and a limit over sizes:
``rate_matches`` and ``limit_matches`` weight the fit by the known Monte Carlo SEs and use the normal quantile,
scaling the SEs by the reduced chi^2 only when it exceeds 1; ``local_slope_matches`` for deterministic errors
of a known order). Each helper returns a :class:`dltheory.verify.evidence.Check` whose ``detail`` carries theory,
estimate, SE, z or p and the seed. ``ALPHA`` is the one family-wise level; a claim divides it over its checks.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from dltheory.verify.evidence import Check

__all__ = [
    "ALPHA",
    "bonferroni",
    "z_two_sided",
    "standard_error",
    "deterministic",
    "z_matches",
    "mean_matches",
    "distribution_matches",
    "binomial_matches",
    "proportions_match",
    "RateFit",
    "fit_rate",
    "rate_matches",
    "limit_matches",
    "fixed_limit_matches",
    "local_slope_matches",
    "richardson_limit_matches",
    "linear_slope_matches",
    "moment_ratio",
    "log_slope",
    "limit_within",
    "limit_matches_reference",
    "control_variate_mean",
    "mean_std",
    "corrected_rate_matches",
    "proportion_se",
    "extrapolated_limit",
    "non_increasing",
    "rate_exceeds",
    "parabolic_argmin",
    "bootstrap_argmin",
    "binomial_exceeds",
    "binomial_within",
    "log_richardson_limit_matches",
]

ALPHA = 1e-3  # the family-wise false-failure budget of one claim; a claim splits it (Bonferroni) over its checks
MIN_SIZES = 5  # a rate or a limit is fitted over >= 5 sizes spanning >= 1 decade


def bonferroni(alpha: float, m: int) -> float:
    """Per-test level for a family of ``m`` tests with family-wise error ``alpha``."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must lie in (0, 1), got {alpha}")
    if m < 1:
        raise ValueError(f"m (family size) must be >= 1, got {m}")
    return alpha / m


def z_two_sided(alpha: float) -> float:
    """Normal quantile z with P(|Z| > z) = alpha."""
    return float(stats.norm.isf(alpha / 2))


def standard_error(samples: np.ndarray, axis: int = 0) -> np.ndarray:
    """Standard error of the mean over independent samples along ``axis`` (ddof = 1)."""
    samples = np.asarray(samples, dtype=float)
    n = samples.shape[axis]
    if n < 2:
        raise ValueError(f"need >= 2 independent samples along axis {axis} for a standard error, got {n}")
    return samples.std(axis=axis, ddof=1) / np.sqrt(n)


def _worst(
    name: str,
    dev: np.ndarray,
    tol: np.ndarray,
    est: np.ndarray,
    theory: np.ndarray,
    se: np.ndarray | None,
    seed,
    extra: str,
) -> Check:
    ratio = np.abs(dev) / tol
    i = int(np.nanargmax(ratio)) if np.all(np.isfinite(ratio)) else int(np.argmax(~np.isfinite(ratio)))
    flat = np.unravel_index(i, ratio.shape) if ratio.ndim else ()
    se_txt = "" if se is None else f", SE={np.broadcast_to(se, ratio.shape)[flat]:.3g}"
    detail = (
        f"worst of {ratio.size} point(s) at index {tuple(int(k) for k in flat)}: "
        f"theory={np.broadcast_to(theory, ratio.shape)[flat]:.6g}, "
        f"estimate={np.broadcast_to(est, ratio.shape)[flat]:.6g}{se_txt}, "
        f"|dev|/tol={ratio[flat]:.3g}; {extra}; seed={seed}"
    )
    return Check(name=name, statistic=float(ratio[flat]), threshold=1.0, relation="<=", detail=detail)


def deterministic(
    name: str, value, prediction, *, atol: float = 0.0, rtol: float = 0.0, reason: str, seed=None
) -> Check:
    """Deterministic agreement |value - prediction| <= atol + rtol |prediction| at every point.

    Statistic: worst |dev| / tol (pass when <= 1). ``reason`` must say where the tolerance comes from.
    """
    value, prediction = np.asarray(value, float), np.asarray(prediction, float)
    tol = atol + rtol * np.abs(prediction)
    if np.any(np.broadcast_to(tol, np.broadcast_shapes(value.shape, prediction.shape)) <= 0):
        raise ValueError("deterministic check needs atol > 0 or rtol > 0 with non-zero predictions")
    dev = np.where(np.isfinite(value), value - prediction, np.inf)
    return _worst(name, dev, np.broadcast_to(tol, dev.shape), value, prediction, None, seed, f"tolerance: {reason}")


def z_matches(
    name: str,
    estimate,
    se,
    prediction,
    *,
    alpha: float,
    bias=0.0,
    bias_reason: str = "no finite-size bias",
    seed=None,
) -> Check:
    """|estimate - prediction| <= z(alpha / m) * SE + bias at each of the m points (Bonferroni over them).

    ``se`` is the standard error of each estimate (Monte Carlo, or propagated); ``bias`` a derived bound on the
    estimate's systematic error (say where it comes from in ``bias_reason``). Statistic: worst |dev| / tolerance.
    """
    est, se = np.asarray(estimate, float), np.asarray(se, float)
    pred = np.asarray(prediction, float)
    shape = np.broadcast_shapes(est.shape, se.shape, pred.shape)
    m = max(int(np.prod(shape)), 1)
    z = z_two_sided(bonferroni(alpha, m))
    tol = np.broadcast_to(z * se + np.asarray(bias, float), shape)
    if np.any(tol <= 0):
        raise ValueError(f"{name}: the tolerance z * SE + bias must be positive at every point")
    dev = np.broadcast_to(est - pred, shape)
    return _worst(
        name,
        dev,
        tol,
        np.broadcast_to(est, shape),
        np.broadcast_to(pred, shape),
        np.broadcast_to(se, shape),
        seed,
        f"z={z:.2f} (alpha={alpha:g}, Bonferroni over {m}); bias bound: {bias_reason}",
    )


def mean_matches(
    name: str, samples, prediction, *, alpha: float, bias=0.0, seed=None, bias_reason: str = "no finite-size bias"
) -> Check:
    """Sample mean over axis 0 (independent seeds) equals ``prediction`` at every remaining point (``z_matches``
    with the SE of the mean)."""
    samples = np.asarray(samples, float)
    return z_matches(
        name,
        samples.mean(axis=0),
        standard_error(samples, axis=0),
        prediction,
        alpha=alpha,
        bias=bias,
        bias_reason=bias_reason,
        seed=seed,
    )


def distribution_matches(name: str, samples, reference, *, alpha: float, seed=None) -> Check:
    """KS test of ``samples`` against a CDF callable (one-sample) or another sample array (two-sample).

    Passes when p >= alpha (alpha already Bonferroni-divided by the caller for a family).
    """
    samples = np.asarray(samples, float).ravel()
    if callable(reference):
        res = stats.kstest(samples, reference)
        kind = "one-sample KS"
    else:
        res = stats.ks_2samp(samples, np.asarray(reference, float).ravel())
        kind = "two-sample KS"
    detail = f"{kind}: D={res.statistic:.4g}, n={samples.size}, p={res.pvalue:.3g}; seed={seed}"
    return Check(name=name, statistic=float(res.pvalue), threshold=alpha, relation=">=", detail=detail)


def binomial_matches(name: str, k: int, n: int, p0: float, *, alpha: float, seed=None) -> Check:
    """Exact two-sided binomial test of k successes in n trials against probability ``p0`` (passes when p >= alpha)."""
    res = stats.binomtest(int(k), int(n), float(p0))
    detail = f"k={int(k)} of n={int(n)} (rate {k / n:.4g}), predicted p0={p0:.4g}, exact binomial p={res.pvalue:.3g}; seed={seed}"
    return Check(name=name, statistic=float(res.pvalue), threshold=alpha, relation=">=", detail=detail)


def proportions_match(name: str, k1: int, n1: int, k2: int, n2: int, *, alpha: float, seed=None) -> Check:
    """Two samples share one success probability: Fisher's exact test on the 2x2 table (passes when p >= alpha)."""
    _, p = stats.fisher_exact([[int(k1), int(n1) - int(k1)], [int(k2), int(n2) - int(k2)]])
    detail = f"{int(k1)}/{int(n1)} = {k1 / n1:.4g} vs {int(k2)}/{int(n2)} = {k2 / n2:.4g}, Fisher exact p={p:.3g}; seed={seed}"
    return Check(name=name, statistic=float(p), threshold=alpha, relation=">=", detail=detail)


@dataclass(frozen=True)
class RateFit:
    """Weighted least-squares fit of log(value) = intercept + slope * log(x).

    Weights are 1 / SE(log value)^2 = (value / SE)^2 when SEs are given (then ``slope_se`` is scaled by
    max(1, reduced chi^2)), else uniform with the residual-scatter SE (for plotting only).
    """

    x: np.ndarray
    error: np.ndarray
    slope: float
    slope_se: float
    intercept: float
    chi2: float
    dof: int

    def predict(self, x) -> np.ndarray:
        return np.exp(self.intercept) * np.asarray(x, float) ** self.slope

    def rows(self, panel: str, series: str, predicted_slope: float, se=None, n_line: int = 20) -> list[dict]:
        """Report rows for a log-log panel: the values as points (with ``se`` if given) and a line of the
        PREDICTED slope through the fit's centre; the series label states the fitted and predicted slopes."""
        label = f"{series}: fitted slope {self.slope:.3f} ± {self.slope_se:.2g} (line: predicted {predicted_slope:g})"
        se = np.full(self.x.shape, np.nan) if se is None else np.asarray(se, float)
        lx, ly = np.log(self.x).mean(), self.intercept + self.slope * np.log(self.x).mean()
        line_x = np.geomspace(self.x.min(), self.x.max(), n_line)
        line = np.exp(ly + predicted_slope * (np.log(line_x) - lx))
        return [
            dict(panel=panel, series=label, x=x, theory=np.nan, simulated=e, se=s)
            for x, e, s in zip(self.x, self.error, se)
        ] + [dict(panel=panel, series=label, x=x, theory=v, simulated=np.nan, se=np.nan) for x, v in zip(line_x, line)]


def _sizes(x, name: str = "x") -> np.ndarray:
    x = np.asarray(x, float)
    if x.ndim != 1 or x.size < MIN_SIZES or not np.all(x > 0) or x.max() / x.min() < 10:
        raise ValueError(
            f"a rate or limit fit needs >= {MIN_SIZES} positive sizes spanning >= 1 decade, got {name}={x.tolist()}"
        )
    return x


def _wls(A: np.ndarray, y: np.ndarray, se: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Weighted least squares y ~ A c: coefficients, covariance scaled by max(1, reduced chi^2), reduced chi^2."""
    Aw, yw = A / se[:, None], y / se
    coef, *_ = np.linalg.lstsq(Aw, yw, rcond=None)
    resid = yw - Aw @ coef
    dof = A.shape[0] - A.shape[1]
    chi2 = float(resid @ resid) / dof if dof > 0 else 1.0
    return coef, np.linalg.inv(Aw.T @ Aw) * max(1.0, chi2), chi2


def fit_rate(x, values, se=None) -> RateFit:
    """Fit the log-log slope of ``values`` (positive) against ``x`` (>= 5 sizes over >= 1 decade).

    ``values`` of shape (n_seeds, len(x)) are averaged over seeds first (then ``se`` defaults to their SE).
    """
    x = _sizes(x)
    v = np.asarray(values, float)
    if v.ndim == 2:
        se = standard_error(v, axis=0) if se is None else se
        v = v.mean(axis=0)
    if v.shape != x.shape:
        raise ValueError(f"values must have shape (len(x),) or (n_seeds, len(x)); got {np.shape(values)}")
    if np.any(v <= 0) or not np.all(np.isfinite(v)):
        raise ValueError(f"values must be positive and finite for a log-log fit, got {v.tolist()}")
    se_log = np.ones_like(v) if se is None else np.asarray(se, float) / v
    A = np.column_stack([np.ones_like(x), np.log(x)])
    coef, cov, chi2 = _wls(A, np.log(v), se_log)
    if se is None:  # no SEs: residual-scatter SE, for drawing only
        cov = cov / max(1.0, chi2) * chi2
    return RateFit(x, v, float(coef[1]), float(np.sqrt(cov[1, 1])), float(coef[0]), chi2, x.size - 2)


def rate_matches(
    name: str,
    x,
    values,
    se,
    predicted_slope: float,
    *,
    alpha: float,
    floor: float = 0.0,
    floor_reason: str = "none",
    seed=None,
) -> Check:
    """The log-log slope of ``values`` vs ``x`` equals ``predicted_slope``: |slope - pred| <= z SE + floor.

    The fit is weighted by the Monte Carlo SEs (``se``), so z(alpha) applies; SE(slope) is scaled by the reduced
    chi^2 when it exceeds 1 (scatter beyond the SEs widens the test, a wrong functional form cannot hide).
    ``floor`` bounds the slope's known next-order bias over the fitted range (derive it in ``floor_reason``).
    """
    fit = fit_rate(x, values, se)
    z = z_two_sided(alpha)
    tol = z * fit.slope_se + floor
    detail = (
        f"fitted slope={fit.slope:.4f} +- {fit.slope_se:.2g} (SE, weighted), predicted={predicted_slope:g}, "
        f"reduced chi2={fit.chi2:.3g}, z={z:.2f} (alpha={alpha:g}), floor={floor:g} ({floor_reason}); "
        f"x={np.array2string(fit.x, precision=4)}; seed={seed}"
    )
    return Check(
        name=name, statistic=abs(fit.slope - predicted_slope) / tol, threshold=1.0, relation="<=", detail=detail
    )


def limit_matches(name: str, x, values, se, prediction: float, *, orders=(1.0,), alpha: float, seed=None) -> Check:
    """The x -> 0 limit of ``values`` is ``prediction``: weighted fit values = a + sum_k b_k x^order_k,
    |a - prediction| <= z SE(a), SE(a) scaled by max(1, reduced chi^2). ``se``: the values' standard errors
    (Monte Carlo; for deterministic values their numerical accuracy). >= 5 sizes over >= 1 decade."""
    a, sa, chi2 = extrapolated_limit(x, values, se, orders=orders)
    z = z_two_sided(alpha)
    terms = " + ".join(f"b x^{o:g}" for o in np.atleast_1d(orders))
    detail = (
        f"extrapolated limit={a:.6g} +- {sa:.2g} (SE), predicted={prediction:.6g}, fit a + {terms}, "
        f"reduced chi2={chi2:.3g}, z={z:.2f} (alpha={alpha:g}); seed={seed}"
    )
    return Check(name=name, statistic=abs(a - prediction) / (z * sa), threshold=1.0, relation="<=", detail=detail)


def fixed_limit_matches(name: str, x, values, se, prediction: float, *, degree: int, alpha: float, seed=None) -> Check:
    """values = prediction + sum_{k=1..degree} b_k x^k with the intercept FIXED at the predicted limit: chi^2 of
    the weighted residuals with (points - degree) dof, passes when p >= alpha. A wrong limit or a wrong
    functional form both raise chi^2."""
    x = _sizes(x)
    values, se = np.asarray(values, float), np.asarray(se, float)
    A = np.column_stack([x**k for k in range(1, degree + 1)])
    coef, _, chi2_red = _wls(A, values - prediction, np.broadcast_to(se, values.shape))
    dof = x.size - degree
    chi2 = chi2_red * dof
    p = float(stats.chi2.sf(chi2, dof))
    detail = (
        f"limit fixed at {prediction:.6g}: chi2={chi2:.3g}, dof={dof}, p={p:.3g} (alpha={alpha:g}); "
        f"polynomial degree {degree} in x; seed={seed}"
    )
    return Check(name=name, statistic=p, threshold=alpha, relation=">=", detail=detail)


def local_slope_matches(name: str, x, errors, predicted_slope: float, *, rtol: float = 1e-9, seed=None) -> Check:
    """Deterministic errors e(x) = C x^p (1 + O(x)) with x halving (or any fixed ratio) towards 0: the local
    slopes s_i = d log e / d log x approach p with a next-order bias that shrinks geometrically, so the finest
    local slope is within |s_finest - s_previous| * r / (1 - r) of p, r = x_finest / x_previous (Richardson).

    Tolerance: twice that leading-order estimate (room for the next order, which is smaller by another factor
    r at the finest size) plus the slopes' round-off (``rtol`` relative accuracy of the errors). >= 5 sizes.
    """
    x = _sizes(x)
    e = np.asarray(errors, float)
    order = np.argsort(x)[::-1]
    x, e = x[order], e[order]
    if np.any(e <= 0) or not np.all(np.isfinite(e)):
        raise ValueError(f"{name}: errors must be positive and finite, got {e.tolist()}")
    slopes = np.diff(np.log(e)) / np.diff(np.log(x))
    r = x[-1] / x[-2]
    bias = 2 * abs(slopes[-1] - slopes[-2]) * r / (1 - r)
    roundoff = 2 * rtol / abs(np.log(r))
    tol = bias + roundoff
    detail = (
        f"local slopes {np.array2string(slopes, precision=5)} (coarse to fine), finest={slopes[-1]:.6f}, "
        f"predicted={predicted_slope:g}, Richardson bias bound {bias:.2g} (ratio r={r:.3g}) + round-off "
        f"{roundoff:.2g}; seed={seed}"
    )
    return Check(
        name=name, statistic=abs(slopes[-1] - predicted_slope) / tol, threshold=1.0, relation="<=", detail=detail
    )


def richardson_limit_matches(
    name: str,
    x,
    values,
    prediction,
    *,
    order: float = 1.0,
    next_order: float = 2.0,
    atol: float,
    atol_reason: str,
    seed=None,
) -> Check:
    """Deterministic values v(x) = L + a x^p + b x^q + ... (p = ``order`` < q = ``next_order``) at sizes x that
    shrink by one fixed ratio r (e.g. GD step sizes halving) have the x -> 0 limit L = ``prediction``.

    ``values`` has one row per size (any number of points per row: the sup norm is taken over them);
    ``prediction`` is the predicted limit, broadcast to a row. One Richardson step on the finest pair removes the
    known order p: R = (v(x_f) - r^p v(x_f / r)) / (1 - r^p) = L + O(x_f^q); the same step on the next pair gives
    R', and R - L = (R - R') r^q / (1 - r^q) to leading order. Tolerance: twice that estimate (sup norm over the
    points; room for the order after q) plus ``atol`` (the values' round-off, say where it comes from in
    ``atol_reason``) times the Richardson weights (1 + r^p) / (1 - r^p). Statistic: max |R - prediction| / tol.
    A prediction off by delta in its limit is rejected once delta exceeds about the tolerance, so the check
    resolves O(x_f^q), where a direct comparison at the finest size resolves only O(x_f^p). The sizes follow
    the rules of the rate fits (>= 5 over >= 1 decade); the three finest must share one ratio.
    """
    x = _sizes(x)
    if not 0 < order < next_order:
        raise ValueError(f"{name}: need 0 < order < next_order, got order={order}, next_order={next_order}")
    if not (np.isfinite(atol) and atol > 0):
        raise ValueError(f"{name}: atol (the values' round-off) must be positive and finite, got {atol!r}")
    v = np.asarray(values, float)
    if v.ndim == 0 or v.shape[0] != x.size:
        raise ValueError(f"{name}: values need one row per size ({x.size}), got shape {v.shape}")
    idx = np.argsort(x)[::-1]
    x, v = x[idx], v[idx].reshape(x.size, -1)
    r = x[-1] / x[-2]
    if not np.isclose(x[-2] / x[-3], r, rtol=1e-9, atol=0.0):
        raise ValueError(f"{name}: the three finest sizes must shrink by one ratio, got {x[-3:].tolist()}")
    pred = np.broadcast_to(np.asarray(prediction, float), np.shape(values)[1:]).reshape(-1)
    rp = r**order
    fine = (v[-1] - rp * v[-2]) / (1 - rp)
    coarse = (v[-2] - rp * v[-3]) / (1 - rp)
    estimate = float(np.max(np.abs(fine - coarse))) * r**next_order / (1 - r**next_order)
    roundoff = atol * (1 + rp) / (1 - rp)
    tol = 2 * estimate + roundoff
    dev = np.where(np.isfinite(fine), np.abs(fine - pred), np.inf)
    i = int(np.argmax(dev))
    detail = (
        f"Richardson limit (order {order:g} removed) at x={x[-1]:.4g}: worst of {dev.size} point(s) at index {i}: "
        f"extrapolated={fine[i]:.6g}, predicted={pred[i]:.6g}, |dev|={dev[i]:.3g}; next-order bound "
        f"2 x {estimate:.2g} (order {next_order:g}, ratio r={r:.3g}) + round-off {roundoff:.2g} ({atol_reason}); "
        f"seed={seed}"
    )
    return Check(name=name, statistic=float(dev[i] / tol), threshold=1.0, relation="<=", detail=detail)


def linear_slope_matches(
    name: str,
    x,
    values,
    se,
    predicted_slope: float,
    *,
    alpha: float,
    bias: float = 0.0,
    bias_reason: str = "none",
    seed=None,
) -> Check:
    """The slope b of values = a + b x (intercept free) equals ``predicted_slope``: |b - pred| <= z SE(b) + bias.

    Weighted least squares with the values' known Monte Carlo SEs (``se``, e.g. over independent seeds at each
    x), so z(alpha) applies; SE(b) is scaled by the reduced chi^2 when it exceeds 1. ``bias`` bounds the slope's
    known systematic error (derive it in ``bias_reason``). >= 5 distinct x; the caller states why the x range
    is wide enough (e.g. >= 1 decade of the parameter whose logarithm x is).
    """
    x, values, se = np.asarray(x, float), np.asarray(values, float), np.asarray(se, float)
    if x.ndim != 1 or np.unique(x).size < MIN_SIZES or not np.all(np.isfinite(x)):
        raise ValueError(f"{name}: a slope fit needs >= {MIN_SIZES} distinct finite x, got {x.tolist()}")
    if values.shape != x.shape or np.broadcast_to(se, x.shape).shape != x.shape:
        raise ValueError(f"{name}: values and se must match x's shape {x.shape}, got {values.shape}, {se.shape}")
    se = np.broadcast_to(se, x.shape)
    if not (np.all(se > 0) and np.all(np.isfinite(se))):
        raise ValueError(f"{name}: se must be positive and finite, got {se.tolist()}")
    A = np.column_stack([np.ones_like(x), x])
    coef, cov, chi2 = _wls(A, values, se)
    b, sb = float(coef[1]), float(np.sqrt(cov[1, 1]))
    z = z_two_sided(alpha)
    tol = z * sb + bias
    detail = (
        f"fitted slope={b:.5g} +- {sb:.2g} (SE, weighted), predicted={predicted_slope:.5g}, reduced chi2={chi2:.3g}, "
        f"z={z:.2f} (alpha={alpha:g}), bias bound={bias:.2g} ({bias_reason}); x={np.array2string(x, precision=4)}; "
        f"seed={seed}"
    )
    return Check(name=name, statistic=abs(b - predicted_slope) / tol, threshold=1.0, relation="<=", detail=detail)


def moment_ratio(samples, axis: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The plug-in estimate of rho = E[X^2] / E[X]^2 from independent samples along ``axis``, with its
    delta-method standard error and its first-order bias.

    With A = mean(X^2), B = mean(X) over S samples, rho_hat = A / B^2 has influence function
    X^2 / B^2 - 2 A X / B^3 (SE: its standard deviation / sqrt(S)) and bias
    E rho_hat - rho = (A / B^2) [3 Var X / B^2 - 2 Cov(X^2, X) / (A B)] / S + O(S^-2) (second-order Taylor
    expansion of A / B^2); the third returned array is that first-order term's magnitude, a bias bound for
    ``z_matches``. E.g. kurtosis E z^4 / (E z^2)^2 = 3 rho for z | G ~ N(0, G) with X = G.
    """
    x = np.moveaxis(np.asarray(samples, float), axis, 0)
    S = x.shape[0]
    if S < 2:
        raise ValueError(f"need >= 2 independent samples along axis {axis}, got {S}")
    A, B = (x * x).mean(0), x.mean(0)
    if np.any(B == 0):
        raise ValueError("moment_ratio: the mean of the samples must be non-zero")
    rho = A / B**2
    se = (x * x / B**2 - 2 * A * x / B**3).std(0, ddof=1) / np.sqrt(S)
    cov = ((x * x - A) * (x - B)).mean(0)
    bias = np.abs(3 * x.var(0) / B**2 - 2 * cov / (A * B)) * rho / S
    return rho, se, bias


def log_slope(x, samples, offset=0.0) -> tuple[float, float]:
    """Least-squares slope of log|m(x) - offset| against x, m = the mean of ``samples`` (S, len(x)) over axis 0,
    with its delta-method standard error.

    The S rows are independent; the values within a row (e.g. one network's layers) may be correlated: the
    slope's influence function sum_i w_i (X_i - m_i) / (m_i - offset), w the least-squares weights of x, keeps
    that correlation, and SE = its standard deviation / sqrt(S). An exponential approach |m(x) - offset| ~
    e^{-x/xi} has slope -1/xi.
    """
    x, X = np.asarray(x, float), np.asarray(samples, float)
    if x.ndim != 1 or X.ndim != 2 or X.shape[1] != x.size or X.shape[0] < 2 or np.unique(x).size < 2:
        raise ValueError(f"need x (k >= 2 distinct) and samples (S >= 2, k), got shapes {x.shape}, {X.shape}")
    m = X.mean(0)
    d = m - offset
    if np.any(d == 0):
        raise ValueError("log_slope: the mean coincides with the offset at some x (log of zero)")
    xc = x - x.mean()
    w = xc / (xc @ xc)
    influence = (X - m) @ (w / d)
    return float(w @ np.log(np.abs(d))), float(influence.std(ddof=1) / np.sqrt(X.shape[0]))


def limit_within(
    name: str,
    x,
    values,
    se,
    prediction: float,
    *,
    orders=(1.0,),
    alpha: float,
    bias: float,
    bias_reason: str,
    seed=None,
) -> Check:
    """``limit_matches`` with a derived bound on the values' common systematic error: the x -> 0 limit a of the
    weighted fit values = a + sum_k b_k x^order_k satisfies |a - prediction| <= z SE(a) + ``bias`` (say where the
    bound comes from in ``bias_reason``). >= 5 sizes over >= 1 decade."""
    x = _sizes(x)
    values, se = np.asarray(values, float), np.asarray(se, float)
    orders = tuple(float(o) for o in np.atleast_1d(orders))
    A = np.column_stack([np.ones_like(x), *(x**o for o in orders)])
    coef, cov, chi2 = _wls(A, values, np.broadcast_to(se, values.shape))
    a, sa = float(coef[0]), float(np.sqrt(cov[0, 0]))
    z = z_two_sided(alpha)
    detail = (
        f"extrapolated limit={a:.6g} +- {sa:.2g} (SE), predicted={prediction:.6g}, reduced chi2={chi2:.3g}, "
        f"z={z:.2f} (alpha={alpha:g}), bias bound={bias:.2g} ({bias_reason}); seed={seed}"
    )
    return Check(
        name=name, statistic=abs(a - prediction) / (z * sa + bias), threshold=1.0, relation="<=", detail=detail
    )


def limit_matches_reference(
    name: str, x, values, se, prediction: float, prediction_se: float, *, orders=(1.0,), alpha: float, seed=None
) -> Check:
    """``limit_matches`` against a predicted limit that is itself a Monte Carlo estimate (e.g. an SDE's expectation
    by Euler-Maruyama), independent of ``values``, with standard error ``prediction_se``: the x -> 0 limit a of the
    weighted fit values = a + sum_k b_k x^order_k satisfies |a - prediction| <= z sqrt(SE(a)^2 + prediction_se^2),
    SE(a) scaled by max(1, reduced chi^2). >= 5 sizes over >= 1 decade."""
    x = _sizes(x)
    values, se = np.asarray(values, float), np.asarray(se, float)
    if not (np.isfinite(prediction_se) and prediction_se >= 0):
        raise ValueError(f"{name}: prediction_se must be finite and >= 0, got {prediction_se!r}")
    orders = tuple(float(o) for o in np.atleast_1d(orders))
    A = np.column_stack([np.ones_like(x), *(x**o for o in orders)])
    coef, cov, chi2 = _wls(A, values, np.broadcast_to(se, values.shape))
    a, sa = float(coef[0]), float(np.sqrt(cov[0, 0]))
    z = z_two_sided(alpha)
    tol = z * float(np.hypot(sa, prediction_se))
    detail = (
        f"extrapolated limit={a:.6g} +- {sa:.2g} (SE), predicted={prediction:.6g} +- {prediction_se:.2g} (its MC SE), "
        f"reduced chi2={chi2:.3g}, z={z:.2f} (alpha={alpha:g}); seed={seed}"
    )
    return Check(name=name, statistic=abs(a - prediction) / tol, threshold=1.0, relation="<=", detail=detail)


def control_variate_mean(y, controls, *, folds: int = 5, rtol: float = 1e-12) -> tuple[np.ndarray, np.ndarray]:
    """E[y] from S independent samples (axis 0) with control variates: statistics whose expectation is exactly 0.

    ``controls`` (S, p) must have mean zero by the construction of the simulation (never through a prediction
    under test). Cross-fitted regression estimator: the samples are split into ``folds`` groups; for each group
    the coefficients of y on [1, controls] are fitted on the other groups and the group's adjusted samples are
    y - controls @ beta. As beta never sees the samples it adjusts, E[adjusted] = E[y] exactly (the in-sample
    regression estimator has an O(p/S) bias). Returns (estimate, SE) per column of y (shape y.shape[1:]):
    the mean of the adjusted samples and their standard deviation / sqrt(S), with a floor ``rtol`` * |estimate|
    for round-off (a y that is exactly linear in the controls has no Monte Carlo error; float64 sums over
    <= 1e4 terms are accurate to ~1e-12). Controls are whitened first (eigenvectors of their covariance;
    constant or collinear directions, variance below 1e-20 of the largest, are dropped), so the p x p normal
    equations are well conditioned.
    """
    y = np.asarray(y, float)
    D = np.asarray(controls, float)
    S = y.shape[0]
    if D.ndim != 2 or D.shape[0] != S:
        raise ValueError(f"controls must have shape (S={S}, p), got {D.shape}")
    if not (isinstance(folds, int) and folds >= 2):
        raise ValueError(f"folds must be an integer >= 2, got {folds!r}")
    Y = y.reshape(S, -1)
    if D.shape[1]:
        lam, V = np.linalg.eigh(np.cov(D, rowvar=False).reshape(D.shape[1], D.shape[1]))
        keep = lam > 1e-20 * max(lam[-1], 0.0) if lam[-1] > 0 else np.zeros(lam.shape, bool)
        D = D @ (V[:, keep] / np.sqrt(lam[keep]))
    if S - S // folds < 2 * (D.shape[1] + 1):
        raise ValueError(f"need S >= 2 (p + 1) folds / (folds - 1) samples for {D.shape[1]} controls, got S={S}")
    group = np.arange(S) % folds
    adjusted = np.empty_like(Y)
    for k in range(folds):
        fit = group != k
        A = np.column_stack([np.ones(fit.sum()), D[fit]])
        coef = np.linalg.solve(A.T @ A, A.T @ Y[fit])
        adjusted[~fit] = Y[~fit] - D[~fit] @ coef[1:]
    est = adjusted.mean(0)
    se = np.sqrt(adjusted.var(0, ddof=1) / S + (rtol * est) ** 2)
    return est.reshape(y.shape[1:]), se.reshape(y.shape[1:])


def mean_std(samples) -> tuple[float, float]:
    """Mean over columns of the sample standard deviations of ``samples`` (S independent rows, any number of
    columns), with its delta-method SE over rows: row i moves std_j by ((x_ij - mean_j)^2 - std_j^2) / (2 std_j)
    / S, so the columns' correlation is kept. The O(1/S) bias of a sample standard deviation is not removed."""
    x = np.asarray(samples, float)
    S = x.shape[0]
    if S < 3:
        raise ValueError(f"need >= 3 independent rows, got {S}")
    x = x.reshape(S, -1)
    m, s = x.mean(0), x.std(0, ddof=1)
    if np.any(s == 0):
        raise ValueError("mean_std: a column has zero spread")
    influence = (((x - m) ** 2 - s**2) / (2 * s)).mean(1)
    return float(s.mean()), float(influence.std(ddof=1) / np.sqrt(S))


def corrected_rate_matches(
    name: str, x, values, se, predicted_slope: float, *, corrections=(-1.0,), alpha: float, seed=None
) -> Check:
    """The log-log slope p of values = A x^p (1 + sum_k c_k x^{q_k} + ...) equals ``predicted_slope``, with the
    relative corrections x^{q_k} FITTED instead of bounded (e.g. q = -1: the next order of a 1/n expansion in
    the width x = n): weighted least squares log v = log A + p log x + sum_k c_k x^{q_k}, weights from the known
    Monte Carlo SEs (se / v), |p - predicted| <= z(alpha) SE(p), SE(p) scaled by max(1, reduced chi^2). The
    omitted terms are of relative order x^{2 q}. >= 5 sizes over >= 1 decade and >= len(corrections) + 3.
    """
    x = _sizes(x)
    v, se = np.asarray(values, float), np.asarray(se, float)
    qs = tuple(float(q) for q in np.atleast_1d(corrections))
    if x.size < len(qs) + 3:
        raise ValueError(f"{name}: {len(qs)} correction(s) need >= {len(qs) + 3} sizes, got {x.size}")
    if v.shape != x.shape or np.any(v <= 0) or not np.all(np.isfinite(v)):
        raise ValueError(f"{name}: values must be positive and finite, one per size, got {v.tolist()}")
    A = np.column_stack([np.ones_like(x), np.log(x), *(x**q for q in qs)])
    coef, cov, chi2 = _wls(A, np.log(v), np.broadcast_to(se, v.shape) / v)
    p, sp = float(coef[1]), float(np.sqrt(cov[1, 1]))
    z = z_two_sided(alpha)
    terms = " + ".join(f"c x^{q:g}" for q in qs)
    detail = (
        f"fitted slope={p:.4f} +- {sp:.2g} (SE, weighted; corrections {terms} fitted: "
        f"{np.array2string(coef[2:], precision=3)}), predicted={predicted_slope:g}, reduced chi2={chi2:.3g}, "
        f"z={z:.2f} (alpha={alpha:g}); x={np.array2string(x, precision=4)}; seed={seed}"
    )
    return Check(name=name, statistic=abs(p - predicted_slope) / (z * sp), threshold=1.0, relation="<=", detail=detail)


def proportion_se(fraction, n):
    """Wald standard error sqrt(p (1 - p) / n) of a pooled success fraction over n trials (an upper bound on the SE
    of a mean of per-seed fractions with the same pooled mean, by concavity)."""
    fraction = np.asarray(fraction, float)
    return np.sqrt(fraction * (1 - fraction) / n)


def extrapolated_limit(x, values, se, *, orders=(1.0,)) -> tuple[float, float, float]:
    """The x -> 0 limit a of the weighted fit values = a + sum_k b_k x^order_k (the fit ``limit_matches`` judges), its
    SE (scaled by max(1, reduced chi^2)) and the reduced chi^2. >= 5 sizes over >= 1 decade."""
    x = _sizes(x)
    values, se = np.asarray(values, float), np.asarray(se, float)
    orders = tuple(float(o) for o in np.atleast_1d(orders))
    A = np.column_stack([np.ones_like(x), *(x**o for o in orders)])
    coef, cov, chi2 = _wls(A, values, np.broadcast_to(se, values.shape))
    return float(coef[0]), float(np.sqrt(cov[0, 0])), chi2


def non_increasing(name: str, values, se, *, alpha: float, seed=None) -> Check:
    """Independent estimates ``values`` (with SEs ``se``) along an ordered axis do not increase: every successive
    difference d_j = v_{j+1} - v_j satisfies d_j <= z SE(d_j), SE(d_j) = sqrt(se_j^2 + se_{j+1}^2), z the
    one-sided normal quantile at alpha / (m - 1) (Bonferroni over the m - 1 differences). Statistic: the worst
    d_j / (z SE(d_j)) (pass when <= 1; negative when every step decreases)."""
    v, e = np.asarray(values, float), np.asarray(se, float)
    if v.ndim != 1 or v.size < 2 or e.shape != v.shape or not np.all(e > 0):
        raise ValueError(f"{name}: need >= 2 values with positive SEs of the same shape, got {v.shape}, {e.shape}")
    d, sd = np.diff(v), np.hypot(e[1:], e[:-1])
    z = float(stats.norm.isf(alpha / d.size))
    ratio = d / (z * sd)
    j = int(np.argmax(ratio))
    detail = (
        f"worst step {j} -> {j + 1}: {v[j]:.6g} -> {v[j + 1]:.6g} (difference {d[j]:.3g} +- {sd[j]:.2g}), "
        f"one-sided z={z:.2f} (alpha={alpha:g}, Bonferroni over {d.size}); seed={seed}"
    )
    return Check(name=name, statistic=float(ratio[j]), threshold=1.0, relation="<=", detail=detail)


def rate_exceeds(name: str, x, values, se, bound: float, *, alpha: float, seed=None) -> Check:
    """The log-log slope of ``values`` vs ``x`` exceeds ``bound`` (e.g. 0: the values grow): the weighted fit of
    ``rate_matches`` (SE scaled by max(1, reduced chi^2)) gives slope - bound >= z SE, z the one-sided normal quantile
    at ``alpha``. Statistic: (slope - bound) / (z SE), pass when >= 1."""
    fit = fit_rate(x, values, se)
    z = float(stats.norm.isf(alpha))
    detail = (
        f"fitted slope={fit.slope:.4f} +- {fit.slope_se:.2g} (SE, weighted), bound={bound:g}, "
        f"reduced chi2={fit.chi2:.3g}, one-sided z={z:.2f} (alpha={alpha:g}); x={np.array2string(fit.x, precision=4)}; "
        f"seed={seed}"
    )
    return Check(
        name=name, statistic=(fit.slope - bound) / (z * fit.slope_se), threshold=1.0, relation=">=", detail=detail
    )


def parabolic_argmin(x, y) -> float:
    """The vertex of the parabola through the smallest finite ``y`` on the grid ``x`` and its two neighbours (the
    local quadratic fit of a minimum); NaN when that point is at the grid's edge or the three are not convex."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    if x.ndim != 1 or y.shape != x.shape or x.size < 3 or np.any(np.diff(x) <= 0):
        raise ValueError(
            f"parabolic_argmin needs an increasing grid x of >= 3 points and y of its shape, got {x.shape}"
        )
    i = int(np.argmin(np.where(np.isfinite(y), y, np.inf)))
    if i == 0 or i == x.size - 1 or not np.all(np.isfinite(y[i - 1 : i + 2])):
        return float("nan")
    (x0, x1, x2), (y0, y1, y2) = x[i - 1 : i + 2], y[i - 1 : i + 2]
    num = (x1 - x0) ** 2 * (y1 - y2) - (x1 - x2) ** 2 * (y1 - y0)
    den = (x1 - x0) * (y1 - y2) - (x1 - x2) * (y1 - y0)
    return float(x1 - 0.5 * num / den) if den < 0 else float("nan")


def bootstrap_argmin(x, samples, *, transform=np.log, n_boot: int = 400, seed) -> tuple[float, float]:
    """Location of the minimum of ``transform(mean over axis 0 of samples)`` (rows: independent seeds, columns:
    the grid ``x``) by :func:`parabolic_argmin`, and its bootstrap standard error (rows resampled with replacement
    ``n_boot`` times, generator ``seed``). The SE is NaN when any resample has no interior minimum."""
    samples = np.asarray(samples, float)
    if samples.ndim != 2 or samples.shape[0] < 2:
        raise ValueError(f"bootstrap_argmin needs samples of shape (>= 2 seeds, grid), got {samples.shape}")
    with np.errstate(invalid="ignore"):  # a column holding +inf (a diverged run) has mean +inf, never NaN
        est = parabolic_argmin(x, transform(samples.mean(0)))
        idx = np.random.default_rng(seed).integers(0, samples.shape[0], (int(n_boot), samples.shape[0]))
        boot = np.array([parabolic_argmin(x, transform(samples[r].mean(0))) for r in idx])
    return est, float(boot.std(ddof=1)) if np.all(np.isfinite(boot)) else float("nan")


def binomial_exceeds(name: str, k: int, n: int, p0: float, *, alpha: float, seed=None) -> Check:
    """k successes in n trials beat probability ``p0``: exact one-sided binomial test P(X >= k | n, p0) <= alpha
    (passes when the rate is significantly above p0, e.g. a predictor against chance)."""
    p = float(stats.binomtest(int(k), int(n), float(p0), alternative="greater").pvalue)
    detail = (
        f"k={int(k)} of n={int(n)} (rate {k / n:.4g}) vs p0={p0:.4g}, one-sided exact binomial p={p:.3g}; seed={seed}"
    )
    return Check(name=name, statistic=p, threshold=alpha, relation="<=", detail=detail)


def binomial_within(
    name: str, k: int, n: int, lower: float, upper: float, *, alpha: float, reason: str, seed=None
) -> Check:
    """k successes in n trials are consistent with a success probability in [lower, upper] (the band: a predicted
    rate ``upper`` and a stated bias bound ``upper - lower``, say why in ``reason``): exact one-sided binomial tests
    P(X <= k | lower) and P(X >= k | upper), each at alpha / 2; passes when the smaller p-value is >= alpha / 2.
    Probabilities outside [0, 1] raise ValueError."""
    if not 0 <= lower <= upper <= 1:
        raise ValueError(f"{name}: need 0 <= lower <= upper <= 1, got [{lower}, {upper}]")
    p_low = float(stats.binom.cdf(int(k), int(n), lower))
    p_high = float(stats.binom.sf(int(k) - 1, int(n), upper))
    p = min(p_low, p_high)
    detail = (
        f"k={int(k)} of n={int(n)} (rate {k / n:.4g}), band [{lower:.4g}, {upper:.4g}]: P(X<=k|lower)={p_low:.3g}, "
        f"P(X>=k|upper)={p_high:.3g}; band: {reason}; seed={seed}"
    )
    return Check(name=name, statistic=p, threshold=alpha / 2, relation=">=", detail=detail)


def log_richardson_limit_matches(
    name: str, L, values, prediction, *, atol: float, atol_reason: str, seed=None
) -> Check:
    """Deterministic values v(L) = c + (a + b log L) / L + O(log^2 L / L^2) at sizes L growing by one ratio r
    have the L -> infinity limit c = ``prediction`` (e.g. a depth limit whose 1/L correction carries a log).

    ``values`` has one row per size (the sup norm is taken over the points of a row). c, a, b are solved exactly
    from the three largest sizes (c) and from the three before them (c'); the next order shrinks by about r^-2 per
    step, so c - c_true ~ (c - c') r^-2 / (1 - r^-2). Tolerance: twice that estimate plus ``atol`` (the values'
    round-off; say where it comes from in ``atol_reason``). Statistic: max |c - prediction| / tol. >= 4 sizes.
    """
    L = np.asarray(L, float)
    v = np.asarray(values, float)
    if L.ndim != 1 or L.size < 4 or np.any(L <= 1) or not np.all(np.isfinite(L)) or v.shape[:1] != L.shape:
        raise ValueError(f"{name}: need >= 4 sizes L > 1 and one row of values per size, got {L.tolist()}, {v.shape}")
    idx = np.argsort(L)
    L, v = L[idx], v[idx].reshape(L.size, -1)
    r = L[1:] / L[:-1]
    if not np.allclose(r[-3:], r[-1], rtol=1e-9, atol=0.0):
        raise ValueError(f"{name}: the four largest sizes must grow by one ratio, got {L[-4:].tolist()}")
    if not (np.isfinite(atol) and atol > 0):
        raise ValueError(f"{name}: atol (the values' round-off) must be positive and finite, got {atol!r}")

    def limit(sel):
        A = np.column_stack([np.ones(3), 1 / L[sel], np.log(L[sel]) / L[sel]])
        return np.linalg.solve(A, v[sel])[0]

    fine, coarse = limit(slice(-3, None)), limit(slice(-4, -1))
    q = r[-1] ** -2.0
    estimate = float(np.max(np.abs(fine - coarse))) * q / (1 - q)
    tol = 2 * estimate + atol
    pred = np.broadcast_to(np.asarray(prediction, float), fine.shape)
    dev = np.where(np.isfinite(fine), np.abs(fine - pred), np.inf)
    i = int(np.argmax(dev))
    detail = (
        f"limit of c + (a + b log L) / L from L={L[-3:].tolist()}: worst of {dev.size} point(s) at index {i}: "
        f"extrapolated={fine[i]:.8g}, predicted={pred[i]:.8g}, |dev|={dev[i]:.3g}; next-order bound 2 x "
        f"{estimate:.2g} (ratio r={r[-1]:.3g}) + round-off {atol:.2g} ({atol_reason}); seed={seed}"
    )
    return Check(name=name, statistic=float(dev[i] / tol), threshold=1.0, relation="<=", detail=detail)
