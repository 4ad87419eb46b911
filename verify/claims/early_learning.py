"""Early learning, then memorisation (Liu, Niles-Weed, Razavian & Fernandez-Granda 2020, arXiv:2007.00151, Sec. 3).

Logistic regression by full-batch GD from 0 on x = y* v + sigma z in R^p with a fraction Delta of flipped labels
(dltheory.simulators.early_learning), n_seeds independent data sets per configuration. Two phases are checked:
- early learning: after the first step the classifier predicts the TRUE label of a mislabelled point with the
  probability dltheory.theory.early_learning.first_step_flipped_accuracy (exact for this model; z-test of the mean
  over seeds, SE over seeds, Bonferroni over configurations). It exceeds 1/2 (early learning) iff roughly
  sigma^2 p < n (1 - 2 Delta), and falls below 1/2 outside that regime (configuration "no early learning");
- memorisation: when p >= n every seed reaches 100 % training accuracy on the noisy labels (so the accuracy on the
  mislabelled points falls to 0), when p = n / 10 (non-separable with high probability) no seed does within
  max_steps (GD converges to the finite logistic minimiser instead).
The theorem's statement was not available here; the first-step accuracy and both regime conditions are derived in
the theory module for the paper's model.
"""

from __future__ import annotations

import math

import numpy as np
import sympy as sp

from dltheory.simulators import early_learning as sim
from dltheory.theory import early_learning as th
from dltheory.verify import stats
from dltheory.verify.evidence import Panel
from dltheory.verify.prediction import Prediction, fixed, scaled
from dltheory.verify.registry import ClaimContext, claim

AREA = "label noise: early learning"
LNRF = "Liu, Niles-Weed, Razavian & Fernandez-Granda 2020 (arXiv:2007.00151) Sec. 3, Theorem 1 (quantities derived)"
QUADRATURE = 1e-6  # error of first_step_flipped_accuracy's 60 x 200-node quadrature (smooth integrand)


def _configs(p: dict) -> list[dict]:
    return [dict(zip(("name", "n", "p", "sigma", "Delta", "max_steps"), c)) for c in p["configs"]]


def _values(p: dict, sigma=lambda s: s, swap: bool = False, memorize=th.memorization_guaranteed) -> Prediction:
    cs = _configs(p)
    early = [
        th.first_step_flipped_accuracy(*((c["p"], c["n"]) if swap else (c["n"], c["p"])), sigma(c["sigma"]), c["Delta"])
        for c in cs
    ]
    return Prediction(
        early=scaled(np.array(early)), memorizes=fixed(np.array([bool(memorize(c["n"], c["p"])) for c in cs]))
    )


_n, _p, _k = sp.symbols("n p k", positive=True, integer=True)
_sigma, _Delta = sp.symbols("sigma Delta", positive=True)
_xi, _c = sp.Symbol("xi", real=True), sp.Symbol("c", positive=True)  # xi ~ N(0, 1), c ~ chi^2_(p-1)
_A = sp.Symbol("A_1")  # first-step accuracy on the mislabelled points
_memorises = sp.Symbol("memorises")


def accuracy_integrand(sigma=_sigma, n=_n, p=_p) -> sp.Expr:
    """Phi((S a - ||x||^2) / (sigma ||x|| sqrt(n - 1))) times the densities of xi and c, with a = 1 + sigma xi,
    ||x||^2 = a^2 + sigma^2 c and S = (n - 1) - 2 (k - 1) (theory.early_learning.first_step_flipped_accuracy)."""
    a = 1 + sigma * _xi
    norm2 = a**2 + sigma**2 * _c
    S = (n - 1) - 2 * (_k - 1)
    z = (S * a - norm2) / (sigma * sp.sqrt(norm2 * (n - 1)))
    Phi = (1 + sp.erf(z / sp.sqrt(2))) / 2
    nu = p - 1
    chi2 = _c ** (nu / 2 - 1) * sp.exp(-_c / 2) / (2 ** (nu / 2) * sp.gamma(nu / 2))
    return Phi * sp.exp(-(_xi**2) / 2) / sp.sqrt(2 * sp.pi) * chi2


def _formulas_for(sigma=_sigma, swap: bool = False, always: bool = False) -> tuple:
    n, p = (_p, _n) if swap else (_n, _p)
    A = sp.Integral(accuracy_integrand(sigma, n, p), (_xi, -sp.oo, sp.oo), (_c, 0, sp.oo))
    return (
        sp.Eq(_A, A),
        sp.Eq(_k, sp.Function("round")(_Delta * n)),
        sp.Equivalent(_memorises, sp.true if always else sp.GreaterThan(_p, _n), evaluate=False),
    )


def _formulas(p: dict) -> dict:
    """The first-step accuracy is a two-dimensional Gaussian-chi^2 integral (evaluated by quadrature)."""
    return {
        "published": _formulas_for(),
        "the variance sigma^2 used as the noise standard deviation": _formulas_for(sigma=_sigma**2),
        "n and p swapped (the aspect ratio inverted)": _formulas_for(swap=True),
        "GD memorises the noisy labels whatever p / n (no separability needed)": _formulas_for(always=True),
    }


