"""Grokking of a linear estimator: exact loss curves from the Marchenko-Pastur spectrum.

Reference: [LBB23] N. Levi, A. Beck, Y. Bar-Sinai, "Grokking in linear estimators -- a solvable model that
groks without understanding", ICLR 2024, arXiv:2310.16441.

Conventions (d_out = 1, [LBB23] sec. 3): x ~ N(0, I_{d_in}); D = S - T with S_0, T ~ N(0, 1/(2 d_in)) so
|S_0|^2 = |T|^2 = 1/2 and |D_0|^2 = 1; Sigma_tr = X^T X / N_tr; lam = d_in / N_tr in (0, 1).
L_tr = D^T Sigma_tr D (eq. 1), L_gen = D^T D (eq. 2); full-batch GD with weight decay gamma (eq. 14)
D_{t+1} = D_t - 2 eta (Sigma_tr + gamma/2) D_t - eta gamma T. Time t counts GD steps. ``discrete=False`` is the
paper's gradient-flow form (eqs. 4-9, 15: eta_0 = eta, factor exp(-2 eta (nu + gamma/2) t) per mode);
``discrete=True`` keeps the exact GD factor (1 - 2 eta (nu + gamma/2))^t of eq. 14, so it is the exact mean
of discrete GD over the MP spectrum. A sample is classified correctly when (D^T x)^2 < eps; accuracy
reaches Erf(sqrt 2) = 95.45 % exactly when L = eps/4 (eq. 10), which defines the grokking times.
With d_out outputs a sample is correct when |D^T x|^2 / d_out < eps; accuracy 1 - Gamma(d_out/2, d_out eps /
(2 L)) / Gamma(d_out/2) (eq. 13). A two-layer linear network (sec. 4.1, eqs. 17-19, App. E; weights
N(0, 1/(2 d_l-1 d_l)), width d_h >> d_out) follows the one-layer curves at learning rate eta / (2 d_out^2).

Erratum (the claim grok.linear_weight_decay checks it against exact GD): with |T|^2 = 1/2, eq. 15 gives the floors
gamma^2/(8(1-lam)) and gamma^2/(8(1-lam)^3), half of eq. 16. Eq. 12 is only the eps -> 0 limit of the delay.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
from scipy.optimize import brentq
from scipy.special import erf, gammainc, gammaincinv, ive, logsumexp, roots_legendre

from dltheory.theory._validate import (
    flag,
    function,
    integer_at_least,
    nonnegative,
    overflow_guard,
    positive,
    real_array,
    real_scalar,
)

__all__ = [
    "mp_edges",
    "mp_expectation",
    "linear_estimator_losses",
    "linear_estimator_train_loss_bessel",
    "linear_estimator_crossing_times",
    "linear_estimator_grokking_times",
    "two_layer_learning_rate",
    "two_layer_initial_loss",
    "two_layer_grokking_times",
    "linear_estimator_delay_asymptote",
    "linear_estimator_loss_floors",
    "linear_estimator_loss_floors_small_gamma",
    "linear_estimator_critical_weight_decay",
    "accuracy_from_loss",
    "loss_at_accuracy",
    "ACCURACY_AT_EPS_OVER_4",
    "linear_estimator_delay_rate",
    "linear_estimator_gen_loss_limit",
    "init_scale_loss_factor",
]

ACCURACY_AT_EPS_OVER_4 = float(erf(math.sqrt(2.0)))  # [LBB23] eq. 10 at L = eps/4
_N_QUAD = 512  # Gauss-Legendre nodes in the angle theta (nu = centre + half-width cos theta): spectral accuracy


def _lam(lam) -> float:
    lam = real_scalar("lam", lam)
    if not 0.0 < lam < 1.0:
        raise ValueError(f"lam = d_in/N_tr must lie in the open interval (0, 1), got {lam}")
    return lam


def mp_edges(lam) -> tuple[float, float]:
    """Edges lam_- , lam_+ = (1 -+ sqrt(lam))^2 of the Marchenko-Pastur law ([LBB23] eq. 6)."""
    lam = _lam(lam)
    return (1.0 - math.sqrt(lam)) ** 2, (1.0 + math.sqrt(lam)) ** 2


@lru_cache(maxsize=64)
def _mp_nodes(lam: float) -> tuple[np.ndarray, np.ndarray]:
    """Nodes nu_i and log-weights log w_i with E_MP[f] = sum_i w_i f(nu_i) for lam < 1 (no atom at 0).

    Substituting nu = c + h cos(theta) turns the density sqrt((lam+ - nu)(nu - lam-)) / (2 pi lam nu) d nu into
    h^2 sin^2(theta) / (2 pi lam nu) d theta on [0, pi], smooth, so Gauss-Legendre converges spectrally.
    """
    lo, hi = (1.0 - math.sqrt(lam)) ** 2, (1.0 + math.sqrt(lam)) ** 2
    c, h = (hi + lo) / 2, (hi - lo) / 2
    x, w = roots_legendre(_N_QUAD)
    theta = (x + 1.0) * (math.pi / 2)
    nu = c + h * np.cos(theta)
    weight = w * (math.pi / 2) * h**2 * np.sin(theta) ** 2 / (2 * math.pi * lam * nu)
    nu.flags.writeable = False
    logw = np.log(weight)
    logw.flags.writeable = False
    return nu, logw


@overflow_guard
def mp_expectation(f, lam) -> float:
    """E_MP[f(nu)] for the MP law with ratio lam in (0, 1) ([LBB23] eq. 6); ``f`` maps an array of nu."""
    function("f", f)
    nu, logw = _mp_nodes(_lam(lam))
    return float(np.sum(np.exp(logw) * f(nu)))


def _log_decay(nu: np.ndarray, lr: float, gamma: float, discrete: bool) -> np.ndarray:
    """log of the per-step factor of one eigen-mode: -2 eta (nu + gamma/2) (flow) or log(1 - 2 eta (nu + gamma/2))."""
    rate = 2.0 * lr * (nu + gamma / 2)
    if not discrete:
        return -rate
    if np.any(rate >= 1.0):
        raise ValueError(
            f"discrete=True needs 2 lr (lam_+ + weight_decay/2) < 1 (monotone decay), got {rate.max():.4g}; lower lr"
        )
    return np.log1p(-rate)


@overflow_guard
def linear_estimator_losses(t, lam, lr, *, weight_decay=0.0, discrete=False) -> tuple[np.ndarray, np.ndarray]:
    """(L_tr(t), L_gen(t)) averaged over the MP spectrum ([LBB23] eqs. 8 and 15/36; t in GD steps).

    L = 1/2 E_MP[(a^{2t} + ((a^t nu + gamma/2)/(nu + gamma/2))^2) q], q_tr = nu, q_gen = 1, where a^t is
    exp(-2 eta (nu + gamma/2) t) (flow) or (1 - 2 eta (nu + gamma/2))^t (``discrete``). For gamma = 0 this is
    E_MP[a^{2t} q], evaluated as a log-sum-exp so it never underflows before the root finder needs it.
    """
    lam, lr, gamma = _lam(lam), positive("lr", lr), nonnegative("weight_decay", weight_decay)
    t = real_array("t", t, lower=0.0)
    discrete = flag("discrete", discrete)
    nu, logw = _mp_nodes(lam)
    ell = _log_decay(nu, lr, gamma, discrete)
    tt = t.reshape(-1, 1)
    if gamma == 0.0:
        log_tr = logsumexp(logw + np.log(nu) + 2 * tt * ell, axis=1)
        log_gen = logsumexp(logw + 2 * tt * ell, axis=1)
        return np.exp(log_tr).reshape(t.shape), np.exp(log_gen).reshape(t.shape)
    at = np.exp(tt * ell)
    bracket = 0.5 * (at**2 + ((at * nu + gamma / 2) / (nu + gamma / 2)) ** 2) * np.exp(logw)
    return (bracket @ nu).reshape(t.shape), bracket.sum(axis=1).reshape(t.shape)


@overflow_guard
def linear_estimator_train_loss_bessel(t, lam, lr) -> np.ndarray:
    """Closed form L_tr(t) = e^{-4 eta (1+lam) t} I_1(8 eta t sqrt(lam)) / (4 eta t sqrt(lam)) ([LBB23] eq. 9).

    Gradient flow, gamma = 0. Overflow-safe: I_1(x) = ive(1, x) e^x, so L_tr = e^{-4 eta t (1 - sqrt lam)^2}
    ive(1, x) / (x/2) with x = 8 eta t sqrt(lam); L_tr(0) = 1.
    """
    lam, lr = _lam(lam), positive("lr", lr)
    t = real_array("t", t, lower=0.0)
    x = 8.0 * lr * t * math.sqrt(lam)
    safe = np.where(x > 0, x, 1.0)
    ratio = np.where(x > 0, ive(1, safe) / (safe / 2), 1.0)
    out = np.exp(-4.0 * lr * t * (1.0 - math.sqrt(lam)) ** 2) * ratio
    if not np.all(np.isfinite(out)):  # scipy's ive returns NaN at x = inf without a numpy warning
        raise FloatingPointError(f"lr * t leaves the float64 range (lr = {lr}, max t = {t.max()})")
    return out


def _crossing(loss_of_t, target: float, scale: float) -> float:
    """First t with loss(t) = target for a decreasing loss; inf if the loss never gets there."""
    if loss_of_t(0.0) <= target:
        return 0.0
    hi = scale
    while loss_of_t(hi) > target:
        hi *= 2.0
        if hi > 1e12 * scale:
            return math.inf
    return brentq(lambda s: math.log(loss_of_t(s)) - math.log(target), 0.0, hi, xtol=1e-10, rtol=1e-13)


@overflow_guard
def linear_estimator_crossing_times(lam, lr, level, *, weight_decay=0.0, discrete=False) -> tuple[float, float]:
    """(t_train, t_gen): GD steps at which the one-layer losses of ``linear_estimator_losses`` (L(0) = 1) first reach
    ``level``: exact roots of the MP expectations ([LBB23] eqs. 8, 15), not the eps -> 0 asymptote eq. 12. A time
    is inf when the weight-decay floor (``linear_estimator_loss_floors``) is >= ``level``."""
    lam, lr = _lam(lam), positive("lr", lr)
    level = real_scalar(
        "level", level, lower=0.0, strict=True, upper=1.0
    )  # L(0) = 1: a level above is never "first reached"
    gamma = nonnegative("weight_decay", weight_decay)
    discrete = flag("discrete", discrete)
    floors = linear_estimator_loss_floors(lam, gamma)
    out = []
    for k in (0, 1):
        if floors[k] >= level:
            out.append(math.inf)
            continue

        def loss(s, k=k):
            return float(linear_estimator_losses(s, lam, lr, weight_decay=gamma, discrete=discrete)[k])

        out.append(_crossing(loss, level, 1.0 / lr))
    return out[0], out[1]


@overflow_guard
def linear_estimator_grokking_times(lam, lr, eps, *, weight_decay=0.0, discrete=False, d_out=1) -> tuple[float, float]:
    """(t_train, t_gen): GD steps at which train / test accuracy reach Erf(sqrt 2) = 95.45 % ([LBB23] eqs. 8-10,
    13, 15). Delay = t_gen - t_train.

    One layer with ``d_out`` outputs (eq. 13, App. C: S_0, T ~ N(0, 1/(2 d_in d_out))): L = L^1(lr / d_out) / d_out,
    so the times are the crossings of L^1(lr / d_out) at d_out * ``loss_at_accuracy``; for d_out = 1 the level is
    eps/4. inf when the weight-decay floor is at or above the level (d_out = 1 only).
    """
    d_out = integer_at_least("d_out", d_out, 1)
    lr = positive("lr", lr)
    level = d_out * loss_at_accuracy(ACCURACY_AT_EPS_OVER_4, eps, d_out)
    if level > 1.0:
        raise ValueError(
            f"eps must put the loss level d_out * L(95.45 %) <= L(0) = 1, got eps = {eps} (level {level:.3g})"
        )
    return linear_estimator_crossing_times(lam, lr / d_out, level, weight_decay=weight_decay, discrete=discrete)


def two_layer_learning_rate(lr, d_out) -> float:
    """eta / (2 d_out^2): the one-layer learning rate a two-layer linear network follows ([LBB23] eq. 19; the kernel
    trace h = (|S^(0)|^2 + |S^(1)|^2) / 2 frozen at its init value 1/2, eq. 18, d_h >> d_out, d_in >> d_out)."""
    return positive("lr", lr) / (2 * integer_at_least("d_out", d_out, 1) ** 2)


def two_layer_initial_loss(d_h, d_out) -> float:
    """E L(0) = |D_0|_F^2 / d_out = 1 / (2 d_h d_out) for student and teacher drawn with [LBB23] App. A's init
    N(0, 1/(2 d_l-1 d_l)) per layer (|S^(0) S^(1)|_F^2 = 1/(4 d_h) for each); the prefactor |D_0|^2 of eq. 19."""
    return 1.0 / (2 * integer_at_least("d_h", d_h, 1) * integer_at_least("d_out", d_out, 1))


@overflow_guard
def two_layer_grokking_times(lam, lr, eps, *, d_out, d_h, discrete=False) -> tuple[float, float]:
    """(t_train, t_gen) of a two-layer linear network (width ``d_h``, ``d_out`` outputs): the crossings of
    |D_0|^2 L^1(eta / (2 d_out^2), lam, t) at the loss where eq. 13's accuracy is 95.45 % ([LBB23] eq. 19)."""
    level = loss_at_accuracy(ACCURACY_AT_EPS_OVER_4, eps, d_out) / two_layer_initial_loss(d_h, d_out)
    if level > 1.0:
        raise ValueError(f"eps must put the loss level below E L(0) = 1/(2 d_h d_out), got eps = {eps}, d_h = {d_h}")
    return linear_estimator_crossing_times(lam, two_layer_learning_rate(lr, d_out), level, discrete=discrete)


