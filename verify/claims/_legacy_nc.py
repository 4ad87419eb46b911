"""Neural collapse: metrics, unconstrained-features optima, imbalance, deep linear UFM, minority collapse, TPT.

Every claim runs a float64 simulation (dltheory.simulators.neural_collapse) and judges the published prediction
(dltheory.theory.neural_collapse) and a deliberately wrong one with the same code. Optimisation claims use
deterministic tolerances: heavy-ball GD with weight decay converges linearly to a minimiser (modulo
rotations), so after the stated number of steps the remaining error is far below the tolerance; each such
claim also checks that GD's final objective equals the closed-form optimal value.
"""

from __future__ import annotations

import numpy as np
from scipy import stats as sps

from dltheory.simulators import neural_collapse as sim
from dltheory.theory import neural_collapse as th
from dltheory.verify import stats
from dltheory.verify.evidence import Check, Panel
from dltheory.verify.registry import ClaimContext, claim

AREA = "neural collapse"
ALPHA = 1e-3  # family-wise false-failure budget per claim, split (Bonferroni) over its checks
PHD = "Papyan, Han & Donoho 2020 (PNAS, arXiv:2008.08186)"
ZHU = "Zhu et al. 2021 (NeurIPS, arXiv:2105.02375), global-minimiser theorem"
DANG = "Dang et al. 2023 (ICML, arXiv:2301.00437), balanced/imbalanced theorems"
OPT_RTOL = 1e-6  # optimisation tolerance of converged GD (see the module docstring and each check's reason)
OPT_REASON = (
    "heavy-ball GD with weight decay converges linearly; after the run the residual error of these "
    "rotation-invariant quantities is <= 1e-8 relative (objective at its optimal value, checked); 1e-6 "
    "leaves margin for the slowest (null-space) directions"
)


def _row(panel, series, x, theory=np.nan, simulated=np.nan, se=np.nan, **kw) -> dict:
    return dict(
        panel=panel, series=series, x=float(x), theory=float(theory), simulated=float(simulated), se=float(se), **kw
    )


def _optimal_value(name: str, objective: np.ndarray, o: th.UFMOptimum, n, lam: float, loss: str, seed) -> Check:
    """GD's final objective equals the objective at the closed-form minimiser (which no point can undercut)."""
    n = np.asarray(n)
    y = np.repeat(np.arange(n.size), n)
    value = th.ufm_objective(o.layers, np.repeat(o.H_mean, n, axis=1), y, lam, lam, b=o.b, loss=loss)
    return stats.deterministic(
        f"{name}: final GD objective = objective at the closed-form optimum",
        objective[-1],
        value,
        rtol=OPT_RTOL,
        reason=(
            "suboptimality decays geometrically; the slowest (null-space) directions contract "
            "by lr*lambda/(1-momentum) per step, leaving <= 1e-7 relative after the run"
        ),
        seed=seed,
    )


# ---------------------------------------------------------------------------------------------------
# 1. Metrics: zero on collapsed geometries, exact noise law, invariances


def _collapsed(n: int, W: np.ndarray, H_mean: np.ndarray, Q: np.ndarray):
    K = W.shape[0]
    y = np.repeat(np.arange(K), n)
    return (H_mean.T @ Q.T)[y], y, W @ Q.T


