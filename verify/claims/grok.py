"""Grokking: Levi, Beck & Bar-Sinai's solvable linear estimator (one and two layers); the Fourier structure a
quadratic MLP on Z_p addition learns (Gromov 2023).

Linear claims run exact discrete GD (dltheory.simulators.grokking: one layer in the eigenbasis of Sigma_tr; two
layers through the exact Gram recursion) over independent seeds and compare seed means with the exact
Marchenko-Pastur predictions of dltheory.theory.grokking in their discrete-GD form (``discrete=True``: the MP mean
of eq. 14's per-mode factor). They are deterministic given the seeds (exact MP roots vs exact GD): Monte Carlo
noise is the seed-to-seed scatter of the random teacher, init and data; the finite-size and quantisation biases
are bounded in each judge's reason strings.

Changed from the legacy module:
- grok.mlp_grokking was the phenomenology of the Z_23 quadratic MLP (99 % test long after 99 % train, the delay
  growing as the fraction falls, no generalisation below ~0.35) judged with a hand-set ratio >= 2 against a "no
  grokking" strawman. No paper cited here predicts that delay or that critical fraction for this network (Omnigrok's
  t ~ 1/(eta gamma) fails there: pilots (4 networks each, seeds 900-907) at weight decay 0.05-0.7 gave t99_test
  1900, 2000, 1100, 950, 1040, 1200, never, never, and the weight norm grows). The claim now tests the MLP delay law
  that is published: Levi et al.'s two-layer network (sec. 4.1, eq. 19) against the competing one-layer and h_0 = 1
  rescalings. The Z_23 MLP's
  memorisation-then-grokking curves are drawn in grok.fourier_mechanism's evidence.
- grok.analytic_solution tested Gromov's analytic weights against Gromov's own formula (theory vs theory): now
  exact unit tests in tests/test_theory_grokking.py. The trained-network version is grok.fourier_mechanism.
- grok.phase_diagram applied Liu et al.'s representation-uniqueness fraction to Z_p, where additive scalar
  embeddings are constant, so it only measured when the constraint graph connects, and one grid fraction below it
  made the check hold trivially. In its valid setting (integer addition, Liu et al. sec. 3, r_c ~ 0.4 at p = 10)
  the trained toy model needs ~1e4 Adam steps of a width-200 decoder per training set (grokking-squared
  toy/train_add.py defaults), ~100 training sets per fraction: beyond this tier's CPU budget (measured: 112 sets x
  3000 steps of a width-32 decoder took 40-50 s and 2 of 112 reached the linear representation). r_c itself is now an
  exact unit test in the integer setting; no Z_p phase boundary is predicted by the papers cited here.
"""

from __future__ import annotations

import functools

import numpy as np

from dltheory.simulators import grokking as sim
from dltheory.theory import grokking as th
from dltheory.verify import stats
from dltheory.verify.evidence import Panel
from dltheory.verify.prediction import Prediction, zero
from dltheory.verify.registry import ClaimContext, claim

AREA = "grokking"
LEVI = "Levi, Beck & Bar-Sinai 2023 (arXiv:2310.16441)"
GROMOV = "Gromov 2023 (arXiv:2301.02679)"
ACC = th.ACCURACY_AT_EPS_OVER_4  # Erf(sqrt 2): the accuracy that defines the grokking times ([LBB23] sec. 3.1.3)


def _memo(fn):
    """Memoise a pure theory function of scalars (the resolution search calls each prediction ~30 times alike)."""
    return functools.lru_cache(maxsize=1024)(fn)


def _seeds(seed: int, k: int) -> list[int]:
    """k independent int seeds for the simulators (children of one SeedSequence)."""
    return [int(s.generate_state(1)[0]) for s in np.random.SeedSequence(seed).spawn(k)]


def _time_rows(panel: str, lams, times, fine, predicted) -> list[dict]:
    """Simulated (t_train, t_gen) per lam (mean +- SE over seeds) and the predicted lines on a fine lam grid."""
    rows = []
    for i, name in enumerate(("t_train", "t_gen")):
        rows += [
            dict(
                panel=panel,
                series=name,
                x=lam,
                theory=np.nan,
                simulated=times[:, j, i].mean(),
                se=stats.standard_error(times[:, j, i]),
            )
            for j, lam in enumerate(lams)
        ]
        rows += [
            dict(panel=panel, series=name, x=x, theory=v, simulated=np.nan, se=np.nan)
            for x, v in zip(fine, predicted[i])
        ]
    return rows


def _time_checks(times, predicted, bias, bias_reason: str, alpha: float, seed) -> list:
    """Seed means of (t_train, t_gen) and of the delay t_gen - t_train against the predicted values per lam."""
    return [
        stats.mean_matches(
            "(t_train, t_gen): step (interpolated) at which the loss reaches its 95.45 %-accuracy level",
            times,
            predicted,
            alpha=alpha,
            bias=bias,
            bias_reason=bias_reason,
            seed=seed,
        ),
        stats.mean_matches(
            "grokking delay t_gen - t_train vs predicted",
            times[..., 1] - times[..., 0],
            predicted[:, 1] - predicted[:, 0],
            alpha=alpha,
            bias=bias[:, 0] + bias[:, 1],
            bias_reason=f"the two times' bounds added ({bias_reason})",
            seed=seed,
        ),
    ]


