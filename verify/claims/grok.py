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
import sympy as sp

from dltheory.simulators import grokking as sim
from dltheory.simulators import modular_features as mfsim
from dltheory.theory import grokking as th
from dltheory.verify import stats
from dltheory.verify.evidence import Panel
from dltheory.verify.prediction import Prediction, fixed, zero
from dltheory.verify.registry import ClaimContext, child_seeds, claim

AREA = "grokking"
LEVI = "Levi, Beck & Bar-Sinai 2023 (arXiv:2310.16441)"
GROMOV = "Gromov 2023 (arXiv:2301.02679)"
ACC = th.ACCURACY_AT_EPS_OVER_4  # Erf(sqrt 2): the accuracy that defines the grokking times ([LBB23] sec. 3.1.3)


def _memo(fn):
    """Memoise a pure theory function of scalars (the resolution search calls each prediction ~30 times alike)."""
    return functools.lru_cache(maxsize=1024)(fn)


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
    seeds = child_seeds(ctx.seed, 2 * lams.size)
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


# Formulas shown in the report (tests/test_derivations.py checks them against the theory functions the checks use).
_lam, _eta, _eps, _loss, _gamma, _nu = sp.symbols("lambda eta epsilon L gamma nu", positive=True)
_A = sp.Symbol("A")
_t_train, _t_gen = sp.symbols("t_train t_gen", positive=True)


def accuracy_formula(scale=1):
    """[LBB23] eq. 10: A = Erf(sqrt(eps / (2 L))) (``scale`` = 2: the sqrt 2 dropped)."""
    return sp.erf(sp.sqrt(scale * _eps / (2 * _loss)))


def delay_asymptote_formula():
    """[LBB23] eq. 12: t_gen - t_train -> log(1/(1 - sqrt lam)) / (2 eta (1 - sqrt lam)^2) as eps -> 0."""
    return sp.log(1 / (1 - sp.sqrt(_lam))) / (2 * _eta * (1 - sp.sqrt(_lam)) ** 2)


def _times_formulas(p: dict) -> dict:
    L_train, L_gen = sp.Function("L_train"), sp.Function("L_gen")

    def crossing(level):
        return (sp.Eq(L_train(_t_train), level), sp.Eq(L_gen(_t_gen), level))

    return {
        "published": (*crossing(_eps / 4), sp.Eq(_A, accuracy_formula())),
        "eq. 12 (the eps -> 0 asymptote) for the delay in place of the exact MP roots": (
            sp.Eq(_t_gen - _t_train, delay_asymptote_formula()),
        ),
        "Erf(sqrt(eps/L)) for eq. 10 (sqrt 2 dropped: 95.45 % at L = eps/2)": (
            *crossing(_eps / 2),
            sp.Eq(_A, accuracy_formula(2)),
        ),
    }


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
    formulas=_times_formulas,
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
    seeds = child_seeds(ctx.seed, lams.size)
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


def mp_density_formula():
    """The Marchenko-Pastur density of nu at lam = d_in / N_tr < 1, edges (1 -+ sqrt lam)^2 ([LBB23] eq. 6)."""
    lo, hi = (1 - sp.sqrt(_lam)) ** 2, (1 + sp.sqrt(_lam)) ** 2
    return sp.sqrt((hi - _nu) * (_nu - lo)) / (2 * sp.pi * _lam * _nu), (lo, hi)


def floor_integrands():
    """(train, gen) integrands of the t -> inf floors 1/2 E_MP[(gamma/2)^2 q / (nu + gamma/2)^2], q = nu, 1
    ([LBB23] eq. 15 at t = inf)."""
    rho, _ = mp_density_formula()
    g = rho * (_gamma / 2) ** 2 / (2 * (_nu + _gamma / 2) ** 2)
    return g * _nu, g


def small_gamma_floor_formulas():
    """Leading small-gamma floors gamma^2/(8 (1 - lam)), gamma^2/(8 (1 - lam)^3); gamma_c = sqrt(2 eps (1-lam)^3)."""
    return _gamma**2 / (8 * (1 - _lam)), _gamma**2 / (8 * (1 - _lam) ** 3), sp.sqrt(2 * _eps * (1 - _lam) ** 3)


def _floor_formulas(p: dict) -> dict:
    _, (lo, hi) = mp_density_formula()
    L_tr, L_gen, gamma_c = sp.symbols("L_train^infinity L_gen^infinity gamma_c", positive=True)

    def exact(factor):
        train, gen = (sp.Integral(factor * g, (_nu, lo, hi)) for g in floor_integrands())
        return (sp.Eq(L_tr, train), sp.Eq(L_gen, gen), sp.Eq(L_gen.subs(_gamma, gamma_c), _eps / 4))

    small_train, small_gen, small_c = small_gamma_floor_formulas()
    return {
        "published": exact(1),
        "eq. 16's floors as printed (twice what eq. 15 gives)": exact(2),
        "the small-gamma floors gamma^2/(8(1-lam)^k) at gamma ~ gamma_c (asymptote outside its regime)": (
            sp.Eq(L_tr, small_train),
            sp.Eq(L_gen, small_gen),
            sp.Eq(gamma_c, small_c),
        ),
    }


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
    formulas=_floor_formulas,
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
    for j, (lam, s) in enumerate(zip(lams, child_seeds(ctx.seed, lams.size))):
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


def _two_layer_formulas(p: dict) -> dict:
    """The effective one-layer learning rate of each prediction (the MP times are then those of grok.linear_times)."""
    eta_eff, d_out = sp.Symbol("eta_eff", positive=True), sp.Symbol("d_out", positive=True, integer=True)
    return {
        "published": sp.Eq(eta_eff, _eta / (2 * d_out**2)),
        "the one-layer d_out rescaling eta/d_out (eq. 13) in place of eq. 19's eta/(2 d_out^2)": sp.Eq(
            eta_eff, _eta / d_out
        ),
        "kernel trace at init h_0 = 1, not 1/2, in eq. 18 (eta/d_out^2)": sp.Eq(eta_eff, _eta / d_out**2),
    }


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
    formulas=_two_layer_formulas,
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


def _fourier_formulas(p: dict) -> dict:
    """The three distances from Gromov's analytic solution (single-frequency neurons, phi_U + phi_V = phi_W):
    0 after grokking; for lazy Gaussian rows (K = (p - 1)/2 non-DC frequencies, Dirichlet(1, ..., 1) power shares)
    E top share = H_K/K, E IPR_2 = 2/(K + 1), and unrelated phases give a residual uniform on [0, pi]."""
    K, P, j = sp.Symbol("K", positive=True, integer=True), sp.Symbol("p", positive=True, integer=True), sp.Symbol("j")
    top, ipr, phase = sp.symbols("E[1-top_share] E[1-IPR_2] E|phi_U+phi_V-phi_W|")
    k_def = sp.Eq(K, (P - 1) / 2)

    def law(q0, q1, q2):
        return k_def, sp.Eq(top, q0), sp.Eq(ipr, q1), sp.Eq(phase, q2)

    lazy = (1 - sp.Sum(1 / j, (j, 1, K)) / K, 1 - 2 / (K + 1))
    return {
        "published": law(0, 0, 0),
        "lazy (NTK) training: features frozen at their random init": law(*lazy, sp.pi / 2),
        "the subtraction circuit's phase constraint phi_U - phi_V = phi_W": law(0, 0, sp.pi / 2),
    }


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
    formulas=_fourier_formulas,
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


