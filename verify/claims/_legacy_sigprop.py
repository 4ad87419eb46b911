"""Signal propagation in deep random networks (Poole et al. 2016; Schoenholz et al. 2017; Klambauer et al. 2017).

Networks h^l = W^l phi(h^{l-1}) + b^l with W ~ N(0, sigma_w2/N), b ~ N(0, sigma_b2), two inputs, sampled by
dltheory.simulators.abc_mlp.forward_gram (exact in law). The infinite-width maps of dltheory.theory.signal_propagation hold as
N -> inf; at finite N every per-layer statistic carries an O(1/N) bias. Each per-layer check therefore sweeps
N over >= 4 widths spanning > 1 decade and tests that the statistic extrapolates to the map's value
(dltheory.verify.claims.pdlt.limit_chi2_check: intercept fixed at the prediction, a + b/N + c/N^2 model).
"""

from __future__ import annotations

import math

import numpy as np

from dltheory.simulators import abc_mlp as sim
from dltheory.theory import signal_propagation as th
from dltheory.theory.gaussian import gaussian_expectation
from dltheory.verify.claims.pdlt import limit_chi2_check
from dltheory.verify.evidence import Panel
from dltheory.verify.registry import ClaimContext, claim

AREA = "infinite width: signal propagation"
ALPHA = 1e-3
POOLE = "Poole et al. 2016 (arXiv:1606.05340) eqs. 3, 5, 7; Schoenholz et al. 2017 (arXiv:1611.01232) eqs. 6, 9"


def _inputs(q1: float, c1: float, sigma_w2: float, sigma_b2: float, n0: int = 8) -> np.ndarray:
    """Two inputs with layer-1 kernel q_aa = q_bb = q1 and correlation c1 (needs q1 > sigma_b2)."""
    r2 = (q1 - sigma_b2) * n0 / sigma_w2  # |x|^2
    target = (c1 * q1 - sigma_b2) * n0 / sigma_w2  # x_a . x_b
    e1, e2 = np.eye(n0)[0], np.eye(n0)[1]
    cos = target / r2
    return math.sqrt(r2) * np.vstack([e1, cos * e1 + math.sqrt(1 - cos**2) * e2])


def _simulate(p, widths, seed, activation, sigma_w2, sigma_b2, x):
    ss = (seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)).spawn(len(widths))
    return [
        sim.forward_gram(
            x, [int(n)] * p["depth"], activation=activation, C_W=sigma_w2, C_b=sigma_b2, n_nets=p["n_nets"], seed=s
        )
        for n, s in zip(widths, ss)
    ]