@overflow_guard
def linear_estimator_delay_asymptote(lam, lr, *, weight_decay=0.0) -> float:
    """Leading eps -> 0 grokking delay: log(1/(1 - sqrt lam)) / (2 eta (1 - sqrt lam)^2) ([LBB23] eq. 12).

    With weight decay the paper's eq. 16 replaces the log by log(1 + sqrt lam). Converges slowly in eps: at
    eps = 1e-3 the exact delay is 0.5-0.7 times this (tests/test_theory_grokking.py); do not compare simulations
    to it at finite eps. The approach is 1 - kappa x, x ~ 1/log(1/eps) (``linear_estimator_delay_rate``).
    """
    lam, lr = _lam(lam), positive("lr", lr)
    gamma = nonnegative("weight_decay", weight_decay)
    s = math.sqrt(lam)
    num = math.log1p(s) if gamma > 0 else -math.log1p(-s)
    return num / (2.0 * lr * (1.0 - s) ** 2)


@overflow_guard
def linear_estimator_loss_floors(lam, weight_decay) -> tuple[float, float]:
    """t -> inf losses with weight decay: 1/2 E_MP[(gamma/2)^2 q / (nu + gamma/2)^2], q = nu (train), 1 (gen).

    From [LBB23] eq. 15 at t = inf (exact in gamma; independent of lr and of flow vs discrete GD).
    """
    lam, gamma = _lam(lam), nonnegative("weight_decay", weight_decay)
    nu, logw = _mp_nodes(lam)
    g = 0.5 * np.exp(logw) * (gamma / 2) ** 2 / (nu + gamma / 2) ** 2
    return float(g @ nu), float(g.sum())