@claim(
    "nc.metrics",
    area=AREA,
    title="NC metrics vanish on collapsed geometries (ETF; orthogonal frame with the uncentred NC3), follow "
    "the exact within-class noise law, and are invariant to rotations and relabelling",
    reference=f"{PHD}, NC1-NC4 definitions; Zhu et al. 2021 (arXiv:2105.02375) ETF distance",
    control="centred NC3 expected 0 on the bias-free orthogonal frame, and E NC1 without the (n-1)/n factor",
    seed=20200101,
    quick=dict(K=4, d=7, n=5, eps=0.3, n_seeds=64),
    full=dict(K=10, d=16, n=5, eps=0.3, n_seeds=400),
)
def metrics(ctx: ClaimContext):
    p = ctx.params
    K, d, n, eps = p["K"], p["d"], p["n"], p["eps"]
    g = np.random.default_rng(ctx.seed)
    Q = np.linalg.qr(g.standard_normal((d, d)))[0]
    etf = th.ufm_optimum([n] * K, 5e-3, 5e-3, loss="ce", d=d)
    frame = th.ufm_optimum([n] * K, 5e-3, 5e-3, loss="mse", d=d)
    m_etf = th.nc_metrics(*_collapsed(n, etf.W, etf.H_mean, Q))
    m_frame = th.nc_metrics(*_collapsed(n, frame.W, frame.H_mean, Q))
    zero_etf = np.array(
        [
            m_etf[k]
            for k in ("nc1", "nc2", "nc2_W", "nc3", "nc4", "equinorm_H", "equinorm_W", "maxangle_H", "maxangle_W")
        ]
    )
    zero_frame = np.array(
        [m_frame[k] for k in ("nc1", "nc2", "nc3_uncentred", "nc4", "orthframe_H", "orthframe_W", "equinorm_W")]
    )
    # Noise law: h = mu_c + eps z, z ~ N(0, I_d). Given the sample class means (independent of the residuals
    # for Gaussians), E[u^T Sigma_W u] = eps^2 (n-1)/n for any unit u, so E[NC1 | means] = eps^2 (n-1)/n
    # tr(Sigma_B^+)/K with Sigma_B from the *sample* means: the ratio below has mean exactly 1 (no bias).
    H0, y, W0 = _collapsed(n, etf.W, etf.H_mean, Q)
    ratios, nc1s, invariance = [], [], []
    for _ in range(p["n_seeds"]):
        H = H0 + eps * g.standard_normal(H0.shape)
        m = th.nc_metrics(H, y, W0)
        M = np.stack([H[y == k].mean(axis=0) for k in range(K)]) - H.mean(axis=0)
        sv = np.linalg.svd(M, compute_uv=False)[: K - 1]
        ratios.append(m["nc1"] / (eps**2 * (n - 1) / n * np.sum(K / sv**2) / K))
        nc1s.append(m["nc1"])
    ratios = np.array(ratios)
    # Invariance on a generic (not collapsed) geometry: rotate features and classifier, permute labels.
    keys = (
        "nc1",
        "nc2",
        "nc2_W",
        "nc3",
        "nc3_uncentred",
        "nc4",
        "equinorm_H",
        "equinorm_W",
        "equiangular_H",
        "maxangle_W",
        "orthframe_H",
    )
    for _ in range(5):
        H = g.standard_normal((K * n, d)) + np.repeat(g.standard_normal((K, d)), n, axis=0)
        W, b = g.standard_normal((K, d)), g.standard_normal(K)
        R = np.linalg.qr(g.standard_normal((d, d)))[0]
        perm = g.permutation(K)
        base = th.nc_metrics(H, y, W, b)
        rot = th.nc_metrics(H @ R.T, y, W @ R.T, b)
        rel = th.nc_metrics(H, perm[y], W[np.argsort(perm)], b[np.argsort(perm)])
        invariance.append([abs(o[k] - base[k]) / max(abs(base[k]), 1e-300) for o in (rot, rel) for k in keys])
    invariance = np.max(invariance)
    nc3_frame = th.orthogonal_frame_nc3(K)

    def judge(wrong: bool):
        a = ALPHA / 2
        checks = [
            stats.deterministic(
                "collapsed simplex ETF (CE-UFM optimum, rotated): NC1-4, equinorm, max-angle",
                zero_etf,
                0.0,
                atol=1e-12,
                reason="float64 round-off of class means and Gram "
                "matrices of O(1) entries (~1e-15); NC1 is quadratic in it",
                seed=ctx.seed,
            ),
            stats.deterministic(
                "collapsed orthogonal frame (bias-free MSE optimum): NC1, NC2, uncentred NC3, NC4, "
                "orthogonal-frame distances",
                zero_frame,
                0.0,
                atol=1e-12,
                reason="float64 round-off, as above",
                seed=ctx.seed,
            ),
            stats.deterministic(
                f"orthogonal frame: centred NC3 = sqrt(2 - 2 sqrt((K-1)/K)) = {nc3_frame:.6f}",
                m_frame["nc3"],
                0.0 if wrong else nc3_frame,
                atol=1e-12,
                reason="exact identity (dltheory.theory.orthogonal_frame_nc3); float64 round-off",
                seed=ctx.seed,
            ),
            stats.mean_matches(
                f"noise eps={eps}: NC1 / [eps^2 (n-1)/n tr(Sigma_B^+)/K] has mean 1",
                ratios * ((n - 1) / n if wrong else 1.0),
                1.0,
                alpha=a,
                seed=ctx.seed,
                bias_reason="none: exact conditional expectation given the sample means",
            ),
            stats.deterministic(
                "invariance: max relative change under rotation / relabelling (5 draws, 11 metrics)",
                invariance,
                0.0,
                atol=1e-9,
                reason="float64 round-off of an SVD-based pseudo-inverse with condition number <= 1e3 (~1e-12)",
                seed=ctx.seed,
            ),
            Check(
                name="positive off collapse: min over noisy draws of NC1 exceeds the zero tolerance 1e-12",
                statistic=float(np.min(nc1s)),
                threshold=1e-12,
                relation=">=",
                detail=f"min NC1 = {np.min(nc1s):.4g} over {len(nc1s)} draws at eps={eps}; seed={ctx.seed}",
            ),
        ]
        rows = [_row("zero", "simplex ETF", i, theory=1e-17, simulated=max(v, 1e-17)) for i, v in enumerate(zero_etf)]
        rows += [
            _row("zero", "orthogonal frame", i, theory=1e-17, simulated=max(v, 1e-17)) for i, v in enumerate(zero_frame)
        ]
        rows += [
            _row(
                "noise",
                "NC1 / predicted",
                0,
                theory=1.0,
                simulated=ratios.mean() * ((n - 1) / n if wrong else 1.0),
                se=stats.standard_error(ratios),
            )
        ]
        panels = (
            Panel(
                "zero",
                "metric index",
                "value (floored at 1e-17)",
                "linear",
                "log",
                "metrics on exactly collapsed geometries",
            ),
            Panel("noise", "-", "NC1 / eps^2 (n-1)/n tr(Sigma_B^+)/K", title="noise law: mean +- SE"),
        )
        return ctx.evidence(
            checks, rows, panels, prediction="pitfall NC3 = 0, (n-1)/n dropped" if wrong else "published"
        )

    return judge(False), judge(True)