# ---------------------------------------------------------------------------------------------------
# 5. One-layer linear estimator asymptotics: eq. 12 as the eps -> 0 limit (with its rate), lam > 1, init scale, d_out


_alpha, _kappa, _d_out = sp.symbols("alpha kappa d_out", positive=True)


def delay_rate_formula(kappa_26: bool = False):
    """kappa in Delta t / Delta t_eq12 = 1 - kappa x + O(x^2) (``linear_estimator_delay_rate``); ``kappa_26``: the
    3/2 that [LBB23] eq. 26 expands to."""
    if kappa_26:
        return sp.Rational(3, 2) + 0 * _lam
    return sp.Rational(3, 2) * (1 + 1 / (2 * sp.log(1 / (1 - sp.sqrt(_lam)))))


def delay_wrong_log_formula():
    """Control: eq. 12 with log(1/(1 - lam)) for log(1/(1 - sqrt lam))."""
    return sp.log(1 / (1 - _lam)) / (2 * _eta * (1 - sp.sqrt(_lam)) ** 2)


def gen_limit_formulas():
    """t = inf L_gen at lam > 1, |D_0|^2 = 1: (published, MP law without its atom, the spanned fraction 1/lam)."""
    return 1 - 1 / _lam, sp.Integer(0) * _lam, 1 / _lam


def init_threshold_formulas():
    """The alpha = 1 threshold equivalent to eps at student scale alpha: (published 2 eps/(1 + alpha^2), teacher
    term dropped eps/alpha^2, init scale ignored eps)."""
    return 2 * _eps / (1 + _alpha**2), _eps / _alpha**2, _eps + 0 * _alpha


def dout_rate_formulas():
    """The one-output learning rate a d_out-output estimator follows: (eq. 13: eta/d_out, control eta/d_out^2)."""
    return _eta / _d_out, _eta / _d_out**2


_num = {  # the numeric forms the predictions evaluate (tests/test_formulas_grok_asymptotics.py: == the formulas)
    "delay_wrong_log": lambda lam, lr: -np.log1p(-lam) / (2 * lr * (1 - np.sqrt(lam)) ** 2),
    "gen_no_atom": lambda lam: 0.0 * lam,
    "gen_spanned": lambda lam: 1.0 / lam,
    "eps_teacher_dropped": lambda eps, alpha: eps / alpha**2,
    "eps_unchanged": lambda eps, alpha: eps + 0.0 * alpha,
    "lr_dout_squared": lambda lr, d_out: lr / d_out**2,
}
ASYM_NAMES = (
    "log(1/(1 - lam)) for log(1/(1 - sqrt lam)) in eq. 12",
    "eq. 26's rate kappa = 3/2 (eq. 11's L_gen = L_tr / (1 - sqrt lam)^2 taken as exact)",
    "lam > 1: the MP law without its atom at 0 (L_gen -> 0, as for lam < 1)",
    "lam > 1: 1/lam (the spanned fraction of |D_0|^2, not the null one)",
    "init S_0 -> alpha S_0: L -> alpha^2 L (teacher's half of |D_0|^2 dropped: eps -> eps / alpha^2)",
    "init S_0 -> alpha S_0 leaves the grokking times unchanged",
    "d_out outputs: eta / d_out^2 (the two-layer form) for eq. 13's eta / d_out",
)
# Finite-d_in bias of the seed-mean crossing times against the exact MP roots (Jensen: mean of roots vs root of the
# mean; the O(d_in^-2/3) edge), calibrated on PILOT seeds the claim never uses: 800 problems per setting (seeds 777:
# alpha = 0.5, 1, 2; 778: d_out = 2, 4, 8; lam = 0.3, d_in = 150, lr = 0.02, eps = 1e-3): mean deviation within
# [-0.04 %, +0.38 %] of the time, |mean| + 4 SE <= 0.87 %. Bound: 1 % of the predicted time.
ASYM_BIAS_REL = 0.01


@_memo
def _mp_flow_times(lam: float, lr: float, level: float) -> tuple[float, float]:
    return th.linear_estimator_crossing_times(lam, lr, level)


@_memo
def _dout_times(lam: float, lr: float, eps: float, d_out: int, lr_scale: str) -> tuple[float, float]:
    if lr_scale == "eq13":
        return th.linear_estimator_grokking_times(lam, lr, eps, d_out=d_out, discrete=True)
    level = d_out * th.loss_at_accuracy(ACC, eps, d_out)
    return _mp_times(lam, _num["lr_dout_squared"](lr, d_out), level)


def _asym_predictions(p: dict) -> dict[str, Prediction]:
    lr, eps, lam_t = p["lr"], p["eps"], p["lam_times"]
    lr_flow = p["lr_flow"]

    def each(fn):
        return lambda xs: np.array([fn(float(x)) for x in np.atleast_1d(xs)])

    def alpha_times(eps_of):
        return lambda alphas: np.array([_mp_times(lam_t, lr, eps_of(eps, float(a)) / 4) for a in np.atleast_1d(alphas)])

    def dout_times(lr_scale):
        return lambda ds: np.array([_dout_times(lam_t, lr, eps, int(d), lr_scale) for d in np.atleast_1d(ds)])

    published = Prediction(
        delay=each(lambda lam: th.linear_estimator_delay_asymptote(lam, lr_flow)),
        kappa=each(th.linear_estimator_delay_rate),
        gen_limit=each(th.linear_estimator_gen_loss_limit),
        t_alpha=alpha_times(lambda e, a: e / th.init_scale_loss_factor(a)),
        t_dout=dout_times("eq13"),
    )
    n = ASYM_NAMES
    return {
        "published": published,
        n[0]: published.replace(delay=each(lambda lam: _num["delay_wrong_log"](lam, lr_flow))),
        n[1]: published.replace(kappa=each(lambda lam: 1.5)),
        n[2]: published.replace(gen_limit=each(_num["gen_no_atom"])),
        n[3]: published.replace(gen_limit=each(_num["gen_spanned"])),
        n[4]: published.replace(t_alpha=alpha_times(_num["eps_teacher_dropped"])),
        n[5]: published.replace(t_alpha=alpha_times(_num["eps_unchanged"])),
        n[6]: published.replace(t_dout=dout_times("squared")),
    }