@overflow_guard
def linear_estimator_loss_floors_small_gamma(lam, weight_decay) -> tuple[float, float]:
    """Leading small-gamma floors gamma^2/(8(1 - lam)), gamma^2/(8(1 - lam)^3) (E_MP[1/nu] = 1/(1-lam),
    E_MP[1/nu^2] = 1/(1-lam)^3). Half of the values printed in [LBB23] eq. 16 (erratum, module docstring)."""
    lam, gamma = _lam(lam), nonnegative("weight_decay", weight_decay)
    return gamma**2 / (8 * (1 - lam)), gamma**2 / (8 * (1 - lam) ** 3)


@overflow_guard
def linear_estimator_critical_weight_decay(lam, eps) -> float:
    """gamma_c: the generalisation floor equals eps/4, so gamma < gamma_c groks to 95.45 % and gamma > gamma_c
    never does. Exact MP root; small-gamma form sqrt(2 eps (1 - lam)^3) (from the floors of [LBB23] eq. 15)."""
    lam = _lam(lam)
    eps = real_scalar("eps", eps, lower=0.0, strict=True, upper=2.0, upper_strict=True)  # floors < 1/2 = eps/4
    guess = math.sqrt(2 * eps * (1 - lam) ** 3)
    f = lambda g: linear_estimator_loss_floors(lam, g)[1] - eps / 4  # noqa: E731
    hi = guess
    while f(hi) < 0:
        hi *= 2.0
    return brentq(f, 0.0, hi, xtol=1e-14, rtol=1e-13)


