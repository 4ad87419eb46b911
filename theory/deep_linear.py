"""Exact learning dynamics of deep linear networks.

References
----------
- [SMG14] A. M. Saxe, J. L. McClelland, S. Ganguli, "Exact solutions to the nonlinear
  dynamics of learning in deep linear neural networks", ICLR 2014, arXiv:1312.6120.
- [ACH18] S. Arora, N. Cohen, E. Hazan, "On the optimization of deep networks: implicit
  acceleration by overparameterization", ICML 2018, arXiv:1802.06509.
- [F98] K. Fukumizu, "Effect of batch learning in multilayer neural networks", ICONIP 1998.
- [B22] L. Braun, C. Domine, J. Fitzgerald, A. Saxe, "Exact learning dynamics of deep
  linear networks with prior knowledge", NeurIPS 2022.
- Fuss-Catalan moments of products of Ginibre matrices: free probability (e.g. Penson &
  Zyczkowski, Phys. Rev. E 83, 061118 (2011)).

Conventions
-----------
- Loss L = 1/2 E||y - W x||^2 with S11 = E[x x^T] and S31 = E[y x^T]; whitened input S11 = I.
- Gradient flow tau dW/dt = -dL/dW. Time t is in units of tau = 1/eta, so t = eta * (number
  of GD steps); tau = 1 gives "time in iterations times eta".
- A network with ``depth`` = D weight matrices has N_l = D + 1 layers. The mode strength u is
  the product of the per-layer strengths of one singular mode of S31 (singular value s), under
  balanced, decoupled initialisation (all per-layer strengths equal).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import sympy as sp
from scipy.integrate import quad, solve_ivp
from scipy.linalg import cholesky, solve_triangular
from scipy.special import expit, exprel, spence

from dltheory.theory._validate import (
    MAX_DEPTH,
    MAX_STEPS,
    function,
    integer_at_least,
    nonnegative,
    overflow_guard,
    positive,
    real_scalar,
)

MAX_FUSS_CATALAN = 1000
"""Largest L and m of :func:`fuss_catalan_moment` (an exact binomial of (L+1) m)."""

__all__ = [
    "mode_strength",
    "learning_time",
    "learning_time_deep_limit",
    "learning_time_deep_correction",
    "mode_strength_expr",
    "learning_time_expr",
    "balanced_riccati_solution",
    "end_to_end_velocity",
    "end_to_end_trajectory",
    "fuss_catalan_moment",
]

_ODE_RTOL = 1e-12
_ODE_ATOL = 1e-12
_QUAD_EPSREL = 1e-13
_BALANCE_RTOL = 1e-8


# ----------------------------------------------------------------------------- validation


def _times(t) -> np.ndarray:
    arr = np.asarray(t)
    if arr.dtype.kind not in "iuf":
        raise ValueError(f"t must be real, got dtype {arr.dtype}")
    arr = arr.astype(float)
    if not np.all(np.isfinite(arr)):
        raise ValueError("t must be finite and >= 0, got a non-finite value")
    if np.any(arr < 0.0):
        raise ValueError(f"t must be finite and >= 0, got min(t) = {arr.min()}")
    return arr


def _mode_params(s, u0) -> tuple[float, float]:
    s = positive("s", s)
    u0 = real_scalar("u0", u0)
    if not 0.0 < u0 < s:
        raise ValueError(f"u0 must lie in the open interval (0, s) = (0, {s}), got {u0}")
    return s, u0


def _target(uf, u0: float, s: float) -> np.ndarray:
    arr = np.asarray(uf)
    if arr.dtype.kind not in "iuf":
        raise ValueError(f"uf must be real, got {uf!r}")
    arr = arr.astype(float)
    if not np.all((arr > u0) & (arr < s)):
        raise ValueError(f"uf must lie in the open interval (u0, s) = ({u0}, {s}), got {uf!r}")
    return arr


def _matrix(name: str, value) -> np.ndarray:
    arr = np.asarray(value)
    if arr.ndim != 2 or arr.dtype.kind not in "iuf":
        raise ValueError(f"{name} must be a real 2-D array, got shape {arr.shape}")
    arr = arr.astype(float)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite")
    return arr


def _end_to_end(name: str, value) -> np.ndarray:
    """A real finite scalar or 2-D array, returned as 2-D (a scalar becomes 1x1)."""
    arr = np.asarray(value)
    if arr.ndim not in (0, 2) or arr.dtype.kind not in "iuf":
        raise ValueError(f"{name} must be a real scalar or 2-D array, got shape {arr.shape}")
    arr = np.atleast_2d(arr.astype(float))
    if arr.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite")
    return arr


# ----------------------------------------------------------------------------- mode strength


@overflow_guard
def mode_strength(t, s, u0, *, depth: int = 2, tau: float = 1.0) -> np.ndarray:
    """Mode strength u(t) for balanced decoupled init ([SMG14] eqs 12, 15).

    depth = D weight matrices, u = product of the D per-layer strengths, u(0) = u0 in (0, s).
    D = 2: closed form eq 12, evaluated as u = s / (1 + (s/u0 - 1) exp(-2 s t / tau)).
    D > 2: tau du/dt = D u^(2 - 2/D) (s - u) (eq 15), integrated numerically (see
    `_mode_strength_ode`). ``t`` (>= 0, any shape and order) is in units of tau = 1/eta.
    Returns an array shaped like ``t``.
    """
    s, u0 = _mode_params(s, u0)
    depth = integer_at_least("depth", depth, 2)
    tau = positive("tau", tau)
    t = _times(t)
    if depth == 2:
        return s / (1.0 + (s / u0 - 1.0) * np.exp(-2.0 * s * t / tau))
    return _mode_strength_ode(t, s, u0, depth, tau)


def _mode_strength_ode(t: np.ndarray, s: float, u0: float, depth: int, tau: float) -> np.ndarray:
    """Solve [SMG14] eq 15 in the logit x = log(u / (s - u)) (inputs already validated).

    With u = s sigmoid(x) the ODE is tau dx/dt = D s^(2-2/D) sigmoid(x)^(1-2/D): smooth,
    positive and bounded, so DOP853 at rtol = atol = 1e-12 gives u to ~1e-11 relative.
    Valid for any depth >= 2 (depth 2 is used to test against eq 12).
    """
    beta = 1.0 - 2.0 / depth
    rate = depth * s ** (2.0 - 2.0 / depth) / tau

    def rhs(_, x):
        return rate * np.exp(-beta * np.logaddexp(0.0, -x))

    t_unique, inverse = np.unique(t.ravel(), return_inverse=True)
    x0 = math.log(u0 / (s - u0))
    if t_unique.size == 0 or t_unique[-1] == 0.0:
        return np.full(t.shape, u0)
    sol = solve_ivp(rhs, (0.0, t_unique[-1]), [x0], method="DOP853", t_eval=t_unique, rtol=_ODE_RTOL, atol=_ODE_ATOL)
    if not sol.success:
        raise FloatingPointError(f"mode-strength ODE failed at t <= {t_unique[-1]:g}, tau = {tau:g}: {sol.message}")
    return (s * expit(sol.y[0]))[inverse].reshape(t.shape)


# ----------------------------------------------------------------------------- learning times


@overflow_guard
def learning_time(s, u0, uf, *, depth: int = 2, tau: float = 1.0):
    """Time for the mode strength to grow from u0 to uf, 0 < u0 < uf < s ([SMG14] eqs 11, 15).

    D = 2: eq 11, t = tau/(2s) ln[uf (s - u0) / (u0 (s - uf))].
    D > 2: t = (tau/D) int_{u0}^{uf} du / (u^(2-2/D) (s - u)) (see `_learning_time_quad`).
    Returns a float for scalar ``uf``, else an array shaped like ``uf``.
    """
    s, u0 = _mode_params(s, u0)
    uf = _target(uf, u0, s)
    depth = integer_at_least("depth", depth, 2)
    tau = positive("tau", tau)
    if depth == 2:
        out = tau / (2.0 * s) * (np.log(uf / u0) + np.log((s - u0) / (s - uf)))
    else:
        out = np.vectorize(lambda v: _learning_time_quad(s, u0, v, depth, tau), otypes=[float])(uf)
    return float(out) if out.ndim == 0 else out


def _learning_time_quad(s: float, u0: float, uf: float, depth: int, tau: float) -> float:
    """(tau/D) int_{u0}^{uf} du / (u^(2-2/D) (s-u)) for any depth >= 2 (inputs validated).

    Partial fractions with b = 1 - 2/D: 1/(u^(1+b) (s-u)) = 1/(s u^(1+b)) + u^(-b)/(s (s-u)).
    The first (exponentially large for small u0) term is integrated in closed form; the
    second, in the logit x = log(u/(s-u)), becomes s^(2/D - 2) int sigmoid(x)^(2/D) dx, a
    smooth bounded integrand done with quad at epsrel 1e-13.
    """
    beta = 1.0 - 2.0 / depth
    log_ratio = math.log(uf / u0)
    if beta == 0.0:
        singular = log_ratio
    else:
        singular = -(u0**-beta) * math.expm1(-beta * log_ratio) / beta
    x0 = math.log(u0 / (s - u0))
    xf = math.log(uf / (s - uf))
    smooth, _ = quad(
        lambda x: math.exp(-(2.0 / depth) * np.logaddexp(0.0, -x)), x0, xf, epsabs=0.0, epsrel=_QUAD_EPSREL, limit=200
    )
    return tau / depth * (singular / s + s ** (2.0 / depth - 2.0) * smooth)


@overflow_guard
def learning_time_deep_limit(s, u0, uf, *, n_layers: int, tau: float = 1.0):
    """Large-depth learning time, [SMG14] eq 17 (from eq 16, tau du/dt = N_l u^2 (s - u)).

    t = (tau/N_l) [ s^-2 ln(uf (u0 - s) / (u0 (uf - s))) + 1/(s u0) - 1/(s uf) ], with
    N_l = ``n_layers`` = depth + 1 >= 3. D * learning_time(depth=D) tends to the bracket.
    Returns a float for scalar ``uf``, else an array shaped like ``uf``.
    """
    s, u0 = _mode_params(s, u0)
    uf = _target(uf, u0, s)
    n_layers = integer_at_least("n_layers", n_layers, 3)
    tau = positive("tau", tau)
    bracket = (np.log(uf / u0) + np.log((s - u0) / (s - uf))) / s**2 + 1.0 / (s * u0) - 1.0 / (s * uf)
    out = tau / n_layers * bracket
    return float(out) if out.ndim == 0 else out


# ----------------------------------------------------------------------------- sympy forms


def _symbols():
    return sp.symbols("t s u0 uf tau", positive=True)


def mode_strength_expr():
    """Sympy form of [SMG14] eq 12: u(t) = s e^(2st/tau) / (e^(2st/tau) - 1 + s/u0).

    Returns (expr, (t, s, u0, tau)).
    """
    t, s, u0, _, tau = _symbols()
    growth = sp.exp(2 * s * t / tau)
    return s * growth / (growth - 1 + s / u0), (t, s, u0, tau)


def learning_time_expr():
    """Sympy form of [SMG14] eq 11: t = tau/(2s) ln[uf (s - u0) / (u0 (s - uf))].

    Returns (expr, (s, u0, uf, tau)); symbols are shared with `mode_strength_expr`.
    """
    _, s, u0, uf, tau = _symbols()
    return tau / (2 * s) * sp.log(uf * (s - u0) / (u0 * (s - uf))), (s, u0, uf, tau)


# ----------------------------------------------------------------------------- 2-layer Riccati


def balanced_riccati_solution(S31, W1_0, W2_0, t, *, tau: float = 1.0) -> np.ndarray:
    """End-to-end map W2 W1 at times t, 2-layer net, S11 = I, balanced init ([F98], [B22]).

    Flow: tau dW1/dt = W2^T (S31 - W2 W1), tau dW2/dt = (S31 - W2 W1) W1^T. Shapes: S31
    (N3, N1), W1_0 (N2, N1), W2_0 (N3, N2); requires W2_0^T W2_0 = W1_0 W1_0^T (1e-8 rel.).
    With F = [[0, S31^T], [S31, 0]] and Z = [W1^T; W2], Q = Z Z^T solves
    tau dQ/dt = F Q + Q F - Q^2, so (time t/tau)
    Q(t) = e^(Ft) Z0 [I + Z0^T G(t) Z0]^-1 Z0^T e^(Ft),  G(t) = int_0^t e^(2Fs) ds,
    and W2 W1 = Q[N1:, :N1]. Applied in one shot this loses all accuracy once e^(2||F||t)
    approaches 1/eps, so it is applied over sub-intervals of length <= tau/(2||F||) using the
    (exact) semigroup property, propagating a factor Z with Z Z^T = Q (Cholesky of the bracket).
    Returns an array of shape t.shape + (N3, N1).
    """
    S31 = _matrix("S31", S31)
    W1 = _matrix("W1_0", W1_0)
    W2 = _matrix("W2_0", W2_0)
    n3, n1 = S31.shape
    n2 = W1.shape[0]
    if W1.shape != (n2, n1):
        raise ValueError(f"W1_0 must have shape (N2, N1) with N1 = {n1} from S31, got {W1.shape}")
    if W2.shape != (n3, n2):
        raise ValueError(f"W2_0 must have shape (N3, N2) = ({n3}, {n2}), got {W2.shape}")
    tau = positive("tau", tau)
    t = _times(t)
    gram1, gram2 = W1 @ W1.T, W2.T @ W2
    scale = max(np.abs(gram1).max(), np.abs(gram2).max())
    mismatch = np.abs(gram2 - gram1).max()
    if mismatch > _BALANCE_RTOL * scale:
        raise ValueError(
            "W1_0, W2_0 must be balanced (W2_0^T W2_0 == W1_0 W1_0^T to relative "
            f"{_BALANCE_RTOL}), got relative mismatch {mismatch / scale:.3g}"
        )

    F = np.zeros((n1 + n3, n1 + n3))
    F[:n1, n1:] = S31.T
    F[n1:, :n1] = S31
    lam, V = np.linalg.eigh(F)
    max_step = 0.5 / np.abs(lam).max() if np.abs(lam).max() > 0 else np.inf

    def advance(Z, dt):
        expF = (V * np.exp(lam * dt)) @ V.T
        G = (V * (dt * exprel(2.0 * lam * dt))) @ V.T
        chol = cholesky(np.eye(n2) + Z.T @ G @ Z, lower=True)
        return solve_triangular(chol, (expF @ Z).T, lower=True).T

    t_unique, inverse = np.unique(t.ravel() / tau, return_inverse=True)
    if t_unique.size and t_unique[-1] / max_step > MAX_STEPS:
        raise ValueError(
            f"t / tau must be <= {MAX_STEPS * max_step:.3g} (MAX_STEPS sub-steps of 0.5/max|eig F|), got {t_unique[-1]:.3g}"
        )
    Z = np.vstack([W1.T, W2])
    now = 0.0
    maps = np.empty((t_unique.size, n3, n1))
    for k, target in enumerate(t_unique):
        n_sub = max(1, math.ceil((target - now) / max_step)) if target > now else 0
        for _ in range(n_sub):
            Z = advance(Z, (target - now) / n_sub)
        now = target
        maps[k] = Z[n1:] @ Z[:n1].T
    return maps[inverse].reshape(t.shape + (n3, n1))


# ----------------------------------------------------------------------------- Arora et al.


def _gram_power(basis: np.ndarray, sq_sv: np.ndarray, p: float) -> np.ndarray:
    """(basis diag(sq_sv) basis^T)^p for squared singular values sq_sv >= 0; (.)^0 = I."""
    if p == 0.0:
        return np.eye(basis.shape[0])
    return (basis * sq_sv**p) @ basis.T


def end_to_end_velocity(W_e, grad, *, N: int, weight_decay: float = 0.0) -> np.ndarray:
    """dW_e/dt for the end-to-end matrix of N balanced factors, [ACH18] Theorem 1.

    dW_e/dt = -weight_decay N W_e - sum_{j=1}^N (W_e W_e^T)^((j-1)/N) grad (W_e^T W_e)^((N-j)/N),
    with grad = dL^1/dW_e, weight decay applied to each factor, time in units of 1/eta.
    The PSD powers are taken from the full SVD of W_e (the eigendecomposition of both Gram
    matrices), with (.)^0 = I and singular values below max(shape) * eps * sigma_max set to 0:
    rounding noise on a zero eigenvalue would otherwise be amplified to eps^(1/N).
    ``W_e`` and ``grad`` are scalars or 2-D arrays of equal shape; the result has that shape.
    """
    shape = np.shape(W_e)
    W = _end_to_end("W_e", W_e)
    g = _end_to_end("grad", grad)
    if np.shape(grad) != shape:
        raise ValueError(f"grad must have the shape of W_e {shape}, got {np.shape(grad)}")
    N = integer_at_least("N", N, 1, upper=MAX_DEPTH)
    weight_decay = nonnegative("weight_decay", weight_decay)
    U, sv, Vt = np.linalg.svd(W)
    sv[sv <= max(W.shape) * np.finfo(float).eps * sv.max()] = 0.0
    sq_left, sq_right = np.zeros(W.shape[0]), np.zeros(W.shape[1])
    sq_left[: sv.size] = sv**2
    sq_right[: sv.size] = sv**2
    velocity = -weight_decay * N * W
    for j in range(1, N + 1):
        velocity -= _gram_power(U, sq_left, (j - 1) / N) @ g @ _gram_power(Vt.T, sq_right, (N - j) / N)
    return velocity.reshape(shape)


@overflow_guard
def end_to_end_trajectory(
    W_e0,
    grad_fn: Callable[[np.ndarray], np.ndarray],
    t,
    *,
    N: int,
    weight_decay: float = 0.0,
    rtol: float = 1e-10,
    atol: float = 1e-12,
    max_steps: int = 100_000,
) -> np.ndarray:
    """Integrate the [ACH18] end-to-end flow dW_e/dt = end_to_end_velocity(W_e, grad_fn(W_e)).

    Starts at W_e(0) = W_e0 and uses solve_ivp (DOP853) at tolerances rtol, atol; ``t`` (>= 0,
    any order) is in units of 1/eta. ``grad_fn`` maps W_e (shape of W_e0) to dL^1/dW_e.
    Returns an array of shape t.shape + W_e0.shape. At most ``max_steps`` DOP853 steps (12 right-hand-side
    evaluations each) are taken; a longer integration raises FloatingPointError instead of running unbounded.
    """
    shape = np.shape(W_e0)
    W0 = _end_to_end("W_e0", W_e0).reshape(shape)
    N = integer_at_least("N", N, 1, upper=MAX_DEPTH)
    function("grad_fn", grad_fn)
    weight_decay = nonnegative("weight_decay", weight_decay)
    rtol = positive("rtol", rtol)
    atol = positive("atol", atol)
    max_evals = 12 * integer_at_least("max_steps", max_steps, 1, upper=MAX_STEPS)
    t = _times(t)
    evals = [0]

    def rhs(_, y):
        evals[0] += 1
        if evals[0] > max_evals:
            raise FloatingPointError(
                f"end-to-end ODE needs more than max_steps = {max_steps} steps up to t = {t.max():g}"
            )
        W = y.reshape(shape)
        return end_to_end_velocity(W, grad_fn(W), N=N, weight_decay=weight_decay).ravel()

    t_unique, inverse = np.unique(t.ravel(), return_inverse=True)
    if t_unique.size == 0 or t_unique[-1] == 0.0:
        return np.broadcast_to(W0, t.shape + shape).copy()
    sol = solve_ivp(rhs, (0.0, t_unique[-1]), W0.ravel(), method="DOP853", t_eval=t_unique, rtol=rtol, atol=atol)
    if not sol.success:
        raise FloatingPointError(f"end-to-end ODE failed at t <= {t_unique[-1]:g}: {sol.message}")
    return sol.y.T[inverse].reshape(t.shape + shape)


# ----------------------------------------------------------------------------- random products


def fuss_catalan_moment(L: int, m: int) -> int:
    """m-th moment of the squared singular values of a product of L Ginibre(1/N) matrices.

    As N -> inf it is the Fuss-Catalan number binom((L+1) m, m) / (L m + 1) (exact integer;
    L = 1 gives the Catalan numbers, L = 0 gives 1; mean 1, second moment L + 1).
    """
    L = integer_at_least("L", L, 0, upper=MAX_FUSS_CATALAN)
    m = integer_at_least("m", m, 0, upper=MAX_FUSS_CATALAN)
    return math.comb((L + 1) * m, m) // (L * m + 1)


# ----------------------------------------------------------------------------- approach to the deep limit


def learning_time_deep_correction(s, u0, uf, *, tau: float = 1.0) -> float:
    """The 1/D coefficient of the approach to [SMG14] eq 17: D t_D = B + c1 / D + O(1/D^2).

    t_D is the learning time of eq 15 (`learning_time` with depth = D weight matrices) and B = N_l t of eq 17
    (`learning_time_deep_limit`). From eq 15, D t_D = tau int_{u0}^{uf} u^(2/D) du / (u^2 (s - u)) and
    u^(2/D) = 1 + (2/D) ln u + O(1/D^2), so c1 = 2 tau int_{u0}^{uf} ln u du / (u^2 (s - u)) [derived here, not
    stated in SMG14], in closed form with the partial fractions 1/(u^2 (s-u)) = 1/(s u^2) + 1/(s^2 u) + 1/(s^2 (s-u)):
    int ln u / u^2 = -(ln u + 1)/u, int ln u / u = (ln u)^2 / 2, int ln u / (s - u) = -ln s ln(1 - u/s) + Li2(1 - u/s).
    The same expansion with N_l = D + 1 in place of D (eq 17 read literally at finite depth) would give c1 = -B.
    """
    s, u0 = _mode_params(s, u0)
    uf = float(_target(real_scalar("uf", uf), u0, s))
    tau = positive("tau", tau)

    def antiderivative(u: float) -> float:
        x = u / s
        return (
            -(math.log(u) + 1.0) / (u * s)
            + math.log(u) ** 2 / (2.0 * s * s)
            + (-math.log(s) * math.log1p(-x) + float(spence(x))) / (s * s)
        )

    return 2.0 * tau * (antiderivative(uf) - antiderivative(u0))