def _asym_formulas(p: dict) -> dict:
    delta_t, L_inf, eps_1, eta_1 = sp.symbols("Delta_t L_gen^infinity epsilon_1 eta_1", positive=True)
    gen, gen_no_atom, gen_spanned = gen_limit_formulas()
    eps_pub, eps_teacher, eps_same = init_threshold_formulas()
    lr_pub, lr_sq = dout_rate_formulas()
    n = ASYM_NAMES
    eq = functools.partial(sp.Eq, evaluate=False)  # shown as written (evaluating the relations costs ~0.5 s)
    return {
        "published": (
            eq(delta_t, delay_asymptote_formula()),
            eq(_kappa, delay_rate_formula()),
            eq(L_inf, gen),
            eq(eps_1, eps_pub),
            eq(eta_1, lr_pub),
        ),
        n[0]: eq(delta_t, delay_wrong_log_formula()),
        n[1]: eq(_kappa, delay_rate_formula(kappa_26=True)),
        n[2]: eq(L_inf, gen_no_atom),
        n[3]: eq(L_inf, gen_spanned),
        n[4]: eq(eps_1, eps_teacher),
        n[5]: eq(eps_1, eps_same),
        n[6]: eq(eta_1, lr_sq),
    }


def _simulate_asym(ctx: ClaimContext) -> dict:
    p = ctx.params
    lr_flow, lams = p["lr_flow"], np.array(p["lams_asym"], float)
    xs = p["x0"] / 2.0 ** np.arange(p["n_x"])  # x = 1/(4 eta (1 - sqrt lam)^2 t*_tr), halving: a Richardson ladder
    delay, eps_at = np.empty((xs.size, lams.size)), np.empty((xs.size, lams.size))
    for j, lam in enumerate(lams):
        a2 = (1 - np.sqrt(lam)) ** 2
        for i, x in enumerate(xs):  # eps chosen so that t*_tr sits at the ladder's x (the exact MP root, eqs. 8, 10)
            t_tr = 1.0 / (4 * lr_flow * a2 * x)
            level = float(th.linear_estimator_losses(t_tr, lam, lr_flow)[0][()])
            t_train, t_gen = _mp_flow_times(float(lam), lr_flow, level)
            delay[i, j], eps_at[i, j] = t_gen - t_train, 4 * level
    seeds = child_seeds(ctx.seed, 3)
    lams_over = np.array(p["lams_over"], float)
    gen_limit = np.column_stack(
        [
            sim.linear_teacher_student_spectrum(lam, d_in=p["d_over"], n_seeds=p["n_seeds"], seed=s).gen_loss_limit()
            for lam, s in zip(lams_over, child_seeds(seeds[0], lams_over.size))
        ]
    )  # (seed, lam)
    rounding = np.abs(p["d_over"] / lams_over - np.maximum(1, np.round(p["d_over"] / lams_over))) / p["d_over"]
    common = dict(d_in=p["d_in"], n_seeds=p["n_seeds"])
    t_alpha = np.stack(
        [
            sim.linear_teacher_student_spectrum(p["lam_times"], alpha=a, seed=s, **common).crossing_times(
                p["lr"], p["eps"] / 4
            )
            for a, s in zip(p["alphas"], child_seeds(seeds[1], len(p["alphas"])))
        ],
        axis=1,
    )  # (seed, alpha, 2)
    t_dout = np.stack(
        [  # the 95.45 % point of eq. 13's accuracy: the loss level at which it is reached (the definition of t*)
            sim.linear_teacher_student_spectrum(p["lam_times"], d_out=d, seed=s, **common).crossing_times(
                p["lr"], th.loss_at_accuracy(ACC, p["eps"], d)
            )
            for d, s in zip(p["d_outs"], child_seeds(seeds[2], len(p["d_outs"])))
        ],
        axis=1,
    )  # (seed, d_out, 2)
    if not (np.all(np.isfinite(t_alpha)) and np.all(np.isfinite(t_dout))):
        raise RuntimeError(f"a finite-d run never reached its level (seed={ctx.seed})")
    return dict(
        lams=lams,
        xs=xs,
        delay=delay,
        eps_at=eps_at,
        lams_over=lams_over,
        gen_limit=gen_limit,
        rounding=rounding,
        t_alpha=t_alpha,
        t_dout=t_dout,
    )