# ---------------------------------------------------------------------------------------------------
# 1. One-layer linear estimator: grokking times (eqs. 8-10) and the accuracy-loss map (eq. 10)


@_memo
def _mp_times(lam: float, lr: float, level: float) -> tuple[float, float]:
    return th.linear_estimator_crossing_times(lam, lr, level, discrete=True)


def _times_predictions(p: dict) -> dict[str, Prediction]:
    lr, eps = p["lr"], p["eps"]

    def times(level, delay=None):
        def t_train(lam):
            return np.array([_mp_times(float(x), lr, level)[0] for x in np.atleast_1d(lam)])

        def t_gen(lam):
            if delay is None:
                return np.array([_mp_times(float(x), lr, level)[1] for x in np.atleast_1d(lam)])
            return t_train(lam) + np.array([delay(float(x)) for x in np.atleast_1d(lam)])

        return t_train, t_gen

    def erf_map(scale):
        return lambda loss: th.accuracy_from_loss(loss, scale * eps)

    published = Prediction(**dict(zip(("t_train", "t_gen"), times(eps / 4))), accuracy=erf_map(1.0))
    return {
        "published": published,
        "eq. 12 (the eps -> 0 asymptote) for the delay in place of the exact MP roots": published.replace(
            t_gen=times(eps / 4, delay=lambda lam: th.linear_estimator_delay_asymptote(lam, lr))[1]
        ),
        "Erf(sqrt(eps/L)) for eq. 10 (sqrt 2 dropped: 95.45 % at L = eps/2)": Prediction(
            **dict(zip(("t_train", "t_gen"), times(eps / 2))), accuracy=erf_map(2.0)
        ),
    }


def _simulate_times(ctx: ClaimContext) -> dict:
    p = ctx.params
    lams, eps = np.array(p["lams"], float), p["eps"]
    seeds = _seeds(ctx.seed, 2 * lams.size)
    times, acc_steps, acc_test, gen_at_acc = [], [], [], []
    for j, lam in enumerate(lams):
        common = dict(d_in=p["d_in"], n_steps=p["n_steps"][j], n_test=p["n_test"])
        run = sim.linear_teacher_student(
            lam, p["lr"], eps, **common, n_seeds=p["n_seeds"], accuracy_every=None, seed=seeds[2 * j]
        )
        t = np.column_stack([run.crossing_time(c, eps / 4) for c in ("train_loss", "gen_loss")])
        if np.any(t < 0):
            raise RuntimeError(f"lam={lam}: a run did not reach L = eps/4 in {p['n_steps'][j]} steps (seed={ctx.seed})")
        times.append(t)
        acc = sim.linear_teacher_student(
            lam, p["lr"], eps, **common, n_seeds=p["n_acc_seeds"], accuracy_every=p["acc_every"], seed=seeds[2 * j + 1]
        )
        acc_steps.append(acc.acc_steps)
        acc_test.append(acc.test_acc)
        gen_at_acc.append(acc.gen_loss[:, acc.acc_steps])
    # eq. 10 is exact given D for fresh points: the pooled fraction over seeds has variance sum_s A_s (1 - A_s) /
    # (n_test S^2) <= p (1 - p) / (n_test S) at its mean p (concavity), so the Wald SE of the pooled fraction bounds
    # it. Records where every pooled point is right (or wrong) carry no information about the map: left out.
    pooled = [a.mean(axis=0) for a in acc_test]
    unsaturated = tuple(np.flatnonzero((q > 0) & (q < 1)) for q in pooled)
    n_pool = p["n_test"] * p["n_acc_seeds"]
    pooled_acc = np.concatenate([q[k] for q, k in zip(pooled, unsaturated)])
    return dict(
        lams=lams,
        times=np.stack(times, axis=1),  # (seed, lam, 2)
        pooled_acc=pooled_acc,
        pooled_se=stats.proportion_se(pooled_acc, n_pool),
        unsaturated=unsaturated,
        continuity=0.5 / n_pool,
        acc_steps=tuple(acc_steps),
        acc_test=tuple(acc_test),  # per lam: (acc seed, record), fraction of n_test fresh points
        gen_at_acc=tuple(gen_at_acc),  # per lam: the same seeds' L_gen = |D|^2 at those records
    )


JENSEN = (
    "one GD step: crossings are log-linearly interpolated between steps (error < 0.01 step); the mean of the "
    "per-seed roots sits below the root of the mean loss by ~ var(log L) / (2 |d log L / dt|) at finite d_in "
    "(measured -0.5 to -0.7 step at lam = 0.1, d_in = 150, 600 seeds of seed 99; +0.2 at lam = 0.3)"
)


