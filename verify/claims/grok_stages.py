"""grok.three_stage: He, Wang, Chen & Yang's three stages of grokking in their two-layer network on Z_p addition.

The network f(x, y)[j] = sum_m xi[m, j] sigma(theta[m, x] + theta[m, y]) (sigma = x^2, the network of their theory)
is trained on 75 % of the pairs by full-batch AdamW with weight decay, as in their grokking experiments
(dltheory.simulators.modular_features.train_grokking). The stages are located with the authors' diagnostics: the
training and test accuracy first reaching 0.95 (their stage boundaries t_I, t_II), the inverse participation ratio of
the neurons' Fourier spectra (IPR, averaged over neurons and both layers, as they plot it) and the parameter norm.

Sources of the statements: the paper's abstract (grokking is a three-stage process, memorisation followed by two
generalisation phases, driven by the competition between loss minimisation and weight decay) and the authors'
description of their grokking figure (their demonstration of the paper): stage I, the network memorises the training
pairs while the test accuracy stays at the share the symmetry f(x, y) = f(y, x) gives away (~70 % at a 75 % split;
dltheory.theory.modular_margin.memorisation_test_accuracy, drawn in the evidence); stage II, weight decay prunes the
non-feature frequencies, the IPR rises and the test accuracy jumps; stage III, both losses ~ 0 and weight decay
slowly shrinks the norms. (Here the pairs with neither order trained sit below chance at t_I, 0 correct in most
pilot networks, the "active suppression" the authors also describe, so the stage I test accuracy is at or just
below that level.) The paper's own grokking section was not available here; no statement below goes beyond
that description. The stage boundaries are theirs (accuracy 0.95); the margin DELAY is pilot-calibrated.

Not tested, with the reason:
- the stage III rate d||w||/dt = -lambda ||w|| (their description). Under AdamW (their optimiser) the loss gradient,
  normalised by Adam, balances the decoupled decay: their own logged run (p = 23, lr 1e-4, lambda = 2) has ||w||
  50.60 -> 48.54 over epochs 10080 -> 23040, d ln||w|| / d epoch = 3.2e-6 against lr lambda = 2e-4, and pilots here
  (p = 11, lr 2e-3, lambda = 1) 2e-6 to 9e-6 per step against 2e-3: the norm decays ~100x slower than that rate, so
  only its sign is a prediction of these runs (statement 3).
- "the IPR increases sharply in stage II": the IPR rises fastest in stage I, in their run (0.17 -> 0.47 over stage
  I's 1744 epochs, 0.47 -> 0.72 over stage II's 7700, 0.72 -> 0.84 over the next 14000) as here (0.33 -> ~0.7 by
  t_I); a stage-II-faster-than-stage-III comparison failed in 7 of 36 pilot networks (late generalisers, whose short
  stage III still carries the rise). Statement 2 is the rise itself.
- that weight decay drives the sparsification: without weight decay (pilot, 4 networks) the IPR still rises
  (0.67-0.74 at t_I to 0.75-0.80), 1 of 4 networks reaches test accuracy 0.95 within the run and the norm never
  shrinks; the control "no weight-decay cleanup" tests the last of these, not the sparsification.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from dltheory.simulators import modular_features as mfsim
from dltheory.theory import grokking_modular as gm
from dltheory.theory import modular_margin as mm
from dltheory.verify import stats
from dltheory.verify.evidence import Check, Panel
from dltheory.verify.prediction import Prediction, fixed
from dltheory.verify.registry import ClaimContext, claim

AREA = "grokking"
HE = "He, Wang, Chen & Yang 2026 (arXiv:2602.16849)"
LEVEL = 0.95  # the authors' stage boundaries: training / test accuracy first >= 0.95
NORM_RTOL = 1e-9  # float64 round-off of a norm of O(10) summed over ~1e3 entries: < 1e-13 relative; 1e-9 with room

# Pilot calibration (seeds the claim never uses: 101-104, 16 networks each, quick parameters): 55 of the 64 networks
# reached test accuracy 0.95 within the run and every one of the 55 showed the three-stage pattern (smallest pilot
# margins: t_II / t_I = 2.33, IPR(t_II) - IPR(t_I) = 0.041). MISS is the exact (Clopper-Pearson) one-sided 99.9 % upper
# limit of 0 failures in 55: 1 - 0.001^(1/55).
MISS = 0.12
DELAY = 2  # memorisation first: t_II >= DELAY t_I (pilot ratios t_II / t_I >= 2.33, seeds 101-104)
STATEMENTS = (
    "stage I first: t_II >= DELAY t_I (test accuracy reaches 0.95 long after training accuracy)",
    "stage II sparsification: IPR(t_II) > IPR(t_I)",
    "stage III cleanup: the norm ends below its maximum over [t_II, end]",
)


def _simulate(ctx: ClaimContext) -> dict:
    q = ctx.params
    run = mfsim.train_grokking(
        q["p"],
        q["width"],
        train_fraction=q["train_fraction"],
        weight_decay=q["weight_decay"],
        lr=q["lr"],
        init_scale=q["init_scale"],
        n_steps=q["n_steps"],
        record_every=q["record_every"],
        n_seeds=q["n_seeds"],
        seed=ctx.seed,
    )
    return _diagnostics(run)


def _diagnostics(run) -> dict:
    """Per network: the accuracy, IPR and norm curves, the stage boundaries t_I, t_II, the memorisation level and the
    three stage statements (STATEMENTS), evaluated where the test accuracy reaches LEVEL within the run (``grokked``:
    t_II before the last record; a network still short of it carries no evidence on the order and holds all-False)."""
    steps = run.steps.astype(float)
    out = {k: [] for k in ("train", "test", "ipr", "norm", "t_I", "t_II", "level", "grokked", "pattern")}
    for mask, ok, theta, xi in zip(run.train_mask, run.correct, run.theta, run.xi):
        train, test = ok[:, mask].mean(axis=1), ok[:, ~mask].mean(axis=1)
        ipr = 0.5 * np.array(
            [
                gm.inverse_participation_ratio(a).mean() + gm.inverse_participation_ratio(b).mean()
                for a, b in zip(theta, xi)
            ]
        )
        norm = np.sqrt(np.sum(theta**2, axis=(1, 2)) + np.sum(xi**2, axis=(1, 2)))
        t_I, t_II = mm.grokking_stages(steps, train, test, level=LEVEL)
        grokked = bool(t_II < steps[-1])  # the test accuracy reaches LEVEL within the run (before its last record)
        if grokked and np.isfinite(t_I):
            i, j = np.searchsorted(steps, (t_I, t_II))
            pattern = (t_II >= DELAY * t_I, ipr[j] > ipr[i], norm[-1] < norm[j:].max() * (1 - NORM_RTOL))
        else:  # training accuracy never reaches LEVEL (no stage I), or no stage II: nothing to order
            pattern = (False, False, False)
        level = mm.memorisation_test_accuracy(mask)
        values = (train, test, ipr, norm, t_I, t_II, level, grokked, [bool(x) for x in pattern])
        for key, value in zip(out, values):
            out[key].append(value)
    return {k: np.array(v) for k, v in out.items()} | {"steps": steps}


CONTROLS = (
    "no memorisation stage: test accuracy reaches 0.95 within DELAY x the steps training accuracy needs",
    "features only after generalisation: the IPR does not rise during stage II",
    "no weight-decay cleanup: the norm still at its maximum at the end (as without weight decay)",
)


def _formula_symbols():
    return sp.symbols("t_I t_II IPR(t_I) IPR(t_II) W_end W_max", positive=True)


def _formulas(params: dict) -> dict:
    t1, t2, i1, i2, w_end, w_max = _formula_symbols()
    delay = sp.Integer(DELAY)
    return {
        "published": (sp.Ge(t2, delay * t1), sp.Gt(i2, i1), sp.Lt(w_end, w_max)),
        CONTROLS[0]: (sp.Lt(t2, delay * t1), sp.Gt(i2, i1), sp.Lt(w_end, w_max)),
        CONTROLS[1]: (sp.Ge(t2, delay * t1), sp.Le(i2, i1), sp.Lt(w_end, w_max)),
        CONTROLS[2]: (sp.Ge(t2, delay * t1), sp.Gt(i2, i1), sp.Ge(w_end, w_max)),
    }


def _predictions(params: dict) -> dict[str, Prediction]:
    patterns = {"published": (True, True, True)}
    for i, name in enumerate(CONTROLS):
        patterns[name] = tuple(j != i for j in range(3))
    return {name: Prediction(pattern=fixed(pat), obeys=1.0) for name, pat in patterns.items()}


@claim(
    "grok.three_stage",
    area=AREA,
    title="Grokking on 75 % of Z_p with weight decay runs in three stages located by the authors' diagnostics: "
    "memorisation first (test accuracy reaches 0.95 >= 2x later than training accuracy), sparsification (the IPR rises) "
    "during generalisation, then cleanup (the norm shrinks)",
    reference=f"{HE}, abstract and grokking section (three stages: memorisation, then two generalisation phases "
    "driven by loss minimisation against weight decay; diagnostics: accuracies, IPR, parameter norm)",
    seed=20260219,
    quick=dict(
        p=11,
        width=64,
        train_fraction=0.75,
        weight_decay=1.0,
        lr=4e-3,
        init_scale=0.03,
        n_steps=2000,
        record_every=25,
        n_seeds=16,
    ),
    full=dict(
        p=11,
        width=64,
        train_fraction=0.75,
        weight_decay=1.0,
        lr=2e-3,
        init_scale=0.03,
        n_steps=4000,
        record_every=25,
        n_seeds=48,
    ),
    simulate=_simulate,
    predictions=_predictions,
    formulas=_formulas,
    resolution=0.5,
)
def three_stage(ctx: ClaimContext, data: dict, prediction: Prediction):
    """Per network whose test accuracy reaches 0.95 within the run, the observed pattern of the three stage
    statements (STATEMENTS) against the predicted one (published: all three hold; each control negates one). Checks:
    (1) coverage, at least half the networks reach stage II (else the ordering is untested; not a prediction);
    (2) exact binomial: the number of those networks showing the predicted pattern is consistent with a rate in
    [obeys - MISS, obeys] (the statements are deterministic given the network: predicted rate 1; MISS: pilot
    allowance). A network showing the published pattern counts against every control. Resolution: a predicted rate
    above 1 is impossible (rejected); below, n networks all showing the pattern reject the rate r with r^n < 5e-4
    (n = 15 of 16 here: r ~ 0.60, a 40 % error). Declared 0.5."""
    pattern = np.asarray(prediction["pattern"], bool)
    h = float(prediction["obeys"])
    grokked = data["grokked"]
    observed = data["pattern"][grokked]
    k, n = int(np.all(observed == pattern, axis=1).sum()), int(grokked.sum())
    checks = [
        Check(
            f"networks whose test accuracy stays below {LEVEL} to the end of the run (their stages cannot be "
            f"ordered), of {grokked.size}",
            grokked.size - n,
            grokked.size / 2,
            "<=",
            f"{n} of {grokked.size} reach it; coverage requirement of the ordering test (at least half the networks), "
            f"not a prediction; seed={ctx.seed}",
        ),
        stats.binomial_within(
            f"networks (of {n} reaching stage II) whose stage statements are {tuple(bool(x) for x in pattern)}",
            k,
            n,
            h - MISS,
            h,
            alpha=stats.ALPHA,
            reason="predicted rate minus the pilot-calibrated miss bound (MISS: 0 of the pilot networks reaching "
            "stage II failed; seeds 101-104)",
            seed=ctx.seed,
        ),
    ]
    rows = []
    steps = data["steps"]
    for name, key in (("training accuracy", "train"), ("test accuracy", "test"), ("IPR", "ipr")):
        curve = np.median(data[key], axis=0)
        rows += [
            dict(panel="stages", series=name, x=s, theory=np.nan, simulated=v, se=np.nan) for s, v in zip(steps, curve)
        ]
    level = float(np.median(data["level"]))
    rows += [
        dict(panel="stages", series="memorisation level q + (1-q)/p", x=s, theory=level, simulated=np.nan, se=np.nan)
        for s in (steps[0], steps[-1])
    ]
    rel = data["norm"] / data["norm"].max(axis=1, keepdims=True)
    rows += [
        dict(panel="norm", series="||w|| / max ||w||", x=s, theory=np.nan, simulated=v, se=np.nan)
        for s, v in zip(steps, np.median(rel, axis=0))
    ]
    panels = (
        Panel("stages", "AdamW step", "median over networks", title="accuracies and IPR"),
        Panel("norm", "AdamW step", "relative parameter norm", title="stage III cleanup"),
    )
    return ctx.evidence(checks, rows, panels)
