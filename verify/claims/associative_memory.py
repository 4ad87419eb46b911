"""Associative memories: scaling laws in the number of samples T and the dimension d (Cabannes, Dohmatob & Bietti
2023, arXiv:2310.02984).

Memories W = sum_x q(x) u_{f(x)} e_x^T with random Gaussian embeddings in R^d over N Zipf(alpha) tokens and M = 2
classes (dltheory.simulators.associative_memory, exact in law through Wishart Gram matrices). Errors are averaged over
independent memories (fresh embeddings, f and data per memory); each exponent is a weighted log-log fit over >= 5
sizes spanning >= 2 decades (stats.rate_matches), with a floor equal to how far the exact finite-size expectation's
fitted slope over the same sizes lies from that expectation's own large-N, large-size slope (computed from the exact
expectation, never from the data nor from the exponent under test).
The paper's theorem statements were not available here: the exponents are derived in
dltheory.theory.associative_memory (see its docstrings) and agree with the laws the paper reports.
"""

from __future__ import annotations

import math

import numpy as np
import sympy as sp

from dltheory.simulators import associative_memory as sim
from dltheory.theory import associative_memory as th
from dltheory.verify import stats
from dltheory.verify.evidence import Panel
from dltheory.verify.prediction import Prediction, exponent, scaled
from dltheory.verify.registry import ClaimContext, claim

AREA = "associative memories"
CDB = "Cabannes, Dohmatob & Bietti 2023 (arXiv:2310.02984) Sec. 3 (statement derived here; see theory module)"


def _slope_of(x, values) -> float:
    """Fitted log-log slope of a deterministic theory curve over the claim's sizes (uniform relative weights)."""
    return stats.fit_rate(x, values, np.asarray(values) * 1e-3).slope


# The exact finite-N expectation's slope in its limit (N, sizes -> infinity), evaluated at N = N_LIMIT over the
# claim's sizes times SIZE_LIMIT: between x10 and x100 it moves by 1e-4 (sample, alpha = 3) and 7e-5 (dimension,
# alpha = 2), so it stands for the limit to < 1e-3. The finite-size floor of a slope check is the distance of the
# claim's own finite curve from it: computed from the exact expectation alone, never from the exponent under test
# (a floor |finite slope - tested exponent| would widen by exactly a wrong exponent's error).
N_LIMIT = 100_000
SIZE_LIMIT = 100


def _finite_size_floor(x: np.ndarray, curve, N: int) -> float:
    """|slope of curve(x, N) - slope of curve(SIZE_LIMIT x, N_LIMIT)|: the finite-size part of a fitted exponent."""
    return abs(_slope_of(x, curve(x, N)) - _slope_of(SIZE_LIMIT * x, curve(SIZE_LIMIT * x, N_LIMIT)))


_alpha, _T, _d, _C = sp.symbols("alpha T d C", positive=True)
_M, _N = sp.symbols("M N", positive=True, integer=True)
_x, _x1 = sp.symbols("x x'", positive=True, integer=True)
_E = sp.Symbol("E")


def zipf_formula() -> sp.Expr:
    """p(x) = x^-alpha / sum_{x' <= N} x'^-alpha."""
    return _x**-_alpha / sp.Sum(_x1**-_alpha, (_x1, 1, _N))


def seen_error_formula() -> sp.Expr:
    """E = (1 - 1/M) sum_x p(x) (1 - p(x))^T: (1 - 1/M) times the expected missing mass (theory module)."""
    p = sp.Function("p")(_x)
    return (1 - 1 / _M) * sp.Sum(p * (1 - p) ** _T, (_x, 1, _N))


def sample_exponent_formula() -> sp.Expr:
    """[CDB23]: E ~ T^(-1 + 1/alpha) (the Zipf missing mass)."""
    return -1 + 1 / _alpha


