"""In-context learning by gradient descent in a linear self-attention layer (von Oswald et al. 2023; Ahn et al. 2023).

Two claims. ``lsa_gd_identity``: the LSA weights of von Oswald et al.'s Prop. 1 turn the query token into minus one GD
step's prediction, to round-off (the GD step is computed independently, by JAX autodiff of the in-context loss).
``trained_optimum``: LSA layers trained on random noiseless linear tasks (x, w ~ N(0, I_d)) converge to that
construction with the risk-optimal step eta* = N/(N + d + 1) and reach the risk d(d + 1)/(N + d + 1) (derived in
dltheory.theory.in_context.lsa_gd_risk), over an (N, d) grid. The trained layer is the empirical risk minimiser of M
tasks per seed (dltheory.simulators.in_context.train_lsa), so its step carries an O(p/M) bias (p = (d + 1)^2
identifiable weights: V's y-row times Q's x-columns): on pilot seeds 1156 and 1924 (M = 256 and 1024, 48 seeds each,
(N, d) = (5, 2) and (20, 3)) the relative bias was (0.3 to 2.0) p/M, +- 0.8 p/M; the bound used is 4 p/M. The same
relative bound is used for the excess risk of the minimiser over the population optimum (second order in the weight
error, of the same O(p/M) order). Off-diagonal entries of the effective preconditioner Gamma and the couplings that a GD
step lacks (v_x (x) A, v_y b) have mean exactly 0 at any M: the task distribution is rotation invariant (so E Gamma is a
multiple of I) and invariant under w -> -w, which maps the minimiser to itself with (v_x, b) -> (-v_x, -b).
"""

from __future__ import annotations

import numpy as np
import sympy as sp

from dltheory.simulators import in_context as sim
from dltheory.theory import in_context as th
from dltheory.verify import stats
from dltheory.verify.evidence import Check, Panel
from dltheory.verify.prediction import Prediction, fixed
from dltheory.verify.registry import ClaimContext, claim

AREA = "in-context learning"
VON_OSWALD = "von Oswald et al. 2023 (arXiv:2212.07677), Prop. 1"
AHN = "Ahn et al. 2023 (arXiv:2306.00297), Thm. 1 at Sigma = I"
U = np.finfo(float).eps / 2


def _gamma(k: int) -> float:
    """Higham's gamma_k = k u / (1 - k u): the relative error bound of a k-term floating-point sum of products."""
    return k * U / (1 - k * U)


# ---------------------------------------------------------------------------------------------------
# 1. The construction equals one GD step (to round-off)


def _identity_predictions(p: dict) -> dict[str, Prediction]:
    published = Prediction(weights=th.lsa_gd_weights, query_in_sum=fixed(False))

    def value_sign(d, eta, N, w0):
        W = th.lsa_gd_weights(d, eta, N, w0)
        W.W_V[d, d] = 1.0
        return W

    return {
        "published": published,
        "P = eta I: the 1/N of the mean in-context loss dropped": published.replace(
            weights=lambda d, eta, N, w0: th.lsa_gd_weights(d, eta, 1, w0)
        ),
        "W_V = [[0, 0], [w0^T, +1]]: the label slot's sign in the value matrix flipped": published.replace(
            weights=value_sign
        ),
        "the query token attends to itself (N + 1 tokens, as the authors' code; harmless only at w0 = 0)": (
            published.replace(query_in_sum=fixed(True))
        ),
    }


def _simulate_identity(ctx: ClaimContext) -> list[dict]:
    out = []
    for case, s in zip(ctx.params["cases"], np.random.SeedSequence(ctx.seed).spawn(len(ctx.params["cases"]))):
        g = np.random.default_rng(s)
        N, d, eta = case["N"], case["d"], case["eta"]
        tasks = sim.sample_tasks(ctx.params["n_tasks"], N, d, seed=g)
        w0 = g.standard_normal(d) if case["w0"] else np.zeros(d)
        out.append(dict(**case, tasks=tasks, w0_vec=w0, gd=sim.gd_step(tasks.x, tasks.y, tasks.x_q, eta, w0)))
    return out