# ---------------------------------------------------------------------------------------------------
# 2. UFM optima: GD vs closed form (CE / MSE, with / without bias, above / below the collapse threshold)


def _ufm_case(n, K, lam, loss, bias, d, lr, n_steps, seed):
    run = sim.train_ufm(
        [n] * K, lam, lam, loss=loss, bias=bias, d=d, lr=lr, n_steps=n_steps, record_every=n_steps // 20, seed=seed
    )
    return dict(
        W=run.W,
        H_mean=run.H_mean,
        b=run.b,
        objective=run.objective,
        metrics=th.nc_metrics(run.H.T, run.y, run.W, run.b),
    )


@claim(
    "nc.ufm_gd",
    area=AREA,
    title="GD on the CE and MSE unconstrained-features models converges to the closed-form optimum: Gram "
    "matrices W W^T and W H_mean match, NC1-NC4 vanish, W = H = 0 beyond the threshold",
    reference=f"{ZHU} (CE: simplex ETF); Zhou et al. 2022 (arXiv:2203.01238) / Tirer & Bruna 2022 (arXiv:2202.08087) (MSE)",
    control="CE norm with its (K-1)/K factor dropped; MSE optimum with the bias flag flipped (ETF <-> frame)",
    seed=20210101,
    quick=dict(K=4, n=25, d=8, lams=[5e-3, 0.06], lr=0.5, n_steps=20000),
    full=dict(K=6, n=30, d=12, lams=[1e-3, 5e-3, 0.06], lr=0.5, n_steps=40000),
)
def ufm_gd(ctx: ClaimContext):
    p = ctx.params
    K, n = p["K"], p["n"]
    cases = [(loss, bias, lam) for lam in p["lams"] for loss in ("ce", "mse") for bias in (False, True)]
    seeds = np.random.SeedSequence(ctx.seed).spawn(len(cases))
    runs = [
        _ufm_case(n, K, lam, loss, bias, p["d"], p["lr"], p["n_steps"], s) for (loss, bias, lam), s in zip(cases, seeds)
    ]

    def predicted(loss, bias, lam, wrong):
        if not wrong:
            return th.ufm_optimum([n] * K, lam, lam, loss=loss, bias=bias)
        if loss == "mse":
            return th.ufm_optimum([n] * K, lam, lam, loss=loss, bias=not bias)
        o = th.ufm_optimum([n] * K, lam, lam, loss=loss, bias=bias)
        return th.UFMOptimum(
            o.W * np.sqrt(K / (K - 1)), o.H_mean * np.sqrt(K / (K - 1)), o.b, o.layers, o.singular_values, o.geometry
        )

    def judge(wrong: bool):
        checks, rows = [], []
        for (loss, bias, lam), r in zip(cases, runs):
            o = predicted(loss, bias, lam, wrong)
            tag = f"{loss.upper()}{' + bias' if bias else ''}, lambda={lam:g}"
            WWt, WWt_th = r["W"] @ r["W"].T, o.W @ o.W.T
            WH, WH_th = r["W"] @ r["H_mean"], o.W @ o.H_mean
            scale = max(np.abs(WWt_th).max(), 1.0)
            checks += [
                stats.deterministic(
                    f"{tag}: W W^T", WWt, WWt_th, atol=OPT_RTOL * scale, reason=OPT_REASON, seed=ctx.seed
                ),
                stats.deterministic(
                    f"{tag}: W H_mean",
                    WH,
                    WH_th,
                    atol=OPT_RTOL * max(np.abs(WH_th).max(), 1.0),
                    reason=OPT_REASON,
                    seed=ctx.seed,
                ),
                _optimal_value(tag, r["objective"], o, [n] * K, lam, loss, ctx.seed),
            ]
            m = r["metrics"]
            if o.geometry != "zero":
                nc3 = m["nc3_uncentred"] if o.geometry == "orthogonal" else m["nc3"]
                nc2 = m["orthframe_W"] if o.geometry == "orthogonal" else m["nc2_W"]
                checks.append(
                    stats.deterministic(
                        f"{tag}: (NC1, NC2 of W in the predicted geometry, NC3, NC4)",
                        [m["nc1"], nc2, nc3, m["nc4"]],
                        0.0,
                        atol=1e-6,
                        reason="NC2/NC3 are linear in the GD error (<= 1e-8), NC1 quadratic",
                        seed=ctx.seed,
                    )
                )
            if bias and r["b"] is not None:
                b_th = np.full(K, 1.0 / K) if loss == "mse" and o.geometry != "zero" else np.full(K, r["b"].mean())
                checks.append(
                    stats.deterministic(
                        f"{tag}: bias b ({'1/K' if loss == 'mse' else 'constant vector'})",
                        r["b"],
                        b_th,
                        atol=OPT_RTOL,
                        reason=OPT_REASON,
                        seed=ctx.seed,
                    )
                )
            x = len(rows) // 2
            rows += [
                _row("norms", tag, x, theory=np.trace(WWt_th) / K, simulated=np.trace(WWt) / K),
                _row("logit", tag, x, theory=np.trace(WH_th) / K, simulated=np.trace(WH) / K),
            ]
        panels = (
            Panel("norms", "case", "mean ||w_k||^2", title="closed form (theory) vs GD (markers)"),
            Panel("logit", "case", "mean w_k . h_k"),
        )
        return ctx.evidence(checks, rows, panels, prediction="(K-1)/K dropped / bias flipped" if wrong else "published")

    return judge(False), judge(True)


