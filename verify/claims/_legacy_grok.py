"""Grokking: Levi, Beck & Bar-Sinai's solvable linear estimator; Gromov's analytic modular-addition solution.

Linear claims run exact discrete GD (dltheory.simulators.grokking, d_out = 1, t in GD steps) over independent seeds and
compare seed means with the exact Marchenko-Pastur predictions of dltheory.theory.grokking in their discrete-GD form
(``discrete=True``: the MP mean of eq. 14's per-mode factor; it differs from the paper's flow form by < 2 steps
at lr = 0.02). Monte Carlo noise (random teacher, init and data) is the seed-to-seed scatter; the remaining bias
bound is one step (the first integer step after the root).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import stats as scipy_stats

from dltheory.simulators import grokking as sim
from dltheory.theory import grokking as th
from dltheory.verify import stats
from dltheory.verify.evidence import Check, Panel
from dltheory.verify.registry import ClaimContext, claim

AREA = "grokking"
ALPHA = 1e-3  # family-wise false-failure budget per claim, split (Bonferroni) over its checks
LEVI = "Levi, Beck & Bar-Sinai 2023 (arXiv:2310.16441)"


# ---------------------------------------------------------------------------------------------------
# 1. Linear estimator: grokking times (eqs. 8-10), delay


def _times_prediction(lam: float, lr: float, eps: float, *, wrong: bool) -> tuple[float, float]:
    """(t_train, t_gen); the control replaces the exact delay by the eps -> 0 asymptote of eq. 12."""
    t_tr, t_gen = th.linear_estimator_grokking_times(lam, lr, eps, discrete=True)
    if wrong:
        t_gen = t_tr + th.linear_estimator_delay_asymptote(lam, lr)
    return t_tr, t_gen


@claim(
    "grok.linear_times",
    area=AREA,
    title="Linear estimator: exact GD grokking times (train, generalisation) and delay match the exact MP "
    "prediction; the delay grows with lam = d_in/N_tr",
    reference=f"{LEVI}, eqs. 6-10 (MP loss curves, accuracy-loss map), eq. 12 (asymptotic delay)",
    control="delay from the eps -> 0 asymptote eq. 12 instead of the exact MP roots",
    seed=20231025,
    quick=dict(lams=[0.1, 0.3, 0.5, 0.7], lr=0.02, eps=1e-3, d_in=150, n_seeds=32, n_acc_seeds=4, n_test=1000),
    full=dict(lams=[0.1, 0.3, 0.5, 0.7], lr=0.01, eps=1e-3, d_in=800, n_seeds=64, n_acc_seeds=8, n_test=4000),
)
def linear_times(ctx: ClaimContext):
    p = ctx.params
    lams, lr, eps = np.array(p["lams"], float), p["lr"], p["eps"]
    acc = th.ACCURACY_AT_EPS_OVER_4
    seeds = np.random.SeedSequence(ctx.seed).generate_state(2 * len(lams))
    sim_t = {}  # (seeds, lam) arrays per definition
    for j, lam in enumerate(lams):
        horizon = int(1.6 * th.linear_estimator_grokking_times(lam, lr, eps, discrete=True)[1]) + 2
        common = dict(d_in=p["d_in"], n_steps=horizon, n_test=p["n_test"])
        # many seeds for the loss crossings (cheap), a few with accuracies on data (one matmul per step)
        run = sim.linear_teacher_student(
            lam, lr, eps, **common, n_seeds=p["n_seeds"], accuracy_every=None, seed=int(seeds[2 * j])
        )
        run_acc = sim.linear_teacher_student(
            lam, lr, eps, **common, n_seeds=p["n_acc_seeds"], seed=int(seeds[2 * j + 1])
        )
        for key, r, curve, thr, below in (
            ("loss_tr", run, "train_loss", eps / 4, True),
            ("loss_gen", run, "gen_loss", eps / 4, True),
            ("paired_loss_tr", run_acc, "train_loss", eps / 4, True),
            ("paired_loss_gen", run_acc, "gen_loss", eps / 4, True),
            ("acc_tr", run_acc, "train_acc", acc, False),
            ("acc_gen", run_acc, "test_acc", acc, False),
        ):
            sim_t.setdefault(key, []).append(r.first_step(curve, thr, below=below))
    sim_t = {k: np.column_stack(v).astype(float) for k, v in sim_t.items()}
    if any(np.any(v < 0) for v in sim_t.values()):
        raise RuntimeError(f"a run did not reach L = eps/4 / 95.45 % accuracy within 1.6 t_gen (seed={ctx.seed})")
    # eq. 10: per seed, the 95.45 %-accuracy step minus the L = eps/4 step (paired, same run)
    acc_minus_loss = np.stack(
        [sim_t["acc_tr"] - sim_t["paired_loss_tr"], sim_t["acc_gen"] - sim_t["paired_loss_gen"]], axis=2
    )
    lam_fine = np.linspace(lams.min(), lams.max(), 25)

    def judge(wrong: bool):
        pred = np.array([_times_prediction(lam, lr, eps, wrong=wrong) for lam in lams])  # (lam, 2)
        alpha = ALPHA / 4
        bias = 1.0
        reason = "one GD step: the simulated time is the first integer step at or after the root"
        times = np.stack([sim_t["loss_tr"], sim_t["loss_gen"]], axis=2)  # (seed, lam, 2)
        checks = [
            stats.mean_matches(
                "(t_train, t_gen) at L = eps/4 vs exact MP roots",
                times,
                pred,
                alpha=alpha,
                bias=bias,
                bias_reason=reason,
                seed=ctx.seed,
            ),
            stats.mean_matches(
                "delay t_gen - t_train vs prediction",
                times[..., 1] - times[..., 0],
                pred[:, 1] - pred[:, 0],
                alpha=alpha,
                bias=2 * bias,
                bias_reason="one step on each of the two times",
                seed=ctx.seed,
            ),
            stats.mean_matches(
                "eq. 10: step of 95.45 % accuracy (train points / fresh test points) minus "
                "step of L = eps/4, paired per seed",
                acc_minus_loss,
                0.0,
                alpha=alpha,
                bias=np.maximum(2.0, 0.03 * pred),
                bias_reason=(
                    "two steps of quantisation, or 3 % of the time for the training "
                    "points, whose D^T x_i is not exactly Gaussian (D depends on them)"
                ),
                seed=ctx.seed,
            ),
        ]
        delay = (sim_t["loss_gen"] - sim_t["loss_tr"]).mean(axis=0)
        checks.append(
            stats.deterministic(
                "seed-mean delay strictly increasing in lam (1 = yes)",
                float(np.all(np.diff(delay) > 0)),
                1.0,
                atol=0.5,
                reason="exact ordering indicator",
                seed=ctx.seed,
            )
        )
        rows = []
        for i, name in enumerate(("t_train", "t_gen")):
            series = f"{name} (L = eps/4)"
            rows += [
                dict(
                    panel="times",
                    series=series,
                    x=lam,
                    theory=np.nan,
                    simulated=sim_t[f"loss_{k}"][:, j].mean(),
                    se=stats.standard_error(sim_t[f"loss_{k}"][:, j]),
                )
                for j, lam in enumerate(lams)
                for k in [("tr", "gen")[i]]
            ]
            rows += [
                dict(
                    panel="times",
                    series=series,
                    x=x,
                    theory=_times_prediction(x, lr, eps, wrong=wrong)[i],
                    simulated=np.nan,
                    se=np.nan,
                )
                for x in lam_fine
            ]
        d_sim = sim_t["loss_gen"] - sim_t["loss_tr"]
        rows += [
            dict(
                panel="delay",
                series="delay",
                x=lam,
                theory=np.nan,
                simulated=d_sim[:, j].mean(),
                se=stats.standard_error(d_sim[:, j]),
            )
            for j, lam in enumerate(lams)
        ]
        rows += [
            dict(
                panel="delay",
                series="delay",
                x=x,
                theory=np.subtract(*_times_prediction(x, lr, eps, wrong=wrong)[::-1]),
                simulated=np.nan,
                se=np.nan,
            )
            for x in lam_fine
        ]
        rows += [
            dict(
                panel="delay",
                series="eq. 12 (eps -> 0)",
                x=x,
                theory=th.linear_estimator_delay_asymptote(x, lr),
                simulated=np.nan,
                se=np.nan,
            )
            for x in lam_fine
        ]
        panels = (
            Panel(
                "times",
                "lam = d_in / N_tr",
                "GD steps to L = eps/4 (95.45 % accuracy)",
                "linear",
                "log",
                f"exact MP roots (lines) vs exact GD, d_in={p['d_in']}, {p['n_seeds']} seeds (mean +- SE)",
            ),
            Panel(
                "delay",
                "lam = d_in / N_tr",
                "grokking delay t_gen - t_train (steps)",
                "linear",
                "log",
                "delay: exact MP (line), eq. 12 asymptote, simulation",
            ),
        )
        return ctx.evidence(checks, rows, panels, prediction="eq. 12 delay" if wrong else "published")

    return judge(False), judge(True)


# ---------------------------------------------------------------------------------------------------
# 2. Linear estimator with weight decay: loss floors (eq. 15 at t = inf) and the critical weight decay


def _floors(lam: float, gamma: float, *, wrong: bool) -> tuple[float, float]:
    """Exact floors; the control uses eq. 16 as printed, twice the value eq. 15 implies (erratum)."""
    f = th.linear_estimator_loss_floors(lam, gamma)
    return (2 * f[0], 2 * f[1]) if wrong else f


def _critical_gamma(lam: float, eps: float, *, wrong: bool) -> float:
    """gamma_c from floor_gen(gamma_c) = eps/4; with eq. 16's doubled floor it is smaller by ~ 1/sqrt(2)."""
    if not wrong:
        return th.linear_estimator_critical_weight_decay(lam, eps)
    return th.linear_estimator_critical_weight_decay(lam, eps / 2)