@claim(
    "grok.linear_times",
    area=AREA,
    title="Linear estimator: exact-GD grokking times (train, test) and delay match the exact MP roots; test "
    "accuracy is Erf(sqrt(eps / 2L)) of the test loss",
    reference=f"{LEVI}, eqs. 6-10 (MP loss curves, accuracy-loss map), eq. 12 (asymptotic delay)",
    seed=20231025,
    quick=dict(
        lams=[0.1, 0.3, 0.5, 0.7],
        n_steps=[270, 510, 1050, 2850],
        lr=0.02,
        eps=1e-3,
        d_in=150,
        n_seeds=32,
        n_acc_seeds=8,
        acc_every=10,
        n_test=1000,
    ),
    full=dict(
        lams=[0.1, 0.3, 0.5, 0.7],
        n_steps=[540, 1020, 2100, 5700],
        lr=0.01,
        eps=1e-3,
        d_in=600,
        n_seeds=64,
        n_acc_seeds=16,
        acc_every=20,
        n_test=4000,
    ),
    simulate=_simulate_times,
    predictions=_times_predictions,
    resolution=0.1,
)
def linear_times(ctx: ClaimContext, data: dict, prediction: Prediction):
    """Three checks (Bonferroni over them): seed means of the interpolated L = eps/4 crossing steps and of the delay
    against the prediction (bias: one step, ``JENSEN``), and eq. 10 on fresh test points, exact given D (D^T x ~
    N(0, |D|^2)): per lam and record, the fraction of test points classified correctly, pooled over seeds, against
    the seed mean of the predicted Erf(sqrt(eps / 2 L_gen)) (Wald SE of the pooled fraction, which bounds the
    binomial one; records where all pooled points agree are left out). Controls: eq. 12's delay is 1.7-2.2 x the
    exact one at eps = 1e-3; the eq. 10 slip moves both times by 10-25 % and the accuracy at given loss by up to
    0.3. Resolution: the lam = 0.1 times (SE ~ 0.7 %) resolve ~3 %; the accuracies near 0.99 (SE ~ 1e-3) resolve
    < 0.1 %. Declared 0.10 (Monte Carlo check of closed forms)."""
    alpha = stats.ALPHA / 3
    lams = data["lams"]
    predicted = np.column_stack([prediction["t_train"](lams), prediction["t_gen"](lams)])
    checks = _time_checks(
        data["times"],
        predicted,
        np.ones_like(predicted),
        JENSEN,
        alpha,
        ctx.seed,
    )
    expected = np.concatenate(
        [np.mean(prediction["accuracy"](gen), axis=0)[k] for gen, k in zip(data["gen_at_acc"], data["unsaturated"])]
    )
    checks.append(
        stats.z_matches(
            "eq. 10: test accuracy (fresh points, pooled over seeds) vs Erf(sqrt(eps / 2 L_gen)) at every record",
            data["pooled_acc"],
            data["pooled_se"],
            expected,
            alpha=alpha,
            bias=data["continuity"],
            bias_reason="continuity correction: half a count of the pooled test points",
            seed=ctx.seed,
        )
    )
    fine = np.linspace(lams.min(), lams.max(), 13)
    rows = _time_rows("times", lams, data["times"], fine, (prediction["t_train"](fine), prediction["t_gen"](fine)))
    rows += [
        dict(
            panel="delay",
            series="delay t_gen - t_train",
            x=lam,
            theory=np.nan,
            simulated=(data["times"][:, j, 1] - data["times"][:, j, 0]).mean(),
            se=stats.standard_error(data["times"][:, j, 1] - data["times"][:, j, 0]),
        )
        for j, lam in enumerate(lams)
    ]
    rows += [
        dict(panel="delay", series="delay t_gen - t_train", x=x, theory=v, simulated=np.nan, se=np.nan)
        for x, v in zip(fine, prediction["t_gen"](fine) - prediction["t_train"](fine))
    ]
    j = len(lams) // 2
    steps, acc, gen = data["acc_steps"][j], data["acc_test"][j], data["gen_at_acc"][j]
    rows += [
        dict(panel="accuracy", series=f"test accuracy, lam={lams[j]:g}", x=s, theory=np.nan, simulated=m, se=e)
        for s, m, e in zip(steps, acc.mean(axis=0), stats.standard_error(acc))
    ]
    rows += [
        dict(panel="accuracy", series=f"test accuracy, lam={lams[j]:g}", x=s, theory=v, simulated=np.nan, se=np.nan)
        for s, v in zip(steps, np.mean(prediction["accuracy"](gen), axis=0))
    ]
    p = ctx.params
    panels = (
        Panel(
            "times",
            "lam = d_in / N_tr",
            "GD steps to 95.45 % accuracy (L = eps/4)",
            "linear",
            "log",
            f"exact MP roots (lines) vs exact GD, d_in={p['d_in']}, {p['n_seeds']} seeds (mean +- SE)",
        ),
        Panel("delay", "lam = d_in / N_tr", "grokking delay t_gen - t_train (GD steps)", "linear", "log", "delay"),
        Panel(
            "accuracy",
            "GD step",
            "test accuracy",
            title="fresh test points (markers) vs eq. 10 of the same runs' L_gen (line)",
        ),
    )
    return ctx.evidence(checks, rows, panels)