@claim(
    "grok.linear_asymptotics",
    area=AREA,
    title="Linear estimator: the grokking delay tends to eq. 12 as eps -> 0 (exact MP roots, approach 1 - kappa x); "
    "L_gen -> 1 - 1/lam for lam > 1; init scale alpha acts as eps -> 2 eps/(1 + alpha^2); d_out outputs as "
    "eta -> eta/d_out (eq. 13)",
    reference=f"{LEVI}, eq. 12 and App. B eqs. 20-26 (eps -> 0 delay), sec. 3.1.1 and eq. 6 (lam > 1), sec. 3.1.3 "
    "(initialisation), sec. 3.2 and App. C, eq. 13 (d_out)",
    seed=20231027,
    quick=dict(
        lams_asym=[0.25, 0.5],
        lr_flow=0.01,
        x0=0.32,
        n_x=6,
        lams_over=[1.5, 4.0],
        d_over=200,
        lam_times=0.3,
        lr=0.02,
        eps=1e-3,
        d_in=150,
        alphas=[0.5, 2.0],
        d_outs=[1, 2, 4, 8],
        n_seeds=24,
    ),
    full=dict(
        lams_asym=[0.1, 0.25, 0.5, 0.7],
        lr_flow=0.01,
        x0=0.32,
        n_x=7,
        lams_over=[1.25, 1.5, 2.5, 4.0],
        d_over=400,
        lam_times=0.3,
        lr=0.02,
        eps=1e-3,
        d_in=150,
        alphas=[0.25, 0.5, 2.0, 4.0],
        d_outs=[1, 2, 4, 8, 16],
        n_seeds=96,
    ),
    simulate=_simulate_asym,
    predictions=_asym_predictions,
    formulas=_asym_formulas,
    resolution=0.02,
)
def linear_asymptotics(ctx: ClaimContext, data: dict, prediction: Prediction):
    """(1) eps -> 0, gradient flow (eq. 12's regime), d_in = inf: at each lam the exact MP delay Delta t(eps) (roots
    of eqs. 8, 10 at thresholds eps chosen so that x = 1/(4 eta (1 - sqrt lam)^2 t*_tr) halves from 0.32 to 0.01, eps
    from ~3e-3 to ~1e-48) over the predicted Delta t_eq12 tends to 1 as 1 - kappa x + O(x^2): Richardson limit of the
    ratio (order x removed) = 1, and of (1 - ratio)/x = kappa (``linear_estimator_delay_rate``), each deterministic
    (next-order bound from the ladder, MP quadrature accurate to 1e-12 against eq. 9). At finite d_in the eps -> 0
    limit is eq. 12 with (1 - sqrt lam)^2 replaced by the smallest eigenvalue of Sigma_tr (O(d_in^-2/3) below the
    MP edge), so the limit is taken at d_in = inf; the finite-d_in checks (3, 4) sit at eps = 1e-3. (2) lam > 1:
    exact finite-d GD, L_gen(t = inf) (the null-space part of |D_0|^2) per seed, seed mean vs the prediction; bias
    |N_tr - d_in/lam| / d_in (N_tr rounded). (3, 4) exact finite-d GD (discrete, eq. 3), seed means of the crossing
    times of the 95.45 % levels vs the exact discrete MP roots: student scale alpha at eps (prediction: the
    alpha = 1 roots at the equivalent eps), and d_out outputs at eq. 13's level; bias ``ASYM_BIAS_REL`` (pilot).
    Controls: eq. 12 with log(1/(1 - lam)) (0.41-0.56 x); eq. 26's kappa = 3/2 (0.58-0.71 x); lam > 1 without the
    atom (0) or with 1/lam; eps/alpha^2 (times 7-19 % off at alpha = 0.5, 2) or eps unchanged (9-16 % off);
    eta/d_out^2 (d_out x longer). Alpha over the three Monte Carlo checks: ALPHA/3. Resolution: the ratio's limit is
    known to ~2e-3, and a perturbed delay adds ~delta/x to (1 - ratio)/x, which the rate check rejects at delta ~
    1e-4 (measured ~2e-5). Declared 0.02."""
    alpha = stats.ALPHA / 3
    lams, xs = data["lams"], data["xs"]
    with np.errstate(divide="ignore", invalid="ignore"):  # the resolution search reaches delay * (1 - 1) = 0
        ratio = data["delay"] / prediction["delay"](lams)[None, :]
        checks = [
            stats.richardson_limit_matches(
                "eq. 12: exact MP delay / predicted delay -> 1 as eps -> 0 (x = 1/(4 eta (1-sqrt lam)^2 t*_tr) -> 0)",
                xs,
                ratio,
                1.0,
                atol=1e-9,
                atol_reason="MP quadrature vs eq. 9 <= 1e-12 relative, roots to rtol 1e-13",
                seed=ctx.seed,
            ),
            stats.richardson_limit_matches(
                "approach rate: (1 - ratio) / x -> kappa (App. B's expansion to next order)",
                xs,
                (1 - ratio) / xs[:, None],
                prediction["kappa"](lams),
                atol=1e-9 / xs.min(),
                atol_reason="the ratio's round-off (1e-9) divided by x",
                seed=ctx.seed,
            ),
        ]
    checks += [
        stats.mean_matches(
            "lam > 1: L_gen(t = inf) of exact finite-d GD (null-space part of |D_0|^2) vs prediction",
            data["gen_limit"],
            prediction["gen_limit"](data["lams_over"]),
            alpha=alpha,
            bias=data["rounding"],
            bias_reason="N_tr = round(d_in / lam): the exact mean (d_in - N_tr)/d_in differs by |N_tr - d_in/lam|/d_in",
            seed=ctx.seed,
        ),
    ]
    p = ctx.params
    for key, values, label in (
        ("t_alpha", p["alphas"], "student init scale alpha"),
        ("t_dout", p["d_outs"], "d_out outputs (eq. 13 level)"),
    ):
        predicted = prediction[key](values)
        checks.append(
            stats.mean_matches(
                f"{label}: (t*_tr, t*_gen) of exact finite-d GD vs prediction",
                data[key],
                predicted,
                alpha=alpha,
                bias=ASYM_BIAS_REL * np.abs(predicted),
                bias_reason="finite d_in: pilot-calibrated 1 % of the time (ASYM_BIAS_REL)",
                seed=ctx.seed,
            )
        )
    rows = []
    for j, lam in enumerate(lams):
        series = f"Delta t / Delta t_eq12, lam={lam:g}"
        kappa = float(np.atleast_1d(prediction["kappa"]([lam]))[0])
        rows += [
            dict(panel="limit", series=series, x=x, theory=np.nan, simulated=r, se=np.nan)
            for x, r in zip(xs, ratio[:, j])
        ]
        rows += [dict(panel="limit", series=series, x=x, theory=1 - kappa * x, simulated=np.nan, se=np.nan) for x in xs]
    rows += [
        dict(
            panel="lam>1",
            series="L_gen(t = inf)",
            x=lam,
            theory=v,
            simulated=data["gen_limit"][:, j].mean(),
            se=stats.standard_error(data["gen_limit"][:, j]),
        )
        for j, (lam, v) in enumerate(zip(data["lams_over"], prediction["gen_limit"](data["lams_over"])))
    ]
    for key, values, panel in (("t_alpha", p["alphas"], "alpha"), ("t_dout", p["d_outs"], "d_out")):
        predicted = prediction[key](values)
        for k, name in enumerate(("t*_tr", "t*_gen")):
            rows += [
                dict(
                    panel=panel,
                    series=name,
                    x=v,
                    theory=predicted[j, k],
                    simulated=data[key][:, j, k].mean(),
                    se=stats.standard_error(data[key][:, j, k]),
                )
                for j, v in enumerate(values)
            ]
    eps_range = f"eps from {data['eps_at'].max():.1g} to {data['eps_at'].min():.1g}"
    panels = (
        Panel("limit", "x = 1/(4 eta (1 - sqrt lam)^2 t*_tr)", "exact delay / eq. 12", "log", "linear", eps_range),
        Panel("lam>1", "lam = d_in / N_tr", "L_gen(t = inf)", title="exact finite-d GD vs (1 - 1/lam)"),
        Panel("alpha", "student init scale alpha", "GD steps to 95.45 %", "log", "linear", "init scale"),
        Panel("d_out", "d_out", "GD steps to 95.45 % (eq. 13)", "log", "log", "output dimension"),
    )
    return ctx.evidence(checks, rows, panels)


# ---------------------------------------------------------------------------------------------------
# grok.max_margin: Morwani et al.'s L_{2,3} max margin of a quadratic network trained on all of Z_p x Z_p
# grok.frequency_lottery: He et al.'s lottery ticket (each neuron's frequency from its initialisation)

MORWANI = "Morwani, Edelman, Oncescu, Zhao & Kakade 2024 (ICLR, arXiv:2311.07568)"
HE = "He, Wang, Chen & Yang 2026 (arXiv:2602.16849)"

# Pilot calibration (seeds the claims never use). grok.max_margin: train_max_margin(p, 4(p-1),
# temperatures=(30, 100, 300), n_steps=500, lr=0.01), seeds 1-3 (8, 6 and 8 networks) at p = 7 and seed 1 (4
# networks) at p = 11: relative gaps 1 - gamma/gamma* per network from 1e-12 to 0.22 (a few networks stop at another
# KKT point), the MEDIAN over a seed's networks 4e-5 to 2.2e-3; every network's norm-weighted share of power outside
# each neuron's top frequency <= 6e-3. Bounds: median gap <= MARGIN_GAP, median non-top share <= NONTOP (~4.5x and
# ~1.7x the worst pilot values).
MARGIN_GAP = 0.01
NONTOP = 0.01
ROUNDOFF = 1e-9  # float64 margins of O(p^2) logits: relative round-off < 1e-13; 1e-9 bounds it with room


def _margin_symbols():
    return sp.Symbol("p", positive=True, integer=True), sp.Symbol("gamma^*", positive=True)


