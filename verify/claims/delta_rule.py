"""The delta rule (DeltaNet, Yang et al. 2024) and its Householder products (DeltaProduct, Siems et al. 2025).

The simulations are online gradient descent on 1/2 ||S k - v||^2 with gradients from automatic differentiation
(dltheory.simulators.delta_rule); the predictions are the papers' closed forms (dltheory.theory.delta_rule):
the recurrence with generalised Householder transitions, its chunkwise (WY / UT) parallel form and the
transition's spectrum. All three are exact identities, checked to round-off in float64.

Round-off budget (the tolerance of every identity here): with ||k|| = 1 and beta in [0, 2] each transition
I - beta k k^T has singular values 1 and |1 - beta| <= 1, so an error made at one step is not amplified later and
the errors of L steps add at most linearly. One step's error in S is at most ~ (d_k + 3) eps (||S|| + 2 ||v||)
(a d_k-term dot product and a rank-1 update), so |o_t error| <= L (d_k + C) eps * scale, scale =
max_t (||S_t||_F + 2 ||v_t||), where C (the chunk length) adds the chunkwise form's C-term sums. The tolerance
is 4 L (d_k + C) eps * scale: linear in L. The measured errors are ~1e-4 of it and grow more slowly than L
(round-off errors of independent steps partly cancel).
"""

from __future__ import annotations

import numpy as np
import sympy as sp
from scipy.linalg import solve_triangular

from dltheory.simulators import delta_rule as sim
from dltheory.theory import delta_rule as th
from dltheory.verify import stats
from dltheory.verify.evidence import Panel
from dltheory.verify.prediction import Prediction, fixed
from dltheory.verify.registry import ClaimContext, claim

AREA = "linear attention: the delta rule"
YANG = "Yang, Wang, Zhang, Shen & Kim 2024 (arXiv:2406.06484)"
SIEMS = "Siems et al. 2025 (arXiv:2502.10297)"
EPS = float(np.finfo(float).eps)


def _sequence(rng: np.random.Generator, L: int, n_h: int, d_k: int, d_v: int):
    """Unit keys and queries, Gaussian values, steps beta ~ U(0, 2)."""
    k = rng.standard_normal((L, n_h, d_k))
    k /= np.linalg.norm(k, axis=-1, keepdims=True)
    q = rng.standard_normal((L, d_k))
    q /= np.linalg.norm(q, axis=-1, keepdims=True)
    return q, k, rng.standard_normal((L, n_h, d_v)), rng.uniform(0.0, 2.0, (L, n_h))


def _scale(states: np.ndarray, v: np.ndarray) -> float:
    return float(np.linalg.norm(states, axis=(1, 2)).max() + 2 * np.linalg.norm(v, axis=-1).max())


def _flat(O: np.ndarray, S: np.ndarray) -> np.ndarray:
    return np.concatenate([O.ravel(), S.ravel()])


# ---------------------------------------------------------------------------------------------------
# 1. The delta rule is online GD; n_h steps per token multiply n_h generalised Householder matrices


def _additive(q, k, v, beta):
    """Linear attention with step beta (the erase term -beta S k k^T dropped): S_t = S_{t-1} + beta v k^T."""
    S = np.einsum("tj,tjv,tjk->vk", beta, v, k)
    cum = np.cumsum(np.einsum("tj,tjv,tjk->tvk", beta, v, k), axis=0)
    return _flat(np.einsum("tvk,tk->tv", cum, q), S)


_d_k, _d_v, _C = sp.symbols("d_k d_v C", positive=True, integer=True)
_beta = sp.Symbol("beta_t", nonnegative=True)
_S0, _S1 = sp.MatrixSymbol("S_prev", _d_v, _d_k), sp.MatrixSymbol("S_t", _d_v, _d_k)  # S_(t-1), S_t
_kt, _vt = sp.MatrixSymbol("k_t", _d_k, 1), sp.MatrixSymbol("v_t", _d_v, 1)


def delta_step(beta=_beta) -> sp.MatrixExpr:
    """[YWZSK24] sec. 2: S_t = S_(t-1) (I - beta_t k_t k_t^T) + beta_t v_t k_t^T, one GD step of size beta_t on
    1/2 ||S k_t - v_t||^2 (gradient (S k_t - v_t) k_t^T)."""
    return _S0 * (sp.Identity(_d_k) - beta * _kt * _kt.T) + beta * _vt * _kt.T


