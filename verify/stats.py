"""Statistics helpers: every tolerance is derived from the data (standard errors, alpha, a stated bias bound).

Three error sources are budgeted separately: deterministic numerics (``deterministic``),
Monte Carlo noise (``mean_matches``, ``distribution_matches``: z(alpha) * SE from the samples) and finite-size
bias (an explicit ``bias`` bound, or a rate fit with ``rate_matches`` + ``limit_matches``).
Each helper returns a :class:`dltheory.verify.evidence.Check` whose ``detail`` carries theory, estimate, SE, z or p.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from dltheory.verify.evidence import Check

__all__ = [
    "bonferroni",
    "z_two_sided",
    "standard_error",
    "deterministic",
    "mean_matches",
    "distribution_matches",
    "RateFit",
    "fit_rate",
    "rate_matches",
    "limit_matches",
]


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


def mean_matches(
    name: str, samples, prediction, *, alpha: float, bias=0.0, seed=None, bias_reason: str = "no finite-size bias"
) -> Check:
    """Sample mean over axis 0 (independent seeds) equals ``prediction`` at every remaining point.

    Tolerance per point: z(alpha / m) * SE + bias, Bonferroni over the m points; statistic is the worst
    |mean - prediction| / tolerance.
    """
    samples = np.asarray(samples, float)
    mean, se = samples.mean(axis=0), standard_error(samples, axis=0)
    m = max(int(np.size(mean)), 1)
    z = z_two_sided(bonferroni(alpha, m))
    tol = z * se + np.asarray(bias, float)
    dev = mean - np.asarray(prediction, float)
    return _worst(
        name,
        dev,
        np.broadcast_to(tol, dev.shape),
        mean,
        np.asarray(prediction, float),
        se,
        seed,
        f"z={z:.2f} (alpha={alpha:g}, Bonferroni over {m}); bias bound: {bias_reason}",
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


@dataclass(frozen=True)
class RateFit:
    """Least-squares fit of log(error) = intercept + slope * log(x), seeds averaged first."""

    x: np.ndarray
    error: np.ndarray
    slope: float
    slope_se: float
    intercept: float
    dof: int

    def predict(self, x) -> np.ndarray:
        return np.exp(self.intercept) * np.asarray(x, float) ** self.slope

    def rows(self, panel: str, series: str, predicted_slope: float, se=None, n_line: int = 20) -> list[dict]:
        """Report rows for a log-log panel: the errors as points (with ``se`` if given) and a line of the
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


def fit_rate(x, errors) -> RateFit:
    """Fit the log-log slope of ``errors`` against ``x``.

    ``errors`` has shape (len(x),) or (n_seeds, len(x)); seeds are averaged BEFORE fitting. Needs >= 4
    sizes spanning >= 1 decade, and positive errors.
    """
    x = np.asarray(x, float)
    err = np.asarray(errors, float)
    err = err.mean(axis=0) if err.ndim == 2 else err
    if x.ndim != 1 or err.shape != x.shape:
        raise ValueError(f"errors must have shape (len(x),) or (n_seeds, len(x)); got {np.shape(errors)}")
    if x.size < 4 or x.max() / x.min() < 10:
        raise ValueError(f"a rate fit needs >= 4 sizes spanning >= 1 decade, got x={x.tolist()}")
    if np.any(err <= 0) or not np.all(np.isfinite(err)):
        raise ValueError(f"errors must be positive and finite for a log-log fit, got {err.tolist()}")
    res = stats.linregress(np.log(x), np.log(err))
    return RateFit(
        x=x,
        error=err,
        slope=float(res.slope),
        slope_se=float(res.stderr),
        intercept=float(res.intercept),
        dof=x.size - 2,
    )


def rate_matches(
    name: str,
    fit: RateFit,
    predicted_slope: float,
    *,
    alpha: float,
    floor: float = 0.0,
    floor_reason: str = "none",
    seed=None,
) -> Check:
    """|slope - predicted| <= t_{dof}(alpha) * SE(slope) + floor.

    ``floor`` is the known next-order bias of the slope over the fitted range (say why in floor_reason).
    """
    t = float(stats.t.isf(alpha / 2, fit.dof))
    tol = t * fit.slope_se + floor
    dev = abs(fit.slope - predicted_slope)
    detail = (
        f"fitted slope={fit.slope:.4f} +- {fit.slope_se:.2g} (SE), predicted={predicted_slope:g}, "
        f"t={t:.2f} (alpha={alpha:g}, dof={fit.dof}), floor={floor:g} ({floor_reason}); "
        f"x={np.array2string(fit.x, precision=3)}; seed={seed}"
    )
    return Check(name=name, statistic=dev / tol, threshold=1.0, relation="<=", detail=detail)


def limit_matches(name: str, x, values, se, prediction: float, *, order: float, alpha: float, seed=None) -> Check:
    """The x -> 0 limit of ``values`` is ``prediction``: weighted fit values = a + b x^order, |a - pred| <= t SE(a).

    ``se`` are the standard errors of ``values`` (for deterministic values pass their numerical accuracy);
    the fit's residual scatter is added so a wrong functional form widens, not narrows, nothing silently:
    SE(a) uses max(1, reduced chi^2) scaling.
    """
    x, values, se = (np.asarray(a, float) for a in (x, values, se))
    if x.size < 3:
        raise ValueError(f"a limit fit needs >= 3 points, got {x.size}")
    A = np.column_stack([np.ones_like(x), x**order]) / se[:, None]
    b = values / se
    coef, *_ = np.linalg.lstsq(A, b, rcond=None)
    resid = b - A @ coef
    dof = x.size - 2
    chi2 = float(resid @ resid) / dof if dof > 0 else 1.0
    cov = np.linalg.inv(A.T @ A) * max(1.0, chi2)
    a, sa = coef[0], float(np.sqrt(cov[0, 0]))
    t = float(stats.t.isf(alpha / 2, max(dof, 1)))
    detail = (
        f"extrapolated limit={a:.6g} +- {sa:.2g} (SE), predicted={prediction:.6g}, "
        f"fit a + b x^{order:g}, reduced chi2={chi2:.3g}, t={t:.2f} (alpha={alpha:g}); seed={seed}"
    )
    return Check(name=name, statistic=abs(a - prediction) / (t * sa), threshold=1.0, relation="<=", detail=detail)