def _roundoff(c: dict) -> np.ndarray:
    """Per task: |LSA - GD| <= 2 gamma_K [(eta/N) sum_i (|w0|.|x_i| + |y_i|)(|x_i|.|x_q|) + |w0|.|x_q|], K = N + 3(d+1)
    + 6: both sides evaluate the same trilinear sum of residual, context and query in different orders (matrix
    products, autodiff), each within gamma_K of the sum of the terms' absolute values (Higham 2002, sec. 3.1)."""
    t, w0 = c["tasks"], np.abs(c["w0_vec"])
    x, xq, N, d = np.abs(t.x), np.abs(t.x_q), c["N"], c["d"]
    terms = np.einsum("mi,mi->m", x @ w0 + np.abs(t.y), np.einsum("mik,mk->mi", x, xq))
    return 2 * _gamma(N + 3 * (d + 1) + 6) * (c["eta"] / N * terms + xq @ w0)


_N, _d = sp.symbols("N d", positive=True, integer=True)
_eta = sp.Symbol("eta", positive=True)
_X, _y = sp.MatrixSymbol("X", _N, _d), sp.MatrixSymbol("y", _N, 1)  # context inputs (rows x_i^T) and labels
_w0, _x_q = sp.MatrixSymbol("w_0", _d, 1), sp.MatrixSymbol("x_q", _d, 1)
_y_hat = sp.MatrixSymbol("yhat_LSA", 1, 1)  # minus the query token's label slot after the layer


def identity_formulas(p: dict | None = None) -> dict:
    """The LSA layer's prediction under each prediction's weights, derived from lsa_layer with lsa_gd_weights'
    matrices (the y-slot of P W_V sum_i e_i (W_K e_i)^T W_Q e_q, query (x_q, -w0^T x_q)); the published one is one GD
    step on L(w) = 1/(2N) ||X w - y||^2 from w0 ([vO23] Prop. 1)."""
    step = _w0 + _eta / _N * _X.T * (_y - _X * _w0)
    own = 2 * _eta / _N * (_w0.T * _x_q) * (_x_q.T * _x_q)  # the query token's own term (its label slot -w0^T x_q)
    return {
        "published": sp.Eq(_y_hat, _x_q.T * step),
        "P = eta I: the 1/N of the mean in-context loss dropped": sp.Eq(
            _y_hat, _x_q.T * (_w0 + _eta * _X.T * (_y - _X * _w0))
        ),
        "W_V = [[0, 0], [w0^T, +1]]: the label slot's sign in the value matrix flipped": sp.Eq(
            _y_hat, _x_q.T * (_w0 - _eta / _N * _X.T * (_y + _X * _w0))
        ),
        "the query token attends to itself (N + 1 tokens, as the authors' code; harmless only at w0 = 0)": sp.Eq(
            _y_hat, _x_q.T * step - own
        ),
    }


