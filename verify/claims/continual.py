"""Continual learning: forgetting and generalisation of sequential min-norm least squares (Lin, Ju, Liang & Shroff
2023, arXiv:2302.05836, Theorem 1).

Each configuration fixes T ground truths w*_t = a u_0 + b u_t (orthonormal u's, a^2 + b^2 = 1), so every task has
||w*_t|| = 1 and every pair of tasks lies at the same distance ||w*_i - w*_j|| = sqrt(2) b (the task similarity);
dltheory.simulators.continual trains n_runs independent sequences (fresh Gaussian features and noise). The
formulas are exact at finite p, n (no asymptotics), so the Monte Carlo means of F_T and G_T are z-tested against
them with no bias allowance, Bonferroni over every configuration and both quantities. The paper's text was not
available here: the closed forms are derived in dltheory.theory.continual (exact, see its docstring).
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from dltheory.simulators import continual as sim
from dltheory.theory import continual as th
from dltheory.verify import stats
from dltheory.verify.evidence import Panel
from dltheory.verify.prediction import Prediction
from dltheory.verify.registry import ClaimContext, claim

AREA = "continual learning"
LJLS = "Lin, Ju, Liang & Shroff 2023 (arXiv:2302.05836) Theorem 1"


def _truths(T: int, p: int, distance: float) -> np.ndarray:
    """w*_t = a e_0 + b e_t with b = distance / sqrt(2), a = sqrt(1 - b^2): unit norms, pairwise distance fixed."""
    b = distance / np.sqrt(2.0)
    w = b * np.eye(T + 1, p)[1:]
    w[:, 0] = np.sqrt(1.0 - b**2)
    return w


def _configs(p: dict) -> list[dict]:
    return [dict(zip(("T", "p", "n", "distance", "sigma"), c)) for c in p["configs"]]


def _values(p: dict, shift: int = 0, noise: str = "published") -> Prediction:
    """Theorem 1's E F_T and E G_T per configuration; ``shift`` = -1 writes r^{t-1} for r^t in the term of w_0 = 0
    (the off-by-one), ``noise`` replaces the noise term p sigma^2/(p - n - 1) (1 - r^t) by sigma^2 (1 - r^t)
    ("no p/(p-n-1)") or by the last task's noise alone, n sigma^2/(p - n - 1) ("last task")."""
    F, G = [], []
    for c in _configs(p):
        w = _truths(c["T"], c["p"], c["distance"])
        T, n, P, s2 = c["T"], c["n"], c["p"], c["sigma"] ** 2
        r = 1 - n / P
        f, g = th.expected_forgetting(w, n, c["sigma"]), th.expected_generalization_error(w, n, c["sigma"])
        norms = np.einsum("ij,ij->i", w, w)
        i = np.arange(1, T)
        if shift:
            g += (r ** (T + shift) - r**T) * norms.mean()
            f += np.mean((r ** (T + shift) - r**T - r ** (i + shift) + r**i) * norms[: T - 1])
        if s2 > 0 and noise != "published":
            c_pub = P * s2 / (P - n - 1)
            if noise == "no p/(p-n-1)":
                g += (s2 - c_pub) * (1 - r**T)
                f += (s2 - c_pub) * np.mean(r**i - r**T)
            else:  # the last task's noise only: its L_i(w_T) carries n sigma^2/(p-n-1), L_i(w_i) likewise
                g += n * s2 / (P - n - 1) - c_pub * (1 - r**T)
                f -= c_pub * np.mean(r**i - r**T)
        F.append(f)
        G.append(g)
    return Prediction(F=np.array(F), G=np.array(G))


def _predictions(p: dict) -> dict[str, Prediction]:
    return {
        "published": _values(p),
        "off by one: (1 - n/p)^(T-1) for (1 - n/p)^T in the term of w_0 = 0": _values(p, shift=-1),
        "noise term without its p/(p - n - 1) factor: sigma^2 (1 - (1 - n/p)^T)": _values(p, noise="no p/(p-n-1)"),
        "noise of the last task only: n sigma^2 / (p - n - 1)": _values(p, noise="last task"),
    }


def _simulate(ctx: ClaimContext) -> dict:
    p = ctx.params
    out = {"F": [], "G": []}
    for c, s in zip(_configs(p), np.random.SeedSequence(ctx.seed).spawn(len(p["configs"]))):
        run = sim.sequential_min_norm(
            _truths(c["T"], c["p"], c["distance"]), c["n"], sigma=c["sigma"], n_runs=p["n_runs"], seed=s
        )
        out["F"].append(run.forgetting)
        out["G"].append(run.generalization)
    return {k: np.array(v).T for k, v in out.items()}  # (n_runs, configs)


_n, _p, _T = sp.symbols("n p T", positive=True, integer=True)
_t, _i, _j = sp.symbols("t i j", positive=True, integer=True)
_sigma = sp.Symbol("sigma", nonnegative=True)
_w, _D = sp.IndexedBase("w^*"), sp.IndexedBase("D")  # ||w*_i||^2 as w^*[i]; D[j, i] = ||w*_j - w*_i||^2
_L = sp.Function("L")  # L(t, i) = E ||w_t - w*_i||^2