def _predictions(p: dict) -> dict[str, Prediction]:
    return {
        "published": _values(p),
        "the variance sigma^2 used as the noise standard deviation": _values(p, sigma=lambda s: s**2),
        "n and p swapped (the aspect ratio inverted)": _values(p, swap=True),
        "GD memorises the noisy labels whatever p / n (no separability needed)": _values(p, memorize=lambda n, p: True),
    }


def _simulate(ctx: ClaimContext) -> dict:
    p = ctx.params
    out = {"early": [], "memorized": [], "curves": []}
    for c, s in zip(_configs(p), np.random.SeedSequence(ctx.seed).spawn(len(p["configs"]))):
        runs = [
            sim.gd_noisy_labels(c["n"], c["p"], c["sigma"], c["Delta"], max_steps=c["max_steps"], seed=r)
            for r in s.spawn(p["n_seeds"])
        ]
        out["early"].append([r.flipped_accuracy[0] for r in runs])
        out["memorized"].append([r.memorized for r in runs])
        out["curves"].append(runs[0].flipped_accuracy)
    return dict(early=np.array(out["early"]).T, memorized=np.array(out["memorized"]).T, curves=out["curves"])


@claim(
    "early_learning.rise_then_fall",
    area=AREA,
    title="Logistic regression on noisy labels: the first GD steps predict the true labels of the mislabelled points "
    "(with the derived accuracy; above 1/2 iff sigma^2 p < n (1 - 2 Delta)), then GD memorises them iff p >= n",
    reference=LNRF,
    seed=20200701,
    quick=dict(
        configs=[  # (name, n, p, sigma, Delta, max_steps)
            ("early learning, memorises", 100, 400, 0.3, 0.2, 500),
            ("early learning, memorises (Delta 0.3)", 200, 800, 0.25, 0.3, 500),
            ("no early learning, memorises", 100, 400, 0.5, 0.2, 500),
            ("early learning, no memorisation (p = n/10)", 400, 40, 0.5, 0.2, 200),
        ],
        n_seeds=30,
    ),
    full=dict(
        configs=[
            ("early learning, memorises", 100, 400, 0.3, 0.2, 2000),
            ("early learning, memorises (Delta 0.3)", 200, 800, 0.25, 0.3, 2000),
            ("early learning, memorises (p = 1.5 n)", 200, 300, 0.3, 0.1, 5000),
            ("no early learning, memorises", 100, 400, 0.5, 0.2, 2000),
            ("early learning, no memorisation (p = n/10)", 400, 40, 0.5, 0.2, 2000),
        ],
        n_seeds=200,
    ),
    simulate=_simulate,
    predictions=_predictions,
    formulas=_formulas,
    resolution=0.03,
)
def rise_then_fall(ctx: ClaimContext, data: dict, prediction: Prediction):
    p = ctx.params
    n_seeds = p["n_seeds"]
    memorized = data["memorized"].mean(0)
    checks = [
        stats.mean_matches(
            "first-step accuracy on the mislabelled points (true labels) = derived early-learning accuracy",
            data["early"],
            prediction["early"],
            alpha=stats.ALPHA / 2,
            bias=QUADRATURE,
            bias_reason="quadrature error of the exact expectation",
            seed=ctx.seed,
        ),
        stats.deterministic(
            "fraction of seeds that fit every noisy label within max_steps = 1 if p >= n else 0",
            memorized,
            np.asarray(prediction["memorizes"], float),
            atol=0.5 / n_seeds,
            reason="a count: every seed must agree (p >= n: separable almost surely; p = n/10: non-separable with "
            "high probability, GD converges to the finite logistic minimiser)",
            seed=ctx.seed,
        ),
    ]
    rows = []
    for c, curve, e, pe in zip(_configs(p), data["curves"], data["early"].T, np.asarray(prediction["early"])):
        rows += [
            dict(panel="accuracy on mislabelled points", series=c["name"], x=0, theory=np.nan, simulated=0.5, se=0)
        ]
        rows += [
            dict(panel="accuracy on mislabelled points", series=c["name"], x=t, theory=np.nan, simulated=v, se=np.nan)
            for t, v in enumerate(curve, 1)
        ]
        rows.append(
            dict(
                panel="first-step accuracy",
                series=c["name"],
                x=c["sigma"] ** 2 * c["p"] / (c["n"] * (1 - 2 * c["Delta"])),
                theory=pe,
                simulated=e.mean(),
                se=e.std(ddof=1) / math.sqrt(e.size),
            )
        )
    panels = [
        Panel(
            "accuracy on mislabelled points",
            "GD step",
            "accuracy w.r.t. true labels",
            "symlog",
            "linear",
            "one seed per configuration: rise (early learning), then fall (memorisation)",
        ),
        Panel(
            "first-step accuracy",
            "sigma^2 p / (n (1 - 2 Delta))",
            "accuracy",
            "log",
            "linear",
            "derived accuracy (theory) vs mean +- SE over seeds",
        ),
    ]
    return ctx.evidence(checks, rows, panels)