# ---------------------------------------------------------------------------------------------------
# 2. One-layer linear estimator with weight decay: loss floors (eq. 15 at t = inf) and the critical weight decay


@_memo
def _floors(lam: float, gamma: float, form: str) -> tuple[float, float]:
    if form == "small":
        return th.linear_estimator_loss_floors_small_gamma(lam, gamma)
    return th.linear_estimator_loss_floors(lam, gamma)


def _floor_predictions(p: dict) -> dict[str, Prediction]:
    eps = p["eps"]

    def floors(form, factor=1.0):
        return lambda lam, gamma: factor * np.array(_floors(float(lam), float(gamma), form))

    return {
        "published": Prediction(
            floors=floors("exact"),
            gamma_c=lambda lam: th.linear_estimator_critical_weight_decay(lam, eps),
        ),
        "eq. 16's floors as printed (twice what eq. 15 gives)": Prediction(
            floors=floors("exact", 2.0),
            gamma_c=lambda lam: th.linear_estimator_critical_weight_decay(lam, eps / 2),
        ),
        "the small-gamma floors gamma^2/(8(1-lam)^k) at gamma ~ gamma_c (asymptote outside its regime)": Prediction(
            floors=floors("small"),
            gamma_c=lambda lam: np.sqrt(2 * eps * (1 - lam) ** 3),
        ),
    }


def _simulate_floors(ctx: ClaimContext) -> dict:
    p = ctx.params
    lams, gammas = np.array(p["lams"], float), np.array(p["gammas"], float)  # gammas: (lam, gamma)
    seeds = _seeds(ctx.seed, lams.size)
    floor = np.empty((p["n_seeds"], lams.size, gammas.shape[1], 2))
    final_acc = np.empty((p["n_seeds"], lams.size, gammas.shape[1]))
    for i, lam in enumerate(lams):
        for j, gamma in enumerate(gammas[i]):  # one training set and teacher set per lam, shared by its gammas
            run = sim.linear_teacher_student(
                lam,
                p["lr"],
                p["eps"],
                d_in=p["d_in"],
                n_steps=p["n_steps"],
                n_seeds=p["n_seeds"],
                n_test=p["n_test"],
                weight_decay=gamma,
                accuracy_every=p["n_steps"],
                n_teachers=p["n_teachers"],
                seed=seeds[i],
            )
            moving = np.abs(run.gen_loss[:, -1] / run.gen_loss[:, -2] - 1).max()
            # transient left < moving / (2 lr (nu_min + gamma/2)) < 1e-4 relative (nu_min > lam_-/2)
            if moving > 1e-6:
                raise RuntimeError(
                    f"lam={lam}, gamma={gamma:.4g}: L_gen still moving ({moving:.2g}/step) after {p['n_steps']} "
                    f"steps; raise n_steps (seed={ctx.seed})"
                )
            floor[:, i, j] = np.column_stack([run.train_loss[:, -1], run.gen_loss[:, -1]])
            final_acc[:, i, j] = run.test_acc[:, -1]
    # finite N_tr (prediction-independent): at gamma -> 0 the floors are (gamma/2)^2/2 times the mean of 1/nu (train)
    # and 1/nu^2 (gen) over the empirical spectrum; inverse-Wishart moments E[Sigma^-1] = N/(N-d-1),
    # E[Sigma^-2] = N^2 (N-1)/((N-d)(N-d-1)(N-d-3)) exceed the MP values N/(N-d), N^3/(N-d)^3 by these factors; the
    # shift gamma/2 only lowers the weight of the small eigenvalues, so they bound the relative excess at gamma > 0
    n = np.round(p["d_in"] / lams)
    d = p["d_in"]
    excess = np.column_stack(
        [(n - d) / (n - d - 1) - 1, (n - 1) * (n - d) ** 2 / (n * (n - d - 1) * (n - d - 3)) - 1]
    )  # (lam, 2)
    return dict(lams=lams, gammas=gammas, floor=floor, final_acc=final_acc, excess=excess, eps=p["eps"])