# ---------------------------------------------------------------------------------------------------
# 3. Imbalance: per-class lengths, continuous collapse (M = 1) and a first-order jump (M = 2)


def _aligned_init(K: int, d: int, n, depth: int, s0: float):
    """Layers aligned with the classes at per-layer value s0; each feature along its class axis, length
    s0^M/(s0^(2M) + 1) (an O(1) start on the nonzero branch)."""
    E = np.eye(d)[:, :K]
    layers = [E @ (s0 * np.eye(K)) @ E.T] * (depth - 1) + [s0 * E.T]
    H = np.repeat(E * (s0**depth / (s0 ** (2 * depth) + 1.0)), n, axis=1)
    return layers, H


@claim(
    "nc.imbalance",
    area=AREA,
    title="Imbalanced bias-free MSE UFM: per-class lengths ||w_k||^2 = (sqrt(n_k lH/lW) - N lH)_+, minority "
    "classes collapse exactly at n_k = N^2 lW lH (continuous); at depth 2 the collapse is a jump at the "
    "predicted lambda*",
    reference=f"Zhou et al. 2022 / {DANG} (imbalanced), per-class threshold and depth-2 jump",
    control="depth ignored: the depth-1 (continuous) law used at depth 2, whose collapse is at sqrt(n)/N",
    seed=20230303,
    quick=dict(
        n=[200, 100, 50, 50],
        lams=[5e-4, 0.005, 0.012, 0.02, 0.03, 0.04],
        d=8,
        lr=0.1,
        n_steps=20000,
        n_jump=100,
        K_jump=2,
        jump_offsets=[-0.15, -0.02, 0.02, 0.1],
        d_jump=4,
        jump_steps=20000,
    ),
    full=dict(
        n=[200, 100, 50, 50],
        lams=[5e-4, 0.002, 0.005, 0.008, 0.012, 0.015, 0.02, 0.022, 0.028, 0.032, 0.04, 0.05],
        d=8,
        lr=0.1,
        n_steps=40000,
        n_jump=100,
        K_jump=4,
        jump_offsets=[-0.2, -0.1, -0.02, -0.005, 0.005, 0.02, 0.1],
        d_jump=8,
        jump_steps=40000,
    ),
)
def imbalance(ctx: ClaimContext):
    p = ctx.params
    n = np.array(p["n"])
    N = int(n.sum())
    seeds = iter(np.random.SeedSequence(ctx.seed).spawn(len(p["lams"]) + 2 * len(p["jump_offsets"])))
    wsq = {}
    for lam in p["lams"]:
        r = sim.train_ufm(
            n,
            lam,
            lam,
            loss="mse",
            d=p["d"],
            lr=p["lr"],
            n_steps=p["n_steps"],
            record_every=p["n_steps"] // 20,
            seed=next(seeds),
        )
        wsq[lam] = (np.sum(r.W**2, axis=1), np.abs(r.W @ r.W.T - np.diag(np.sum(r.W**2, axis=1))).max(), r.objective)
    # Depth 2, balanced K_jump classes of n_jump: GD from an aligned start on the nonzero branch (s0 = 2, plus
    # 1e-3 noise) and from near zero. The branch objective crosses f(0) = 1/2 at lambda*.
    Kj, nj = p["K_jump"], p["n_jump"]
    Nj = Kj * nj
    lam_star = th.deep_ufm_collapse_lambda(nj, Nj, 2)
    jump = []
    for off in p["jump_offsets"]:
        lam = lam_star * (1 + off)
        hi = sim.train_ufm(
            [nj] * Kj,
            lam,
            lam,
            loss="mse",
            depth=2,
            d=p["d_jump"],
            lr=p["lr"],
            n_steps=p["jump_steps"],
            init=_aligned_init(Kj, p["d_jump"], nj, 2, 2.0),
            init_std=1e-3,
            record_every=p["jump_steps"] // 20,
            seed=next(seeds),
        )
        lo = sim.train_ufm(
            [nj] * Kj,
            lam,
            lam,
            loss="mse",
            depth=2,
            d=p["d_jump"],
            lr=p["lr"],
            n_steps=p["jump_steps"],
            init_std=1e-3,
            record_every=p["jump_steps"] // 20,
            seed=next(seeds),
        )
        best = hi if hi.objective[-1] < lo.objective[-1] else lo
        s_best = np.linalg.svd(best.layers[0], compute_uv=False)[:Kj]
        s_hi = np.linalg.svd(hi.layers[0], compute_uv=False)[:Kj]
        jump.append((lam, s_best, s_hi, hi.objective, lo.objective))

    def judge(wrong: bool):
        checks, rows = [], []
        w_th = {lam: np.array([th.deep_ufm_singular_value(nk, N, lam, lam, 1) ** 2 for nk in n]) for lam in p["lams"]}
        got = np.array([wsq[lam][0] for lam in p["lams"]])
        want = np.array([w_th[lam] for lam in p["lams"]])
        checks += [
            stats.deterministic(
                "depth 1: per-class ||w_k||^2 over the lambda sweep",
                got,
                want,
                atol=OPT_RTOL * want.max(),
                reason=OPT_REASON,
                seed=ctx.seed,
            ),
            stats.deterministic(
                "depth 1: collapsed classes are exactly those with n_k <= N^2 lW lH",
                float(np.all((got > 1e-6) == (want > 0))),
                1.0,
                atol=0.5,
                reason="exact set equality (1 = equal)",
                seed=ctx.seed,
            ),
            stats.deterministic(
                "depth 1: W W^T diagonal (orthogonal frame)",
                max(v[1] for v in wsq.values()),
                0.0,
                atol=OPT_RTOL * want.max(),
                reason=OPT_REASON,
                seed=ctx.seed,
            ),
        ]
        checks += [
            _optimal_value(
                f"depth 1, lambda={lam:g}",
                wsq[lam][2],
                th.ufm_optimum(n, lam, lam, loss="mse", depth=1),
                n,
                lam,
                "mse",
                ctx.seed,
            )
            for lam in p["lams"]
        ]
        depth = 1 if wrong else 2
        s_th = np.array([th.deep_ufm_singular_value(nj, Nj, lam, lam, depth) for lam, *_ in jump])
        s_gd = np.array([s for _, s, *_ in jump])
        checks.append(
            stats.deterministic(
                "depth 2: singular values of the lower-objective GD run vs the global minimiser s(lambda)",
                s_gd,
                s_th[:, None],
                atol=OPT_RTOL * 2,
                reason=OPT_REASON,
                seed=ctx.seed,
            )
        )
        # the branch from s0 = 2 is a local minimum on both sides of lambda*: it matches the largest stationary point
        s_plus = np.array([th.deep_ufm_stationary_points(nj, Nj, lam, lam, 2)[-1] for lam, *_ in jump])
        checks.append(
            stats.deterministic(
                "depth 2: aligned-start branch = largest stationary point (metastable beyond lambda*)",
                np.array([s for *_, s, _, _ in jump]),
                s_plus[:, None],
                atol=OPT_RTOL * 2,
                reason=OPT_REASON,
                seed=ctx.seed,
            )
        )
        for k, nk in enumerate(n):
            rows += [
                _row("lengths", f"n_k={nk}", lam, theory=w_th[lam][k], simulated=wsq[lam][0][k]) for lam in p["lams"]
            ]
            rows += [
                _row("lengths", f"n_k={nk}", lam, theory=th.deep_ufm_singular_value(nk, N, lam, lam, 1) ** 2)
                for lam in np.linspace(1e-4, max(p["lams"]), 120)
            ]
        lam_grid = np.linspace(0.7 * lam_star, 1.2 * lam_star, 150)
        rows += [
            _row("jump", f"theory, depth {depth}", lam, theory=th.deep_ufm_singular_value(nj, Nj, lam, lam, depth))
            for lam in lam_grid
        ]
        rows += [_row("jump", "GD (lower objective)", lam, simulated=s[0]) for lam, s, *_ in jump]
        panels = (
            Panel("lengths", "lambda = lW = lH", "||w_k||^2", title=f"depth 1, n={p['n']}: closed form vs GD"),
            Panel(
                "jump",
                "lambda = lW = lH",
                "per-layer singular value s",
                title=f"depth 2, balanced n={nj}: jump at lambda* = {lam_star:.5f}",
            ),
        )
        return ctx.evidence(checks, rows, panels, prediction="depth-1 law at depth 2" if wrong else "published")

    return judge(False), judge(True)


