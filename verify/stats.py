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
    x = _sizes(x)
    values, se = np.asarray(values, float), np.asarray(se, float)
    orders = tuple(float(o) for o in np.atleast_1d(orders))
    A = np.column_stack([np.ones_like(x), *(x**o for o in orders)])
    coef, cov, chi2 = _wls(A, values, np.broadcast_to(se, values.shape))
    a, sa = float(coef[0]), float(np.sqrt(cov[0, 0]))
    z = z_two_sided(alpha)
    terms = " + ".join(f"b x^{o:g}" for o in orders)
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