@claim(
    "grok.linear_weight_decay",
    area=AREA,
    title="Linear estimator with weight decay: train/test loss floors follow eq. 15 at t = inf, and grokking to "
    "95.45 % happens iff gamma < gamma_c",
    reference=f"{LEVI}, eqs. 14-16 (weight decay; eq. 16's floors are twice what eq. 15 gives)",
    seed=20231016,
    quick=dict(
        lams=[0.1, 0.3],
        gammas=[[0.02, 0.03, 0.05, 0.08, 0.16], [0.014, 0.022, 0.034, 0.054, 0.11]],
        lr=0.15,
        eps=1e-3,
        d_in=200,
        n_teachers=100,
        n_seeds=8,
        n_test=500,
        n_steps=400,
    ),
    full=dict(
        lams=[0.1, 0.3, 0.5],
        gammas=[
            [0.02, 0.03, 0.05, 0.08, 0.16],
            [0.014, 0.022, 0.034, 0.054, 0.11],
            [0.008, 0.013, 0.021, 0.033, 0.066],
        ],
        lr=0.15,
        eps=1e-3,
        d_in=400,
        n_teachers=200,
        n_seeds=16,
        n_test=1000,
        n_steps=1200,
    ),
    simulate=_simulate_floors,
    predictions=_floor_predictions,
    resolution=0.1,
)
def linear_weight_decay(ctx: ClaimContext, data: dict, prediction: Prediction):
    """Floors: seed means (each seed averages n_teachers teachers on one training set, which removes the
    teacher-direction noise) against eq. 15 at t = inf, z with the inverse-Wishart excess as bias. gamma_c: the
    seed-mean final test accuracy is >= 95.45 % exactly at the grid points below the predicted gamma_c (grid at
    ~0.5, 0.8, 1.25, 2, 4 gamma_c: accuracy 0.9999, 0.987, 0.893, 0.70, 0.41, seed scatter < 0.002). Controls: eq.
    16 doubles the floors; the small-gamma forms are 2.4-30 % above eq. 15 on this grid. Resolution: SE 0.15-0.35 %
    of the floors plus <= 0.4 % bias resolves ~1.5 %, below the 3-7 % a (nu + gamma/3) slip would move the floors at
    2-4 gamma_c. Declared 0.10 (Monte Carlo check of closed forms)."""
    alpha = stats.ALPHA / 3
    lams, gammas = data["lams"], data["gammas"]
    pred = np.array([[prediction["floors"](lam, g) for g in gammas[i]] for i, lam in enumerate(lams)])  # (lam, g, 2)
    reason = (
        "finite N_tr: the exact inverse-Wishart excess of the mean 1/nu (train) and 1/nu^2 (gen) over the MP values "
        "(gamma -> 0; the shift gamma/2 only lowers it); the GD transient left is < 1e-4 relative (checked)"
    )
    checks = [
        stats.mean_matches(
            f"{name} floor L(t = inf) vs eq. 15",
            data["floor"][..., k],
            pred[..., k],
            alpha=alpha,
            bias=data["excess"][:, k : k + 1] * pred[..., k],
            bias_reason=reason,
            seed=ctx.seed,
        )
        for k, name in enumerate(("train", "test"))
    ]
    gamma_c = np.array([prediction["gamma_c"](lam) for lam in lams])
    grokked = data["final_acc"].mean(axis=0) >= ACC
    wrong = int(np.sum(grokked != (gammas < gamma_c[:, None])))
    checks.append(
        stats.deterministic(
            "grokked (seed-mean final test accuracy >= 95.45 %) iff gamma < gamma_c: misclassified (lam, gamma)",
            float(wrong),
            0.0,
            atol=0.5,
            reason=f"exact count over {gammas.size} grid points; predicted gamma_c = {np.round(gamma_c, 5).tolist()}",
            seed=ctx.seed,
        )
    )
    rows = []
    for i, lam in enumerate(lams):  # lines through the prediction (the resolution search may zero gamma_c)
        g_fine = np.geomspace(gammas[i].min(), gammas[i].max(), 20)
        line = np.array([prediction["floors"](lam, g) for g in g_fine])
        for k, name in enumerate(("L_tr", "L_gen")):
            series = f"{name}(inf), lam={lam:g}"
            rows += [
                dict(
                    panel="floors",
                    series=series,
                    x=g,
                    theory=np.nan,
                    simulated=data["floor"][:, i, j, k].mean(),
                    se=stats.standard_error(data["floor"][:, i, j, k]),
                )
                for j, g in enumerate(gammas[i])
            ]
            rows += [
                dict(panel="floors", series=series, x=g, theory=v, simulated=np.nan, se=np.nan)
                for g, v in zip(g_fine, line[:, k])
            ]
        series = f"final test accuracy, lam={lam:g}"
        rows += [
            dict(
                panel="critical",
                series=series,
                x=g,
                theory=np.nan,
                simulated=data["final_acc"][:, i, j].mean(),
                se=stats.standard_error(data["final_acc"][:, i, j]),
            )
            for j, g in enumerate(gammas[i])
        ]
        rows += [
            dict(panel="critical", series=series, x=x, theory=v, simulated=np.nan, se=np.nan)
            for x, v in zip(g_fine, th.accuracy_from_loss(line[:, 1], data["eps"]))
        ]
        rows.append(
            dict(
                panel="critical",
                series=f"predicted gamma_c, lam={lam:g}",
                x=gamma_c[i],
                theory=ACC,
                simulated=np.nan,
                se=np.nan,
            )
        )
    panels = (
        Panel("floors", "weight decay gamma", "loss at t = inf", "log", "log", "eq. 15 floors (lines) vs exact GD"),
        Panel(
            "critical",
            "weight decay gamma",
            "final test accuracy",
            "log",
            "linear",
            "grokking (95.45 %) iff gamma < gamma_c; line: eq. 10 of the eq. 15 floor",
        ),
    )
    return ctx.evidence(checks, rows, panels)