# ---------------------------------------------------------------------------------------------------
# 4. Deep linear UFM: every layer's singular values, depth 1-4


@claim(
    "nc.deep_linear",
    area=AREA,
    title="Deep linear UFM (MSE, bias-free, imbalanced): every layer's top-K singular values equal the "
    "per-class s_k, W W^T = diag(s_k^{2M}), at depths 1-4; with an unregularised bias (balanced) a simplex "
    "ETF with b = 1/K; too small an init converges to W = H = 0",
    reference=f"{DANG}; s_k = argmin (n_k lH/2)/(s^(2M) + N lH) + (M lW/2) s^2 (per-class reduction)",
    control="depth ignored: the depth-1 singular values s_k^2 = (sqrt(n_k lH/lW) - N lH)_+ at every depth",
    seed=20230601,
    quick=dict(
        n=[200, 100, 50, 50],
        lam=5e-4,
        depths=[1, 2, 3, 4],
        d=32,
        lr=0.2,
        n_steps=10000,
        tiny_std=1e-2,
        tiny_depth=3,
        n_bias=[50, 50, 50, 50],
        bias_depths=[2],
    ),
    full=dict(
        n=[200, 100, 50, 50, 25],
        lam=5e-4,
        depths=[1, 2, 3, 4, 5],
        d=48,
        lr=0.2,
        n_steps=30000,
        tiny_std=1e-2,
        tiny_depth=4,
        n_bias=[50, 50, 50, 50],
        bias_depths=[2, 3, 4],
    ),
)
def deep_linear(ctx: ClaimContext):
    p = ctx.params
    n, lam = np.array(p["n"]), p["lam"]
    K, N = n.size, int(n.sum())
    seeds = np.random.SeedSequence(ctx.seed).spawn(len(p["depths"]) + 1 + len(p["bias_depths"]))
    biased = {
        M: sim.train_ufm(
            p["n_bias"],
            lam,
            lam,
            loss="mse",
            depth=M,
            bias=True,
            d=p["d"],
            lr=p["lr"],
            n_steps=p["n_steps"],
            record_every=p["n_steps"] // 20,
            seed=s,
        )
        for M, s in zip(p["bias_depths"], seeds[len(p["depths"]) + 1 :])
    }
    runs = {
        M: sim.train_ufm(
            n,
            lam,
            lam,
            loss="mse",
            depth=M,
            d=p["d"],
            lr=p["lr"],
            n_steps=p["n_steps"],
            record_every=p["n_steps"] // 20,
            seed=s,
        )
        for M, s in zip(p["depths"], seeds)
    }
    tiny = sim.train_ufm(
        n,
        lam,
        lam,
        loss="mse",
        depth=p["tiny_depth"],
        d=p["d"],
        lr=p["lr"],
        n_steps=p["n_steps"],
        init_std=p["tiny_std"],
        record_every=p["n_steps"] // 20,
        seed=seeds[-1],
    )

    def judge(wrong: bool):
        checks, rows = [], []
        for M, r in runs.items():
            s_th = np.sort([th.deep_ufm_singular_value(nk, N, lam, lam, 1 if wrong else M) for nk in n])[::-1]
            sv = np.array([np.linalg.svd(L, compute_uv=False)[:K] for L in r.layers])  # (M, K)
            WWt = r.W @ r.W.T
            checks += [
                stats.deterministic(
                    f"depth {M}: top-K singular values of every layer",
                    sv,
                    s_th[None, :],
                    atol=OPT_RTOL * s_th.max(),
                    reason=OPT_REASON,
                    seed=ctx.seed,
                ),
                stats.deterministic(
                    f"depth {M}: W W^T = diag(s_k^(2M)) (orthogonal frame)",
                    np.sort(np.diag(WWt))[::-1],
                    s_th ** (2 * M),
                    atol=OPT_RTOL * s_th.max() ** (2 * M),
                    reason=OPT_REASON,
                    seed=ctx.seed,
                ),
                stats.deterministic(
                    f"depth {M}: off-diagonal of W W^T",
                    np.abs(WWt - np.diag(np.diag(WWt))).max(),
                    0.0,
                    atol=OPT_RTOL * s_th.max() ** (2 * M),
                    reason=OPT_REASON,
                    seed=ctx.seed,
                ),
                _optimal_value(
                    f"depth {M}",
                    r.objective,
                    th.ufm_optimum(n, lam, lam, loss="mse", depth=1 if wrong else M),
                    n,
                    lam,
                    "mse",
                    ctx.seed,
                ),
            ]
            for j in range(M):
                rows += [
                    _row(
                        "layers",
                        f"class {k} (n={n[np.argsort(n)[::-1][k]]})",
                        M + 0.15 * j / max(M - 1, 1),
                        theory=s_th[k],
                        simulated=sv[j, k],
                    )
                    for k in range(K)
                ]
        for M, r in biased.items():
            o = th.ufm_optimum(p["n_bias"], lam, lam, loss="mse", depth=1 if wrong else M, bias=True)
            WWt, WH = r.W @ r.W.T, r.W @ r.H_mean
            checks += [
                stats.deterministic(
                    f"bias, depth {M}: W W^T (simplex ETF), W H_mean and b = 1/K",
                    np.concatenate([WWt.ravel(), WH.ravel(), r.b]),
                    np.concatenate([(o.W @ o.W.T).ravel(), (o.W @ o.H_mean).ravel(), o.b]),
                    atol=OPT_RTOL * max(np.abs(o.W @ o.W.T).max(), 1.0),
                    reason=OPT_REASON,
                    seed=ctx.seed,
                ),
                _optimal_value(f"bias, depth {M}", r.objective, o, p["n_bias"], lam, "mse", ctx.seed),
            ]
        checks.append(
            stats.deterministic(
                f"depth {p['tiny_depth']}, init std {p['tiny_std']}: GD converges to the trivial local minimum W = 0",
                np.linalg.norm(tiny.W),
                0.0,
                atol=1e-6,
                reason="for M >= 2, s = 0 is a strict local minimum of every f_k (f_k'(s) ~ M lW s near 0), so GD "
                "from a small enough init decays to it geometrically",
                seed=ctx.seed,
            )
        )
        panels = (
            Panel(
                "layers",
                "depth M (markers offset by layer)",
                "per-layer singular value s_k",
                title="closed form (theory) vs every layer's top-K singular values (GD)",
            ),
        )
        return ctx.evidence(checks, rows, panels, prediction="depth-1 law" if wrong else "published")

    return judge(False), judge(True)