@claim(
    "grok.linear_weight_decay",
    area=AREA,
    title="Linear estimator with weight decay: train/test loss floors follow eq. 15 at t = inf "
    "(gamma^2/(8(1-lam)), gamma^2/(8(1-lam)^3) for small gamma) and grokking to 95.45 % happens iff "
    "gamma < gamma_c",
    reference=f"{LEVI}, eqs. 14-16 (weight decay; eq. 16's floors are twice what eq. 15 gives)",
    control="the floors printed in eq. 16 (twice eq. 15's) and the critical weight decay they imply",
    seed=20231016,
    quick=dict(
        lams=[0.1, 0.3],
        gamma_ratios=[0.5, 0.8, 1.25, 2.0],
        lr=0.05,
        eps=1e-3,
        d_in=100,
        n_seeds=32,
        n_test=1000,
        n_steps=500,
    ),
    full=dict(
        lams=[0.1, 0.3, 0.5],
        gamma_ratios=[0.5, 0.8, 1.25, 2.0],
        lr=0.05,
        eps=1e-3,
        d_in=400,
        n_seeds=32,
        n_test=2000,
        n_steps=1500,
    ),
)
def linear_weight_decay(ctx: ClaimContext):
    p = ctx.params
    lams, ratios, lr, eps = p["lams"], np.array(p["gamma_ratios"], float), p["lr"], p["eps"]
    seeds = np.random.SeedSequence(ctx.seed).generate_state(len(lams) * len(ratios))
    gammas = np.array([[r * th.linear_estimator_critical_weight_decay(lam, eps) for r in ratios] for lam in lams])
    floor_tr, floor_gen, final_acc = (np.empty((p["n_seeds"], len(lams), len(ratios))) for _ in range(3))
    for i, lam in enumerate(lams):
        for j, gamma in enumerate(gammas[i]):
            run = sim.linear_teacher_student(
                lam,
                lr,
                eps,
                d_in=p["d_in"],
                n_steps=p["n_steps"],
                n_seeds=p["n_seeds"],
                n_test=p["n_test"],
                weight_decay=gamma,
                accuracy_every=p["n_steps"],
                seed=int(seeds[i * len(ratios) + j]),
            )
            floor_tr[:, i, j], floor_gen[:, i, j] = run.train_loss[:, -1], run.gen_loss[:, -1]
            final_acc[:, i, j] = run.test_acc[:, -1]
            transient = np.abs(run.gen_loss[:, -1] / run.gen_loss[:, -2] - 1).max()
            if transient > 1e-4:
                raise RuntimeError(
                    f"lam={lam}, gamma={gamma:.4g}: loss still moving ({transient:.2g}/step) after "
                    f"{p['n_steps']} steps; raise n_steps (seed={ctx.seed})"
                )
    grokked = final_acc.mean(axis=0) >= th.ACCURACY_AT_EPS_OVER_4  # seed-mean final test accuracy

    def judge(wrong: bool):
        pred = np.array([[_floors(lam, g, wrong=wrong) for g in gammas[i]] for i, lam in enumerate(lams)])
        alpha = ALPHA / 3
        n_tr = np.round(p["d_in"] / np.array(lams, float))[:, None]
        rel = 2.0 / (n_tr * (1.0 - np.array(lams, float)[:, None]))
        reason = (
            "finite N_tr: the floors are E[(gamma/2)^2 q / (nu + gamma/2)^2] over the empirical spectrum; "
            "inverse-Wishart moments put E tr(Sigma^-1)/d at 1/(1 - lam - 1/N_tr), a relative excess "
            "~ 1/(N_tr (1 - lam)); doubled for the second moment: bias = 2 pred / (N_tr (1 - lam)); "
            "the GD transient left is < 1e-4 relative (checked)"
        )
        checks = [
            stats.mean_matches(
                "train floor L_tr(inf) vs eq. 15",
                floor_tr,
                pred[..., 0],
                alpha=alpha,
                bias=rel * pred[..., 0],
                bias_reason=reason,
                seed=ctx.seed,
            ),
            stats.mean_matches(
                "generalisation floor L_gen(inf) vs eq. 15",
                floor_gen,
                pred[..., 1],
                alpha=alpha,
                bias=rel * pred[..., 1],
                bias_reason=reason,
                seed=ctx.seed,
            ),
        ]
        predicted = np.array(
            [[g < _critical_gamma(lam, eps, wrong=wrong) for g in gammas[i]] for i, lam in enumerate(lams)]
        )
        checks.append(
            stats.deterministic(
                "grokked (seed-mean final test accuracy >= 95.45 %) iff gamma < gamma_c: "
                "number of misclassified (lam, gamma)",
                float(np.sum(predicted != grokked)),
                0.0,
                atol=0.5,
                reason="exact count",
                seed=ctx.seed,
            )
        )
        rows = []
        g_fine = np.geomspace(gammas.min() / 2, gammas.max() * 2, 30)
        for i, lam in enumerate(lams):
            for k, (name, data) in enumerate((("L_tr", floor_tr), ("L_gen", floor_gen))):
                series = f"{name}(inf), lam={lam:g}"
                rows += [
                    dict(
                        panel="floors",
                        series=series,
                        x=g,
                        theory=np.nan,
                        simulated=data[:, i, j].mean(),
                        se=stats.standard_error(data[:, i, j]),
                    )
                    for j, g in enumerate(gammas[i])
                ]
                rows += [
                    dict(
                        panel="floors",
                        series=series,
                        x=g,
                        theory=_floors(lam, g, wrong=wrong)[k],
                        simulated=np.nan,
                        se=np.nan,
                    )
                    for g in g_fine
                ]
            gc = _critical_gamma(lam, eps, wrong=wrong)
            rows += [
                dict(
                    panel="critical",
                    series=f"lam={lam:g}",
                    x=g / gc,
                    theory=np.nan,
                    simulated=final_acc[:, i, j].mean(),
                    se=stats.standard_error(final_acc[:, i, j]),
                )
                for j, g in enumerate(gammas[i])
            ]
            rows += [
                dict(
                    panel="critical",
                    series=f"95.45 % threshold, lam={lam:g}",
                    x=x,
                    theory=th.ACCURACY_AT_EPS_OVER_4,
                    simulated=np.nan,
                    se=np.nan,
                )
                for x in (ratios.min(), ratios.max())
            ]
        panels = (
            Panel(
                "floors",
                "weight decay gamma",
                "loss at t = inf",
                "log",
                "log",
                "eq. 15 floors (lines) vs exact GD (mean +- SE)",
            ),
            Panel(
                "critical",
                "gamma / gamma_c (predicted)",
                "final test accuracy",
                "log",
                "linear",
                "final test accuracy: grokking iff gamma < gamma_c",
            ),
        )
        return ctx.evidence(checks, rows, panels, prediction="eq. 16 floors" if wrong else "published")

    return judge(False), judge(True)


