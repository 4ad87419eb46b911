"""Finite-width non-Gaussianity of MLP preactivations at init (PDLT ch. 4-5; Hanin & Nica 2019).

Networks are sampled with dltheory.simulators.abc_mlp.forward_gram (one input, exact in law; checked here against
explicitly drawn weight matrices by a two-sample KS test). Kurtosis is estimated through the conditional
variance G of each preactivation layer: z^(l) | layer l-1 ~ N(0, G) exactly, so E z^4 = 3 E G^2 and
E z^2 = E G (a Rao-Blackwellised estimator, unbiased up to the O(1/S) bias of a ratio of means, bounded
below). Standard errors are delta-method over the S independent networks.
"""

from __future__ import annotations

import numpy as np
from scipy import stats as sps

from dltheory.simulators import abc_mlp as sim
from dltheory.theory import finite_width as th
from dltheory.verify import stats
from dltheory.verify.evidence import Check, Panel
from dltheory.verify.registry import ClaimContext, claim

AREA = "infinite width: finite-width corrections"
ALPHA = 1e-3
PDLT = "Roberts, Yaida & Hanin 2022, Principles of Deep Learning Theory (arXiv:2106.10165)"


def kurtosis_ratio(G: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """R = E z^4/(E z^2)^2 = 3 mean(G^2)/mean(G)^2 per layer from conditional variances G (S, L).

    Returns (R, SE, bias bound): SE by the delta method over networks; bias bound = the first-order bias
    of the ratio of means, |3 Var(G)/B^2 - 2 Cov(G^2, G)/(A B)| R / S with A = E G^2, B = E G.
    """
    S = G.shape[0]
    A, B = (G**2).mean(0), G.mean(0)
    R = 3 * A / B**2
    psi = 3 * G**2 / B**2 - 6 * A * G / B**3  # influence function of 3 A/B^2
    se = psi.std(0, ddof=1) / np.sqrt(S)
    cov = ((G**2 - A) * (G - B)).mean(0)
    bias = np.abs(3 * G.var(0) / B**2 - 2 * cov / (A * B)) * R / S
    return R, se, bias


def z_check(name, est, se, bias, pred, alpha, seed, reason) -> Check:
    """Worst |est - pred| / (z(alpha/m) SE + bias) over m points (Bonferroni); passes when <= 1."""
    est, se, bias, pred = (np.broadcast_to(np.asarray(v, float), np.shape(est)) for v in (est, se, bias, pred))
    m = est.size
    z = stats.z_two_sided(stats.bonferroni(alpha, m))
    ratio = np.abs(est - pred) / (z * se + bias)
    i = int(np.nanargmax(ratio)) if np.all(np.isfinite(ratio)) else int(np.argmax(~np.isfinite(ratio)))
    detail = (
        f"worst of {m} point(s) at index {i}: theory={pred.flat[i]:.6g}, estimate={est.flat[i]:.6g}, "
        f"SE={se.flat[i]:.3g}, bias bound={bias.flat[i]:.3g} ({reason}), z={z:.2f} (alpha={alpha:g}); "
        f"seed={seed}"
    )
    return Check(name=name, statistic=float(ratio.flat[i]), threshold=1.0, relation="<=", detail=detail)


def slope_check(name, x, values, se, predicted_slope, alpha, seed, reason, *, floor: float = 0.0) -> Check:
    """Log-log slope of ``values`` vs ``x`` (stats.fit_rate: >= 4 sizes over >= 1 decade) against a predicted
    slope over the SAME sizes; SE = the Monte Carlo SE of the points propagated through the least-squares
    weights (se/value per log point). No residual-scatter term: when the prediction is evaluated on the same x,
    curvature of the law is common to both and is not noise; otherwise ``floor`` bounds it (say why in
    ``reason``)."""
    fit = stats.fit_rate(x, values)
    lx = np.log(fit.x)
    w = (lx - lx.mean()) / np.sum((lx - lx.mean()) ** 2)
    se_slope = float(np.sqrt(np.sum((w * np.asarray(se) / np.asarray(values)) ** 2)))
    return z_check(name, fit.slope, se_slope, floor, predicted_slope, alpha, seed, reason)


def limit_chi2_check(name, x, values, se, prediction, *, degree: int, alpha, seed) -> Check:
    """values = prediction + sum_{k=1..degree} b_k x^k with the intercept FIXED at the predicted limit:
    weighted least squares for b, chi^2 of the residuals with (points - degree) dof; passes when p >= alpha.
    A wrong limit or a wrong functional form both raise chi^2. The detail also reports the free-intercept fit."""
    x, values, se = (np.asarray(v, float) for v in (x, values, se))
    A = np.column_stack([x**k for k in range(1, degree + 1)]) / se[:, None]
    b, *_ = np.linalg.lstsq(A, (values - prediction) / se, rcond=None)
    chi2 = float(np.sum(((values - prediction) / se - A @ b) ** 2))
    dof = x.size - degree
    if dof < 1:
        raise ValueError(f"limit check needs more than degree={degree} points, got {x.size}")
    p = float(sps.chi2.sf(chi2, dof))
    A1 = np.column_stack([np.ones_like(x), A * se[:, None]]) / se[:, None]
    coef, *_ = np.linalg.lstsq(A1, values / se, rcond=None)
    a_se = float(np.sqrt(np.linalg.inv(A1.T @ A1)[0, 0]))
    detail = (
        f"limit fixed at {prediction:.6g}: chi2={chi2:.3g}, dof={dof}, p={p:.3g} (alpha={alpha:g}); "
        f"free fit: limit={coef[0]:.6g} +- {a_se:.2g}; polynomial degree {degree} in x; seed={seed}"
    )
    return Check(name=name, statistic=p, threshold=alpha, relation=">=", detail=detail)


def _sample_G(widths, n_nets, seed, activation, C_W, K1=1.0):
    x = np.full((1, 4), np.sqrt(K1 / C_W))  # C_W |x|^2 / n_0 = K1
    return sim.forward_gram(x, widths, activation=activation, C_W=C_W, C_b=0.0, n_nets=n_nets, seed=seed).G[..., 0, 0]


def _sampler_check(p, seed: np.random.SeedSequence, activation, C_W, claim_seed) -> Check:
    """Gram sampler vs explicit weight matrices: two-sample KS of the last layer's G (same law)."""
    a, b = seed.spawn(2)
    x = np.full((1, 4), np.sqrt(1.0 / C_W))
    kw = dict(activation=activation, C_W=C_W, C_b=0.0, n_nets=p["ks_nets"])
    g1 = sim.forward_gram(x, p["ks_widths"], seed=a, **kw).G[:, -1, 0, 0]
    g2 = sim.forward_full(x, p["ks_widths"], seed=b, **kw).G[:, -1, 0, 0]
    return stats.distribution_matches(
        f"sampler in law == explicit weights (widths {p['ks_widths']})", g1, g2, alpha=ALPHA / 4, seed=claim_seed
    )


# ---------------------------------------------------------------------------------------------------
# ReLU: exact 3 prod(1 + 5/n_j)


def _relu_exact(widths, wrong: bool):
    # control: off by one in which widths enter (the layer's own width n_l included)
    exact = th.relu_kurtosis_exact(list(widths))  # layers 1..len(widths)+1
    return exact[1:] if wrong else exact[:-1]


@claim(
    "pdlt.relu_kurtosis",
    area=AREA,
    title="ReLU preactivation kurtosis E z^4/(E z^2)^2 = 3 prod_{j<l}(1 + 5/n_j) exactly at every depth and "
    "width; the excess kurtosis falls as 1/n with limit n(R-3) -> 15(l-1)",
    reference=f"Hanin & Nica 2019 (arXiv:1812.05994) product of chi-squares; {PDLT} eq. 5.106 [K] (5(l-1)/n "
    "normalised vertex = excess kurtosis / 3)",
    control="the layer's own width included, 3 prod_{j<=l}(1 + 5/n_j); limit 5(l-1) (vertex mistaken for "
    "excess kurtosis); width slope -1/2",
    seed=20190521,
    quick=dict(
        widths=[16, 32, 64, 128, 256],
        depth=6,
        mixed=[16, 64, 16, 64, 32, 128],
        n_nets=20000,
        ks_widths=[16, 16, 16, 16],
        ks_nets=3000,
    ),
    full=dict(
        widths=[16, 32, 64, 128, 256, 512],
        depth=10,
        mixed=[16, 64, 16, 64, 32, 128, 32, 64, 16, 48],
        n_nets=100000,
        ks_widths=[16, 16, 16, 16, 16],
        ks_nets=20000,
    ),
)
def relu_kurtosis(ctx: ClaimContext):
    p = ctx.params
    L, ns = p["depth"], np.array(p["widths"], float)
    ss = np.random.SeedSequence(ctx.seed).spawn(len(ns) + 2)
    configs = {f"n={int(n)}": [int(n)] * L for n in ns} | {"mixed widths": list(p["mixed"])}
    est = {}
    for (name, widths), seed in zip(configs.items(), ss):
        est[name] = kurtosis_ratio(_sample_G(widths, p["n_nets"], seed, "relu", 2.0))
    ks = _sampler_check(p, ss[-1], "relu", 2.0, ctx.seed)
    ell = np.arange(1, L + 1)

    def judge(wrong: bool):
        checks, rows = [ks], []
        for name, widths in configs.items():
            R, se, bias = est[name]
            pred = _relu_exact(widths, wrong)
            checks.append(
                z_check(
                    f"{name}: R_l = 3 prod(1+5/n_j), l = 2..{len(widths)}",
                    R[1:],
                    se[1:],
                    bias[1:],
                    pred[1:],
                    ALPHA / (2 * len(configs)),
                    ctx.seed,
                    "first-order ratio-of-means bias (see kurtosis_ratio)",
                )
            )
            rows += [
                dict(panel="kurtosis", series=name, x=int(l), theory=t, simulated=r, se=e)
                for l, t, r, e in zip(ell, pred, R, se)
            ]
        # width dependence of the deepest layer: slope -1 and limit n (R - 3) -> 15 (L - 1)
        R_L = np.array([est[f"n={int(n)}"][0][-1] for n in ns])
        se_L = np.array([est[f"n={int(n)}"][1][-1] for n in ns])
        exact_L = np.array([th.relu_kurtosis_exact([int(n)] * (L - 1))[-1] for n in ns])
        exact_slope = stats.fit_rate(ns, exact_L - 3).slope
        checks.append(
            slope_check(
                f"layer {L}: log-log slope of R - 3 vs n",
                ns,
                R_L - 3,
                se_L,
                -0.5 if wrong else exact_slope,
                ALPHA / 4,
                ctx.seed,
                f"none: compared with the exact product's slope over the same widths ({exact_slope:.3f}; -1 + O(l/n))",
            )
        )
        checks.append(
            limit_chi2_check(
                f"layer {L}: n (R - 3) -> 15 (l - 1) as n -> inf",
                1 / ns,
                ns * (R_L - 3),
                ns * se_L,
                (5.0 if wrong else 15.0) * (L - 1),
                degree=3,
                alpha=ALPHA / 4,
                seed=ctx.seed,
            )
        )
        rows += [
            dict(panel="width", series=f"layer {L}", x=n, theory=np.nan, simulated=r - 3, se=e)
            for n, r, e in zip(ns, R_L, se_L)
        ]
        n_fine = np.geomspace(ns.min(), ns.max(), 30)
        rows += [
            dict(
                panel="width",
                series=f"layer {L}",
                x=n,
                theory=_relu_exact([int(round(n))] * L, wrong)[-1] - 3,
                simulated=np.nan,
                se=np.nan,
            )
            for n in n_fine
        ]
        panels = (
            Panel(
                "kurtosis",
                "layer l",
                "E z^4 / (E z^2)^2",
                "linear",
                "log",
                "ReLU, C_W = 2: exact product (lines) vs sampled networks (mean +- SE)",
            ),
            Panel(
                "width", "width n", "excess kurtosis R - 3", "log", "log", f"layer {L}: 1/n decay (line: exact product)"
            ),
        )
        return ctx.evidence(
            checks, rows, panels, prediction="own width included / limit 5(l-1)" if wrong else "published"
        )

    return judge(False), judge(True)


# ---------------------------------------------------------------------------------------------------
# tanh at criticality: the four-point-vertex recursion at leading order


@claim(
    "pdlt.tanh_vertex",
    area=AREA,
    title="tanh at criticality (C_W = 1, C_b = 0): excess kurtosis = 3 V^(l)/(n K^(l)2) from the single-input "
    "four-point-vertex recursion, exact at l = 2 and the n -> inf limit of n kappa at every depth",
    reference=f"{PDLT}, eq. 4.119 (four-point vertex recursion, single input) and sec. 5.3 (K* = 0 class) [K]",
    control="the factor 3 dropped: kappa = V/(n K^2) (the normalised vertex mistaken for the excess kurtosis)",
    seed=20210621,
    quick=dict(widths=[16, 32, 64, 128, 256], depth=6, n_nets=20000, ks_widths=[16, 16, 16, 16], ks_nets=3000),
    full=dict(
        widths=[16, 32, 64, 128, 256, 512], depth=10, n_nets=100000, ks_widths=[16, 16, 16, 16, 16], ks_nets=20000
    ),
)
def tanh_vertex(ctx: ClaimContext):
    p = ctx.params
    L, ns = p["depth"], np.array(p["widths"], float)
    ss = np.random.SeedSequence(ctx.seed).spawn(len(ns) + 1)
    kappa, se, bias = [], [], []
    for n, seed in zip(ns, ss):
        R, e, b = kurtosis_ratio(_sample_G([int(n)] * L, p["n_nets"], seed, "tanh", 1.0))
        kappa.append(R - 3), se.append(e), bias.append(b)
    kappa, se, bias = np.array(kappa), np.array(se), np.array(bias)  # (widths, layers)
    ks = _sampler_check(p, ss[-1], "tanh", 1.0, ctx.seed)
    ell = np.arange(1, L + 1)

    def predicted(n, wrong):
        k = th.four_point_recursion(1.0, [int(n)] * (L - 1), C_W=1.0, C_b=0.0, activation="tanh")["kappa"]
        return k / 3 if wrong else k

    def judge(wrong: bool):
        pred = np.array([predicted(n, wrong) for n in ns])
        checks = [
            ks,
            z_check(
                "layer 2 (exact at every width): kappa = 3 V^(2)/(n K^2)",
                kappa[:, 1],
                se[:, 1],
                bias[:, 1],
                pred[:, 1],
                ALPHA / 4,
                ctx.seed,
                "ratio-of-means bias only: the l = 2 recursion has no 1/n^2 term",
            ),
        ]
        a = ALPHA / 4 / (L - 2)
        for j in range(2, L):
            checks.append(
                limit_chi2_check(
                    f"layer {j + 1}: n kappa -> n * recursion as n -> inf (n kappa = a + b/n + c/n^2)",
                    1 / ns,
                    ns * kappa[:, j],
                    ns * se[:, j],
                    float(ns[0] * pred[0, j]),
                    degree=2,
                    alpha=a,
                    seed=ctx.seed,
                )
            )
        rows = []
        for i, n in enumerate(ns):
            rows += [
                dict(panel="depth", series=f"n={int(n)}", x=int(l), theory=n * t, simulated=n * k, se=n * e)
                for l, t, k, e in zip(ell, pred[i], kappa[i], se[i])
            ]
        for j in range(2, L):
            rows += [
                dict(panel="width", series=f"layer {j + 1}", x=n, theory=pred[i, j], simulated=kappa[i, j], se=se[i, j])
                for i, n in enumerate(ns)
            ]
        panels = (
            Panel(
                "depth",
                "layer l",
                "n x excess kurtosis",
                title="tanh, C_W = 1: recursion (lines) vs sampled networks (mean +- SE) at each width",
            ),
            Panel(
                "width",
                "width n",
                "excess kurtosis",
                "log",
                "log",
                "leading-order recursion (lines) vs sampled networks",
            ),
        )
        return ctx.evidence(checks, rows, panels, prediction="factor 3 dropped" if wrong else "published")

    return judge(False), judge(True)