def _online_gd_formulas(p: dict) -> dict:
    """One micro-step; a DeltaProduct token applies n_h of them in time order, so its transition is
    A_t = F_1 F_2 ... F_(n_h), F_j = I - beta_tj k_tj k_tj^T, with F_1 leftmost (S_t = S_(t-1) A_t + ...); shown at
    n_h = 3."""
    F = [sp.MatrixSymbol(f"F_{j}", _d_k, _d_k) for j in (1, 2, 3)]
    A = sp.MatrixSymbol("A_t", _d_k, _d_k)
    k_j = sp.MatrixSymbol("k_tj", _d_k, 1)
    factor = sp.Eq(sp.MatrixSymbol("F_j", _d_k, _d_k), sp.Identity(_d_k) - sp.Symbol("beta_tj") * k_j * k_j.T)
    return {
        "published": (sp.Eq(_S1, delta_step()), factor, sp.Eq(A, sp.MatMul(*F))),
        "loss without the 1/2 (step 2 beta: eigenvalue 1 - 2 beta)": sp.Eq(_S1, delta_step(2 * _beta)),
        "Householder factors of a token multiplied in reverse order": (
            sp.Eq(_S1, delta_step()),
            factor,
            sp.Eq(A, sp.MatMul(*F[::-1])),
        ),
        "additive linear-attention update (the erase term -beta S k k^T dropped)": sp.Eq(
            _S1, _S0 + _beta * _vt * _kt.T
        ),
    }


ONLINE_GD_PREDICTIONS = {
    "published": Prediction(states=lambda q, k, v, b: _flat(*th.deltaproduct_recurrent(q, k, v, b))),
    "loss without the 1/2 (step 2 beta: eigenvalue 1 - 2 beta)": Prediction(
        states=lambda q, k, v, b: _flat(*th.deltaproduct_recurrent(q, k, v, 2 * b))
    ),
    "Householder factors of a token multiplied in reverse order": Prediction(
        states=lambda q, k, v, b: _flat(*th.deltaproduct_recurrent(q, k[:, ::-1], v[:, ::-1], b[:, ::-1]))
    ),
    "additive linear-attention update (the erase term -beta S k k^T dropped)": Prediction(states=_additive),
}


def _simulate_online_gd(ctx: ClaimContext) -> dict:
    p = ctx.params
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(ctx.seed).spawn(len(p["n_h"]))]
    runs = []
    for n_h, rng in zip(p["n_h"], rngs):
        q, k, v, b = _sequence(rng, p["L"], n_h, p["d_k"], p["d_v"])
        states, O = sim.online_gd(k, v, b, q)
        runs.append(dict(n_h=n_h, q=q, k=k, v=v, beta=b, flat=_flat(O, states[-1]), scale=_scale(states, v)))
    return runs


@claim(
    "delta_rule.online_gd",
    area=AREA,
    title="Online GD on 1/2 ||S k - v||^2 with step beta is the delta rule S (I - beta k k^T) + beta v k^T; n_h "
    "steps per token multiply n_h generalised Householder matrices in time order (DeltaProduct)",
    reference=f"{YANG}, sec. 2 (DeltaNet as online GD); {SIEMS}, sec. 3 (n_h Householder factors per token)",
    seed=20240610,
    quick=dict(L=64, n_h=[1, 2, 3], d_k=8, d_v=4),
    full=dict(L=512, n_h=[1, 2, 3, 4], d_k=16, d_v=8),
    simulate=_simulate_online_gd,
    predictions=ONLINE_GD_PREDICTIONS,
    formulas=_online_gd_formulas,
    resolution=1e-9,
)
def online_gd(ctx: ClaimContext, data: list, prediction: Prediction):
    """Outputs o_t = S_t q_t and the final state of autodiff online GD vs the recurrence, to the round-off bound
    4 L (d_k + 1) eps * scale (module docstring). A relative error delta of the prediction is rejected once
    delta |o| exceeds it: ~1e-12 here (declared 1e-9). The reversed-order control coincides with the published
    recurrence at n_h = 1 and is rejected at n_h = 2, 3."""
    p = ctx.params
    checks, rows = [], []
    for r in data:
        pred = prediction["states"](r["q"], r["k"], r["v"], r["beta"])
        tol = 4 * p["L"] * r["n_h"] * (p["d_k"] + 1) * EPS * r["scale"]
        checks.append(
            stats.deterministic(
                f"n_h = {r['n_h']}: online GD outputs and final state = the recurrence",
                r["flat"],
                pred,
                atol=tol,
                reason=f"4 L n_h (d_k + 1) eps * scale = {tol:.2g} (L n_h non-expansive steps, module docstring)",
                seed=ctx.seed,
            )
        )
        err = np.abs(np.asarray(pred) - r["flat"])
        rows.append(
            dict(
                panel="round-off",
                series="max |GD - recurrence|",
                x=r["n_h"],
                theory=tol,
                simulated=float(err.max()),
                se=np.nan,
            )
        )
    panel = Panel(
        "round-off",
        "micro-steps per token n_h",
        "max abs deviation",
        "linear",
        "log",
        "deviation (markers) vs bound (theory)",
    )
    return ctx.evidence(checks, rows, (panel,))