@overflow_guard
def accuracy_from_loss(loss, eps, d_out=1) -> np.ndarray:
    """Fraction of samples with |D^T x|^2 / d_out < eps when the d_out entries of D^T x are i.i.d. N(0, L):
    P(chi^2_{d_out} < d_out eps / L) = 1 - Gamma(d_out/2, d_out eps / (2 L)) / Gamma(d_out/2) ([LBB23] eq. 13);
    Erf(sqrt(eps / (2 L))) for d_out = 1 (eq. 10)."""
    eps, d_out = positive("eps", eps), integer_at_least("d_out", d_out, 1)
    loss = real_array("loss", loss, lower=0.0)
    with np.errstate(divide="ignore"):
        return gammainc(d_out / 2, d_out * eps / (2.0 * loss))


@overflow_guard
def loss_at_accuracy(accuracy, eps, d_out=1) -> float:
    """The loss at which ``accuracy_from_loss`` equals ``accuracy`` (in (0, 1)): eps/4 at Erf(sqrt 2), d_out = 1."""
    accuracy = real_scalar("accuracy", accuracy)
    if not 0.0 < accuracy < 1.0:
        raise ValueError(f"accuracy must lie in (0, 1), got {accuracy}")
    eps, d_out = positive("eps", eps), integer_at_least("d_out", d_out, 1)
    if d_out == 1 and accuracy == ACCURACY_AT_EPS_OVER_4:
        return eps / 4  # exact: gammaincinv(1/2, Erf(sqrt 2)) = 2 up to round-off
    return float(d_out * eps / (2.0 * gammaincinv(d_out / 2, accuracy)))