def _mean_se(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return v.mean(0), v.std(0, ddof=1) / math.sqrt(v.shape[0])


@claim(
    "sigprop.maps",
    area=AREA,
    title="Deep tanh networks follow the q- and c-maps to the fixed points q*, c* (ordered: c* = 1; chaotic: "
    "c* < 1) and approach c* at the depth scale xi_c",
    reference=POOLE,
    control="the maps with the bias variance sigma_b2 dropped (q*, c*, chi_1 and xi_c of sigma_b2 = 0)",
    seed=20161201,
    quick=dict(
        phases={
            "ordered": dict(sigma_w2=1.5, sigma_b2=0.05, c1=0.2, window=[40, 70]),
            "chaotic": dict(sigma_w2=4.0, sigma_b2=0.05, c1=-0.3, window=[3, 18]),
        },
        widths=[32, 64, 128, 256, 512],
        depth=70,
        n_nets=200,
        q1=1.0,
        layers=[2, 4, 8, 16, 32, 70],
    ),
    full=dict(
        phases={
            "ordered": dict(sigma_w2=1.5, sigma_b2=0.05, c1=0.2, window=[60, 120]),
            "chaotic": dict(sigma_w2=4.0, sigma_b2=0.05, c1=-0.3, window=[3, 22]),
            "ordered, near EOC": dict(sigma_w2=1.7, sigma_b2=0.05, c1=0.2, window=[60, 120]),
        },
        widths=[32, 64, 128, 256, 512, 1024],
        depth=120,
        n_nets=1000,
        q1=1.0,
        layers=[2, 4, 8, 16, 32, 64, 120],
    ),
)
def maps(ctx: ClaimContext):
    p = ctx.params
    ns = np.array(p["widths"], float)
    ss = np.random.SeedSequence(ctx.seed).spawn(len(p["phases"]))
    runs = {
        phase: _simulate(
            p, ns, s, "tanh", ph["sigma_w2"], ph["sigma_b2"], _inputs(p["q1"], ph["c1"], ph["sigma_w2"], ph["sigma_b2"])
        )
        for (phase, ph), s in zip(p["phases"].items(), ss)
    }
    layers = np.array(p["layers"]) - 1
    a = ALPHA / (len(p["phases"]) * (2 * len(layers) + 2))
    L = p["depth"] - 1

    def judge(wrong: bool):
        checks, rows = [], []
        for phase, ph in p["phases"].items():
            sw, sb = ph["sigma_w2"], 0.0 if wrong else ph["sigma_b2"]
            k = th.kernel_iterates(
                p["q1"], p["q1"], ph["c1"] * p["q1"], p["depth"], sigma_w2=sw, sigma_b2=sb, activation="tanh"
            )
            q_th, c_th = k[:, 0], k[:, 2] / np.sqrt(k[:, 0] * k[:, 1])
            ds = th.depth_scales(sigma_w2=sw, sigma_b2=sb, activation="tanh")
            q_sim = [_mean_se(r.m2[:, :, 0]) for r in runs[phase]]
            c_sim = [_mean_se(r.corr) for r in runs[phase]]
            for j in layers:
                for name, th_v, sims in (("q", q_th, q_sim), ("c", c_th, c_sim)):
                    checks.append(
                        limit_chi2_check(
                            f"{phase}: {name}^{j + 1} -> {name}-map iterate as N -> inf",
                            1 / ns,
                            [m[j] for m, _ in sims],
                            [e[j] for _, e in sims],
                            th_v[j],
                            degree=2,
                            alpha=a,
                            seed=ctx.seed,
                        )
                    )
            # fixed point: the deepest layer against c* itself; the map iterate's distance to c* is added as a bias
            gap = abs(c_th[L] - ds["c_star"])
            checks.append(
                limit_chi2_check(
                    f"{phase}: c^{L + 1} -> c* = {ds['c_star']:.4g} (map iterate within {gap:.1e} of it)",
                    1 / ns,
                    [m[L] for m, _ in c_sim],
                    np.hypot([e[L] for _, e in c_sim], gap),
                    ds["c_star"],
                    degree=2,
                    alpha=a,
                    seed=ctx.seed,
                )
            )
            # depth scale: slope of log|c^l - c*| over the window, per width, extrapolated N -> inf vs -1/xi_c
            lo, hi = ph["window"]
            l_win = np.arange(lo - 1, hi)
            w = (l_win - l_win.mean()) / np.sum((l_win - l_win.mean()) ** 2)
            slopes, slope_se = [], []
            for mean, se in c_sim:
                dev = np.abs(mean[l_win] - ds["c_star"])
                slopes.append(float(w @ np.log(dev)))
                slope_se.append(float(np.sqrt(np.sum((w * se[l_win] / dev) ** 2))))
            map_slope = float(w @ np.log(np.abs(c_th[l_win] - ds["c_star"]) + 1e-300))
            pre = abs(map_slope + 1 / ds["xi_c"])
            checks.append(
                limit_chi2_check(
                    f"{phase}: d log|c^l - c*|/dl over layers {lo}..{hi} -> -1/xi_c = {-1 / ds['xi_c']:.4g} as N -> inf "
                    f"(preasymptotic bias {pre:.1e} of the exact map in quadrature)",
                    1 / ns,
                    slopes,
                    np.hypot(slope_se, pre),
                    -1 / ds["xi_c"],
                    degree=2,
                    alpha=a,
                    seed=ctx.seed,
                )
            )
            ell = np.arange(1, p["depth"] + 1)
            for quantity, th_v, sims in (("q", q_th, q_sim), ("c", c_th, c_sim)):
                rows += [
                    dict(panel=f"{quantity}: {phase}", series="map", x=int(l), theory=v, simulated=np.nan, se=np.nan)
                    for l, v in zip(ell, th_v)
                ]
                for n, (m, e) in zip(ns, sims):
                    if n in (ns[0], ns[-1]):
                        rows += [
                            dict(
                                panel=f"{quantity}: {phase}",
                                series=f"N={int(n)}",
                                x=int(l),
                                theory=np.nan,
                                simulated=v,
                                se=s,
                            )
                            for l, v, s in zip(ell, m, e)
                        ]
            mean, se = c_sim[-1]
            rows += [
                dict(
                    panel="depth scale",
                    series=phase,
                    x=int(l),
                    theory=np.abs(c_th[l - 1] - ds["c_star"]),
                    simulated=np.abs(mean[l - 1] - ds["c_star"]),
                    se=se[l - 1],
                )
                for l in ell
            ]
            rows += [
                dict(panel="slopes", series=phase, x=n, theory=-1 / ds["xi_c"], simulated=v, se=e)
                for n, v, e in zip(ns, slopes, slope_se)
            ]
        panels = [
            Panel(
                f"{qq}: {ph}",
                "layer l",
                "q^l" if qq == "q" else "c^l",
                title=f"tanh, {ph}: map (line) vs networks (mean +- SE)",
            )
            for ph in p["phases"]
            for qq in ("q", "c")
        ]
        panels += [
            Panel(
                "depth scale",
                "layer l",
                "|c^l - c*|",
                "linear",
                "log",
                f"approach to c*: map (lines) vs N={int(ns[-1])} networks",
            ),
            Panel("slopes", "width N", "d log|c^l - c*| / dl", "log", "linear", "window slope vs -1/xi_c (line)"),
        ]
        return ctx.evidence(checks, rows, panels, prediction="sigma_b2 dropped" if wrong else "published")

    return judge(False), judge(True)


@claim(
    "sigprop.selu",
    area=AREA,
    title="SELU networks (sigma_w2 = 1, sigma_b2 = 0) with (lambda_01, alpha_01) solved from E selu = 0, "
    "E selu^2 = 1 keep post-activation mean 0 and second moment 1 through depth, and are attracted to it",
    reference="Klambauer et al. 2017 (arXiv:1706.02515) sec. 3 (fixed point (0, 1), eq. 14 constants)",
    control="alpha = 1 in place of alpha_01 (ELU negative branch): its q-map fixed point and activation mean",
    seed=20170608,
    quick=dict(widths=[32, 64, 128, 256, 512], depth=24, n_nets=300, q1=[1.0, 3.0], layers=[1, 3, 6, 12, 24]),
    full=dict(
        widths=[32, 64, 128, 256, 512, 1024], depth=50, n_nets=1000, q1=[1.0, 3.0, 0.3], layers=[1, 3, 6, 12, 25, 50]
    ),
)
def selu_claim(ctx: ClaimContext):
    p = ctx.params
    ns = np.array(p["widths"], float)
    lam, alpha = th.selu_parameters()
    n0 = 8
    x = np.sqrt(np.array(p["q1"]) * n0)[:, None] * np.eye(n0)[: len(p["q1"])]  # orthogonal, q^1 = q1
    runs = _simulate(p, ns, ctx.seed, "selu", 1.0, 0.0, x)
    layers = np.array(p["layers"]) - 1
    a = ALPHA / (2 * len(p["q1"]) * len(layers))

    def judge(wrong: bool):
        act = th.selu(lam, 1.0 if wrong else alpha)
        checks, rows = [], []
        for i, q1 in enumerate(p["q1"]):
            k = th.kernel_iterates(q1, q1, 0.0, p["depth"], sigma_w2=1.0, sigma_b2=0.0, activation=act)[:, 0]
            mean_th = np.array([gaussian_expectation(act.phi, q, act.kinks) for q in k])
            sq_th = np.array([gaussian_expectation(lambda z: act.phi(z) ** 2, q, act.kinks) for q in k])
            for name, th_v, stat in (("mean phi", mean_th, "a1"), ("mean phi^2", sq_th, "a2")):
                sims = [_mean_se(getattr(r, stat)[:, :, i]) for r in runs]
                for j in layers:
                    checks.append(
                        limit_chi2_check(
                            f"q^1={q1}: layer {j + 1} {name} -> {th_v[j]:.4g} as N -> inf",
                            1 / ns,
                            [m[j] for m, _ in sims],
                            [e[j] for _, e in sims],
                            th_v[j],
                            degree=2,
                            alpha=a,
                            seed=ctx.seed,
                        )
                    )
                rows += [
                    dict(panel=name, series=f"q^1={q1}", x=int(l), theory=v, simulated=m, se=e)
                    for l, v, m, e in zip(range(1, p["depth"] + 1), th_v, *sims[-1])
                ]
        panels = (
            Panel(
                "mean phi",
                "layer l",
                "mean post-activation",
                title=f"SELU: map (lines) vs N={int(ns[-1])} networks (mean +- SE)",
            ),
            Panel(
                "mean phi^2",
                "layer l",
                "mean squared post-activation",
                title=f"SELU: fixed point 1 (lines: map) vs N={int(ns[-1])} networks",
            ),
        )
        return ctx.evidence(checks, rows, panels, prediction="alpha = 1" if wrong else "published")

    return judge(False), judge(True)