# ---------------------------------------------------------------------------------------------------
# 2. The chunkwise parallel form equals the recurrence


def _chunkwise_variant(q, k, v, b, C, *, beta_in_solve=True, inclusive=True, correct_state=True):
    """The chunkwise form with one step done wrong (the controls' mistakes); all flags True is the published form."""
    d_v, d_k = v.shape[1], k.shape[1]
    S, O = np.zeros((d_v, d_k)), np.empty((k.shape[0], d_v))
    for c0 in range(0, k.shape[0], C):
        Kc, Vc, Qc, bc = k[c0 : c0 + C], v[c0 : c0 + C], q[c0 : c0 + C], b[c0 : c0 + C]
        G = Kc @ Kc.T
        A = np.tril((bc[:, None] if beta_in_solve else 1.0) * G, -1)
        T = solve_triangular(np.eye(len(bc)) + A, np.diag(bc), lower=True, unit_diagonal=True)
        U = T @ Vc - ((T @ Kc) @ S.T if correct_state else 0.0)
        O[c0 : c0 + C] = Qc @ S.T + np.tril(Qc @ Kc.T, 0 if inclusive else -1) @ U
        S = S + U.T @ Kc
    return _flat(O, S)


_K, _V, _Q = sp.MatrixSymbol("K", _C, _d_k), sp.MatrixSymbol("V", _C, _d_v), sp.MatrixSymbol("Q", _C, _d_k)
_B = sp.MatrixSymbol("B", _C, _C)  # diag(beta) of the chunk
_Lstrict, _Lincl = sp.MatrixSymbol("L_strict", _C, _C), sp.MatrixSymbol("L_incl", _C, _C)  # causal 0/1 masks
_S = sp.MatrixSymbol("S", _d_v, _d_k)  # the state at the chunk's start


def chunk_formulas(beta_in_solve: bool = True, inclusive: bool = True, correct_state: bool = True) -> tuple:
    """[YWZSK24] sec. 3.2 per chunk: T = (I + L_strict o (B K K^T))^-1 B (UT transform; o the Hadamard product with
    the strictly lower mask), U' = T V - T K S^T, O = Q S^T + (L_incl o Q K^T) U', S <- S + U'^T K. The flags make the
    controls' slips (beta missing in the solve, a strict output mask, no state correction)."""
    gram = (_B if beta_in_solve else sp.Identity(_C)) * _K * _K.T
    T = (sp.Identity(_C) + sp.HadamardProduct(_Lstrict, gram)).inverse() * _B
    U = T * _V - T * _K * _S.T if correct_state else T * _V
    mask = _Lincl if inclusive else _Lstrict
    return (
        sp.Eq(sp.MatrixSymbol("T", _C, _C), T),
        sp.Eq(sp.MatrixSymbol("U", _C, _d_v), U),
        sp.Eq(
            sp.MatrixSymbol("O", _C, _d_v),
            _Q * _S.T + sp.HadamardProduct(mask, _Q * _K.T) * sp.MatrixSymbol("U", _C, _d_v),
        ),
        sp.Eq(sp.MatrixSymbol("S_next", _d_v, _d_k), _S + sp.MatrixSymbol("U", _C, _d_v).T * _K),
    )


def _chunk_formulas(p: dict) -> dict:
    return {
        "published": chunk_formulas(),
        "UT transform without beta in the triangular solve ((I + tril(K K^T, -1))^-1 diag(beta))": chunk_formulas(
            beta_in_solve=False
        ),
        "strict causal mask in the intra-chunk output (o_t misses its own token)": chunk_formulas(inclusive=False),
        "pseudo-values without the state correction (U instead of U - W S^T)": chunk_formulas(correct_state=False),
    }