# ---------------------------------------------------------------------------------------------------
# 3. Two-layer (linear) network: the one-layer MP times at learning rate eta / (2 d_out^2) (eq. 19)


def _two_layer_predictions(p: dict) -> dict[str, Prediction]:
    lr, d_out, d_h = p["lr"], p["d_out"], p["d_h"]
    eps = p["eps_rel"] * th.two_layer_initial_loss(d_h, d_out)
    level = th.loss_at_accuracy(ACC, eps, d_out) / th.two_layer_initial_loss(d_h, d_out)

    def times(lr_eff):
        def t(k):
            return lambda lam: np.array([_mp_times(float(x), lr_eff, level)[k] for x in np.atleast_1d(lam)])

        return Prediction(t_train=t(0), t_gen=t(1))

    return {
        "published": times(th.two_layer_learning_rate(lr, d_out)),
        "the one-layer d_out rescaling eta/d_out (eq. 13) in place of eq. 19's eta/(2 d_out^2)": times(lr / d_out),
        "kernel trace at init h_0 = 1, not 1/2, in eq. 18 (eta/d_out^2)": times(lr / d_out**2),
    }


def _simulate_two_layer(ctx: ClaimContext) -> dict:
    p = ctx.params
    lams = np.array(p["lams"], float)
    eps = p["eps_rel"] * th.two_layer_initial_loss(p["d_h"], p["d_out"])
    level = th.loss_at_accuracy(ACC, eps, p["d_out"])  # the loss at which eq. 13's accuracy is 95.45 %
    times = []
    for j, (lam, s) in enumerate(zip(lams, _seeds(ctx.seed, lams.size))):
        run = sim.two_layer_teacher_student(
            lam,
            p["lr"],
            d_in=p["d_in"],
            d_h=p["d_h"],
            d_out=p["d_out"],
            n_steps=p["n_steps"][j],
            n_seeds=p["n_seeds"],
            seed=s,
        )
        t = np.column_stack([run.crossing_time(c, level) for c in ("train_loss", "gen_loss")])
        if np.any(t < 0):
            raise RuntimeError(f"lam={lam}: a run did not reach the level in {p['n_steps'][j]} steps (seed={ctx.seed})")
        times.append(t)
    # bias (prediction-independent): eq. 18 keeps S1^T S1 ~ I/(2 d_out) and drops S0 S0^T ~ I/(2 d_in), which raises
    # the rate by d_out/d_in times at most the top eigenvalue factor (1 + sqrt(d_in/d_h))^2 of S0 S0^T; the kernel
    # trace h drifts by ~ 4 d_out |T|^2 = d_out/d_h (|T|^2 = 1/(4 d_h)) over the run, a relative 2 d_out/d_h: times
    # are short by at most that fraction
    rel = p["d_out"] / p["d_in"] * (1 + np.sqrt(p["d_in"] / p["d_h"])) ** 2 + 2 * p["d_out"] / p["d_h"]
    return dict(lams=lams, times=np.stack(times, axis=1), rel_bias=rel)


@claim(
    "grok.mlp_grokking",
    area=AREA,
    title="Two-layer network (linear hidden layer, d_h >> d_out): grokking times follow the one-layer MP times at "
    "learning rate eta / (2 d_out^2)",
    reference=f"{LEVI}, sec. 4.1, eqs. 17-19 and App. E (two-layer network), eq. 13 (accuracy with d_out outputs)",
    seed=20231019,
    quick=dict(
        lams=[0.1, 0.3, 0.5],
        n_steps=[260, 490, 990],
        lr=0.16,
        d_in=200,
        d_h=4000,
        d_out=2,
        eps_rel=1e-3,
        n_seeds=16,
    ),
    full=dict(
        lams=[0.1, 0.3, 0.5, 0.7],
        n_steps=[520, 980, 1980, 5340],
        lr=0.08,
        d_in=400,
        d_h=10000,
        d_out=2,
        eps_rel=1e-3,
        n_seeds=48,
    ),
    simulate=_simulate_two_layer,
    predictions=_two_layer_predictions,
    resolution=0.1,
)
def mlp_grokking(ctx: ClaimContext, data: dict, prediction: Prediction):
    """The Levi et al. two-layer network, x -> S1^T S0^T x (a width-d_h MLP with a linear hidden layer), trained by
    exact full-batch GD on both layers against a teacher of the same architecture; eps = eps_rel |D_0|^2 (eq. 19's
    prefactor, 1/(2 d_h d_out)). Grokking times: the first steps at which L_tr and L_gen reach the loss where eq.
    13's accuracy is 95.45 %. Predicted: the exact discrete MP roots of |D_0|^2 L^1(eta/(2 d_out^2), lam, t) at that
    level. Controls: the one-layer d_out form eta/d_out (4x faster at d_out = 2), and h_0 = 1 (2x faster).
    Resolution: SE ~1 % of the lam = 0.1 times plus the d_out/d_in bias (2 %) resolves ~5 %. Declared 0.10 (Monte
    Carlo check of a closed form)."""
    lams = data["lams"]
    predicted = np.column_stack([prediction["t_train"](lams), prediction["t_gen"](lams)])
    checks = _time_checks(
        data["times"],
        predicted,
        1.0 + data["rel_bias"] * predicted,
        f"{JENSEN}; plus {data['rel_bias']:.3g} of the time: eq. 18 drops S0 S0^T (rate x (1 + d_out/d_in "
        "(1 + sqrt(d_in/d_h))^2)) and freezes the kernel trace h (drift 2 d_out/d_h)",
        stats.ALPHA / 2,
        ctx.seed,
    )
    fine = np.linspace(lams.min(), lams.max(), 13)
    rows = _time_rows("times", lams, data["times"], fine, (prediction["t_train"](fine), prediction["t_gen"](fine)))
    p = ctx.params
    panels = (
        Panel(
            "times",
            "lam = d_in / N_tr",
            "GD steps to 95.45 % accuracy (eq. 13 level)",
            "linear",
            "log",
            f"two-layer linear net, d_h={p['d_h']}, d_out={p['d_out']}: eq. 19 (lines) vs exact GD (mean +- SE)",
        ),
    )
    return ctx.evidence(checks, rows, panels)