def max_margin_formulas() -> dict:
    """gamma* ([M24] Thm 7) and the nearest mistakes: without sqrt(p), without sqrt(2/27), p in place of p - 1."""
    p, _ = _margin_symbols()
    return {
        "published": sp.sqrt(sp.Rational(2, 27)) / (sp.sqrt(p) * (p - 1)),
        "sqrt(2/27)/(p-1): the 1/sqrt(p) dropped": sp.sqrt(sp.Rational(2, 27)) / (p - 1),
        "1/(sqrt(p)(p-1)): the sqrt(2/27) dropped": 1 / (sp.sqrt(p) * (p - 1)),
        "sqrt(2/27)/(sqrt(p) p): p in place of p - 1": sp.sqrt(sp.Rational(2, 27)) / (sp.sqrt(p) * p),
    }


def _max_margin_formulas(params: dict) -> dict:
    _, gamma = _margin_symbols()
    return {k: sp.Eq(gamma, v) for k, v in max_margin_formulas().items()}


def _max_margin_predictions(params: dict) -> dict[str, Prediction]:
    p, _ = _margin_symbols()
    K = (min(params["p_values"]) - 1) // 2
    nontop = zero(1 - 1 / K)  # natural scale: the non-top share of power spread evenly over the K frequencies
    controls = {k: v for k, v in max_margin_formulas().items() if k != "published"}
    # the published value is the theory's gamma* (the shown formula is tested equal to it)
    published = Prediction(gamma=np.vectorize(th.max_margin_quadratic, otypes=[float]), nontop=nontop)
    return {"published": published} | {
        name: Prediction(gamma=sp.lambdify(p, expr, "numpy"), nontop=nontop) for name, expr in controls.items()
    }


def _simulate_max_margin(ctx: ClaimContext) -> dict:
    from dltheory.theory import modular_margin as mm

    q = ctx.params
    margins, nontop = [], []
    for p, s in zip(q["p_values"], child_seeds(ctx.seed, len(q["p_values"]))):
        run = mfsim.train_max_margin(
            p,
            4 * (p - 1),
            temperatures=q["temperatures"],
            n_steps=q["n_steps"],
            lr=q["lr"],
            n_seeds=q["n_seeds"],
            seed=s,
        )
        margins.append([mm.normalised_margin(*w) for w in zip(run.U, run.V, run.W)])
        shares = [mm.top_frequency_share(*w) for w in zip(run.U, run.V, run.W)]
        nontop.append([float(np.sum(wt * (1 - sh))) for sh, wt in shares])
    return dict(p=np.array(q["p_values"]), margins=np.array(margins), nontop=np.array(nontop))


@claim(
    "grok.max_margin",
    area=AREA,
    title="Quadratic network trained on all of Z_p x Z_p (width 4(p-1)): the normalised L_{2,3} margin reaches "
    "gamma* = sqrt(2/27) / (sqrt(p) (p-1)) and never exceeds it; neurons are single-frequency",
    reference=f"{MORWANI}, sec. 4 (network, L_2,3 norm, normalised margin) and Thm 7 (gamma*, Fourier features)",
    seed=20231113,
    quick=dict(p_values=[7], temperatures=[30.0, 100.0, 300.0], n_steps=400, lr=0.01, n_seeds=4),
    full=dict(p_values=[7, 11], temperatures=[30.0, 100.0, 300.0], n_steps=800, lr=0.01, n_seeds=8),
    simulate=_simulate_max_margin,
    predictions=_max_margin_predictions,
    formulas=_max_margin_formulas,
    resolution=0.02,
)
def max_margin(ctx: ClaimContext, data: dict, prediction: Prediction):
    """Normalised GD (unit L_{2,3} sphere, mean CE at inverse temperature s = 30, 100, 300; the CE minimiser's
    direction tends to the max-margin one as s grows) of n_seeds networks per p. Per p, deterministic checks: (1) no
    network's margin exceeds the prediction (Thm 7 is an upper bound; round-off ROUNDOFF); (2) the median network's
    relative gap below the prediction is <= MARGIN_GAP (pilot-calibrated, training-time shortfall); (3) the median
    norm-weighted power outside each neuron's top frequency is <= NONTOP (Thm 7: single-frequency neurons).
    Controls: dropping 1/sqrt(p) or sqrt(2/27) predicts 2.6-3.3x resp. 3.7x the reached margin (check 2); p for
    p - 1 predicts 14 % (p = 7) below the margin the networks exceed (check 1). Resolution: below, the best network
    (gap <= 1e-6) resolves ~1e-6; above, MARGIN_GAP. Declared 0.02."""
    checks = []
    p = data["p"]
    pred = np.asarray(prediction["gamma"](p), float)
    best, median = data["margins"].max(axis=1), np.median(data["margins"], axis=1)
    checks.append(
        stats.deterministic(
            "Thm 7 is a maximum: best network's margin above the prediction, max(gamma - pred, 0), per p",
            np.maximum(best - pred, 0),
            0.0,
            atol=ROUNDOFF * best,
            reason="float64 round-off of the margin (relative < 1e-13)",
            seed=ctx.seed,
        )
    )
    checks.append(
        stats.deterministic(
            "median network's gap below the prediction, max(pred - gamma, 0), per p (tolerance relative to gamma)",
            np.maximum(pred - median, 0),
            0.0,
            atol=MARGIN_GAP * median,
            reason="finite-training shortfall, pilot-calibrated (pilot medians <= 2.2e-3; seeds 1-3, never the claim's)",
            seed=ctx.seed,
        )
    )
    checks.append(
        stats.deterministic(
            "median norm-weighted power share outside each neuron's top frequency, per p",
            np.median(data["nontop"], axis=1),
            prediction["nontop"],
            atol=NONTOP,
            reason="finite-training shortfall, pilot-calibrated (pilot values <= 6e-3)",
            seed=ctx.seed,
        )
    )
    rows = []
    for i, pv in enumerate(p):
        rows += [
            dict(panel="margin", series="trained networks", x=pv, theory=np.nan, simulated=g, se=np.nan)
            for g in data["margins"][i]
        ]
        rows.append(dict(panel="margin", series="prediction", x=pv, theory=pred[i], simulated=np.nan, se=np.nan))
    panels = (
        Panel(
            "margin",
            "p",
            "normalised L_2,3 margin",
            "linear",
            "log",
            f"{ctx.params['n_seeds']} networks of width 4(p-1) per p",
        ),
    )
    return ctx.evidence(checks, rows, panels)


# grok.frequency_lottery pilots (seeds the claim never uses): train_lottery(11, 128, init_scale=0.1, lr=1,
# n_steps=500), seeds 1-3 x 4 networks: among neurons whose decoupled-flow blow-up times differ by >= 20 % (runner-up
# / winner >= CLEAR), 8 of 887 ended on another frequency; p = 23 (256 neurons, seed 1, 2 networks): 0 of 195. The
# misses are near-ties resolved after the softmax leaves the uniform (decoupled) regime: init_scale 0.03 gave the same
# hit rates. MISS_BOUND is the exact (Clopper-Pearson) two-sided 99.9 % upper limit of 8/887.
CLEAR = 1.2
MISS_BOUND = 0.025
_SCORES: dict = {}


def _lottery_rule(rule: str):
    from dltheory.theory import modular_margin as mm

    def scores(theta, xi):
        key = (rule, theta.shape, hash(theta.tobytes()), hash(xi.tobytes()))
        if key not in _SCORES:
            if len(_SCORES) > 64:
                _SCORES.clear()
            _SCORES[key] = mm.lottery_scores(theta, xi, rule=rule)
        return _SCORES[key]

    scores.__name__ = f"lottery_{rule}"
    return scores