def _chunk_predictions(p: dict) -> dict:
    C = p["chunk_size"]
    return {
        "published": Prediction(out=lambda q, k, v, b: _flat(*th.delta_rule_chunkwise(q, k, v, b, C)), C=fixed(C)),
        "UT transform without beta in the triangular solve ((I + tril(K K^T, -1))^-1 diag(beta))": Prediction(
            out=lambda q, k, v, b: _chunkwise_variant(q, k, v, b, C, beta_in_solve=False), C=fixed(C)
        ),
        "strict causal mask in the intra-chunk output (o_t misses its own token)": Prediction(
            out=lambda q, k, v, b: _chunkwise_variant(q, k, v, b, C, inclusive=False), C=fixed(C)
        ),
        "pseudo-values without the state correction (U instead of U - W S^T)": Prediction(
            out=lambda q, k, v, b: _chunkwise_variant(q, k, v, b, C, correct_state=False), C=fixed(C)
        ),
    }


def _simulate_chunkwise(ctx: ClaimContext) -> dict:
    """One long sequence; online GD is causal, so its first L outputs are those of the length-L prefix."""
    p = ctx.params
    L = max(p["lengths"])
    q, k, v, b = _sequence(np.random.default_rng(ctx.seed), L, 1, p["d_k"], p["d_v"])
    states, O = sim.online_gd(k, v, b, q)
    prefixes = []
    for n in p["lengths"]:
        prefixes.append(dict(L=n, flat=_flat(O[:n], states[n - 1]), scale=_scale(states[:n], v[:n])))
    return dict(q=q, k=k[:, 0], v=v[:, 0], beta=b[:, 0], prefixes=prefixes)


@claim(
    "delta_rule.chunkwise_equals_recurrent",
    area=AREA,
    title="The chunkwise parallel form of DeltaNet (WY representation, UT transform) reproduces the sequential "
    "delta rule to round-off at every sequence length",
    reference=f"{YANG}, sec. 3.1 (WY representation of Householder products) and sec. 3.2 (chunkwise form, UT "
    "transform)",
    seed=20240611,
    quick=dict(lengths=[16, 64, 256, 1024, 2048], chunk_size=16, d_k=16, d_v=8),
    full=dict(lengths=[16, 64, 256, 1024, 4096, 16384], chunk_size=32, d_k=32, d_v=16),
    simulate=_simulate_chunkwise,
    predictions=_chunk_predictions,
    formulas=_chunk_formulas,
    resolution=1e-9,
)
def chunkwise_equals_recurrent(ctx: ClaimContext, data: dict, prediction: Prediction):
    """Per prefix length L: outputs and final state of the chunkwise form vs online GD, to 4 L (d_k + C) eps *
    scale (module docstring): the bound grows linearly in L. Resolution: the smallest bound relative to |o|
    (L = 16): ~1e-12 (declared 1e-9)."""
    p = ctx.params
    checks, rows = [], []
    for r in data["prefixes"]:
        n = r["L"]
        pred = prediction["out"](data["q"][:n], data["k"][:n], data["v"][:n], data["beta"][:n])
        tol = 4 * n * (p["d_k"] + prediction["C"]) * EPS * r["scale"]
        checks.append(
            stats.deterministic(
                f"L = {n}: chunkwise outputs and final state = online GD",
                r["flat"],
                pred,
                atol=tol,
                reason=f"4 L (d_k + C) eps * scale = {tol:.2g} (linear growth in L, module docstring)",
                seed=ctx.seed,
            )
        )
        err = float(np.max(np.abs(np.asarray(pred) - r["flat"])))
        rows.append(
            dict(panel="round-off vs L", series="max |chunkwise - GD|", x=n, theory=tol, simulated=err, se=np.nan)
        )
    panel = Panel(
        "round-off vs L",
        "sequence length L",
        "max abs deviation",
        "log",
        "log",
        "deviation (markers) vs linear bound (theory)",
    )
    return ctx.evidence(checks, rows, (panel,))


# ---------------------------------------------------------------------------------------------------
# 3. The transition's spectrum


def _simulate_spectrum(ctx: ClaimContext) -> dict:
    p = ctx.params
    rng = np.random.default_rng(ctx.seed)
    betas = np.linspace(0.0, 2.0, p["n_beta"])
    single = []
    for b in betas:
        k = rng.standard_normal((1, p["d_k"]))
        A = sim.token_transition(k / np.linalg.norm(k), [b])
        single.append(np.linalg.eigvalsh((A + A.T) / 2))  # one Householder factor: symmetric
    products = []
    for n_h in p["n_h"]:
        for _ in range(p["n_products"]):
            _, k, _, b = _sequence(rng, 1, n_h, p["d_k"], 1)
            A = sim.token_transition(k[0], b[0])
            products.append((n_h, float(np.abs(np.linalg.eigvals(A)).max()), float(np.linalg.norm(A, 2))))
    return dict(betas=betas, eigvals=np.array(single), products=products)