# ---------------------------------------------------------------------------------------------------
# 5. Minority collapse in the layer-peeled model


def _minority_cos(W: np.ndarray, K_A: int) -> float:
    Wm = W[K_A:]
    C = (Wm @ Wm.T) / np.outer(np.linalg.norm(Wm, axis=1), np.linalg.norm(Wm, axis=1))
    return float(C[~np.eye(len(Wm), dtype=bool)].mean())


@claim(
    "nc.minority_collapse",
    area=AREA,
    title="Layer-peeled model: the minority classifiers' mutual cosine rises from the ETF value -1/(K-1) (R = 1)"
    " to 1 as the imbalance ratio R grows (minority collapse); the threshold R* is measured",
    reference="Fang, He, Long & Su 2021 (PNAS): LPM, balanced ETF optimum, Minority Collapse theorem",
    control="no minority collapse: minority cosines stay at the ETF value -1/(K-1) for every R",
    seed=20210303,
    quick=dict(
        K=10, K_A=5, E_W=1.0, E_H=5.0, n_B=100, R=[1, 2, 4, 8, 10, 12, 16, 32, 64], R_check=16, lr=0.1, n_steps=20000
    ),
    full=dict(
        K=10,
        K_A=5,
        E_W=1.0,
        E_H=5.0,
        n_B=100,
        R=[1, 1.5, 2, 3, 4, 6, 8, 10, 11, 12, 12.5, 13, 14, 16, 20, 32, 64, 128],
        R_check=16,
        lr=0.1,
        n_steps=40000,
    ),
)
def minority_collapse(ctx: ClaimContext):
    p = ctx.params
    K, K_A = p["K"], p["K_A"]
    seeds = np.random.SeedSequence(ctx.seed).spawn(len(p["R"]))
    runs = []
    for R, s in zip(p["R"], seeds):
        n = np.array([int(round(R * p["n_B"]))] * K_A + [p["n_B"]] * (K - K_A))
        runs.append(
            sim.train_layer_peeled(
                n, p["E_W"], p["E_H"], lr=p["lr"], n_steps=p["n_steps"], record_every=p["n_steps"] // 20, seed=s
            )
        )
    cos = np.array([_minority_cos(r.W, K_A) for r in runs])
    R = np.array(p["R"], float)
    W1, H1 = th.layer_peeled_balanced(K, p["E_W"], p["E_H"])
    r1 = runs[int(np.flatnonzero(R == 1)[0])]
    collapsed = cos >= 1 - 1e-6
    R_star = float(R[np.argmax(collapsed)]) if collapsed.any() else np.nan
    etf_cos = -1.0 / (K - 1)

    def judge(wrong: bool):
        big = R >= p["R_check"]
        pred = np.where(R == 1, etf_cos, np.where(big, 1.0, np.nan))
        if wrong:
            pred = np.where(np.isnan(pred), np.nan, etf_cos)
        checks = [
            stats.deterministic(
                "R = 1: W W^T and H_mean^T W equal the balanced LPM's simplex ETF",
                np.concatenate([(r1.W @ r1.W.T).ravel(), (r1.H_mean.T @ r1.W.T).ravel()]),
                np.concatenate([(W1 @ W1.T).ravel(), (H1.T @ W1.T).ravel()]),
                atol=OPT_RTOL,
                reason=OPT_REASON,
                seed=ctx.seed,
            ),
            stats.deterministic(
                f"mean minority cosine at R = 1 (ETF) and R >= {p['R_check']} (collapsed)",
                cos[~np.isnan(pred)],
                pred[~np.isnan(pred)],
                atol=OPT_RTOL,
                reason=OPT_REASON,
                seed=ctx.seed,
            ),
            stats.deterministic(
                "the minority cosine is non-decreasing in R: max decrease between successive R",
                float(max(0.0, -np.min(np.diff(cos)))),
                0.0,
                atol=OPT_RTOL,
                reason=OPT_REASON,
                seed=ctx.seed,
            ),
        ]
        rows = [_row("cosine", "projected GD", r, simulated=c) for r, c in zip(R, cos)]
        rows += [_row("cosine", "ETF value -1/(K-1) (predicted at R = 1)", r, theory=etf_cos) for r in R]
        rows += [
            _row(
                "cosine",
                "predicted for R >= R_check" + (" (control: ETF)" if wrong else ": collapse, cos = 1"),
                r,
                theory=v,
            )
            for r, v in zip(R, pred)
            if np.isfinite(v) and r >= p["R_check"]
        ]
        rows.append(_row("cosine", f"measured threshold R* = {R_star:g}", R_star, simulated=1.0))
        panels = (
            Panel(
                "cosine",
                "imbalance ratio R = n_A/n_B",
                "mean cosine between minority classifiers",
                "log",
                title=f"K={K}, K_A={K_A}, E_W={p['E_W']}, E_H={p['E_H']}; measured R* = {R_star:g}",
            ),
        )
        return ctx.evidence(checks, rows, panels, prediction="no collapse" if wrong else "published")

    return judge(False), judge(True)


