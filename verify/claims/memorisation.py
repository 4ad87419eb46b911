"""Memorisation by construction (Zhang et al. 2017, Thm. 1): 2n + d weights fit any n labels; fewer units do not.

``zhang_construction``: on random points and random labels, the depth-2 ReLU network of Thm. 1
(dltheory.theory.memorisation.memorising_network) has 2n + d weights and interpolates every label to within the derived
round-off bound of its triangular solve (theory.memorisation.interpolation_error_bound, evaluated per point).
The construction is exact in exact arithmetic but ill-conditioned in floating point: the output weights grow like
|y| / (gap between neighbouring projections), so the error grows quickly with n (random Gaussian data, seed 1:
max |c(z_i) - y_i| = 1.5e-6 at n = 2000, d = 10 and 1.2e-4 at n = 5000, d = 3, where the bound reaches 4); the tiers use
n <= 2000.
``rank_argument``: with the construction's first layer cut to its first m < n units, the least-squares residual of
random labels y ~ N(0, sigma^2 I_n) (independent of the points) is the projection of y onto the (n - m)-dimensional
orthogonal complement of the columns of A[:, :m] (rank m: its top m x m block is triangular with a positive diagonal),
so ||r||^2 ~ sigma^2 chi^2_(n - m) exactly: n - 1 units leave a chi^2_1 residual and fit random labels with probability
0. This concerns the construction's fixed first layer; Thm. 1 does not claim that width n is necessary when the
first layer is trained as well.
"""

from __future__ import annotations

import numpy as np
import sympy as sp
from scipy import stats as sps
from scipy.linalg import solve_triangular

from dltheory.theory import memorisation as th
from dltheory.verify import stats
from dltheory.verify.evidence import Check, Panel
from dltheory.verify.prediction import Prediction, fixed, zero
from dltheory.verify.registry import ClaimContext, claim

AREA = "memorisation"
ZHANG = "Zhang et al. 2017 (arXiv:1611.03530), Thm. 1 and its proof (appendix)"