def model_error(shift: int = 0, noise: str = "published") -> sp.Expr:
    """E L_i(w_t) = r^t ||w*_i||^2 + sum_{j <= t} (1 - r) r^(t-j) ||w*_j - w*_i||^2 + p sigma^2/(p - n - 1) (1 - r^t),
    r = 1 - n/p ([LJLS23] proof of Theorem 1; theory.continual.expected_model_error). ``shift`` = -1 writes r^(t-1)
    in the term of w_0 = 0; ``noise``: "no p/(p-n-1)" (sigma^2 (1 - r^t)) or "last task" (n sigma^2/(p - n - 1))."""
    r = 1 - _n / _p
    noise_term = {
        "published": _p * _sigma**2 / (_p - _n - 1) * (1 - r**_t),
        "no p/(p-n-1)": _sigma**2 * (1 - r**_t),
        "last task": _n * _sigma**2 / (_p - _n - 1),
    }[noise]
    return r ** (_t + shift) * _w[_i] + sp.Sum((1 - r) * r ** (_t - _j) * _D[_j, _i], (_j, 1, _t)) + noise_term


def theorem1(shift: int = 0, noise: str = "published") -> tuple[sp.Eq, sp.Eq, sp.Eq]:
    """E G_T = (1/T) sum_i L(T, i) and E F_T = 1/(T - 1) sum_{i < T} [L(T, i) - L(i, i)] ([LJLS23] Theorem 1)."""
    L = sp.Lambda((_t, _i), model_error(shift, noise))
    G = sp.Sum(_L(_T, _i), (_i, 1, _T)) / _T
    F = sp.Sum(_L(_T, _i) - _L(_i, _i), (_i, 1, _T - 1)) / (_T - 1)
    return (
        sp.Eq(_L(_t, _i), L(_t, _i)),
        sp.Eq(sp.Symbol("E[G_T]"), G),
        sp.Eq(sp.Symbol("E[F_T]"), F),
    )


def _formulas(p: dict) -> dict:
    return {
        "published": theorem1(),
        "off by one: (1 - n/p)^(T-1) for (1 - n/p)^T in the term of w_0 = 0": theorem1(shift=-1),
        "noise term without its p/(p - n - 1) factor: sigma^2 (1 - (1 - n/p)^T)": theorem1(noise="no p/(p-n-1)"),
        "noise of the last task only: n sigma^2 / (p - n - 1)": theorem1(noise="last task"),
    }


@claim(
    "continual.forgetting_generalization",
    area=AREA,
    title="Sequential min-norm least squares over T tasks (p > n): Monte Carlo E[F_T] and E[G_T] equal Theorem 1's "
    "closed forms across p/n, task similarity, T and label noise",
    reference=LJLS,
    seed=20230212,
    quick=dict(
        configs=[  # (T, p, n, ||w*_i - w*_j||, sigma)
            (5, 15, 10, 0.5, 0.0),
            (5, 30, 10, 0.5, 0.0),
            (5, 60, 10, 0.5, 0.0),
            (5, 30, 10, 1.4, 0.0),
            (2, 30, 10, 1.0, 0.0),
            (10, 30, 10, 0.5, 0.5),
            (5, 25, 10, 0.5, 0.5),
            (3, 60, 10, 1.0, 1.0),
        ],
        n_runs=1000,
    ),  # p - n - 1 >= 14 wherever sigma > 0: the inverse-Wishart noise term tr (X^T X)^-1 has light enough tails
    # for the sample SE (at p = 20, n = 10 its right skew biased the sample mean low by ~3 SE on the pinned seed)
    full=dict(
        configs=[
            (5, 15, 10, 0.5, 0.0),
            (5, 30, 10, 0.5, 0.0),
            (5, 60, 10, 0.5, 0.0),
            (5, 120, 10, 0.5, 0.0),
            (5, 30, 10, 1.4, 0.0),
            (5, 30, 10, 0.1, 0.0),
            (2, 30, 10, 1.0, 0.0),
            (20, 30, 10, 0.5, 0.0),
            (10, 30, 10, 0.5, 0.5),
            (5, 25, 10, 0.5, 0.5),
            (3, 60, 10, 1.0, 1.0),
            (5, 40, 20, 0.8, 0.3),
        ],
        n_runs=8000,
    ),
    simulate=_simulate,
    predictions=_predictions,
    formulas=_formulas,
    resolution=0.03,
)
def forgetting_generalization(ctx: ClaimContext, data: dict, prediction: Prediction):
    alpha = stats.ALPHA / 2
    checks, rows = [], []
    for key, label in (("F", "forgetting F_T"), ("G", "generalisation error G_T")):
        checks.append(
            stats.mean_matches(
                f"E[{key}_T] = Theorem 1 at every configuration (exact at finite p, n)",
                data[key],
                prediction[key],
                alpha=alpha,
                bias_reason="none: the closed form is exact at finite p, n (no asymptotics)",
                seed=ctx.seed,
            )
        )
        sims, ses = data[key].mean(0), stats.standard_error(data[key])
        for x, (v, s, th_v) in enumerate(zip(sims, ses, np.asarray(prediction[key])), 1):
            rows += [
                dict(panel=label, series="Theorem 1", x=x, theory=th_v, simulated=np.nan, se=np.nan),
                dict(panel=label, series="Monte Carlo", x=x, theory=np.nan, simulated=v, se=s),
            ]
    panels = [
        Panel(label, "configuration (T, p, n, distance, sigma) index", label, title=f"{label}: theory vs mean +- SE")
        for label in ("forgetting F_T", "generalisation error G_T")
    ]
    return ctx.evidence(checks, rows, panels)
