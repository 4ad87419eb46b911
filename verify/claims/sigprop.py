"""Signal propagation in deep random networks (Poole et al. 2016; Schoenholz et al. 2017; Klambauer et al. 2017).

Networks h^l = W^l phi(h^{l-1}) + b^l with W ~ N(0, sigma_w2/N), b ~ N(0, sigma_b2), two inputs, sampled by
dltheory.simulators.abc_mlp.forward_gram (exact in law). The infinite-width maps of
dltheory.theory.signal_propagation hold as N -> inf; at finite N every per-layer mean carries an O(1/N) bias, so
each per-layer statistic is measured at >= 5 widths over > 1 decade and its N -> inf limit (weighted fit
a + b/N with the Monte Carlo SEs, stats.limit_matches) is compared with the map.
"""

from __future__ import annotations

import math

import numpy as np
import sympy as sp

from dltheory.simulators import abc_mlp as sim
from dltheory.theory import signal_propagation as th
from dltheory.theory.gaussian import gaussian_expectation
from dltheory.verify import stats
from dltheory.verify.evidence import Panel
from dltheory.verify.prediction import Prediction, exponent
from dltheory.verify.registry import ClaimContext, claim

AREA = "infinite width: signal propagation"
POOLE = "Poole et al. 2016 (arXiv:1606.05340) eqs. 3, 5, 7; Schoenholz et al. 2017 (arXiv:1611.01232) eqs. 6, 9"
MC_LIMIT = "N -> inf limit of a + b/N fitted with the Monte Carlo SEs"


def _inputs(q1: float, c1: float, sigma_w2: float, sigma_b2: float, n0: int = 8) -> np.ndarray:
    """Two inputs with layer-1 kernel q_aa = q_bb = q1 and correlation c1 (needs q1 > sigma_b2)."""
    r2 = (q1 - sigma_b2) * n0 / sigma_w2  # |x|^2
    cos = (c1 * q1 - sigma_b2) * n0 / sigma_w2 / r2
    e1, e2 = np.eye(n0)[0], np.eye(n0)[1]
    return math.sqrt(r2) * np.vstack([e1, cos * e1 + math.sqrt(1 - cos**2) * e2])


def _networks(p: dict, seed, activation, sigma_w2: float, sigma_b2: float, x: np.ndarray) -> list:
    return [
        sim.forward_gram(
            x, [int(n)] * p["depth"], activation=activation, C_W=sigma_w2, C_b=sigma_b2, n_nets=p["n_nets"], seed=s
        )
        for n, s in zip(p["widths"], seed.spawn(len(p["widths"])))
    ]