LOTTERY_CONTROLS = {
    "magnitude": "initial magnitudes alone (the flow with cos D = 1, phases ignored)",
    "phase": "phase alignment alone (smallest initial |D| = |2 phi - psi|)",
    "output": "largest initial output-weight component beta_k",
}


def _lottery_predictions(params: dict) -> dict[str, Prediction]:
    out = {"published": Prediction(rule=fixed(_lottery_rule("flow")), hit_rate=1.0)}
    out |= {text: Prediction(rule=fixed(_lottery_rule(r)), hit_rate=1.0) for r, text in LOTTERY_CONTROLS.items()}
    return out


def lottery_flow_formulas():
    """[H26]'s decoupled four-variable flow per (neuron, frequency) and the conserved alpha^2 - 2 beta^2."""
    t, p = sp.Symbol("t", positive=True), sp.Symbol("p", positive=True, integer=True)
    alpha, beta, D = (sp.Function(n)(t) for n in ("alpha", "beta", "D"))
    rhs = (2 * p * alpha * beta * sp.cos(D), p * alpha**2 * sp.cos(D), -p * (4 * beta + alpha**2 / beta) * sp.sin(D))
    return (alpha, beta, D), rhs, t, p


def _lottery_formulas(params: dict) -> dict:
    (alpha, beta, D), rhs, t, p = lottery_flow_formulas()
    T = sp.Function("T")
    flow = tuple(sp.Eq(sp.Derivative(v, t), r) for v, r in zip((alpha, beta, D), rhs))
    a0, b0, d0 = sp.symbols("alpha_k beta_k D_k")
    winner = sp.Symbol("k^*")
    return {
        "published": (*flow, sp.Eq(winner, sp.Function("argmin_k")(T(a0, b0, d0)))),
        LOTTERY_CONTROLS["magnitude"]: (sp.Eq(winner, sp.Function("argmin_k")(T(a0, b0, 0))),),
        LOTTERY_CONTROLS["phase"]: (sp.Eq(winner, sp.Function("argmin_k")(sp.Abs(d0))),),
        LOTTERY_CONTROLS["output"]: (sp.Eq(winner, sp.Function("argmax_k")(b0)),),
    }


def _simulate_lottery(ctx: ClaimContext) -> dict:
    from dltheory.theory import modular_margin as mm

    q = ctx.params
    out = []
    for p, width, n_seeds, s in zip(
        q["p_values"], q["widths"], q["n_seeds"], child_seeds(ctx.seed, len(q["p_values"]))
    ):
        run = mfsim.train_lottery(
            p,
            width,
            init_scale=q["init_scale"],
            lr=q["lr"],
            n_steps=q["n_steps"],
            record_every=q["n_steps"],
            n_seeds=n_seeds,
            seed=s,
        )
        alpha, _ = mm.fourier_modes(run.theta.reshape(-1, p))
        out.append(
            dict(
                p=p,
                theta0=run.theta0.reshape(-1, p),
                xi0=run.xi0.reshape(-1, p),
                final=np.argmax(alpha, axis=1) + 1,  # each neuron's final dominant input frequency
                accuracy=float(run.accuracy[:, -1].min()),
            )
        )
    return dict(runs=tuple(out))


@claim(
    "grok.frequency_lottery",
    area=AREA,
    title="Lottery ticket: each neuron's final frequency is the one whose decoupled flow (initial magnitudes and "
    "phase misalignment 2 phi - psi) blows up first",
    reference=f"{HE}, sec. on the lottery-ticket mechanism (decoupled gradient flow of the Fourier magnitudes and "
    "phases, ODE comparison); network f(x, y) = sum_m xi_m (theta_m[x] + theta_m[y])^2",
    seed=20260218,
    quick=dict(p_values=[11], widths=[128], n_seeds=[2], init_scale=0.1, lr=1.0, n_steps=500),
    full=dict(p_values=[11, 23], widths=[128, 256], n_seeds=[8, 4], init_scale=0.1, lr=1.0, n_steps=500),
    simulate=_simulate_lottery,
    predictions=_lottery_predictions,
    formulas=_lottery_formulas,
    resolution=0.15,
)
def frequency_lottery(ctx: ClaimContext, data: dict, prediction: Prediction):
    """Full-batch GD on the mean CE over all p^2 pairs from N(0, 0.1^2) weights (every network reaches accuracy 1
    within ~200 steps). Per neuron, the rule's predicted frequency (argmin of its score over k = 1..K) against the
    final dominant frequency of theta. Per p, two exact binomial checks (Bonferroni over 2 per p): (1) over all
    neurons, the hit rate beats chance 1/K (one-sided); (2) over the neurons the rule calls clear (runner-up score /
    winner score >= CLEAR), the hits are consistent with a hit probability in [hit_rate - MISS_BOUND, hit_rate]
    (the flow is deterministic: predicted hit rate 1; MISS_BOUND: pilot-calibrated allowance for near-ties resolved
    outside the decoupled regime); and every network reaches accuracy 1. Controls (pilots at p = 11): magnitudes alone hit 70-76 % of their clear
    neurons, phase alone and the output weight 34-40 %. The ODE's factor 2 (two operand slots share theta) is not
    resolved by this test: the untied-embedding flow (factor 1) ranks the frequencies alike (pilot: 99-100 %).
    Resolution: a predicted hit rate above 1 is impossible (rejected); below, ~140 clear neurons (quick tier) at
    the Bonferroni level 2.5e-4 reject a predicted hit rate lowered by ~10 %. Declared 0.15."""
    alpha = stats.ALPHA / (2 * len(data["runs"]))
    checks, rows = [], []
    for run in data["runs"]:
        p, K = run["p"], (run["p"] - 1) // 2
        scores = prediction["rule"](run["theta0"], run["xi0"])
        order = np.sort(scores, axis=1)
        with np.errstate(divide="ignore"):
            gap = order[:, 1] / order[:, 0]
        hit = np.argmin(scores, axis=1) + 1 == run["final"]
        clear = gap >= CLEAR
        checks.append(
            stats.binomial_exceeds(
                f"p={p}: rule's hit rate over all {hit.size} neurons beats chance 1/K = 1/{K}",
                int(hit.sum()),
                hit.size,
                1 / K,
                alpha=alpha,
                seed=ctx.seed,
            )
        )
        h = float(prediction["hit_rate"])
        checks.append(
            stats.binomial_within(
                f"p={p}: hits among the {int(clear.sum())} neurons the rule calls clear (gap >= {CLEAR})",
                int(hit[clear].sum()),
                int(clear.sum()),
                h - MISS_BOUND,
                h,
                alpha=alpha,
                reason="predicted hit rate minus the pilot-calibrated miss bound (8/887 misses, seeds 1-3)",
                seed=ctx.seed,
            )
        )
        edges = np.array([1.0, 1.05, 1.1, 1.2, 1.5, np.inf])
        for lo, hi in zip(edges[:-1], edges[1:]):
            m = (gap >= lo) & (gap < hi)
            if m.any():
                rows.append(
                    dict(
                        panel="hits",
                        series=f"p={p}: hit rate by the rule's gap (runner-up / winner score)",
                        x=lo,
                        theory=h if lo >= CLEAR else np.nan,
                        simulated=float(hit[m].mean()),
                        se=float(stats.proportion_se(hit[m].mean(), m.sum())),
                    )
                )
        rows.append(dict(panel="hits", series=f"p={p}: chance 1/K", x=1.0, theory=1 / K, simulated=np.nan, se=np.nan))
    checks.append(
        stats.deterministic(
            "every network fits all p^2 pairs: 1 - the worst network's final accuracy, per p",
            np.array([1 - run["accuracy"] for run in data["runs"]]),
            0.0,
            atol=1e-12,
            reason="exact fraction of p^2 pairs (round-off only); the lottery is claimed for trained networks",
            seed=ctx.seed,
        )
    )
    panels = (
        Panel(
            "hits",
            "gap bin (lower edge)",
            "fraction of neurons whose final frequency the rule predicts",
            "log",
            "linear",
            "hits by clearness",
        ),
    )
    return ctx.evidence(checks, rows, panels)