@claim(
    "in_context.lsa_gd_identity",
    area=AREA,
    title="A linear self-attention layer with von Oswald et al.'s weights outputs exactly one GD step on the in-context "
    "least-squares loss (from w0 = 0 and from random w0)",
    reference=VON_OSWALD,
    seed=2212_07677,
    quick=dict(
        n_tasks=64,
        cases=[
            dict(N=10, d=3, eta=0.7, w0=False),
            dict(N=10, d=3, eta=0.7, w0=True),
            dict(N=40, d=5, eta=1.3, w0=True),
            dict(N=3, d=8, eta=0.2, w0=True),
        ],
    ),
    full=dict(
        n_tasks=512,
        cases=[
            dict(N=10, d=3, eta=0.7, w0=False),
            dict(N=10, d=3, eta=0.7, w0=True),
            dict(N=40, d=5, eta=1.3, w0=True),
            dict(N=3, d=8, eta=0.2, w0=True),
            dict(N=200, d=20, eta=0.05, w0=True),
        ],
    ),
    simulate=_simulate_identity,
    predictions=_identity_predictions,
    formulas=identity_formulas,
    resolution=1e-10,
)
def lsa_gd_identity(ctx: ClaimContext, data: list[dict], prediction: Prediction):
    """Query token (x_q, -w0 . x_q) through the LSA layer (dltheory.simulators.in_context.lsa_layer) with the
    predicted weights; minus its y-slot must equal the autodiff GD prediction within the derived round-off bound."""
    checks, rows = [], []
    for c in data:
        t, d, N = c["tasks"], c["d"], c["N"]
        W_K, W_Q, W_V, P = prediction["weights"](d, c["eta"], N, c["w0_vec"])
        context = np.concatenate([t.x, t.y[..., None]], axis=-1)
        query = np.concatenate([t.x_q, -(t.x_q @ c["w0_vec"])[:, None]], axis=-1)
        lsa = -sim.lsa_layer(context, query, W_K, W_Q, W_V, P, include_query=bool(prediction["query_in_sum"]))[:, d]
        label = f"N={N}, d={d}, eta={c['eta']}, w0 {'random' if c['w0'] else '= 0'}"
        checks.append(
            stats.deterministic(
                f"{label}: LSA output = GD step",
                lsa,
                c["gd"],
                atol=_roundoff(c),
                reason="2 gamma_K x sum of |terms| (Higham), K = N + 3(d+1) + 6, per task",
                seed=ctx.seed,
            )
        )
        rows += [
            dict(panel="identity", series=label, x=g, theory=np.nan, simulated=v, se=np.nan)
            for g, v in zip(c["gd"][:16], lsa[:16])
        ]
    lo = min(float(np.min(c["gd"])) for c in data)
    hi = max(float(np.max(c["gd"])) for c in data)
    rows += [dict(panel="identity", series="y = x", x=v, theory=v, simulated=np.nan, se=np.nan) for v in (lo, hi)]
    panels = (Panel("identity", "one GD step's prediction (autodiff)", "LSA output (construction)", title="Prop. 1"),)
    return ctx.evidence(checks, rows, panels)


# ---------------------------------------------------------------------------------------------------
# 2. Trained layers reach the optimal step and risk


BIAS_PER_PARAM = 4.0  # relative O(p/M) bias of the minimiser's step (pilot: 0.3 to 2.0 p/M, +- 0.8; module docstring)


def _optimum_predictions(p: dict) -> dict[str, Prediction]:
    structure = fixed(0.0)  # Gamma's off-diagonal and the non-GD couplings vanish (exact symmetry, every prediction)
    return {
        "published": Prediction(step=th.lsa_optimal_step, risk=th.lsa_optimal_risk, structure=structure),
        "E S^2 = (N + d)/N I (the Wishart fourth moment's +1 dropped): step N/(N+d), risk d^2/(N+d)": Prediction(
            step=lambda N, d: N / (N + d), risk=lambda N, d: d * d / (N + d), structure=structure
        ),
        "plain GD step eta = 1: risk d(d+1)/N": Prediction(
            step=lambda N, d: 1.0, risk=lambda N, d: th.lsa_gd_risk(1.0, N, d), structure=structure
        ),
        "the token dimension d + 1 used for d: step N/(N+d+2), risk (d+1)(d+2)/(N+d+2)": Prediction(
            step=lambda N, d: th.lsa_optimal_step(N, d + 1),
            risk=lambda N, d: th.lsa_optimal_risk(N, d + 1),
            structure=structure,
        ),
        "risk with the squared loss's 1/2: d(d+1)/(2(N+d+1))": Prediction(
            step=th.lsa_optimal_step, risk=lambda N, d: th.lsa_optimal_risk(N, d) / 2, structure=structure
        ),
    }