def _random_data(n: int, d: int, g: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    return g.standard_normal((n, d)), g.standard_normal(n)


# ---------------------------------------------------------------------------------------------------
# 1. Exact interpolation with 2n + d weights


def _sorted_projection(z: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    a = th.generic_direction(z.shape[1])  # the construction's default direction
    x = z @ a
    return a, x, np.argsort(x)


def _late_biases(z, y):
    """Interleaving one step late: b_j in (x_j, x_(j+1)), b_n above x_n; the (singular) system solved by least squares."""
    a, x, order = _sorted_projection(z)
    xs = x[order]
    b = np.append(th.interleaved_biases(xs)[1:], xs[-1] + 1.0)
    return th.MemorisingNetwork(a, b, np.linalg.lstsq(th.first_layer_matrix(xs, b), y[order], rcond=None)[0])


def _biases_at_points(z, y):
    """b_j = x_j (the interleaving's strict inequality dropped): a zero diagonal, solved by least squares."""
    a, x, order = _sorted_projection(z)
    xs = x[order]
    return th.MemorisingNetwork(a, xs, np.linalg.lstsq(th.first_layer_matrix(xs, xs), y[order], rcond=None)[0])


def _unsorted(z, y):
    """The projections not sorted: biases half the smallest gap below each x_i in data order, triangular solve."""
    a, x, order = _sorted_projection(z)
    b = x - np.min(np.diff(x[order])) / 2
    return th.MemorisingNetwork(a, b, solve_triangular(th.first_layer_matrix(x, b), y, lower=True))


_n, _d, _m = sp.symbols("n d m", positive=True, integer=True)
_i, _j = sp.symbols("i j", positive=True, integer=True)
_xs, _bs, _ws, _ys = (sp.IndexedBase(s) for s in ("x", "b", "w", "y"))  # sorted projections x_i = a . z_(i)
_c = sp.Function("c")


def construction_formulas(interleave: str = "published") -> tuple:
    """[ZBHRV17] Thm. 1's network c(z) = sum_j w_j ReLU(a . z - b_j) at the sorted projections x_1 < ... < x_n, its
    biases (``interleave``: "published" x_(j-1) < b_j < x_j; "late": x_j < b_j < x_(j+1); "at": b_j = x_j) and the
    interpolation equations c(x_i) = y_i (lower triangular in w: A_ij = ReLU(x_i - b_j) = 0 for j > i)."""
    c = sp.Eq(_c(_xs[_i]), sp.Sum(_ws[_j] * sp.Max(0, _xs[_i] - _bs[_j]), (_j, 1, _n)))
    order = {
        "published": (sp.StrictLessThan(_xs[_j - 1], _bs[_j]), sp.StrictLessThan(_bs[_j], _xs[_j])),
        "late": (sp.StrictLessThan(_xs[_j], _bs[_j]), sp.StrictLessThan(_bs[_j], _xs[_j + 1])),
        "at": (sp.Eq(_bs[_j], _xs[_j]),),
    }[interleave]
    return (c, *order, sp.Eq(_c(_xs[_i]), _ys[_i]))


def _construction_formulas(p: dict) -> dict:
    unsorted = construction_formulas()[:1] + (sp.Eq(_c(sp.Symbol("a . z_i")), _ys[_i]),)
    return {
        "published": construction_formulas(),
        "biases interleaved one step late (b_j between x_j and x_(j+1))": construction_formulas("late"),
        "biases at the projected points (b_j = x_j, not strictly below)": construction_formulas("at"),
        "projections not sorted before the triangular solve": unsorted,
    }


def _construction_predictions(p: dict) -> dict[str, Prediction]:
    residual = zero(scale=1.0)  # labels are N(0, 1): their natural scale
    return {
        "published": Prediction(network=fixed(th.memorising_network), residual=residual),
        "biases interleaved one step late (b_j between x_j and x_(j+1))": Prediction(
            network=fixed(_late_biases), residual=residual
        ),
        "biases at the projected points (b_j = x_j, not strictly below)": Prediction(
            network=fixed(_biases_at_points), residual=residual
        ),
        "projections not sorted before the triangular solve": Prediction(network=fixed(_unsorted), residual=residual),
    }


def _simulate_construction(ctx: ClaimContext) -> list[dict]:
    cases = ctx.params["cases"]
    out = []
    for (n, d), s in zip(cases, np.random.SeedSequence(ctx.seed).spawn(len(cases))):
        z, y = _random_data(n, d, np.random.default_rng(s))
        out.append(dict(n=n, d=d, z=z, y=y))
    return out


@claim(
    "memorisation.zhang_construction",
    area=AREA,
    title="A depth-2 ReLU network with 2n + d weights (projection, interleaved biases, triangular solve) "
    "interpolates n random labels in d dimensions to round-off",
    reference=ZHANG,
    seed=1611_03530,
    quick=dict(cases=[[10, 3], [100, 5], [400, 2], [50, 50]]),
    full=dict(cases=[[10, 3], [100, 5], [400, 2], [50, 50], [1000, 3], [2000, 10]]),
    simulate=_simulate_construction,
    predictions=_construction_predictions,
    formulas=_construction_formulas,
    resolution=1e-9,
)
def zhang_construction(ctx: ClaimContext, data: list[dict], prediction: Prediction):
    """Per case: the weight count is 2n + d, and |c(z_i) - y_i - predicted residual| <= the round-off bound of
    theory.memorisation.interpolation_error_bound at every point (evaluated for the network under test)."""
    checks, rows = [], []
    for c in data:
        n, d, z, y = c["n"], c["d"], c["z"], c["y"]
        net = th.MemorisingNetwork(*prediction["network"](z, y))
        if all(np.all(np.isfinite(v)) for v in net):
            # the network's forward pass written out here, not theory.relu_network: that one evaluates through the
            # construction's own first_layer_matrix, so an error in it would cancel between building and checking
            f = np.maximum((z @ net.a)[:, None] - net.b[None, :], 0.0) @ net.w
            bound = th.interpolation_error_bound(z, net.a, net.b, net.w)
        else:  # a broken construction (a singular triangular solve) overflowed: no interpolation
            f, bound = np.full(n, np.inf), np.zeros(n)
        checks += [
            Check(
                name=f"n={n}, d={d}: weight count = 2n + d",
                statistic=float(abs(net.n_weights - (2 * n + d))),
                threshold=0.0,
                relation="<=",
                detail=f"{net.n_weights} weights, 2n + d = {2 * n + d}; seed={ctx.seed}",
            ),
            stats.deterministic(
                f"n={n}, d={d}: c(z_i) - y_i = predicted residual",
                f - y,
                np.full(n, float(prediction["residual"])),
                atol=bound + np.finfo(float).tiny,
                reason="2 gamma_(n+2) (|A||w|)_i + 2 gamma_d (|z_i|.|a|) ||w||_1 per point (Higham, backward-stable "
                f"forward substitution; max bound {bound.max():.2g})",
                seed=ctx.seed,
            ),
        ]
        rows += [
            dict(panel="interpolation", series=f"n={n}, d={d}", x=yi, theory=np.nan, simulated=fi, se=np.nan)
            for yi, fi in zip(y[:40], f[:40])
        ]
    lim = max(float(np.abs(c["y"]).max()) for c in data)
    rows += [
        dict(panel="interpolation", series="c(z) = y", x=v, theory=v, simulated=np.nan, se=np.nan) for v in (-lim, lim)
    ]
    return ctx.evidence(checks, rows, (Panel("interpolation", "random label y_i", "network output c(z_i)"),))


# ---------------------------------------------------------------------------------------------------
# 2. Fewer units: the residual of random labels is sigma^2 chi^2_(n - m)


def _rank_formulas(p: dict) -> dict:
    """The residual of the best fit by m < n units: r = y - P_A y with A's first m columns (rank m), so
    ||r||^2 / sigma^2 ~ chi^2 with n - m degrees of freedom for y ~ N(0, sigma^2 I)."""
    E, sigma2 = sp.Symbol("E||r_m||^2"), sp.Symbol("sigma^2", positive=True)
    chi2 = sp.Eq(sp.Symbol("||r_m||^2") / sigma2, sp.Symbol("chi^2_(n-m)"))
    return {
        "published": (sp.Eq(E, sigma2 * (_n - _m)), chi2),
        "parameter count: 2m + d >= n weights fit n labels (residual 0)": sp.Eq(E, 0),
        "rank off by one: complement of dimension n - m + 1": sp.Eq(E, sigma2 * (_n - _m + 1)),
        "mean squared residual per point: sigma^2 / n (the 1/n of an MSE)": sp.Eq(E, sigma2 / _n * (_n - _m)),
    }


def _rank_predictions(p: dict) -> dict[str, Prediction]:
    return {
        "published": Prediction(dof=fixed(lambda n, m: n - m), sigma2=1.0),
        "parameter count: 2m + d >= n weights fit n labels (residual 0)": Prediction(
            dof=fixed(lambda n, m: 0), sigma2=1.0
        ),
        "rank off by one: complement of dimension n - m + 1": Prediction(dof=fixed(lambda n, m: n - m + 1), sigma2=1.0),
        "mean squared residual per point: sigma^2 / n (the 1/n of an MSE)": Prediction(
            dof=fixed(lambda n, m: n - m), sigma2=1.0 / p["n"]
        ),
    }


def _simulate_rank(ctx: ClaimContext) -> dict:
    """Per sample: points and labels drawn afresh, the construction's full first layer A (n x n, sorted order), its QR
    A = Q R, and the least-squares residuals ||r_m||^2 = sum_(i > m) (Q^T y)_i^2 of the first m units' columns."""
    p = ctx.params
    n, d, S = p["n"], p["d"], p["n_samples"]
    g = np.random.default_rng(ctx.seed)
    A, Y = np.empty((S, n, n)), np.empty((S, n))
    for s in range(S):
        z, y = _random_data(n, d, g)
        x = z @ th.generic_direction(d)
        order = np.argsort(x)
        A[s] = th.first_layer_matrix(x[order], th.interleaved_biases(x[order]))
        Y[s] = y[order]
    Q, _ = np.linalg.qr(A)
    proj = np.einsum("sij,si->sj", Q, Y) ** 2
    return {m: proj[:, m:].sum(axis=1) for m in (n - k for k in p["deficits"])}


@claim(
    "memorisation.rank_argument",
    area=AREA,
    title="With m < n units of the construction, the least-squares residual of random labels is sigma^2 chi^2_(n-m): "
    "n - 1 units cannot fit generic labels",
    reference=f"{ZHANG}; rank argument on the triangular first layer",
    seed=1611_03531,
    quick=dict(n=12, d=3, deficits=[1, 2, 4], n_samples=3000),
    full=dict(n=40, d=5, deficits=[1, 2, 4, 8], n_samples=40000),
    simulate=_simulate_rank,
    predictions=_rank_predictions,
    formulas=_rank_formulas,
    resolution=0.1,
)
def rank_argument(ctx: ClaimContext, data: dict, prediction: Prediction):
    """Per m: the mean of ||r||^2 equals sigma^2 (n - m) (z-test, SE over samples) and ||r||^2 / sigma^2 follows
    chi^2_(n - m) (KS); Bonferroni over the 2 checks per m."""
    n = ctx.params["n"]
    alpha = stats.ALPHA / (2 * len(data))
    checks, rows = [], []
    for m, r2 in data.items():
        k, sigma2 = int(prediction["dof"](n, m)), float(prediction["sigma2"])
        if not sigma2 > 0:
            raise ValueError(f"the predicted label variance must be positive, got {sigma2}")
        checks.append(
            stats.mean_matches(
                f"m={m} of n={n} units: E||r||^2 = sigma^2 (n - m)", r2, sigma2 * k, alpha=alpha, seed=ctx.seed
            )
        )
        if k > 0:
            checks.append(
                stats.distribution_matches(
                    f"m={m}: ||r||^2 / sigma^2 ~ chi^2_{k}", r2 / sigma2, sps.chi2(k).cdf, alpha=alpha, seed=ctx.seed
                )
            )
        qs = np.linspace(0.05, 0.95, 19)
        rows += [
            dict(
                panel="quantiles",
                series=f"m = n - {n - m}",
                x=float(sps.chi2(max(k, 1)).ppf(q) * sigma2),
                theory=float(sps.chi2(max(k, 1)).ppf(q) * sigma2),
                simulated=float(np.quantile(r2, q)),
                se=np.nan,
            )
            for q in qs
        ]
    return ctx.evidence(checks, rows, (Panel("quantiles", "predicted quantile", "sampled quantile of ||r||^2"),))