def _mean_se(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return v.mean(0), stats.standard_error(v, axis=0)


# ---------------------------------------------------------------------------------------------------
# q- and c-maps, fixed points and the correlation depth scale (tanh)


def _map_prediction(p: dict, sigma_w2, sigma_b2) -> dict:
    """Per phase: q^l and c^l iterates (l = 1..depth), c* and 1/xi_c at (sigma_w2(phase), sigma_b2(phase))."""
    out = {}
    for phase, ph in p["phases"].items():
        sw, sb = sigma_w2(ph), sigma_b2(ph)
        k = th.kernel_iterates(
            p["q1"], p["q1"], ph["c1"] * p["q1"], p["depth"], sigma_w2=sw, sigma_b2=sb, activation="tanh"
        )
        ds = th.depth_scales(sigma_w2=sw, sigma_b2=sb, activation="tanh")
        out |= {
            f"q {phase}": k[:, 0],
            f"c {phase}": k[:, 2] / np.sqrt(k[:, 0] * k[:, 1]),
            f"c* {phase}": ds["c_star"],
            f"1/xi_c {phase}": 1 / ds["xi_c"],
        }
    return out


_sw2, _sb2 = sp.symbols("sigma_w^2 sigma_b^2", nonnegative=True)
_q, _c, _z1, _z2 = (
    sp.Symbol("q", positive=True),
    sp.Symbol("c"),
    sp.Symbol("z_1", real=True),
    sp.Symbol("z_2", real=True),
)
_l, _L = sp.symbols("l L", positive=True, integer=True)
_qf, _cf = sp.Function("q"), sp.Function("c")  # q^l, c^l
_c_star, _qs, _xi_c = sp.Symbol("c^*"), sp.Symbol("q^*", positive=True), sp.Symbol("xi_c", positive=True)


def Dz(f: sp.Expr, *zs) -> sp.Integral:
    """int Dz f = int f e^(-z^2/2) / sqrt(2 pi) dz over each of ``zs`` (default z_1): [P16]'s Gaussian measure."""
    zs = zs or (_z1,)
    w = sp.Mul(*(sp.exp(-(z**2) / 2) / sp.sqrt(2 * sp.pi) for z in zs))
    return sp.Integral(f * w, *((z, -sp.oo, sp.oo) for z in zs))


def _u(q=_q, c=_c):
    return sp.sqrt(q) * _z1, sp.sqrt(q) * (c * _z1 + sp.sqrt(1 - c**2) * _z2)


def q_map_formula(phi, sw2=_sw2, sb2=_sb2, q=_q) -> sp.Expr:
    """[P16] eq. 3: q^(l+1) = sigma_w^2 int Dz phi(sqrt(q^l) z)^2 + sigma_b^2."""
    return sw2 * Dz(phi(sp.sqrt(q) * _z1) ** 2) + sb2


def c_map_formula(phi, sw2=_sw2, sb2=_sb2, q=_q, c=_c) -> sp.Expr:
    """[P16] eq. 5 at q^l = q: c^(l+1) = (sigma_w^2 int Dz_1 Dz_2 phi(u_1) phi(u_2) + sigma_b^2) / q^(l+1)."""
    u1, u2 = _u(q, c)
    return (sw2 * Dz(phi(u1) * phi(u2), _z1, _z2) + sb2) / q_map_formula(phi, sw2, sb2, q)


def chi_c_formula(phi, sw2=_sw2, q=_qs, c=_c_star) -> sp.Expr:
    """[S17] eq. 9: chi_c = sigma_w^2 int Dz_1 Dz_2 phi'(u_1) phi'(u_2) at (q*, c*); xi_c = -1/ln chi_c."""
    u1, u2 = _u(q, c)
    x = sp.Symbol("x")
    d = sp.Lambda(x, sp.diff(phi(x), x))
    return sw2 * Dz(d(u1) * d(u2), _z1, _z2)


def chi_q_formula(phi, sw2=_sw2, q=_qs) -> sp.Expr:
    """[S17] eq. 6: chi_q = chi_1 + sigma_w^2 int Dz phi''(sqrt(q*) z) phi(sqrt(q*) z); xi_q = -1/ln chi_q."""
    x = sp.Symbol("x")
    d1, d2 = sp.Lambda(x, sp.diff(phi(x), x)), sp.Lambda(x, sp.diff(phi(x), x, 2))
    u = sp.sqrt(q) * _z1
    return sw2 * Dz(d1(u) ** 2) + sw2 * Dz(d2(u) * phi(u))


def _maps_formulas(p: dict) -> dict:
    """tanh networks: the q- and c-maps iterated from the layer-1 kernel, c* their attracting fixed point (1 in the
    ordered phase) and xi_c (evaluated by Gaussian quadrature, theory.signal_propagation)."""

    def maps(sw2=_sw2, sb2=_sb2, xi=None, c_star=None):
        q_next = sp.Eq(_qf(_l + 1), q_map_formula(sp.tanh, sw2, sb2, _qf(_l)))
        c_next = sp.Eq(_cf(_l + 1), c_map_formula(sp.tanh, sw2, sb2, _qf(_l), _cf(_l)))
        fixed = sp.Eq(_c_star, c_map_formula(sp.tanh, sw2, sb2, _qs, _c_star) if c_star is None else c_star)
        chi = chi_c_formula(sp.tanh, sw2) if xi is None else xi
        return q_next, c_next, fixed, sp.Eq(1 / _xi_c, -sp.log(chi))

    return {
        "published": maps(),
        "sigma_b2 omitted from the maps (q*, c*, chi_1 and xi_c of sigma_b2 = 0)": maps(sb2=0),
        "sigma_w (standard deviation) in place of sigma_w2 (variance)": maps(sw2=sp.sqrt(_sw2)),
        "xi_q (the length map's depth scale) in place of xi_c": maps(xi=chi_q_formula(sp.tanh)),
        "c* = 1 (the ordered phase's fixed point) in the chaotic phase": maps(c_star=sp.Integer(1)),
    }


def _maps_predictions(p: dict) -> dict[str, Prediction]:
    pub = _map_prediction(p, lambda ph: ph["sigma_w2"], lambda ph: ph["sigma_b2"])
    published = Prediction(**pub)
    xi_q = {
        ph: th.depth_scales(sigma_w2=v["sigma_w2"], sigma_b2=v["sigma_b2"], activation="tanh")["xi_q"]
        for ph, v in p["phases"].items()
    }
    return {
        "published": published,
        "sigma_b2 omitted from the maps (q*, c*, chi_1 and xi_c of sigma_b2 = 0)": Prediction(
            **_map_prediction(p, lambda ph: ph["sigma_w2"], lambda ph: 0.0)
        ),
        "sigma_w (standard deviation) in place of sigma_w2 (variance)": Prediction(
            **_map_prediction(p, lambda ph: math.sqrt(ph["sigma_w2"]), lambda ph: ph["sigma_b2"])
        ),
        "xi_q (the length map's depth scale) in place of xi_c": published.replace(
            **{f"1/xi_c {phase}": 1 / xi_q[phase] for phase in p["phases"]}
        ),
        "c* = 1 (the ordered phase's fixed point) in the chaotic phase": published.replace(
            **{f"c* {phase}": 1.0 for phase in p["phases"] if pub[f"c* {phase}"] < 1}
        ),
    }


def _window_bias(p: dict, phase: str) -> float:
    """How far the window's slope of log|c^l - c*| along the exact map lies from the map's asymptotic rate
    log c_map'(c*): the c-map's curvature bends the slope while c^l is still away from c*. Computed from the maps
    alone (kernel_iterates; c_map at q*, one-sided difference h = 1e-6, error O(h)), never from the depth-scale
    formula (xi_c) that the check tests."""
    ph = p["phases"][phase]
    kw = dict(sigma_w2=ph["sigma_w2"], sigma_b2=ph["sigma_b2"], activation="tanh")
    lo, hi = ph["window"]
    k = th.kernel_iterates(p["q1"], p["q1"], ph["c1"] * p["q1"], hi, **kw)
    q_star = th.q_fixed_point(**kw)
    c_star = th.c_fixed_point(q_star=q_star, **kw)
    h = 1e-6
    rate = math.log((th.c_map(c_star, q_star=q_star, **kw) - th.c_map(c_star - h, q_star=q_star, **kw)) / h)
    c = (k[:, 2] / np.sqrt(k[:, 0] * k[:, 1]))[lo - 1 : hi]
    slope, _ = stats.log_slope(np.arange(lo, hi + 1, dtype=float), np.vstack([c, c]), c_star)  # noise-free: SE 0
    return abs(slope - rate)


def _simulate_maps(ctx: ClaimContext) -> dict:
    p = ctx.params
    data = {}
    for (phase, ph), s in zip(p["phases"].items(), np.random.SeedSequence(ctx.seed).spawn(len(p["phases"]))):
        sw, sb = ph["sigma_w2"], ph["sigma_b2"]
        nets = _networks(p, s, "tanh", sw, sb, _inputs(p["q1"], ph["c1"], sw, sb))
        lo, hi = ph["window"]
        data[phase] = dict(
            q=[_mean_se(r.m2.mean(2)) for r in nets],  # q^l: both inputs have q^1 = q1
            c=[_mean_se(r.corr) for r in nets],
            window=[r.corr[:, lo - 1 : hi] for r in nets],
            window_bias=_window_bias(p, phase),
        )
    return data


@claim(
    "sigprop.maps",
    area=AREA,
    title="Deep tanh networks follow the q- and c-maps (Poole et al.), reach the chaotic fixed point c* < 1 and "
    "approach c* at the depth scale xi_c (Schoenholz et al.) in the ordered and chaotic phases",
    reference=POOLE,
    seed=20161201,
    quick=dict(
        phases={
            "ordered": dict(sigma_w2=1.5, sigma_b2=0.05, c1=0.2, window=[40, 70], fixed_point_layer=None),
            "chaotic": dict(sigma_w2=4.0, sigma_b2=0.05, c1=-0.3, window=[3, 18], fixed_point_layer=70),
        },
        widths=[32, 64, 128, 256, 512],
        depth=70,
        n_nets=1000,
        q1=1.0,
        layers=[2, 4, 8, 16, 32, 70],
    ),
    full=dict(
        phases={
            "ordered": dict(sigma_w2=1.5, sigma_b2=0.05, c1=0.2, window=[60, 120], fixed_point_layer=None),
            "chaotic": dict(sigma_w2=4.0, sigma_b2=0.05, c1=-0.3, window=[3, 22], fixed_point_layer=120),
            "chaotic, near EOC": dict(sigma_w2=2.5, sigma_b2=0.05, c1=0.2, window=[20, 50], fixed_point_layer=120),
        },
        widths=[32, 64, 128, 256, 512, 1024],
        depth=120,
        n_nets=2000,
        q1=1.0,
        layers=[2, 4, 8, 16, 32, 64, 120],
    ),
    simulate=_simulate_maps,
    predictions=_maps_predictions,
    formulas=_maps_formulas,
    resolution=0.10,
)
def maps(ctx: ClaimContext, data: dict, prediction: Prediction):
    p = ctx.params
    ns = np.array(p["widths"], float)
    n_checks = sum(2 * len(p["layers"]) + 1 + (ph["fixed_point_layer"] is not None) for ph in p["phases"].values())
    alpha = stats.ALPHA / n_checks
    checks, rows = [], []
    for phase, ph in p["phases"].items():
        d = data[phase]
        for name in ("q", "c"):
            pred = np.asarray(prediction[f"{name} {phase}"], float)
            checks += [
                stats.limit_matches(
                    f"{phase}: {name}^{l} -> the {name}-map iterate as N -> inf",
                    1 / ns,
                    [m[l - 1] for m, _ in d[name]],
                    [e[l - 1] for _, e in d[name]],
                    float(pred[l - 1]),
                    alpha=alpha,
                    seed=ctx.seed,
                )
                for l in p["layers"]
            ]
            rows += [
                dict(panel=f"{name}: {phase}", series="map", x=l, theory=v, simulated=np.nan, se=np.nan)
                for l, v in enumerate(pred, 1)
            ]
            m, e = d[name][-1]
            rows += [
                dict(panel=f"{name}: {phase}", series=f"N={int(ns[-1])}", x=l, theory=np.nan, simulated=v, se=s)
                for l, (v, s) in enumerate(zip(m, e), 1)
            ]
        c_star = float(prediction[f"c* {phase}"])
        if ph["fixed_point_layer"] is not None:
            l = ph["fixed_point_layer"]
            checks.append(
                stats.limit_matches(
                    f"{phase}: c^{l} -> c* as N -> inf",
                    1 / ns,
                    [m[l - 1] for m, _ in d["c"]],
                    [e[l - 1] for _, e in d["c"]],
                    c_star,
                    alpha=alpha,
                    seed=ctx.seed,
                )
            )
        lo, hi = ph["window"]
        ell = np.arange(lo, hi + 1, dtype=float)
        slopes = np.array([stats.log_slope(ell, X, c_star) for X in d["window"]])
        checks.append(
            stats.limit_within(
                f"{phase}: d log|c^l - c*| / dl over layers {lo}..{hi} -> -1/xi_c as N -> inf",
                1 / ns,
                slopes[:, 0],
                slopes[:, 1],
                -float(prediction[f"1/xi_c {phase}"]),
                alpha=alpha,
                bias=d["window_bias"],
                bias_reason="the exact map's own window slope minus -1/xi_c (curvature of the c-map near c*)",
                seed=ctx.seed,
            )
        )
        rows += [
            dict(panel="depth scale", series=phase, x=n, theory=np.nan, simulated=s, se=e)
            for n, (s, e) in zip(ns, slopes)
        ]
        rows += [
            dict(
                panel="depth scale",
                series=f"{phase}: -1/xi_c",
                x=n,
                theory=-float(prediction[f"1/xi_c {phase}"]),
                simulated=np.nan,
                se=np.nan,
            )
            for n in ns
        ]
    panels = [
        Panel(f"{name}: {phase}", "layer l", f"{name}^l", title=f"tanh, {phase}: map (line) vs networks (mean +- SE)")
        for phase in p["phases"]
        for name in ("q", "c")
    ]
    panels.append(
        Panel("depth scale", "width N", "d log|c^l - c*| / dl", "log", "linear", "window slope vs -1/xi_c (lines)")
    )
    return ctx.evidence(checks, rows, panels)


# ---------------------------------------------------------------------------------------------------
# SELU: relaxation to the q-map's fixed point, also under a mis-specified weight variance
#
# (lambda_01, alpha_01) make q* = 1 at sigma_w2 = 1 by construction (tests/test_theory_signal_propagation.py
# solves the two defining equations independently); what can fail here is the relaxation from q^1 = 6 and 0.1
# and the fixed point q*(sigma_w2) != 1 of a mis-specified init (0.95 and 1.1: the edges of the tau range of
# Klambauer et al.'s Thm 1). Their (mu, nu) map propagates the VARIANCE nu for weights with row sums omega = 0;
# Gaussian weights have row sums of order 1, so the preactivation second moment follows the q-map
# q' = sigma_w2 E selu(z)^2 (mean included): the variance map is one of the controls.


def _selu_iterates(p: dict, q_next) -> np.ndarray:
    """q^1..q^depth per (sigma_w2, input): q^{l+1} = q_next(q^l, sigma_w2); shape (settings, inputs, depth)."""
    out = np.empty((len(p["sigma_w2"]), len(p["q1"]), p["depth"]))
    for i, sw in enumerate(p["sigma_w2"]):
        for j, q in enumerate(p["q1"]):
            out[i, j, 0] = q
            for l in range(1, p["depth"]):
                out[i, j, l] = q_next(out[i, j, l - 1], sw)
    return out


_lam, _alpha = sp.symbols("lambda alpha", positive=True)


def selu_formula(x):
    """selu(x) = lambda x (x > 0), lambda alpha (e^x - 1) (x <= 0) ([K17])."""
    return sp.Piecewise((_lam * x, x > 0), (_lam * _alpha * (sp.exp(x) - 1), True))


def _selu_formulas(p: dict) -> dict:
    """The q-map of Gaussian weights (bias 0) iterated from q^1 (a recursion; q-map by quadrature)."""
    q = _qf(_l)
    chi_par, q_star = sp.Symbol("chi_parallel"), _qs
    return {
        "published": sp.Eq(_qf(_l + 1), q_map_formula(selu_formula, _sw2, 0, q)),
        "the self-normalising design sigma_w2 = 1 (q* = 1) assumed for every initialisation": sp.Eq(
            _qf(_l + 1), q_map_formula(selu_formula, 1, 0, q)
        ),
        "Klambauer's variance map (weight row sums 0) for Gaussian weights: q' = sigma_w2 Var selu(z)": sp.Eq(
            _qf(_l + 1), q_map_formula(selu_formula, _sw2, 0, q) - _sw2 * Dz(selu_formula(sp.sqrt(q) * _z1)) ** 2
        ),
        "the linearised approach q* + chi_par^(l-1) (q^1 - q*) used far from q*": (
            sp.Eq(q, q_star + chi_par ** (_l - 1) * (_qf(1) - q_star)),
            sp.Eq(q_star, q_map_formula(selu_formula, _sw2, 0, q_star)),
        ),
    }


def _selu_predictions(p: dict) -> dict[str, Prediction]:
    act = th.selu()
    q_map = lambda q, sw: th.q_map(q, sigma_w2=sw, sigma_b2=0.0, activation=act)
    variance_map = lambda q, sw: q_map(q, sw) - sw * gaussian_expectation(act.phi, q, act.kinks) ** 2
    ds = {sw: th.depth_scales(sigma_w2=sw, sigma_b2=0.0, activation=act) for sw in p["sigma_w2"]}
    linear = np.array(
        [
            [ds[sw]["q_star"] + ds[sw]["chi_par"] ** np.arange(p["depth"]) * (q - ds[sw]["q_star"]) for q in p["q1"]]
            for sw in p["sigma_w2"]
        ]
    )
    return {
        "published": Prediction(q=_selu_iterates(p, q_map)),
        "the self-normalising design sigma_w2 = 1 (q* = 1) assumed for every initialisation": Prediction(
            q=_selu_iterates(p, lambda q, sw: q_map(q, 1.0))
        ),
        "Klambauer's variance map (weight row sums 0) for Gaussian weights: q' = sigma_w2 Var selu(z)": Prediction(
            q=_selu_iterates(p, variance_map)
        ),
        "the linearised approach q* + chi_par^(l-1) (q^1 - q*) used far from q*": Prediction(q=linear),
    }


def _simulate_selu(ctx: ClaimContext) -> dict:
    p = ctx.params
    n0 = 8
    out = []
    for sw, s in zip(p["sigma_w2"], np.random.SeedSequence(ctx.seed).spawn(len(p["sigma_w2"]))):
        x = np.sqrt(np.array(p["q1"]) * n0 / sw)[:, None] * np.eye(n0)[: len(p["q1"])]  # orthogonal, q^1 = q1
        nets = _networks(p, s, "selu", sw, 0.0, x)
        out.append([[_mean_se(r.m2[:, :, j]) for r in nets] for j in range(len(p["q1"]))])
    return {"q": out}  # [setting][input][width] -> (mean, SE) over layers


@claim(
    "sigprop.selu",
    area=AREA,
    title="SELU networks (sigma_b2 = 0) relax along the q-map to its fixed point: q* = 1 at sigma_w2 = 1 and "
    "q*(sigma_w2) != 1 under a mis-specified weight variance, from q^1 = 3 and 0.3",
    reference="Klambauer et al. 2017 (arXiv:1706.02515) sec. 3 and Thm 1 (attracting fixed point); Poole et al. 2016 "
    "(arXiv:1606.05340) eq. 3 (q-map); Schoenholz et al. 2017 (arXiv:1611.01232) eq. 6 (chi_par)",
    seed=20170608,
    quick=dict(
        sigma_w2=[1.0, 0.95, 1.1],
        q1=[6.0, 0.1],
        widths=[32, 64, 128, 256, 512],
        depth=16,
        n_nets=400,
        layers=[2, 3, 4, 6, 8, 12, 16],
    ),
    full=dict(
        sigma_w2=[1.0, 0.95, 1.1],
        q1=[6.0, 0.1],
        widths=[32, 64, 128, 256, 512, 1024],
        depth=30,
        n_nets=1000,
        layers=[2, 3, 4, 6, 8, 12, 16, 24, 30],
    ),
    simulate=_simulate_selu,
    predictions=_selu_predictions,
    formulas=_selu_formulas,
    resolution=0.10,
)
def selu_relaxation(ctx: ClaimContext, data: dict, prediction: Prediction):
    p = ctx.params
    ns = np.array(p["widths"], float)
    q = np.asarray(prediction["q"], float)
    alpha = stats.ALPHA / (len(p["sigma_w2"]) * len(p["q1"]) * len(p["layers"]))
    checks, rows = [], []
    for i, sw in enumerate(p["sigma_w2"]):
        for j, q1 in enumerate(p["q1"]):
            sims = data["q"][i][j]
            checks += [
                stats.limit_matches(
                    f"sigma_w2={sw}, q^1={q1}: q^{l} -> the q-map iterate as N -> inf",
                    1 / ns,
                    [m[l - 1] for m, _ in sims],
                    [e[l - 1] for _, e in sims],
                    float(q[i, j, l - 1]),
                    alpha=alpha,
                    seed=ctx.seed,
                )
                for l in p["layers"]
            ]
            series = f"sigma_w2={sw}, q^1={q1}"
            m, e = sims[-1]
            rows += [
                dict(panel="q", series=series, x=l, theory=t, simulated=v, se=s)
                for l, (t, v, s) in enumerate(zip(q[i, j], m, e), 1)
            ]
    panels = (
        Panel("q", "layer l", "q^l = mean h^2", "linear", "log", f"SELU: q-map (lines) vs N={int(ns[-1])} networks"),
    )
    return ctx.evidence(checks, rows, panels)


# ---------------------------------------------------------------------------------------------------
# Backpropagation: E ||df/dh^l||^2 ~ chi_1^(L+1-l) (tanh), and the ReLU edge of chaos (1 - c^l) l^2 -> 9 pi^2 / 2


def _q_star(ph: dict) -> float:
    return th.q_fixed_point(sigma_w2=ph["sigma_w2"], sigma_b2=ph["sigma_b2"], activation="tanh")


_K_relu, _a_log = sp.Symbol("K"), sp.Symbol("a")


def _backward_formulas(p: dict) -> dict:
    """tanh: E ||df/dh^l||^2 = chi_1^(L+1-l) at q^1 = q* ([S17]; theory.signal_propagation.gradient_second_moments),
    chi_1 = sigma_w^2 int Dz phi'(sqrt(q*) z)^2; ReLU on the edge of chaos: c^(l+1) = (sqrt(1 - c^2) +
    (pi - arccos c) c)/pi, with (1 - c^l) l^2 = K (1 - a ln(l)/l + O(1/l)), K = 9 pi^2/2, a = 3."""
    x = sp.Symbol("x")
    chi1 = _sw2 * Dz(sp.Lambda(x, sp.diff(sp.tanh(x), x))(sp.sqrt(_qs) * _z1) ** 2)
    grad = sp.Function("E||df/dh||^2")(_l)
    c = _cf(_l)
    relu_map = sp.Eq(_cf(_l + 1), (sp.sqrt(1 - c**2) + (sp.pi - sp.acos(c)) * c) / sp.pi)

    def law(chi, exponent, K, a):
        return (
            sp.Eq(grad, chi**exponent),
            relu_map,
            sp.Eq((1 - c) * _l**2, _K_relu * (1 - _a_log * sp.log(_l) / _l)),
            sp.Eq(_K_relu, K),
            sp.Eq(_a_log, a),
        )

    K, a = 9 * sp.pi**2 / 2, 3
    return {
        "published": law(chi1, _L + 1 - _l, K, a),
        "chi_c (the c-map's slope at c*) in place of chi_1": law(chi_c_formula(sp.tanh), _L + 1 - _l, K, a),
        "exponent L - l (the readout's own factor chi_1 not counted)": law(chi1, _L - _l, K, a),
        "(1 - c^l) l^2 -> 9 pi^2 / 4": law(chi1, _L + 1 - _l, 9 * sp.pi**2 / 4, a),
        "(1 - c^l) l^2 -> 2 pi^2": law(chi1, _L + 1 - _l, 2 * sp.pi**2, a),
        "(1 - c^l) l^2 = K + O(1/l) (no ln(l)/l term)": law(chi1, _L + 1 - _l, K, 0),
    }


def _backward_predictions(p: dict) -> dict[str, Prediction]:
    L, c0 = p["depth"], p["relu_c1"]
    pub, chi_c_pred, readout = {}, {}, {}
    for phase, ph in p["phases"].items():
        kw = dict(sigma_w2=ph["sigma_w2"], sigma_b2=ph["sigma_b2"], activation="tanh")
        q = _q_star(ph)
        g2 = th.gradient_second_moments(q, L, **kw)
        chi1 = th.chi_1(**kw)
        pub |= {f"grad2 {phase}": g2, f"slope {phase}": exponent(-math.log(chi1))}
        # chi_c = sigma_w2 E phi'(u1) phi'(u2) at (q*, c*): chi_1 where c* = 1, the c-map's slope where c* < 1 (the
        # phases flagged chi_c, chaotic; depth_scales is not called at the edge of chaos, where c* = 1 is marginal)
        chi_c = math.exp(-1 / th.depth_scales(**kw)["xi_c"]) if ph["chi_c"] else chi1
        chi_c_pred |= {
            f"grad2 {phase}": chi_c ** np.arange(L, 0, -1, dtype=float),
            f"slope {phase}": exponent(-math.log(chi_c)),
        }
        readout[f"grad2 {phase}"] = g2 / chi1
    relu = dict(
        relu_c=th.relu_critical_correlation(c0, p["relu_depth"]),
        K=th.RELU_CRITICAL_CONSTANT,
        log_coef=th.RELU_CRITICAL_LOG_COEFFICIENT,
    )
    published = Prediction(**pub, **relu)
    return {
        "published": published,
        "chi_c (the c-map's slope at c*) in place of chi_1": published.replace(**chi_c_pred),
        "exponent L - l (the readout's own factor chi_1 not counted)": published.replace(**readout),
        "(1 - c^l) l^2 -> 9 pi^2 / 4": published.replace(K=9 * math.pi**2 / 4),
        "(1 - c^l) l^2 -> 2 pi^2": published.replace(K=2 * math.pi**2),
        "(1 - c^l) l^2 = K + O(1/l) (no ln(l)/l term)": published.replace(log_coef=0.0),
    }


def _simulate_backward(ctx: ClaimContext) -> dict:
    p = ctx.params
    seeds = np.random.SeedSequence(ctx.seed).spawn(len(p["phases"]) + 1)
    L, n0 = p["depth"], 8
    ell = np.arange(1, L + 1, dtype=float)
    data = {}
    for (phase, ph), s in zip(p["phases"].items(), seeds):
        sw, sb = ph["sigma_w2"], ph["sigma_b2"]
        x = math.sqrt((_q_star(ph) - sb) * n0 / sw) * np.eye(n0)[0]  # set-up: layer 1 at the length fixed point
        runs = [
            sim.backward_gram(x, [n] * L, activation="tanh", C_W=sw, C_b=sb, n_nets=p["n_nets"], seed=si)["grad2"]
            for n, si in zip(p["widths"], s.spawn(len(p["widths"])))
        ]
        data[phase] = dict(grad2=[_mean_se(r) for r in runs], slope=np.array([stats.log_slope(ell, r) for r in runs]))
    nets = _networks(
        dict(depth=p["relu_depth"], n_nets=p["n_nets"], widths=p["widths"]),
        seeds[-1],
        "relu",
        2.0,
        0.0,
        _inputs(1.0, p["relu_c1"], 2.0, 0.0),
    )
    data["relu"] = [_mean_se(r.corr) for r in nets]
    # the infinite-width recursion deep beyond the networks' reach (its agreement with them is checked above)
    ls = 2 ** np.arange(*p["relu_log2_layers"])
    data["relu_map"] = dict(l=ls.astype(float), c=th.relu_critical_correlation(p["relu_c1"], int(ls.max()))[ls - 1])
    return data


@claim(
    "sigprop.backward",
    area=AREA,
    title="Backpropagated gradients of wide tanh networks scale as chi_1^(L+1-l): vanishing (ordered), flat (edge of "
    "chaos), exploding (chaotic); on the ReLU edge of chaos (2, 0), (1 - c^l) l^2 -> 9 pi^2 / 2 with a ln(l)/l "
    "approach",
    reference="Schoenholz et al. 2017 (arXiv:1611.01232), mean-field back-propagation: q~^l = q~^{l+1} chi_1; "
    "Hayou, Doucet & Rousseau 2019 (arXiv:1902.06853) ReLU edge of chaos; Poole et al. 2016 (arXiv:1606.05340) eq. 7",
    seed=20170301,
    quick=dict(
        phases={
            "ordered": dict(sigma_w2=1.5, sigma_b2=0.05, chi_c=False),
            "critical": dict(sigma_w2=1.7609546396065694, sigma_b2=0.05, chi_c=False),
            "chaotic": dict(sigma_w2=2.5, sigma_b2=0.05, chi_c=True),
        },
        widths=[16, 32, 64, 128, 256],
        depth=16,
        layers=[1, 8, 16],
        n_nets=600,
        relu_c1=0.0,
        relu_depth=16,
        relu_layers=[2, 4, 8, 16],
        relu_log2_layers=[6, 14],
    ),
    full=dict(
        phases={
            "ordered": dict(sigma_w2=1.5, sigma_b2=0.05, chi_c=False),
            "critical": dict(sigma_w2=1.7609546396065694, sigma_b2=0.05, chi_c=False),
            "chaotic": dict(sigma_w2=2.5, sigma_b2=0.05, chi_c=True),
            "chaotic, far": dict(sigma_w2=4.0, sigma_b2=0.05, chi_c=True),
        },
        widths=[32, 64, 128, 256, 512, 1024],
        depth=40,
        layers=[1, 10, 20, 30, 40],
        n_nets=2000,
        relu_c1=0.0,
        relu_depth=32,
        relu_layers=[2, 4, 8, 16, 32],
        relu_log2_layers=[6, 14],
    ),
    simulate=_simulate_backward,
    predictions=_backward_predictions,
    formulas=_backward_formulas,
    resolution=0.05,
)
def backward(ctx: ClaimContext, data: dict, prediction: Prediction):
    """Readout f = v . phi(h^L), v_i ~ N(0, sigma_w2/N); backward passes sampled in law
    (dltheory.simulators.abc_mlp.backward_gram), inputs at q*. Per phase: E ||df/dh^l||^2 at a few layers and the slope
    of log E ||df/dh^l||^2 against l over every layer (stats.log_slope: delta-method SE over networks, layers correlated
    within a network) -> their N -> inf limits (a + b/N, Monte Carlo SEs). ReLU at (2, 0), inputs with c^1 = 0: network
    correlations -> the arc-cosine iterates (relu_critical_correlation) as N -> inf; the law is in l, beyond the
    networks' depth (at l = 16, (1 - c^l) l^2 = 20, under half of K: the ln(l)/l term), so it is checked on the verified
    recursion at l = 64..8192 (x = 1/l halving): (1 - c^l) l^2 (1 + 3 ln l / l) -> K by Richardson with the O(1/l^2)
    bound, and its distance to K ~ (1/l)^1. The chi_c control changes the chaotic phase (slope -0.125 -> +0.085:
    vanishing instead of exploding), the readout control every level by 1/chi_1 (6 % ordered, 13 % chaotic). Resolution:
    the deterministic law resolves K to ~1e-5; declared 0.05 (the Monte Carlo levels alone resolve ~3-5 %)."""
    p = ctx.params
    ns = np.array(p["widths"], float)
    n_mc = len(p["phases"]) * (len(p["layers"]) + 1) + len(p["relu_layers"])
    alpha = stats.ALPHA / n_mc
    checks, rows = [], []
    for phase in p["phases"]:
        d = data[phase]
        g2 = np.asarray(prediction[f"grad2 {phase}"], float)
        checks += [
            stats.limit_matches(
                f"{phase}: E ||df/dh^{l}||^2 -> prod chi as N -> inf ({MC_LIMIT})",
                1 / ns,
                [m[l - 1] for m, _ in d["grad2"]],
                [e[l - 1] for _, e in d["grad2"]],
                float(g2[l - 1]),
                alpha=alpha,
                seed=ctx.seed,
            )
            for l in p["layers"]
        ]
        checks.append(
            stats.limit_matches(
                f"{phase}: d log E ||df/dh^l||^2 / dl -> -log chi_1 as N -> inf",
                1 / ns,
                d["slope"][:, 0],
                d["slope"][:, 1],
                float(prediction[f"slope {phase}"]),
                alpha=alpha,
                seed=ctx.seed,
            )
        )
        m, e = d["grad2"][-1]
        rows += [
            dict(panel="gradients", series=f"{phase}: N={int(ns[-1])}", x=l, theory=np.nan, simulated=v, se=s)
            for l, (v, s) in enumerate(zip(m, e), 1)
        ]
        rows += [
            dict(panel="gradients", series=f"{phase}: theory", x=l, theory=v, simulated=np.nan, se=np.nan)
            for l, v in enumerate(g2, 1)
        ]
    c_map = np.asarray(prediction["relu_c"], float)
    checks += [
        stats.limit_matches(
            f"ReLU (2, 0): c^{l} -> the arc-cosine iterate as N -> inf ({MC_LIMIT})",
            1 / ns,
            [m[l - 1] for m, _ in data["relu"]],
            [e[l - 1] for _, e in data["relu"]],
            float(c_map[l - 1]),
            alpha=alpha,
            seed=ctx.seed,
        )
        for l in p["relu_layers"]
    ]
    ls, c = data["relu_map"]["l"], data["relu_map"]["c"]
    K = float(prediction["K"])
    v = (1 - c) * ls**2 * (1 + prediction["log_coef"] * np.log(ls) / ls)
    # 1 - c^l carries ~ l eps of accumulated rounding (the map's slope in u is ~1), so v ~ l^2 (1 - c^l) carries
    # ~ l^3 eps: 1.2e-4 at l = 8192 (and 1.2e-2 at 32768, where it would swamp the check: l stops at 2^13)
    roundoff = 2 * ls.max() ** 3 * np.finfo(float).eps
    checks += [
        stats.richardson_limit_matches(
            "ReLU map: (1 - c^l) l^2 (1 + 3 ln l / l) -> 9 pi^2 / 2 as l -> inf",
            1 / ls,
            v,
            K,
            atol=roundoff,
            atol_reason="2 l^3 eps: float64 rounding of 1 - c^l accumulated over l steps, times l^2",
            seed=ctx.seed,
        ),
        stats.local_slope_matches(
            "ReLU map: |(1 - c^l) l^2 (1 + 3 ln l / l) - K| ~ 1/l",
            1 / ls,
            np.abs(v - K),
            1.0,
            rtol=roundoff / np.abs(v - K).min(),
            seed=ctx.seed,
        ),
    ]
    rows += [
        dict(panel="relu law", series="(1 - c^l) l^2", x=l, theory=K, simulated=w, se=np.nan)
        for l, w in zip(ls, (1 - c) * ls**2)
    ]
    m, e = data["relu"][-1]
    rows += [
        dict(panel="relu c", series=f"N={int(ns[-1])}", x=l, theory=t, simulated=a, se=s)
        for l, (t, a, s) in enumerate(zip(c_map, m, e), 1)
    ]
    panels = (
        Panel("gradients", "layer l", "E ||df/dh^l||^2", "linear", "log", "tanh: theory (lines) vs networks"),
        Panel("relu c", "layer l", "c^l", title="ReLU (2, 0): arc-cosine iterates vs networks"),
        Panel("relu law", "layer l", "(1 - c^l) l^2", "log", "linear", "ReLU map: approach to 9 pi^2 / 2 (line)"),
    )
    return ctx.evidence(checks, rows, panels)