# ---------------------------------------------------------------------------------------------------
# 3. Gromov's analytic modular-addition solution: accuracy vs width, size of the random-phase sums

GROMOV = "Gromov 2023 (arXiv:2301.02679)"


def _spurious_mean_square(p: int, width: int, seed: int) -> tuple[float, float]:
    """(accuracy, mean over (a, b, q) of (f - signal)^2) for one analytic solution, signal = (1/2) sum_n
    cos(omega k_n (a + b - q)) ([G23] eq. 11)."""
    U, V, W = th.modular_addition_solution(p, width, seed)
    f = th.modular_addition_logits(U, V, W)
    k = 1 + np.arange(width) % ((p - 1) // 2)
    s = (np.arange(p)[:, None, None] + np.arange(p)[None, :, None] - np.arange(p)[None, None, :]) % p
    signal = (0.5 * np.cos(2 * np.pi * np.outer(np.arange(p), k) / p).sum(axis=1))[s]
    return th.logits_accuracy(f), float(np.mean((f - signal) ** 2))


def _non_decreasing(name: str, samples: np.ndarray, alpha: float, seed) -> Check:
    """One-sided test that seed means of ``samples`` (seed, curve, x) do not drop between neighbouring x:
    worst drop / (z SE_drop), z Bonferroni over all neighbour pairs (independent seeds per x)."""
    mean, se = samples.mean(axis=0), stats.standard_error(samples)
    drop = mean[:, :-1] - mean[:, 1:]
    se_drop = np.sqrt(se[:, :-1] ** 2 + se[:, 1:] ** 2)
    z = float(scipy_stats.norm.isf(alpha / drop.size))
    ratio = drop / (z * se_drop + 1e-12)  # 1e-12: both means exactly 1 with zero scatter
    i = np.unravel_index(np.argmax(ratio), ratio.shape)
    return Check(
        name=name,
        statistic=float(ratio[i]),
        threshold=1.0,
        relation="<=",
        detail=(
            f"largest drop {drop[i]:.4g} (SE {se_drop[i]:.2g}) at curve {i[0]}, step {i[1]}; one-sided "
            f"z={z:.2f} (alpha={alpha:g}, Bonferroni over {drop.size}); seed={seed}"
        ),
    )


@claim(
    "grok.analytic_solution",
    area=AREA,
    title="Gromov's analytic quadratic-network weights solve Z_p addition: 100 % accuracy at width >= 4p, "
    "accuracy non-decreasing in width, random-phase sums of mean square exactly N (rms/N ~ N^-1/2)",
    reference=f"{GROMOV}, eqs. 6-7, 12 (weights, phase constraint), eqs. 11 and 15 (expansion, o(N) sums)",
    control="the random-phase sums cancel to O(1) (rms/N ~ 1/N, mean square N/2) and width >= p already suffices",
    seed=20230106,
    quick=dict(primes=[47, 53], multiples=[2, 3, 4, 6, 9, 13, 20], n_seeds=12),
    full=dict(primes=[47, 53, 61, 71, 83, 97], multiples=[2, 3, 4, 6, 9, 13, 20, 30], n_seeds=12),
)
def analytic_solution(ctx: ClaimContext):
    p_ = ctx.params
    primes, mult = p_["primes"], np.array(p_["multiples"])
    seeds = np.random.SeedSequence(ctx.seed).generate_state(len(primes) * p_["n_seeds"]).reshape(len(primes), -1)
    acc = np.empty((p_["n_seeds"], len(primes), mult.size))
    ms = np.empty_like(acc)
    widths = np.array([[m * (p - 1) // 2 for m in mult] for p in primes])
    for i, p in enumerate(primes):
        for j, N in enumerate(widths[i]):
            for s in range(p_["n_seeds"]):
                acc[s, i, j], ms[s, i, j] = _spurious_mean_square(p, int(N), int(seeds[i, s]))

    def judge(wrong: bool):
        alpha = ALPHA / (3 + 2 * len(primes))
        min_width = np.array([[N >= (1 if wrong else 4) * p for N in widths[i]] for i, p in enumerate(primes)])
        checks = [
            stats.deterministic(
                f"number of (prime, width >= {'p' if wrong else '4p'}, seed) runs below 100 % accuracy",
                float(np.sum(acc[:, min_width] < 1.0)),
                0.0,
                atol=0.5,
                reason="exact count over all p^2 pairs",
                seed=ctx.seed,
            ),
            _non_decreasing("accuracy non-decreasing in width, every prime", acc, alpha, ctx.seed),
            stats.mean_matches(
                "mean_(a,b,q) (f - signal)^2 / N",
                ms / widths,
                0.5 if wrong else 1.0,
                alpha=alpha,
                bias=0.0,
                bias_reason=(
                    "exact: each neuron adds 1 (eight orthogonal spurious cosines, "
                    "squared amplitudes 1, 1/16 x 4, 1/4 x 3, halved), cross terms "
                    "have zero mean over independent phases"
                ),
                seed=ctx.seed,
            ),
        ]
        for i, p in enumerate(primes):
            rms = np.sqrt(ms[:, i]) / widths[i]
            fit = stats.fit_rate(widths[i], rms)
            checks.append(
                stats.rate_matches(
                    f"p={p}: rms(f - signal)/N ~ N^slope", fit, -1.0 if wrong else -0.5, alpha=alpha, seed=ctx.seed
                )
            )
            checks.append(
                stats.limit_matches(
                    f"p={p}: rms(f - signal)/N -> 0 as N -> inf",
                    1.0 / widths[i],
                    rms.mean(axis=0),
                    stats.standard_error(rms),
                    0.0,
                    order=1.0 if wrong else 0.5,
                    alpha=alpha,
                    seed=ctx.seed,
                )
            )
        rows = []
        for i, p in enumerate(primes):
            rows += [
                dict(
                    panel="accuracy",
                    series=f"p={p}",
                    x=N / p,
                    theory=np.nan,
                    simulated=acc[:, i, j].mean(),
                    se=stats.standard_error(acc[:, i, j]),
                )
                for j, N in enumerate(widths[i])
            ]
            rms = np.sqrt(ms[:, i]) / widths[i]
            rows += [
                dict(
                    panel="noise",
                    series=f"p={p}",
                    x=N,
                    theory=np.nan,
                    simulated=rms[:, j].mean(),
                    se=stats.standard_error(rms[:, j]),
                )
                for j, N in enumerate(widths[i])
            ]
            N_fine = np.geomspace(widths[i].min(), widths[i].max(), 20)
            n0 = widths[i].min()  # the control's 1/N line is drawn through the published curve at the smallest N
            rows += [
                dict(
                    panel="noise",
                    series=f"p={p}",
                    x=N,
                    theory=n0**-0.5 * n0 / N if wrong else N**-0.5,
                    simulated=np.nan,
                    se=np.nan,
                )
                for N in N_fine
            ]
        rows += [
            dict(panel="accuracy", series="width = 4p", x=4.0, theory=v, simulated=np.nan, se=np.nan)
            for v in (acc.min(), 1.0)
        ]
        panels = (
            Panel(
                "accuracy",
                "width / p",
                "accuracy over all p^2 pairs",
                "log",
                "linear",
                f"analytic solution, {p_['n_seeds']} phase seeds (mean +- SE)",
            ),
            Panel(
                "noise",
                "width N",
                "rms(f - signal) / N",
                "log",
                "log",
                "random-phase sums: theory N^-1/2 (lines) vs computed",
            ),
        )
        return ctx.evidence(checks, rows, panels, prediction="O(1) phase sums, width p" if wrong else "published")

    return judge(False), judge(True)


# ---------------------------------------------------------------------------------------------------
# 4. Grokking in training (quadratic MLP on Z_p addition, AdamW) and its Fourier mechanism

NANDA = "Nanda, Chan, Lieberum, Smith & Steinhardt 2023 (arXiv:2301.05217)"
POWER = "Power, Burda, Edwards, Babuschkin & Misra 2022 (arXiv:2201.02177)"
_MLP = dict(p=23, width=64, lr=1e-2, weight_decay=0.3, n_steps=5000, record_every=50)


@lru_cache(maxsize=32)
def _mlp_runs(fractions: tuple, n_seeds: int, seed: int, config: tuple):
    """One vmapped training per fraction (seeds spawned per fraction); cached so claims sharing runs train once."""
    cfg = dict(config)
    seeds = np.random.SeedSequence(seed).generate_state(len(fractions))
    return [
        sim.train_modular_addition(
            cfg["p"],
            cfg["width"],
            f,
            lr=cfg["lr"],
            weight_decay=cfg["weight_decay"],
            n_steps=cfg["n_steps"],
            record_every=cfg["record_every"],
            n_seeds=n_seeds,
            seed=int(s),
        )
        for f, s in zip(fractions, seeds)
    ]


def _mlp_config(p: dict) -> tuple:
    return tuple(sorted((k, p.get(k, v)) for k, v in _MLP.items()))


@claim(
    "grok.mlp_grokking",
    area=AREA,
    title="Quadratic MLP on Z_23 addition (AdamW, weight decay): 99 % train accuracy long before 99 % test "
    "accuracy; the delay grows as the training fraction falls; below the critical fraction no generalisation",
    reference=f"{POWER}, sec. 3.1 / Fig. 1; {GROMOV}, sec. 2 (quadratic MLP groks)",
    control="no grokking: test accuracy follows train accuracy (t99_test < 2 t99_train) and every fraction generalises",
    seed=20220106,
    quick=dict(fractions=[0.6, 0.5, 0.4], below=[0.2], n_seeds=3),
    full=dict(fractions=[0.6, 0.55, 0.5, 0.45, 0.4], below=[0.25, 0.2, 0.1], n_seeds=6, n_steps=8000),
)
def mlp_grokking(ctx: ClaimContext):
    p = ctx.params
    fr, below = tuple(p["fractions"]), tuple(p["below"])
    runs = _mlp_runs(fr + below, p["n_seeds"], ctx.seed, _mlp_config(p))
    t_tr = np.column_stack([r.first_step("train_acc", 0.99) for r in runs[: len(fr)]]).astype(float)
    t_te = np.column_stack([r.first_step("test_acc", 0.99) for r in runs[: len(fr)]]).astype(float)
    t_te[t_te < 0] = np.inf  # never generalised within the budget
    final_below = np.column_stack([r.test_acc[:, -1] for r in runs[len(fr) :]])
    delay = t_te - t_tr

    def judge(wrong: bool):
        ratio = t_te / np.maximum(t_tr, 1)
        checks = [
            stats.deterministic(
                "every seed: t99_test / t99_train " + ("< 2 (no grokking)" if wrong else ">= 2 (grokking) and finite"),
                float(np.sum((ratio >= 2) if wrong else ~((ratio >= 2) & np.isfinite(t_te) & (t_tr >= 0)))),
                0.0,
                atol=0.5,
                reason="exact count of seeds x fractions violating it; 2: generalisation takes at least as long "
                "again as memorisation (the grokking regime of Power et al.)",
                seed=ctx.seed,
            ),
            stats.deterministic(
                "seed-mean delay t99_test - t99_train strictly increases as the fraction falls (1 = yes)",
                float(np.all(np.diff(delay.mean(axis=0)) > 0)),
                1.0,
                atol=0.5,
                reason="exact ordering indicator (fractions listed in decreasing order)",
                seed=ctx.seed,
            ),
            stats.deterministic(
                f"fractions {list(below)}: number of seeds whose final test accuracy is "
                + (">= 0.5 (control: they generalise)" if not wrong else "< 0.5"),
                float(np.sum(final_below >= 0.5) if not wrong else np.sum(final_below < 0.5)),
                0.0,
                atol=0.5,
                reason=f"exact count; a generalising run exceeds 0.99, chance is 1/{_MLP['p']}",
                seed=ctx.seed,
            ),
        ]
        rows = []
        for j, f in enumerate(fr):
            for name, t in (("t99 train", t_tr[:, j]), ("t99 test", t_te[:, j])):
                rows.append(
                    dict(
                        panel="times",
                        series=name,
                        x=f,
                        theory=np.nan,
                        simulated=t.mean(),
                        se=stats.standard_error(t) if np.all(np.isfinite(t)) else np.nan,
                    )
                )
        for j, f in enumerate(below):
            rows.append(
                dict(
                    panel="below",
                    series="final test accuracy",
                    x=f,
                    theory=np.nan,
                    simulated=final_below[:, j].mean(),
                    se=stats.standard_error(final_below[:, j]),
                )
            )
        r0 = runs[fr.index(min(fr))]
        for name in ("train_acc", "test_acc"):
            rows += [
                dict(
                    panel="curves",
                    series=f"{name}, fraction {min(fr)}",
                    x=max(s, 1),
                    theory=np.nan,
                    simulated=v,
                    se=np.nan,
                )
                for s, v in zip(r0.steps, r0.__dict__[name][0])
            ]
        panels = (
            Panel(
                "times",
                "training fraction",
                "steps to 99 % accuracy",
                "linear",
                "log",
                f"p={_MLP['p']}, width {_MLP['width']}, AdamW wd {_MLP['weight_decay']} (mean +- SE)",
            ),
            Panel("below", "training fraction", "final test accuracy", title="below the critical fraction"),
            Panel("curves", "step", "accuracy", "log", "linear", "one seed: memorisation, then grokking"),
        )
        return ctx.evidence(checks, rows, panels, prediction="no grokking" if wrong else "published")

    return judge(False), judge(True)


@claim(
    "grok.fourier_mechanism",
    area=AREA,
    title="After grokking, neurons are single-frequency and satisfy phi_U + phi_V = phi_W; the excluded "
    "(memorising) loss rises while the test loss falls",
    reference=f"{GROMOV}, eqs. 7 and 20-21 (phase constraint, IPR); {NANDA}, sec. 5 (excluded loss)",
    control="the Fourier structure is already complete at memorisation (t99_train), and the excluded loss falls "
    "together with the test loss",
    seed=20220106,
    quick=dict(fractions=[0.6, 0.5, 0.4], below=[0.2], n_seeds=3),
    full=dict(fractions=[0.6, 0.55, 0.5, 0.45, 0.4], below=[0.25, 0.2, 0.1], n_seeds=6, n_steps=8000),
)
def fourier_mechanism(ctx: ClaimContext):
    p = ctx.params
    fr = tuple(p["fractions"])
    runs = _mlp_runs(fr + tuple(p["below"]), p["n_seeds"], ctx.seed, _mlp_config(p))[: len(fr)]
    # (quantity, analytic-solution value): IPR and top share are 1, the phase residual 0 (Gromov eqs. 6-7)
    quantities = (("ipr", 1.0), ("top_share", 1.0), ("phase_residual", 0.0))

    def distance(r, name, target, k):
        """(value at record k - analytic value) / (value at init - analytic value): 1 = random features, 0 = analytic."""
        v = getattr(r, name)
        return (v[np.arange(v.shape[0]), k] - target) / (v[:, 0] - target)

    def judge(wrong: bool):
        checks, rows = [], []
        alpha = ALPHA / (len(quantities) + 1)
        changes = []  # per run: (excluded-loss minimum before t99_test, rise/fall after it, rho, steps)
        for _j, (f, r) in enumerate(zip(fr, runs)):
            t_mem = np.searchsorted(r.steps, r.first_step("train_acc", 0.99))
            t_gen = np.searchsorted(r.steps, r.first_step("test_acc", 0.99))
            k = t_mem if wrong else np.full(r.train_acc.shape[0], r.steps.size - 1)
            for name, target in quantities:
                d = distance(r, name, target, k)
                rows.append(
                    dict(
                        panel="structure", series=name, x=f, theory=0.0, simulated=d.mean(), se=stats.standard_error(d)
                    )
                )
            for i in range(r.train_acc.shape[0]):
                t_min = t_mem[i] + int(np.argmin(r.excluded_loss[i, t_mem[i] :]))  # memorisation is consolidated
                rises = r.excluded_loss[i, -1] > r.excluded_loss[i, t_min]
                falls = r.test_loss[i, -1] < r.test_loss[i, t_min]
                rho = scipy_stats.spearmanr(r.excluded_loss[i, t_min:], r.test_loss[i, t_min:]).statistic
                changes.append((t_min < t_gen[i], rises and falls, rho, r.steps[t_min], r.steps[t_gen[i]]))
        for name, _ in quantities:
            d = np.array([row["simulated"] for row in rows if row["series"] == name])
            se = np.array([row["se"] for row in rows if row["series"] == name])
            z = stats.z_two_sided(stats.bonferroni(alpha, d.size))
            worst = int(np.argmax(d + z * se))
            checks.append(
                Check(
                    name=f"{name}: normalised distance to the analytic value (1 = random init, 0 = analytic) + z SE <= 1/2 "
                    + ("at memorisation (t99_train)" if wrong else "after grokking (final step)"),
                    statistic=float((d[worst] + z * se[worst]) / 0.5),
                    threshold=1.0,
                    relation="<=",
                    detail=(
                        f"distances {np.round(d, 3).tolist()} (SE {np.round(se, 3).tolist()}) per fraction {list(fr)}; "
                        f"1/2: closer to Gromov's analytic solution than to the random init; z={z:.2f} "
                        f"(alpha={alpha:g}, Bonferroni over {d.size}); seed={ctx.seed}"
                    ),
                )
            )
        early, opposite, rho, t_min, t_gen = (np.array(c) for c in zip(*changes))
        ok = ~early if wrong else early & opposite
        checks.append(
            stats.deterministic(
                "after memorisation the excluded loss falls to a minimum, then "
                + (
                    "keeps falling until t99_test (no rise before generalisation)"
                    if wrong
                    else "rises (from before t99_test to the end) while the test loss falls"
                )
                + ": number of runs violating it",
                float(np.sum(~ok)),
                0.0,
                atol=0.5,
                reason=(
                    f"exact count over {rho.size} runs; excluded-loss minimum at steps {t_min.tolist()}, t99_test "
                    f"{t_gen.tolist()}, Spearman rho(excluded, test) after the minimum {np.round(rho, 2).tolist()}"
                ),
                seed=ctx.seed,
            )
        )
        r0 = runs[fr.index(min(fr))]
        for name in ("test_loss", "excluded_loss", "ipr", "top_share", "phase_residual"):
            rows += [
                dict(panel="progress", series=name, x=max(s, 1), theory=np.nan, simulated=v, se=np.nan)
                for s, v in zip(r0.steps, getattr(r0, name)[0])
            ]
        panels = (
            Panel(
                "structure",
                "training fraction",
                "normalised distance to the analytic structure",
                title=("at memorisation" if wrong else "after grokking") + " (line: 0 = analytic solution)",
            ),
            Panel("progress", "step", "value", "log", "linear", f"progress measures, fraction {min(fr)}, one seed"),
        )
        return ctx.evidence(checks, rows, panels, prediction="structure at memorisation" if wrong else "published")

    return judge(False), judge(True)


# ---------------------------------------------------------------------------------------------------
# 5. Phase diagram over (training fraction, weight decay)

LIU = "Liu, Kitouni, Nolte, Michaud, Tegmark & Williams 2022 (arXiv:2205.10343)"


@claim(
    "grok.phase_diagram",
    area=AREA,
    title="(training fraction, weight decay) phase diagram of the Z_23 MLP: memorisation, grokking and "
    "comprehension appear in order of increasing fraction, all above Liu et al.'s representation-uniqueness "
    "fraction r_c, which lower-bounds but does not locate the boundary",
    reference=f"{LIU}, sec. 3.2 (r_c from A(P_0(D))), Table 1 / Fig. 6 (phases); {POWER}, Fig. 1 centre",
    control="Liu et al.'s r_c is the generalisation boundary: every learned cell with fraction >= r_c generalises",
    seed=20220523,
    quick=dict(fractions=[0.05, 0.2, 0.4, 0.6, 0.8], weight_decays=[0.0, 0.3, 1.0], n_seeds=1, n_steps=4000),
    full=dict(
        fractions=[0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9],
        weight_decays=[0.0, 0.03, 0.1, 0.3, 0.6, 1.0],
        n_seeds=2,
        n_steps=6000,
    ),
)
def phase_diagram(ctx: ClaimContext):
    p = ctx.params
    fr, wd = np.array(p["fractions"], float), np.array(p["weight_decays"], float)
    cells = sim.phase_diagram(
        fr,
        wd,
        p=_MLP["p"],
        width=_MLP["width"],
        lr=_MLP["lr"],
        n_steps=p["n_steps"],
        record_every=_MLP["record_every"],
        n_seeds=p["n_seeds"],
        seed=ctx.seed,
        executor=ctx.executor,
    )
    phase = np.array([c["phase"] for c in cells]).reshape(fr.size, wd.size, -1)  # (fraction, wd, seed)
    r_c = th.liu_critical_fraction(_MLP["p"], seed=ctx.seed)
    learned = phase >= 1  # the training set was fitted (not confusion)
    general = phase >= 2
    names = sim.PHASES

    def judge(wrong: bool):
        below = fr[:, None, None] < r_c
        if wrong:
            bad = np.sum(learned & ~below & ~general)
            text = "learned cells with fraction >= r_c that do not generalise (control: r_c is the boundary)"
        else:
            bad = np.sum(learned & below & general)
            text = "cells with fraction < r_c that generalise (r_c lower-bounds the boundary)"
        # along the fraction axis, among cells that fitted their training set (confusion, the high-weight-decay
        # failure to fit, is a separate regime: more data makes fitting harder there)
        drops = sum(int(np.sum(np.diff(col[col >= 1]) < 0)) for col in phase.transpose(1, 2, 0).reshape(-1, fr.size))
        missing = [names[k] for k in (1, 2, 3) if not np.any(phase == k)]
        checks = [
            stats.deterministic(
                f"r_c = {r_c:.3f} (Liu et al. criterion on Z_{_MLP['p']}): number of {text}",
                float(bad),
                0.0,
                atol=0.5,
                reason="exact count over cells x seeds",
                seed=ctx.seed,
            ),
            stats.deterministic(
                "phase code (1 memorisation, 2 grokking, 3 comprehension) non-decreasing in the "
                "fraction among fitted cells, every weight decay and seed: number of drops",
                float(drops),
                0.0,
                atol=0.5,
                reason="exact count",
                seed=ctx.seed,
            ),
            stats.deterministic(
                f"memorisation, grokking and comprehension all present: number missing ({missing})",
                float(len(missing)),
                0.0,
                atol=0.5,
                reason="exact count",
                seed=ctx.seed,
            ),
        ]
        rows = [
            dict(
                panel="phases",
                series="grid",
                x=f,
                y=w,
                theory=np.nan,
                simulated=phase[i, j].mean(),
                se=np.nan,
                label=_phase_label(phase[i, j]),
            )
            for i, f in enumerate(fr)
            for j, w in enumerate(wd)
        ]
        rows += [
            dict(
                panel="phases",
                series=f"Liu et al. r_c = {r_c:.3f}",
                x=r_c,
                y=w,
                theory=r_c,
                simulated=np.nan,
                se=np.nan,
            )
            for w in (wd.min(), wd.max())
        ]
        panels = (
            Panel(
                "phases",
                "training fraction",
                "weight decay (AdamW, decoupled)",
                kind="heatmap",
                clabel="phase code (seed mean)",
                title=f"p={_MLP['p']}, width {_MLP['width']}, {p['n_steps']} steps; line: Liu et al. r_c",
            ),
        )
        return ctx.evidence(checks, rows, panels, prediction="r_c is the boundary" if wrong else "published")

    return judge(False), judge(True)


_PHASES = ("confusion", "memorisation", "grokking", "comprehension")  # phase codes 0-3


def _phase_label(codes) -> str:
    """The phase name when every seed agrees, else the seed-mean code."""
    codes = np.asarray(codes)
    return _PHASES[int(codes[0])] if np.all(codes == codes[0]) else f"{codes.mean():.2g}"
