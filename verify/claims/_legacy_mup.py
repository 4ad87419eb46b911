"""muP coordinate check: the width exponent of feature updates follows the abc table (Yang & Hu 2021).

dltheory.simulators.abc_mlp.train_abc runs full-batch SGD in an abc-parametrisation (L = 2 hidden ReLU layers, output
centred at init) for several widths and seeds; the feature update is the RMS of h^L_t - h^L_0 (last hidden
preactivation). dltheory.theory.mup gives its width exponent: -r at every step of a stable parametrisation, -r_1 at
step 1 in general (the two agree for muP, NTP and SP with c = 1; SP with c = 0 is checked at step 1 only,
because its output is Theta(n) after one step). Slopes of log(mean over seeds) vs log n carry the seeds' SE.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from dltheory.simulators import abc_mlp as sim
from dltheory.theory import mup as th
from dltheory.verify.claims.pdlt import slope_check
from dltheory.verify.evidence import Panel
from dltheory.verify.registry import ClaimContext, claim

AREA = "infinite width: muP"
ALPHA = 1e-3
FLOOR = 0.1  # see the floor_reason below


def _wrong_exponent(p: th.ABC, first_step: bool):
    """Control: the indicator's sign flipped, min_l [2 a_l - 1(l = 1)] in r (and r_1)."""
    aL, bL = p.a[-1], p.b[-1]
    head = aL + bL if first_step else sp.Min(aL + bL, 2 * aL + p.c)
    return head + p.c - 1 + sp.Min(*[2 * p.a[l] - (1 if l == 0 else 0) for l in range(p.L)])


@claim(
    "mup.coord_check",
    area=AREA,
    title="Coordinate check: the log-log slope of the feature update vs width is -r from the abc table: "
    "0 for muP, -1/2 for NTP and stable SP (c = 1), +1/2 at step 1 for SP with c = 0",
    reference="Yang & Hu 2021, Tensor Programs IV (arXiv:2011.14522), Def. 3.2 (r), Thm 3.3; Yang et al. 2022 "
    "(arXiv:2203.03466) coordinate check",
    control="r with the indicator's sign flipped, min_l [2 a_l - 1(l = 1)] (muP -> +2, NTP -> +3/2, SP -> +1)",
    seed=20201114,
    quick=dict(widths=[32, 64, 128, 256, 512], n_seeds=12, n_steps=3, eta=0.5, batch=4, d=8, L=2),
    full=dict(widths=[32, 64, 128, 256, 512, 1024], n_seeds=24, n_steps=5, eta=0.5, batch=4, d=8, L=2),
)
def coord_check(ctx: ClaimContext):
    p = ctx.params
    ns = np.array(p["widths"], float)
    rows_abc = [
        (name, th.parametrization(name, p["L"], c=c), steps)
        for name, c, steps in (("muP", None, "all"), ("NTP", None, "all"), ("SP", 1, "all"), ("SP", 0, "first"))
    ]
    ss = np.random.SeedSequence(ctx.seed).spawn(1 + len(rows_abc))
    g = np.random.default_rng(ss[0])
    X, y = g.standard_normal((p["batch"], p["d"])), np.ones(p["batch"])
    data = {}
    for (name, abc, steps), s in zip(rows_abc, ss[1:]):
        label = f"{name} (c={abc.c})" if name == "SP" else name
        seeds = s.spawn(len(ns))
        dh = [
            sim.train_abc(
                int(n),
                a=[float(v) for v in abc.a],
                b=[float(v) for v in abc.b],
                c=float(abc.c),
                X=X,
                y=y,
                eta=p["eta"],
                n_steps=p["n_steps"],
                n_seeds=p["n_seeds"],
                seed=sd,
            )["dh"]
            for n, sd in zip(ns, seeds)
        ]
        data[label] = (abc, steps, np.array(dh))  # (widths, seeds, steps)
    reason = (
        "O(n^-1/2) corrections (finite-width fluctuations of h . h'/n and of the backward pass) shift a "
        f"log-log slope fitted from n = {int(ns[0])} by at most ~{FLOOR}, the tolerance of mup's own check"
    )

    def judge(wrong: bool):
        checks, rows = [], []
        n_checks = sum(2 if steps == "all" else 1 for _, steps, _ in data.values())
        for label, (abc, steps, dh) in data.items():
            ts = [0, p["n_steps"] - 1] if steps == "all" else [0]
            for t in ts:
                first = t == 0 or steps == "first"
                r = (
                    _wrong_exponent(abc, first)
                    if wrong
                    else th.first_step_exponent(abc)
                    if first
                    else th.r_exponent(abc)
                )
                mean = dh[:, :, t].mean(1)
                se = dh[:, :, t].std(1, ddof=1) / np.sqrt(dh.shape[1])
                checks.append(
                    slope_check(
                        f"{label}, step {t + 1}: slope of |Delta h^L| vs n = -r = {-r}",
                        ns,
                        mean,
                        se,
                        float(-r),
                        ALPHA / n_checks,
                        ctx.seed,
                        reason,
                        floor=FLOOR,
                    )
                )
                rows += [
                    dict(panel=f"step {t + 1}", series=label, x=n, theory=np.nan, simulated=m, se=e)
                    for n, m, e in zip(ns, mean, se)
                ]
                log_anchor = np.mean(np.log(mean) + float(r) * np.log(ns))  # least-squares intercept at slope -r
                rows += [
                    dict(
                        panel=f"step {t + 1}",
                        series=label,
                        x=n,
                        theory=np.exp(log_anchor) * n ** float(-r),
                        simulated=np.nan,
                        se=np.nan,
                    )
                    for n in ns
                ]
        panels = tuple(
            Panel(
                f"step {t}",
                "width n",
                "RMS of h^L_t - h^L_0",
                "log",
                "log",
                f"feature update after {t} SGD step(s): networks (mean +- SE over seeds) vs n^-r "
                f"(lines: least-squares fit of the amplitude only)",
            )
            for t in sorted({1, p["n_steps"]})
        )
        return ctx.evidence(checks, rows, panels, prediction="indicator sign flipped" if wrong else "published")

    return judge(False), judge(True)
