"""Steepest descent under a norm (Bernstein & Newhouse 2024): optimizer identities and dual-norm maximisers.

``optimizer_identities``: Adam with beta1 = beta2 = 0 (eps -> 0) updates by sign(G), and Shampoo without accumulation
((G G^T)^(-1/4) G (G^T G)^(-1/4)) by U V^T, on random gradients, to a derived round-off and eps bound. ``dual_maximiser``:
each norm's steepest direction lies on its unit sphere, attains <G, T> = ||G||_dual, and no random feasible direction
(three sampled families per gradient, dltheory.simulators.steepest_descent.unit_ball_values) exceeds ||G||_dual.

Not a control: the suggested "(G G^T)^(-1/2) G instead of the two quarter powers" equals U V^T as well (G = U S V^T
gives U S^-1 U^T U S V^T = U V^T), so it is no mistake; the nearest exponent slip is -1/2 on BOTH sides, U S^-1 V^T.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from dltheory.simulators import steepest_descent as sim
from dltheory.theory import steepest_descent as th
from dltheory.verify import stats
from dltheory.verify.evidence import Check, Panel
from dltheory.verify.prediction import Prediction
from dltheory.verify.registry import ClaimContext, claim

AREA = "optimizers as steepest descent"
BN24 = "Bernstein & Newhouse 2024 (arXiv:2409.20325), Prop. 1 and its Adam and Shampoo sections"
U = np.finfo(float).eps / 2


def _gradients(p: dict, seed) -> list[np.ndarray]:
    g = np.random.default_rng(seed)
    return [g.standard_normal((p["n_steps"], m, n)) for m, n in p["shapes"]]


# ---------------------------------------------------------------------------------------------------
# 1. Adam (beta = 0) = sign descent; Shampoo (no accumulation) = U V^T


def _two_sided(G: np.ndarray, power: float) -> np.ndarray:
    """(G G^T)^power G (G^T G)^power on the ranges (pseudo-inverse powers), by SVD: U S^(1 + 4 power) V^T."""
    Uu, s, Vt = np.linalg.svd(G, full_matrices=False)
    return (Uu * s ** (1 + 4 * power)) @ Vt


_m, _n = sp.symbols("m n", positive=True, integer=True)
_G = sp.MatrixSymbol("G", _m, _n)
_i, _j, _r = sp.symbols("i j r", positive=True, integer=True)
_g, _s = sp.IndexedBase("G"), sp.IndexedBase("s")  # entries G_ij and singular values s_r of G = U diag(s) V^T
_U, _Vt = sp.MatrixSymbol("U", _m, sp.Symbol("rank")), sp.MatrixSymbol("V^T", sp.Symbol("rank"), _n)
_T_adam, _T_shampoo = sp.MatrixSymbol("T_Adam", _m, _n), sp.MatrixSymbol("T_Shampoo", _m, _n)


def _frobenius() -> sp.Expr:
    return sp.sqrt(sp.Sum(_g[_i, _j] ** 2, (_i, 1, _m), (_j, 1, _n)))


def _identity_formulas(p: dict) -> dict:
    """Adam (beta1 = beta2 = 0, eps -> 0): m/sqrt(v) = G_ij/|G_ij| = sign(G_ij) entrywise; Shampoo without
    accumulation: (G G^T)^(-1/4) G (G^T G)^(-1/4) = U V^T for G = U S V^T."""
    adam = sp.Eq(sp.Indexed("T_Adam", _i, _j), _g[_i, _j] / sp.sqrt(_g[_i, _j] ** 2))
    sign = sp.Eq(sp.Indexed("T_Adam", _i, _j), sp.sign(_g[_i, _j]))
    quarter = sp.MatPow(_G * _G.T, sp.Rational(-1, 4)) * _G * sp.MatPow(_G.T * _G, sp.Rational(-1, 4))
    shampoo = (sp.Eq(_T_shampoo, quarter), sp.Eq(_T_shampoo, _U * _Vt))
    half = sp.MatPow(_G * _G.T, sp.Rational(-1, 2)) * _G * sp.MatPow(_G.T * _G, sp.Rational(-1, 2))
    S_inv = sp.MatrixSymbol("S^-1", sp.Symbol("rank"), sp.Symbol("rank"))
    return {
        "published": (adam, sign, *shampoo),
        "Adam without moving averages normalises by the global RMS: G / sqrt(mean G^2)": (
            sp.Eq(sp.Indexed("T_Adam", _i, _j), _g[_i, _j] * sp.sqrt(_m * _n) / _frobenius()),
            *shampoo,
        ),
        "Shampoo with inverse square roots on both sides: (G G^T)^(-1/2) G (G^T G)^(-1/2) = U S^-1 V^T": (
            adam,
            sign,
            sp.Eq(_T_shampoo, half),
            sp.Eq(_T_shampoo, _U * S_inv * _Vt),
        ),
        "Shampoo without accumulation taken for normalised SGD: G / ||G||_F": (
            adam,
            sign,
            sp.Eq(_T_shampoo, _G / _frobenius()),
        ),
    }


def _identity_predictions(p: dict) -> dict[str, Prediction]:
    published = Prediction(
        adam=lambda G: th.steepest_direction(G, "l_inf"), shampoo=lambda G: th.steepest_direction(G, "spectral")
    )
    return {
        "published": published,
        "Adam without moving averages normalises by the global RMS: G / sqrt(mean G^2)": published.replace(
            adam=lambda G: G / np.sqrt(np.mean(G * G))
        ),
        "Shampoo with inverse square roots on both sides: (G G^T)^(-1/2) G (G^T G)^(-1/2) = U S^-1 V^T": (
            published.replace(shampoo=lambda G: _two_sided(G, -0.5))
        ),
        "Shampoo without accumulation taken for normalised SGD: G / ||G||_F": published.replace(
            shampoo=lambda G: th.steepest_direction(G, "frobenius")
        ),
    }


def _simulate_identities(ctx: ClaimContext) -> dict:
    p = ctx.params
    grads = _gradients(p, ctx.seed)
    return dict(
        grads=grads,
        adam=[sim.adam_updates(G, beta1=0.0, beta2=0.0, eps=p["eps"]) for G in grads],
        shampoo=[sim.shampoo_updates(G, beta=0.0, eps=p["eps"]) for G in grads],
    )


@claim(
    "steepest_descent.optimizer_identities",
    area=AREA,
    title="With moving averages off, Adam's update is sign(G) and Shampoo's (G G^T)^(-1/4) G (G^T G)^(-1/4) is U V^T",
    reference=BN24,
    seed=2409_20325,
    quick=dict(shapes=[[4, 6], [6, 6], [8, 3], [1, 5]], n_steps=8, eps=1e-12),
    full=dict(shapes=[[4, 6], [6, 6], [8, 3], [1, 5], [32, 64], [64, 16]], n_steps=32, eps=1e-12),
    simulate=_simulate_identities,
    predictions=_identity_predictions,
    formulas=_identity_formulas,
    resolution=1e-10,
)
def optimizer_identities(ctx: ClaimContext, data: dict, prediction: Prediction):
    """Per entry: Adam (beta1 = beta2 = 0): |u - sign g| = eps/(|g| + eps) + 3u at most (m_hat = g, sqrt(v_hat) =
    |g|(1 + u), one addition, one division); tolerance 2 eps/|g| + 4u. Shampoo (beta = 0): exact u = U diag(s/sqrt(s^2 + eps)) V^T, so |u - U V^T| <= eps/(2 s_min^2) entrywise
    (entries of U V^T and of its perturbation are bounded by their spectral norm), plus the eigendecomposition's
    round-off: the inverse fourth root has Frechet derivative <= (1/4) lambda_min^(-5/4) (Daleckii-Krein), eigh's backward
    error is <= 4 (m + n) u ||G||_2^2, so 2 (m + n) u kappa^2 for both factors (kappa = s_max/s_min), times 4 for slack.
    For m != n one factor has a null space where (lambda + eps)^(-1/4) = eps^(-1/4): the backward error mixes it with
    the range through divided differences ~ eps^(-1/4) / s_min^2, adding 8 (m + n) u kappa^2 s_max s_min^(-1/2)
    eps^(-1/4)."""
    eps = ctx.params["eps"]
    checks, rows = [], []
    for G, A, S in zip(data["grads"], data["adam"], data["shampoo"]):
        m, n = G.shape[1:]
        label = f"{m}x{n}"
        adam_pred = np.array([prediction["adam"](g) for g in G])
        shampoo_pred = np.array([prediction["shampoo"](g) for g in G])
        s = np.linalg.svd(G, compute_uv=False)
        s_min = s[:, -1][:, None, None]
        kappa2 = (s[:, 0] / s[:, -1])[:, None, None] ** 2
        null = 1.0 if m == n else s[:, 0][:, None, None] / np.sqrt(s_min) * eps**-0.25
        checks += [
            stats.deterministic(
                f"{label}: Adam(beta1 = beta2 = 0) = sign(G)",
                A,
                adam_pred,
                atol=2 * eps / np.abs(G) + 4 * U,
                reason="twice the eps bias eps/(|g| + eps), plus 4u, per entry",
                seed=ctx.seed,
            ),
            stats.deterministic(
                f"{label}: Shampoo(no accumulation) = U V^T",
                S,
                shampoo_pred,
                atol=np.broadcast_to(eps / (2 * s_min**2) + 8 * (m + n) * U * kappa2 * null, S.shape),
                reason="eps/(2 s_min^2) + 8 (m+n) u kappa^2 [x s_max s_min^-1/2 eps^-1/4 if m != n] per entry",
                seed=ctx.seed,
            ),
        ]
        rows += [
            dict(panel="Adam", series=label, x=x, theory=np.nan, simulated=y, se=np.nan)
            for x, y in zip(adam_pred[0].ravel(), A[0].ravel())
        ]
        rows += [
            dict(panel="Shampoo", series=label, x=x, theory=np.nan, simulated=y, se=np.nan)
            for x, y in zip(shampoo_pred[0].ravel(), S[0].ravel())
        ]
    panels = (
        Panel("Adam", "predicted direction", "Adam's update (beta1 = beta2 = 0)", title="first gradient per shape"),
        Panel("Shampoo", "predicted direction", "Shampoo's update (no accumulation)", title="first gradient per shape"),
    )
    return ctx.evidence(checks, rows, panels)


# ---------------------------------------------------------------------------------------------------
# 2. Each direction maximises <G, T> over its unit ball; the maximum is the dual norm


_NORM_SYMBOLS = {"l_inf": "infinity", "frobenius": "F", "spectral": "2"}


def dual_formulas(kind: str = "published") -> tuple:
    """[BN24] Prop. 1: argmax_(||T|| <= 1) <G, T> and its value ||G||_dual per norm: l_inf -> sign(G), sum |G_ij|;
    Frobenius -> G / ||G||_F, ||G||_F; spectral -> U V^T, sum_r s_r (nuclear). ``kind``: "published", "sgd" (G/||G||_F
    everywhere), "rescaled" (G/||G||, value ||G||_F^2/||G||), "self-dual" (max |G_ij|, s_max)."""
    l1 = sp.Sum(sp.Abs(_g[_i, _j]), (_i, 1, _m), (_j, 1, _n))
    nuclear = sp.Sum(_s[_r], (_r, 1, sp.Symbol("rank")))
    F = _frobenius()
    linf, s_max = sp.Symbol("max|G_ij|"), _s[1]
    direction = {
        "published": (sp.sign(_g[_i, _j]), _g[_i, _j] / F, sp.Indexed("(U V^T)", _i, _j)),
        "sgd": (_g[_i, _j] / F,) * 3,
        "rescaled": (_g[_i, _j] / linf, _g[_i, _j] / F, _g[_i, _j] / s_max),
        "self-dual": (sp.sign(_g[_i, _j]), _g[_i, _j] / F, sp.Indexed("(U V^T)", _i, _j)),
    }[kind]
    value = {
        "published": (l1, F, nuclear),
        "sgd": (F,) * 3,
        "rescaled": (F**2 / linf, F, F**2 / s_max),
        "self-dual": (linf, F, s_max),
    }[kind]
    out = []
    for norm, d, v in zip(("l_inf", "frobenius", "spectral"), direction, value):
        sub = _NORM_SYMBOLS[norm]
        out += [sp.Eq(sp.Indexed(f"T^*_{sub}", _i, _j), d), sp.Eq(sp.Symbol(f"||G||_{sub}^dual"), v)]
    return tuple(out)


def _maximiser_formulas(p: dict) -> dict:
    return {
        "published": dual_formulas(),
        "SGD's G / ||G||_F taken as steepest under every norm (dual ||G||_F)": dual_formulas("sgd"),
        "the gradient rescaled onto each unit sphere, G / ||G|| (value ||G||_F^2 / ||G||)": dual_formulas("rescaled"),
        "each norm taken as self-dual: max |G_ij| for l_inf, s_max for spectral": dual_formulas("self-dual"),
    }


def _maximiser_predictions(p: dict) -> dict[str, Prediction]:
    def rescaled(G, norm):
        return G / sim.ball_norm(G, norm)

    return {
        "published": Prediction(direction=th.steepest_direction, dual=th.dual_norm),
        "SGD's G / ||G||_F taken as steepest under every norm (dual ||G||_F)": Prediction(
            direction=lambda G, norm: th.steepest_direction(G, "frobenius"),
            dual=lambda G, norm: th.dual_norm(G, "frobenius"),
        ),
        "the gradient rescaled onto each unit sphere, G / ||G|| (value ||G||_F^2 / ||G||)": Prediction(
            direction=rescaled, dual=lambda G, norm: float(np.sum(G * rescaled(G, norm)))
        ),
        "each norm taken as self-dual: max |G_ij| for l_inf, s_max for spectral": Prediction(
            direction=th.steepest_direction, dual=lambda G, norm: sim.ball_norm(G, norm)
        ),
    }


def _simulate_maximiser(ctx: ClaimContext) -> list[dict]:
    p = ctx.params
    out = []
    grad_seed, sample_seed = np.random.SeedSequence(ctx.seed).spawn(2)
    streams = sample_seed.spawn(len(p["shapes"]) * len(th.NORMS))
    grads = _gradients(p, grad_seed)
    for i, G_all in enumerate(grads):
        for j, norm in enumerate(th.NORMS):
            s = streams[i * len(th.NORMS) + j]
            out += [
                dict(norm=norm, G=G, values=sim.unit_ball_values(G, norm, n_samples=p["n_samples"], seed=t))
                for G, t in zip(G_all, s.spawn(len(G_all)))
            ]
    return out


@claim(
    "steepest_descent.dual_maximiser",
    area=AREA,
    title="sign(G), G/||G||_F and U V^T lie on the unit spheres of l_inf, Frobenius and spectral norms, attain "
    "<G, T> = the dual norm (l1, Frobenius, nuclear), and no sampled feasible direction does better",
    reference=BN24,
    seed=2024_0930,
    quick=dict(shapes=[[4, 6], [6, 6], [8, 3]], n_steps=3, n_samples=1500),
    full=dict(shapes=[[4, 6], [6, 6], [8, 3], [1, 5], [16, 32]], n_steps=8, n_samples=30000),
    simulate=_simulate_maximiser,
    predictions=_maximiser_predictions,
    formulas=_maximiser_formulas,
    resolution=1e-10,
)
def dual_maximiser(ctx: ClaimContext, data: list[dict], prediction: Prediction):
    """Per norm, over all gradients: (i) | ||T|| - 1 | <= 8 (m+n) u (one SVD or one max / square-root sum);
    (ii) |<G, T> - dual| <= 8 (m+n) u sqrt(mn) ||G||_F (SVD backward error, Cauchy-Schwarz over mn entries); (iii) the
    number of sampled feasible directions with <G, T_s> > dual + tol is 0 (tol: the samples' own normalisation
    round-off, 8 (m+n) u times sum |G|)."""
    checks, rows = [], []
    for norm in th.NORMS:
        cases = [c for c in data if c["norm"] == norm]
        sphere, value, tol_s, tol_v, beaten, n_total, best = [], [], [], [], 0, 0, -np.inf
        for c in cases:
            G = c["G"]
            m, n = G.shape
            T = np.asarray(prediction["direction"](G, norm), float)
            dual = float(prediction["dual"](G, norm))
            k = 8 * (m + n) * U
            sphere.append(sim.ball_norm(T, norm))
            value.append((float(np.sum(G * T)), dual))
            tol_s.append(k)
            tol_v.append(k * np.sqrt(m * n) * np.linalg.norm(G))
            beaten += int(np.sum(c["values"] > dual + k * np.abs(G).sum()))
            n_total += c["values"].size
            best = max(best, float(c["values"].max() - dual))
            rows.append(
                dict(
                    panel=norm,
                    series="best sampled <G, T> (points) vs dual norm",
                    x=dual,
                    theory=dual,
                    simulated=float(c["values"].max()),
                    se=np.nan,
                )
            )
        checks += [
            stats.deterministic(
                f"{norm}: ||T|| = 1", sphere, 1.0, atol=np.array(tol_s), reason="8 (m+n) u", seed=ctx.seed
            ),
            stats.deterministic(
                f"{norm}: <G, T> = ||G||_dual",
                [v for v, _ in value],
                [d for _, d in value],
                atol=np.array(tol_v),
                reason="8 (m+n) u sqrt(mn) ||G||_F",
                seed=ctx.seed,
            ),
            Check(
                name=f"{norm}: no sampled feasible direction beats the predicted maximum",
                statistic=float(beaten),
                threshold=0.0,
                relation="<=",
                detail=f"{beaten} of {n_total} sampled unit-sphere directions exceed the predicted dual norm "
                f"(largest excess of a sample over it: {best:.4g}); seed={ctx.seed}",
            ),
        ]
    panels = tuple(
        Panel(norm, "predicted max = dual norm", "best sampled <G, T>", title=f"{norm}: sampled search")
        for norm in th.NORMS
    )
    return ctx.evidence(checks, rows, panels)