# ---------------------------------------------------------------------------------------------------
# 6. Nanda et al.'s progress measures: the restricted loss leads the test loss, the excluded loss rises in between

NANDA = "Nanda, Chan, Lieberum, Smith & Steinhardt 2023 (arXiv:2301.05217)"
# Event definitions: a cross-entropy FALLS at the first record after its peak at which it is below half the chance
# level, log(p)/2 (one definition for the test and the restricted loss); the excluded loss starts to RISE at the first
# record after its trough at which it exceeds the trough by RISE_FLOOR = 0.1 nats (3 % of log p at p = 23: the onset
# of [N23]'s "the excluded loss rises", whatever the trough's level). Memorisation: the first record with training
# accuracy >= 99 %. History (recorded, not hidden): the first definitions ("falls" = below half its own peak; "rises"
# = above max(2 trough, trough + 0.1)) passed the quick tier and seed sets 1001-1003 but failed 1 of 16 full-tier
# networks (seed 20230112, network 6: a clean 2-frequency circuit whose CE test loss halved from its peak of 16 nats
# at 5600 steps, test accuracy still 0.14, before the excluded loss rose at 6200; accuracy 99 % at 13800). Halving a
# 16-nat loss is not generalising; the chance-relative definition above replaced it, and the claim was rerun on the
# quick seed, the full tier and fresh seed sets 2001-2003.
RISE_FLOOR = 0.1
PM_NAMES = (
    "the restricted loss falls only together with the test loss (no lead)",
    "the excluded loss computed on the test pairs (not the training pairs)",
    "key frequencies chosen at random (as many non-key frequencies)",
)


def _fall_time(steps: np.ndarray, curve: np.ndarray, level: float) -> float:
    """First recorded step after the curve's peak at which it is below ``level``; inf if never."""
    i = int(np.argmax(curve))
    after = np.flatnonzero(curve[i:] < level)
    return float(steps[i + after[0]]) if after.size else np.inf


def _rise_times(steps: np.ndarray, curve: np.ndarray) -> tuple[float, float]:
    """(trough step, first step after it with the curve above trough + RISE_FLOOR; inf if never)."""
    i = int(np.argmin(curve))
    after = np.flatnonzero(curve[i:] > curve[i] + RISE_FLOOR)
    return float(steps[i]), (float(steps[i + after[0]]) if after.size else np.inf)


@functools.lru_cache(maxsize=4)
def _embedded_runs(
    p: int,
    d_embed: int,
    width: int,
    fraction: float,
    lr: float,
    wd: float,
    n_steps: int,
    record_every: int,
    n_seeds: int,
    seed: int,
):
    return sim.train_embedded_modular_addition(
        p,
        d_embed,
        width,
        fraction,
        lr=lr,
        weight_decay=wd,
        n_steps=n_steps,
        record_every=record_every,
        n_seeds=n_seeds,
        seed=seed,
    )


def _simulate_progress(ctx: ClaimContext) -> dict:
    q = ctx.params
    run = _embedded_runs(
        q["p"],
        q["d_embed"],
        q["width"],
        q["fraction"],
        q["lr"],
        q["weight_decay"],
        q["n_steps"],
        q["record_every"],
        q["n_seeds"],
        ctx.seed,
    )
    K = (q["p"] - 1) // 2
    rng = np.random.default_rng(np.random.SeedSequence(ctx.seed).spawn(1)[0])
    steps, times, keys, curves = run.steps, {}, [], {}
    for s in range(q["n_seeds"]):
        power = th.frequency_power(run.E[s])[:, 1:].sum(
            axis=0
        )  # [N23] sec. 4: key frequencies from W_E's Fourier norms
        key = np.flatnonzero(power / power.sum() > 1 / K) + 1  # above the uniform share 1/K
        others = np.setdiff1d(np.arange(1, K + 1), key)
        if others.size == 0:
            raise RuntimeError(f"network {s} uses every frequency: no strict key subset to test (seed={ctx.seed})")
        random_key = np.sort(rng.choice(others, size=min(key.size, others.size), replace=False))
        keys.append((key, random_key))
        mask = run.train_mask[s]
        f = run.logits[s].astype(float)
        measured = {
            ("restricted", "trained"): [th.restricted_loss(x, key) for x in f],
            ("restricted", "random"): [th.restricted_loss(x, random_key) for x in f],
            ("excluded", "trained", "train"): [th.excluded_loss(x, key, mask) for x in f],
            ("excluded", "trained", "test"): [th.excluded_loss(x, key, ~mask) for x in f],
            ("excluded", "random", "train"): [th.excluded_loss(x, random_key, mask) for x in f],
        }
        t = {
            "memorised": float(steps[np.argmax(run.train_acc[s] >= 0.99)])
            if run.train_acc[s].max() >= 0.99
            else np.inf,
            "test_falls": _fall_time(steps, run.test_loss[s], np.log(q["p"]) / 2),
        }
        for name, curve in measured.items():
            curve = np.array(curve)
            curves.setdefault(name, []).append(curve)
            if name[0] == "restricted":
                t[name] = _fall_time(steps, curve, np.log(q["p"]) / 2)
            else:
                t[(*name, "trough")], t[name] = _rise_times(steps, curve)
        for name, value in t.items():
            times.setdefault(name, []).append(value)
    curves["test"], curves["train"] = list(run.test_loss), list(run.train_loss)
    return dict(
        steps=steps,
        times={k: np.array(v) for k, v in times.items()},
        keys=keys,
        curves={k: np.mean(v, axis=0) for k, v in curves.items()},
        final_test_acc=run.test_acc[:, -1],
    )


def _progress_predictions(p: dict) -> dict[str, Prediction]:
    published = Prediction(
        keys=fixed("trained"), excluded_on=fixed("train"), p_restricted_first=1.0, p_excluded_rise=1.0
    )
    return {
        "published": published,
        PM_NAMES[0]: published.replace(p_restricted_first=0.0),
        PM_NAMES[1]: published.replace(excluded_on=fixed("test")),
        PM_NAMES[2]: published.replace(keys=fixed("random")),
    }