# ---------------------------------------------------------------------------------------------------
# Asymptotics of [LBB23] sec. 3.1-3.2: the eps -> 0 approach of the delay to eq. 12, lam > 1, init scale


@overflow_guard
def linear_estimator_delay_rate(lam) -> float:
    """kappa in Delta t / Delta t_eq12 = 1 - kappa x + O(x^2), x = 1 / (4 eta (1 - sqrt lam)^2 t*_tr): the approach
    of the exact gradient-flow delay (MP roots, [LBB23] eqs. 8, 10) to its eps -> 0 limit eq. 12.

    kappa = (3/2) (1 + 1 / (2 log(1/(1 - sqrt lam)))). Derivation (App. B's route, one order further): with
    tau = 4 eta t, a = 1 - sqrt lam, G = log L_gen = c - a^2 tau - (3/2) log tau + O(1/tau) (the MP density vanishes
    as sqrt(nu - a^2) at its lower edge) and L_tr = -dL_gen/dtau (eq. 21), L_tr = L_gen (-G'), so the crossings of
    eps/4 obey G(tau_gen) - G(tau_tr) = log(-G'(tau_tr)) = log a^2 + 3/(2 a^2 tau_tr) + O(tau^-2); dividing by
    -G' = a^2 + 3/(2 tau) gives kappa. As x ~ 1/log(1/eps), the approach is logarithmically slow. The paper's eq. 26
    expands to 1 - (3/2)/log(1/eps), i.e. kappa = 3/2: eq. 11 sets L_gen = L_tr / a^2 exactly and so drops the
    second term (claim grok.linear_asymptotics).
    """
    log_inv_a = -math.log1p(-math.sqrt(_lam(lam)))  # log(1/(1 - sqrt lam)), accurate as lam -> 0
    return 1.5 * (1.0 + 1.0 / (2.0 * log_inv_a))


def linear_estimator_gen_loss_limit(lam) -> float:
    """t -> inf generalisation loss without weight decay, |D_0|^2 = 1: (1 - 1/lam)^+ ([LBB23] sec. 3.1.1, the atom
    (1 - 1/lam)^+ delta_0 of eq. 6 does not decay). ``lam`` = d_in / N_tr > 0; 0 for lam <= 1 (perfect
    generalisation), 1 - 1/lam for the over-parameterised lam > 1."""
    lam = positive("lam", lam)
    return max(0.0, 1.0 - 1.0 / lam)


@overflow_guard
def init_scale_loss_factor(alpha) -> float:
    """(1 + alpha^2) / 2: the student init S_0 -> alpha S_0 multiplies both losses by this factor, i.e. the grokking
    times at threshold eps are those of alpha = 1 at eps * 2 / (1 + alpha^2) ([LBB23] sec. 3.1.3, "Effects of
    Initialization": |D_0|^2 = |alpha S_0|^2 + |T|^2 = (alpha^2 + 1)/2 for independent S_0, T of norm^2 1/2)."""
    alpha = real_scalar("alpha", alpha, lower=0.0)
    return (1.0 + alpha**2) / 2.0