def _sample_formulas(p: dict) -> dict:
    law = (sp.Eq(sp.Function("p")(_x), zipf_formula()), sp.Eq(_E, seen_error_formula()))
    return {
        "published": (*law, sp.Eq(_E, _C * _T ** sample_exponent_formula())),
        "1/alpha and 1 - 1/alpha swapped: T^(-1/alpha)": (*law, sp.Eq(_E, _C * _T ** (-1 / _alpha))),
        "the parametric rate T^-1": (*law, sp.Eq(_E, _C / _T)),
    }


# ---------------------------------------------------------------------------------------------------
# sample size: q = 1{seen}, d large


def _sample_predictions(p: dict) -> dict[str, Prediction]:
    probs = th.zipf(p["N"], p["alpha"])
    published = Prediction(
        slope=exponent(th.sample_exponent(p["alpha"])),
        error=scaled(th.seen_memory_error(np.array(p["T"], float), probs, p["M"])),
    )
    return {
        "published": published,
        "1/alpha and 1 - 1/alpha swapped: T^(-1/alpha)": published.replace(slope=exponent(-1 / p["alpha"])),
        "the parametric rate T^-1": published.replace(slope=exponent(-1.0)),
    }


def _simulate_sample(ctx: ClaimContext) -> np.ndarray:
    p = ctx.params
    probs = th.zipf(p["N"], p["alpha"])
    out = []
    for T, s in zip(p["T"], np.random.SeedSequence(ctx.seed).spawn(len(p["T"]))):
        rng = np.random.default_rng(s)
        seen = (sim.sample_counts(probs, T, n_sets=p["n_memories"], seed=rng) > 0).astype(float)
        out.append(sim.memory_error(probs, seen, p["d"], p["M"], n_memories=p["n_memories"], seed=rng))
    return np.array(out).T  # (n_memories, len(T))


@claim(
    "associative_memory.sample_scaling",
    area=AREA,
    title="Storing every seen token (q = 1{seen}) in a large memory: the error is (1 - 1/M) times the Zipf missing "
    "mass and decays as T^(-1 + 1/alpha)",
    reference=CDB,
    seed=20231004,
    quick=dict(alpha=3.0, N=100, M=2, d=1000, T=[100, 250, 630, 1600, 4000, 10000], n_memories=300),
    full=dict(alpha=3.0, N=200, M=2, d=2000, T=[100, 250, 630, 1600, 4000, 10000, 25000, 63000], n_memories=2000),
    simulate=_simulate_sample,
    predictions=_sample_predictions,
    formulas=_sample_formulas,
    resolution=0.08,
)
def sample_scaling(ctx: ClaimContext, data: np.ndarray, prediction: Prediction):
    p = ctx.params
    T = np.array(p["T"], float)
    mean, se = data.mean(0), stats.standard_error(data)
    floor = _finite_size_floor(T, lambda t, N: th.seen_memory_error(t, th.zipf(N, p["alpha"]), p["M"]), p["N"])
    alpha = stats.ALPHA / 2
    checks = [
        stats.z_matches(
            "mean error at each T = (1 - 1/M) x expected missing mass",
            mean,
            se,
            prediction["error"],
            alpha=alpha,
            bias_reason=f"none: cross-talk errors of stored tokens are < 1e-8 (d = {p['d']} >= 30 x the distinct seen "
            "tokens, Gaussian tail Phi_bar(sqrt(d / k)))",
            seed=ctx.seed,
        ),
        stats.rate_matches(
            "log-log slope of the error in T",
            T,
            mean,
            se,
            float(prediction["slope"]),
            alpha=alpha,
            floor=floor,
            floor_reason="slope of the exact finite-N missing mass over these T minus its limit (N = 1e5, T x 100)",
            seed=ctx.seed,
        ),
    ]
    fit = stats.fit_rate(T, mean, se)
    rows = fit.rows("error vs T", "q = 1{seen}", float(prediction["slope"]), se=se)
    rows += [
        dict(panel="error vs T", series="exact expectation", x=t, theory=v, simulated=np.nan, se=np.nan)
        for t, v in zip(T, np.asarray(prediction["error"]))
    ]
    panels = [Panel("error vs T", "samples T", "generalisation error", "log", "log", "q = 1{seen}: mean +- SE")]
    return ctx.evidence(checks, rows, panels)