def _progress_formulas(p: dict) -> dict:
    """P_restricted_first = P(t_restricted falls < t_test falls); P_excluded_rise = P(t_memorised <= t_trough of the
    excluded loss, its rise < t_test falls), over networks; superscripts: the control's definition."""
    P_r, P_x = sp.Symbol("P_restricted_first"), sp.Symbol("P_excluded_rise")
    P_xt = sp.Symbol("P_excluded_rise^test_pairs")
    P_rr, P_xr = sp.Symbol("P_restricted_first^random_keys"), sp.Symbol("P_excluded_rise^random_keys")
    return {
        "published": (sp.Eq(P_r, 1), sp.Eq(P_x, 1)),
        PM_NAMES[0]: sp.Eq(P_r, 0),
        PM_NAMES[1]: sp.Eq(P_xt, 1),
        PM_NAMES[2]: (sp.Eq(P_rr, 1), sp.Eq(P_xr, 1)),
    }


@claim(
    "grok.progress_measures",
    area=AREA,
    title="Progress measures (embed -> quadratic MLP -> unembed, cross-entropy, Z_23): the key-frequency restricted "
    "loss falls before the test loss; the key-frequency excluded loss rises after memorisation, before the test "
    "loss falls",
    reference=f"{NANDA}, sec. 5.1 (restricted and excluded loss), sec. 5.2 and Fig. 7 (memorisation, circuit "
    "formation, cleanup)",
    seed=20230112,
    quick=dict(
        p=23,
        d_embed=32,
        width=64,
        fraction=0.5,
        lr=3e-3,
        weight_decay=0.3,
        n_steps=14000,
        record_every=200,
        n_seeds=8,
        min_grokked=6,
    ),
    full=dict(
        p=23,
        d_embed=32,
        width=64,
        fraction=0.5,
        lr=3e-3,
        weight_decay=0.3,
        n_steps=16000,
        record_every=200,
        n_seeds=16,
        min_grokked=12,
    ),
    simulate=_simulate_progress,
    predictions=_progress_predictions,
    formulas=_progress_formulas,
    resolution=0.8,
)
def progress_measures(ctx: ClaimContext, data: dict, prediction: Prediction):
    """Per network: key frequencies from the trained embedding E (non-DC Fourier power share above the uniform 1/K,
    [N23] sec. 4), then at every record (theory.grokking restricted_loss / excluded_loss, Nanda's definitions:
    cross-entropy; restricted: logits projected on cos/sin(w_k (a+b)), k key, plus the per-class mean, all pairs;
    excluded: those directions removed, training pairs). Events as defined at ``RISE_FLOOR``. Checks (exact
    binomial over the networks, ALPHA/2 each): the fraction of networks whose restricted loss falls before the test
    loss, and whose excluded loss has its trough after memorisation and rises before the test loss falls, against
    the predicted fractions, over the networks whose test loss falls within the run (the ordering is defined for
    grokking networks; at least ``min_grokked`` must). Controls: no lead (fraction 0); the excluded loss on the
    test pairs (its trough is at initialisation: it rises with memorisation, not with the circuit); random (non-key)
    frequencies (their restricted loss does not halve before the test loss, their excluded loss does not rise).
    Resolution: the exact binomial on n networks rejects p0 = 1 - delta only once (1 - delta)^n < ALPHA/2 (n = 8:
    delta ~ 0.61; n = 6: ~0.72). Declared 0.8. The quick tier trains 8 networks for 1.4e4 AdamW steps (~30 s on
    one core, ~70 s on a loaded 2-core box) and cannot be made cheaper: memorisation is at 400 steps, the restricted
    loss falls at 600-1600, the excluded loss rises at 1600-9800, and the test loss falls only at 4400-12400 (seed
    sets 20230112 and 2002; one network in eight does not get there by 1.4e4 and is left out)."""
    alpha = stats.ALPHA / 2
    t = data["times"]
    grokked = np.isfinite(t["test_falls"])  # the ordering is defined for networks whose test loss falls in the run
    n = int(grokked.sum())
    keys = prediction["keys"]
    on = prediction["excluded_on"]
    restricted = t[("restricted", keys)][grokked]
    excluded, trough = t[("excluded", keys, on)][grokked], t[("excluded", keys, on, "trough")][grokked]
    test_falls, memorised = t["test_falls"][grokked], t["memorised"][grokked]
    k_r = int(np.sum(restricted < test_falls))
    k_x = int(np.sum((trough >= memorised) & (excluded < test_falls)))
    checks = [
        stats.binomial_matches(
            f"restricted loss ({keys} keys) falls before the test loss: networks",
            k_r,
            n,
            prediction["p_restricted_first"],
            alpha=alpha,
            seed=ctx.seed,
        ),
        stats.binomial_matches(
            f"excluded loss ({keys} keys, {on} pairs): trough after memorisation, rise before the test loss falls",
            k_x,
            n,
            prediction["p_excluded_rise"],
            alpha=alpha,
            seed=ctx.seed,
        ),
        stats.deterministic(
            f"networks whose test loss fell (below log(p)/2) within the run, short of min_grokked = "
            f"{ctx.params['min_grokked']} of {grokked.size}",
            float(max(0, ctx.params["min_grokked"] - n)),
            0.0,
            atol=0.5,
            reason="exact count; min_grokked keeps the binomial's resolution 1 - alpha^(1/n) below the declared 0.8",
            seed=ctx.seed,
        ),
    ]
    steps = np.maximum(data["steps"], 1)
    rows = []
    for name, label in (
        ("train", "train loss"),
        ("test", "test loss"),
        (("restricted", "trained"), "restricted loss (key)"),
        (("restricted", "random"), "restricted loss (random keys)"),
        (("excluded", "trained", "train"), "excluded loss (key, train pairs)"),
        (("excluded", "trained", "test"), "excluded loss (key, test pairs)"),
    ):
        rows += [
            dict(panel="losses", series=label, x=x, theory=np.nan, simulated=v, se=np.nan)
            for x, v in zip(steps, data["curves"][name])
        ]
    for name, label in (
        ("memorised", "memorised (train acc 99 %)"),
        (("restricted", "trained"), "restricted loss falls"),
        (("excluded", "trained", "train"), "excluded loss rises"),
        ("test_falls", "test loss falls"),
    ):
        rows += [
            dict(panel="times", series=label, x=i, theory=np.nan, simulated=v, se=np.nan) for i, v in enumerate(t[name])
        ]
    sizes = [k.size for k, _ in data["keys"]]
    panels = (
        Panel(
            "losses",
            "AdamW step",
            "cross-entropy (mean over networks)",
            "log",
            "log",
            f"{n} networks, key frequencies per network: {min(sizes)}-{max(sizes)} of {(ctx.params['p'] - 1) // 2}",
        ),
        Panel("times", "network", "AdamW step", "linear", "log", "event times per network"),
    )
    return ctx.evidence(checks, rows, panels)