# ---------------------------------------------------------------------------------------------------
# 4. Quadratic MLP on Z_p addition: after grokking, neurons approach Gromov's analytic solution


# Finite-training shortfall of the final structure, calibrated on PILOT seeds the claim never uses: 12 networks,
# train_modular_addition(23, 64, 0.5, lr=1e-2, weight_decay=0.2, n_steps=4000, n_seeds=12, seed=424242), per
# network the mean over neurons of (1 - top-frequency share of U, 1 - IPR_2 of U, phase residual): pilot means
# PILOT_MEAN, standard errors PILOT_SE; all 12 grokked (t99 train 250-350, test 850-1100 steps). The bias bound is
# the pilot mean plus 4 pilot SEs (a one-sided 3e-5 bound on the shortfall's mean), so a fresh claim seed fails
# only if its shortfall exceeds the pilot's by z SE.
PILOT_MEAN = np.array([0.0393, 0.0587, 0.0682])  # pilot SDs 0.0215, 0.0281, 0.0212; maxima 0.068, 0.103, 0.120
PILOT_SE = np.array([0.0215, 0.0281, 0.0212]) / np.sqrt(12)
SHORTFALL = PILOT_MEAN + 4 * PILOT_SE
STRUCTURE = ("1 - top-frequency power share", "1 - IPR_2", "phase residual |phi_U + phi_V - phi_W| (rad)")


def _lazy_structure(p: int) -> np.ndarray:
    """Means over Gaussian-init neurons (features frozen at init): with K = (p-1)/2 frequencies the non-DC power
    shares of a Gaussian row are Dirichlet(1, ..., 1): E top share = H_K / K, E IPR_2 = 2/(K+1); unrelated phases
    give |phi_U + phi_V - phi_W| uniform on [0, pi], mean pi/2."""
    K = (p - 1) // 2
    return np.array([1 - np.sum(1.0 / np.arange(1, K + 1)) / K, 1 - 2 / (K + 1), np.pi / 2])


def _fourier_predictions(p: dict) -> dict[str, Prediction]:
    lazy = _lazy_structure(p["p"])
    return {
        "published": Prediction(**{f"q{k}": zero(lazy[k]) for k in range(3)}),
        "lazy (NTK) training: features frozen at their random init": Prediction(
            **{f"q{k}": zero(lazy[k], lazy[k]) for k in range(3)}
        ),
        "the subtraction circuit's phase constraint phi_U - phi_V = phi_W": Prediction(
            q0=zero(lazy[0]), q1=zero(lazy[1]), q2=zero(lazy[2], np.pi / 2)
        ),
    }


@functools.lru_cache(maxsize=8)
def _modular_runs(p: int, width: int, fraction: float, lr: float, wd: float, n_steps: int, n_seeds: int, seed: int):
    return sim.train_modular_addition(
        p, width, fraction, lr=lr, weight_decay=wd, n_steps=n_steps, record_every=50, n_seeds=n_seeds, seed=seed
    )


def _simulate_fourier(ctx: ClaimContext) -> dict:
    p = ctx.params
    run = _modular_runs(
        p["p"], p["width"], p["fraction"], p["lr"], p["weight_decay"], p["n_steps"], p["n_seeds"], ctx.seed
    )
    structure = np.array(
        [
            [
                1 - th.dominant_frequency(U)[1].mean(),
                1 - th.inverse_participation_ratio(U).mean(),
                th.phase_constraint_residual(U, V, W).mean(),
            ]
            for U, V, W in zip(run.U, run.V, run.W)
        ]
    )  # (seed, 3): the measured distance of each network from the analytic solution
    return dict(
        structure=structure,
        final_test_acc=run.test_acc[:, -1],
        steps=run.steps,
        curves={
            k: getattr(run, k).mean(axis=0) for k in ("train_acc", "test_acc", "ipr", "top_share", "phase_residual")
        },
        t99=(run.first_step("train_acc", 0.99), run.first_step("test_acc", 0.99)),
    )


