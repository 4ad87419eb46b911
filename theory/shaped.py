"""Shaped networks in the proportional limit (depth d = T n, width n -> infinity): the covariance SDEs.

References
----------
- [LNR22] M. B. Li, M. Nica, D. M. Roy, "The neural covariance SDE: shaped infinite depth-and-width
  networks at initialization", NeurIPS 2022, arXiv:2206.02768 (main theorem for shaped ReLU; shaped smooth
  activations and their norm blow-up criterion).
- [HN19] B. Hanin, M. Nica, "Products of many large random matrices and gradients in deep neural networks",
  Commun. Math. Phys. 376 (2020) 287-322, arXiv:1812.05994 (exact product law of the ReLU norm, log-normal limit).
- [N23] L. Noci, C. Li, M. B. Li, B. He, T. Hofmann, C. Maddison, D. M. Roy, "The shaped transformer:
  attention models in the infinite depth-and-width limit", NeurIPS 2023, arXiv:2306.17759 (Thm 4.2, eq. 26).
- [N22] L. Noci et al., "Signal propagation in transformers: theoretical perspectives and the role of rank
  collapse", NeurIPS 2022, arXiv:2206.03126 (rank collapse of unshaped attention).

The papers' theorem statements could not be read in full; the formulas here were re-derived from
the papers' set-ups and this library proves them against exact finite-width simulation
(verify/claims/shaped.py). Where a constant depends on a convention, the convention is stated.
Searched again (issue 14, item 11: stored copies of arXiv:2206.02768v3, 2206.03126v1, 2306.17759 and papers
restating them): only abstracts and introductions were available, so no term-by-term comparison with [LNR22]'s smooth
theorem, [N23] Thm 4.2 / eq. 26 or [N22]'s gradient theorem could be made. What the abstracts fix: [LNR22]
announces an if-and-only-if condition on the activation for exploding / vanishing norms (here: the sign of beta,
:func:`smooth_norm_exit_probability`); [N22] says rank collapse makes the query and key gradients vanish at
initialisation (here: their per-layer rate, derived, :func:`attention_gradient_log_slopes`).

Conventions
-----------
- MLP: z_{l+1} = sqrt(c/n) W_l phi_s(z_l), W_l iid N(0, 1); V_l^{ab} = (c/n) <phi_s(z_l^a), phi_s(z_l^b)>, the
  conditional covariance of z_{l+1}. Time t = l / n, depth d = floor(T n).
- Shaped ReLU: phi_s(x) = s_+ max(x, 0) + s_- min(x, 0), s_pm = 1 + c_pm / sqrt(n), c = 2 / (s_+^2 + s_-^2).
- Shaped smooth activation: phi_s(x) = s phi(x / s), s = a sqrt(n), phi(0) = 0, phi'(0) = 1, c = 1.
- Attention: X_{l+1} = lam X_l + gamma A_l X_l W^V / sqrt(n), lam^2 + gamma^2 = 1, V = X X^T / n (m tokens),
  A = I + Softmax(X W^Q W^K^T X^T / tau) - 1 1^T / m with tau = tau0 sqrt(n n_k), W^Q, W^K iid N(0, 1/n),
  W^V iid N(0, 1). Single-matrix residual branch (no MLP sub-layer). P = I - 1 1^T / m.
- Shaped transformer block: that attention sub-layer (Z), then a two-matrix shaped-ReLU MLP sub-layer
  X_{l+1} = lam Z + gamma sqrt(c/n) phi_s(Z W_1 / sqrt n) W_2, one block per unit 1/n of time.
- Covariance tensors: Sigma[a, b, c, d] = lim n Cov(dV^{ab}, dV^{cd}) / dt.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import polygamma, psi, roots_jacobi
from scipy.stats import binom

from dltheory.theory._validate import (
    MAX_DEPTH,
    MAX_STEPS,
    MAX_WIDTH,
    InvalidType,
    flag,
    integer_at_least,
    overflow_guard,
    positive,
    real_array,
    real_scalar,
)
from dltheory.theory.spec import relu_slopes

__all__ = [
    "ReluCorrelationSDE",
    "relu_correlation_sde",
    "relu_correlation_moments",
    "relu_nu",
    "relu_slopes",
    "relu_kappa",
    "relu_correlation_map",
    "relu_covariance_drift",
    "wishart_diffusion",
    "smooth_drift",
    "smooth_norm_beta",
    "smooth_norm_blows_up",
    "smooth_norm_exit_probability",
    "smooth_norm_scale",
    "shaped_log_norm_law",
    "relu_log_factor_moments",
    "shaped_relu_log_norm_moments",
    "hanin_nica_log_factor_moments",
    "hanin_nica_log_norm_moments",
    "hanin_nica_moment_ratio",
    "hanin_nica_log_normal_limit",
    "attention_drift",
    "attention_drift_parts",
    "attention_diffusion",
    "attention_noise_scales",
    "block_drift",
    "block_diffusion",
    "block_noise_scales",
    "unshaped_attention_collapse_factor",
    "uniform_attention_difference_energy",
    "attention_gradient_log_slopes",
]


# ----------------------------------------------------------------------------- validation


def _covariance(name: str, V, *, atol: float = 1e-10) -> np.ndarray:
    """Real, finite, symmetric PSD square matrices, shape (..., m, m) (a stack is allowed); ValueError otherwise."""
    V = np.asarray(V)
    if V.ndim < 2 or V.shape[-1] != V.shape[-2] or V.shape[-1] < 1 or V.dtype.kind not in "iuf":
        raise ValueError(f"{name} must be a real square matrix (or a stack of them), got shape {V.shape}")
    V = V.astype(float)
    if not np.all(np.isfinite(V)):
        raise ValueError(f"{name} must be finite")
    scale = max(1.0, float(np.abs(V).max()))
    asym = float(np.abs(V - np.swapaxes(V, -1, -2)).max())
    if asym > atol * scale:
        raise ValueError(f"{name} must be symmetric, max |V - V^T| = {asym:.3g}")
    low = float(np.linalg.eigvalsh(V).min())
    if low < -atol * scale:
        raise ValueError(f"{name} must be positive semi-definite, min eigenvalue {low:.3g}")
    return V


def _shaping(c_plus, c_minus) -> tuple[float, float]:
    return real_scalar("c_plus", c_plus), real_scalar("c_minus", c_minus)


# ----------------------------------------------------------------------------- shaped ReLU [LNR22]


@overflow_guard
def relu_kappa(c_plus, c_minus, n) -> float:
    """kappa_n = (s_+ - s_-)^2 / (2 (s_+^2 + s_-^2)), the exact weight of the arc-cosine term ([LNR22] sec. 2).

    n kappa_n -> (c_+ - c_-)^2 / 4 with relative error -(c_+ + c_-)/sqrt(n) + O(1/n).
    """
    s_plus, s_minus, _ = relu_slopes(c_plus, c_minus, n)
    return (s_plus - s_minus) ** 2 / (2 * (s_plus**2 + s_minus**2))


def _rho(rho) -> np.ndarray:
    return real_array("rho", rho, lower=-1.0, upper=1.0)


def _arc(rho: np.ndarray) -> np.ndarray:
    """sqrt(1 - rho^2) - rho arccos(rho): the non-linear part of the ReLU kernel."""
    return np.sqrt(np.clip(1 - rho**2, 0, None)) - rho * np.arccos(rho)


@overflow_guard
def relu_correlation_map(rho, c_plus, c_minus, n):
    """Exact one-layer correlation map at finite n: K(rho) = rho + kappa_n (2/pi)(sqrt(1-rho^2) - rho arccos rho).

    K(rho) = c E[phi_s(g1) phi_s(g2)] for unit-variance Gaussians with correlation rho ([LNR22] sec. 2; Cho & Saul 2009).
    """
    return _rho(rho) + relu_kappa(c_plus, c_minus, n) * (2 / math.pi) * _arc(_rho(rho))


@overflow_guard
def relu_nu(rho, c_plus, c_minus):
    """nu(rho) = ((c_+ - c_-)^2 / (2 pi)) (sqrt(1 - rho^2) - rho arccos rho) [LNR22, main theorem (ReLU drift)]."""
    c_plus, c_minus = _shaping(c_plus, c_minus)
    return (c_plus - c_minus) ** 2 / (2 * math.pi) * _arc(_rho(rho))


@dataclass(frozen=True)
class ReluCorrelationSDE:
    """d rho = [nu(rho) - 1/2 rho (1 - rho^2)] dt + (1 - rho^2) dW  [LNR22; Ito's formula on V^12/sqrt(V^11 V^22)].

    ``strength`` is the coefficient (c_+ - c_-)^2 of nu. ``ito`` False drops the Ito correction -rho(1-rho^2)/2
    (a deliberately wrong variant for negative controls). Autonomous: the norms do not enter.
    """

    strength: float
    ito: bool = True

    def drift(self, rho):
        rho = _rho(rho)
        out = self.strength / (2 * math.pi) * _arc(rho)
        return out - 0.5 * rho * (1 - rho**2) if self.ito else out

    def diffusion(self, rho):
        return 1 - _rho(rho) ** 2


@overflow_guard
def relu_correlation_sde(c_plus, c_minus, *, n=None, ito: bool = True) -> ReluCorrelationSDE:
    """The correlation SDE of the shaped ReLU MLP [LNR22].

    ``n=None``: the limit, strength (c_+ - c_-)^2. ``n`` given: the moment-matched SDE whose per-layer drift equals
    the exact finite-n one (strength 4 n kappa_n), which removes the O(n^{-1/2}) bias of asymmetric shapings
    (c_+ + c_- != 0) and leaves O(1/n) ([LNR22] main theorem).
    """
    c_plus, c_minus = _shaping(c_plus, c_minus)
    strength = (
        (c_plus - c_minus) ** 2 if n is None else 4 * integer_at_least("n", n, 2) * relu_kappa(c_plus, c_minus, n)
    )
    return ReluCorrelationSDE(strength=strength, ito=flag("ito", ito))


def relu_correlation_moments(sde: ReluCorrelationSDE, rho0, T, powers=(1, 2), *, grid: int = 1001, steps=None):
    """E[rho_T^p] for the correlation SDE started at each ``rho0``: array (len(rho0), len(powers)).

    Solves the backward Kolmogorov equation u_t = b(rho) u' + (1/2)(1 - rho^2)^2 u'', u(0, rho) = rho^p, on a
    uniform ``grid`` over [-1, 1] by Crank-Nicolson (``steps`` time steps, default 2000 T), then interpolates at
    ``rho0``. Central differences where the cell Peclet number allows, upwind (towards the interior) near the
    degenerate boundaries; at rho = +-1 the diffusion vanishes and the drift points inward or is zero (rho = 1 is a
    fixed point of the published SDE), so no boundary condition is imposed. Error O(h^2 + dt^2) away from the
    upwind cells (tests/test_theory_shaped.py checks it against closed-form Jacobi-diffusion moments).
    """
    if not isinstance(sde, ReluCorrelationSDE):
        raise TypeError(f"sde must be a ReluCorrelationSDE, got {type(sde).__name__}")
    return _backward_kolmogorov_moments(sde.drift, sde.diffusion, rho0, T, powers, grid=grid, steps=steps)


def _backward_kolmogorov_moments(drift, diffusion, x0, T, powers, *, grid: int, steps) -> np.ndarray:
    """E[X_T^p] for dX = drift(X) dt + diffusion(X) dW on [-1, 1] (diffusion zero at +-1, drift there inward or
    zero), by Crank-Nicolson on the backward Kolmogorov equation; see :func:`relu_correlation_moments`."""
    from scipy.linalg import solve_banded

    T = positive("T", T)
    grid = integer_at_least("grid", grid, 11, upper=1_000_000)
    steps = max(1, math.ceil(2000 * T)) if steps is None else integer_at_least("steps", steps, 1, upper=MAX_STEPS)
    if steps > MAX_STEPS:
        raise ValueError(f"T must be <= {MAX_STEPS / 2000:g} with the default steps = 2000 T (MAX_STEPS), got {T}")
    x0 = np.atleast_1d(real_array("rho0", x0, ndim=(0, 1), lower=-1.0, upper=1.0))
    if powers is None or isinstance(powers, str | bytes) or np.ndim(powers) > 1 or np.size(powers) == 0:
        raise InvalidType(f"powers must be a non-empty sequence of integers >= 0, got {powers!r}")
    powers = [integer_at_least("powers", k, 0, upper=1000) for k in np.atleast_1d(powers)]
    x = np.linspace(-1.0, 1.0, grid)
    h = x[1] - x[0]
    b, a = np.asarray(drift(x), float), 0.5 * np.asarray(diffusion(x), float) ** 2
    if a[0] > 0 or a[-1] > 0 or b[0] < 0 or b[-1] > 0:
        raise ValueError("the diffusion must vanish at -1 and 1 with the drift pointing inward (or zero) there")
    central = a >= np.abs(b) * h / 2  # cell Peclet number <= 1: central differences keep the scheme monotone
    lower = np.where(central, a / h**2 - b / (2 * h), a / h**2 - np.minimum(b, 0) / h)
    upper = np.where(central, a / h**2 + b / (2 * h), a / h**2 + np.maximum(b, 0) / h)
    lower[0], upper[-1] = 0.0, 0.0
    diag = -(lower + upper)
    dt = T / steps
    ab = np.array([np.r_[0.0, -dt / 2 * upper[:-1]], 1 - dt / 2 * diag, np.r_[-dt / 2 * lower[1:], 0.0]])
    u = np.stack([x**k for k in powers], axis=1)
    for _ in range(steps):
        rhs = (1 + dt / 2 * diag)[:, None] * u
        rhs[1:] += dt / 2 * lower[1:, None] * u[:-1]
        rhs[:-1] += dt / 2 * upper[:-1, None] * u[1:]
        u = solve_banded((1, 1), ab, rhs)
    return np.stack([np.interp(x0, x, u[:, k]) for k in range(len(powers))], axis=1)


@overflow_guard
def relu_covariance_drift(V, c_plus, c_minus, *, check: bool = True) -> np.ndarray:
    """b(V)^{ab} = nu(rho^{ab}) sqrt(V^{aa} V^{bb}) with rho^{ab} = V^{ab} / sqrt(V^{aa} V^{bb}) [LNR22, main theorem].

    The covariance SDE is dV = b(V) dt + Sigma_lin(V)^{1/2} dB (:func:`wishart_diffusion`). Diagonal: b^{aa} = 0.
    Accepts a stack (..., k, k); ``check=False`` skips the symmetric-PSD validation (for integrators that project).
    """
    V = _covariance("V", V) if flag("check", check) else real_array("V", V, ndim=tuple(range(2, 33)))
    d = np.sqrt(np.diagonal(V, axis1=-2, axis2=-1))
    if np.any(d <= 0):
        raise ValueError("V must have a strictly positive diagonal")
    dd = d[..., :, None] * d[..., None, :]
    return relu_nu(np.clip(V / dd, -1, 1), c_plus, c_minus) * dd


@overflow_guard
def wishart_diffusion(V) -> np.ndarray:
    """Sigma_lin(V)[a, b, c, d] = V^{ac} V^{bd} + V^{ad} V^{bc}: covariance of a Wishart increment [LNR22]."""
    V = _covariance("V", V)
    return np.einsum("ac,bd->abcd", V, V) + np.einsum("ad,bc->abcd", V, V)


# ----------------------------------------------------------------------------- shaped smooth activations


@overflow_guard
def smooth_drift(V, phi2, phi3, a) -> np.ndarray:
    """Drift of phi_s(x) = s phi(x/s), s = a sqrt(n), c = 1 ([LNR22] smooth case, derived by Taylor expansion).

    b(V)^{ab} = (1/a^2)[(phi''(0)^2/4)(V^aa V^bb + 2 (V^ab)^2) + (phi'''(0)/2) V^ab (V^aa + V^bb)], with the same
    Sigma_lin diffusion. ``phi2``, ``phi3`` are phi''(0), phi'''(0); phi'(0) = 1 and phi(0) = 0 are assumed.
    """
    V = _covariance("V", V)
    phi2, phi3, a = real_scalar("phi2", phi2), real_scalar("phi3", phi3), positive("a", a)
    v = np.diag(V)
    return (phi2**2 / 4 * (np.outer(v, v) + 2 * V**2) + phi3 / 2 * V * (v[:, None] + v[None, :])) / a**2


@overflow_guard
def smooth_norm_beta(phi2, phi3, a) -> float:
    """beta = (3/4 phi''(0)^2 + phi'''(0)) / a^2: the diagonal obeys dV = beta V^2 dt + sqrt(2) V dB ([LNR22] smooth case)."""
    return (0.75 * real_scalar("phi2", phi2) ** 2 + real_scalar("phi3", phi3)) / positive("a", a) ** 2


@overflow_guard
def smooth_norm_blows_up(phi2, phi3, a) -> bool:
    """Criterion for finite-time explosion of the norm with positive probability: beta > 0 (quadratic drift).

    For beta <= 0 the norm SDE dV = beta V^2 dt + sqrt(2) V dB stays finite (tanh: beta = -2/a^2).
    """
    return smooth_norm_beta(phi2, phi3, a) > 0


# ----------------------------------------------------------------------------- norms: log-normal law


def shaped_log_norm_law(T, V0=1.0) -> tuple[float, float]:
    """(mean, variance) of log V_T^{aa} for a shaped ReLU MLP: N(log V0 - T, 2T) [LNR22; HN19].

    b^{aa} = 0 and Sigma^{aa,aa} = 2 (V^{aa})^2, so V^{aa} is a geometric Brownian motion with E V_T = V0.
    """
    T, V0 = positive("T", T), positive("V0", V0)
    return math.log(V0) - T, 2 * T


def _log_affine_beta_moments(alpha: float, beta: float, p: float, q: float, nodes: int = 48):
    """E and Var of log(alpha + beta B), B ~ Beta(p, q), alpha > 0, by Gauss-Jacobi quadrature (analytic integrand)."""
    # Beta(p, q) on [0, 1] <-> Jacobi weight (1 - x)^(q-1) (1 + x)^(p-1) on [-1, 1], with B = (1 + x) / 2.
    x, w = roots_jacobi(nodes, q - 1, p - 1)
    w = w / w.sum()
    f = np.log(alpha + beta * (1 + x) / 2)
    m = float(w @ f)
    return m, float(w @ (f - m) ** 2)


@overflow_guard
def relu_log_factor_moments(s_plus, s_minus, n) -> tuple[float, float]:
    """Exact E log F and Var log F for one layer's norm factor F = (c/n) sum_i phi_s(g_i)^2, g iid N(0, 1).

    With N ~ Bin(n, 1/2) positive units, F = (c/n) S (s_-^2 + (s_+^2 - s_-^2) B), S ~ chi^2_n independent of
    B | N ~ Beta(N/2, (n-N)/2) (B = 0 for N = 0, 1 for N = n); c = 2/(s_+^2 + s_-^2). Requires s_- > 0.
    """
    s_plus, s_minus, n = (
        positive("s_plus", s_plus),
        positive("s_minus", s_minus),
        integer_at_least("n", n, 2, upper=MAX_WIDTH),
    )
    c = 2 / (s_plus**2 + s_minus**2)
    pN = binom.pmf(np.arange(n + 1), n, 0.5)
    alpha, beta = s_minus**2, s_plus**2 - s_minus**2
    mean_h, second_h = np.empty(n + 1), np.empty(n + 1)
    for N in range(n + 1):
        if 0 < N < n and beta != 0:
            m, v = _log_affine_beta_moments(alpha, beta, N / 2, (n - N) / 2)
        else:  # B is degenerate: 0 when no unit is positive, 1 when all are
            m, v = math.log(alpha + (beta if N == n else 0.0)), 0.0
        mean_h[N], second_h[N] = m, v + m**2
    Eh = float(pN @ mean_h)
    Vh = float(pN @ second_h) - Eh**2
    return math.log(c) + float(psi(n / 2)) + math.log(2 / n) + Eh, float(polygamma(1, n / 2)) + Vh


@overflow_guard
def shaped_relu_log_norm_moments(c_plus, c_minus, n, depth) -> tuple[float, float]:
    """Exact (mean, variance) of log(V_d^{aa} / V_0^{aa}) for the shaped ReLU MLP of width n and depth d.

    V_d^{aa} = V_0^{aa} prod_l F_l with F_l iid (:func:`relu_log_factor_moments`): the ratio's law does not depend
    on V (positive homogeneity), so the finite-n law is a product of iid factors ([HN19]).
    """
    s_plus, s_minus, _ = relu_slopes(c_plus, c_minus, n)
    depth = integer_at_least("depth", depth, 1)
    m, v = relu_log_factor_moments(s_plus, s_minus, n)
    return depth * m, depth * v


# ----------------------------------------------------------------------------- Hanin & Nica (unshaped ReLU)


def _widths(ns) -> np.ndarray:
    """The hidden widths ``ns``: a non-empty 1-D sequence of ints in [2, MAX_WIDTH] (scalar: one layer)."""
    if ns is None or isinstance(ns, str | bytes | bool) or np.ndim(ns) > 1 or np.size(ns) == 0:
        raise InvalidType(f"ns must be a non-empty 1-D sequence of integer widths >= 2, got {ns!r}")
    out = np.asarray([integer_at_least("ns entry n", k, 2) for k in np.atleast_1d(ns)], dtype=int)
    if out.max() > MAX_WIDTH:
        raise ValueError(f"ns entries must be <= MAX_WIDTH = {MAX_WIDTH}, got {out.max()}")
    return out


def hanin_nica_log_factor_moments(n) -> tuple[float, float]:
    """E and Var of log F, F = (2/n) chi^2_N, N ~ Bin(n, 1/2) conditioned on N >= 1 [HN19, exact product law].

    E log F = log(4/n) + E_N psi(N/2), Var log F = E_N psi'(N/2) + Var_N psi(N/2). N = 0 (probability 2^-n)
    kills the signal (log F = -inf) and is excluded; simulations report how often it happens.
    """
    n = integer_at_least("n", n, 2, upper=MAX_WIDTH)
    N = np.arange(1, n + 1)
    p = binom.pmf(N, n, 0.5)
    p = p / p.sum()
    ps = psi(N / 2)
    return math.log(4 / n) + float(p @ ps), float(p @ polygamma(1, N / 2)) + float(p @ ps**2) - float(p @ ps) ** 2


def hanin_nica_log_norm_moments(ns) -> tuple[float, float]:
    """Exact (mean, variance) of log(V_L / V_0) for a He-initialised ReLU net with hidden widths ``ns`` [HN19]."""
    mv = np.array([hanin_nica_log_factor_moments(k) for k in _widths(ns)])
    return float(mv[:, 0].sum()), float(mv[:, 1].sum())


def hanin_nica_moment_ratio(ns) -> float:
    """E[V_L^2] / E[V_L]^2 = prod_l (1 + 5/n_l), exactly, from E F = 1 and E F^2 = 1 + 5/n [HN19; Hanin 2018]."""
    return float(np.prod(1 + 5 / _widths(ns)))


def hanin_nica_log_normal_limit(ns) -> tuple[float, float]:
    """Limit law log(V_L / V_0) => N(-5 beta / 2, 5 beta), beta = sum_l 1/n_l [HN19, main theorem]."""
    beta = float(np.sum(1 / _widths(ns)))
    return -2.5 * beta, 5 * beta


# ----------------------------------------------------------------------------- shaped attention [N23]


def _attention_params(gamma, tau0) -> tuple[float, float]:
    gamma, tau0 = real_scalar("gamma", gamma), positive("tau0", tau0)
    if not 0 < gamma <= 1:
        raise ValueError(f"gamma must lie in (0, 1] (lam^2 + gamma^2 = 1), got {gamma}")
    return gamma, tau0


def _centering(m: int) -> np.ndarray:
    return np.eye(m) - np.full((m, m), 1 / m)


@overflow_guard
def attention_drift(V, gamma, tau0, *, check: bool = True) -> np.ndarray:
    """b(V) = (gamma^2/tau0^2)[(1/m^2) tr(PVPV) V + (1/(2m))(v w^T + w v^T)]  [N23, Thm 4.2 in this convention].

    v = diag(V), w = V P d, d = diag(P V P). Equivalently (gamma^2/tau0^2)(E[D1 V D1^T] + E[D2] V + V E[D2]^T) with
    the softmax expansion A = I + eps D1 + eps^2 D2, eps = 1/(tau0 sqrt n) (:func:`attention_drift_parts`).
    Degree-3 homogeneous in V (not degree 2: Z ~ V, so E[Z V Z^T] ~ V^3: checked in tests). Accepts a stack
    (..., m, m); ``check=False`` skips the symmetric-PSD validation (for integrators that project onto the PSD cone).
    """
    first, second = attention_drift_parts(V, gamma, tau0, check=check)
    return first + second


@overflow_guard
def attention_drift_parts(V, gamma, tau0, *, check: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """The two parts of :func:`attention_drift`: (gamma^2/tau0^2) E[D1 V D1^T] = (gamma^2/tau0^2) tr(PVPV) V / m^2
    (first order of the softmax, squared) and (gamma^2/tau0^2)(E[D2] V + V E[D2]^T) = (gamma^2/tau0^2)
    (v w^T + w v^T)/(2m) (second order; its 1/2 is the Taylor coefficient of exp) [N23, Thm 4.2 here]."""
    V = _covariance("V", V) if flag("check", check) else real_array("V", V, ndim=tuple(range(2, 33)))
    gamma, tau0 = _attention_params(gamma, tau0)
    m = V.shape[-1]
    P = _centering(m)
    v = np.diagonal(V, axis1=-2, axis2=-1)
    PVP = P @ V @ P
    w = (V @ P @ np.diagonal(PVP, axis1=-2, axis2=-1)[..., None])[..., 0]
    trace = np.einsum("...ij,...ji->...", PVP, V)[..., None, None]
    outer = v[..., :, None] * w[..., None, :]
    scale = gamma**2 / tau0**2
    return scale * trace / m**2 * V, scale * (outer + np.swapaxes(outer, -1, -2)) / (2 * m)


@overflow_guard
def attention_noise_scales(gamma, tau0) -> tuple[float, float]:
    """(sqrt of the Sigma_lin weight, weight of the attention noise) for the structured noise construction.

    Sigma = gamma^2 (2 - gamma^2) Sigma_lin + (gamma^4/tau0^2) Sigma_attn; an increment with this covariance is
    sqrt(dt)[g_lin (H + H^T)/sqrt(2) + g_attn (Z P V + V P Z^T)/m], H = L G1 L^T, Z = L G2 L^T, L L^T = V.
    """
    gamma, tau0 = _attention_params(gamma, tau0)
    return gamma * math.sqrt(2 - gamma**2), gamma**2 / tau0


@overflow_guard
def attention_diffusion(V, gamma, tau0) -> np.ndarray:
    """Sigma(V) = gamma^2 (2 - gamma^2) Sigma_lin(V) + (gamma^4/tau0^2) Sigma_attn(V)  [N23, Thm 4.2 here].

    Sigma_attn[i,j,k,l] = (1/m^2)[V_ik C_jl + V_jl C_ik + V_il C_jk + V_jk C_il], C = V P V P V. The factor
    gamma^2(2 - gamma^2) = 2 lam^2 gamma^2 + gamma^4 (cross term + Wishart term of a single-matrix branch).
    """
    V = _covariance("V", V)
    gamma, tau0 = _attention_params(gamma, tau0)
    m = V.shape[0]
    P = _centering(m)
    C = V @ P @ V @ P @ V
    attn = (
        np.einsum("ik,jl->ijkl", V, C)
        + np.einsum("jl,ik->ijkl", V, C)
        + np.einsum("il,jk->ijkl", V, C)
        + np.einsum("jk,il->ijkl", V, C)
    ) / m**2
    return gamma**2 * (2 - gamma**2) * wishart_diffusion(V) + gamma**4 / tau0**2 * attn


@overflow_guard
def block_drift(V, gamma, tau0, c_plus, c_minus, *, check: bool = True) -> np.ndarray:
    """Shaped transformer block drift b = b_attn + gamma^2 b_ReLU ([N23] with an MLP sub-layer).

    Drifts of the two sub-layers add: the second acts on V + O(n^{-1/2}) with a conditionally mean-zero noise.
    """
    return attention_drift(V, gamma, tau0, check=check) + _attention_params(gamma, tau0)[
        0
    ] ** 2 * relu_covariance_drift(V, c_plus, c_minus, check=check)


@overflow_guard
def block_noise_scales(gamma, tau0) -> tuple[float, float]:
    """(g_lin, g_attn) of the block's structured noise: g_lin^2 = gamma^2 (2 - gamma^2) + 2 gamma^2.

    The two-matrix MLP branch adds 2 gamma^2 Sigma_lin (cross term 2 lam^2 gamma^2 plus Wishart terms 2 gamma^4); a
    single-matrix branch would add gamma^2 (2 - gamma^2) ([N23]'s convention for this is unverified).
    """
    gamma, tau0 = _attention_params(gamma, tau0)
    return gamma * math.sqrt(4 - gamma**2), gamma**2 / tau0


@overflow_guard
def block_diffusion(V, gamma, tau0) -> np.ndarray:
    """Sigma_block = gamma^2 (4 - gamma^2) Sigma_lin + (gamma^4 / tau0^2) Sigma_attn (two-matrix MLP convention)."""
    gamma, tau0 = _attention_params(gamma, tau0)
    return attention_diffusion(V, gamma, tau0) + 2 * gamma**2 * wishart_diffusion(V)


# ----------------------------------------------------------------------------- rank collapse [N22]


@overflow_guard
def unshaped_attention_collapse_factor(V, lam, gamma, tau0, n) -> float:
    """E[tr(P V_{l+1} P) | V_l = V] / tr(P V P) for UNshaped attention A = Softmax(Y / (tau0 sqrt(n n_k))).

    = lam^2 + gamma^2 tr(PVPV) / (tau0^2 n m^2) + O(n^-2): no identity and no centring, so P A = O(n^{-1/2}) and
    token differences contract by lam^2 per LAYER (not per unit of t = l/n): rank collapse [N22]. Derived by
    the softmax expansion A = 1 1^T/m + eps Z P/m + O(eps^2) with E[Z B Z^T] = tr(VB) V ([N23] Thm 4.2).
    """
    V = _covariance("V", V)
    gamma, tau0 = _attention_params(gamma, tau0)
    lam = real_scalar("lam", lam, lower=0.0, upper=1.0)
    n = integer_at_least("n", n, 2)
    if abs(lam**2 + gamma**2 - 1) > 1e-12:
        raise ValueError(f"lam^2 + gamma^2 must equal 1, got {lam**2 + gamma**2}")
    m = V.shape[0]
    P = _centering(m)
    return lam**2 + gamma**2 * float(np.trace(P @ V @ P @ V)) / (tau0**2 * n * m**2)


def uniform_attention_difference_energy(V0, lam, depth) -> float:
    """tr(P V_l P) = lam^{2l} tr(P V_0 P) exactly under uniform attention A = 1 1^T/m (P X_{l+1} = lam P X_l) [N22]."""
    V0 = _covariance("V0", V0)
    lam = real_scalar("lam", lam, lower=0.0, upper=1.0)
    depth = integer_at_least("depth", depth, 0, upper=MAX_DEPTH)
    return lam ** (2 * depth) * float(np.trace(_centering(V0.shape[0]) @ V0 @ _centering(V0.shape[0])))


# ----------------------------------------------------------------------------- shaped smooth: exit law of the norm


@overflow_guard
def smooth_norm_exit_probability(beta, V0, lower, upper) -> float:
    """P(V hits ``upper`` before ``lower`` | V_0 = V0) for the norm SDE dV = beta V^2 dt + sqrt(2) V dB.

    The generator beta V^2 f' + V^2 f'' has scale function s(V) = (1 - e^{-beta V}) / beta (s(V) = V at beta = 0),
    so the probability is (s(V0) - s(lower)) / (s(upper) - s(lower)) = expm1(-beta (V0 - lower)) /
    expm1(-beta (upper - lower)), exact (both barriers are hit in finite time a.s.). Letting lower -> 0 and
    upper -> inf gives P(explosion) = 1 - e^{-beta V0} for beta > 0 and 0 for beta <= 0: the sign of beta
    (:func:`smooth_norm_beta`) is the blow-up criterion of [LNR22] in this library's derivation.
    """
    beta = real_scalar("beta", beta)
    V0, lower, upper = positive("V0", V0), positive("lower", lower), positive("upper", upper)
    if not lower <= V0 <= upper or lower == upper:
        raise ValueError(f"need 0 < lower <= V0 <= upper with lower < upper, got lower={lower}, V0={V0}, upper={upper}")
    d0, d1 = V0 - lower, upper - lower
    if beta == 0:
        return d0 / d1
    if beta > 0:
        return math.expm1(-beta * d0) / math.expm1(-beta * d1)
    b = -beta  # (e^{b d0} - 1) / (e^{b d1} - 1), written without overflow
    return math.exp(b * (d0 - d1)) * -math.expm1(-b * d0) / -math.expm1(-b * d1)


@overflow_guard
def smooth_norm_scale(V, beta):
    """The scale function s(V) = (1 - e^{-beta V}) / beta (s(V) = V at beta = 0) of dV = beta V^2 dt + sqrt(2) V dB.

    s(V_t) is a local martingale (beta V^2 s' + V^2 s'' = 0), so E s(V_tau) = s(V_0) at any bounded stopping time
    tau; s is bounded above, by 1/beta, iff beta > 0 (:func:`smooth_norm_exit_probability`). V: a number or an array
    of up to 2 dimensions.
    """
    V, beta = real_array("V", V, ndim=(0, 1, 2), lower=0.0), real_scalar("beta", beta)
    return V if beta == 0 else -np.expm1(-beta * V) / beta


@overflow_guard
def attention_gradient_log_slopes(lam, *, shaped: bool) -> np.ndarray:
    """Per-layer slope of log ||dL/dW_l||_F^2 for (W^Q, W^K, W^V) at initialisation, width n -> infinity: array (3,).

    Unshaped softmax attention [N22] (their claim: rank collapse makes the query/key gradients vanish; the rate is
    derived here, not quoted): at uniform attention the softmax Jacobian gives dL/dY = (dL/dS) P / m and
    dL/dS = H X^T with H = gamma (dL/dX_{l+1}) W^V^T / sqrt(n), so dL/dW^Q = X^T H (X^T P X) W^K / (m tau) (and
    dL/dW^K alike): LINEAR in the token-difference energy X^T P X, which contracts by lam^2 per layer
    (:func:`uniform_attention_difference_energy`) while the other factors keep their scale (lam^2 + gamma^2 = 1). So
    log ||dL/dW^{Q,K}||^2 falls by 2 log lam^2 per layer; dL/dW^V = gamma (A X)^T dL/dX_{l+1} / sqrt(n) sees the token
    mean and does not decay (0). Shaped attention (A = I + Softmax - 1 1^T / m, [N23]): tr(P V P) changes by O(1/n)
    per layer, so all three slopes are 0 (+ O(1/n)).
    """
    lam = real_scalar("lam", lam, lower=0.0, strict=True, upper=1.0, upper_strict=True)
    qk = 0.0 if flag("shaped", shaped) else 2 * math.log(lam**2)
    return np.array([qk, qk, 0.0])