def _eigs(fn):
    return lambda beta, d_k: np.sort(fn(beta, d_k))


def _spectrum_formulas(p: dict) -> dict:
    """Eigenvalues of I - beta k k^T with ||k|| = 1: 1 - beta (eigenvector k) and 1 (d_k - 1 times, k's complement)."""
    beta, lam1, lam = sp.Symbol("beta", nonnegative=True), sp.Symbol("lambda_1"), sp.Symbol("lambda_(2..d_k)")

    def spec(first):
        return sp.Eq(lam1, first), sp.Eq(lam, 1)

    return {
        "published": spec(1 - beta),
        "1 - 2 beta (the reflection convention I - 2 k k^T, or the loss without its 1/2)": spec(1 - 2 * beta),
        "|1 - beta| (singular values for eigenvalues: no negative eigenvalue)": spec(sp.Abs(1 - beta)),
    }


SPECTRUM_PREDICTIONS = {
    "published": Prediction(eigvals=_eigs(th.householder_eigenvalues)),
    "1 - 2 beta (the reflection convention I - 2 k k^T, or the loss without its 1/2)": Prediction(
        eigvals=_eigs(lambda b, d: th.householder_eigenvalues(2 * b, d))
    ),
    "|1 - beta| (singular values for eigenvalues: no negative eigenvalue)": Prediction(
        eigvals=_eigs(lambda b, d: np.abs(th.householder_eigenvalues(b, d)))
    ),
}


@claim(
    "delta_rule.transition_spectrum",
    area=AREA,
    title="With ||k|| = 1, one delta step's transition has eigenvalues 1 - beta and 1 (in [-1, 1] for beta in "
    "[0, 2]); products of n_h such steps have spectral norm and radius <= 1",
    reference=f"{SIEMS}, sec. 3 (eigenvalues of generalised Householder matrices, beta in [0, 2]); {YANG}, sec. 2",
    seed=20250214,
    quick=dict(d_k=8, n_beta=21, n_h=[2, 3], n_products=20),
    full=dict(d_k=16, n_beta=81, n_h=[2, 3, 4, 8], n_products=200),
    simulate=_simulate_spectrum,
    predictions=SPECTRUM_PREDICTIONS,
    formulas=_spectrum_formulas,
    resolution=1e-9,
)
def transition_spectrum(ctx: ClaimContext, data: dict, prediction: Prediction):
    """The Jacobian of one token's online-GD map (autodiff) has the predicted eigenvalues to 64 d_k eps (a
    symmetric eigensolver's backward error on a matrix of norm <= 1); products of n_h factors (any order,
    beta ~ U(0, 2)) keep spectral radius and norm <= 1 + 64 d_k n_h eps (a check of the data alone)."""
    p = ctx.params
    d_k = p["d_k"]
    pred = np.array([prediction["eigvals"](b, d_k) for b in data["betas"]])
    tol = 64 * d_k * EPS
    checks = [
        stats.deterministic(
            "eigenvalues of I - beta k k^T (autodiff Jacobian) = the prediction",
            data["eigvals"],
            pred,
            atol=tol,
            reason=f"64 d_k eps = {tol:.2g}: symmetric eigensolver backward error, ||A|| <= 1",
            seed=ctx.seed,
        )
    ]
    prods = np.array(data["products"])
    bound = 1 + 64 * d_k * prods[:, 0] * EPS
    checks.append(
        stats.deterministic(
            "products of n_h factors: spectral norm <= 1 (so every eigenvalue lies in the unit disc)",
            np.maximum(prods[:, 2] - bound, 0.0),
            np.zeros(len(prods)),
            atol=64 * d_k * EPS,
            reason="excess of ||A||_2 over 1 + 64 d_k n_h eps (round-off of n_h factors), itself to 64 d_k eps",
            seed=ctx.seed,
        )
    )
    rows = [
        dict(panel="eigenvalues", series=f"eigenvalue {i}", x=b, theory=pv, simulated=sv, se=np.nan)
        for b, prow, srow in zip(data["betas"], pred, data["eigvals"])
        for i, (pv, sv) in enumerate(zip(prow[:2], srow[:2]))
    ]
    rows += [
        dict(panel="products", series=f"n_h = {int(n)}", x=n, theory=1.0, simulated=nrm, se=np.nan)
        for n, _, nrm in data["products"]
    ]
    panels = (
        Panel("eigenvalues", "beta", "eigenvalues of the transition", title="two smallest: 1 - beta and 1"),
        Panel("products", "n_h", "spectral norm of the token transition", title="<= 1 (line)"),
    )
    return ctx.evidence(checks, rows, panels)