@claim(
    "grok.fourier_mechanism",
    area=AREA,
    title="After grokking, a quadratic MLP on Z_23 addition has single-frequency neurons with phi_U + phi_V = phi_W: "
    "Gromov's analytic solution, not lazy random features",
    reference=f"{GROMOV}, eqs. 6-7, 12 (analytic weights, phase constraint), eqs. 20-21 (IPR)",
    seed=20220106,
    quick=dict(p=23, width=64, fraction=0.5, lr=1e-2, weight_decay=0.2, n_steps=4000, n_seeds=6),
    full=dict(p=23, width=64, fraction=0.5, lr=1e-2, weight_decay=0.2, n_steps=4000, n_seeds=16),
    simulate=_simulate_fourier,
    predictions=_fourier_predictions,
    resolution=0.25,
)
def fourier_mechanism(ctx: ClaimContext, data: dict, prediction: Prediction):
    """Full-batch AdamW on half the p^2 pairs (memorisation at ~250 steps, 99 % test accuracy at ~1000, pilots);
    at the final step, per network, the means over neurons of three distances from Gromov's analytic solution
    (measured with dltheory.theory.grokking on the final weights): 1 - top-frequency share and 1 - IPR_2 of U's
    non-DC Fourier power, and |phi_U + phi_V - phi_W| at U's top frequency. Published: all three 0; z over seeds plus
    the pilot-calibrated finite-training shortfall. Every network must have grokked (final test accuracy 1). Controls:
    lazy training keeps the init values (exact means for Gaussian rows); the subtraction circuit's constraint leaves
    phi_U + phi_V - phi_W uniform. Resolution: a zero offset by delta times the lazy value is rejected once delta
    exceeds (shortfall + z SE) / lazy value; the residual resolves ~0.1. Declared 0.25 (learning dynamics over
    seeds)."""
    alpha = stats.ALPHA / 2
    s = data["structure"]
    checks = [
        stats.mean_matches(
            "distance from the analytic solution (" + ", ".join(STRUCTURE) + ")",
            s,
            np.array([prediction[f"q{k}"] for k in range(3)]),
            alpha=alpha,
            bias=SHORTFALL,
            bias_reason="finite-training shortfall, pilot mean + 4 pilot SEs (12 pilot networks, seed 424242)",
            seed=ctx.seed,
        ),
        stats.deterministic(
            "every network grokked: networks with final test accuracy < 1",
            float(np.sum(data["final_test_acc"] < 1.0)),
            0.0,
            atol=0.5,
            reason="exact count (the structure is claimed after grokking)",
            seed=ctx.seed,
        ),
    ]
    steps = np.maximum(data["steps"], 1)
    lazy = _lazy_structure(ctx.params["p"])
    rows = [
        dict(
            panel="structure",
            series=name,
            x=k,
            theory=prediction[f"q{k}"],
            simulated=s[:, k].mean(),
            se=stats.standard_error(s[:, k]),
        )
        for k, name in enumerate(STRUCTURE)
    ]
    rows += [
        dict(panel="structure", series="lazy init (mean)", x=k, theory=v, simulated=np.nan, se=np.nan)
        for k, v in enumerate(lazy)
    ]
    for name in ("train_acc", "test_acc"):
        rows += [
            dict(panel="accuracy", series=name, x=x, theory=np.nan, simulated=v, se=np.nan)
            for x, v in zip(steps, data["curves"][name])
        ]
    for name in ("ipr", "top_share", "phase_residual"):
        rows += [
            dict(
                panel="progress",
                series=f"{name} (seed mean of the recorded {'mean' if name == 'ipr' else 'median'})",
                x=x,
                theory=np.nan,
                simulated=v,
                se=np.nan,
            )
            for x, v in zip(steps, data["curves"][name])
        ]
    p = ctx.params
    panels = (
        Panel(
            "structure",
            "measure (0: top-share gap, 1: IPR gap, 2: phase residual)",
            "distance from analytic (0)",
            title="final weights: mean +- SE over networks; theory: 0",
        ),
        Panel(
            "accuracy",
            "AdamW step",
            "accuracy",
            "log",
            "linear",
            f"p={p['p']}, fraction {p['fraction']}: 99 % train at step ~{np.median(data['t99'][0]):.0f}, "
            f"99 % test at ~{np.median(data['t99'][1]):.0f} (seed means)",
        ),
        Panel(
            "progress",
            "AdamW step",
            "Fourier progress measure",
            "log",
            "linear",
            "phases lock at memorisation, one frequency per neuron by grokking",
        ),
    )
    return ctx.evidence(checks, rows, panels)
