"""Neural collapse and weight decay in a trained ReLU MLP: the collapsed norms against weight decay (the UFM's
prediction, exact for this network), NC1 -> 0 only with weight decay, and NC4 (nearest class-centre agreement).

The network (dltheory.simulators.nc_weight_decay) is a bias-free one-hidden-layer ReLU MLP trained by plain GD with
MSE and weight decay lambda on both layers, on inputs with orthonormal rows: the setting in which the
unconstrained-features model is exact (dltheory.theory.nc_weight_decay: GD on the first layer is GD on free
pre-activation features, and the ReLU's nonnegativity costs nothing because the optimal orthogonal frame fits in the
nonnegative orthant). One sweep over lambda from a common initialisation, with imbalanced classes so that each class
has its own collapse threshold lambda_k = sqrt(n_k)/N.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from dltheory.simulators import nc_weight_decay as sim
from dltheory.theory import nc_weight_decay as th
from dltheory.theory.neural_collapse import nc_metrics
from dltheory.verify import stats
from dltheory.verify.evidence import Panel
from dltheory.verify.prediction import Prediction, zero
from dltheory.verify.registry import ClaimContext, claim

UFM = "Zhou et al. 2022 (ICML, arXiv:2203.01238); Tirer & Bruna 2022 (ICML, arXiv:2202.08087)"
DANG = "Dang et al. 2023 (ICML, arXiv:2301.00437)"
PHD = "Papyan, Han & Donoho 2020 (PNAS, arXiv:2008.08186)"
RB = (
    "Rangamani & Banburski-Fahey 2022 (ICASSP), 'Neural collapse in deep homogeneous classifiers and the role of "
    "weight decay'"
)
N_CHECKS = 3
# Tolerances calibrated on pilot seeds the claim never uses (``seed`` an int: inputs seed s, initialisation seed
# s + 1000; the claim spawns both from a SeedSequence of its own seed). Quick settings, seeds 200-259: the worst
# |||w_k||^2 - theory| / sqrt(max n_k) and |||mu_k||^2 - theory| sqrt(min n_k) over all arms was 9.4e-7 (plain GD
# still converging at the smallest lambda, whose slowest mode contracts by ~lr lambda per step), the worst
# NC1(lambda)/NC1(0) on the arms below every threshold 4.4e-15; full settings, seeds 101-104: 8.8e-8 and 1.4e-19.
# Tolerances ~100x and ~2e4x the worst. With width 32 instead of 64, 6 of 80 pilot seeds (200-279) ended one arm away
# from the global minimum (norms ~10% off, NC1 ~1e-3: a spurious stationary point or plateau of the ReLU network,
# which the UFM does not describe); with width 64, none of 60.
NORM_ATOL = 1e-4
NC1_RATIO_ATOL = 1e-10


def _arms(p: dict) -> tuple[np.ndarray, np.ndarray]:
    """(lambda grid, mask of arms with 0 < lambda < min_k sqrt(n_k)/N: every class alive and collapsed)."""
    n = np.asarray(p["n"])
    lams = np.asarray(p["lambdas"], float)
    return lams, (lams > 0) & (lams < np.sqrt(n.min()) / n.sum())


def _simulate(ctx: ClaimContext) -> dict:
    p = ctx.params
    n = np.asarray(p["n"])
    s_in, s_init = np.random.SeedSequence(ctx.seed).spawn(2)
    X, y = sim.orthonormal_inputs(n, int(n.sum()), seed=s_in)
    run = sim.train_relu_mlp_decay(X, y, p["lambdas"], width=p["width"], lr=p["lr"], n_steps=p["n_steps"], seed=s_init)
    K = n.size
    lams, alive = _arms(p)
    H = run.features[:, -1]  # (L, N, m) final post-ReLU features
    w_sq = np.sum(run.W**2, axis=2)  # (L, K)
    mu_sq = np.stack([[np.sum(H[j, y == k].mean(axis=0) ** 2) for k in range(K)] for j in range(lams.size)])
    nc1, nc4 = np.full(lams.size, np.nan), np.full(lams.size, np.nan)
    for j in np.flatnonzero((lams == 0) | alive):  # NC metrics where no class has collapsed to zero features
        m = nc_metrics(H[j], y, run.W[j])
        nc1[j], nc4[j] = m["nc1"], m["nc4"]
    return dict(w_sq=w_sq, mu_sq=mu_sq, nc1=nc1, mismatches=np.rint(nc4 * y.size), N=y.size)


def _norms(p: dict, lW, lA) -> tuple[np.ndarray, np.ndarray]:
    """Predicted (||w_k||^2, ||mu_k||^2) on the lambda > 0 arms, (L0, K), for decays lW(lambda), lA(lambda)."""
    lams = np.asarray(p["lambdas"], float)
    out = [th.relu_mlp_collapse_norms(p["n"], lW(lam), lA(lam)) for lam in lams[lams > 0]]
    return np.array([o[0] for o in out]), np.array([o[1] for o in out])


def _predictions(p: dict) -> dict:
    n = np.asarray(p["n"])
    K, N = n.size, int(n.sum())
    w, mu = _norms(p, lambda lam: lam, lambda lam: lam)
    published = Prediction(w_sq=w, mu_sq=mu, nc1_ratio=zero(1.0), nc4_mismatch=zero((K - 1) / K))
    w2, mu2 = _norms(p, lambda lam: 2 * lam, lambda lam: 2 * lam)
    wN, muN = _norms(p, lambda lam: lam, lambda lam: lam / N)
    return {
        "published": published,
        "weight decay as lambda ||theta||^2 (no 1/2: lambda counted twice)": published.replace(w_sq=w2, mu_sq=mu2),
        "feature penalty averaged over samples, lambda/(2N) ||H||^2 (threshold n_k <= N lambda^2: N for N^2)": (
            published.replace(w_sq=wN, mu_sq=muN)
        ),
        "simplex-ETF norms (the with-bias / cross-entropy geometry): factor (K-1)/K": published.replace(
            w_sq=w * (K - 1) / K, mu_sq=mu * (K - 1) / K
        ),
        "collapse without weight decay: NC1 at the end independent of lambda (NC1(lambda)/NC1(0) = 1)": (
            published.replace(nc1_ratio=1.0)
        ),
        "NC4 null: the nearest-centre rule independent of the classifier (mismatch (K-1)/K)": published.replace(
            nc4_mismatch=(K - 1) / K
        ),
    }


_lam, _Nn = sp.symbols("lambda N", positive=True)
_nk = sp.Symbol("n_k", positive=True, integer=True)


def w_sq_formula(lW=_lam, lA=_lam):
    """||w_k||^2 = (sqrt(n_k lambda_A/lambda_W) - N lambda_A)_+ (theory.relu_mlp_collapse_norms)."""
    return sp.Max(sp.sqrt(_nk * lA / lW) - _Nn * lA, 0)


def mu_sq_formula(lW=_lam, lA=_lam):
    """||mu_k||^2 = s_k^2/(s_k^2 + N lambda_A)^2 with s_k^2 = ||w_k||^2."""
    s2 = w_sq_formula(lW, lA)
    return s2 / (s2 + _Nn * lA) ** 2


def _formulas(p: dict) -> dict:
    K = len(p["n"])
    w, mu = sp.Symbol("||w_k||^2"), sp.Symbol("||mu_k||^2")
    nc1 = sp.Function("NC_1")
    nc4 = sp.Symbol("NC_4")

    def law(lW=_lam, lA=_lam, factor=1, ratio=0, mismatch=0):
        return (
            sp.Eq(w, factor * w_sq_formula(lW, lA)),
            sp.Eq(mu, factor * mu_sq_formula(lW, lA)),
            sp.Eq(nc1(_lam) / nc1(0), ratio),
            sp.Eq(nc4, mismatch),
        )

    names = list(_predictions(p))
    return {
        names[0]: law(),
        names[1]: law(2 * _lam, 2 * _lam),
        names[2]: law(_lam, _lam / _Nn),
        names[3]: law(factor=sp.Rational(K - 1, K)),
        names[4]: law(ratio=1),
        names[5]: law(mismatch=sp.Rational(K - 1, K)),
    }


@claim(
    "nc.nc4_and_decay",
    area="neural collapse",
    title="Weight decay and collapse in a trained ReLU MLP (orthonormal inputs, MSE): the collapsed norms follow the "
    "UFM's ||w_k||^2 = (sqrt(n_k) - N lambda)_+ with collapse to zero at n_k <= N^2 lambda^2, NC1 -> 0 only with "
    "weight decay, and the classifier agrees with the nearest class centre (NC4)",
    reference=f"{UFM} bias-free MSE UFM optimum ({DANG} for imbalanced classes), exact for this MLP by the reduction "
    f"in theory.nc_weight_decay; NC1 and NC4 as defined by {PHD}; weight decay necessary for NC1: {RB}",
    seed=20221011,
    quick=dict(n=(12, 8, 6, 6), lambdas=(0.0, 0.02, 0.04, 0.06, 0.082, 0.098, 0.13), width=64, lr=2.0, n_steps=6000),
    full=dict(
        n=(20, 12, 8, 8, 6),
        lambdas=(0.0, 0.005, 0.01, 0.02, 0.03, 0.038, 0.058, 0.072, 0.1),
        width=64,
        lr=2.0,
        n_steps=30000,
    ),
    simulate=_simulate,
    predictions=_predictions,
    formulas=_formulas,
    resolution=1e-3,
)
def nc4_and_decay(ctx: ClaimContext, data: dict, prediction: Prediction):
    p = ctx.params
    n = np.asarray(p["n"])
    lams, alive = _arms(p)
    pos = lams > 0
    alpha = stats.ALPHA / N_CHECKS
    w_scale, mu_scale = np.sqrt(n.max()), 1 / np.sqrt(n.min())  # ||w_k||^2 <= sqrt(n_k), ||mu_k||^2 <= 1/sqrt(n_k)
    calib = "calibrated on pilot seeds 200-259 (quick) and 101-104 (full): ~100x the worst pilot deviation"

    def units(w, mu):  # every class's ||w_k||^2 / sqrt(max n_k) and ||mu_k||^2 sqrt(min n_k), one flat vector
        return np.concatenate([np.ravel(w) / w_scale, np.ravel(mu) / mu_scale])

    checks = [
        stats.deterministic(
            "||w_k||^2 and ||mu_k||^2 at the end of GD on every lambda > 0 arm (in units of sqrt(max n_k), "
            "1/sqrt(min n_k))",
            units(data["w_sq"][pos], data["mu_sq"][pos]),
            units(prediction["w_sq"], prediction["mu_sq"]),
            atol=NORM_ATOL,
            reason=calib,
            seed=ctx.seed,
        ),
        stats.deterministic(
            "NC1(lambda)/NC1(0) at the end, arms below every class's threshold",
            data["nc1"][alive] / data["nc1"][lams == 0][0],
            prediction["nc1_ratio"],
            atol=NC1_RATIO_ATOL,
            reason="round-off of collapsed features and unfinished convergence, calibrated on pilot seeds 200-259 "
            "(quick) and 101-104 (full): ~2e4x the worst",
            seed=ctx.seed,
        ),
        stats.binomial_matches(
            "NC4: classifier vs nearest class centre mismatches, all samples of the arms below every threshold",
            int(data["mismatches"][alive].sum()),
            int(alive.sum() * data["N"]),
            float(prediction["nc4_mismatch"]),
            alpha=alpha,
            seed=ctx.seed,
        ),
    ]
    rows = []
    for k, nk in enumerate(n):
        for lam, sim_w, th_w in zip(lams[pos], data["w_sq"][pos, k], prediction["w_sq"][:, k]):
            rows += [
                dict(
                    panel="norms",
                    series=f"class {k} (n_k={nk})",
                    x=float(lam),
                    theory=float(th_w),
                    simulated=float(sim_w),
                    se=np.nan,
                ),
            ]
    for lam, v in zip(lams, data["nc1"]):
        if np.isfinite(v):
            rows.append(dict(panel="nc1", series="MLP", x=float(lam), theory=np.nan, simulated=float(v), se=np.nan))
    panels = (
        Panel("norms", "weight decay lambda", "||w_k||^2 at the end of training", title="Collapsed norms vs UFM"),
        Panel("nc1", "weight decay lambda", "NC1 at the end of training", yscale="log", title="NC1 vs weight decay"),
    )
    return ctx.evidence(checks, rows, panels)