def _simulate_optimum(ctx: ClaimContext) -> list[dict]:
    p = ctx.params
    d_pad = max(d for _, d in p["grid"])
    out = []
    for (N, d), s in zip(p["grid"], np.random.SeedSequence(ctx.seed).spawn(len(p["grid"]))):
        train, test = s.spawn(2)
        r = sim.train_lsa(
            N, d, n_tasks=p["n_tasks"], n_seeds=p["n_seeds"], n_restarts=p["n_restarts"], seed=train, d_pad=d_pad
        )
        e = sim.effective_preconditioner(r.V, r.Q, N)
        errors = np.concatenate(
            [
                sim.lsa_squared_errors(V, Q, sim.sample_tasks(p["n_test"], N, d, seed=t))
                for V, Q, t in zip(r.V, r.Q, test.spawn(p["n_seeds"]))
            ]
        )
        off = ~np.eye(d, dtype=bool)
        out.append(
            dict(
                N=N,
                d=d,
                step=np.trace(e["Gamma"], axis1=1, axis2=2) / d,
                offdiag=e["Gamma"][:, off],
                vx_A=e["vx_A"].reshape(p["n_seeds"], -1),
                vy_b=e["vy_b"],
                risk=float(errors.mean()),
                risk_se=float(stats.standard_error(errors)),
                p_over_M=(d + 1) ** 2 / p["n_tasks"],
                grad_norm=float(r.grad_norm.max()),
            )
        )
    return out


_eta_star, _R_star = sp.symbols("eta^* R^*", positive=True)


def risk_formula() -> sp.Expr:
    """R(eta) = d [eta^2 (N + d + 1)/N - 2 eta + 1]: the risk of one GD step from w0 = 0 (derived in
    dltheory.theory.in_context.lsa_gd_risk; the same expression as lsa_gd_risk_expr)."""
    eta, N, d = sp.symbols("eta N d", positive=True)
    return th.lsa_gd_risk_expr()[0].subs({eta: _eta, N: _N, d: _d})


def optimum_formulas(p: dict | None = None) -> dict:
    """eta* = argmin R(eta) and R* = R(eta*) per prediction (the controls' slips in the names)."""
    R = sp.Eq(sp.Function("R")(_eta), risk_formula())

    def pair(step, risk):
        return sp.Eq(_eta_star, step), sp.Eq(_R_star, risk)

    return {
        "published": (*pair(_N / (_N + _d + 1), _d * (_d + 1) / (_N + _d + 1)), R),
        "E S^2 = (N + d)/N I (the Wishart fourth moment's +1 dropped): step N/(N+d), risk d^2/(N+d)": pair(
            _N / (_N + _d), _d**2 / (_N + _d)
        ),
        "plain GD step eta = 1: risk d(d+1)/N": pair(sp.Integer(1), _d * (_d + 1) / _N),
        "the token dimension d + 1 used for d: step N/(N+d+2), risk (d+1)(d+2)/(N+d+2)": pair(
            _N / (_N + _d + 2), (_d + 1) * (_d + 2) / (_N + _d + 2)
        ),
        "risk with the squared loss's 1/2: d(d+1)/(2(N+d+1))": pair(
            _N / (_N + _d + 1), _d * (_d + 1) / (2 * (_N + _d + 1))
        ),
    }