# ---------------------------------------------------------------------------------------------------
# 6. Terminal phase of training in a nonlinear MLP


def _terminal_logs(run: sim.FeatureHistory, y) -> tuple[int, np.ndarray]:
    """(index of the first record with zero training error, log NC1/NC2/NC3 at each record)."""
    i0 = int(np.argmax(run.train_error == 0)) if np.any(run.train_error == 0) else -1
    logs = []
    for H, W, b in zip(run.features, run.W, run.b):
        m = th.nc_metrics(H, y, W, b)
        logs.append(np.log([m["nc1"], m["nc2"], m["nc3"]]))
    return i0, np.array(logs)


@claim(
    "nc.terminal_phase",
    area=AREA,
    title="Terminal phase in a ReLU MLP on Gaussian-mixture data: after zero training error, NC1 falls and the "
    "class means and classifier approach the simplex ETF and each other (NC2, NC3 fall)",
    reference=f"{PHD} (trend over the terminal phase); beyond the UFM idealisation",
    control="no collapse: NC1, NC2, NC3 do not fall over the terminal phase (log ratio >= 0)",
    seed=20200606,
    quick=dict(
        K=4, n=25, dim=32, widths=[64, 64], weight_decay=2e-3, lr=0.1, n_epochs=1000, record_every=100, n_seeds=16
    ),
    full=dict(
        K=4, n=25, dim=32, widths=[128, 128], weight_decay=2e-3, lr=0.1, n_epochs=4000, record_every=100, n_seeds=32
    ),
)
def terminal_phase(ctx: ClaimContext):
    p = ctx.params
    seeds = np.random.SeedSequence(ctx.seed).spawn(2 * p["n_seeds"])
    starts, ratios, curves, epochs = [], [], [], None
    for k in range(p["n_seeds"]):
        X, y = sim.gaussian_mixture(p["K"], p["n"], p["dim"], seed=seeds[2 * k])
        run = sim.train_mlp(
            X,
            y,
            widths=tuple(p["widths"]),
            weight_decay=p["weight_decay"],
            lr=p["lr"],
            n_epochs=p["n_epochs"],
            record_every=p["record_every"],
            seed=seeds[2 * k + 1],
        )
        i0, logs = _terminal_logs(run, y)
        starts.append(i0)
        ratios.append(logs[-1] - logs[max(i0, 0)])
        curves.append(logs)
        epochs = run.epochs
    ratios, curves = np.array(ratios), np.array(curves)
    a = ALPHA / 4
    t = float(sps.t.isf(a, p["n_seeds"] - 1))

    def judge(wrong: bool):
        checks = [
            stats.deterministic(
                "zero training error reached before the last tenth of training (every seed)",
                float(np.all((np.array(starts) >= 0) & (np.array(starts) < 0.9 * len(epochs)))),
                1.0,
                atol=0.5,
                reason="exact (1 = all seeds)",
                seed=ctx.seed,
            )
        ]
        for j, name in enumerate(("NC1", "NC2 (ETF distance of class means)", "NC3")):
            mean, se = ratios[:, j].mean(), stats.standard_error(ratios[:, j])
            bound = mean - t * se if wrong else mean + t * se  # one-sided confidence bound at level a
            detail = (
                f"log(end/start) mean={mean:.4g}, SE={se:.3g}, t={t:.2f} (one-sided alpha={a:g}, "
                f"{p['n_seeds']} seeds), bound={bound:.4g}; seed={ctx.seed}"
            )
            checks.append(
                Check(
                    name=f"{name} falls over the terminal phase: {'lower' if wrong else 'upper'} "
                    f"confidence bound of the mean log ratio {'>=' if wrong else '<'} 0",
                    statistic=bound,
                    threshold=0.0,
                    relation=">=" if wrong else "<=",
                    detail=detail,
                )
            )
        rows = []
        for j, name in enumerate(("NC1", "NC2", "NC3")):
            v = np.exp(curves[:, :, j])
            rows += [
                _row("terminal", name, e, simulated=v[:, i].mean(), se=stats.standard_error(v[:, i]))
                for i, e in enumerate(epochs)
            ]
        t0 = float(np.mean(epochs[np.array(starts)]))
        panels = (
            Panel(
                "terminal",
                "epoch",
                "metric (mean +- SE over seeds)",
                "linear",
                "log",
                f"NC metrics during training; zero training error from epoch {t0:g} (mean over seeds)",
            ),
        )
        return ctx.evidence(checks, rows, panels, prediction="no collapse" if wrong else "published")

    return judge(False), judge(True)