def dimension_exponent_formula() -> sp.Expr:
    """[CDB23]: E ~ d^(-(alpha - 1)/(2 alpha)) for q = p, M fixed (x recalled iff p(x) >~ ||p|| / sqrt(d))."""
    return -(_alpha - 1) / (2 * _alpha)


def _dimension_formulas(p: dict) -> dict:
    return {
        "published": sp.Eq(_E, _C * _d ** dimension_exponent_formula()),
        "cross-talk variance 1/d^2 instead of 1/(M d): d^(-(alpha-1)/alpha)": sp.Eq(
            _E, _C * _d ** (-(_alpha - 1) / _alpha)
        ),
        "the optimal (thresholded) memory's law d^(1 - alpha) for q = p": sp.Eq(_E, _C * _d ** (1 - _alpha)),
    }


# ---------------------------------------------------------------------------------------------------
# dimension: q = p (infinite data)


def _dimension_predictions(p: dict) -> dict[str, Prediction]:
    a = p["alpha"]
    published = Prediction(slope=exponent(th.frequency_memory_exponent(a)))
    return {
        "published": published,
        "cross-talk variance 1/d^2 instead of 1/(M d): d^(-(alpha-1)/alpha)": Prediction(slope=exponent(-(a - 1) / a)),
        "the optimal (thresholded) memory's law d^(1 - alpha) for q = p": Prediction(slope=exponent(1 - a)),
    }


def _simulate_dimension(ctx: ClaimContext) -> np.ndarray:
    p = ctx.params
    probs = th.zipf(p["N"], p["alpha"])
    seeds = np.random.SeedSequence(ctx.seed).spawn(len(p["d"]))
    return np.array(
        [sim.memory_error(probs, probs, d, p["M"], n_memories=p["n_memories"], seed=s) for d, s in zip(p["d"], seeds)]
    ).T


@claim(
    "associative_memory.dimension_scaling",
    area=AREA,
    title="Frequency-weighted memory (q = p, infinite data, fixed M): the error decays as d^(-(alpha - 1) / (2 alpha))",
    reference=CDB,
    seed=20231005,
    quick=dict(alpha=2.0, N=200, M=2, d=[100, 316, 1000, 3162, 10000, 31623, 100000], n_memories=100),
    full=dict(alpha=2.0, N=400, M=2, d=[100, 316, 1000, 3162, 10000, 31623, 100000, 316228, 1000000], n_memories=600),
    simulate=_simulate_dimension,
    predictions=_dimension_predictions,
    formulas=_dimension_formulas,
    resolution=0.1,
)
def dimension_scaling(ctx: ClaimContext, data: np.ndarray, prediction: Prediction):
    p = ctx.params
    d = np.array(p["d"], float)
    mean, se = data.mean(0), stats.standard_error(data)
    gauss = th.frequency_memory_error(d, th.zipf(p["N"], p["alpha"]))
    approx = d.min() ** -0.5 / math.log(d.max() / d.min())
    floor = _finite_size_floor(d, lambda x, N: th.frequency_memory_error(x, th.zipf(N, p["alpha"])), p["N"]) + approx
    checks = [
        stats.rate_matches(
            "log-log slope of the error in d",
            d,
            mean,
            se,
            float(prediction["slope"]),
            alpha=stats.ALPHA,
            floor=floor,
            floor_reason="slope of the finite-N Gaussian-approximation sum over these d minus its limit (N = 1e5, "
            "d x 100), plus its O(d^-1/2) relative error at the smallest d spread over ln(d_max / d_min)",
            seed=ctx.seed,
        )
    ]
    fit = stats.fit_rate(d, mean, se)
    rows = fit.rows("error vs d", "q = p", float(prediction["slope"]), se=se)
    rows += [
        dict(panel="error vs d", series="Gaussian approximation", x=x, theory=v, simulated=np.nan, se=np.nan)
        for x, v in zip(d, gauss)
    ]
    panels = [Panel("error vs d", "embedding dimension d", "generalisation error", "log", "log", "q = p: mean +- SE")]
    return ctx.evidence(checks, rows, panels)