@claim(
    "in_context.trained_optimum",
    area=AREA,
    title="Trained one-layer linear self-attention converges to one GD step with the optimal step N/(N+d+1) and "
    "reaches the risk d(d+1)/(N+d+1) on noiseless Gaussian linear tasks",
    reference=f"{VON_OSWALD}; {AHN}; step and risk derived in dltheory.theory.in_context",
    seed=2306_00297,
    quick=dict(grid=[[5, 2], [10, 2], [20, 2], [10, 3], [20, 3]], n_tasks=8192, n_seeds=16, n_restarts=24, n_test=2000),
    full=dict(
        grid=[[5, 2], [10, 2], [20, 2], [40, 2], [10, 3], [20, 3], [10, 4], [40, 4]],
        n_tasks=16384,
        n_seeds=24,
        n_restarts=32,
        n_test=8000,
    ),
    simulate=_simulate_optimum,
    predictions=_optimum_predictions,
    formulas=optimum_formulas,
    resolution=0.05,
)
def trained_optimum(ctx: ClaimContext, data: list[dict], prediction: Prediction):
    """Per grid point: the effective step tr(Gamma)/d (mean over seeds, SE over seeds, bias <= 4 p/M relative), the test
    risk (SE over all test tasks, same relative bias bound), and Gamma's off-diagonal entries and the couplings v_x (x) A
    and v_y b with predicted mean 0 (SE over seeds, no bias: exact symmetries)."""
    alpha = stats.ALPHA / (5 * len(data))
    checks, rows = [], []
    for c in data:
        N, d = c["N"], c["d"]
        label = f"N={N}, d={d}"
        bias = BIAS_PER_PARAM * c["p_over_M"]
        step = float(np.mean(c["step"]))
        checks += [
            stats.z_matches(
                f"{label}: effective step tr(Gamma)/d",
                step,
                stats.standard_error(c["step"]),
                prediction["step"](N, d),
                alpha=alpha,
                bias=bias * abs(step),
                bias_reason=f"O(p/M) bias of the empirical risk minimiser, <= 4 p/M = {bias:.2g} relative (pilot seeds)",
                seed=ctx.seed,
            ),
            stats.z_matches(
                f"{label}: test risk E(y_hat - y_q)^2",
                c["risk"],
                c["risk_se"],
                prediction["risk"](N, d),
                alpha=alpha,
                bias=bias * c["risk"],
                bias_reason=f"excess risk of the minimiser, O(p/M): <= {bias:.2g} relative",
                seed=ctx.seed,
            ),
        ]
        checks.append(
            Check(
                name=f"{label}: training converged to a stationary point",
                statistic=c["grad_norm"],
                threshold=1e-8,
                relation="<=",
                detail=f"largest gradient norm of the empirical risk over seeds {c['grad_norm']:.3g} (Adam, then "
                f"alternating least squares); seed={ctx.seed}",
            )
        )
        zero = float(prediction["structure"])
        for name, v in (("Gamma off-diagonal", c["offdiag"]), ("N v_x (x) A", c["vx_A"]), ("N v_y b", c["vy_b"])):
            if v.shape[1]:
                checks.append(stats.mean_matches(f"{label}: {name} -> 0", v, zero, alpha=alpha, seed=ctx.seed))
        rows += [
            dict(
                panel=f"step, d={d}",
                series="trained (mean +- SE)",
                x=N,
                theory=np.nan,
                simulated=step,
                se=float(stats.standard_error(c["step"])),
            ),
            dict(
                panel=f"risk, d={d}",
                series="trained (test risk +- SE)",
                x=N,
                theory=np.nan,
                simulated=c["risk"],
                se=c["risk_se"],
            ),
        ]
    for d in sorted({c["d"] for c in data}):
        Ns = range(min(c["N"] for c in data), max(c["N"] for c in data) + 1)
        rows += [
            dict(
                panel=f"step, d={d}",
                series="predicted",
                x=n,
                theory=float(prediction["step"](n, d)),
                simulated=np.nan,
                se=np.nan,
            )
            for n in Ns
        ]
        rows += [
            dict(
                panel=f"risk, d={d}",
                series="predicted",
                x=n,
                theory=float(prediction["risk"](n, d)),
                simulated=np.nan,
                se=np.nan,
            )
            for n in Ns
        ]
    panels = [
        Panel(f"{q}, d={d}", "context length N", label, "log", "linear", f"d = {d}: trained LSA vs prediction")
        for d in sorted({c["d"] for c in data})
        for q, label in (("step", "effective GD step"), ("risk", "E(y_hat - y_q)^2"))
    ]
    return ctx.evidence(checks, rows, panels)
